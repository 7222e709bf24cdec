"""Re-reading Stripe: apply an invoice's current Checkout Session once, in its own transaction.

For ``flask invoicing reconcile``, the pay link's success return, and void / mark-paid
when Stripe says the session already completed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..domain.invoice import Action
from ..domain.statuses import AWAITING_MONEY
from ..gateways.stripe_gateway import GatewayError
from ..persistence.models import Invoice
from ..persistence.repository import NotFound
from .common import lock_invoice_by_id
from .connection_routes import checkout_gateway
from .payment_confirmation import send_payment_confirmation
from .payment_outcome import PaymentOutcome
from .payment_recording import action_for_session, apply_checkout_session
from .ports import CheckoutSession, PaymentProvider
from .uow import UnitOfWork, retry_on_conflict

log = logging.getLogger("invoicing_plugin.payments")

#: Invoice statuses whose Checkout Session may still turn into money.
AWAITING_STRIPE = AWAITING_MONEY  # from the status table


def gateway_for_invoice(invoice: Invoice, *, uow: UnitOfWork | None = None) -> PaymentProvider:
    """The Stripe key an invoice's Checkout Sessions were created with.

    See :func:`.connection_routes.checkout_gateway`: raises a non-retryable
    :class:`GatewayError` when no usable key is held (e.g. the stored key cannot be read).
    """
    return checkout_gateway(invoice, uow=uow)


def _action_from_stripe(gateway: PaymentProvider, session: CheckoutSession) -> Action | None:
    """The session's meaning, asking its payment whether an unpaid complete session failed."""
    action = action_for_session(session)
    if action is Action.PAYMENT_STARTED and session.payment_id:
        payment = gateway.retrieve_payment(session.payment_id)
        if payment.failed:
            return Action.PAYMENT_FAILED
        if payment.succeeded:
            return Action.PAYMENT_SUCCEEDED
    return action


@dataclass(frozen=True)
class SyncResult:
    invoice_id: int
    status: str
    outcome: PaymentOutcome | None = None
    skipped: str | None = None  # why nothing was asked (not awaiting Stripe, locked elsewhere ...)
    error: str | None = None


def sync_invoice(invoice_id: int, *, source: str = "return", skip_locked: bool = False,
                 uow: UnitOfWork | None = None) -> SyncResult:
    """Re-read the invoice's current Checkout Session and apply it (own transaction).

    The invoice row stays locked while Stripe is asked, so a webhook or a second
    reconcile run for the same invoice waits (or, with ``skip_locked``, moves on)
    instead of recording the payment a second time.
    """
    uow = uow or UnitOfWork.for_app()
    confirm = False
    with uow:
        invoice = lock_invoice_by_id(invoice_id, skip_locked=skip_locked, uow=uow)
        if invoice is None:
            uow.session.rollback()
            if skip_locked and uow.session.get(Invoice, int(invoice_id)) is not None:
                return SyncResult(int(invoice_id), status="", skipped="locked by another process")
            raise NotFound(f"Invoice {invoice_id!r}")
        status = invoice.status
        if status not in AWAITING_STRIPE or not invoice.checkout_session_id:
            return SyncResult(invoice.id, status=status, skipped="not awaiting a Stripe payment")
        try:
            gateway = gateway_for_invoice(invoice, uow=uow)
            session = gateway.retrieve_checkout_session(invoice.checkout_session_id)
            action = _action_from_stripe(gateway, session)
        except GatewayError as exc:
            log.warning("could not re-read checkout session of invoice %s: %s", invoice.id, exc.message)
            return SyncResult(invoice.id, status=status, error=exc.message)
        outcome = apply_checkout_session(session, source=source, action=action, uow=uow, invoice=invoice)
        status = invoice.status
        confirm = outcome.confirm
        uow.commit()
    if confirm:
        send_payment_confirmation(invoice_id)
    return SyncResult(int(invoice_id), status=status, outcome=outcome)


def sync_invoice_from_stripe(invoice_id: int) -> str:
    """Ask Stripe about the invoice's current Checkout Session and record the outcome once.

    For the pay link's success return (a client who paid sees "paid" even if the
    webhook is late) and for void / mark-paid when Stripe says the session already
    completed. Returns the invoice's status afterwards. If Stripe cannot be reached
    the invoice is left as it is (the webhook or reconcile will catch up). Raises
    :class:`~invoicing_plugin.persistence.repository.NotFound` for an unknown id.

    It commits its own transaction: call it outside a unit of work of your own.
    """
    return retry_on_conflict(lambda: sync_invoice(invoice_id, source="return")).status


