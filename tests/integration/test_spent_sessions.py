"""issue 15 (breaker15 F1, F5): a Checkout Session whose payment is already recorded is spent, not news.

After the client paid a *part* through the pay link, the invoice still points at that part's
session, which Stripe reports ``complete`` ("The Checkout Session is complete. Payment
processing may still be in progress", https://docs.stripe.com/api/checkout/sessions/object#checkout_session_object-status;
expiring it is refused or answers it as it is, https://docs.stripe.com/api/checkout/sessions/expire).
Its payment is already a payment row, so staff actions that expire the invoice's session first
(mark paid, credit note, disconnect) must go ahead: only a complete session whose payment is
*not* recorded yet means "the client paid meanwhile" (one rule:
:func:`invoicing_plugin.services.payment_rows.checkout_state`).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence import totals
from invoicing_plugin.persistence.models import Payment
from tests.integration._invoice_helpers import load, partial_invoice
from tests.integration.test_partial_payments import api_today
from tests.integration.webhook_helpers import event_for, post_event

ACTOR = "user:1 Ada"


def _payments(app, invoice_id):
    with app.app_context():
        session = get_state().session
        rows = session.execute(select(Payment.amount_minor, Payment.method)
                               .where(Payment.invoice_id == invoice_id).order_by(Payment.id)).all()
        session.rollback()
    return [tuple(r) for r in rows]


def _pay_part(app, stripe_emulator, invoice, amount):
    client = app.test_client()
    response = client.get(f"/invoicing/pay/{invoice.public_token}", query_string={"amount": amount})
    assert response.status_code == 303, response.text
    session_id = load(app, invoice.id).checkout_session_id
    stripe_emulator.control.pay_session(session_id)
    assert post_event(client, event_for(stripe_emulator, "checkout.session.completed", session_id)).status_code == 200
    return session_id


def _no_drift(app):
    with app.app_context():
        assert totals.drift(get_state().session) == []
        get_state().session.rollback()


def test_mark_paid_the_rest_by_hand_after_a_stripe_part(app, world, connected_workspace, stripe_emulator):
    invoice = partial_invoice(app, world, ACTOR)
    spent = _pay_part(app, stripe_emulator, invoice, "400.00")
    assert load(app, invoice.id).status == "partially_paid"
    assert stripe_emulator.control.get_object(spent)["status"] == "complete"
    with app.test_request_context():
        snapshot = api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer", amount="600")
    assert snapshot.status == "paid"
    assert _payments(app, invoice.id) == [(40_000, "stripe"), (60_000, "bank_transfer")]
    _no_drift(app)


def test_mark_paid_a_second_part_by_hand_then_the_link_makes_a_new_session(app, world, connected_workspace,
                                                                           stripe_emulator, staff_client):
    invoice = partial_invoice(app, world, ACTOR)
    spent = _pay_part(app, stripe_emulator, invoice, "400.00")
    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/mark-paid", data={
        "amount": "100.00", "method": "bank_transfer", "paid_on": api_today(app, world)}, follow_redirects=True)
    assert response.status_code == 200
    assert "Stripe says" not in response.text
    row = load(app, invoice.id)
    assert (row.status, row.amount_paid_minor, row.checkout_session_id) == ("partially_paid", 50_000, None)
    # the pay link still works for the rest: a fresh session, not the spent one
    response = app.test_client().get(f"/invoicing/pay/{invoice.public_token}", query_string={"amount": "500.00"})
    assert response.status_code == 303
    assert load(app, invoice.id).checkout_session_id not in (None, spent)


def test_credit_note_for_the_rest_after_a_stripe_part(app, world, connected_workspace, stripe_emulator):
    invoice = partial_invoice(app, world, ACTOR)
    _pay_part(app, stripe_emulator, invoice, "400.00")
    with app.test_request_context():
        api.create_credit_note(world.acme, ACTOR, invoice.id, amount="600.00", reason="Scope reduced")
    row = load(app, invoice.id)
    assert (row.status, row.amount_credited_minor) == ("paid", 60_000)
    _no_drift(app)


def test_an_unrecorded_complete_session_is_still_paid_meanwhile(app, world, connected_workspace, stripe_emulator):
    """The rule's other side: paid at Stripe, webhook not here yet -> PaidMeanwhile, payment applied once."""
    from invoicing_plugin.services.errors import PaidMeanwhile

    invoice = partial_invoice(app, world, ACTOR)
    _pay_part(app, stripe_emulator, invoice, "400.00")
    client = app.test_client()
    assert client.get(f"/invoicing/pay/{invoice.public_token}", query_string={"amount": "600.00"}).status_code == 303
    stripe_emulator.control.pay_session(load(app, invoice.id).checkout_session_id)  # no webhook yet
    with app.test_request_context(), pytest.raises(PaidMeanwhile):
        api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer", amount="600")
    assert load(app, invoice.id).status == "paid"
    assert _payments(app, invoice.id) == [(40_000, "stripe"), (60_000, "stripe")]


# --- breaker15 F5: a refund is capped by the charge it acts on ------------------------------
# A refund acts on one charge (the invoice's latest Stripe payment); Stripe refuses more than
# that charge's unrefunded amount (https://docs.stripe.com/api/refunds/create#create_refund-amount).
# docs/invoices.md: "More than is left is refused before Stripe is asked."


def _refund_requests(stripe_emulator):
    return [r for r in stripe_emulator.control.requests() if r["method"] == "POST" and r["path"] == "/v1/refunds"]


def _refund(staff_client, invoice_id, amount, token):
    return staff_client.post(f"/invoicing/invoices/{invoice_id}/refund", data={
        "amount": amount, "reason": "requested_by_customer", "note": "", "request_token": token * 32},
        follow_redirects=True)


def _charge_refunded(app, stripe_emulator, intent):
    from tests.integration.webhook_helpers import intent_charge

    event = event_for(stripe_emulator, "charge.refunded", intent_charge(stripe_emulator, intent))
    assert post_event(app.test_client(), event).status_code == 200


@pytest.mark.parametrize("first", ["bank", "stripe"])
def test_refund_left_is_the_latest_stripe_charge_not_all_paid(app, world, connected_workspace, stripe_emulator,
                                                              staff_client, first):
    invoice = partial_invoice(app, world, ACTOR)
    if first == "bank":
        with app.test_request_context():
            api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer", amount="400")
    else:
        _pay_part(app, stripe_emulator, invoice, "400.00")
    _pay_part(app, stripe_emulator, invoice, "600.00")
    row = load(app, invoice.id)
    assert (row.status, row.amount_paid_minor) == ("paid", 100_000)
    assert "£600.00 can still be refunded" in staff_client.get(f"/invoicing/invoices/{invoice.id}").text

    too_much = _refund(staff_client, invoice.id, "700", "b")
    assert "At most £600.00 can still be refunded." in too_much.text
    assert _refund_requests(stripe_emulator) == []  # refused before Stripe is asked

    assert _refund(staff_client, invoice.id, "100", "c").status_code == 200
    _charge_refunded(app, stripe_emulator, row.payment_intent_id)
    assert load(app, invoice.id).amount_refunded_minor == 10_000
    assert "£500.00 can still be refunded" in staff_client.get(f"/invoicing/invoices/{invoice.id}").text

    everything = _refund(staff_client, invoice.id, "", "d")  # empty: all that is left on that charge
    assert "refused" not in everything.text
    requests = _refund_requests(stripe_emulator)
    assert len(requests) == 2
    _charge_refunded(app, stripe_emulator, row.payment_intent_id)
    assert load(app, invoice.id).amount_refunded_minor == 60_000
    _no_drift(app)


# --- breaker15 F7: a balance Stripe cannot charge is not offered online ---------------------
# Stripe's minimum charge in GBP is £0.30 (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts);
# a payment by hand may leave less than that. The pay link says so (not a 503 "try again", no
# form offering an amount it then refuses), Stripe is not asked, and the staff page says how
# to settle it.


def _session_creates(stripe_emulator):
    return [r for r in stripe_emulator.control.requests()
            if r["method"] == "POST" and r["path"] == "/v1/checkout/sessions"]


@pytest.mark.parametrize("allow_partial", [False, True])
def test_a_balance_below_stripes_minimum_is_not_offered_online(app, world, connected_workspace, stripe_emulator,
                                                               staff_client, allow_partial):
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1,000.00", currency="GBP",
                                 description="Penetration test", send_method="stripe_link",
                                 allow_partial=allow_partial, partial_minimum="100.00" if allow_partial else None)
        invoice = api.send(world.acme, ACTOR, draft.id, method="stripe_link")
        api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer", amount="999.90")
    assert load(app, invoice.id).status == "partially_paid"
    creates = len(_session_creates(stripe_emulator))
    client = app.test_client()
    for query in ({}, {"amount": "0.10"}):
        page = client.get(f"/invoicing/pay/{invoice.public_token}", query_string=query)
        assert page.status_code == 200, page.status_code
        assert "The £0.10 still due is less than can be paid by card" in page.text
        assert "contact" in page.text and "try again" not in page.text.lower()
        assert 'name="amount"' not in page.text  # no form offering what Stripe refuses
    assert len(_session_creates(stripe_emulator)) == creates  # Stripe was not asked
    staff = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert 'data-notice="too-small"' in staff and "credit the rest" in staff
    # settled by hand, the notice goes
    with app.test_request_context():
        api.mark_paid(world.acme, ACTOR, invoice.id, method="cash")
    assert 'data-notice="too-small"' not in staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    _no_drift(app)
