"""Hosts hear about a change only after it is committed."""

from __future__ import annotations

import pytest

from invoicing_plugin import signals
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import InvoiceTemplate
from invoicing_plugin.services.uow import UnitOfWork


def _template(name: str) -> InvoiceTemplate:
    return InvoiceTemplate(workspace_id="1", name=name, currency="GBP")


def test_signals_are_sent_after_the_commit_with_the_app_as_sender(app):
    seen = []

    def listener(sender, **kwargs):
        # By the time the host hears it, the row is visible in a fresh transaction.
        with get_state().db.engine.connect() as conn:
            count = conn.exec_driver_sql("SELECT COUNT(*) FROM invoicing_templates").scalar()
        seen.append((sender, kwargs["workspace_id"], count))

    with app.app_context(), signals.stripe_connected.connected_to(listener):
        with UnitOfWork(get_state().session) as uow:
            uow.session.add(_template("Retainer"))
            uow.emit(signals.stripe_connected, workspace_id="1", account_id="acct_1", mode="connect")
            assert seen == []
            uow.commit()

    assert seen == [(app, "1", 1)]


def test_leaving_without_commit_rolls_back_and_drops_queued_signals(app):
    seen = []
    with app.app_context(), signals.invoice_voided.connected_to(lambda sender, **kw: seen.append(kw)):
        with pytest.raises(RuntimeError):
            with UnitOfWork(get_state().session) as uow:
                uow.session.add(_template("Never saved"))
                uow.emit(signals.invoice_voided, invoice=None, actor="test")
                raise RuntimeError("use case failed")
        assert get_state().session.query(InvoiceTemplate).count() == 0
    assert seen == []


def test_a_use_case_that_lost_a_version_race_runs_again_on_the_fresh_row(app):
    """Two writers of one invoice on SQLite: the loser's commit fails its version check, then succeeds."""
    from sqlalchemy import update

    from invoicing_plugin.persistence.models import Invoice
    from invoicing_plugin.services.uow import retry_on_conflict

    with app.app_context():
        session = get_state().session
        session.add(Invoice(workspace_id="1", client_id="1", client_name="Globex", client_email="b@globex.test",
                            amount_minor=1000, currency="GBP", description="Audit"))
        session.commit()
        runs = []

        def mark_paid_note():
            with UnitOfWork(session) as uow:
                invoice = session.get(Invoice, 1, populate_existing=True)
                if not runs:  # another writer commits between our read and our write
                    with get_state().db.engine.begin() as other:
                        other.execute(update(Invoice.__table__).values(version=Invoice.__table__.c.version + 1))
                runs.append(invoice.version)
                invoice.payment_note = "paid by bank transfer"
                uow.commit()
            return invoice.payment_note

        assert retry_on_conflict(mark_paid_note) == "paid by bank transfer"
        assert runs == [1, 2]  # the second run saw the other writer's version
        session.expire_all()
        assert session.get(Invoice, 1).version == 3


def test_repeated_conflicts_are_not_hidden():
    from sqlalchemy.orm.exc import StaleDataError

    from invoicing_plugin.services.uow import retry_on_conflict

    calls = []

    def always_conflicting():
        calls.append(1)
        raise StaleDataError("UPDATE expected 1 row, 0 matched")

    with pytest.raises(StaleDataError):
        retry_on_conflict(always_conflicting, attempts=3)
    assert len(calls) == 3


# -- rows queued with persistence.appends ------------------------------------------------


def _queued_template(name: str) -> dict:
    from invoicing_plugin.persistence.models import utcnow

    now = utcnow()
    return {"workspace_id": "1", "name": name, "description": "", "amount_minor": None, "currency": "GBP",
            "due_in_days": None, "send_method": "email", "created_at": now, "updated_at": now}


def _template_names_seen_from_another_connection() -> list[str]:
    with get_state().db.engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql("SELECT name FROM invoicing_templates ORDER BY id")]


def test_queued_rows_are_written_in_order_when_the_transaction_commits(app):
    from invoicing_plugin.persistence import appends

    with app.app_context():
        session = get_state().session
        with UnitOfWork(session) as uow:
            for name in ("First", "Second", "Third"):
                appends.append(session, InvoiceTemplate.__table__, _queued_template(name))
            assert _template_names_seen_from_another_connection() == []
            uow.commit()
        assert _template_names_seen_from_another_connection() == ["First", "Second", "Third"]
        # Written once: a later commit of the same session writes nothing again.
        session.add(_template("Later"))
        session.commit()
        assert _template_names_seen_from_another_connection() == ["First", "Second", "Third", "Later"]


def test_queued_rows_are_dropped_when_the_transaction_rolls_back(app):
    from invoicing_plugin.persistence import appends

    with app.app_context():
        session = get_state().session
        with pytest.raises(RuntimeError):
            with UnitOfWork(session):
                appends.append(session, InvoiceTemplate.__table__, _queued_template("Rolled back"))
                raise RuntimeError("use case failed")
        session.add(_template("Kept"))
        session.commit()
        assert _template_names_seen_from_another_connection() == ["Kept"]


@pytest.mark.postgresql_only  # data-modifying CTEs are PostgreSQL's
def test_queued_rows_folded_into_a_statement_are_written_by_it_and_not_again(app):
    """What the webhook does on PostgreSQL: the queued rows travel as CTEs of its upsert."""
    from sqlalchemy import insert

    from invoicing_plugin.persistence import appends

    with app.app_context():
        session = get_state().session
        appends.append(session, InvoiceTemplate.__table__, _queued_template("Queued"))
        statement, params = appends.fold_into(insert(InvoiceTemplate.__table__), appends.take(session))
        session.execute(statement, {**_queued_template("Carrier"), **params})
        session.commit()
        assert sorted(_template_names_seen_from_another_connection()) == ["Carrier", "Queued"]
