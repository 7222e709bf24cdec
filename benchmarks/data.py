"""Building the benchmark's data: host workspaces and users through ``host_demo.seed``,
invoices in bulk (PostgreSQL ``COPY``; SQLite one transaction of ``executemany``).

Every workspace gets an owner who can manage billing. Invoices follow a fixed,
realistic mix (about 55 % paid, 25 % sent, drafts, voided, refunded, processing;
mostly GBP with some USD and EUR; created over three years, newest last), so two
runs build the same data. "Hook" workspaces hold only *sent* invoices with a
Checkout Session each, waiting for their ``checkout.session.completed`` event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator

from sqlalchemy import insert, select, text

from .report import progress

COLUMNS = (
    "workspace_id", "number", "public_token", "kind", "status", "client_id", "client_name", "client_email",
    "subject_ref", "subject_title", "amount_minor", "currency", "description", "due_date", "send_method",
    "fee_bps", "application_fee_minor", "stripe_mode", "stripe_account_id", "checkout_session_id", "checkout_url",
    "checkout_expires_at", "checkout_attempt", "payment_intent_id", "amount_paid_minor", "amount_refunded_minor",
    "payment_method", "online_payment_unavailable", "created_by", "created_at", "updated_at", "sent_at", "paid_at",
    "voided_at", "version", "idempotency_nonce", "net_minor", "tax_minor",
)

THREE_YEARS = timedelta(days=3 * 365)
FEE_BPS = 350


@dataclass
class BenchWorkspace:
    key: str  # "1k", "100k", "1m", "hooks", "load"
    id: str
    slug: str
    user_id: int
    account_id: str
    invoices: int
    hooks: bool = False


def account_for(key: str) -> str:
    return f"acct_1Bench{key.upper():0>10}"


def session_id(ws_id: str, g: int) -> str:
    # Shaped like Stripe's (cs_test_ + 58 characters).
    return f"cs_test_b1{ws_id:0>8}{g:0>12}" + "Kx9QbRz4" * 5


def status_for(g: int) -> str:
    r = g % 20
    if r == 0:
        return "draft"
    if r <= 5:
        return "sent"
    return {6: "voided", 7: "refunded", 8: "processing"}.get(r, "paid")


def invoice_rows(ws: BenchWorkspace, now: datetime) -> Iterator[tuple]:
    """The invoices of ``ws`` as tuples in :data:`COLUMNS` order (oldest first)."""
    n = ws.invoices
    step = THREE_YEARS / max(n, 1)
    for g in range(1, n + 1):
        status = "sent" if ws.hooks else status_for(g)
        created = now - THREE_YEARS + step * g - (timedelta(hours=1) if ws.hooks else timedelta(0))
        amount = 1000 + (g * 7919) % 2_000_000
        currency = "GBP" if ws.hooks else ("USD" if g % 10 == 0 else "EUR" if g % 10 == 1 else "GBP")
        client = g % 150
        draft = status == "draft"
        sent_at = None if draft else min(now, created + timedelta(hours=2))
        paid = status in ("paid", "refunded")
        paid_at = min(now, created + timedelta(days=(g * 13) % 40)) if paid else None
        cs = session_id(ws.id, g) if status in ("sent", "processing") else None
        yield (
            ws.id,
            None if draft else f"INV-{g:06d}",
            f"bt{ws.id:0>6}{g:0>10}" + "q" * 25,
            "deposit" if g % 17 == 0 else "standard",
            status,
            str(client),
            f"Client {client} Ltd",
            f"billing{client}@client{client}.example",
            f"proposal:{g}" if g % 3 == 0 else None,
            f"Engagement {g}" if g % 3 == 0 else None,
            amount,
            currency,
            f"Security assessment, phase {g % 7 + 1} ({g})",
            (created + timedelta(days=30)).date(),
            "stripe_link" if g % 4 else "email",
            None if draft else FEE_BPS,
            None if draft else amount * FEE_BPS // 10_000,
            None if draft else "connect",
            None if draft else ws.account_id,
            cs,
            f"https://checkout.stripe.com/c/pay/{cs}" if cs else None,
            now + timedelta(hours=23) if cs else None,
            1 if cs or paid else 0,
            f"pi_3Bench{ws.id:0>6}{g:0>12}" if paid or status == "processing" else None,
            amount if paid else None,
            amount if status == "refunded" else 0,
            ("stripe" if g % 3 else "bank_transfer") if paid else None,
            False,
            "user:1 Bench Owner",
            created,
            paid_at or sent_at or created,
            sent_at,
            paid_at,
            min(now, created + timedelta(days=45)) if status == "voided" else None,
            1,
            # 32 hex characters, like persistence.models.new_nonce(); fixed so runs build the same data.
            f"{int(ws.id):08x}{g:024x}",
            amount,  # net_minor: one line without VAT, as an amount-and-description draft (revision 0011)
            0,  # tax_minor
        )


def create_schema(app) -> None:
    from host_demo.models import db
    from invoicing_plugin.hooks import init_hook

    from .app import floor_metadata

    with app.app_context():
        db.create_all()
        init_hook(app)
        floor_metadata.create_all(db.engine)


def create_workspaces(app, sizes: dict[str, int], hook_keys: tuple[str, ...]) -> dict[str, BenchWorkspace]:
    """One workspace per size (plan "pro"), its owner, and a Connect connection."""
    from host_demo import seed
    from host_demo.models import db
    from invoicing_plugin.persistence.models import StripeConnection

    out = {}
    with app.app_context():
        for key, count in sizes.items():
            ws = seed.create_workspace(f"Bench {key}", plan="pro", slug=f"bench-{key}")
            user = seed.create_user(f"owner-{key}@bench.test", f"Owner {key}")
            seed.add_member(user, ws, "owner")
            db.session.add(StripeConnection(
                workspace_id=str(ws.id), mode="connect", status="active", account_id=account_for(key),
                charges_enabled=True, payouts_enabled=True, details_submitted=True, connected_by="user:1",
            ))
            out[key] = BenchWorkspace(key=key, id=str(ws.id), slug=ws.slug, user_id=user.id,
                                      account_id=account_for(key), invoices=count, hooks=key in hook_keys)
        db.session.commit()
    return out


def load_invoices(app, backend: str, workspaces: dict[str, BenchWorkspace]) -> None:
    from host_demo.models import db
    from invoicing_plugin.persistence.models import Invoice

    now = datetime.now(timezone.utc)
    total = sum(ws.invoices for ws in workspaces.values())
    started = time.perf_counter()
    with app.app_context():
        engine = db.engine
        if backend == "postgresql":
            raw = engine.raw_connection()
            try:
                conn = raw.driver_connection
                with conn.cursor() as cur:
                    with cur.copy(f"COPY invoicing_invoices ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                        for ws in workspaces.values():
                            for row in invoice_rows(ws, now):
                                copy.write_row(row)
                conn.commit()
            finally:
                raw.close()
        else:
            table = Invoice.__table__
            with engine.begin() as conn:
                for ws in workspaces.values():
                    batch = []
                    for row in invoice_rows(ws, now):
                        batch.append(dict(zip(COLUMNS, row)))
                        if len(batch) == 20_000:
                            conn.execute(insert(table), batch)
                            batch = []
                    if batch:
                        conn.execute(insert(table), batch)
        # Every Checkout Session is recorded when the plugin creates it (send, pay-link renewal);
        # the bulk-loaded ones are recorded here the way revision 0005 records existing ones.
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO invoicing_checkout_sessions (session_id, invoice_id, workspace_id, stripe_mode,"
                " account_id, payment_intent_id, created_at)"
                " SELECT checkout_session_id, id, workspace_id, stripe_mode, stripe_account_id, payment_intent_id,"
                " COALESCE(sent_at, created_at) FROM invoicing_invoices WHERE checkout_session_id IS NOT NULL"
            ))
        # A bulk load bypasses the ORM, so the analytics totals are computed from it the way an
        # operator would after an import (``flask invoicing totals --rebuild``).
        from invoicing_plugin.services.analytics import rebuild_totals

        totals_started = time.perf_counter()
        rows = rebuild_totals()  # inside the app context opened above
        progress(f"  rebuilt the analytics totals ({rows:,} rows) in {time.perf_counter() - totals_started:.1f} s")
        if backend == "postgresql":
            # A table in service has been through autovacuum, which sets the
            # visibility map that index-only scans rely on; a freshly COPY'd one
            # has not. VACUUM (outside a transaction) makes the bulk load look like
            # the former instead of measuring an accident of loading.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM (ANALYZE) invoicing_invoices"))
                conn.execute(text("VACUUM (ANALYZE) invoicing_invoice_totals"))
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    progress(f"  loaded {total:,} invoices in {time.perf_counter() - started:.1f} s")


@dataclass(frozen=True)
class HookInvoice:
    id: int
    workspace_id: str
    number: str
    amount_minor: int
    currency: str
    client_email: str
    checkout_session_id: str
    account_id: str


def hook_invoices(app, ws: BenchWorkspace) -> list[HookInvoice]:
    from host_demo.models import db
    from invoicing_plugin.persistence.models import Invoice

    with app.app_context():
        rows = db.session.execute(
            select(Invoice.id, Invoice.workspace_id, Invoice.number, Invoice.amount_minor, Invoice.currency,
                   Invoice.client_email, Invoice.checkout_session_id, Invoice.stripe_account_id)
            .where(Invoice.workspace_id == ws.id, Invoice.status == "sent")
            .order_by(Invoice.id)
        ).all()
        db.session.remove()
    return [HookInvoice(*row) for row in rows]
