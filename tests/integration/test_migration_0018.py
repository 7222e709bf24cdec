"""Revision 0018 (credit note lines; prepayments hold their deposit through holds_deposit_id)
on a database with deducted deposits in it, on both databases."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from invoicing_plugin.migrations import upgrade
from invoicing_plugin.persistence.models import Invoice, Prepayment
from tests.integration.test_migrations import _as_migrated, empty_engine  # noqa: F401 (fixture)


def test_0018_keeps_live_deductions_held_and_frees_those_of_cancelled_invoices(empty_engine):  # noqa: F811
    upgrade(empty_engine, "0017")
    at = datetime(2025, 3, 31, 23, 30, tzinfo=timezone.utc)
    voided_at = datetime(2025, 4, 2, 9, 0, tzinfo=timezone.utc)
    base = {"client_id": "c", "client_name": "Globex", "client_email": "b@globex.test", "description": "Audit",
            "currency": "GBP", "amount_refunded_minor": 0, "amount_dispute_lost_minor": 0, "checkout_attempt": 0,
            "online_payment_unavailable": False, "version": 1, "created_at": at, "updated_at": at,
            "send_method": "manual", "idempotency_nonce": "n" * 32, "prices_include_tax": False,
            "amount_minor": 10000, "net_minor": 10000, "tax_minor": 0, "workspace_id": "1", "subject_ref": "proposal:1"}
    rows = [
        {**base, "id": 1, "public_token": "t1", "kind": "deposit", "status": "paid", "number": "INV-0001"},
        {**base, "id": 2, "public_token": "t2", "kind": "deposit", "status": "paid", "number": "INV-0002"},
        {**base, "id": 3, "public_token": "t3", "kind": "standard", "status": "sent", "number": "INV-0003",
         "amount_minor": 50000, "net_minor": 50000, "prepaid_minor": 10000},
        {**base, "id": 4, "public_token": "t4", "kind": "standard", "status": "voided", "number": "INV-0004",
         "amount_minor": 50000, "net_minor": 50000, "prepaid_minor": 10000, "voided_at": voided_at},
    ]
    pre = {"workspace_id": "1", "amount_minor": 10000, "currency": "GBP", "created_at": at}
    with empty_engine.begin() as connection:
        connection.execute(insert(_as_migrated(connection, Invoice)), rows)
        connection.execute(insert(_as_migrated(connection, Prepayment)), [
            {**pre, "invoice_id": 3, "deposit_invoice_id": 1, "reference": "INV-0001"},
            {**pre, "invoice_id": 4, "deposit_invoice_id": 2, "reference": "INV-0002"}])

    upgrade(empty_engine)

    table = Prepayment.__table__
    with empty_engine.connect() as connection:
        got = connection.execute(select(table.c.invoice_id, table.c.deposit_invoice_id, table.c.holds_deposit_id,
                                        table.c.credit_note_id, table.c.released_at).order_by(table.c.invoice_id)).all()
    assert [tuple(row[:4]) for row in got] == [(3, 1, 1, None), (4, 2, None, None)]
    assert got[0].released_at is None and got[1].released_at is not None  # the voided invoice's deposit is free
    # The moved rows keep their promise: the held deposit cannot be held twice ...
    with empty_engine.connect() as connection:
        with pytest.raises(IntegrityError):
            connection.execute(insert(table).values(invoice_id=4, deposit_invoice_id=1, holds_deposit_id=1, **pre,
                                                    reference="INV-0001"))
        connection.rollback()
    # ... and the freed one can be deducted again.
    with empty_engine.begin() as connection:
        connection.execute(insert(table).values(invoice_id=3, deposit_invoice_id=2, holds_deposit_id=2, **pre,
                                                reference="INV-0002"))
