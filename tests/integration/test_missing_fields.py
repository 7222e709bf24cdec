"""A Checkout Session event without amount or currency is re-read from Stripe, not guessed.

Stripe's API reference and OpenAPI spec give ``amount_total`` and ``currency`` of a
Checkout Session as *nullable* (https://docs.stripe.com/api/checkout/sessions/object;
Stripe's own example object in ``openapi/fixtures3.json`` has both ``null`` with
``mode: payment``). An event whose snapshot lacks them says nothing about what was paid:
the plugin re-reads the session (``GET /v1/checkout/sessions/{id}``) with the key it was
made with, and compares *that* with the invoice. Each event here is the emulator's own
``checkout.session.completed`` with the fields emptied as the spec allows.
"""

from __future__ import annotations

import copy

import pytest

from tests.integration.webhook_helpers import (
    audit,
    event_for,
    invoice_state,
    own_key_workspace,
    post_event,
    sent_invoice,
    webhook_rows,
)

EMPTIED = {
    "amount and currency": {"amount_total": None, "currency": None},
    "amount": {"amount_total": None},
    "currency": {"currency": None},
}


def completed_without(emulator, session_id: str, fields: dict, **kwargs) -> dict:
    event = copy.deepcopy(event_for(emulator, "checkout.session.completed", session_id, **kwargs))
    obj = event["data"]["object"]
    obj.update(fields)  # the keys stay: Stripe sends them, as null
    event["id"] += "x"  # another event than the one Stripe would also send
    return event


@pytest.mark.parametrize("emptied", list(EMPTIED))
def test_a_payment_event_without_amount_or_currency_is_checked_against_stripe(
    app, client, invoice, stripe_emulator, emptied
):
    stripe_emulator.control.pay_session(invoice.session_id)
    event = completed_without(stripe_emulator, invoice.session_id, EMPTIED[emptied])

    response = post_event(client, event)

    assert response.status_code == 200, response.get_json()
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor, state.attention, state.payments) == ("paid", 50_000, None, 1)
    (entry,) = audit(app, invoice.id, "payment_succeeded")
    assert "£500.00" in entry.detail or "500.00" in entry.detail


def test_the_re_read_session_is_still_checked_against_the_invoice(app, client, world, account, stripe_emulator):
    invoice = sent_invoice(app, world.acme, account, session_amount=40_000)  # Stripe charges less
    stripe_emulator.control.pay_session(invoice.session_id)
    event = completed_without(stripe_emulator, invoice.session_id, EMPTIED["amount and currency"])

    assert post_event(client, event).status_code == 200

    state = invoice_state(app, invoice.id)
    assert (state.status, state.attention) == ("sent", "amount_mismatch")
    assert "400.00" in state.attention_detail and "500.00" in state.attention_detail


def test_an_own_key_session_is_re_read_with_the_workspaces_key(app, client, world, stripe_emulator):
    key, account_id, webhook_secret = own_key_workspace(app, stripe_emulator, world.acme)
    invoice = sent_invoice(app, world.acme, account_id, mode="own_key", key=key)
    stripe_emulator.control.pay_session(invoice.session_id)
    event = completed_without(stripe_emulator, invoice.session_id, EMPTIED["amount and currency"], key=key)

    assert post_event(client, event, secret=webhook_secret).status_code == 200

    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor, state.attention) == ("paid", 50_000, None)


def test_when_stripe_cannot_be_asked_the_event_fails_and_nothing_is_flagged(app, client, invoice, stripe_emulator):
    stripe_emulator.control.pay_session(invoice.session_id)
    event = completed_without(stripe_emulator, invoice.session_id, EMPTIED["amount and currency"])
    stripe_emulator.control.fail_next_requests(1, "api_error")  # retries are off in tests

    response = post_event(client, event)

    assert response.status_code >= 500  # Stripe delivers it again
    state = invoice_state(app, invoice.id)
    assert (state.status, state.attention) == ("sent", None)
    (row,) = webhook_rows(app, event["id"])
    assert row.status == "failed"
    assert post_event(client, event).status_code == 200  # the retry, Stripe answering again
    assert invoice_state(app, invoice.id).status == "paid"


def test_a_session_stripe_itself_gives_without_amount_is_refused_not_flagged(app, invoice, stripe_emulator):
    """What is left when even Stripe's answer lacks them (reconcile, the pay link's return):
    an error for the caller to report, no ``amount_mismatch`` on the invoice."""
    from invoicing_plugin.domain.invoice import Action
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.gateways.stripe_gateway import MalformedStripeObject, checkout_session
    from invoicing_plugin.services import payments

    stripe_emulator.control.pay_session(invoice.session_id)
    snapshot = completed_without(stripe_emulator, invoice.session_id, EMPTIED["amount and currency"])
    session = checkout_session(snapshot["data"]["object"])
    with app.app_context():
        locked = payments.lock_invoice(invoice.id)
        with pytest.raises(MalformedStripeObject, match="no amount or currency"):
            payments.apply_checkout_session(session, source="reconcile", action=Action.PAYMENT_SUCCEEDED,
                                            invoice=locked)
        get_state().session.rollback()
    state = invoice_state(app, invoice.id)
    assert (state.status, state.attention) == ("sent", None)
