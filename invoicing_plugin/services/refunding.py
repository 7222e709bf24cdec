"""Staff refund a paid invoice through Stripe, in full or in part, from its page.

:func:`refund_invoice` asks Stripe for the refund and records the request in the audit
trail; it does **not** change the refunded amount or the status. Those follow from the
events the refund causes (``charge.refunded``, and ``refund.failed`` should it come back,
:mod:`.payment_refunds`), exactly once, as for a refund made in the Stripe Dashboard.

* Who pays it back: a Connect invoice's charge lives on the platform (a destination
  charge), so the platform refunds it with ``reverse_transfer`` and
  ``refund_application_fee`` -- the workspace's Express account gives back its share and
  the platform its fee, in proportion
  (https://docs.stripe.com/connect/destination-charges#issuing-refunds). An own-key
  invoice is refunded on the workspace's own account with its stored key.
* Which invoices: those the state machine lets be refunded (``paid``, ``paid_after_void``),
  paid through Stripe (a payment recorded by hand is refunded the way it came), up to what
  is left on the charge being refunded, the latest Stripe payment (:func:`refundable_amount`:
  that payment, less refunded, less a lost dispute; not what was paid by hand).
* Input: ``amount`` as staff type it (``"125.50"``, read as a Decimal into minor units,
  :func:`~invoicing_plugin.domain.money.parse_refund_amount`; empty: all that is left),
  ``reason`` one of Stripe's (:data:`REFUND_REASONS`; empty: not said), ``note`` free text
  kept in the refund's metadata (at most :data:`NOTE_MAX` characters). Bad input is
  :class:`~.errors.ValidationFailed` (per field) before anything is locked or sent.
* Idempotency: the key is the invoice's nonce plus the form's random request token
  (:func:`.idempotency.refund_key`): a double submit is one refund.
* Stripe refusing (more than is left at Stripe, a charged-back payment, ...) is an
  :class:`~.errors.InvoicingError` with Stripe's words; the attempt is kept in the audit
  trail as failed and nothing else changes. Stripe not answering (network error, 5xx,
  rate limit) is :class:`RefundUnanswered`: the refund may have been made, so the same
  request (same token) is to be sent again, never a new one.

Errors: :class:`ValidationFailed`, :class:`InvoicingError`,
:class:`~invoicing_plugin.persistence.repository.NotFound` (not in this workspace).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy.orm import object_session

from ..domain.errors import AmountError, InvalidTransition
from ..domain.invoice import Action, InvoiceStatus, allowed_actions, transition
from ..domain.money import Money, format_money, parse_refund_amount
from ..gateways.stripe_gateway import GatewayError
from ..persistence.models import Invoice
from .common import commit_or_conflict, lock_invoice, record_event, record_failure, unit_of_work
from .connection_routes import KeyUnavailable, checkout_gateway, failure_reason
from .errors import InvoicingError, ValidationFailed
from .idempotency import refund_key
from .payment_refunds import recorded_ids
from .payment_rows import intent_amount
from .text import check_text
from .uow import UnitOfWork
from .views import InvoiceSnapshot

__all__ = ["NOTE_MAX", "REFUND_REASONS", "RefundRequested", "RefundUnanswered", "new_request_token", "refund_invoice",
           "refundable_amount"]

#: Stripe's refund reasons (https://docs.stripe.com/api/refunds/create#create_refund-reason) and their words.
REFUND_REASONS: Mapping[str, str] = {
    "requested_by_customer": "Requested by the client",
    "duplicate": "Duplicate payment",
    "fraudulent": "Fraudulent payment",
}
#: A metadata value holds at most 500 characters (https://docs.stripe.com/metadata).
NOTE_MAX = 500

#: Audit actions.
REFUND_REQUESTED = "refund_requested"
REFUND_REFUSED = "refund"  # the failed attempt (record_failure)


class RefundUnanswered(InvoicingError):
    """Stripe did not answer (network error, 5xx, rate limit): the refund may or may not have
    been made. Send the *same* request again (same request token and input): Stripe answers
    it once, with the refund if it was made."""


@dataclass(frozen=True)
class RefundRequested:
    """Stripe accepted the refund: ``status`` ``succeeded`` or ``pending`` (the invoice
    changes when Stripe's events arrive)."""

    refund_id: str
    amount: Money
    status: str
    invoice: InvoiceSnapshot


def new_request_token() -> str:
    """The random token a refund form carries (see :func:`.idempotency.refund_key`)."""
    return secrets.token_hex(16)


def refundable_amount(invoice: Invoice) -> Money | None:
    """What staff may still refund through Stripe, or ``None`` when the invoice cannot be refunded.

    A refund acts on one charge, the invoice's latest Stripe payment (``payment_intent_id``),
    and Stripe refuses more than that charge's unrefunded amount ("Refund amount ... is
    greater than unrefunded amount on charge", https://docs.stripe.com/api/refunds/create#create_refund-amount).
    So what is left is that payment's amount (its payment row; not what was paid by hand or
    through an earlier part), less what is recorded as refunded and lost to a dispute (both
    recorded against the latest payment, see docs/invoices.md "Known limits"). An invoice
    whose Stripe payment has no row (recorded before payment rows existed) counts all it was paid.
    """
    if Action.REFUND_FULL not in allowed_actions(invoice.status) or not invoice.payment_intent_id:
        return None
    paid = invoice.amount_paid_minor if invoice.amount_paid_minor is not None else invoice.amount_minor
    session = object_session(invoice)
    charged = intent_amount(session, invoice.payment_intent_id) if session is not None else None
    if charged is not None:
        paid = min(paid, charged)
    left = paid - (invoice.amount_refunded_minor or 0) - (invoice.amount_dispute_lost_minor or 0)
    return Money(left, invoice.currency) if left > 0 else None


def _check_input(reason: str | None, note: str | None, request_token: str | None) -> tuple[str | None, str | None]:
    errors: dict[str, str] = {}
    reason = (reason or "").strip() or None
    if reason is not None and reason not in REFUND_REASONS:
        errors["reason"] = "Choose a reason from the list: " + ", ".join(REFUND_REASONS.values()).lower() + "."
    check_text(errors, "note", note, "note")
    note = (note or "").strip() or None
    if "note" not in errors and note is not None and len(note) > NOTE_MAX:
        errors["note"] = f"The note can be at most {NOTE_MAX} characters (Stripe keeps it with the refund)."
    if not (isinstance(request_token, str) and len(request_token) == 32
            and all(c in "0123456789abcdef" for c in request_token)):
        errors[""] = "The refund form expired. Reload the invoice and try again."
    if errors:
        raise ValidationFailed(errors)
    return reason, note


def refund_invoice(workspace_id: str, actor: str, invoice_id: int, *, amount: str | None, reason: str | None,
                   note: str | None, request_token: str, uow: UnitOfWork | None = None) -> RefundRequested:
    """Ask Stripe to refund ``amount`` (``None``/empty: all that is left) of the invoice's payment.

    See the module for what is checked and what changes (only the audit trail, here).
    """
    reason, note = _check_input(reason, note, request_token)
    if amount is not None and not isinstance(amount, str):
        raise TypeError(f"amount must be the text staff typed, not {type(amount).__name__}")
    uow = uow or unit_of_work()
    with uow:
        repo = uow.repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        status = InvoiceStatus(invoice.status)
        if Action.REFUND_FULL not in allowed_actions(status):
            try:
                transition(status, Action.REFUND_FULL)
            except InvalidTransition as refused:
                raise InvoicingError(refused.message) from None
        if not invoice.payment_intent_id:
            raise InvoicingError("This invoice was not paid through Stripe: give the money back the way it "
                                 "came, outside the plugin.")
        left = refundable_amount(invoice)
        if left is None:
            raise InvoicingError("Nothing is left to refund on this invoice.")
        try:
            money = parse_refund_amount(amount, invoice.currency) if (amount or "").strip() else left
        except AmountError as exc:
            raise ValidationFailed({"amount": exc.message}) from None
        if money > left:
            raise ValidationFailed({"amount": f"At most {format_money(left)} can still be refunded."})
        try:
            gateway = checkout_gateway(invoice, uow=uow)
        except KeyUnavailable as exc:
            raise InvoicingError(f"The refund cannot be made: {failure_reason(exc)}.") from None
        metadata = {"invoice_id": str(invoice.id), "workspace_id": str(invoice.workspace_id),
                    "invoice_number": invoice.number or ""}
        if note:
            metadata["note"] = note
        try:
            refund = gateway.refund(
                invoice.payment_intent_id, amount_minor=money.minor, idempotency_key=refund_key(invoice, request_token),
                reason=reason, metadata=metadata, destination_charge=invoice.stripe_mode == "connect",
            )
        except GatewayError as exc:
            invoice_pk = invoice.id
            uow.rollback()
            if exc.retryable:
                # No answer (network, 5xx, rate limit): Stripe may have made the refund. The
                # same request again is safe -- its idempotency key makes it one refund
                # (https://docs.stripe.com/error-low-level#idempotency) -- a new one is not.
                message = (f"Stripe did not answer the refund of {format_money(money)} ({exc.message}); it may "
                           "have been made. Send the form again as it is: the same request never refunds twice.")
                record_failure(workspace_id, invoice_pk, actor, REFUND_REFUSED, message, uow=uow)
                raise RefundUnanswered(message) from exc
            message = f"Stripe refused the refund of {format_money(money)}: {exc.message}"
            record_failure(workspace_id, invoice_pk, actor, REFUND_REFUSED, message, uow=uow)
            raise InvoicingError(message) from exc
        why = REFUND_REASONS[reason].lower() if reason else "no reason given"
        if refund.id in recorded_ids(invoice, (REFUND_REQUESTED,), uow=uow):  # the same form sent twice
            snapshot = InvoiceSnapshot.of(invoice)
            uow.rollback()
            return RefundRequested(refund.id, money, refund.status, snapshot)
        record_event(repo, invoice, actor, REFUND_REQUESTED, from_status=invoice.status, to_status=invoice.status,
                     detail=f"refund {refund.id} of {format_money(money)} asked of Stripe ({why}"
                            f"{'; note: ' + note if note else ''}); status {refund.status}")
        repo.session.flush()
        snapshot = InvoiceSnapshot.of(invoice)
        commit_or_conflict(uow)
        return RefundRequested(refund.id, money, refund.status, snapshot)
