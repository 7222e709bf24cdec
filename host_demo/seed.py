"""Seeding helpers, for ``flask --app host_demo seed`` and for tests.

Each helper adds its object to ``db.session`` and flushes (so ids are set) but
does not commit: callers commit. Call them inside an app context::

    with app.app_context():
        ws = create_workspace("Acme Security", plan="pro")
        owner = create_user("owner@example.com", "Olivia Owner")
        add_member(owner, ws, "owner")
        client = create_client(ws, "Globex", "billing@globex.example")
        create_proposal(ws, client, "Pen test", 1_200_000, approved=True, accepted=True)
        db.session.commit()
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from sqlalchemy import select

from .models import Client, Engagement, Membership, Proposal, User, Workspace, db

DEMO_PASSWORD = "password"


def _flushed(obj):
    db.session.add(obj)
    db.session.flush()
    return obj


def _slugify(name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "workspace"
    slug, n = base, 2
    while db.session.scalar(select(Workspace.id).filter_by(slug=slug)) is not None:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_workspace(name: str, *, mode: str = "consulting", plan: str = "starter", slug: str | None = None,
                     country: str | None = "US", timezone: str = "UTC") -> Workspace:
    """A workspace. ``mode`` is consulting|internal, ``plan`` starter|pro|team, ``country`` an ISO
    3166-1 alpha-2 code (the demo's Stripe platform -- the emulator's -- is in the US), ``timezone``
    an IANA name (the workspace's calendar: due dates, overdue, analytics days).

    ``slug`` defaults to a unique slug made from ``name`` ("Acme Security" → "acme-security").
    """
    return _flushed(Workspace(name=name, slug=slug or _slugify(name), mode=mode, plan=plan, country=country,
                              timezone=timezone))


def create_user(email: str, name: str, password: str = DEMO_PASSWORD) -> User:
    """A user who signs in with ``email`` (stored lower-case) and ``password``. Emails are unique."""
    user = User(email=email.strip().lower(), name=name)
    user.set_password(password)
    return _flushed(user)


def add_member(user: User, workspace: Workspace, role: str) -> Membership:
    """Make ``user`` a member of ``workspace`` with ``role`` owner|admin|member (once per pair)."""
    return _flushed(Membership(user=user, workspace=workspace, role=role))


def create_client(workspace: Workspace, name: str, email: str, **details: str | None) -> Client:
    """A client of ``workspace``; ``email`` is where invoices go. ``details``: the optional
    legal details invoices show (``legal_name``, ``address_line1``, ``city``, ``post_code``,
    ``country``, ``vat_id``)."""
    return _flushed(Client(workspace=workspace, name=name, email=email, **details))


def create_proposal(
    workspace: Workspace,
    client: Client,
    title: str,
    total_minor: int,
    currency: str = "GBP",
    approved: bool = False,
    accepted: bool = False,
) -> Proposal:
    """A proposal of ``total_minor`` minor units (pence, cents) in ``currency``.

    ``approved``: approved internally by staff. ``accepted``: accepted by the client
    (sets ``accepted_at`` to now). The client's link is ``/p/<proposal.accept_token>``.
    """
    proposal = Proposal(
        workspace=workspace,
        client=client,
        title=title,
        total_minor=total_minor,
        currency=currency,
        approved=approved,
        accepted_at=datetime.now(timezone.utc) if accepted else None,
    )
    return _flushed(proposal)


def create_engagement(workspace: Workspace, client: Client, title: str, proposal: Proposal | None = None) -> Engagement:
    """An engagement (ongoing work) for ``client``, optionally born from ``proposal``."""
    return _flushed(Engagement(workspace=workspace, client=client, title=title, proposal=proposal))


# -- the demo data set ----------------------------------------------------------

USERS = [
    ("owner@example.com", "Olivia Owner"),
    ("admin@example.com", "Adam Admin"),
    ("member@example.com", "Mia Member"),
]

#: (name, slug, mode, plan, {email: role})
WORKSPACES = [
    ("Acme Security", "acme-security", "consulting", "pro",
     {"owner@example.com": "owner", "admin@example.com": "admin", "member@example.com": "member"}),
    ("Northwind Consulting", "northwind-consulting", "consulting", "starter",
     {"owner@example.com": "owner", "member@example.com": "member"}),
    ("Internal Tools", "internal-tools", "internal", "team",
     {"owner@example.com": "owner", "admin@example.com": "admin"}),
]

#: slug -> IANA time zone, for workspaces whose calendar is not UTC's (Northwind works from Los Angeles).
TIMEZONES = {"northwind-consulting": "America/Los_Angeles"}

#: slug → [(client name, email, [(proposal title, total_minor, currency, approved, accepted)], [engagement titles])]
CLIENTS = {
    "acme-security": [
        ("Globex Corporation", "billing@globex.example", [
            ("Web application penetration test", 1_200_000, "GBP", True, True),
            ("Cloud security review", 850_000, "GBP", True, False),
        ], ["Penetration test delivery"]),
        ("Initech", "accounts@initech.example", [
            ("Incident response retainer", 2_400_000, "GBP", False, False),
        ], ["Security awareness training"]),
    ],
    "northwind-consulting": [
        ("Contoso Ltd", "ap@contoso.example", [
            ("Operations process audit", 500_000, "USD", True, True),
        ], ["Operations review"]),
    ],
}

#: client email -> the legal details invoices show as the buyer (Initech has none: they are optional).
CLIENT_DETAILS = {
    "billing@globex.example": {"legal_name": "Globex Corporation Ltd", "address_line1": "20 Canada Square",
                               "city": "London", "post_code": "E14 5HU", "country": "GB", "vat_id": "GB980780684"},
    "ap@contoso.example": {"legal_name": "Contoso Ltd", "address_line1": "1 Microsoft Way", "city": "Redmond, WA",
                           "post_code": "98052", "country": "US"},
}


def _existing(model, **filters):
    return db.session.scalars(select(model).filter_by(**filters)).first()


def seed_demo() -> dict:
    """Create the demo data set; idempotent (existing rows are found, not duplicated).

    Returns ``{"users": {email: User}, "workspaces": {slug: Workspace},
    "logins": [(email, password, description)]}``. Does not commit.
    """
    users = {
        email: _existing(User, email=email) or create_user(email, name)
        for email, name in USERS
    }
    workspaces = {}
    for name, slug, mode, plan, roles in WORKSPACES:
        ws = _existing(Workspace, slug=slug) or create_workspace(name, mode=mode, plan=plan, slug=slug,
                                                                 timezone=TIMEZONES.get(slug, "UTC"))
        workspaces[slug] = ws
        for email, role in roles.items():
            if not _existing(Membership, user_id=users[email].id, workspace_id=ws.id):
                add_member(users[email], ws, role)

    for slug, clients in CLIENTS.items():
        ws = workspaces[slug]
        for client_name, client_email, proposals, engagements in clients:
            client = _existing(Client, workspace_id=ws.id, email=client_email) or create_client(
                ws, client_name, client_email, **CLIENT_DETAILS.get(client_email, {})
            )
            first = None
            for title, total, currency, approved, accepted in proposals:
                proposal = _existing(Proposal, workspace_id=ws.id, title=title) or create_proposal(
                    ws, client, title, total, currency, approved=approved, accepted=accepted
                )
                first = first or proposal
            for title in engagements:
                if not _existing(Engagement, workspace_id=ws.id, title=title):
                    create_engagement(ws, client, title, proposal=first if first and first.accepted else None)

    logins = []
    for email, name in USERS:
        roles = ", ".join(
            f"{role} of {ws_name}" for ws_name, _, _, _, members in WORKSPACES
            for member, role in members.items() if member == email
        )
        logins.append((email, DEMO_PASSWORD, roles))
    return {"users": users, "workspaces": workspaces, "logins": logins}
