"""issue 15: partial payments and the balance due.

Money received is a list of payments (``invoicing_payments``): recorded by hand with an
amount (``api.mark_paid(..., amount=...)``, the staff page's "Mark as paid" form) or paid
through Stripe Checkout. The invoice is ``partially_paid`` while a balance is due and
``paid`` at zero; the pay link's Checkout Session asks for the balance (Stripe computes a
session's ``amount_total`` from its line items, https://docs.stripe.com/api/checkout/sessions/object,
and caps the application fee at the amount captured,
https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-payment_intent_data-application_fee_amount);
a Stripe payment is one payment row per PaymentIntent, however often its events arrive.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from invoicing_plugin import api, signals
from invoicing_plugin.domain.errors import InvalidTransition
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence import totals
from invoicing_plugin.persistence.models import CheckoutSessionRecord, Payment
from invoicing_plugin.services.errors import ValidationFailed
from tests.integration._invoice_helpers import load
from tests.integration.webhook_helpers import (
    event_for,
    invoice_state,
    post_event,
    sent_invoice,
)

ACTOR = "user:1 Ada"


def _manual_invoice(app, world, amount="1,000.00", currency="GBP"):
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount=amount, currency=currency,
                                 description="Penetration test", send_method="manual")
        return api.send(world.acme, ACTOR, draft.id, method="manual")


def _payments(app, invoice_id):
    with app.app_context():
        session = get_state().session
        rows = session.execute(select(Payment.amount_minor, Payment.method, Payment.payment_intent_id,
                                      Payment.checkout_session_id, Payment.application_fee_minor, Payment.note,
                                      Payment.recorded_by)
                               .where(Payment.invoice_id == invoice_id).order_by(Payment.id)).all()
        session.rollback()
    return [tuple(row) for row in rows]


def test_an_invoice_paid_by_hand_in_two_parts(app, world):
    invoice = _manual_invoice(app, world)
    with app.test_request_context():
        first = api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer", amount="400.00", note="ref 1")
        assert (first.status, first.amount_paid_minor, first.paid_minor, first.due_minor) == (
            "partially_paid", 40_000, 40_000, 60_000)
        assert [p.amount_minor for p in first.payments] == [40_000]
        second = api.mark_paid(world.acme, ACTOR, invoice.id, method="cash")  # default: the balance
    assert (second.status, second.amount_paid_minor, second.paid_minor, second.due_minor) == (
        "paid", 100_000, 100_000, 0)
    assert [(p.amount_minor, p.method) for p in second.payments] == [(40_000, "bank_transfer"), (60_000, "cash")]
    assert _payments(app, invoice.id) == [
        (40_000, "bank_transfer", None, None, None, "ref 1", ACTOR),
        (60_000, "cash", None, None, None, None, ACTOR),
    ]
    with app.app_context():
        assert totals.drift(get_state().session) == []


def test_only_the_last_part_sends_invoice_paid(app, world):
    invoice = _manual_invoice(app, world)
    seen = []
    with signals.invoice_paid.connected_to(lambda sender, **extra: seen.append(extra["invoice"].status)), \
            app.test_request_context():
        api.mark_paid(world.acme, ACTOR, invoice.id, method="cash", amount=25_000)  # int: minor units
        assert seen == []
        api.mark_paid(world.acme, ACTOR, invoice.id, method="cash", amount=75_000)
    assert seen == ["paid"]


@pytest.mark.parametrize(("amount", "message"), [
    ("0", "greater than zero"),
    ("-5", "greater than zero"),
    ("abc", "number"),
    ("10.005", "decimal"),
    (0, "greater than zero"),
    (True, "Enter the amount"),
    (1.5, "Enter the amount"),
    ("1,000.01", "more than the £1,000.00 due"),
    (100_001, "more than the £1,000.00 due"),
], ids=str)
def test_a_bad_amount_is_refused_and_nothing_changes(app, world, amount, message):
    invoice = _manual_invoice(app, world)
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        api.mark_paid(world.acme, ACTOR, invoice.id, method="cash", amount=amount)
    assert message.lower() in refused.value.errors["amount"].lower()
    row = load(app, invoice.id)
    assert (row.status, row.amount_paid_minor, row.paid_at) == ("sent", None, None)
    assert _payments(app, invoice.id) == []


def test_an_overpayment_needs_confirming_and_is_kept_as_credit(app, world):
    invoice = _manual_invoice(app, world)
    with app.test_request_context():
        api.mark_paid(world.acme, ACTOR, invoice.id, method="cash", amount="600")
        with pytest.raises(ValidationFailed):
            api.mark_paid(world.acme, ACTOR, invoice.id, method="cash", amount="500")
        paid = api.mark_paid(world.acme, ACTOR, invoice.id, method="cash", amount="500", allow_overpayment=True)
    assert (paid.status, paid.paid_minor, paid.due_minor) == ("paid", 110_000, -10_000)


def test_a_partly_paid_invoice_cannot_be_voided_nor_paid_again_once_paid(app, world):
    invoice = _manual_invoice(app, world)
    with app.test_request_context():
        api.mark_paid(world.acme, ACTOR, invoice.id, method="cash", amount="100")
        with pytest.raises(InvalidTransition, match="partly paid invoice cannot be voided"):
            api.void(world.acme, ACTOR, invoice.id)
        api.mark_paid(world.acme, ACTOR, invoice.id, method="cash")
        with pytest.raises(InvalidTransition, match="already paid"):
            api.mark_paid(world.acme, ACTOR, invoice.id, method="cash", amount="1")
    assert load(app, invoice.id).status == "paid"


def test_another_workspaces_invoice_is_not_found(app, world):
    from invoicing_plugin.persistence.repository import NotFound

    invoice = _manual_invoice(app, world)
    with app.test_request_context(), pytest.raises(NotFound):
        api.mark_paid(world.northwind, ACTOR, invoice.id, method="cash", amount="1")
    assert _payments(app, invoice.id) == []


def test_the_staff_page_prefills_the_balance_and_lists_the_payments(app, world, staff_client):
    invoice = _manual_invoice(app, world)
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert re.search(r'name="amount"[^>]*value="1000.00"', page)

    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/mark-paid", data={
        "amount": "250.50", "method": "cheque", "paid_on": "", "note": "cheque 17"})
    assert response.status_code == 422  # the date is required by the form
    today = api_today(app, world)
    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/mark-paid", data={
        "amount": "250.50", "method": "cheque", "paid_on": today, "note": "cheque 17"},
        follow_redirects=True)
    page = response.text
    assert "£250.50 recorded on invoice" in page and "£749.50 is still due" in page
    assert re.search(r'data-field="balance">£749.50', page)
    assert re.search(r'name="amount"[^>]*value="749.50"', page)
    assert 'data-section="payments"' in page and "cheque 17" in page

    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/mark-paid", data={
        "amount": "800", "method": "cash", "paid_on": today}, follow_redirects=True)
    assert response.status_code == 422 and "more than the £749.50 due" in response.text
    assert load(app, invoice.id).amount_paid_minor == 25_050

    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/mark-paid", data={
        "amount": "800", "method": "cash", "paid_on": today, "allow_overpayment": "y"},
        follow_redirects=True)
    assert "overpaid by £50.50" in response.text
    assert load(app, invoice.id).status == "paid"

    document = staff_client.get(f"/invoicing/invoices/{invoice.id}/print").text
    assert re.search(r'data-field="amount-due"><th scope="row"[^>]*>Amount due</th><td class="num">£0.00', document)
    assert re.search(r'data-field="overpaid">.*£50.50', document)


def api_today(app, world) -> str:
    from invoicing_plugin.services.common import workspace_today

    with app.test_request_context():
        return workspace_today(world.acme).isoformat()


# --- Stripe ---------------------------------------------------------------------------------


def _stripe_invoice(app, world):
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1,000.00", currency="GBP",
                                 description="Penetration test", send_method="stripe_link")
        return api.send(world.acme, ACTOR, draft.id, method="stripe_link")


def test_the_pay_link_asks_stripe_for_the_balance_and_its_fee_share(app, world, connected_workspace, stripe_emulator):
    invoice = _stripe_invoice(app, world)
    first_session = load(app, invoice.id).checkout_session_id
    assert stripe_emulator.control.get_object(first_session)["amount_total"] == 100_000
    with app.test_request_context():
        api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer", amount="400")
    # The session that asked for the total is expired, so it cannot be paid as well.
    assert stripe_emulator.control.get_object(first_session)["status"] == "expired"

    client = app.test_client()
    response = client.get(f"/invoicing/pay/{invoice.public_token}")
    assert response.status_code == 303
    row = load(app, invoice.id)
    session = stripe_emulator.control.get_object(row.checkout_session_id)
    assert session["amount_total"] == 60_000
    # Pro plan 3.5 %: the locked fee is 35.00 on 1,000.00; the balance of 600.00 carries 21.00.
    assert row.application_fee_minor == 3_500
    with app.app_context():
        asked = get_state().session.scalar(select(CheckoutSessionRecord.amount_minor)
                                           .where(CheckoutSessionRecord.session_id == row.checkout_session_id))
    assert asked == 60_000

    stripe_emulator.control.pay_session(row.checkout_session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", row.checkout_session_id)
    assert post_event(client, event).status_code == 200
    intent = stripe_emulator.control.get_object(event["data"]["object"]["payment_intent"])
    assert intent["application_fee_amount"] == 2_100
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor, state.payment_rows) == ("paid", 100_000, 2)
    assert _payments(app, invoice.id)[1][:5] == (60_000, "stripe", intent["id"], row.checkout_session_id, 2_100)

    # The same event again, and the async one for the same intent: nothing changes.
    before = invoice_state(app, invoice.id).comparable
    assert post_event(client, event).status_code == 200
    replay = dict(event, id=event["id"] + "_again")
    assert post_event(client, replay).status_code == 200
    assert invoice_state(app, invoice.id).comparable == before
    with app.app_context():
        assert totals.drift(get_state().session) == []


def test_a_stripe_payment_of_part_leaves_the_invoice_partially_paid(app, world, connected_workspace, stripe_emulator):
    """A session asked for 300.00 (its record says so) and Stripe reports it paid: 700.00 still due."""
    invoice = sent_invoice(app, world.acme, connected_workspace, amount=100_000, session_amount=30_000)
    with app.app_context():
        session = get_state().session
        session.execute(update(CheckoutSessionRecord).where(CheckoutSessionRecord.session_id == invoice.session_id)
                        .values(amount_minor=30_000))
        session.commit()
    stripe_emulator.control.pay_session(invoice.session_id)
    client = app.test_client()
    event = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id)
    assert post_event(client, event).status_code == 200
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor, state.attention, state.payment_rows) == (
        "partially_paid", 30_000, None, 1)
    assert post_event(client, dict(event, id=event["id"] + "_2")).status_code == 200
    assert invoice_state(app, invoice.id).comparable == state.comparable


def test_a_payment_of_another_amount_than_the_session_asked_for_is_flagged_not_recorded(
        app, world, connected_workspace, stripe_emulator):
    invoice = sent_invoice(app, world.acme, connected_workspace, amount=100_000)
    with app.app_context():
        session = get_state().session
        session.execute(update(CheckoutSessionRecord).where(CheckoutSessionRecord.session_id == invoice.session_id)
                        .values(amount_minor=60_000))  # it was made for a balance of 600.00
        session.commit()
    stripe_emulator.control.pay_session(invoice.session_id)
    assert post_event(app.test_client(),
                      event_for(stripe_emulator, "checkout.session.completed", invoice.session_id)).status_code == 200
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor, state.attention, state.payment_rows) == (
        "sent", None, "amount_mismatch", 0)
    assert "asked for £600.00" in state.attention_detail


def test_one_payment_row_per_payment_intent_is_enforced_by_the_database(app, world):
    invoice = _manual_invoice(app, world)
    from invoicing_plugin.persistence.models import utcnow

    with app.app_context():
        session = get_state().session
        row = dict(invoice_id=invoice.id, workspace_id=world.acme, amount_minor=1, currency="GBP", method="stripe",
                   received_at=utcnow(), payment_intent_id="pi_same", created_at=utcnow())
        session.execute(Payment.__table__.insert().values(row))
        session.commit()
        with pytest.raises(Exception):
            session.execute(Payment.__table__.insert().values(row))
            session.commit()
        session.rollback()
        assert session.scalar(select(func.count()).select_from(Payment)) == 1


def test_refunding_the_stripe_part_in_full_does_not_refund_the_invoice(app, world, connected_workspace,
                                                                       stripe_emulator):
    """400.00 by bank transfer, 600.00 through Stripe; the Stripe charge is refunded in full: the
    bank transfer was not, so the invoice stays paid with 600.00 refunded (paid amount 400.00)."""
    from tests.integration.webhook_helpers import intent_charge

    invoice = _stripe_invoice(app, world)
    with app.test_request_context():
        api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer", amount="400")
    client = app.test_client()
    assert client.get(f"/invoicing/pay/{invoice.public_token}").status_code == 303
    session_id = load(app, invoice.id).checkout_session_id
    stripe_emulator.control.pay_session(session_id)
    assert post_event(client, event_for(stripe_emulator, "checkout.session.completed", session_id)).status_code == 200
    intent = load(app, invoice.id).payment_intent_id
    with app.app_context():
        get_state().platform_gateway().create_refund(payment_intent=intent, amount=None, idempotency_key="rf-all")
    assert post_event(client, event_for(stripe_emulator, "charge.refunded",
                                        intent_charge(stripe_emulator, intent))).status_code == 200
    row = load(app, invoice.id)
    assert (row.status, row.amount_paid_minor, row.amount_refunded_minor) == ("paid", 100_000, 60_000)
    with app.test_request_context():
        snapshot = api.get_invoice(world.acme, invoice.id)
    assert (snapshot.paid_minor, snapshot.due_minor) == (40_000, 60_000)
    with app.app_context():
        assert totals.drift(get_state().session) == []


def test_the_client_portal_asks_for_the_balance_of_a_partly_paid_invoice(app, world):
    """The portal's card and its "to pay" total count what is left, not the whole invoice."""
    from invoicing_plugin.services import portal

    invoice = _manual_invoice(app, world)
    with app.test_request_context():
        api.mark_paid(world.acme, ACTOR, invoice.id, method="cash", amount="300")
        owner = portal.portal_for_token(portal.ensure_portal_access(world.acme, world.client_a).token)
        page = portal.load_portal(owner)
    assert [(m.minor, m.currency) for m in page.due_by_currency] == [(70_000, "GBP")]
    (item,) = [i for group in page.groups for i in group.invoices if i.invoice.id == invoice.id]
    assert (item.status_key, item.status_label, item.can_pay) == ("partially_paid", "Partly paid", True)
