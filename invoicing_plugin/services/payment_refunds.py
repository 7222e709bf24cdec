"""Refunds (``charge.refunded``) and disputes (``charge.dispute.created``) on invoices.

Like :mod:`.payment_recording`, none of these functions commit: the caller's unit of
work does, together with the webhook event record.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..domain.errors import InvalidTransition
from ..domain.invoice import Action, InvoiceStatus, transition
from .common import append_audit
from .payment_binding import bind_payment_intent
from .payment_outcome import PaymentOutcome, actor_for, flag, money_text, outcome_of
from .payment_recording import refund_full
from .uow import UnitOfWork


def apply_charge_refunded(
    charge: Mapping[str, Any], *, source: str, scope_workspace: str | None = None, event_account: Any = None,
    uow: UnitOfWork | None = None,
) -> PaymentOutcome:
    """Record a refund (``charge.refunded``): the refunded total, and REFUNDED once it is all back.

    The charge carries the cumulative ``amount_refunded``, so a late or repeated event
    never lowers what is recorded. A refund that arrives before its payment is kept and
    applied when the payment is recorded. The charge's PaymentIntent must be one of the
    invoice's sessions' (:func:`bind_payment_intent`). ``uow``: the caller's unit of work
    (default: the app's).
    """
    binding = bind_payment_intent(charge, scope_workspace=scope_workspace, event_account=event_account,
                                  source=source, uow=uow)
    if binding.invoice is None:
        return binding.ignored()
    invoice = binding.invoice
    intent = charge.get("payment_intent")
    if intent and invoice.payment_intent_id and intent != invoice.payment_intent_id:
        append_audit(invoice, actor=actor_for(source), action="refund_other_payment", from_status=invoice.status,
               to_status=invoice.status,
               detail=f"{money_text(charge.get('amount_refunded'), charge.get('currency'))} refunded on another "
                      f"payment ({intent}) [{source}]")
        return outcome_of(invoice, changed=True, note="refund of another payment noted")
    refunded = int(charge.get("amount_refunded") or 0)
    if refunded <= (invoice.amount_refunded_minor or 0):
        return outcome_of(invoice, note="refund already recorded")
    previous = invoice.amount_refunded_minor or 0
    invoice.amount_refunded_minor = refunded
    status = InvoiceStatus(invoice.status)
    paid = invoice.amount_paid_minor if invoice.amount_paid_minor is not None else charge.get("amount")
    full = bool(charge.get("refunded")) or (paid is not None and refunded >= int(paid))
    if full and InvoiceStatus.REFUNDED in _targets(status, Action.REFUND_FULL):
        refund_full(invoice, actor=actor_for(source), source=source)
        return outcome_of(invoice, changed=True, note="refunded in full")
    append_audit(invoice, actor=actor_for(source), action="refund_recorded", from_status=invoice.status,
           to_status=invoice.status,
           detail=f"{money_text(refunded - previous, invoice.currency)} refunded "
                  f"({money_text(refunded, invoice.currency)} in total) [{source}]")
    return outcome_of(invoice, changed=True, note="partial refund recorded" if not full else "refund recorded early")


def _targets(status: InvoiceStatus, action: Action) -> tuple[InvoiceStatus, ...]:
    try:
        return (transition(status, action),)
    except InvalidTransition:
        return ()


def apply_dispute(dispute: Mapping[str, Any], *, source: str, scope_workspace: str | None = None,
                  event_account: Any = None, uow: UnitOfWork | None = None) -> PaymentOutcome:
    """Flag an invoice whose payment the client disputed (``charge.dispute.created``).

    ``uow``: the caller's unit of work (default: the app's)."""
    binding = bind_payment_intent(dispute, scope_workspace=scope_workspace, event_account=event_account,
                                  source=source, uow=uow)
    if binding.invoice is None:
        return binding.ignored()
    invoice = binding.invoice
    detail = (f"the client disputed {money_text(dispute.get('amount'), dispute.get('currency'))} "
              f"(reason: {dispute.get('reason') or 'unknown'}, dispute {dispute.get('id')}); respond in Stripe")
    flag(invoice, "disputed", detail)
    append_audit(invoice, actor=actor_for(source), action="dispute_opened", from_status=invoice.status,
           to_status=invoice.status, detail=f"{detail} [{source}]", result="failed")
    return outcome_of(invoice, changed=True, note="dispute flagged", flags=["disputed"])


# ---------------------------------------------------------------------------- re-reading Stripe
