"""Revision 0019 (fees taken cached on the invoice; paid totals per payment day) with data in it."""

from __future__ import annotations

from datetime import date, datetime, timezone

from alembic import command
from sqlalchemy import insert, inspect, select
from sqlalchemy.orm import Session

from invoicing_plugin.migrations import alembic_config, upgrade
from invoicing_plugin.persistence import totals
from invoicing_plugin.persistence.models import Invoice, InvoiceTotal, Payment
from tests.integration.test_migrations import _as_migrated, empty_engine  # noqa: F401 (fixture)


def test_0019_fills_fees_taken_from_the_payment_rows_and_counts_payments_on_their_days(empty_engine):  # noqa: F811
    upgrade(empty_engine, "0018")
    march, april = (datetime(2025, 3, 10, 12, tzinfo=timezone.utc), datetime(2025, 4, 2, 12, tzinfo=timezone.utc))
    base = {"client_id": "c", "client_name": "Globex", "client_email": "b@globex.test", "description": "Audit",
            "currency": "GBP", "amount_refunded_minor": 0, "amount_dispute_lost_minor": 0, "checkout_attempt": 0,
            "online_payment_unavailable": False, "version": 1, "created_at": march, "updated_at": march,
            "kind": "standard", "send_method": "stripe_link", "idempotency_nonce": "n" * 32,
            "prices_include_tax": False, "workspace_id": "1", "amount_minor": 100_000, "net_minor": 100_000,
            "tax_minor": 0, "fee_bps": 350, "application_fee_minor": 3500, "sent_at": march,
            "amount_paid_minor": None, "paid_at": None, "payment_method": None, "payment_intent_id": None}
    invoices = [
        # 400.00 through Stripe in March (fee 14.00), 600.00 by bank transfer in April
        {**base, "id": 1, "public_token": "t1", "number": "INV-1", "status": "paid", "amount_paid_minor": 100_000,
         "paid_at": april, "payment_method": "bank_transfer", "payment_intent_id": "pi_1"},
        # all by hand
        {**base, "id": 2, "public_token": "t2", "number": "INV-2", "status": "paid", "amount_paid_minor": 100_000,
         "paid_at": march, "payment_method": "cash"},
        # not paid yet
        {**base, "id": 3, "public_token": "t3", "number": "INV-3", "status": "sent"},
    ]
    pay = {"workspace_id": "1", "currency": "GBP", "created_at": march, "payment_intent_id": None,
           "application_fee_minor": None}
    payments = [
        {**pay, "id": 1, "invoice_id": 1, "amount_minor": 40_000, "method": "stripe", "received_at": march,
         "payment_intent_id": "pi_1", "application_fee_minor": 1400},
        {**pay, "id": 2, "invoice_id": 1, "amount_minor": 60_000, "method": "bank_transfer", "received_at": april},
        {**pay, "id": 3, "invoice_id": 2, "amount_minor": 100_000, "method": "cash", "received_at": march},
    ]
    with empty_engine.begin() as connection:
        connection.execute(insert(_as_migrated(connection, Invoice)), invoices)
        connection.execute(insert(_as_migrated(connection, Payment)), payments)
        # the paid totals as the previous definition kept them (latest payment's day, locked fee or none)
        connection.execute(insert(_as_migrated(connection, InvoiceTotal)), [
            {"workspace_id": "1", "measure": "paid", "day": date(2025, 4, 2), "status": "", "currency": "GBP",
             "invoices": 1, "amount_minor": 100_000, "fee_minor": 0},
            {"workspace_id": "1", "measure": "paid", "day": date(2025, 3, 10), "status": "", "currency": "GBP",
             "invoices": 1, "amount_minor": 100_000, "fee_minor": 0}])

    upgrade(empty_engine)

    table = Invoice.__table__
    with empty_engine.connect() as connection:
        got = dict(connection.execute(select(table.c.id, table.c.fees_taken_minor)).all())
    assert got == {1: 1400, 2: 0, 3: 0}
    with Session(empty_engine) as session:
        paid = {t.day: (t.invoices, t.amount_minor, t.fee_minor)
                for t in session.scalars(select(InvoiceTotal).where(InvoiceTotal.measure == "paid"))}
        assert paid == {date(2025, 3, 10): (1, 140_000, 1400), date(2025, 4, 2): (1, 60_000, 0)}
        assert [d for d in totals.drift(session) if d[0].measure == "paid"] == []
        assert totals.cached_sums_drift(session) == []

    with empty_engine.begin() as connection:  # and back: the column goes, the rows stay
        command.downgrade(alembic_config(connection), "0018")
    assert "fees_taken_minor" not in {c["name"] for c in inspect(empty_engine).get_columns("invoicing_invoices")}
    with empty_engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM invoicing_payments").scalar() == 3
