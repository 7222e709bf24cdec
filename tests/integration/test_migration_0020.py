"""Revision 0020 (reminders and viewed) on a database with invoices in it, on both databases."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from alembic import command
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError

from invoicing_plugin.migrations import alembic_config, upgrade
from invoicing_plugin.persistence.models import Invoice, InvoiceReminder
from tests.integration.test_migrations import _as_migrated, empty_engine  # noqa: F401 (fixture)


def test_0020_leaves_existing_invoices_unviewed_and_claims_each_step_once(empty_engine):  # noqa: F811
    upgrade(empty_engine, "0019")
    at = datetime(2031, 3, 1, 9, 0, tzinfo=timezone.utc)
    base = {"client_id": "c", "client_name": "Globex", "client_email": "b@globex.test", "description": "Audit",
            "currency": "GBP", "amount_refunded_minor": 0, "amount_dispute_lost_minor": 0, "checkout_attempt": 0,
            "online_payment_unavailable": False, "version": 3, "created_at": at, "updated_at": at,
            "kind": "standard", "send_method": "email", "idempotency_nonce": "n" * 32, "prices_include_tax": False,
            "amount_minor": 12000, "net_minor": 10000, "tax_minor": 2000}
    with empty_engine.begin() as connection:
        connection.execute(insert(_as_migrated(connection, Invoice)), [
            {**base, "id": 1, "workspace_id": "1", "public_token": "t1", "status": "sent", "number": "INV-0001",
             "sent_at": at, "due_date": date(2031, 3, 30)},
            {**base, "id": 2, "workspace_id": "2", "public_token": "t2", "status": "draft", "number": None,
             "sent_at": None, "due_date": None}])

    upgrade(empty_engine)

    table = Invoice.__table__
    with empty_engine.connect() as connection:
        got = connection.execute(select(table.c.id, table.c.status, table.c.viewed_at, table.c.version,
                                        table.c.amount_minor).order_by(table.c.id)).all()
    assert [tuple(row) for row in got] == [(1, "sent", None, 3, 12000), (2, "draft", None, 3, 12000)]

    reminders = InvoiceReminder.__table__
    row = {"invoice_id": 1, "workspace_id": "1", "step": 7, "due_on": date(2031, 4, 6), "created_at": at}
    with empty_engine.begin() as connection:
        connection.execute(insert(reminders), [row, {**row, "step": 0, "due_on": date(2031, 3, 30)}])
    with pytest.raises(IntegrityError), empty_engine.begin() as connection:
        connection.execute(insert(reminders), [row])  # the same step twice: the claim refuses it

    with empty_engine.begin() as connection:  # and back: the tables and the column go, the invoices stay
        command.downgrade(alembic_config(connection), "0019")
    names = set(inspect(empty_engine).get_table_names())
    assert not {"invoicing_reminder_schedules", "invoicing_invoice_reminders"} & names
    assert "viewed_at" not in {c["name"] for c in inspect(empty_engine).get_columns("invoicing_invoices")}
    with empty_engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM invoicing_invoices").scalar() == 2
