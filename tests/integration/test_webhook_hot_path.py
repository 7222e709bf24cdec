"""The webhook's hot path: the invoice read and written with Core, its write guarded by version.

A checkout-session event reads its invoice into a ``TrackedRow`` and writes the change as
a version-guarded ``UPDATE`` queued with the transaction (``persistence.rows``,
``persistence.appends``); on PostgreSQL it rides, with the event's row, the audit entry
and the totals, in one statement run in autocommit mode. These tests pin what that
changes: the cost in statements, and that a write whose version moved on writes nothing
and is processed again from a fresh read.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.orm.exc import StaleDataError

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence import appends
from invoicing_plugin.persistence.models import Invoice
from invoicing_plugin.services import payment_binding
from invoicing_plugin.services.analytics import totals_drift
from invoicing_plugin.services.uow import UnitOfWork
from tests.integration.webhook_helpers import audit, event_for, invoice_state, post_event, webhook_rows


@pytest.fixture
def client(app):
    return app.test_client()


def _paid_event(emulator, invoice) -> dict:
    emulator.control.pay_session(invoice.session_id)
    return event_for(emulator, "checkout.session.completed", invoice.session_id)


def _version(app, invoice_id: int) -> int:
    with app.app_context():
        with get_state().db.engine.connect() as conn:
            return conn.execute(text("SELECT version FROM invoicing_invoices WHERE id = :id"), {"id": invoice_id}).scalar()


@pytest.mark.postgresql_only
def test_a_paid_event_costs_two_statements_and_no_begin_or_commit(app, client, invoice, stripe_emulator):
    """Read the session's record with its invoice; write event, invoice, audit and totals at once."""
    event = _paid_event(stripe_emulator, invoice)
    with app.app_context():
        engine = get_state().db.engine
    sent: list[str] = []  # what reached the server, in order

    def statement(conn, cursor, sql, *args):
        sent.append(sql)

    def transaction_command(name):
        def listener(conn, *args):
            if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                sent.append(name)
        return listener

    listeners = [("before_cursor_execute", statement), ("begin", transaction_command("BEGIN")),
                 ("commit", transaction_command("COMMIT")), ("rollback", transaction_command("ROLLBACK"))]
    for name, listener in listeners:
        sa_event.listen(engine, name, listener)
    try:
        response = post_event(client, event)
    finally:
        for name, listener in listeners:
            sa_event.remove(engine, name, listener)

    assert response.get_json()["status"] == "processed"
    # The payment confirmation is rendered with the payment, which asks the host for the
    # workspace's name (the host's own query, not counted here), and rides in the write to
    # the outbox. Then it is claimed and sent, after the payment, on its own.
    ours = [sql for sql in sent if "invoicing_" in sql or sql in ("BEGIN", "COMMIT", "ROLLBACK")]
    read, write = ours[:2]
    assert read.lstrip().startswith("SELECT") and "invoicing_checkout_sessions" in read and "FOR UPDATE" not in read
    for table in ("invoicing_webhook_events", "invoicing_invoices", "invoicing_invoice_events",
                  "invoicing_invoice_totals", "invoicing_outbox_emails"):
        assert table in write, [x[:80] for x in sent]
    assert not any("invoicing_webhook_events" in sql or "invoicing_invoice_totals" in sql for sql in ours[2:]), sent


def _bump_version_after_the_read(app, monkeypatch, times: int = 1):
    """Make another writer change the invoice right after the webhook read it (``times`` times)."""
    original = payment_binding._bound_rows
    left = [times]

    def racing(*args, **kwargs):
        bound = original(*args, **kwargs)
        if left[0] and bound is not None and bound.invoice is not None:
            left[0] -= 1
            with get_state().db.engine.begin() as conn:
                conn.execute(text("UPDATE invoicing_invoices SET version = version + 1, payment_note = 'staff edit' "
                                  "WHERE id = :id"), {"id": bound.invoice.id})
        return bound

    monkeypatch.setattr(payment_binding, "_bound_rows", racing)


@pytest.mark.postgresql_only  # SQLite has one writer at a time: no other writer can slip in
def test_an_invoice_changed_between_read_and_write_is_read_again_and_paid_once(
    app, client, invoice, stripe_emulator, monkeypatch
):
    event = _paid_event(stripe_emulator, invoice)
    before = _version(app, invoice.id)
    _bump_version_after_the_read(app, monkeypatch)

    response = post_event(client, event)

    assert response.status_code == 200 and response.get_json()["status"] == "processed"
    state = invoice_state(app, invoice.id)
    assert (state.status, state.payments) == ("paid", 1)
    # The other writer's change and ours, each once; the stale first attempt wrote nothing.
    assert _version(app, invoice.id) == before + 2
    assert len(audit(app, invoice.id, "payment_succeeded")) == 1
    rows = webhook_rows(app, event["id"])
    assert [(row.status, row.attempts) for row in rows] == [("processed", 1)]
    with app.app_context():
        assert get_state().session.get(Invoice, invoice.id).payment_note == "staff edit"
        assert totals_drift(invoice.workspace_id) == []


@pytest.mark.postgresql_only
def test_an_invoice_that_keeps_changing_fails_the_event_with_nothing_written(
    app, client, invoice, stripe_emulator, monkeypatch
):
    """Three conflicts in a row: answered 500 (Stripe retries), stored as failed, nothing paid."""
    event = _paid_event(stripe_emulator, invoice)
    _bump_version_after_the_read(app, monkeypatch, times=3)

    response = post_event(client, event)

    assert response.status_code == 500
    assert invoice_state(app, invoice.id).status == "sent"
    assert audit(app, invoice.id, "payment_succeeded") == []
    assert [row.status for row in webhook_rows(app, event["id"])] == ["failed"]
    with app.app_context():
        assert totals_drift(invoice.workspace_id) == []

    monkeypatch.undo()
    retried = post_event(client, event)  # Stripe's retry
    assert retried.get_json()["status"] == "processed"
    assert invoice_state(app, invoice.id).payments == 1


def test_a_queued_guarded_update_that_matches_no_row_raises_and_writes_nothing(app, invoice):
    """The compare-and-set written at commit (SQLite, or outside the webhook's statement)."""
    with app.app_context():
        session = get_state().session
        version = session.get(Invoice, invoice.id).version
        session.rollback()
        with pytest.raises(StaleDataError):
            with UnitOfWork(session) as uow:
                appends.update(session, Invoice.__table__, {"id": invoice.id}, {"payment_note": "stale"},
                               expect={"version": version + 5})
                uow.commit()
        session.rollback()
        with UnitOfWork(session) as uow:
            appends.update(session, Invoice.__table__, {"id": invoice.id},
                           {"payment_note": "fresh", "version": version + 1}, expect={"version": version})
            uow.commit()
        stored = session.get(Invoice, invoice.id)
        assert (stored.payment_note, stored.version) == ("fresh", version + 1)
