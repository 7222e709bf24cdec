"""What the connection use cases share: the workspace's (unique) connection row, locked,
linked to an account and kept up to date with Stripe's view of it."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import signals
from ..persistence.models import Invoice, StripeConnection
from ..persistence.repository import WorkspaceRepository
from .common import record_event, unit_of_work
from .connection_routes import ACTIVE, CONNECT, NOT_CONNECTED, ONBOARDING, RESTRICTED, ConnectionRefused, connect_available
from .ports import AccountStatus as AccountInfo, PaymentProvider
from .uow import UnitOfWork


def platform_gateway_for_connect(*, uow: UnitOfWork | None = None) -> PaymentProvider:
    uow = uow or unit_of_work()
    if not connect_available(uow=uow):
        raise ConnectionRefused(
            "Stripe Connect is not set up on this platform (no platform Stripe key). "
            "You can add your own Stripe secret key instead."
        )
    return uow.platform_gateway()


def ensure_connection_row(session: Session, workspace_id: str) -> None:
    """Insert the workspace's (unique) connection row if it does not exist yet.

    Two requests racing here both try the insert; the unique constraint on
    ``workspace_id`` refuses the second, which then simply uses the first's row.
    """
    repo = WorkspaceRepository(session, workspace_id)
    if repo.find(StripeConnection) is not None:
        return
    repo.add(StripeConnection(mode=CONNECT, status=NOT_CONNECTED, attempt=0))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()


def lock_connection(session: Session, workspace_id: str, *, create: bool = True) -> StripeConnection | None:
    """The connection row, locked until the transaction ends (``SELECT ... FOR UPDATE``).

    ``populate_existing`` matters: after waiting for another request's lock we
    must see what that request committed, not what this session loaded before.
    """
    repo = WorkspaceRepository(session, workspace_id)
    stmt = repo.select(StripeConnection).with_for_update().execution_options(populate_existing=True)
    connection = session.scalars(stmt).first()
    if connection is None and create:
        raise RuntimeError("connection row missing; call ensure_connection_row first")
    return connection


def link_account(connection: StripeConnection, *, mode: str, account: AccountInfo, actor: str,
                 uow: UnitOfWork | None = None) -> None:
    """Point the row at a new account, forgetting everything about the previous link (``uow``: its clock)."""
    connection.mode = mode
    connection.account_id = account.id
    connection.status = ONBOARDING  # apply_account sets the real one
    connection.secret_key_encrypted = None
    connection.secret_key_hint = None
    connection.webhook_endpoint_id = None
    connection.webhook_secret_encrypted = None
    connection.connected_by = actor
    connection.connected_at = (uow or unit_of_work()).clock()
    connection.disconnected_by = None
    connection.disconnected_at = None


def account_status(account: AccountInfo) -> str:
    if account.charges_enabled:
        return ACTIVE
    if account.details_submitted or account.blocked_by_provider:
        return RESTRICTED
    return ONBOARDING


def apply_account(connection: StripeConnection, account: AccountInfo) -> bool:
    """Copy Stripe's view of the account onto the row; ``True`` if it just became active."""
    was_active = connection.status == ACTIVE
    connection.charges_enabled = account.charges_enabled
    connection.payouts_enabled = account.payouts_enabled
    connection.details_submitted = account.details_submitted
    connection.requirements = account.requirements
    connection.disabled_reason = account.disabled_reason
    if connection.mode == CONNECT:
        connection.livemode = account.livemode
    connection.status = account_status(account)
    return connection.status == ACTIVE and not was_active



def status_note(repo: WorkspaceRepository, invoice: Invoice, actor: str, action: str, detail: str,
                 *, result: str = "ok") -> None:
    """An audit entry that changes no status (the invoice's online-payment situation)."""
    record_event(repo, invoice, actor, action, from_status=invoice.status, to_status=invoice.status,
                 result=result, detail=detail)


def on_active(uow: UnitOfWork, session: Session, connection: StripeConnection) -> None:
    """The account can take payments (again): lift the flag from unpaid invoices, tell the host."""
    repo = WorkspaceRepository(session, connection.workspace_id)
    for invoice in repo.list(Invoice, Invoice.online_payment_unavailable.is_(True)):
        invoice.online_payment_unavailable = False
        status_note(
            repo, invoice, "system", "online_payment_restored",
            f"Stripe account {connection.account_id} is connected again; online payment is available.",
        )
    uow.emit(
        signals.stripe_connected,
        workspace_id=connection.workspace_id,
        account_id=connection.account_id,
        mode=connection.mode,
    )

