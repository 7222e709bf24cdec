"""Stripe connections of workspaces: how (and whether) a workspace takes payments.

A workspace takes payments in one of two ways (``StripeConnection.mode``):

- ``connect``: the platform creates a Stripe Connect **Express** account for the
  workspace and sends an admin through Stripe's hosted onboarding. Payments are
  destination charges from the platform with the plan's application fee.
- ``own_key``: an admin pastes the secret (``sk_``) or restricted (``rk_``) key of
  a Stripe account the workspace already has. The key is checked with a live
  call, stored encrypted, and a webhook endpoint is registered on that account.

``StripeConnection.status`` is one of :data:`STATUSES`. One more state is never
stored but derived: :data:`KEY_UNREADABLE`, an own-key connection whose stored
secrets cannot be decrypted with the configured ``INVOICING_SECRET_ENCRYPTION_KEY``
(the key that encrypted them was removed). :func:`stored_secrets` is the only
place that decrypts; every reader (payment route, Checkout gateways, webhook
verification, the CLI) goes through it, so an unreadable key is one state,
reported as "the stored key cannot be read — reconnect", never an exception.

Every use case here runs
in one :class:`~.uow.UnitOfWork`: Stripe is called first (while the workspace's
connection row is locked), the database is changed only once Stripe agreed, and
signals are sent after the commit. A Stripe failure therefore leaves nothing
half-saved; it surfaces as :class:`~..gateways.stripe_gateway.GatewayError` or
:class:`ConnectionRefused`, both with a ``message`` fit to show to staff.

Webhook handlers call :func:`apply_account_update` and
:func:`apply_deauthorization`; they are workspace-agnostic and find the
workspace by the Stripe account id.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .. import signals
from ..actors import actor_name
from ..crypto import SecretBoxError, mask_secret
from ..domain.statuses import PAYABLE
from ..state import get_state
from ..gateways import stripe_events
from ..gateways.stripe_gateway import AccountInfo, GatewayError, StripeGateway
from ..persistence.models import Invoice, StripeConnection, utcnow
from ..persistence.repository import WorkspaceRepository, find_connection_by_account
from .errors import InvoicingError
from .invoices import record_event
from .uow import UnitOfWork

log = logging.getLogger("invoicing_plugin.connections")

NOT_CONNECTED = "not_connected"
ONBOARDING = "onboarding"
RESTRICTED = "restricted"
ACTIVE = "active"
DISCONNECTED = "disconnected"
#: Every value of ``StripeConnection.status``.
STATUSES = (NOT_CONNECTED, ONBOARDING, RESTRICTED, ACTIVE, DISCONNECTED)
#: Statuses in which the workspace is linked to a Stripe account.
LINKED = frozenset({ONBOARDING, RESTRICTED, ACTIVE})
#: Derived, never stored: an own-key connection whose stored secrets the configured
#: encryption keys cannot decrypt. Still linked (Disconnect and Replace key work), but
#: online payment is unavailable until Stripe is reconnected.
KEY_UNREADABLE = "key_unreadable"

#: What staff are told about :data:`KEY_UNREADABLE` (pages, refused sends, the CLI).
KEY_UNREADABLE_MESSAGE = (
    "The stored Stripe key of this workspace cannot be read: it was encrypted with an "
    "INVOICING_SECRET_ENCRYPTION_KEY that is no longer configured. Online payment is unavailable until "
    "Stripe is reconnected: under Connected apps, paste the secret key again (Replace key), or disconnect "
    "and connect again."
)

CONNECT = "connect"
OWN_KEY = "own_key"

#: The event types enabled on the webhook endpoint created on an own-key workspace's
#: account: the rows of :data:`~invoicing_plugin.gateways.stripe_events.ROUTES` marked
#: ``own_key`` (derived; kept importable under this name).
OWN_KEY_WEBHOOK_EVENTS = stripe_events.own_key_webhook_events()

#: Stripe secret and restricted keys, test or live. Publishable keys (pk_) cannot call the API.
SECRET_KEY_PATTERN = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,200}$")

#: What Stripe's requirement field names mean, for the Connected apps page.
#: Unknown names are shown as Stripe spells them.
REQUIREMENT_LABELS = {
    "external_account": "Bank account for payouts",
    "business_profile.mcc": "Business category",
    "business_profile.url": "Business website",
    "business_profile.product_description": "Description of what the business sells",
    "business_type": "Business type",
    "individual.first_name": "Legal first name",
    "individual.last_name": "Legal last name",
    "individual.dob.day": "Date of birth",
    "individual.dob.month": "Date of birth",
    "individual.dob.year": "Date of birth",
    "individual.address.line1": "Home address",
    "individual.address.city": "Home address",
    "individual.address.postal_code": "Home address",
    "individual.email": "Email address",
    "individual.phone": "Phone number",
    "individual.id_number": "Government ID number",
    "individual.ssn_last_4": "Last 4 digits of SSN",
    "individual.verification.document": "Identity document",
    "individual.verification.additional_document": "Additional identity document",
    "company.name": "Company name",
    "company.tax_id": "Company tax ID",
    "company.address.line1": "Company address",
    "company.verification.document": "Company verification document",
    "tos_acceptance.date": "Acceptance of Stripe's terms of service",
    "tos_acceptance.ip": "Acceptance of Stripe's terms of service",
}

#: Why Stripe disabled charges (``requirements.disabled_reason``), in words.
DISABLED_REASON_LABELS = {
    "requirements.past_due": "Stripe needs more information before this account can take payments.",
    "requirements.pending_verification": "Stripe is verifying the information provided.",
    "under_review": "Stripe is reviewing this account.",
    "listed": "Stripe is reviewing this account.",
    "rejected.fraud": "Stripe rejected this account.",
    "rejected.terms_of_service": "Stripe rejected this account.",
    "rejected.listed": "Stripe rejected this account.",
    "rejected.other": "Stripe rejected this account.",
    "platform_paused": "Payments on this account are paused.",
    "action_required.requested_capabilities": "The account must accept the requested payment capabilities.",
    "other": "Stripe disabled payments on this account.",
}


class ConnectionRefused(InvoicingError):
    """The connection cannot be changed as asked; ``message`` is fit to show to staff."""


@dataclass(frozen=True)
class PaymentRoute:
    """Where a workspace's Checkout Sessions are created and its money lands.

    ``mode == "connect"``: sessions are created on the platform with a destination
    charge to ``account_id`` (the workspace's Express account) and the plan's
    application fee. ``mode == "own_key"``: sessions are created with the
    workspace's own secret key, on its own account, with no platform fee.
    """

    gateway: StripeGateway
    mode: str
    account_id: str

    @property
    def takes_application_fee(self) -> bool:
        return self.mode == "connect"


@dataclass(frozen=True)
class ConnectionView:
    """The connection as the Connected apps page shows it (plain data, no secrets)."""

    status: str
    mode: str | None = None
    account_id: str | None = None
    livemode: bool = False
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    requirements: tuple[str, ...] = ()
    disabled_reason: str | None = None
    key_hint: str | None = None
    webhook_registered: bool = False
    connected_by: str | None = None
    connected_at: datetime | None = None
    disconnected_by: str | None = None
    disconnected_at: datetime | None = None
    invoices_unavailable: int = 0

    @property
    def connected_by_name(self) -> str | None:
        return actor_name(self.connected_by)

    @property
    def disconnected_by_name(self) -> str | None:
        if self.disconnected_by == "stripe":
            return "Stripe (the account removed this platform)"
        return actor_name(self.disconnected_by)

    @property
    def linked(self) -> bool:
        return self.status in LINKED or self.status == KEY_UNREADABLE

    @property
    def key_unreadable(self) -> bool:
        return self.status == KEY_UNREADABLE

    @property
    def problem(self) -> str | None:
        """Why the connection cannot take payments although it is linked, for staff."""
        return KEY_UNREADABLE_MESSAGE if self.key_unreadable else None

    @property
    def can_continue_onboarding(self) -> bool:
        return self.mode == CONNECT and self.status in (ONBOARDING, RESTRICTED)

    @property
    def has_express_dashboard(self) -> bool:
        return self.mode == CONNECT and self.linked and self.details_submitted


@dataclass(frozen=True)
class DisconnectResult:
    account_id: str | None
    invoices_marked: int = 0
    sessions_expired: int = 0
    #: Invoice numbers whose Checkout Session had just been paid: the payment stands.
    paid_meanwhile: tuple[str, ...] = ()
    #: Stripe clean-up that could not be done (shown to staff, also in the invoice audit trail).
    warnings: tuple[str, ...] = ()


# -- reading ---------------------------------------------------------------------------


def get_connection(workspace_id: str) -> StripeConnection | None:
    return WorkspaceRepository(get_state().session, workspace_id).find(StripeConnection)


@dataclass(frozen=True)
class StoredSecrets:
    """The plaintext secrets of a connection; ``None`` where nothing is stored or it cannot be read."""

    secret_key: str | None
    webhook_secret: str | None
    #: A stored secret exists but the configured encryption keys cannot decrypt it.
    unreadable: bool = False


def stored_secrets(connection: StripeConnection) -> StoredSecrets:
    """Decrypt the connection's stored secret key and webhook secret.

    The one place that decrypts: a secret the configured keys cannot read (the
    ``INVOICING_SECRET_ENCRYPTION_KEY`` that encrypted it was removed) is reported
    as ``unreadable=True``, never raised, so every caller sees one well-defined
    state (:data:`KEY_UNREADABLE`). Logged without the secrets, naming the workspace.
    """
    box = get_state().secret_box
    values: list[str | None] = []
    unreadable = False
    for token in (connection.secret_key_encrypted, connection.webhook_secret_encrypted):
        if not token:
            values.append(None)
            continue
        try:
            values.append(box.decrypt(token))
        except SecretBoxError:
            values.append(None)
            unreadable = True
    if unreadable:
        log.warning("workspace %s: its stored Stripe secrets cannot be decrypted with the configured "
                    "INVOICING_SECRET_ENCRYPTION_KEY; online payment is unavailable until Stripe is reconnected",
                    connection.workspace_id)
    return StoredSecrets(secret_key=values[0], webhook_secret=values[1], unreadable=unreadable)


def connection_status(connection: StripeConnection | None) -> str:
    """The connection's status as staff see it: the stored one, or :data:`KEY_UNREADABLE`."""
    if connection is None:
        return NOT_CONNECTED
    if connection.mode == OWN_KEY and connection.status in LINKED and stored_secrets(connection).unreadable:
        return KEY_UNREADABLE
    return connection.status


class KeyUnavailable(GatewayError):
    """No usable own Stripe key: none is stored, or it cannot be decrypted (``kind="key_unreadable"``).

    A :class:`GatewayError` that is never retryable: callers that already handle
    Stripe refusing a key handle this the same way.
    """


def own_key_gateway(connection: StripeConnection) -> StripeGateway:
    """The gateway for an own-key workspace's stored (encrypted) secret key.

    Raises :class:`KeyUnavailable` when the key is not stored or cannot be read.
    """
    secrets = stored_secrets(connection)
    if secrets.secret_key is None:
        if secrets.unreadable:
            raise KeyUnavailable(KEY_UNREADABLE_MESSAGE, kind=KEY_UNREADABLE)
        raise KeyUnavailable("This workspace's own Stripe key is no longer stored.", kind="auth")
    return get_state().gateways.for_key(secrets.secret_key)


@dataclass(frozen=True)
class PaymentAvailability:
    """Whether the workspace can take payments online now, and how.

    ``route`` is ``None`` when it cannot; ``status`` is the connection's status as
    staff see it (:func:`connection_status`) and ``message`` says why, when there
    is more to say than "Stripe is not connected" (e.g. :data:`KEY_UNREADABLE_MESSAGE`).
    """

    route: PaymentRoute | None
    status: str
    message: str | None = None


def payment_availability(workspace_id: str) -> PaymentAvailability:
    """The route for new payments, or why there is none. Never raises for an unreadable key."""
    connection = get_connection(workspace_id)
    status = connection.status if connection is not None else NOT_CONNECTED
    if connection is None or status != ACTIVE or not connection.account_id:
        return PaymentAvailability(None, status)
    if connection.mode == OWN_KEY:
        secrets = stored_secrets(connection)
        if secrets.unreadable:  # either secret: without the webhook secret no payment would be recorded
            return PaymentAvailability(None, KEY_UNREADABLE, KEY_UNREADABLE_MESSAGE)
        if secrets.secret_key is None:
            return PaymentAvailability(None, status)
        gateway = get_state().gateways.for_key(secrets.secret_key)
        return PaymentAvailability(PaymentRoute(gateway=gateway, mode=OWN_KEY, account_id=connection.account_id), status)
    route = PaymentRoute(gateway=get_state().platform_gateway(), mode=CONNECT, account_id=connection.account_id)
    return PaymentAvailability(route, status)


def payment_route(workspace_id: str) -> PaymentRoute | None:
    """The route for new payments, or ``None`` when online payment is unavailable."""
    return payment_availability(workspace_id).route


def checkout_gateway(invoice: Invoice) -> StripeGateway:
    """The gateway that owns the invoice's Checkout Sessions (to re-read or expire them).

    Own-key invoices need the workspace's stored key of the same account; Connect
    invoices the platform key. Raises :class:`KeyUnavailable` (a non-retryable
    :class:`GatewayError`) when no usable key is held: none stored, another account
    linked since, the stored key unreadable, or no platform key.
    """
    if invoice.stripe_mode == OWN_KEY:
        connection = get_connection(invoice.workspace_id)
        if connection is None or connection.mode != OWN_KEY or not connection.secret_key_encrypted:
            raise KeyUnavailable("This workspace's own Stripe key is no longer stored.", kind="auth")
        if invoice.stripe_account_id and invoice.stripe_account_id != connection.account_id:
            raise KeyUnavailable("The Stripe account of this invoice is no longer connected.", kind="auth")
        return own_key_gateway(connection)
    if invoice.stripe_mode is None:
        route = payment_route(invoice.workspace_id)
        if route is not None:
            return route.gateway
    if not connect_available():
        raise KeyUnavailable("No platform Stripe key is configured.", kind="auth")
    return get_state().platform_gateway()


def failure_reason(exc: GatewayError) -> str:
    """Why a Stripe clean-up step failed, in a few words to put in a sentence."""
    if exc.kind == KEY_UNREADABLE:
        return "the stored Stripe key cannot be read with the configured encryption key"
    return exc.message.rstrip(".")


def open_session_risk(invoice: Invoice) -> str:
    """What a Checkout Session left open means, for staff and the audit trail."""
    until = (f"until it expires on {invoice.checkout_expires_at:%d %b %Y at %H:%M} UTC"
             if invoice.checkout_expires_at else "until it expires (at most 24 hours after it was created)")
    return (f"The client could still pay through Checkout Session {invoice.checkout_session_id} {until}: "
            "expire it in your Stripe dashboard.")


def unreadable_connections() -> list[StripeConnection]:
    """Own-key connections (every workspace) whose stored secrets cannot be decrypted. For the CLI."""
    from sqlalchemy import select

    rows = get_state().session.scalars(
        select(StripeConnection).where(StripeConnection.mode == OWN_KEY).order_by(StripeConnection.workspace_id)
    ).all()
    return [row for row in rows if connection_status(row) == KEY_UNREADABLE]


def connection_view(workspace_id: str) -> ConnectionView:
    """What the Connected apps page shows for ``workspace_id``."""
    session = get_state().session
    repo = WorkspaceRepository(session, workspace_id)
    unavailable = len(repo.list(Invoice, Invoice.online_payment_unavailable.is_(True), _open_invoice_clause()))
    connection = repo.find(StripeConnection)
    if connection is None:
        return ConnectionView(status=NOT_CONNECTED, invoices_unavailable=unavailable)
    requirements = connection.requirements or {}
    due = list(requirements.get("past_due") or []) + list(requirements.get("currently_due") or [])
    return ConnectionView(
        status=connection_status(connection),
        mode=connection.mode,
        account_id=connection.account_id,
        livemode=connection.livemode,
        charges_enabled=connection.charges_enabled,
        payouts_enabled=connection.payouts_enabled,
        details_submitted=connection.details_submitted,
        requirements=requirement_labels(due),
        disabled_reason=disabled_reason_label(connection.disabled_reason),
        key_hint=connection.secret_key_hint if connection.mode == OWN_KEY else None,
        webhook_registered=bool(connection.webhook_endpoint_id),
        connected_by=connection.connected_by,
        connected_at=connection.connected_at,
        disconnected_by=connection.disconnected_by,
        disconnected_at=connection.disconnected_at,
        invoices_unavailable=unavailable,
    )


def open_invoice_count(workspace_id: str) -> int:
    """Unpaid sent invoices: the ones a disconnect makes unpayable online."""
    repo = WorkspaceRepository(get_state().session, workspace_id)
    return len(repo.list(Invoice, _open_invoice_clause()))


def requirement_labels(fields) -> tuple[str, ...]:
    """Stripe requirement field names as words, deduplicated, in Stripe's order."""
    labels: list[str] = []
    for name in fields:
        label = REQUIREMENT_LABELS.get(name, name)
        if label not in labels:
            labels.append(label)
    return tuple(labels)


def disabled_reason_label(reason: str | None) -> str | None:
    if not reason:
        return None
    return DISABLED_REASON_LABELS.get(reason) or DISABLED_REASON_LABELS.get(reason.split(".")[0], reason)


def connect_available() -> bool:
    """Whether the platform can create Connect accounts (a platform key is configured)."""
    return bool(current_app.config.get("INVOICING_STRIPE_API_KEY"))


# -- Connect Express -------------------------------------------------------------------


def start_onboarding(workspace_id: str, *, actor: str, refresh_url: str, return_url: str) -> str:
    """Create the workspace's Express account if it has none; return a fresh onboarding link.

    The account is created at most once per connection attempt: the row is
    locked while Stripe is asked (PostgreSQL), and the request carries the
    idempotency key ``invoicing-connect-{workspace}-{attempt}`` so a retry, a
    double click or a second admin gets the same account from Stripe even where
    the database cannot lock (SQLite). Used by both "Connect Stripe" and
    "Continue onboarding".
    """
    gateway = _platform_gateway()
    session = get_state().session
    _ensure_connection_row(session, workspace_id)
    with UnitOfWork(session) as uow:
        connection = _lock_connection(session, workspace_id)
        if connection.mode == OWN_KEY and connection.status in LINKED:
            raise ConnectionRefused(
                "This workspace takes payments with its own Stripe key. "
                "Disconnect it before connecting a Stripe Express account."
            )
        if connection.mode == CONNECT and connection.status in LINKED and connection.account_id:
            account_id = connection.account_id
            uow.rollback()  # nothing changed; release the row lock before calling Stripe again
        else:
            account = gateway.create_express_account(
                workspace_id=str(workspace_id),
                email=None,  # same parameters on every retry, or Stripe refuses the idempotency key
                idempotency_key=f"invoicing-connect-{workspace_id}-{connection.attempt}",
            )
            _link(connection, mode=CONNECT, account=account, actor=actor)
            became_active = _apply_account(connection, account)
            if became_active:
                _on_active(uow, session, connection)
            uow.commit()
            account_id = account.id
            log.info("workspace %s: created Stripe Express account %s", workspace_id, account_id)
    return gateway.create_onboarding_link(account_id, refresh_url=refresh_url, return_url=return_url)


def sync_account(workspace_id: str) -> ConnectionView:
    """Re-read the workspace's Express account from Stripe (the onboarding return URL)."""
    connection = get_connection(workspace_id)
    if connection is not None and connection.mode == CONNECT and connection.status in LINKED:
        account = _platform_gateway().retrieve_account(connection.account_id)
        apply_account_update(account)
    return connection_view(workspace_id)


def dashboard_link(workspace_id: str) -> str:
    """A single-use login link to the workspace's Express dashboard."""
    connection = get_connection(workspace_id)
    if connection is None or connection.mode != CONNECT or connection.status not in LINKED:
        raise ConnectionRefused("This workspace has no Stripe Express account connected.")
    if not connection.details_submitted:
        raise ConnectionRefused("Finish Stripe onboarding first; the Stripe dashboard opens once it is complete.")
    return _platform_gateway().create_login_link(connection.account_id)


# -- own secret key ----------------------------------------------------------------------


def connect_own_key(workspace_id: str, *, actor: str, secret_key: str, webhook_url: str) -> ConnectionView:
    """Link the Stripe account of ``secret_key`` to the workspace.

    Order matters: the key is proven with a live call, then a webhook endpoint
    is registered on the account, and only then is anything written (key and
    signing secret encrypted). If the database write fails, the endpoint is
    deleted again. Pasting a new key of the already linked account rotates it.
    """
    key = (secret_key or "").strip()
    check_secret_key_format(key)
    state = get_state()
    session = state.session
    gateway = state.gateways.for_key(key)
    account = gateway.retrieve_own_account()

    elsewhere = find_connection_by_account(session, account.id)
    if elsewhere is not None and elsewhere.workspace_id != str(workspace_id):
        raise ConnectionRefused(
            "This Stripe account is already connected to another workspace. "
            "A Stripe account can take payments for one workspace at a time."
        )

    _ensure_connection_row(session, workspace_id)
    with UnitOfWork(session) as uow:
        connection = _lock_connection(session, workspace_id)
        rotating = connection.mode == OWN_KEY and connection.status in LINKED
        if connection.status in LINKED and not (rotating and connection.account_id == account.id):
            raise ConnectionRefused(
                "This workspace is already connected to a Stripe account. Disconnect it before adding a different one."
            )
        old_endpoint_id = connection.webhook_endpoint_id if rotating else None

        endpoint = gateway.create_webhook_endpoint(
            url=webhook_url,
            events=list(stripe_events.own_key_webhook_events()),
            metadata={"workspace_id": str(workspace_id), "managed_by": "invoicing_plugin"},
        )
        try:
            if not endpoint.secret:
                raise ConnectionRefused("Stripe did not return a signing secret for the webhook endpoint.")
            if not rotating:
                _link(connection, mode=OWN_KEY, account=account, actor=actor)
            connection.livemode = gateway.livemode
            connection.secret_key_encrypted = state.secret_box.encrypt(key)
            connection.secret_key_hint = mask_secret(key)
            connection.webhook_endpoint_id = endpoint.id
            connection.webhook_secret_encrypted = state.secret_box.encrypt(endpoint.secret)
            became_active = _apply_account(connection, account)
            if became_active:
                _on_active(uow, session, connection)
            uow.commit()
        except BaseException:
            _delete_endpoint_quietly(gateway, endpoint.id)
            raise
    if old_endpoint_id and old_endpoint_id != endpoint.id:
        _delete_endpoint_quietly(gateway, old_endpoint_id)
    log.info("workspace %s: %s own Stripe key for account %s", workspace_id, "rotated" if rotating else "linked",
             account.id)
    return connection_view(workspace_id)


def check_secret_key_format(key: str) -> None:
    if key.startswith("pk_"):
        raise ConnectionRefused("That is a publishable key. Paste the secret key (sk_…) or a restricted key (rk_…).")
    if key.startswith("whsec_"):
        raise ConnectionRefused("That is a webhook signing secret. Paste the secret key (sk_…) or a restricted key (rk_…).")
    if not SECRET_KEY_PATTERN.match(key):
        raise ConnectionRefused(
            "That does not look like a Stripe secret key. It starts with sk_live_, sk_test_, rk_live_ or rk_test_."
        )


# -- disconnecting ---------------------------------------------------------------------------


def disconnect(workspace_id: str, *, actor: str) -> DisconnectResult:
    """Remove the Stripe link of the workspace; the Stripe account itself is untouched.

    Open Checkout Sessions of unpaid invoices are expired, those invoices are
    flagged ``online_payment_unavailable`` (with an audit event) and, for an own
    key, the webhook endpoint the plugin registered is deleted. A temporary
    Stripe failure (network, rate limit) aborts and changes nothing in the
    database; a permanent one (revoked key, account gone) does not block the
    disconnect and is reported in :attr:`DisconnectResult.warnings`.
    """
    session = get_state().session
    with UnitOfWork(session) as uow:
        connection = _lock_connection(session, workspace_id, create=False)
        if connection is None or connection.status not in LINKED:
            raise ConnectionRefused("Stripe is not connected to this workspace.")
        result = _unlink(uow, session, connection, actor=actor)
        _commit(uow)
    log.info("workspace %s: Stripe account %s disconnected by %s", workspace_id, result.account_id, actor)
    return result


# -- webhook entry points ------------------------------------------------------------------


def apply_account_update(account: AccountInfo) -> None:
    """Bring the connection of ``account.id`` up to date (``account.updated``, return URL).

    Workspace-agnostic: the connection is found by account id. Unknown or
    disconnected accounts are ignored. Sends ``stripe_connected`` when the
    account becomes able to take payments; invoices flagged as unpayable online
    become payable again then.
    """
    session = get_state().session
    with UnitOfWork(session) as uow:
        connection = find_connection_by_account(session, account.id, for_update=True)
        if connection is None:
            log.info("account update for %s ignored: not linked to any workspace", account.id)
            return
        became_active = _apply_account(connection, account)
        if became_active:
            _on_active(uow, session, connection)
        _commit(uow)


def apply_deauthorization(account_id: str) -> None:
    """The account owner removed the platform (``account.application.deauthorized``).

    Marks the connection disconnected by ``"stripe"``, expires open Checkout
    Sessions of its unpaid invoices (they are the platform's, so the platform
    still can), flags those invoices, and sends ``stripe_disconnected``. A
    temporary Stripe failure raises :class:`GatewayError` so the event is
    retried; replays are harmless.
    """
    session = get_state().session
    with UnitOfWork(session) as uow:
        connection = find_connection_by_account(session, account_id, for_update=True)
        if connection is None or connection.mode != CONNECT:
            log.info("deauthorization of %s ignored: not a linked Connect account", account_id)
            return
        _unlink(uow, session, connection, actor="stripe")
        _commit(uow)
    log.info("workspace %s: Stripe account %s deauthorized the platform", connection.workspace_id, account_id)


# -- internals ------------------------------------------------------------------------------


def _platform_gateway() -> StripeGateway:
    if not connect_available():
        raise ConnectionRefused(
            "Stripe Connect is not set up on this platform (no platform Stripe key). "
            "You can add your own Stripe secret key instead."
        )
    return get_state().platform_gateway()


def _ensure_connection_row(session: Session, workspace_id: str) -> None:
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


def _lock_connection(session: Session, workspace_id: str, *, create: bool = True) -> StripeConnection | None:
    """The connection row, locked until the transaction ends (``SELECT ... FOR UPDATE``).

    ``populate_existing`` matters: after waiting for another request's lock we
    must see what that request committed, not what this session loaded before.
    """
    repo = WorkspaceRepository(session, workspace_id)
    stmt = repo.select(StripeConnection).with_for_update().execution_options(populate_existing=True)
    connection = session.scalars(stmt).first()
    if connection is None and create:
        raise RuntimeError("connection row missing; call _ensure_connection_row first")
    return connection


def _link(connection: StripeConnection, *, mode: str, account: AccountInfo, actor: str) -> None:
    """Point the row at a new account, forgetting everything about the previous link."""
    connection.mode = mode
    connection.account_id = account.id
    connection.status = ONBOARDING  # _apply_account sets the real one
    connection.secret_key_encrypted = None
    connection.secret_key_hint = None
    connection.webhook_endpoint_id = None
    connection.webhook_secret_encrypted = None
    connection.connected_by = actor
    connection.connected_at = utcnow()
    connection.disconnected_by = None
    connection.disconnected_at = None


def _account_status(account: AccountInfo) -> str:
    if account.charges_enabled:
        return ACTIVE
    reason = account.disabled_reason or ""
    if account.details_submitted or (reason and not reason.startswith("requirements.")):
        return RESTRICTED
    return ONBOARDING


def _apply_account(connection: StripeConnection, account: AccountInfo) -> bool:
    """Copy Stripe's view of the account onto the row; ``True`` if it just became active."""
    was_active = connection.status == ACTIVE
    connection.charges_enabled = account.charges_enabled
    connection.payouts_enabled = account.payouts_enabled
    connection.details_submitted = account.details_submitted
    connection.requirements = account.requirements
    connection.disabled_reason = account.disabled_reason
    if connection.mode == CONNECT:
        connection.livemode = account.livemode
    connection.status = _account_status(account)
    return connection.status == ACTIVE and not was_active


def _open_invoice_clause():
    """Invoices the client may still start paying (``PAYABLE``: ``processing`` is not among them)."""
    return Invoice.status.in_(PAYABLE)


def _status_note(repo: WorkspaceRepository, invoice: Invoice, actor: str, action: str, detail: str,
                 *, result: str = "ok") -> None:
    """An audit entry that changes no status (the invoice's online-payment situation)."""
    record_event(repo, invoice, actor, action, from_status=invoice.status, to_status=invoice.status,
                 result=result, detail=detail)


def _on_active(uow: UnitOfWork, session: Session, connection: StripeConnection) -> None:
    """The account can take payments (again): lift the flag from unpaid invoices, tell the host."""
    repo = WorkspaceRepository(session, connection.workspace_id)
    for invoice in repo.list(Invoice, Invoice.online_payment_unavailable.is_(True)):
        invoice.online_payment_unavailable = False
        _status_note(
            repo, invoice, "system", "online_payment_restored",
            f"Stripe account {connection.account_id} is connected again; online payment is available.",
        )
    uow.emit(
        signals.stripe_connected,
        workspace_id=connection.workspace_id,
        account_id=connection.account_id,
        mode=connection.mode,
    )


def _unlink(uow: UnitOfWork, session: Session, connection: StripeConnection, *, actor: str) -> DisconnectResult:
    """Expire open sessions, flag unpaid invoices, drop the webhook endpoint, mark the row."""
    repo = WorkspaceRepository(session, connection.workspace_id)
    who = "Stripe (the account removed the platform)" if actor == "stripe" else actor
    warnings: list[str] = []
    expired = 0
    paid_meanwhile: list[str] = []
    marked = 0

    for invoice in repo.list(Invoice, _open_invoice_clause(), order_by=Invoice.id):
        label = invoice.number or f"draft #{invoice.id}"
        notes = [f"Stripe was disconnected by {who}."]
        result = "ok"
        if invoice.checkout_session_id:
            try:
                checkout = checkout_gateway(invoice).expire_checkout_session(invoice.checkout_session_id)
            except GatewayError as exc:
                if exc.retryable:
                    raise  # nothing is written; the caller tries again
                result = "failed"
                reason = failure_reason(exc)
                risk = open_session_risk(invoice)
                notes.append(f"Its Checkout Session could not be expired ({reason}). {risk}")
                warnings.append(f"Invoice {label}: the Checkout Session could not be expired ({reason}). {risk}")
            else:
                if checkout.status == "complete":
                    # The client paid a moment ago: the payment stands, the webhook records it.
                    paid_meanwhile.append(label)
                    _status_note(
                        repo, invoice, actor, "checkout_session_kept",
                        f"Stripe was disconnected by {who} after the client completed payment.",
                    )
                    continue
                expired += 1
                notes.append("Its Checkout Session was expired.")
                invoice.checkout_session_id = None
                invoice.checkout_url = None
                invoice.checkout_expires_at = None
        notes.append("Online payment is unavailable until Stripe is reconnected.")
        invoice.online_payment_unavailable = True
        marked += 1
        _status_note(repo, invoice, actor, "online_payment_unavailable", " ".join(notes), result=result)

    if connection.mode == OWN_KEY and connection.webhook_endpoint_id:
        try:
            own_key_gateway(connection).delete_webhook_endpoint(connection.webhook_endpoint_id)
        except GatewayError as exc:
            if exc.retryable:
                raise
            warnings.append(
                f"The webhook endpoint {connection.webhook_endpoint_id} could not be deleted from your Stripe "
                f"account ({failure_reason(exc)}). Delete it in the Stripe dashboard."
            )

    account_id = connection.account_id
    connection.status = DISCONNECTED
    connection.disconnected_by = actor
    connection.disconnected_at = utcnow()
    connection.attempt = (connection.attempt or 0) + 1  # a reconnect creates a new account
    connection.charges_enabled = False
    connection.payouts_enabled = False
    # Secrets are not needed any more: do not keep them.
    connection.secret_key_encrypted = None
    connection.webhook_secret_encrypted = None
    connection.webhook_endpoint_id = None
    uow.emit(signals.stripe_disconnected, workspace_id=connection.workspace_id, account_id=account_id, actor=actor)
    return DisconnectResult(
        account_id=account_id,
        invoices_marked=marked,
        sessions_expired=expired,
        paid_meanwhile=tuple(paid_meanwhile),
        warnings=tuple(warnings),
    )


def _commit(uow: UnitOfWork) -> None:
    try:
        uow.commit()
    except StaleDataError:
        uow.rollback()
        raise ConnectionRefused("An invoice changed at the same moment. Nothing was changed; please try again.") from None


def _delete_endpoint_quietly(gateway: StripeGateway, endpoint_id: str) -> None:
    try:
        gateway.delete_webhook_endpoint(endpoint_id)
    except GatewayError as exc:
        log.warning("could not delete webhook endpoint %s after a failed save: %s", endpoint_id, exc.message)
