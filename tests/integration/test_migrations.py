"""The shipped Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from invoicing_plugin.migrations import VERSION_TABLE, alembic_config, current, upgrade
from invoicing_plugin.persistence.models import metadata


@pytest.fixture
def empty_engine(db_backend, request, tmp_path):
    if db_backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database("invoicing_migrations")
    engine = create_engine(url)
    yield engine
    engine.dispose()


def test_migrations_and_models_agree(empty_engine):
    upgrade(empty_engine)

    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "version_table": VERSION_TABLE})
        diff = [d for d in compare_metadata(context, metadata) if not _is_version_table(d)]
    assert diff == []


def test_migrations_have_a_single_head_on_the_invoicing_branch():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    base = script.get_revision(script.get_bases()[0])
    assert "invoicing" in base.branch_labels


def test_upgrade_is_repeatable_and_downgrade_removes_only_plugin_tables(empty_engine):
    from alembic import command

    with empty_engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE host_orders (id INTEGER PRIMARY KEY)")
    upgrade(empty_engine)
    upgrade(empty_engine)  # already at head: nothing to do
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current(empty_engine) == head

    with empty_engine.begin() as connection:
        command.downgrade(alembic_config(connection), "invoicing@base")
    tables = set(inspect(empty_engine).get_table_names())
    assert "host_orders" in tables
    assert not (tables - {"host_orders", VERSION_TABLE})


def _as_migrated(connection, model):
    """``model``'s table as the database has it now: an older revision lacks newer columns, and
    the model's Python-side defaults for them must not go into the INSERT (rows give every value)."""
    from sqlalchemy import MetaData, Table

    return Table(model.__tablename__, MetaData(), autoload_with=connection)


def _is_version_table(diff) -> bool:
    return diff[0] == "remove_table" and diff[1].name == VERSION_TABLE


HOST_ENV = '''
from alembic import context
from invoicing_plugin.persistence.models import metadata as invoicing_metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=[invoicing_metadata])
with context.begin_transaction():
    context.run_migrations()
'''

HOST_REVISION = '''
from alembic import op
import sqlalchemy as sa

revision = "host0001"
down_revision = None
branch_labels = ("host",)
depends_on = None


def upgrade():
    op.create_table("host_orders", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("host_orders")
'''


def test_a_host_alembic_environment_runs_the_plugin_branch_next_to_its_own(empty_engine, tmp_path):
    """What the README tells Flask-Migrate/Alembic hosts to do: add VERSIONS_DIR, upgrade heads."""
    import os

    from alembic import command
    from alembic.config import Config

    from invoicing_plugin.migrations import VERSIONS_DIR

    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(HOST_ENV)
    (tmp_path / "versions" / "host0001_orders.py").write_text(HOST_REVISION)
    config = Config()
    config.set_main_option("script_location", str(tmp_path))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join([str(tmp_path / "versions"), VERSIONS_DIR]))

    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")

    tables = set(inspect(empty_engine).get_table_names())
    assert "host_orders" in tables
    assert {t.name for t in metadata.sorted_tables} <= tables
    with empty_engine.connect() as connection:
        heads = {row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")}
    plugin_head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert heads == {"host0001", plugin_head}


def test_0004_fills_the_totals_from_invoices_that_existed_before_it(empty_engine):
    """An install upgraded from 0003 starts with totals equal to a fresh computation."""
    from datetime import date, datetime, timezone

    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from invoicing_plugin.persistence import totals
    from invoicing_plugin.persistence.models import Invoice, InvoiceTotal

    upgrade(empty_engine, "0003")
    at = datetime(2025, 3, 31, 23, 30, tzinfo=timezone.utc)
    base = {"client_id": "c", "client_name": "Globex", "client_email": "b@globex.test", "description": "Audit",
            "currency": "GBP", "amount_refunded_minor": 0, "checkout_attempt": 0, "online_payment_unavailable": False,
            "version": 1, "created_at": at, "updated_at": at, "amount_paid_minor": None, "application_fee_minor": None,
            "paid_at": None, "due_date": None, "kind": "standard", "send_method": "email"}
    rows = [
        {**base, "workspace_id": "1", "public_token": "t1", "status": "paid", "amount_minor": 1000,
         "amount_paid_minor": 1000, "amount_refunded_minor": 250, "application_fee_minor": 35, "paid_at": at},
        {**base, "workspace_id": "1", "public_token": "t2", "status": "paid", "amount_minor": 500, "paid_at": at},
        {**base, "workspace_id": "1", "public_token": "t3", "status": "sent", "amount_minor": 700,
         "due_date": date(2025, 4, 30)},
        {**base, "workspace_id": "1", "public_token": "t4", "status": "processing", "amount_minor": 90},
        {**base, "workspace_id": "2", "public_token": "t5", "status": "draft", "amount_minor": 10, "currency": "USD"},
    ]
    with empty_engine.begin() as connection:
        connection.execute(insert(_as_migrated(connection, Invoice)), rows)

    upgrade(empty_engine)

    with Session(empty_engine) as session:
        assert totals.drift(session) == []
        kept = {(t.workspace_id, t.measure, t.day, t.status, t.currency): (t.invoices, t.amount_minor, t.fee_minor)
                for t in session.scalars(select(InvoiceTotal))}
    assert kept == {
        ("1", "created", date(2025, 3, 31), "paid", ""): (2, 0, 0),
        ("1", "created", date(2025, 3, 31), "sent", ""): (1, 0, 0),
        ("1", "created", date(2025, 3, 31), "processing", ""): (1, 0, 0),
        ("2", "created", date(2025, 3, 31), "draft", ""): (1, 0, 0),
        # The fee counted is the one the payment rows carry (revision 0019 refills the paid rows
        # from them): 0012 recorded t1's payment, which has no PaymentIntent, as made by hand.
        ("1", "paid", date(2025, 3, 31), "", "GBP"): (2, 750 + 500, 0),
        ("1", "open", date(2025, 4, 30), "sent", "GBP"): (1, 700, 0),
        ("1", "open", date(9999, 12, 31), "processing", "GBP"): (1, 90, 0),
    }


def test_0005_records_the_current_checkout_session_of_existing_invoices(empty_engine):
    """An install upgraded from 0004 binds Stripe events to the sessions its invoices hold now."""
    from datetime import datetime, timezone

    from sqlalchemy import insert, select, text

    from invoicing_plugin.persistence.models import Invoice

    upgrade(empty_engine, "0004")
    at = datetime(2025, 3, 31, 23, 30, tzinfo=timezone.utc)
    sent_at = datetime(2025, 4, 1, 9, 0, tzinfo=timezone.utc)
    base = {"client_id": "c", "client_name": "Globex", "client_email": "b@globex.test", "description": "Audit",
            "currency": "GBP", "amount_minor": 1000, "amount_refunded_minor": 0, "checkout_attempt": 0,
            "online_payment_unavailable": False, "version": 1, "created_at": at, "updated_at": at, "sent_at": None,
            "stripe_mode": None, "stripe_account_id": None, "checkout_session_id": None, "payment_intent_id": None,
            "kind": "standard", "send_method": "email"}
    rows = [
        {**base, "id": 1, "workspace_id": "1", "public_token": "t1", "status": "paid", "stripe_mode": "connect",
         "stripe_account_id": "acct_1", "checkout_session_id": "cs_paid", "payment_intent_id": "pi_paid",
         "sent_at": sent_at},
        {**base, "id": 2, "workspace_id": "1", "public_token": "t2", "status": "sent", "stripe_mode": "connect",
         "stripe_account_id": "acct_1", "checkout_session_id": "cs_open", "sent_at": sent_at},
        {**base, "id": 3, "workspace_id": "2", "public_token": "t3", "status": "sent", "stripe_mode": "own_key",
         "stripe_account_id": "acct_own", "checkout_session_id": "cs_own"},
        {**base, "id": 4, "workspace_id": "2", "public_token": "t4", "status": "draft"},
    ]
    with empty_engine.begin() as connection:
        connection.execute(insert(_as_migrated(connection, Invoice)), rows)
        connection.execute(text("INSERT INTO invoicing_webhook_events (event_id, type, livemode, status, attempts,"
                                " payload, received_at) VALUES ('evt_old', 'charge.refunded', :false, 'processed',"
                                " 1, '{}', :at)"), {"false": False, "at": at})

    upgrade(empty_engine)

    from invoicing_plugin.persistence.models import CheckoutSessionRecord, WebhookEvent

    table = CheckoutSessionRecord.__table__
    with empty_engine.connect() as connection:
        kept = connection.execute(
            select(table.c.session_id, table.c.invoice_id, table.c.workspace_id, table.c.stripe_mode,
                   table.c.account_id, table.c.payment_intent_id, table.c.created_at).order_by(table.c.invoice_id)
        ).all()
        notes = connection.execute(select(WebhookEvent.__table__.c.note)).scalars().all()
    assert [tuple(row[:6]) for row in kept] == [
        ("cs_paid", 1, "1", "connect", "acct_1", "pi_paid"),
        ("cs_open", 2, "1", "connect", "acct_1", None),
        ("cs_own", 3, "2", "own_key", "acct_own", None),
    ]
    assert [row[6].replace(tzinfo=timezone.utc) if row[6].tzinfo is None else row[6] for row in kept] == [
        sent_at, sent_at, at]
    assert notes == [None]
    with empty_engine.begin() as connection:  # the record refuses a second row for the same session
        with pytest.raises(Exception):
            connection.execute(insert(table).values(session_id="cs_paid", invoice_id=2, workspace_id="1",
                                                    stripe_mode="connect", created_at=at))


def test_0006_gives_every_existing_connection_and_invoice_its_own_idempotency_nonce(empty_engine):
    """Rows from before 0006 get a random nonce each, so their next Stripe keys are unique too."""
    from datetime import datetime, timezone

    from sqlalchemy import insert, select

    from invoicing_plugin.persistence.models import Invoice, StripeConnection

    upgrade(empty_engine, "0005")
    at = datetime(2025, 3, 31, 23, 30, tzinfo=timezone.utc)
    base = {"client_id": "c", "client_name": "Globex", "client_email": "b@globex.test", "description": "Audit",
            "currency": "GBP", "amount_minor": 1000, "amount_refunded_minor": 0, "checkout_attempt": 0,
            "online_payment_unavailable": False, "version": 1, "created_at": at, "updated_at": at,
            "status": "sent", "kind": "standard", "send_method": "email"}
    with empty_engine.begin() as connection:
        connection.execute(insert(_as_migrated(connection, Invoice)),
                           [{**base, "workspace_id": "1", "public_token": f"t{n}"} for n in range(3)])
        connection.execute(insert(_as_migrated(connection, StripeConnection)),
                           [{"workspace_id": str(n), "mode": "connect", "status": "active", "attempt": 0,
                             "charges_enabled": True, "payouts_enabled": True, "details_submitted": True,
                             "livemode": False, "created_at": at, "updated_at": at} for n in (1, 2)])

    upgrade(empty_engine)

    with empty_engine.connect() as connection:
        invoices = connection.execute(select(Invoice.__table__.c.idempotency_nonce)).scalars().all()
        connections = connection.execute(select(StripeConnection.__table__.c.idempotency_nonce)).scalars().all()
    nonces = invoices + connections
    assert len(nonces) == 5 and len(set(nonces)) == 5
    assert all(isinstance(n, str) and len(n) == 32 for n in nonces)


def test_0013_gives_existing_invoices_their_buyer_name_and_leaves_the_rest_empty(empty_engine):
    """Invoices from before 0013 are billed to the name they were issued to (``client_name``):
    ``buyer_name`` takes it; the address, ids, seller snapshot and dates stay NULL (the print
    page then shows the live seller and the day the invoice was sent, as before)."""
    from datetime import datetime, timezone

    from sqlalchemy import insert, select

    from invoicing_plugin.persistence.models import Invoice

    upgrade(empty_engine, "0010")
    at = datetime(2025, 3, 31, 23, 30, tzinfo=timezone.utc)
    base = {"client_id": "c", "client_email": "b@globex.test", "description": "Audit", "currency": "GBP",
            "amount_minor": 1000, "amount_refunded_minor": 0, "amount_dispute_lost_minor": 0, "checkout_attempt": 0,
            "online_payment_unavailable": False, "version": 1, "created_at": at, "updated_at": at,
            "kind": "standard", "send_method": "email", "idempotency_nonce": "n" * 32}
    rows = [
        {**base, "id": 1, "workspace_id": "1", "public_token": "t1", "status": "paid", "client_name": "Globex",
         "number": "INV-0001", "sent_at": at},
        {**base, "id": 2, "workspace_id": "2", "public_token": "t2", "status": "draft", "client_name": "Zoë Café",
         "number": None, "sent_at": None},
    ]
    with empty_engine.begin() as connection:
        connection.execute(insert(_as_migrated(connection, Invoice)), rows)

    upgrade(empty_engine)

    table = Invoice.__table__
    new = [table.c.buyer_address_line1, table.c.buyer_address_line2, table.c.buyer_city, table.c.buyer_post_code,
           table.c.buyer_country, table.c.buyer_vat_id, table.c.buyer_registration_id, table.c.seller_snapshot,
           table.c.issue_date, table.c.supply_date, table.c.supply_start, table.c.supply_end, table.c.payment_terms]
    with empty_engine.connect() as connection:
        got = connection.execute(select(table.c.id, table.c.client_name, table.c.buyer_name, *new)
                                 .order_by(table.c.id)).all()
    assert [tuple(row[:3]) for row in got] == [(1, "Globex", "Globex"), (2, "Zoë Café", "Zoë Café")]
    assert all(value is None for row in got for value in row[3:])

    from alembic import command

    with empty_engine.begin() as connection:  # and back: the columns go, the rows stay
        command.downgrade(alembic_config(connection), "0010")
    columns = {c["name"] for c in inspect(empty_engine).get_columns("invoicing_invoices")}
    assert "buyer_name" not in columns and "seller_snapshot" not in columns
    with empty_engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM invoicing_invoices").scalar() == 2


def test_0011_moves_every_existing_invoice_to_one_line_without_vat(empty_engine):
    """Invoices from before 0011 become one line each, as ``en16931.single_line`` makes an
    amount-and-description draft, and their totals are their amount (net = amount, VAT 0)."""
    from datetime import datetime, timezone
    from decimal import Decimal

    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from invoicing_plugin.domain import en16931
    from invoicing_plugin.persistence.models import Invoice, InvoiceLine, SellerProfile

    upgrade(empty_engine, "0010")
    at = datetime(2025, 3, 31, 23, 30, tzinfo=timezone.utc)
    base = {"client_id": "c", "client_name": "Globex", "client_email": "b@globex.test", "currency": "GBP",
            "amount_refunded_minor": 0, "checkout_attempt": 0, "online_payment_unavailable": False, "version": 1,
            "created_at": at, "updated_at": at, "status": "sent", "kind": "standard", "send_method": "email",
            "idempotency_nonce": "0" * 32, "amount_dispute_lost_minor": 0}
    rows = [
        {**base, "id": 1, "workspace_id": "1", "public_token": "t1", "amount_minor": 125050, "description": "Audit"},
        {**base, "id": 2, "workspace_id": "1", "public_token": "t2", "amount_minor": 1500, "currency": "JPY",
         "description": "Retainer “Q1”", "status": "paid"},
        {**base, "id": 3, "workspace_id": "2", "public_token": "t3", "amount_minor": 50, "description": "Fix",
         "status": "draft"},
    ]
    with empty_engine.begin() as connection:
        connection.execute(insert(_as_migrated(connection, Invoice)), rows)
        connection.execute(insert(_as_migrated(connection, SellerProfile)),
                           [{"workspace_id": "1", "legal_name": "Acme Ltd", "country": "GB",
                             "created_at": at, "updated_at": at}])

    upgrade(empty_engine)

    with Session(empty_engine) as session:
        invoices = session.scalars(select(Invoice).order_by(Invoice.id)).all()
        assert [(i.amount_minor, i.net_minor, i.tax_minor, i.prices_include_tax) for i in invoices] == [
            (125050, 125050, 0, False), (1500, 1500, 0, False), (50, 50, 0, False)]
        for invoice in invoices:
            (line,) = invoice.lines
            assert line.workspace_id == invoice.workspace_id and line.position == 1
            expected = en16931.single_line(invoice.description, invoice.amount_minor, invoice.currency)
            assert (line.description, line.quantity, line.unit) == (expected.description, expected.quantity, "")
            assert line.quantity == Decimal(1) and isinstance(line.quantity, Decimal)
            assert line.unit_price_minor == invoice.amount_minor and line.discount_minor == 0
            assert (line.vat_category, line.vat_rate, line.exemption_reason) == (
                expected.vat.category.value, expected.vat.rate, expected.vat.exemption_reason)
            totals = en16931.compute(invoice.currency, [expected]).totals
            assert line.net_minor == totals.total_without_vat_minor == invoice.net_minor
            assert totals.total_with_vat_minor == invoice.amount_minor
        assert session.scalars(select(SellerProfile.prices_include_tax)).all() == [False]
        assert session.scalars(select(InvoiceLine.id)).all() != []
        session.delete(invoices[0])  # the lines go with their invoice
        session.commit()
        assert session.scalars(select(InvoiceLine.invoice_id).order_by(InvoiceLine.invoice_id)).all() == [2, 3]


def test_0012_moves_each_received_payment_to_a_payment_row(empty_engine):
    """Every invoice that received money before 0012 gets its payment as one row (method, date,
    intent, session, fees, note); its sessions get the amount they asked for (the total)."""
    from datetime import datetime, timezone

    from sqlalchemy import insert, select, text

    from invoicing_plugin.persistence.models import Invoice, Payment

    upgrade(empty_engine, "0010")
    at = datetime(2025, 3, 31, 23, 30, tzinfo=timezone.utc)
    paid_at = datetime(2025, 4, 2, 10, 15, tzinfo=timezone.utc)
    base = {"client_id": "c", "client_name": "Globex", "client_email": "b@globex.test", "description": "Audit",
            "currency": "GBP", "amount_minor": 1000, "amount_refunded_minor": 0, "amount_dispute_lost_minor": 0,
            "checkout_attempt": 0, "online_payment_unavailable": False, "version": 1, "created_at": at,
            "updated_at": at, "sent_at": at, "kind": "standard", "send_method": "email", "paid_at": None,
            "amount_paid_minor": None, "payment_method": None, "payment_intent_id": None, "checkout_session_id": None,
            "application_fee_minor": None, "stripe_fee_minor": None, "payment_note": None,
            "idempotency_nonce": "n" * 32}
    rows = [
        {**base, "id": 1, "workspace_id": "1", "public_token": "t1", "status": "paid", "payment_method": "stripe",
         "amount_paid_minor": 1000, "paid_at": paid_at, "payment_intent_id": "pi_1", "checkout_session_id": "cs_1b",
         "application_fee_minor": 30, "stripe_fee_minor": 59},
        {**base, "id": 2, "workspace_id": "1", "public_token": "t2", "status": "paid", "amount_minor": 2500,
         "payment_method": "bank_transfer", "amount_paid_minor": 2500, "paid_at": paid_at,
         "application_fee_minor": 75, "payment_note": "ref 42"},
        {**base, "id": 3, "workspace_id": "2", "public_token": "t3", "status": "refunded", "amount_minor": 700,
         "amount_refunded_minor": 700, "paid_at": paid_at, "payment_intent_id": "pi_3", "currency": "EUR"},
        {**base, "id": 4, "workspace_id": "2", "public_token": "t4", "status": "paid_after_void", "amount_minor": 900,
         "payment_method": "stripe", "amount_paid_minor": 900, "payment_intent_id": "pi_4"},
        {**base, "id": 5, "workspace_id": "1", "public_token": "t5", "status": "sent", "checkout_session_id": "cs_5"},
        {**base, "id": 6, "workspace_id": "1", "public_token": "t6", "status": "voided"},
        {**base, "id": 7, "workspace_id": "1", "public_token": "t7", "status": "draft", "sent_at": None},
    ]
    with empty_engine.begin() as connection:
        connection.execute(insert(_as_migrated(connection, Invoice)), rows)
        for session_id, invoice_id, intent in (("cs_1a", 1, "pi_1"), ("cs_1b", 1, None), ("cs_5", 5, None)):
            connection.execute(text(
                "INSERT INTO invoicing_checkout_sessions (session_id, invoice_id, workspace_id, stripe_mode,"
                " payment_intent_id, created_at) VALUES (:s, :i, '1', 'connect', :p, :at)"),
                {"s": session_id, "i": invoice_id, "p": intent, "at": at})

    upgrade(empty_engine)

    p = Payment.__table__
    with empty_engine.connect() as connection:
        payments = connection.execute(
            select(p.c.invoice_id, p.c.workspace_id, p.c.amount_minor, p.c.currency, p.c.method,
                   p.c.payment_intent_id, p.c.checkout_session_id, p.c.stripe_fee_minor, p.c.application_fee_minor,
                   p.c.note, p.c.received_at).order_by(p.c.invoice_id)).all()
        cached = dict(connection.execute(select(Invoice.__table__.c.id, Invoice.__table__.c.amount_paid_minor)).all())
        sessions = dict(connection.execute(text("SELECT session_id, amount_minor FROM invoicing_checkout_sessions")).all())

    def utc(moment):
        return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)

    assert [tuple(row[:10]) for row in payments] == [
        (1, "1", 1000, "GBP", "stripe", "pi_1", "cs_1a", 59, 30, None),
        (2, "1", 2500, "GBP", "bank_transfer", None, None, None, None, "ref 42"),
        (3, "2", 700, "EUR", "stripe", "pi_3", None, None, None, None),
        (4, "2", 900, "GBP", "stripe", "pi_4", None, None, None, None),
    ]
    assert [utc(row[10]) for row in payments] == [paid_at, paid_at, paid_at, at]
    assert cached == {1: 1000, 2: 2500, 3: 700, 4: 900, 5: None, 6: None, 7: None}
    assert sessions == {"cs_1a": 1000, "cs_1b": 1000, "cs_5": 1000}
    with empty_engine.begin() as connection:  # one row per PaymentIntent
        with pytest.raises(Exception):
            connection.execute(insert(p).values(invoice_id=5, workspace_id="1", amount_minor=1, currency="GBP",
                                                method="stripe", received_at=at, payment_intent_id="pi_1",
                                                created_at=at))


def test_0014_gives_existing_invoices_no_credit_and_a_new_credit_note_numbers_from_one(empty_engine):
    """Invoices from before credit notes (0014) owe what they did: their credited sum reads 0."""
    from datetime import datetime, timezone

    from sqlalchemy import insert, select

    from invoicing_plugin.persistence.models import CreditNote, CreditNoteSequence, Invoice

    upgrade(empty_engine, "0010")
    at = datetime(2025, 3, 31, 23, 30, tzinfo=timezone.utc)
    base = {"client_id": "c", "client_name": "Globex", "client_email": "b@globex.test", "description": "Audit",
            "currency": "GBP", "amount_minor": 1000, "amount_refunded_minor": 0, "checkout_attempt": 0,
            "online_payment_unavailable": False, "version": 1, "created_at": at, "updated_at": at,
            "status": "sent", "kind": "standard", "send_method": "email", "idempotency_nonce": "n" * 32,
            "amount_dispute_lost_minor": 0}
    with empty_engine.begin() as connection:
        connection.execute(insert(_as_migrated(connection, Invoice)),
                           [{**base, "workspace_id": "1", "public_token": f"t{n}", "number": f"INV-000{n}"}
                            for n in range(1, 4)])

    upgrade(empty_engine)

    with empty_engine.begin() as connection:
        credited = connection.execute(select(Invoice.__table__.c.amount_credited_minor)).scalars().all()
        assert credited == [0, 0, 0]
        assert connection.execute(select(CreditNoteSequence.__table__)).all() == []
        first = connection.execute(select(Invoice.__table__.c.id).order_by(Invoice.__table__.c.id)).scalars().first()
        connection.execute(insert(CreditNote.__table__).values(
            workspace_id="1", number="CN-0001", public_token="p" * 43, invoice_id=first, client_id="c",
            amount_minor=100, currency="GBP", reason="Correction", settlement="reduces_due", created_at=at))
    with empty_engine.connect() as connection:
        assert connection.execute(select(CreditNote.__table__.c.number)).scalars().all() == ["CN-0001"]
