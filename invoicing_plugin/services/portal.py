"""The client portal: one unguessable link per client that lists their invoices.

A client reaches the portal in one of two ways:

* the per-client link ``{prefix}/portal/<token>`` (a :class:`ClientPortalAccess`
  row: 256 random bits, one per workspace and client, created the first time a
  link is needed — typically by the invoice email through :func:`portal_url`);
* the host's own client login, when the host implements the optional
  ``current_client()`` method of the contract (:class:`~invoicing_plugin.host.ClientLoginHost`).

Either way the portal resolves to a ``(workspace_id, client_id)`` pair and every
query below is scoped by both: a client never sees another client's invoices,
another workspace's, or a draft.

Every function takes an optional ``uow`` (:class:`~.uow.UnitOfWork`: session, host,
clock) and defaults to the app's; :func:`portal_url` also needs the Flask app (``url_for``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..domain.balance import of_invoice
from ..domain.invoice import InvoiceStatus, display_status, is_open_for_payment, offers_online_payment
from ..domain.money import Money
from ..domain.statuses import CLIENT_LABELS, CLIENT_TONES, CLIENT_VISIBLE
from ..host import HostClient, HostWorkspace, host_current_client, parse_subject_ref
from ..persistence.models import ClientPortalAccess, Invoice
from .common import unit_of_work
from .links import external_url
from .uow import UnitOfWork

__all__ = [
    "CLIENT_STATUS_LABELS",
    "OTHER_INVOICES",
    "Portal",
    "PortalGroup",
    "PortalInvoice",
    "client_visible",
    "ensure_portal_access",
    "find_portal_invoice",
    "load_portal",
    "portal_for_host_client",
    "portal_for_token",
    "portal_url",
]

OTHER_INVOICES = "Other invoices"
"""Heading of the group of invoices that belong to no engagement or project."""

#: What the client reads for each status: plain words, no jargon (from the status table).
CLIENT_STATUS_LABELS: Mapping[str, str] = CLIENT_LABELS

# Statuses a client may see: everything that was ever sent to them.
_VISIBLE = CLIENT_VISIBLE
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
_SEEN_EVERY = timedelta(hours=1)


# --- Access rows and links ----------------------------------------------------------------


def ensure_portal_access(workspace_id: str, client_id: str, *, uow: UnitOfWork | None = None) -> ClientPortalAccess:
    """The client's portal row, created on first use (once: the pair is unique).

    Runs in a savepoint inside the caller's transaction and only flushes: the
    row is committed by whoever commits next (normally the caller's unit of work).
    Two requests creating it at once both end up with the same row.
    """
    uow = uow or unit_of_work()
    session = uow.session
    repo = uow.repository(workspace_id)
    access = repo.find(ClientPortalAccess, client_id=str(client_id))
    if access is not None:
        return access
    try:
        with session.begin_nested():
            access = repo.add(ClientPortalAccess(client_id=str(client_id)))
    except IntegrityError:
        access = repo.find(ClientPortalAccess, client_id=str(client_id))
        if access is None:  # pragma: no cover - a unique violation means it exists
            raise
    return access


def portal_url(workspace_id: str, client_id: str, *, uow: UnitOfWork | None = None) -> str:
    """The absolute URL of the client's portal, creating the access row once.

    For the invoice email's "View all your invoices" link. Call it inside your
    unit of work, before ``uow.commit()``: the row joins your transaction. Inside a
    request the URL uses the request's host; outside one (CLI, workers) it uses
    ``INVOICING_EXTERNAL_URL``.
    """
    access = ensure_portal_access(workspace_id, client_id, uow=uow)
    return external_url("invoicing_portal.portal", token=access.token)


# --- Resolving who is looking ---------------------------------------------------------------


@dataclass(frozen=True)
class PortalOwner:
    """Whose portal this is: a workspace's client, with the token for their links."""

    workspace: HostWorkspace
    client_id: str
    client_name: str
    token: str


def portal_for_token(token: str, *, uow: UnitOfWork | None = None) -> PortalOwner | None:
    """The portal behind a link, or ``None`` (malformed, unknown, or a workspace that
    no longer bills clients). Records when the link was last used (hourly)."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    uow = uow or unit_of_work()
    access = uow.session.scalars(select(ClientPortalAccess).where(ClientPortalAccess.token == token)).first()
    if access is None:
        return None
    owner = _owner(uow, access)
    if owner is not None:
        _touch(uow, access)
    return owner


def portal_for_host_client(*, uow: UnitOfWork | None = None) -> PortalOwner | None:
    """The portal of the client signed in through the host, if the host has client logins."""
    uow = uow or unit_of_work()
    identity = host_current_client(uow.host)
    if identity is None:
        return None
    access = ensure_portal_access(identity.workspace_id, identity.client_id, uow=uow)
    owner = _owner(uow, access)
    if owner is not None:
        _touch(uow, access)
    return owner


def _owner(uow: UnitOfWork, access: ClientPortalAccess) -> PortalOwner | None:
    host = uow.host
    workspace = host.get_workspace(access.workspace_id)
    if workspace is None or not workspace.bills_clients:
        return None
    client: HostClient | None = host.get_client(access.workspace_id, access.client_id)
    name = client.name if client else _last_known_name(uow, access.workspace_id, access.client_id)
    return PortalOwner(workspace=workspace, client_id=access.client_id, client_name=name, token=access.token)


def _last_known_name(uow: UnitOfWork, workspace_id: str, client_id: str) -> str:
    repo = uow.repository(workspace_id)
    stmt = repo.select(Invoice, Invoice.client_name).where(Invoice.client_id == client_id)
    name = uow.session.scalars(stmt.order_by(Invoice.id.desc()).limit(1)).first()
    return name or "Client"


def _touch(uow: UnitOfWork, access: ClientPortalAccess) -> None:
    now = uow.clock()
    if access.last_seen_at is not None and now - access.last_seen_at < _SEEN_EVERY:
        return
    session = uow.session
    access.last_seen_at = now
    try:
        session.commit()
    except Exception:  # pragma: no cover - never fail a page view over a timestamp
        session.rollback()


# --- What the client sees ------------------------------------------------------------------


@dataclass(frozen=True)
class PortalInvoice:
    invoice: Invoice
    status_key: str  # a CSS/status key: sent, overdue, processing, paid, ...
    status_label: str
    can_pay: bool  # awaiting payment (counted in "still to pay")
    amount: Money

    @property
    def pays_online(self) -> bool:
        """Whether the "Pay" button and pay link are offered: the pay link's own rule
        (:func:`~invoicing_plugin.domain.invoice.offers_online_payment`); a manual invoice
        awaits payment as arranged and has none."""
        return offers_online_payment(self.invoice)

    @property
    def status_tone(self) -> str:
        """The portal's tone for the status (``ok``, ``danger``, ``warn``, ``muted``, ``info``): a CSS modifier."""
        return CLIENT_TONES.get(self.status_key, "info")

    @property
    def paid_at(self) -> datetime | None:
        return self.invoice.paid_at


@dataclass
class PortalGroup:
    title: str
    subject_ref: str | None
    invoices: list[PortalInvoice] = field(default_factory=list)

    @property
    def unpaid(self) -> int:
        return sum(1 for item in self.invoices if item.can_pay)


@dataclass(frozen=True)
class Portal:
    owner: PortalOwner
    groups: list[PortalGroup]
    #: Amount awaiting payment per currency (currencies are never added together).
    due_by_currency: list[Money]
    overdue_count: int
    today: date

    @property
    def is_empty(self) -> bool:
        return not self.groups


def client_visible(status: str) -> bool:
    return status in _VISIBLE


def load_portal(owner: PortalOwner, today: date | None = None, *, uow: UnitOfWork | None = None) -> Portal:
    """The client's invoices grouped by engagement, newest first, drafts left out."""
    uow = uow or unit_of_work()
    today = today or uow.today(owner.workspace)  # overdue by the workspace's calendar
    repo = uow.repository(owner.workspace.id)
    stmt = (
        repo.select(Invoice)
        .where(Invoice.client_id == owner.client_id, Invoice.status.in_(_VISIBLE))
        .order_by(Invoice.sent_at.desc().nulls_last(), Invoice.id.desc())
    )
    groups: dict[str | None, PortalGroup] = {}
    due: dict[str, int] = {}
    overdue = 0
    for invoice in uow.session.scalars(stmt):
        item = _portal_invoice(invoice, today)
        key = invoice.subject_ref if parse_subject_ref(invoice.subject_ref) else None
        group = groups.get(key)
        if group is None:
            title = (invoice.subject_title or "").strip() if key else ""
            group = groups[key] = PortalGroup(title=title or OTHER_INVOICES, subject_ref=key)
        group.invoices.append(item)
        if item.can_pay:
            # issue 15: what is still to pay (the total less what was paid and credited).
            due[invoice.currency] = due.get(invoice.currency, 0) + max(0, of_invoice(invoice).due_minor)
        if item.status_key == "overdue":
            overdue += 1
    ordered = sorted(
        (g for k, g in groups.items() if k is not None), key=lambda g: (g.unpaid == 0,)
    )  # stable: engagements with something to pay first, then by most recent invoice
    if None in groups:
        ordered.append(groups[None])
    return Portal(
        owner=owner,
        groups=ordered,
        due_by_currency=[Money(minor, currency) for currency, minor in sorted(due.items())],
        overdue_count=overdue,
        today=today,
    )


def _portal_invoice(invoice: Invoice, today: date) -> PortalInvoice:
    status = InvoiceStatus(invoice.status)
    key = display_status(status, invoice.due_date, today)
    can_pay = is_open_for_payment(status)
    return PortalInvoice(
        invoice=invoice,
        status_key=key,
        status_label=CLIENT_STATUS_LABELS[key],
        can_pay=can_pay,
        amount=Money(int(invoice.amount_minor), invoice.currency),
    )


def find_portal_invoice(owner: PortalOwner, public_token: str, *, uow: UnitOfWork | None = None) -> PortalInvoice | None:
    """One of this client's sent invoices by its public token, or ``None``."""
    if not isinstance(public_token, str) or not _TOKEN.fullmatch(public_token):
        return None
    uow = uow or unit_of_work()
    repo = uow.repository(owner.workspace.id)
    stmt = repo.select(Invoice).where(
        Invoice.public_token == public_token,
        Invoice.client_id == owner.client_id,
        Invoice.status.in_(_VISIBLE),
    )
    invoice = uow.session.scalars(stmt).first()
    return _portal_invoice(invoice, uow.today(owner.workspace)) if invoice is not None else None
