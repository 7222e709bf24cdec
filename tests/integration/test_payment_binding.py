"""A Stripe event changes an invoice only through a Checkout Session the plugin created for it.

Issue 11 §3. Metadata is written by whoever creates a session; a connected account, or
any other integration on the platform's Stripe account, can write any invoice id there,
and its events reach the platform's endpoint with a valid signature. So an event binds
to an invoice only when its Checkout Session -- or the PaymentIntent Stripe reported for
that session -- is one the plugin recorded for that invoice, and it comes from where that
session's money goes (https://docs.stripe.com/connect/destination-charges: the session and
its charge live on the platform, the charge's ``transfer_data.destination`` is the
connected account). Anything else is recorded as ``ignored`` with the reason.

Every event here is real (made by the emulator, read back through the SDK) and signed
with the platform's webhook secret, posted over HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import StripeConnection
from tests.conftest import PLATFORM_KEY
from tests.integration.conftest import login
from tests.integration.webhook_helpers import (
    connect_workspace,
    event_for,
    events,
    intent_charge,
    invoice_state,
    new_session,
    own_key_workspace,
    post_event,
    sent_invoice,
    webhook_rows,
)

PANEL = "/invoicing/webhooks/"


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def two_workspaces(app, world, stripe_emulator):
    """acme (A) and northwind (B), each on its own Connect account; B has a sent invoice."""
    account_a = connect_workspace(app, stripe_emulator, world.acme)
    account_b = connect_workspace(app, stripe_emulator, world.northwind)
    invoice_b = sent_invoice(app, world.northwind, account_b, client_email="finance@umbrella.test")
    return account_a, account_b, invoice_b


def foreign_session(emulator, invoice, *, destination: str | None = None, on_account: str | None = None) -> str:
    """A session the plugin did NOT create, carrying ``invoice``'s ids in its metadata."""
    metadata = {"invoice_id": str(invoice.id), "workspace_id": invoice.workspace_id, "invoice_number": invoice.number}
    pi_data: dict = {"metadata": dict(metadata)}
    if destination:
        pi_data["transfer_data"] = {"destination": destination}
    params = {
        "mode": "payment",
        "line_items": [{"quantity": 1, "price_data": {"currency": "gbp", "unit_amount": 50_000,
                                                      "product_data": {"name": "Invoice"}}}],
        "metadata": metadata, "client_reference_id": str(invoice.id), "payment_intent_data": pi_data,
        "success_url": "https://example.test/ok", "cancel_url": "https://example.test/cancel",
    }
    options = {"stripe_account": on_account} if on_account else {}
    return emulator.stripe_client(PLATFORM_KEY).v1.checkout.sessions.create(params, options).id


def connected_event(emulator, account: str, type_: str, object_id: str) -> dict:
    """An event that happened on a connected account (it carries ``account``)."""
    listed = emulator.stripe_client(PLATFORM_KEY).v1.events.list({"type": type_, "limit": 100},
                                                                  {"stripe_account": account})
    found = [e.to_dict() for e in listed.data if e.data.object.id == object_id]
    assert found, f"no {type_} for {object_id} on {account}"
    return found[0]


def assert_untouched(app, invoice, mailbox):
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor, state.amount_refunded_minor, state.payments) == ("sent", None, 0, 0)
    assert mailbox.wait_for(1, timeout=0.5) == []  # and no "payment received" email to B's client


# -- the three attacks of the issue ------------------------------------------------------------------


def test_a_session_on_another_workspaces_connected_account_cannot_pay_an_invoice(
    app, client, world, stripe_emulator, two_workspaces, mailbox
):
    account_a, _, invoice_b = two_workspaces
    session_id = foreign_session(stripe_emulator, invoice_b, on_account=account_a)
    stripe_emulator.control.pay_session(session_id)
    event = connected_event(stripe_emulator, account_a, "checkout.session.completed", session_id)
    assert event["account"] == account_a
    assert event["data"]["object"]["metadata"]["invoice_id"] == str(invoice_b.id)

    response = post_event(client, event)

    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert_untouched(app, invoice_b, mailbox)
    (row,) = webhook_rows(app, event["id"])
    assert (row.status, row.workspace_id, row.invoice_id) == ("ignored", None, None)
    assert "not created by this plugin" in row.note


def test_a_session_paying_another_workspaces_account_cannot_pay_an_invoice(
    app, client, world, stripe_emulator, two_workspaces, mailbox
):
    account_a, _, invoice_b = two_workspaces
    session_id = foreign_session(stripe_emulator, invoice_b, destination=account_a)
    stripe_emulator.control.pay_session(session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", session_id)
    intent = stripe_emulator.control.get_object(event["data"]["object"]["payment_intent"])
    assert intent["transfer_data"]["destination"] == account_a  # the money went to A

    assert post_event(client, event).status_code == 200

    assert_untouched(app, invoice_b, mailbox)
    (row,) = webhook_rows(app, event["id"])
    assert (row.status, row.workspace_id, row.invoice_id) == ("ignored", None, None)


def test_an_early_refund_of_a_payment_intent_that_is_not_the_invoices_never_refunds_it(
    app, client, world, stripe_emulator, two_workspaces, mailbox
):
    account_a, _, invoice_b = two_workspaces
    # Someone else's payment, with B's invoice in its metadata, refunded in full ...
    foreign = foreign_session(stripe_emulator, invoice_b, destination=account_a)
    stripe_emulator.control.pay_session(foreign)
    foreign_intent = stripe_emulator.control.get_object(foreign)["payment_intent"]
    with app.app_context():
        get_state().platform_gateway().create_refund(payment_intent=foreign_intent, amount=None,
                                                     idempotency_key="foreign-refund")
    refund_event = event_for(stripe_emulator, "charge.refunded", intent_charge(stripe_emulator, foreign_intent))
    assert refund_event["data"]["object"]["metadata"]["invoice_id"] == str(invoice_b.id)
    assert post_event(client, refund_event).status_code == 200
    # ... then B's client really pays B's own session.
    stripe_emulator.control.pay_session(invoice_b.session_id)
    paid = event_for(stripe_emulator, "checkout.session.completed", invoice_b.session_id)
    assert post_event(client, paid).status_code == 200

    state = invoice_state(app, invoice_b.id)
    assert (state.status, state.amount_paid_minor, state.amount_refunded_minor) == ("paid", 50_000, 0)
    (row,) = webhook_rows(app, refund_event["id"])
    assert (row.status, row.invoice_id) == ("ignored", None)
    assert foreign_intent in row.note


# -- the same kind: an event that names our session but does not fit it ----------------------------------------


def test_our_session_with_another_invoice_in_its_metadata_changes_neither_invoice(
    app, client, world, stripe_emulator, two_workspaces, mailbox
):
    account_a, _, invoice_b = two_workspaces
    invoice_a = sent_invoice(app, world.acme, account_a)
    stripe_emulator.control.pay_session(invoice_a.session_id)
    event = copy.deepcopy(event_for(stripe_emulator, "checkout.session.completed", invoice_a.session_id))
    event["id"] += "_forged"
    event["data"]["object"]["metadata"].update(invoice_id=str(invoice_b.id), workspace_id=invoice_b.workspace_id)

    assert post_event(client, event).status_code == 200

    assert_untouched(app, invoice_b, mailbox)
    assert invoice_state(app, invoice_a.id).status == "sent"
    (row,) = webhook_rows(app, event["id"])
    # Shown to the workspace whose session it named, never to the one its metadata names.
    assert (row.status, row.workspace_id, row.invoice_id) == ("ignored", world.acme, invoice_a.id)
    assert "metadata names another invoice" in row.note


def test_a_charge_whose_money_went_elsewhere_does_not_refund_the_invoice(
    app, client, world, stripe_emulator, two_workspaces, mailbox
):
    account_a, _, invoice_b = two_workspaces
    stripe_emulator.control.pay_session(invoice_b.session_id)
    paid = event_for(stripe_emulator, "checkout.session.completed", invoice_b.session_id)
    post_event(client, paid)
    intent = paid["data"]["object"]["payment_intent"]
    with app.app_context():
        get_state().platform_gateway().create_refund(payment_intent=intent, amount=None, idempotency_key="r")
    refund = copy.deepcopy(event_for(stripe_emulator, "charge.refunded", intent_charge(stripe_emulator, intent)))
    refund["id"] += "_forged"
    refund["data"]["object"]["transfer_data"]["destination"] = account_a

    assert post_event(client, refund).status_code == 200

    state = invoice_state(app, invoice_b.id)
    assert (state.status, state.amount_refunded_minor) == ("paid", 0)
    (row,) = webhook_rows(app, refund["id"])
    assert (row.status, row.workspace_id) == ("ignored", world.northwind)
    assert "transfer_data.destination" in row.note


def test_an_own_key_workspaces_session_cannot_be_paid_through_the_platforms_endpoint(
    app, client, world, stripe_emulator, mailbox
):
    key, own_account, _ = own_key_workspace(app, stripe_emulator, world.northwind)
    invoice = sent_invoice(app, world.northwind, own_account, mode="own_key", key=key)
    stripe_emulator.control.pay_session(invoice.session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id, key=key)

    assert post_event(client, event).status_code == 200  # signed with the *platform's* secret

    assert_untouched(app, invoice, mailbox)
    (row,) = webhook_rows(app, event["id"])
    assert (row.status, row.workspace_id) == ("ignored", world.northwind)
    assert "platform's endpoint" in row.note


def test_an_event_ignored_on_the_wrong_endpoint_is_still_processed_from_the_right_one(
    app, client, world, stripe_emulator, mailbox
):
    # Each endpoint gets its own delivery of the *same* event id
    # (https://docs.stripe.com/webhooks#handle-duplicate-events): an ignored delivery on
    # the platform's endpoint must not make the own endpoint's delivery a "duplicate".
    key, own_account, own_secret = own_key_workspace(app, stripe_emulator, world.northwind)
    invoice = sent_invoice(app, world.northwind, own_account, mode="own_key", key=key)
    stripe_emulator.control.pay_session(invoice.session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id, key=key)

    assert post_event(client, event).json["status"] == "ignored"  # platform's secret
    answer = post_event(client, event, secret=own_secret)  # the workspace's own endpoint

    assert (answer.status_code, answer.json["status"]) == (200, "processed")
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor) == ("paid", 50_000)
    (row,) = webhook_rows(app, event["id"])
    assert (row.status, row.workspace_id, row.invoice_id) == ("processed", world.northwind, invoice.id)
    assert post_event(client, event, secret=own_secret).json["status"] == "duplicate"
    assert len(mailbox.wait_for(1)) == 1
    assert invoice_state(app, invoice.id).payments == 1


def test_a_workspaces_own_endpoint_cannot_settle_its_earlier_connect_session(
    app, client, world, stripe_emulator, mailbox
):
    # An own-key workspace's endpoint secret is in its own Stripe Dashboard: an event it
    # signs speaks for its own account only, never for a session the platform made
    # through Connect (https://docs.stripe.com/connect/destination-charges) before the
    # workspace switched to its own key.
    account = connect_workspace(app, stripe_emulator, world.northwind)
    invoice = sent_invoice(app, world.northwind, account)  # a Connect session
    with app.app_context():
        get_state().session.execute(
            StripeConnection.__table__.delete().where(StripeConnection.workspace_id == world.northwind))
        get_state().session.commit()
    _, _, own_secret = own_key_workspace(app, stripe_emulator, world.northwind)
    stripe_emulator.control.pay_session(invoice.session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id)

    answer = post_event(client, event, secret=own_secret)

    assert (answer.status_code, answer.json["status"]) == (200, "ignored")
    assert_untouched(app, invoice, mailbox)
    (row,) = webhook_rows(app, event["id"])
    assert "own endpoint" in row.note
    # The platform's endpoint, which the session's money goes through, still records it.
    assert post_event(client, event).json["status"] == "processed"
    assert invoice_state(app, invoice.id).status == "paid"


# -- the legitimate paths still work ---------------------------------------------------------------------------


def test_an_older_session_of_the_invoice_still_pays_it(app, client, world, stripe_emulator, two_workspaces, mailbox):
    _, _, invoice_b = two_workspaces
    older = invoice_b.session_id
    current = new_session(app, invoice_b.id)  # re-sent / renewed: a new current session
    assert current != older
    stripe_emulator.control.pay_session(older)

    assert post_event(client, event_for(stripe_emulator, "checkout.session.completed", older)).status_code == 200

    state = invoice_state(app, invoice_b.id)
    assert (state.status, state.amount_paid_minor, state.checkout_session_id) == ("paid", 50_000, current)
    assert len(mailbox.wait_for(1)) == 1


def test_a_refund_that_overtakes_its_payment_is_still_applied(app, client, world, stripe_emulator, two_workspaces):
    _, _, invoice_b = two_workspaces
    stripe_emulator.control.pay_session(invoice_b.session_id)
    paid = event_for(stripe_emulator, "checkout.session.completed", invoice_b.session_id)
    intent = paid["data"]["object"]["payment_intent"]
    with app.app_context():
        get_state().platform_gateway().create_refund(payment_intent=intent, amount=None, idempotency_key="r")
    refund = event_for(stripe_emulator, "charge.refunded", intent_charge(stripe_emulator, intent))

    # Stripe asked which session made the intent: B's, so the early refund is B's.
    assert post_event(client, refund).get_json()["status"] == "processed"
    assert post_event(client, paid).get_json()["status"] == "processed"

    state = invoice_state(app, invoice_b.id)
    assert (state.status, state.amount_paid_minor, state.amount_refunded_minor) == ("refunded", 50_000, 50_000)


def test_send_and_pay_link_renewal_record_every_session_of_the_invoice(app, client, world, stripe_emulator):
    from datetime import datetime, timedelta, timezone

    from invoicing_plugin.persistence.models import CheckoutSessionRecord
    from tests.integration._invoice_helpers import draft, load, send, update

    account = connect_workspace(app, stripe_emulator, world.acme)
    invoice = draft(app, world, amount="480.00", send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    first = load(app, invoice.id).checkout_session_id
    update(app, invoice.id, checkout_expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    assert client.get(f"/invoicing/pay/{invoice.public_token}").status_code == 303  # renewed
    second = load(app, invoice.id).checkout_session_id
    assert second != first

    with app.app_context():
        rows = get_state().session.scalars(select(CheckoutSessionRecord).order_by(CheckoutSessionRecord.id)).all()
        recorded = [(r.session_id, r.invoice_id, r.workspace_id, r.stripe_mode, r.account_id) for r in rows]
    assert recorded == [(first, invoice.id, world.acme, "connect", account),
                        (second, invoice.id, world.acme, "connect", account)]


# -- where ignored events are shown -------------------------------------------------------------------------


def test_ignored_events_are_shown_with_their_reason_to_the_sessions_workspace_only(
    app, client, world, stripe_emulator, two_workspaces
):
    account_a, _, invoice_b = two_workspaces
    invoice_a = sent_invoice(app, world.acme, account_a)
    stripe_emulator.control.pay_session(invoice_a.session_id)
    forged = copy.deepcopy(event_for(stripe_emulator, "checkout.session.completed", invoice_a.session_id))
    forged["id"] += "_forged"
    forged["data"]["object"]["metadata"].update(invoice_id=str(invoice_b.id), workspace_id=invoice_b.workspace_id)
    post_event(client, forged)
    unmatched = foreign_session(stripe_emulator, invoice_b, destination=account_a)
    stripe_emulator.control.pay_session(unmatched)
    stray = event_for(stripe_emulator, "checkout.session.completed", unmatched)
    post_event(client, stray)

    acme_page = login(app.test_client(), world.owner_email, world.acme_slug).get(PANEL).get_data(as_text=True)
    assert 'data-testid="ignored-event"' in acme_page
    assert forged["id"] in acme_page and "metadata names another invoice" in acme_page
    assert stray["id"] not in acme_page

    northwind_page = login(app.test_client(), world.outsider_email, world.northwind_slug).get(PANEL)
    html = northwind_page.get_data(as_text=True)
    assert forged["id"] not in html and stray["id"] not in html
    assert 'data-testid="no-ignored"' in html

    # The platform-level one (no session of ours) is for the operators' CLI.
    listed = app.test_cli_runner().invoke(args=["invoicing", "ignored-events"])
    assert listed.exit_code == 0, listed.output
    assert stray["id"] in listed.output and "not created by this plugin" in listed.output
    assert forged["id"] not in listed.output
    mine = app.test_cli_runner().invoke(args=["invoicing", "ignored-events", "--workspace", world.acme])
    assert forged["id"] in mine.output


def test_events_for_the_plugins_own_sessions_are_all_on_the_platform(app, world, stripe_emulator, two_workspaces):
    """What the binding relies on: a destination charge's session events come to the platform
    without ``account``, and its charge names the destination in ``transfer_data``."""
    _, account_b, invoice_b = two_workspaces
    stripe_emulator.control.pay_session(invoice_b.session_id)
    (event,) = [e for e in events(stripe_emulator, "checkout.session.completed")
                if e["data"]["object"]["id"] == invoice_b.session_id]
    assert "account" not in event
    intent = event["data"]["object"]["payment_intent"]
    charge = stripe_emulator.control.get_object(intent_charge(stripe_emulator, intent))
    assert charge["transfer_data"]["destination"] == account_b
