"""Refund and dispute outcome events in every order, each delivered twice.

Stripe does not deliver events in the order it creates them
(https://docs.stripe.com/webhooks#event-ordering), and from API version 2022-11-15 on a
Charge no longer carries its ``refunds`` list unless expanded
(https://docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand): a
``charge.refunded`` snapshot taken before one of its refunds failed cannot say which of the
refunds it counts. Whatever the order, the invoice ends as Stripe's objects say, and the
kept revenue totals equal a rebuild from scratch (``persistence.totals.rebuild``).
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import permutations

import pytest

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence import totals
from invoicing_plugin.persistence.repository import WorkspaceRepository
from invoicing_plugin.services import analytics
from tests.integration.webhook_helpers import event_for, events, intent_charge, invoice_state, post_event
from tests.integration.webhook_helpers import pay_and_deliver as pay


@pytest.fixture
def client(app):
    return app.test_client()


def refund(app, intent: str, amount: int | None, key: str) -> str:
    with app.app_context():
        return get_state().platform_gateway().create_refund(payment_intent=intent, amount=amount,
                                                            idempotency_key=key)["id"]


def deliver_twice(client, batch: list[dict]) -> None:
    for event in batch + batch:
        response = post_event(client, event)
        assert response.status_code == 200, response.get_json()


def revenue_matches_a_rebuild(app, workspace_id: str) -> int:
    """The GBP revenue of the last 30 days; the kept totals equal a from-scratch rebuild."""
    with app.app_context():
        session = get_state().session
        assert totals.drift(session, workspace_id) == []
        today = date.today()
        report = analytics.revenue_report(WorkspaceRepository(session, workspace_id),
                                          analytics.DateRange(today - timedelta(days=30), today), today)
        kept = sum(s.revenue.minor for s in report.currencies if s.currency == "GBP")
        totals.rebuild(session, workspace_id)
        rebuilt = analytics.revenue_report(WorkspaceRepository(session, workspace_id),
                                           analytics.DateRange(today - timedelta(days=30), today), today)
        session.rollback()
        assert sum(s.revenue.minor for s in rebuilt.currencies if s.currency == "GBP") == kept
        return kept


@pytest.mark.parametrize("order", list(permutations(range(2))))
def test_a_failed_full_refund_in_any_order(app, client, invoice, stripe_emulator, order):
    intent, charge = pay(app, client, stripe_emulator, invoice)
    refund_id = refund(app, intent, None, f"full-{intent}")
    stripe_emulator.control.trigger("refund.failed", refund=refund_id)
    batch = [*events(stripe_emulator, "charge.refunded"), *events(stripe_emulator, "refund.failed")]
    assert len(batch) == 2
    deliver_twice(client, [batch[i] for i in order])
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_refunded_minor, state.attention) == ("paid", 0, "refund_failed")
    assert revenue_matches_a_rebuild(app, invoice.workspace_id) == 50_000


@pytest.mark.parametrize("order", list(permutations(range(3))))
def test_one_of_two_partial_refunds_failing_in_any_order(app, client, invoice, stripe_emulator, order):
    intent, charge = pay(app, client, stripe_emulator, invoice)
    first = refund(app, intent, 10_000, f"a-{intent}")
    refund(app, intent, 5_000, f"b-{intent}")
    stripe_emulator.control.trigger("refund.failed", refund=first)
    batch = [*events(stripe_emulator, "charge.refunded"), *events(stripe_emulator, "refund.failed")]
    assert len(batch) == 3
    deliver_twice(client, [batch[i] for i in order])
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_refunded_minor, state.attention) == ("paid", 5_000, "refund_failed")
    assert revenue_matches_a_rebuild(app, invoice.workspace_id) == 45_000


@pytest.mark.parametrize("outcome", ["won", "lost"])
@pytest.mark.parametrize("order", list(permutations(range(4))))
def test_a_dispute_in_any_order(app, client, invoice, stripe_emulator, outcome, order):
    intent, charge = pay(app, client, stripe_emulator, invoice)
    dispute = stripe_emulator.control.trigger("charge.dispute.created", charge=charge)["id"]
    stripe_emulator.control.trigger("charge.dispute.closed", dispute=dispute, status=outcome)
    types = ["charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed"]
    if outcome == "won":
        types.append("charge.dispute.funds_reinstated")
    batch = [event_for(stripe_emulator, type_, dispute) for type_ in types]
    deliver_twice(client, [batch[i] for i in order if i < len(batch)])
    state = invoice_state(app, invoice.id)
    expected = ("paid", None) if outcome == "won" else ("paid", "dispute_lost")
    assert (state.status, state.attention) == expected
    assert revenue_matches_a_rebuild(app, invoice.workspace_id) == (50_000 if outcome == "won" else 0)


def test_a_stale_charge_refunded_while_stripe_cannot_be_asked_is_retried(app, client, invoice, stripe_emulator):
    """The failure is recorded, then a ``charge.refunded`` whose snapshot cannot say whether it
    counts the failed refund: Stripe is asked what is refunded now. Stripe down: the event
    fails (500) and changes nothing; Stripe's retry records it."""
    intent, charge = pay(app, client, stripe_emulator, invoice)
    first = refund(app, intent, 10_000, f"a-{intent}")
    stripe_emulator.control.trigger("refund.failed", refund=first)
    refund(app, intent, 5_000, f"b-{intent}")
    deliver_twice(client, events(stripe_emulator, "refund.failed"))
    second, first_refunded = events(stripe_emulator, "charge.refunded")[::-1]
    before = invoice_state(app, invoice.id)
    stripe_emulator.control.fail_next_requests(10, error="api_error")
    assert post_event(client, first_refunded).status_code == 500
    assert invoice_state(app, invoice.id) == before
    with stripe_emulator.state.lock:
        stripe_emulator.state.failures.clear()
    deliver_twice(client, [first_refunded, second])
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_refunded_minor) == ("paid", 5_000)
    assert revenue_matches_a_rebuild(app, invoice.workspace_id) == 45_000
