"""Connect Express: create the workspace's account, onboard it, keep it up to date.

:func:`apply_account_update` is also a webhook entry point (``account.updated``):
workspace-agnostic, it finds the workspace by the Stripe account id. Every use case
takes an optional ``uow`` (:class:`~.uow.UnitOfWork`) and defaults to the app's.
"""

from __future__ import annotations

import logging

from ..domain.country import CountryError, country_code
from ..gateways.stripe_gateway import GatewayError
from ..persistence.repository import find_connection_by_account
from .common import commit_or_conflict, unit_of_work
from .connection_routes import CONFLICT_MESSAGE, CONNECT, LINKED, OWN_KEY, ConnectionRefused, get_connection
from .connection_rows import (
    apply_account,
    ensure_connection_row,
    link_account,
    lock_connection,
    on_active,
    platform_gateway_for_connect,
)
from .connection_view import ConnectionView, connection_view
from .idempotency import connect_key
from .ports import AccountStatus as AccountInfo
from .uow import UnitOfWork

log = logging.getLogger("invoicing_plugin.connections")


def start_onboarding(workspace_id: str, *, actor: str, refresh_url: str, return_url: str,
                     uow: UnitOfWork | None = None) -> str:
    """Create the workspace's Express account if it has none; return a fresh onboarding link.

    The account is created at most once per connection attempt: the row is
    locked while Stripe is asked (PostgreSQL), and the request carries the
    idempotency key ``invoicing-connect-{workspace}-{nonce}-{attempt}`` (the row's
    random nonce: :mod:`.idempotency`) so a retry, a
    double click or a second admin gets the same account from Stripe even where
    the database cannot lock (SQLite). Used by both "Connect Stripe" and
    "Continue onboarding".

    The account is created in the workspace's country (``HostWorkspace.country``); a value
    that is not an ISO 3166-1 alpha-2 code refuses (``ConnectionRefused``) before anything
    is stored or Stripe is asked.
    """
    uow = uow or unit_of_work()
    gateway = platform_gateway_for_connect(uow=uow)
    country = _workspace_country(workspace_id, uow=uow)
    session = uow.session
    ensure_connection_row(session, workspace_id)
    with uow:
        connection = lock_connection(session, workspace_id)
        if connection.mode == OWN_KEY and connection.status in LINKED:
            raise ConnectionRefused(
                "This workspace takes payments with its own Stripe key. "
                "Disconnect it before connecting a Stripe Express account."
            )
        if connection.mode == CONNECT and connection.status in LINKED and connection.account_id:
            account_id = connection.account_id
            uow.rollback()  # nothing changed; release the row lock before calling Stripe again
        else:
            account = gateway.create_connected_account(
                workspace_id=str(workspace_id),
                email=None,  # same parameters on every retry, or Stripe refuses the idempotency key
                idempotency_key=connect_key(connection),  # unique per installation and attempt
                country=country,
            )
            link_account(connection, mode=CONNECT, account=account, actor=actor, uow=uow)
            became_active = apply_account(connection, account)
            if became_active:
                on_active(uow, session, connection)
            uow.commit()
            account_id = account.id
            log.info("workspace %s: created Stripe Express account %s", workspace_id, account_id)
    return gateway.create_onboarding_link(account_id, refresh_url=refresh_url, return_url=return_url)


def _workspace_country(workspace_id: str, *, uow: UnitOfWork) -> str | None:
    workspace = uow.host.get_workspace(str(workspace_id))
    try:
        return country_code(getattr(workspace, "country", None))  # hosts built before it existed
    except CountryError as exc:
        raise ConnectionRefused(
            f"This workspace's country is not valid, so no Stripe account was created: {exc.message} "
            "Ask the site's administrator to correct it."
        ) from None


def sync_account(workspace_id: str, *, uow: UnitOfWork | None = None) -> ConnectionView:
    """Re-read the workspace's Express account from Stripe (the onboarding return URL)."""
    uow = uow or unit_of_work()
    connection = get_connection(workspace_id, uow=uow)
    if connection is not None and connection.mode == CONNECT and connection.status in LINKED:
        account = platform_gateway_for_connect(uow=uow).retrieve_account(connection.account_id)
        apply_account_update(account, uow=uow)
    return connection_view(workspace_id)


def refresh_account(account_id: str, *, uow: UnitOfWork | None = None) -> str | None:
    """``account.updated``: bring the connection of ``account_id`` up to date from Stripe itself.

    Stripe "doesn't guarantee delivery of events in the order in which they're generated"
    (https://docs.stripe.com/webhooks#event-ordering), so the event's ``data.object`` -- the
    account as it was when the event was made -- may be older than what is stored: the
    account is re-read (``GET /v1/accounts/{id}``) and that is applied, whatever order the
    events come in. Returns ``None`` when applied, else why nothing changed (no linked
    Connect connection; Stripe refuses the platform access to the account, e.g. it removed
    the platform). A temporary Stripe failure raises
    :class:`~invoicing_plugin.gateways.stripe_gateway.GatewayError` (the event fails and
    Stripe delivers it again); nothing is changed then.
    """
    uow = uow or unit_of_work()
    connection = find_connection_by_account(uow.session, account_id)
    if connection is None or connection.mode != CONNECT:
        return f"{account_id} is not a linked Connect account; nothing changed"
    try:
        account = platform_gateway_for_connect(uow=uow).retrieve_account(account_id)
    except GatewayError as exc:
        if exc.retryable:
            raise
        return f"Stripe refused to show account {account_id} ({exc.message}); nothing changed"
    apply_account_update(account, uow=uow)
    return None


def dashboard_link(workspace_id: str, *, uow: UnitOfWork | None = None) -> str:
    """A single-use login link to the workspace's Express dashboard."""
    uow = uow or unit_of_work()
    connection = get_connection(workspace_id, uow=uow)
    if connection is None or connection.mode != CONNECT or connection.status not in LINKED:
        raise ConnectionRefused("This workspace has no Stripe Express account connected.")
    if not connection.details_submitted:
        raise ConnectionRefused("Finish Stripe onboarding first; the Stripe dashboard opens once it is complete.")
    return platform_gateway_for_connect(uow=uow).create_login_link(connection.account_id)

def apply_account_update(account: AccountInfo, *, uow: UnitOfWork | None = None) -> None:
    """Bring the connection of ``account.id`` up to date (``account.updated``, return URL).

    Workspace-agnostic: the connection is found by account id. Unknown or
    disconnected accounts are ignored. Sends ``stripe_connected`` when the
    account becomes able to take payments; invoices flagged as unpayable online
    become payable again then.
    """
    uow = uow or unit_of_work()
    session = uow.session
    with uow:
        connection = find_connection_by_account(session, account.id, for_update=True)
        if connection is None:
            log.info("account update for %s ignored: not linked to any workspace", account.id)
            return
        became_active = apply_account(connection, account)
        if became_active:
            on_active(uow, session, connection)
        commit_or_conflict(uow, error=ConnectionRefused, message=CONFLICT_MESSAGE)

