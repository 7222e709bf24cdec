"""Disconnecting a workspace from Stripe: by staff, or by the account owner (deauthorization).

Open Checkout Sessions of unpaid invoices are expired, those invoices flagged
``online_payment_unavailable``, and an own key's webhook endpoint deleted. Both
use cases take an optional ``uow`` (:class:`~.uow.UnitOfWork`) and default to the app's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from .. import signals
from ..gateways.stripe_gateway import GatewayError
from ..persistence.models import Invoice, StripeConnection
from ..persistence.repository import find_connection_by_account
from .common import commit_or_conflict, unit_of_work
from .connection_routes import (
    CONFLICT_MESSAGE,
    CONNECT,
    DISCONNECTED,
    LINKED,
    OWN_KEY,
    ConnectionRefused,
    checkout_gateway,
    failure_reason,
    open_invoice_clause,
    open_session_risk,
    own_key_gateway,
)
from .connection_rows import lock_connection, status_note
from .uow import UnitOfWork

log = logging.getLogger("invoicing_plugin.connections")


@dataclass(frozen=True)
class DisconnectResult:
    account_id: str | None
    invoices_marked: int = 0
    sessions_expired: int = 0
    #: Invoice numbers whose Checkout Session had just been paid: the payment stands.
    paid_meanwhile: tuple[str, ...] = ()
    #: Stripe clean-up that could not be done (shown to staff, also in the invoice audit trail).
    warnings: tuple[str, ...] = ()



def disconnect(workspace_id: str, *, actor: str, uow: UnitOfWork | None = None) -> DisconnectResult:
    """Remove the Stripe link of the workspace; the Stripe account itself is untouched.

    Open Checkout Sessions of unpaid invoices are expired, those invoices are
    flagged ``online_payment_unavailable`` (with an audit event) and, for an own
    key, the webhook endpoint the plugin registered is deleted. A temporary
    Stripe failure (network, rate limit) aborts and changes nothing in the
    database; a permanent one (revoked key, account gone) does not block the
    disconnect and is reported in :attr:`DisconnectResult.warnings`.
    """
    uow = uow or unit_of_work()
    session = uow.session
    with uow:
        connection = lock_connection(session, workspace_id, create=False)
        if connection is None or connection.status not in LINKED:
            raise ConnectionRefused("Stripe is not connected to this workspace.")
        result = _unlink(uow, session, connection, actor=actor)
        commit_or_conflict(uow, error=ConnectionRefused, message=CONFLICT_MESSAGE)
    log.info("workspace %s: Stripe account %s disconnected by %s", workspace_id, result.account_id, actor)
    return result


def apply_deauthorization(account_id: str, *, uow: UnitOfWork | None = None) -> None:
    """The account owner removed the platform (``account.application.deauthorized``).

    Marks the connection disconnected by ``"stripe"``, expires open Checkout
    Sessions of its unpaid invoices (they are the platform's, so the platform
    still can), flags those invoices, and sends ``stripe_disconnected``. A
    temporary Stripe failure raises :class:`GatewayError` so the event is
    retried; replays are harmless.
    """
    uow = uow or unit_of_work()
    session = uow.session
    with uow:
        connection = find_connection_by_account(session, account_id, for_update=True)
        if connection is None or connection.mode != CONNECT:
            log.info("deauthorization of %s ignored: not a linked Connect account", account_id)
            return
        _unlink(uow, session, connection, actor="stripe")
        commit_or_conflict(uow, error=ConnectionRefused, message=CONFLICT_MESSAGE)
    log.info("workspace %s: Stripe account %s deauthorized the platform", connection.workspace_id, account_id)



def _unlink(uow: UnitOfWork, session: Session, connection: StripeConnection, *, actor: str) -> DisconnectResult:
    """Expire open sessions, flag unpaid invoices, drop the webhook endpoint, mark the row."""
    repo = uow.repository(connection.workspace_id)
    who = "Stripe (the account removed the platform)" if actor == "stripe" else actor
    warnings: list[str] = []
    expired = 0
    paid_meanwhile: list[str] = []
    marked = 0

    for invoice in repo.list(Invoice, open_invoice_clause(), order_by=Invoice.id):
        label = invoice.number or f"draft #{invoice.id}"
        notes = [f"Stripe was disconnected by {who}."]
        result = "ok"
        if invoice.checkout_session_id:
            try:
                checkout = checkout_gateway(invoice, uow=uow).expire_checkout_session(invoice.checkout_session_id)
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
                    status_note(
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
        status_note(repo, invoice, actor, "online_payment_unavailable", " ".join(notes), result=result)

    if connection.mode == OWN_KEY and connection.webhook_endpoint_id:
        try:
            own_key_gateway(connection, uow=uow).delete_webhook_endpoint(connection.webhook_endpoint_id)
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
    connection.disconnected_at = uow.clock()
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

