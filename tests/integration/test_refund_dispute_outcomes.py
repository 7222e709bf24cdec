"""Issue 13, fault 6: disputes and refunds have outcomes.

Stripe's events come from the emulator (a real payment, refund, dispute on it), read back
through the SDK and posted signed to the endpoint, in Stripe's order and out of it:

* a dispute closes ``won`` or ``lost`` (https://docs.stripe.com/disputes/how-disputes-work,
  https://docs.stripe.com/api/disputes/object status): won clears the flag, lost takes the
  amount out of revenue (invoice, analytics, the kept totals), with
  ``charge.dispute.funds_withdrawn`` / ``funds_reinstated`` in the audit trail;
* a refund that fails after all (https://docs.stripe.com/refunds#failed-refunds;
  ``charge.refund.updated``, ``refund.updated``, ``refund.failed`` in
  https://docs.stripe.com/api/events/types) puts the money back on the invoice, flags it
  for staff, writes an audit entry and sends the ``refund_failed`` signal -- once.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from invoicing_plugin import signals
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence import totals
from invoicing_plugin.persistence.models import Invoice, utcnow
from invoicing_plugin.persistence.repository import WorkspaceRepository
from invoicing_plugin.services import analytics
from tests.integration.webhook_helpers import (
    pay_and_deliver as pay,
    audit,
    event_for,
    events,
    intent_charge,
    invoice_state,
    post_event,
    set_invoice,
)


@pytest.fixture
def client(app):
    return app.test_client()


def deliver(client, emulator, type_: str, object_id: str) -> None:
    response = post_event(client, event_for(emulator, type_, object_id))
    assert response.status_code == 200, response.get_json()


def revenue(app, workspace_id: str) -> int:
    with app.app_context():
        session = get_state().session
        today = date.today()
        report = analytics.revenue_report(WorkspaceRepository(session, workspace_id),
                                          analytics.DateRange(today - timedelta(days=30), today), today)
        assert totals.drift(session, workspace_id) == []  # the kept totals agree with the invoices
        return sum(s.revenue.minor for s in report.currencies if s.currency == "GBP")


def lost_amount(app, invoice_id: int) -> int:
    with app.app_context():
        return get_state().session.get(Invoice, invoice_id).amount_dispute_lost_minor


# -- disputes -----------------------------------------------------------------------------------


def test_a_won_dispute_clears_the_flag_and_keeps_the_revenue(app, client, invoice, stripe_emulator):
    intent, charge = pay(app, client, stripe_emulator, invoice)
    dispute = stripe_emulator.control.trigger("charge.dispute.created", charge=charge)
    deliver(client, stripe_emulator, "charge.dispute.created", dispute["id"])
    deliver(client, stripe_emulator, "charge.dispute.funds_withdrawn", dispute["id"])
    assert invoice_state(app, invoice.id).attention == "disputed"

    stripe_emulator.control.trigger("charge.dispute.closed", dispute=dispute["id"], status="won")
    deliver(client, stripe_emulator, "charge.dispute.closed", dispute["id"])
    deliver(client, stripe_emulator, "charge.dispute.funds_reinstated", dispute["id"])

    state = invoice_state(app, invoice.id)
    assert (state.status, state.attention, state.attention_detail) == ("paid", None, None)
    assert revenue(app, invoice.workspace_id) == 50_000 and lost_amount(app, invoice.id) == 0
    actions = [e.action for e in audit(app, invoice.id)]
    assert actions[-4:] == ["dispute_opened", "dispute_funds_withdrawn", "dispute_won", "dispute_funds_reinstated"]


def test_a_lost_dispute_is_no_longer_revenue_and_is_shown_to_staff(app, client, invoice, stripe_emulator,
                                                                  staff_client):
    intent, charge = pay(app, client, stripe_emulator, invoice)
    assert revenue(app, invoice.workspace_id) == 50_000
    dispute = stripe_emulator.control.trigger("charge.dispute.created", charge=charge)
    deliver(client, stripe_emulator, "charge.dispute.created", dispute["id"])
    stripe_emulator.control.trigger("charge.dispute.closed", dispute=dispute["id"], status="lost")
    for _ in range(2):  # a redelivery changes nothing
        deliver(client, stripe_emulator, "charge.dispute.closed", dispute["id"])

    state = invoice_state(app, invoice.id)
    assert (state.status, state.attention) == ("paid", "dispute_lost")
    assert "disputed:" not in state.attention_detail
    assert lost_amount(app, invoice.id) == 50_000
    assert revenue(app, invoice.workspace_id) == 0
    (entry,) = audit(app, invoice.id, "dispute_lost")
    assert dispute["id"] in entry.detail and entry.result == "failed"
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").get_data(as_text=True)
    assert "Lost in a dispute" in page and "£500.00" in page


def test_a_dispute_closed_before_its_creation_arrives_stays_closed(app, client, invoice, stripe_emulator):
    """Out of order: ``created`` delivered after ``closed`` does not flag the invoice again."""
    intent, charge = pay(app, client, stripe_emulator, invoice)
    dispute = stripe_emulator.control.trigger("charge.dispute.created", charge=charge)
    stripe_emulator.control.trigger("charge.dispute.closed", dispute=dispute["id"], status="won")
    for type_ in ("charge.dispute.closed", "charge.dispute.funds_reinstated", "charge.dispute.created",
                  "charge.dispute.funds_withdrawn"):
        deliver(client, stripe_emulator, type_, dispute["id"])
    state = invoice_state(app, invoice.id)
    assert (state.status, state.attention) == ("paid", None)


# -- failed refunds -----------------------------------------------------------------------------


def _refund(app, intent: str, amount: int | None, key: str) -> str:
    with app.app_context():
        return get_state().platform_gateway().create_refund(payment_intent=intent, amount=amount,
                                                            idempotency_key=key)["id"]


@pytest.mark.parametrize("voided", [False, True])
def test_a_failed_full_refund_puts_the_money_back_and_tells_staff(app, client, invoice, stripe_emulator, voided):
    intent, charge = pay(app, client, stripe_emulator, invoice)
    if voided:  # the payment came after a void: refunding it is still due
        set_invoice(app, invoice.id, status="paid_after_void", voided_at=utcnow())
    refund = _refund(app, intent, None, f"full-{intent}")
    deliver(client, stripe_emulator, "charge.refunded", charge)
    assert invoice_state(app, invoice.id).status == "refunded"
    assert revenue(app, invoice.workspace_id) == 0
    received = []
    signals.refund_failed.connect(lambda sender, **kw: received.append(kw), weak=False)
    try:
        stripe_emulator.control.trigger("refund.failed", refund=refund, failure_reason="expired_or_canceled_card")
        # Stripe sends the failure three ways; each is delivered (twice): recorded once.
        for type_ in ("charge.refund.updated", "refund.updated", "refund.failed", "refund.failed"):
            deliver(client, stripe_emulator, type_, refund)
        # A late redelivery of the refund's charge.refunded does not count the failed refund again.
        (stale,) = [e for e in events(stripe_emulator, "charge.refunded") if e["data"]["object"]["id"] == charge]
        assert post_event(client, stale).status_code == 200
    finally:
        signals.refund_failed.receivers.clear()

    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_refunded_minor) == ("paid_after_void" if voided else "paid", 0)
    assert state.attention == "refund_failed" and "expired_or_canceled_card" in state.attention_detail
    (entry,) = audit(app, invoice.id, "refund_failed")
    assert refund in entry.detail and (entry.from_status, entry.to_status) == (
        "refunded", "paid_after_void" if voided else "paid")
    assert [(r["refund_id"], r["amount_minor"], r["reason"]) for r in received] == [
        (refund, 50_000, "expired_or_canceled_card")]
    assert revenue(app, invoice.workspace_id) == (0 if voided else 50_000)


def test_a_failed_partial_refund_lowers_the_refunded_amount_only(app, client, invoice, stripe_emulator,
                                                                staff_client):
    intent, charge = pay(app, client, stripe_emulator, invoice)
    first = _refund(app, intent, 10_000, f"a-{intent}")
    deliver(client, stripe_emulator, "charge.refunded", charge)
    _refund(app, intent, 5_000, f"b-{intent}")
    stripe_emulator.control.trigger("refund.failed", refund=first)
    # Stripe's order, then the first charge.refunded again (stale): 5,000 refunded in the end.
    for event in events(stripe_emulator, "charge.refunded")[1:] + events(stripe_emulator, "refund.failed") + \
            events(stripe_emulator, "charge.refunded")[:1]:
        assert post_event(client, event).status_code == 200
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_refunded_minor, state.attention) == ("paid", 5_000, "refund_failed")
    assert revenue(app, invoice.workspace_id) == 45_000
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").get_data(as_text=True)
    assert "failed" in page and first in page


def test_a_refund_update_that_is_not_a_failure_changes_nothing(app, client, invoice, stripe_emulator):
    intent, charge = pay(app, client, stripe_emulator, invoice)
    refund = _refund(app, intent, 10_000, f"a-{intent}")
    deliver(client, stripe_emulator, "charge.refunded", charge)
    before = invoice_state(app, invoice.id)
    event = event_for(stripe_emulator, "refund.created", refund)  # refund.created is not routed:
    event["type"] = "refund.updated"  # the same object (status succeeded) as a refund.updated
    assert post_event(client, event).status_code == 200
    assert invoice_state(app, invoice.id) == before
