"""The kept revenue totals stay equal to the invoices, whatever happens to them.

``invoicing_invoice_totals`` is changed on every flush of an invoice, in the same
transaction (``persistence/totals.py``). Here the real services and signed webhooks
drive invoices of two workspaces through drafts, edits, deletions, sends, Stripe
payments (at once, delayed, through the pay link's return), payments by hand,
refunds, voids and payments after a void. After every step the kept totals must
equal a fresh computation from the invoices (``totals.drift`` is empty), and the
analytics report must equal figures worked out here, in plain Python, from the
invoice rows.
"""

from __future__ import annotations

import copy
import json
import random
import secrets
import threading
from collections import Counter
from dataclasses import astuple, dataclass
from datetime import date, datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import insert, select, update

from invoicing_plugin import api
from invoicing_plugin.domain.invoice import InvoiceStatus
from invoicing_plugin.domain.totals import NO_DUE_DATE
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence import totals
from invoicing_plugin.persistence.models import Invoice, InvoiceTotal, Payment, utcnow
from invoicing_plugin.persistence.repository import WorkspaceRepository
from invoicing_plugin.services import analytics
from invoicing_plugin.services.invoices import MANUAL_PAYMENT_METHODS, DraftInput, today
from invoicing_plugin.webhooks import handlers
from tests.integration._invoice_helpers import ACTOR
from tests.integration.conftest import connect_workspace
from tests.integration.webhook_helpers import (
    ENDPOINT,
    event_for,
    intent_charge,
    new_session,
    post_event,
    sign,
    webhook_rows,
)

CURRENCIES = ("GBP", "USD", "EUR")
OPEN = ("sent", "processing", "partially_paid")
STEPS = 200
#: How likely each operation is when it can run (1 unless said here).
WEIGHTS = {"edit": 0.5, "delete": 0.3, "redeliver": 0.4, "mark_part_paid": 0.5, "pay": 2, "credit_all": 0.15}
OPERATIONS = ("create", "edit", "delete", "send_manual", "send_link", "pay", "pay_and_return", "pay_delayed",
              "refund_first", "settle", "renew_link", "mark_paid", "void", "pay_after_void", "pay_twice", "refund_part",
              "refund_rest", "redeliver", "mark_part_paid", "credit_part", "credit_all")


# --- Reading the database ---------------------------------------------------------------------


def due_of(row) -> int:
    """The balance of an open invoice (row or ORM object): total less paid less credited."""
    return row.amount_minor - (row.amount_paid_minor or 0) - (row.amount_credited_minor or 0)


def drift(app, workspace_id=None) -> list:
    """Rows where the kept totals differ from the invoices (empty: exact)."""
    with app.app_context():
        session = get_state().session
        try:
            return totals.drift(session, workspace_id)
        finally:
            session.rollback()


def kept(app, workspace_id=None, *, nonzero=False) -> dict[tuple, tuple[int, int, int]]:
    """The kept totals as stored: ``{(workspace, measure, day, status, currency): (invoices, amount, fee)}``."""
    with app.app_context():
        session = get_state().session
        stmt = select(InvoiceTotal)
        if workspace_id is not None:
            stmt = stmt.where(InvoiceTotal.workspace_id == workspace_id)
        rows = {
            (t.workspace_id, t.measure, t.day, t.status, t.currency): (t.invoices, t.amount_minor, t.fee_minor)
            for t in session.scalars(stmt)
        }
        session.rollback()
    return {key: value for key, value in rows.items() if not nonzero or any(value)}


def stored_invoices(app) -> list[Invoice]:
    """Every invoice row as stored now, detached."""
    with app.app_context():
        session = get_state().session
        rows = list(session.scalars(select(Invoice).order_by(Invoice.id)))
        session.expunge_all()
        session.rollback()
    return rows


def drifted(app, workspace_id=None) -> dict[tuple, tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """:func:`drift` as ``{(workspace, measure, day, status, currency): (kept, computed)}``."""
    return {astuple(key): (stored, computed) for key, stored, computed in drift(app, workspace_id)}


def assert_exact(app, when: str) -> None:
    found = drift(app)
    assert found == [], f"the kept totals drifted {when}: {found}"


# --- The oracle: the report's figures from the invoice rows -----------------------------------


def utc_day(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


def expected_report(invoices, workspace_id: str, period: analytics.DateRange, on: date, fees_by_invoice=None):
    """What the analytics report must say, worked out from the invoices one by one (and the
    fees of their payment rows: ``{invoice_id: [application_fee_minor, ...]}``)."""
    fees_by_invoice = fees_by_invoice or {}
    currencies: dict[str, dict] = {}

    def of(currency: str) -> dict:
        return currencies.setdefault(currency, {
            "revenue": 0, "fees": 0, "paid": 0, "outstanding": 0, "outstanding_count": 0, "overdue": 0,
            "overdue_count": 0, "months": {month: [0, 0, 0] for month in period.months()},
        })

    counts = {status.value: 0 for status in InvoiceStatus}
    for invoice in invoices:
        if invoice.workspace_id != workspace_id:
            continue
        if period.start <= utc_day(invoice.created_at) <= period.end:
            counts[invoice.status] += 1
        # issue 15: money kept (payments less refunds and lost disputes) and the platform fees
        # actually taken (the payment rows' fees), on an invoice that was paid (in part) and is
        # neither refunded nor voided; the walk's payments and refunds are all made today.
        kept_money = invoice.status in ("paid", "partially_paid", "sent", "processing")
        if invoice.paid_at is not None and kept_money and period.start <= utc_day(invoice.paid_at) <= period.end:
            received = invoice.amount_minor if invoice.amount_paid_minor is None else invoice.amount_paid_minor
            revenue = received - (invoice.amount_refunded_minor or 0) - (invoice.amount_dispute_lost_minor or 0)
            fee = sum(fee or 0 for fee in fees_by_invoice.get(invoice.id, ()))
            counted = 1 if invoice.status in ("paid", "partially_paid") else 0
            figures = of(invoice.currency)
            figures["revenue"] += revenue
            figures["fees"] += fee
            figures["paid"] += counted
            month = figures["months"][utc_day(invoice.paid_at).strftime("%Y-%m")]
            month[0] += counted
            month[1] += revenue
            month[2] += fee
        if invoice.status in OPEN:
            figures = of(invoice.currency)
            # issue 15: what is still to receive (the total less what was paid and credited).
            figures["outstanding"] += due_of(invoice)
            figures["outstanding_count"] += 1
            if invoice.status == "sent" and invoice.due_date is not None and invoice.due_date < on:
                figures["overdue"] += due_of(invoice)
                figures["overdue_count"] += 1
    for figures in currencies.values():
        figures["months"] = [(month, *values) for month, values in figures["months"].items()]
    return currencies, counts


def report_figures(app, workspace_id: str, period: analytics.DateRange, on: date):
    """What the analytics report says, in the oracle's shape."""
    with app.app_context():
        session = get_state().session
        report = analytics.revenue_report(WorkspaceRepository(session, workspace_id), period, on)
        session.rollback()
    currencies = {
        s.currency: {
            "revenue": s.revenue.minor, "fees": s.fees.minor, "paid": s.paid_count,
            "outstanding": s.outstanding.minor, "outstanding_count": s.outstanding_count,
            "overdue": s.overdue.minor, "overdue_count": s.overdue_count,
            "months": [(m.month, m.invoices, m.revenue.minor, m.fees.minor) for m in s.months],
        }
        for s in report.currencies
    }
    return currencies, report.status_counts


def assert_report_matches_invoices(app, workspace_ids, when: str) -> None:
    """The report equals the oracle for each workspace, today and (for overdue) later on."""
    invoices = stored_invoices(app)
    with app.app_context():
        session = get_state().session
        fees_by_invoice: dict[int, list] = {}
        for invoice_id, fee in session.execute(select(Payment.invoice_id, Payment.application_fee_minor)):
            fees_by_invoice.setdefault(invoice_id, []).append(fee)
        session.rollback()
    now = today()
    period = analytics.DateRange(now - timedelta(days=70), now)
    for workspace_id in workspace_ids:
        for on in (now, now + timedelta(days=20), now + timedelta(days=95)):
            expected = expected_report(invoices, workspace_id, period, on, fees_by_invoice)
            assert report_figures(app, workspace_id, period, on) == expected, (
                f"report of workspace {workspace_id} on {on} {when}")


# --- Driving invoices through the real services -----------------------------------------------


@dataclass
class Tracked:
    id: int
    workspace_id: str
    token: str
    spare_session: str | None = None  # an older Checkout Session the client still has open
    parts: bool = False  # paid in parts (issue 15): its Stripe charge is not all it received
    expired_by_credit: bool = False  # a credit note expired its session: the pay link makes the next one


class Scenario:
    """Seeded random operations on two workspaces' invoices, each through the real code path."""

    def __init__(self, app, world, emulator, rng: random.Random) -> None:
        self.app, self.emulator, self.rng = app, emulator, rng
        self.http = app.test_client()
        self.clients = {world.acme: (world.client_a, world.client_b), world.northwind: (world.northwind_client,)}
        self.invoices: dict[int, Tracked] = {}
        self.delivered: list[dict] = []
        self.done: Counter = Counter()
        self.statuses: set[str] = set()  # every status an invoice has been in
        self.log: list[str] = []

    # -- what can happen next

    def rows(self) -> dict[int, Invoice]:
        return {row.id: row for row in stored_invoices(self.app) if row.id in self.invoices}

    def candidates(self, rows: dict[int, Invoice]) -> dict[str, list[int]]:
        def where(test):
            return [i for i, row in sorted(rows.items()) if test(self.invoices[i], row)]

        drafts = sum(row.status == "draft" for row in rows.values())
        return {
            "create": [0] if drafts < 6 else [],
            "edit": where(lambda t, r: r.status == "draft"),
            "delete": where(lambda t, r: r.status == "draft"),
            "send_manual": where(lambda t, r: r.status == "draft" and r.send_method == "manual"),
            "send_link": where(lambda t, r: r.status == "draft" and r.send_method == "stripe_link"),
            "pay": where(lambda t, r: r.status in ("sent", "partially_paid") and r.checkout_session_id is not None
                                 and not t.expired_by_credit),
            "pay_and_return": where(lambda t, r: r.status == "sent" and r.checkout_session_id is not None
                                    and not t.expired_by_credit),
            "pay_delayed": where(lambda t, r: r.status in ("sent", "partially_paid") and r.checkout_session_id is not None
                                 and not t.expired_by_credit),
            "refund_first": where(lambda t, r: r.status == "sent" and r.checkout_session_id is not None
                                  and not t.expired_by_credit),
            "settle": where(lambda t, r: r.status == "processing"),
            "renew_link": where(lambda t, r: r.status in ("sent", "partially_paid") and r.stripe_mode
                                and (r.checkout_session_id is None or t.expired_by_credit)),
            "mark_paid": where(lambda t, r: r.status in ("sent", "partially_paid")),
            "mark_part_paid": where(lambda t, r: r.status in ("sent", "partially_paid") and due_of(r) >= 200),
            "void": where(lambda t, r: r.status == "sent"),
            "pay_after_void": where(lambda t, r: r.status in ("voided", "credited") and t.spare_session is not None),
            "pay_twice": where(lambda t, r: r.status in ("paid", "refunded") and t.spare_session is not None),
            "refund_part": where(lambda t, r: r.status in ("paid", "paid_after_void") and r.payment_intent_id
                                 and not t.parts and r.amount_paid_minor - r.amount_refunded_minor > 1),
            "refund_rest": where(lambda t, r: r.status in ("paid", "paid_after_void") and r.payment_intent_id
                                 and not t.parts),
            "redeliver": [0] if self.delivered else [],
            # Issue 15: credit notes before payment and on a partly paid invoice's balance (the
            # amount due, then nothing, is open; all of a partly paid one's balance makes it paid).
            "credit_part": where(lambda t, r: r.status in ("sent", "partially_paid") and r.stripe_mode
                                 and not t.expired_by_credit and due_of(r) >= 2_000),
            "credit_all": where(lambda t, r: r.status in ("sent", "partially_paid")),
        }

    def step(self) -> str:
        options = {name: found for name, found in self.candidates(self.rows()).items() if found}
        names = sorted(options)
        # Operations not seen yet are much likelier, so every seed walks every path early.
        weights = [WEIGHTS.get(name, 1) * (1 if self.done[name] else 8) for name in names]
        name = self.rng.choices(names, weights)[0]
        target = self.rng.choice(options[name])
        with self.app.test_request_context():
            detail = getattr(self, name)(self.invoices.get(target))
        self.done[name] += 1
        self.statuses.update(row.status for row in self.rows().values())
        self.log.append(f"{name} {detail}")
        return self.log[-1]

    # -- operations

    def _due(self) -> date | None:
        return self.rng.choice([None, today(), today() + timedelta(days=self.rng.randint(1, 90))])

    def create(self, _):
        workspace_id = self.rng.choice(sorted(self.clients))
        snapshot = api.create_draft(
            workspace_id, ACTOR, client_id=self.rng.choice(self.clients[workspace_id]),
            amount=self.rng.randint(100, 900_000), currency=self.rng.choice(CURRENCIES),
            description="Security review", due_date=self._due(),
            send_method=self.rng.choice(["manual", "stripe_link"]),
        )
        self.invoices[snapshot.id] = Tracked(snapshot.id, workspace_id, snapshot.public_token)
        return f"#{snapshot.id} {snapshot.amount_minor} {snapshot.currency} in {workspace_id}"

    def edit(self, invoice: Tracked):
        row = self.rows()[invoice.id]
        data = DraftInput(client_id=row.client_id, amount=self.rng.randint(100, 900_000),
                          currency=self.rng.choice(CURRENCIES), description="Security review, revised",
                          due_date=self._due(), send_method=row.send_method)
        api.update_draft(invoice.workspace_id, ACTOR, invoice.id, data)
        return f"#{invoice.id} to {data.amount} {data.currency} due {data.due_date}"

    def delete(self, invoice: Tracked):
        api.delete_draft(invoice.workspace_id, ACTOR, invoice.id)
        del self.invoices[invoice.id]
        return f"#{invoice.id}"

    def send_manual(self, invoice: Tracked):
        api.send(invoice.workspace_id, ACTOR, invoice.id, method="manual")
        return f"#{invoice.id}"

    def send_link(self, invoice: Tracked):
        api.send(invoice.workspace_id, ACTOR, invoice.id, method="stripe_link")
        return f"#{invoice.id}"

    def _session(self, invoice: Tracked) -> str:
        return self.rows()[invoice.id].checkout_session_id

    def _pay(self, invoice: Tracked, outcome: str) -> dict:
        session_id = self._session(invoice)
        if outcome == "succeeded" and self.rng.random() < 0.4:
            # The client paid on another tab: that session stays open, and is paid twice.
            invoice.spare_session = invoice.spare_session or new_session(self.app, invoice.id, make_current=False)
        self.emulator.control.pay_session(session_id, outcome)
        return event_for(self.emulator, "checkout.session.completed", session_id)

    def pay(self, invoice: Tracked):
        self.deliver(self._pay(invoice, "succeeded"))
        return f"#{invoice.id}"

    def pay_and_return(self, invoice: Tracked):
        """The client comes back from Checkout first (the pay link re-reads Stripe); the webhook follows."""
        event = self._pay(invoice, "succeeded")
        assert self.http.get(f"/invoicing/pay/{invoice.token}/success").status_code == 200
        self.deliver(event)
        return f"#{invoice.id}"

    def pay_delayed(self, invoice: Tracked):
        self.deliver(self._pay(invoice, "delayed"))
        return f"#{invoice.id}"

    def refund_first(self, invoice: Tracked):
        """The refund's event overtakes the payment's: kept on the invoice, applied with the payment."""
        paid = self._pay(invoice, "succeeded")
        intent = paid["data"]["object"]["payment_intent"]
        amount = self.rng.choice([None, self.rng.randint(1, paid["data"]["object"]["amount_total"] - 1)])
        get_state().platform_gateway().create_refund(
            payment_intent=intent, amount=amount, idempotency_key=f"refund-{secrets.token_hex(6)}")
        self.deliver(event_for(self.emulator, "charge.refunded", intent_charge(self.emulator, intent)))
        self.deliver(paid)
        return f"#{invoice.id} {amount or 'all'}"

    def settle(self, invoice: Tracked):
        session_id = self._session(invoice)
        succeeded = self.rng.random() < 0.6
        self.emulator.control.settle_async(session_id, succeeded=succeeded)
        kind = "succeeded" if succeeded else "failed"
        self.deliver(event_for(self.emulator, f"checkout.session.async_payment_{kind}", session_id))
        return f"#{invoice.id} {kind}"

    def renew_link(self, invoice: Tracked):
        assert self.http.get(f"/invoicing/pay/{invoice.token}").status_code == 303
        invoice.expired_by_credit = False
        return f"#{invoice.id}"

    def mark_paid(self, invoice: Tracked):
        method = self.rng.choice(sorted(MANUAL_PAYMENT_METHODS))
        api.mark_paid(invoice.workspace_id, ACTOR, invoice.id, method=method)
        return f"#{invoice.id} by {method}"

    def mark_part_paid(self, invoice: Tracked):
        """issue 15: part of the balance received by hand; the invoice is partially paid."""
        row = self.rows()[invoice.id]
        due = due_of(row)
        amount = self.rng.randint(1, due // 100 - 1) * 100  # whole units: every currency's step
        api.mark_paid(invoice.workspace_id, ACTOR, invoice.id, method="bank_transfer", amount=amount)
        invoice.parts = True
        return f"#{invoice.id} {amount} of {due}"

    def void(self, invoice: Tracked):
        if self.rows()[invoice.id].stripe_mode and invoice.spare_session is None and self.rng.random() < 0.9:
            invoice.spare_session = new_session(self.app, invoice.id, make_current=False)
        api.void(invoice.workspace_id, ACTOR, invoice.id)
        return f"#{invoice.id}"

    def credit_part(self, invoice: Tracked):
        row = self.rows()[invoice.id]
        amount = self.rng.randint(1, due_of(row) - 1_000)  # leaves at least Stripe's minimum to pay
        api.create_credit_note(invoice.workspace_id, ACTOR, invoice.id, amount=amount, reason="Partly credited")
        # The old session was expired: the pay link (renew_link) opens one for the amount due.
        invoice.expired_by_credit = True
        return f"#{invoice.id} {amount}"

    def credit_all(self, invoice: Tracked):
        if self.rows()[invoice.id].stripe_mode and invoice.spare_session is None and self.rng.random() < 0.5:
            invoice.spare_session = new_session(self.app, invoice.id, make_current=False)
        api.create_credit_note(invoice.workspace_id, ACTOR, invoice.id, reason="Cancelled")
        return f"#{invoice.id}"

    def pay_after_void(self, invoice: Tracked):
        session_id, invoice.spare_session = invoice.spare_session, None
        self.emulator.control.pay_session(session_id)
        self.deliver(event_for(self.emulator, "checkout.session.completed", session_id))
        return f"#{invoice.id}"

    def pay_twice(self, invoice: Tracked):
        """A second payment on the other tab's session: flagged for staff, not counted."""
        session_id, invoice.spare_session = invoice.spare_session, None
        self.emulator.control.pay_session(session_id)
        self.deliver(event_for(self.emulator, "checkout.session.completed", session_id))
        return f"#{invoice.id}"

    def _refund(self, invoice: Tracked, amount: int | None):
        intent = self.rows()[invoice.id].payment_intent_id
        get_state().platform_gateway().create_refund(
            payment_intent=intent, amount=amount, idempotency_key=f"refund-{secrets.token_hex(6)}")
        self.deliver(event_for(self.emulator, "charge.refunded", intent_charge(self.emulator, intent)))

    def refund_part(self, invoice: Tracked):
        row = self.rows()[invoice.id]
        amount = self.rng.randint(1, row.amount_paid_minor - row.amount_refunded_minor - 1)
        self._refund(invoice, amount)
        return f"#{invoice.id} {amount}"

    def refund_rest(self, invoice: Tracked):
        self._refund(invoice, None)
        return f"#{invoice.id}"

    def redeliver(self, _):
        """Stripe delivers an earlier event again: recorded once, nothing changes."""
        event = self.rng.choice(self.delivered)
        before = kept(self.app)
        response = post_event(self.http, event)
        assert (response.status_code, response.get_json()["status"]) == (200, "duplicate")
        assert kept(self.app) == before, "a duplicate delivery changed the totals"
        return event["id"]

    def deliver(self, event: dict) -> None:
        response = post_event(self.http, event)
        assert response.status_code == 200, response.get_json()
        self.delivered.append(event)


@pytest.fixture
def both_connected(app, world, stripe_emulator):
    """acme (plan pro) and northwind (plan starter) both take payments through Stripe Connect."""
    connect_workspace(app, stripe_emulator, world.acme)
    connect_workspace(app, stripe_emulator, world.northwind)
    return world


@pytest.mark.parametrize("seed", [20261122, 11, 42])
def test_random_invoice_histories_keep_the_totals_exact(app, both_connected, stripe_emulator, seed):
    """Whatever the real services and webhooks do to invoices, in any order, the kept totals
    equal a fresh computation after every step, and the report equals the invoices' figures."""
    world = both_connected
    app.config["INVOICING_PAYMENT_CONFIRMATION_EMAIL"] = False  # not what is tested; keeps it quick
    scenario = Scenario(app, world, stripe_emulator, random.Random(seed))

    for number in range(STEPS):
        done = scenario.step()
        assert_exact(app, f"after step {number} ({done}); steps so far: {scenario.log}")
        if number % 10 == 9:
            assert_report_matches_invoices(app, (world.acme, world.northwind), f"after step {number}")

    assert_report_matches_invoices(app, (world.acme, world.northwind), "at the end")
    assert set(scenario.done) == set(OPERATIONS), f"the run should walk every path: {scenario.done}"
    assert scenario.statuses == {status.value for status in InvoiceStatus}, scenario.statuses


# --- Work that rolls back -----------------------------------------------------------------------


def new_draft(app, workspace_id, client_id, *, amount=125_000, currency="GBP", send_method="stripe_link",
              due_date=None):
    with app.test_request_context():
        return api.create_draft(workspace_id, ACTOR, client_id=client_id, amount=amount, currency=currency,
                                description="Penetration test", due_date=due_date, send_method=send_method)


def status_of(app, invoice_id) -> str:
    with app.app_context():
        session = get_state().session
        status = session.get(Invoice, invoice_id).status
        session.rollback()
    return status


def paid_day(app, invoice_id) -> date:
    """The UTC day the invoice was recorded paid (not "today": a run may cross midnight)."""
    with app.app_context():
        session = get_state().session
        day = utc_day(session.get(Invoice, invoice_id).paid_at)
        session.rollback()
    return day


def test_a_send_whose_stripe_call_fails_after_the_flush_leaves_the_totals_alone(app, world, connected_workspace,
                                                                                stripe_emulator):
    """The invoice is flushed as sent (taking its number autoflushes) before Stripe fails: the
    rollback drops its change to the totals, and the failure record committed right after
    carries none of it. (An email no longer fails inside the send: it goes to the outbox.)"""
    invoice = new_draft(app, world.acme, world.client_a, due_date=today() + timedelta(days=10))
    before = kept(app)
    stripe_emulator.control.fail_next_requests(1, error="api_error", path_prefix="/v1/checkout")

    with app.test_request_context(), pytest.raises(api.InvoicingError, match="still a draft"):
        api.send(world.acme, ACTOR, invoice.id, method="email")

    assert status_of(app, invoice.id) == "draft"
    assert kept(app) == before
    assert_exact(app, "after a failed send")


def test_a_webhook_whose_handler_fails_leaves_the_totals_alone_until_redelivered(
    app, invoice, stripe_emulator, monkeypatch
):
    """The payment is applied and flushed, then the handler raises: the totals do not move
    (500), and the failure recorded afterwards carries none of it; the redelivery counts the
    payment once."""
    http = app.test_client()
    stripe_emulator.control.pay_session(invoice.session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id)
    before = kept(app)

    def boom(ctx):
        handlers.session_completed(ctx)
        get_state().session.flush()  # the invoice's new state is in the database, its change queued
        raise RuntimeError("ledger service unavailable")

    monkeypatch.setitem(handlers.HANDLERS, "checkout.session.completed", boom)
    assert post_event(http, event).status_code == 500

    assert status_of(app, invoice.id) == "sent"
    assert kept(app) == before
    assert_exact(app, "after a failed handler")

    monkeypatch.undo()
    assert post_event(http, event).status_code == 200

    assert status_of(app, invoice.id) == "paid"
    paid = {key: value for key, value in kept(app, nonzero=True).items() if key[1] == "paid"}
    assert paid == {(invoice.workspace_id, "paid", paid_day(app, invoice.id), "", "GBP"): (1, 50_000, 1_750)}
    assert_exact(app, "after the redelivery")


def test_refused_operations_leave_the_totals_alone(app, world, connected_workspace):
    """Every refusal (state machine, validation, edit of a sent invoice) changes no total."""
    sent = new_draft(app, world.acme, world.client_a, send_method="manual")
    paid = new_draft(app, world.acme, world.client_b, send_method="manual")
    editable = new_draft(app, world.acme, world.client_a)
    with app.test_request_context():
        api.send(world.acme, ACTOR, sent.id, method="manual")
        api.send(world.acme, ACTOR, paid.id, method="manual")
        api.mark_paid(world.acme, ACTOR, paid.id, method="cash")
    before = kept(app)
    refusals = [
        (api.InvalidTransition, lambda: api.void(world.acme, ACTOR, paid.id)),
        (api.InvalidTransition, lambda: api.mark_paid(world.acme, ACTOR, paid.id, method="cash")),
        (api.InvalidTransition, lambda: api.send(world.acme, ACTOR, sent.id, method="manual")),
        (api.ValidationFailed, lambda: api.mark_paid(world.acme, ACTOR, sent.id, method="cash",
                                                     paid_on=today() + timedelta(days=2))),
        (api.InvoicingError, lambda: api.update_draft(world.acme, ACTOR, sent.id, DraftInput(
            client_id=world.client_a, amount=1, description="Cheaper", currency="EUR"))),
        (api.InvoicingError, lambda: api.delete_draft(world.acme, ACTOR, paid.id)),
        (api.ValidationFailed, lambda: api.update_draft(world.acme, ACTOR, editable.id, DraftInput(
            client_id=world.client_a, amount="-5", description="Refund", currency="EUR"))),
        (api.NotFound, lambda: api.void(world.northwind, ACTOR, sent.id)),
    ]

    for error, refused in refusals:
        with app.test_request_context(), pytest.raises(error):
            refused()
        assert kept(app) == before

    assert [status_of(app, i) for i in (sent.id, paid.id, editable.id)] == ["sent", "paid", "draft"]
    assert_exact(app, "after refusals")


def test_invoice_changes_flushed_then_rolled_back_are_never_counted(app, world):
    """Host code that changes an invoice, flushes and rolls back leaves nothing queued for the
    next transaction to write."""
    invoice = new_draft(app, world.acme, world.client_a)
    before = kept(app)

    with app.app_context():
        session = get_state().session
        row = session.get(Invoice, invoice.id)
        row.status, row.amount_minor, row.currency = "sent", 999_999, "EUR"
        session.flush()
        session.rollback()
        session.get(Invoice, invoice.id).description = "Penetration test, phase 2"  # counts for nothing
        session.commit()

    assert kept(app) == before
    assert_exact(app, "after a rolled-back flush")


def test_a_savepoint_that_rolls_back_takes_its_changes_to_the_totals_with_it(app, world):
    """Each savepoint queues on its own: rolled back, its share is dropped; released, it joins
    the enclosing transaction and is written at the outermost commit."""
    kept_draft = new_draft(app, world.acme, world.client_a)
    sent_draft = new_draft(app, world.acme, world.client_a, amount=40_000)
    before = kept(app, nonzero=True)

    with app.app_context():
        session = get_state().session
        try:
            with session.begin_nested():
                session.get(Invoice, kept_draft.id).status = "sent"
                session.flush()
                raise RuntimeError("host validation failed")
        except RuntimeError:
            pass
        with session.begin_nested():
            session.get(Invoice, sent_draft.id).status = "sent"
        session.commit()
        assert session.get(Invoice, kept_draft.id).status == "draft"

    after = kept(app, nonzero=True)
    assert after != before
    assert_exact(app, "after one savepoint rolled back and one released")


# --- Duplicates -------------------------------------------------------------------------------------


def test_a_duplicate_delivery_does_not_count_twice(app, invoice, stripe_emulator):
    """The same payment or refund event again (same id, or re-sent under a new id) changes no total."""
    http = app.test_client()
    stripe_emulator.control.pay_session(invoice.session_id)
    paid = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id)
    assert post_event(http, paid).status_code == 200
    after_payment = kept(app)
    day = (invoice.workspace_id, "paid", paid_day(app, invoice.id), "", "GBP")
    assert after_payment[day] == (1, 50_000, 1_750)

    resent = copy.deepcopy(paid)
    resent["id"] += "_resent"
    for again in (paid, paid, resent):
        response = post_event(http, again)
        assert response.status_code == 200
        assert kept(app) == after_payment, f"{again['id']} counted twice"
    assert response.get_json()["status"] == "processed"  # the re-sent copy is new to us, yet a no-op

    intent = paid["data"]["object"]["payment_intent"]
    with app.app_context():
        get_state().platform_gateway().create_refund(payment_intent=intent, amount=12_000, idempotency_key="r-1")
    refunded = event_for(stripe_emulator, "charge.refunded", intent_charge(stripe_emulator, intent))
    assert post_event(http, refunded).status_code == 200
    after_refund = kept(app)
    assert after_refund[day] == (1, 38_000, 1_750)

    response = post_event(http, refunded)
    assert (response.status_code, response.get_json()["status"]) == (200, "duplicate")
    assert kept(app) == after_refund
    assert_exact(app, "after duplicates")


# --- Concurrency ---------------------------------------------------------------------------------


def deliver_at_once(url: str, payloads: list[str]) -> list[tuple[int, str | None]]:
    """POST every signed payload from its own thread, all released at the same instant."""
    barrier = threading.Barrier(len(payloads))
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def deliver(payload: str) -> None:
        with requests.Session() as http:
            barrier.wait()
            response = http.post(url + ENDPOINT, data=payload, timeout=60,
                                 headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"})
            with lock:
                answers.append((response.status_code, response.json().get("status")))

    workers = [threading.Thread(target=deliver, args=(payload,)) for payload in payloads]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(90)
    return answers


@pytest.mark.postgresql_only  # SQLite runs one writer at a time: no concurrent row locks to contend for
def test_concurrent_payments_in_one_workspace_keep_the_totals_exact(
    app, live_server, world, connected_workspace, stripe_emulator
):
    """Payments, then refunds, of many invoices of one workspace land at once from several
    threads: every delivery succeeds (no deadlock over the shared total rows) and the
    totals are exact."""
    app.config["INVOICING_PAYMENT_CONFIRMATION_EMAIL"] = False
    count = 12
    invoices = []
    for i in range(count):
        # Currencies and due days interleave, so each payment changes its own mix of shared rows.
        snapshot = new_draft(app, world.acme, world.client_a, amount=10_000 + 1_000 * i,
                             currency=CURRENCIES[i % 3], due_date=today() + timedelta(days=i % 2))
        with app.test_request_context():
            api.send(world.acme, ACTOR, snapshot.id, method="stripe_link")
        invoices.append(snapshot.id)
    rows = {row.id: row for row in stored_invoices(app)}
    payloads = []
    for invoice_id in invoices:
        session_id = rows[invoice_id].checkout_session_id
        stripe_emulator.control.pay_session(session_id)
        payloads.append(json.dumps(event_for(stripe_emulator, "checkout.session.completed", session_id)))

    answers = deliver_at_once(live_server.url, payloads)

    assert answers == [(200, "processed")] * count
    assert_exact(app, "after concurrent payments")
    assert_paid_totals_are_the_invoices_sums(app, world.acme)

    refunds = []
    with app.app_context():
        gateway = get_state().platform_gateway()
        for number, row in enumerate(stored_invoices(app)):
            gateway.create_refund(payment_intent=row.payment_intent_id, amount=None if number % 4 == 0 else 500,
                                  idempotency_key=f"refund-{row.id}")
            charge = intent_charge(stripe_emulator, row.payment_intent_id)
            refunds.append(json.dumps(event_for(stripe_emulator, "charge.refunded", charge)))

    answers = deliver_at_once(live_server.url, refunds)

    assert answers == [(200, "processed")] * count
    assert Counter(row.status for row in stored_invoices(app)) == {"paid": 9, "refunded": 3}
    assert_exact(app, "after concurrent refunds")
    assert_paid_totals_are_the_invoices_sums(app, world.acme)
    assert {row.status for row in webhook_rows(app)} == {"processed"}


def assert_paid_totals_are_the_invoices_sums(app, workspace_id: str) -> None:
    expected: dict[tuple, list[int]] = {}
    for row in stored_invoices(app):
        if row.status == "paid":
            sums = expected.setdefault((workspace_id, "paid", utc_day(row.paid_at), "", row.currency), [0, 0, 0])
            sums[0] += 1
            sums[1] += row.amount_paid_minor - row.amount_refunded_minor
            sums[2] += row.application_fee_minor
    paid = {key: value for key, value in kept(app, workspace_id, nonzero=True).items() if key[1] == "paid"}
    assert paid == {key: tuple(sums) for key, sums in expected.items()}


# --- Rebuilding after writes around the ORM ---------------------------------------------------------


def insert_around_the_orm(app, workspace_id: str, client_id: str, *, paid: int, sent: int, currency: str) -> None:
    """Invoices inserted with a Core ``INSERT`` (as a bulk load would): the totals never hear of them."""
    now = utcnow()
    common = {"workspace_id": workspace_id, "client_id": client_id, "client_name": "Bulk Client",
              "client_email": "bulk@example.test", "description": "Imported", "currency": currency}
    paid_rows = [{**common, "status": "paid", "number": f"IMP-{workspace_id}-p{i}", "amount_minor": 1_000 * (i + 1),
                  "amount_paid_minor": 1_000 * (i + 1), "application_fee_minor": 10 * (i + 1),
                  "fees_taken_minor": 10 * (i + 1), "sent_at": now, "paid_at": now} for i in range(paid)]
    sent_rows = [{**common, "status": "sent", "number": f"IMP-{workspace_id}-s{i}", "amount_minor": 700,
                  "due_date": today() + timedelta(days=5), "sent_at": now} for i in range(sent)]
    with app.app_context():
        session = get_state().session
        for rows in (paid_rows, sent_rows):
            session.execute(insert(Invoice.__table__), rows)
        # ... with their payments (issue 15: money received is payment rows)
        for row in paid_rows:
            invoice_id = session.scalar(select(Invoice.id).where(Invoice.number == row["number"]))
            session.execute(insert(Payment.__table__).values(
                invoice_id=invoice_id, workspace_id=workspace_id, amount_minor=row["amount_paid_minor"],
                currency=currency, method="stripe", received_at=now, application_fee_minor=row["fees_taken_minor"],
                created_at=now))
        session.commit()


def rebuild(app, workspace_id=None) -> int:
    with app.app_context():
        session = get_state().session
        count = totals.rebuild(session, workspace_id)
        session.commit()
    return count


def test_invoices_written_around_the_orm_drift_until_rebuilt(app, world):
    """Core INSERT and UPDATE statements are not seen by the totals; ``rebuild`` recomputes them
    from the invoices, and changes through the ORM are counted on top of that again."""
    tracked = new_draft(app, world.acme, world.client_a, send_method="manual", amount=40_000, currency="USD")
    with app.test_request_context():
        api.send(world.acme, ACTOR, tracked.id, method="manual")
    insert_around_the_orm(app, world.acme, world.client_a, paid=3, sent=2, currency="EUR")
    with app.app_context():
        session = get_state().session
        session.execute(update(Invoice.__table__).where(Invoice.__table__.c.id == tracked.id)
                        .values(status="paid", paid_at=utcnow(), amount_paid_minor=40_000))
        session.execute(insert(Payment.__table__).values(
            invoice_id=tracked.id, workspace_id=world.acme, amount_minor=40_000, currency="USD", method="cash",
            received_at=utcnow(), created_at=utcnow()))
        session.commit()
    paid_eur, paid_usd = ((world.acme, "paid", today(), "", currency) for currency in ("EUR", "USD"))
    open_eur = (world.acme, "open", today() + timedelta(days=5), "sent", "EUR")
    open_usd = (world.acme, "open", NO_DUE_DATE, "sent", "USD")
    created_paid, created_sent = ((world.acme, "created", today(), status, "") for status in ("paid", "sent"))

    assert drifted(app) == {
        paid_eur: ((0, 0, 0), (3, 6_000, 60)),
        paid_usd: ((0, 0, 0), (1, 40_000, 0)),
        open_eur: ((0, 0, 0), (2, 1_400, 0)),
        open_usd: ((1, 40_000, 0), (0, 0, 0)),
        created_paid: ((0, 0, 0), (4, 0, 0)),
        created_sent: ((1, 0, 0), (2, 0, 0)),
    }

    assert rebuild(app) == len(kept(app))

    assert_exact(app, "after a rebuild")
    assert kept(app, nonzero=True) == {paid_eur: (3, 6_000, 60), paid_usd: (1, 40_000, 0), open_eur: (2, 1_400, 0),
                                       created_paid: (4, 0, 0), created_sent: (2, 0, 0)}

    with app.test_request_context():  # the ORM path keeps counting from the rebuilt rows
        imported = next(row.id for row in stored_invoices(app) if row.status == "sent")
        api.mark_paid(world.acme, ACTOR, imported, method="bank_transfer")
    assert (kept(app)[paid_eur], kept(app)[open_eur]) == ((4, 6_700, 60), (1, 700, 0))
    assert_exact(app, "after a payment on a rebuilt table")


def test_rebuilding_one_workspace_touches_only_its_rows(app, world):
    """``rebuild(session, workspace_id)`` makes that workspace exact and leaves every other
    workspace's rows as they were (still drifting until they are rebuilt too)."""
    new_draft(app, world.northwind, world.northwind_client, send_method="manual")
    insert_around_the_orm(app, world.acme, world.client_a, paid=2, sent=1, currency="GBP")
    insert_around_the_orm(app, world.northwind, world.northwind_client, paid=1, sent=3, currency="EUR")
    northwind_before = kept(app, world.northwind)
    northwind_drift = drift(app, world.northwind)
    assert drift(app, world.acme) and northwind_drift

    rows = rebuild(app, world.acme)

    assert rows == len(kept(app, world.acme)) > 0
    assert drift(app, world.acme) == []
    assert kept(app, world.northwind) == northwind_before
    assert drift(app, world.northwind) == northwind_drift

    rebuild(app, world.northwind)

    assert_exact(app, "after rebuilding both workspaces")
    assert kept(app, world.northwind, nonzero=True)[(world.northwind, "open", today() + timedelta(days=5), "sent",
                                                     "EUR")] == (3, 2_100, 0)
