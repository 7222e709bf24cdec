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

The use cases live by step: this module (reading, payment routes, stored secrets),
:mod:`.connection_view` (the Connected apps page), :mod:`.connection_onboarding`
(Connect Express), :mod:`.connection_own_key`, :mod:`.connection_disconnect`, and
:mod:`.connection_rows` (what they share). :mod:`.connections` re-exports them all.

Every function takes an optional ``uow`` (:class:`~.uow.UnitOfWork`: session,
gateways, secret box, settings) and defaults to the app's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from ..crypto import MissingEncryptionKey, SecretBoxError
from ..domain.statuses import PAYABLE
from ..gateways import stripe_events
from ..gateways.stripe_gateway import GatewayError
from ..persistence.models import Invoice, StripeConnection
from .common import unit_of_work
from .errors import InvoicingError
from .ports import PaymentProvider
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



class ConnectionRefused(InvoicingError):
    """The connection cannot be changed as asked; ``message`` is fit to show to staff."""


@dataclass(frozen=True)
class PaymentRoute:
    """Where a workspace's Checkout Sessions are created and its money lands.

    ``mode == "connect"``: sessions are created on the platform with a destination
    charge to ``account_id`` (the workspace's Express account) and the plan's
    application fee. ``mode == "own_key"``: sessions are created with the
    workspace's own secret key, on its own account, with no platform fee. ``gateway`` is
    the payment provider (:class:`~.ports.PaymentProvider`) of the key that makes them.
    """

    gateway: PaymentProvider
    mode: str
    account_id: str

    @property
    def takes_application_fee(self) -> bool:
        return self.mode == "connect"


#: What staff hear when an invoice changed while the connection was being changed.
CONFLICT_MESSAGE = "An invoice changed at the same moment. Nothing was changed; please try again."


def get_connection(workspace_id: str, *, uow: UnitOfWork | None = None) -> StripeConnection | None:
    return (uow or unit_of_work()).repository(workspace_id).find(StripeConnection)


@dataclass(frozen=True)
class StoredSecrets:
    """The plaintext secrets of a connection; ``None`` where nothing is stored or it cannot be read."""

    secret_key: str | None
    webhook_secret: str | None
    #: A stored secret exists but the configured encryption keys cannot decrypt it.
    unreadable: bool = False


def stored_secrets(connection: StripeConnection, *, uow: UnitOfWork | None = None) -> StoredSecrets:
    """Decrypt the connection's stored secret key and webhook secret.

    The one place that decrypts: a secret the configured keys cannot read (the
    ``INVOICING_SECRET_ENCRYPTION_KEY`` that encrypted it was removed) is reported
    as ``unreadable=True``, never raised, so every caller sees one well-defined
    state (:data:`KEY_UNREADABLE`). Logged without the secrets, naming the workspace.
    """
    box = (uow or unit_of_work()).secret_box
    values: list[str | None] = []
    unreadable: SecretBoxError | bool = False
    for token in (connection.secret_key_encrypted, connection.webhook_secret_encrypted):
        if not token:
            values.append(None)
            continue
        try:
            values.append(box.decrypt(token))
        except SecretBoxError as exc:
            values.append(None)
            unreadable = exc
    if isinstance(unreadable, MissingEncryptionKey):
        log.error("workspace %s: its stored Stripe secrets cannot be read: %s", connection.workspace_id, unreadable)
    elif unreadable:
        log.warning("workspace %s: its stored Stripe secrets cannot be decrypted with the configured "
                    "INVOICING_SECRET_ENCRYPTION_KEY; online payment is unavailable until Stripe is reconnected",
                    connection.workspace_id)
    return StoredSecrets(secret_key=values[0], webhook_secret=values[1], unreadable=bool(unreadable))


def connection_status(connection: StripeConnection | None, *, uow: UnitOfWork | None = None) -> str:
    """The connection's status as staff see it: the stored one, or :data:`KEY_UNREADABLE`."""
    if connection is None:
        return NOT_CONNECTED
    if connection.mode == OWN_KEY and connection.status in LINKED and stored_secrets(connection, uow=uow).unreadable:
        return KEY_UNREADABLE
    return connection.status


class KeyUnavailable(GatewayError):
    """No usable own Stripe key: none is stored, or it cannot be decrypted (``kind="key_unreadable"``).

    A :class:`GatewayError` that is never retryable: callers that already handle
    Stripe refusing a key handle this the same way.
    """


def own_key_gateway(connection: StripeConnection, *, uow: UnitOfWork | None = None) -> PaymentProvider:
    """The gateway for an own-key workspace's stored (encrypted) secret key.

    Raises :class:`KeyUnavailable` when the key is not stored or cannot be read.
    """
    uow = uow or unit_of_work()
    secrets = stored_secrets(connection, uow=uow)
    if secrets.secret_key is None:
        if secrets.unreadable:
            raise KeyUnavailable(KEY_UNREADABLE_MESSAGE, kind=KEY_UNREADABLE)
        raise KeyUnavailable("This workspace's own Stripe key is no longer stored.", kind="auth")
    return uow.gateways.for_key(secrets.secret_key)


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


def payment_availability(workspace_id: str, *, uow: UnitOfWork | None = None) -> PaymentAvailability:
    """The route for new payments, or why there is none. Never raises for an unreadable key."""
    uow = uow or unit_of_work()
    connection = get_connection(workspace_id, uow=uow)
    status = connection.status if connection is not None else NOT_CONNECTED
    if connection is None or status != ACTIVE or not connection.account_id:
        return PaymentAvailability(None, status)
    if connection.mode == OWN_KEY:
        secrets = stored_secrets(connection, uow=uow)
        if secrets.unreadable:  # either secret: without the webhook secret no payment would be recorded
            return PaymentAvailability(None, KEY_UNREADABLE, KEY_UNREADABLE_MESSAGE)
        if secrets.secret_key is None:
            return PaymentAvailability(None, status)
        gateway = uow.gateways.for_key(secrets.secret_key)
        return PaymentAvailability(PaymentRoute(gateway=gateway, mode=OWN_KEY, account_id=connection.account_id), status)
    route = PaymentRoute(gateway=uow.platform_gateway(), mode=CONNECT, account_id=connection.account_id)
    return PaymentAvailability(route, status)


def payment_route(workspace_id: str, *, uow: UnitOfWork | None = None) -> PaymentRoute | None:
    """The route for new payments, or ``None`` when online payment is unavailable."""
    return payment_availability(workspace_id, uow=uow).route


def checkout_gateway(invoice: Invoice, *, uow: UnitOfWork | None = None) -> PaymentProvider:
    """The gateway that owns the invoice's Checkout Sessions (to re-read or expire them).

    Own-key invoices need the workspace's stored key of the same account; Connect
    invoices the platform key. Raises :class:`KeyUnavailable` (a non-retryable
    :class:`GatewayError`) when no usable key is held: none stored, another account
    linked since, the stored key unreadable, or no platform key.
    """
    uow = uow or unit_of_work()
    if invoice.stripe_mode == OWN_KEY:
        connection = get_connection(invoice.workspace_id, uow=uow)
        if connection is None or connection.mode != OWN_KEY or not connection.secret_key_encrypted:
            raise KeyUnavailable("This workspace's own Stripe key is no longer stored.", kind="auth")
        if invoice.stripe_account_id and invoice.stripe_account_id != connection.account_id:
            raise KeyUnavailable("The Stripe account of this invoice is no longer connected.", kind="auth")
        return own_key_gateway(connection, uow=uow)
    if invoice.stripe_mode is None:
        route = payment_route(invoice.workspace_id, uow=uow)
        if route is not None:
            return route.gateway
    if not connect_available(uow=uow):
        raise KeyUnavailable("No platform Stripe key is configured.", kind="auth")
    return uow.platform_gateway()


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


def unreadable_connections(*, uow: UnitOfWork | None = None) -> list[StripeConnection]:
    """Own-key connections (every workspace) whose stored secrets cannot be decrypted. For the CLI."""
    uow = uow or unit_of_work()
    rows = uow.session.scalars(
        select(StripeConnection).where(StripeConnection.mode == OWN_KEY).order_by(StripeConnection.workspace_id)
    ).all()
    return [row for row in rows if connection_status(row, uow=uow) == KEY_UNREADABLE]


def connect_available(*, uow: UnitOfWork | None = None) -> bool:
    """Whether the platform can create Connect accounts (a platform key is configured)."""
    return bool((uow or unit_of_work()).settings.get("INVOICING_STRIPE_API_KEY"))



def open_invoice_clause():
    """Invoices the client may still start paying (``PAYABLE``: ``processing`` is not among them)."""
    return Invoice.status.in_(PAYABLE)

