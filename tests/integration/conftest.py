"""Integration fixtures: a small world of workspaces, people and clients in host_demo."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class World:
    """Ids (as strings) of what :func:`world` created. Passwords are all ``password``."""

    acme: str  # consulting workspace, plan pro
    acme_slug: str
    northwind: str  # another consulting workspace, plan starter
    northwind_slug: str
    internal: str  # internal-mode workspace
    internal_slug: str
    owner_email: str  # owner of acme and of the internal workspace
    admin_email: str  # admin of acme
    member_email: str  # member of acme (no billing rights)
    outsider_email: str  # owner of northwind only
    client_a: str  # acme's clients
    client_b: str
    northwind_client: str
    proposal_accepted: str  # acme, approved + accepted, total 100000 GBP
    proposal_pending: str  # acme, approved, not accepted
    engagement: str  # acme, for client_a


@pytest.fixture
def world(app) -> World:
    from host_demo import seed
    from host_demo.models import db

    with app.app_context():
        acme = seed.create_workspace("Acme Security", plan="pro", slug="acme")
        northwind = seed.create_workspace("Northwind Consulting", plan="starter", slug="northwind")
        internal = seed.create_workspace("Internal Tools", mode="internal", slug="internal")
        owner = seed.create_user("owner@example.com", "Olivia Owner")
        admin = seed.create_user("admin@example.com", "Adam Admin")
        member = seed.create_user("member@example.com", "Mia Member")
        outsider = seed.create_user("outsider@example.com", "Oscar Outsider")
        seed.add_member(owner, acme, "owner")
        seed.add_member(owner, internal, "owner")
        seed.add_member(admin, acme, "admin")
        seed.add_member(member, acme, "member")
        seed.add_member(outsider, northwind, "owner")
        client_a = seed.create_client(acme, "Globex Corporation", "billing@globex.test")
        client_b = seed.create_client(acme, "Initech", "ap@initech.test")
        nw_client = seed.create_client(northwind, "Umbrella Ltd", "finance@umbrella.test")
        accepted = seed.create_proposal(acme, client_a, "Penetration test", 100000, "GBP", approved=True, accepted=True)
        pending = seed.create_proposal(acme, client_b, "Red team", 250000, "GBP", approved=True, accepted=False)
        engagement = seed.create_engagement(acme, client_a, "Q3 penetration test", proposal=accepted)
        db.session.commit()
        return World(
            acme=str(acme.id), acme_slug=acme.slug,
            northwind=str(northwind.id), northwind_slug=northwind.slug,
            internal=str(internal.id), internal_slug=internal.slug,
            owner_email=owner.email, admin_email=admin.email, member_email=member.email,
            outsider_email=outsider.email,
            client_a=str(client_a.id), client_b=str(client_b.id), northwind_client=str(nw_client.id),
            proposal_accepted=str(accepted.id), proposal_pending=str(pending.id),
            engagement=str(engagement.id),
        )


def login(client, email: str, workspace_slug: str | None = None, password: str = "password"):
    """Sign ``client`` in through host_demo's real login form and pick a workspace."""
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code in (302, 303), f"login failed for {email}: {response.status_code}"
    if workspace_slug:
        response = client.get(f"/w/{workspace_slug}")
        assert response.status_code in (200, 302, 303), f"cannot switch to {workspace_slug}"
    return client


@pytest.fixture
def staff_client(app, world):
    """A test client signed in as acme's owner, with acme as the current workspace."""
    return login(app.test_client(), world.owner_email, world.acme_slug)


def connect_workspace(app, stripe_emulator, workspace_id: str) -> str:
    """Give ``workspace_id`` an active Stripe Connect (Express) account; returns its id.

    Goes through the connected-apps service like a real admin would: create the
    account and onboarding link, complete onboarding in the emulator, read it back.
    """
    from invoicing_plugin.services import connections

    with app.test_request_context():
        connections.start_onboarding(
            workspace_id, actor="test", refresh_url="http://localhost/refresh", return_url="http://localhost/return"
        )
        account_id = connections.get_connection(workspace_id).account_id
        stripe_emulator.control.complete_onboarding(account_id)
        connections.sync_account(workspace_id)
        assert connections.payment_route(workspace_id) is not None, "the test workspace should take payments"
    return account_id


@pytest.fixture
def connected_workspace(app, world, stripe_emulator) -> str:
    """acme with an active Stripe Connect account (the Express account id is returned)."""
    return connect_workspace(app, stripe_emulator, world.acme)


@pytest.fixture
def make_invoice(app):
    """Create an invoice in any status straight through the model (no services).

    ``make_invoice(workspace_id=..., client_id=..., status="paid", amount_minor=5000, ...)``
    accepts every ``Invoice`` column as a keyword; unspecified ones get sensible
    defaults for the status (a number once sent, ``sent_at``, ``paid_at`` and
    ``amount_paid_minor`` once paid). Returns the committed invoice, detached,
    with every column loaded.
    """
    from datetime import timedelta

    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import Invoice, Payment, utcnow

    sequence = iter(range(1, 1_000_000))

    def make(**columns):
        status = columns.setdefault("status", "sent")
        now = utcnow()
        columns.setdefault("workspace_id", "1")
        columns.setdefault("client_id", "1")
        columns.setdefault("client_name", "Test Client")
        columns.setdefault("client_email", "client@example.test")
        columns.setdefault("amount_minor", 10_000)
        columns.setdefault("currency", "GBP")
        columns.setdefault("description", "Consulting services")
        if status != "draft":
            columns.setdefault("number", f"T-{next(sequence):05d}")
            columns.setdefault("sent_at", now)
            columns.setdefault("due_date", (columns["sent_at"] + timedelta(days=30)).date())
        if status in ("paid", "paid_after_void", "refunded"):
            columns.setdefault("paid_at", now)
            columns.setdefault("amount_paid_minor", columns["amount_minor"])
        if status == "refunded":
            columns.setdefault("amount_refunded_minor", columns["amount_paid_minor"])
        if status in ("voided", "paid_after_void"):
            columns.setdefault("voided_at", now)
        with app.app_context():
            session = get_state(app).session
            invoice = Invoice(**{k: str(v) if k in ("workspace_id", "client_id") else v for k, v in columns.items()})
            session.add(invoice)
            if invoice.amount_paid_minor and invoice.paid_at is not None:
                # Money received is payment rows (issue 15): one row for what was paid, with the
                # locked fee when it came through Stripe, as the services write it.
                method = invoice.payment_method or "stripe"
                fee = invoice.application_fee_minor if method == "stripe" else None
                invoice.fees_taken_minor = int(fee or 0)
                session.flush()
                session.add(Payment(invoice_id=invoice.id, workspace_id=invoice.workspace_id,
                                    amount_minor=invoice.amount_paid_minor, currency=invoice.currency, method=method,
                                    received_at=invoice.paid_at, payment_intent_id=invoice.payment_intent_id,
                                    application_fee_minor=fee))
            session.commit()
            session.refresh(invoice)
            session.expunge(invoice)
        return invoice

    return make


@pytest.fixture
def account(app, world, stripe_emulator):
    """acme's Express account, connected and active (webhook and reconcile tests)."""
    from tests.integration.webhook_helpers import connect_workspace as connect

    return connect(app, stripe_emulator, world.acme)


@pytest.fixture
def invoice(app, world, account):
    """A sent acme invoice with an open Checkout Session on ``account``."""
    from tests.integration.webhook_helpers import sent_invoice

    return sent_invoice(app, world.acme, account)
