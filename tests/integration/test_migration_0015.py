"""Revision 0015 (the document discount column) on a database with invoices in it."""

from __future__ import annotations

from datetime import datetime, timezone

from alembic import command
from sqlalchemy import insert, inspect, select

from invoicing_plugin.migrations import alembic_config, upgrade
from invoicing_plugin.persistence.models import Invoice, InvoiceLine
from tests.integration.test_migrations import _as_migrated, empty_engine  # noqa: F401 (fixture)


def test_0015_gives_existing_invoices_no_discount_and_keeps_their_totals(empty_engine):  # noqa: F811
    upgrade(empty_engine, "0013")
    at = datetime(2025, 3, 31, 23, 30, tzinfo=timezone.utc)
    base = {"client_id": "c", "client_name": "Globex", "client_email": "b@globex.test", "description": "Audit",
            "currency": "GBP", "amount_refunded_minor": 0, "amount_dispute_lost_minor": 0, "checkout_attempt": 0,
            "online_payment_unavailable": False, "version": 1, "created_at": at, "updated_at": at,
            "kind": "standard", "send_method": "email", "idempotency_nonce": "n" * 32, "prices_include_tax": False}
    rows = [{**base, "id": 1, "workspace_id": "1", "public_token": "t1", "status": "paid", "number": "INV-0001",
             "amount_minor": 12000, "net_minor": 10000, "tax_minor": 2000},
            {**base, "id": 2, "workspace_id": "2", "public_token": "t2", "status": "draft", "number": None,
             "amount_minor": 500, "net_minor": 500, "tax_minor": 0}]
    with empty_engine.begin() as connection:
        connection.execute(insert(_as_migrated(connection, Invoice)), rows)
        connection.execute(insert(_as_migrated(connection, InvoiceLine)), [
            {"id": 1, "invoice_id": 1, "workspace_id": "1", "position": 1, "description": "Audit", "quantity": "1",
             "unit": "", "unit_price_minor": 10000, "discount_minor": 0, "vat_category": "S", "vat_rate": "20",
             "net_minor": 10000}])

    upgrade(empty_engine)

    table = Invoice.__table__
    with empty_engine.connect() as connection:
        got = connection.execute(select(table.c.id, table.c.discount_minor, table.c.net_minor, table.c.tax_minor,
                                        table.c.amount_minor).order_by(table.c.id)).all()
    assert [tuple(row) for row in got] == [(1, 0, 10000, 2000, 12000), (2, 0, 500, 0, 500)]

    with empty_engine.begin() as connection:  # and back: the column goes, the rows stay
        command.downgrade(alembic_config(connection), "0013")
    assert "discount_minor" not in {c["name"] for c in inspect(empty_engine).get_columns("invoicing_invoices")}
    with empty_engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM invoicing_invoices").scalar() == 2
