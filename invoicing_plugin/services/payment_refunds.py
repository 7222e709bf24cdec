"""Refunds and disputes on invoices, and what became of them.

* ``charge.refunded`` -- :func:`apply_charge_refunded`: the refunded total, and REFUNDED once
  it is all back. A partial refund keeps the status (``paid`` with the refunded amount).
* ``charge.refund.updated`` / ``refund.updated`` / ``refund.failed`` --
  :func:`apply_refund_update`: a refund that failed after all
  (https://docs.stripe.com/refunds#failed-refunds). The client got nothing back and the
  money is in the Stripe balance again: the refunded total drops, a fully refunded invoice
  goes back to ``paid`` (``paid_after_void``), staff are flagged (``refund_failed``), the
  audit trail says why, and :data:`~invoicing_plugin.signals.refund_failed` is sent.
* ``charge.dispute.created`` -- :func:`apply_dispute`: the invoice is flagged ``disputed``.
* ``charge.dispute.funds_withdrawn`` / ``funds_reinstated`` -- :func:`apply_dispute_funds`:
  an audit entry each (the money held during the dispute is not a revenue change).
* ``charge.dispute.closed`` -- :func:`apply_dispute_closed`
  (https://docs.stripe.com/disputes/how-disputes-work): ``won`` (and ``warning_closed``,
  ``prevented``) clears the flag; ``lost`` records the amount taken back
  (``amount_dispute_lost_minor``, no longer revenue), flags ``dispute_lost``.

Every outcome is recorded once per refund or dispute id (the audit trail is what is checked),
whatever the order and number of deliveries. Like :mod:`.payment_recording`, none of these
functions commit: the caller's unit of work does, together with the webhook event record.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from sqlalchemy import select

from .. import signals
from ..gateways.stripe_const import refund_status
from ..domain.errors import InvalidTransition
from ..domain.invoice import Action, InvoiceStatus, transition
from ..persistence.models import Invoice, InvoiceEvent
from .common import append_audit, unit_of_work
from .payment_binding import bind_payment_intent, event_gateway
from .payment_outcome import PaymentOutcome, actor_for, flag, money_text, outcome_of, unflag
from .payment_recording import refund_full
from .uow import UnitOfWork
from .views import InvoiceSnapshot

#: Audit actions of the outcomes (each entry's detail starts with the Stripe object's id).
REFUND_FAILED = "refund_failed"
DISPUTE_FUNDS_WITHDRAWN = "dispute_funds_withdrawn"
DISPUTE_FUNDS_REINSTATED = "dispute_funds_reinstated"
DISPUTE_WON = "dispute_won"
DISPUTE_LOST = "dispute_lost"
DISPUTE_CLOSED = "dispute_closed"  # an inquiry closed, or a dispute prevented
_CLOSED = (DISPUTE_WON, DISPUTE_LOST, DISPUTE_CLOSED)


_LEADING_ID = re.compile(r"^\S+ ([A-Za-z0-9_]+)")


def recorded_ids(invoice: Invoice, actions: tuple[str, ...], *, uow: UnitOfWork | None = None) -> set[str]:
    """The Stripe ids named first in ``invoice``'s audit entries of ``actions`` (committed ones)."""
    session = (uow or unit_of_work()).session
    details = session.scalars(
        select(InvoiceEvent.detail).where(InvoiceEvent.invoice_id == invoice.id, InvoiceEvent.action.in_(actions)))
    return {m.group(1) for m in (_LEADING_ID.match(d or "") for d in details) if m}


def _amount(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _refunded_total(charge: Mapping[str, Any], failed: set[str]) -> tuple[int, bool]:
    """What the charge says is refunded, less refunds it still counts that we know failed since.

    ``(total, stale)``: ``stale`` when the charge was read before one of its refunds failed
    (a late or repeated ``charge.refunded``): its ``refunded`` flag must not be trusted then.
    """
    gross = int(charge.get("amount_refunded") or 0)
    refunds = charge.get("refunds")
    listed = refunds.get("data") if isinstance(refunds, Mapping) else None
    gone = 0
    for refund in listed if isinstance(listed, list) else ():
        if isinstance(refund, Mapping) and refund.get("id") in failed and refund_status(refund.get("status")) != "failed":
            gone += _amount(refund.get("amount"))
    return max(0, gross - gone), gone > 0


def _lists_refunds(charge: Mapping[str, Any]) -> bool:
    refunds = charge.get("refunds")
    return isinstance(refunds, Mapping) and isinstance(refunds.get("data"), list) and not refunds.get("has_more")


def _refunded_now(payment_intent: str, scope_workspace: str | None, uow: UnitOfWork | None) -> int:
    """What Stripe says is refunded of ``payment_intent`` now (failed refunds not counted)."""
    return event_gateway(scope_workspace, uow or unit_of_work()).refunded_amount(payment_intent)


def apply_charge_refunded(
    charge: Mapping[str, Any], *, source: str, scope_workspace: str | None = None, event_account: Any = None,
    uow: UnitOfWork | None = None,
) -> PaymentOutcome:
    """Record a refund (``charge.refunded``): the refunded total, and REFUNDED once it is all back.

    The charge carries the cumulative ``amount_refunded``, so a late or repeated event
    never lowers what is recorded; a refund we know failed since is not counted again
    (:func:`apply_refund_update`). A refund that arrives before its payment is kept and
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
                      f"payment ({intent}) [{source}]", uow=uow)
        return outcome_of(invoice, changed=True, note="refund of another payment noted")
    failed = recorded_ids(invoice, (REFUND_FAILED,), uow=uow)
    if failed and not _lists_refunds(charge):
        # One of its refunds failed since, and this snapshot (from before or after?) cannot
        # say which refunds it counts: Stripe's charge lists them only when expanded
        # (https://docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand).
        # What is refunded now is Stripe's to say (an outage: the event is retried).
        refunded = _refunded_now(intent or invoice.payment_intent_id, scope_workspace, uow)
        stale = True
    else:
        refunded, stale = _refunded_total(charge, failed)
    if refunded <= (invoice.amount_refunded_minor or 0):
        return outcome_of(invoice, note="refund already recorded")
    previous = invoice.amount_refunded_minor or 0
    invoice.amount_refunded_minor = refunded
    status = InvoiceStatus(invoice.status)
    paid = invoice.amount_paid_minor if invoice.amount_paid_minor is not None else charge.get("amount")
    # The charge refunded in full is the invoice refunded in full only when that charge is all the
    # invoice received (issue 15: a bank transfer may have paid the rest, and is not refunded here).
    covers = paid is None or int(charge.get("amount") or 0) >= int(paid)
    full = (bool(charge.get("refunded")) and not stale and covers) or (paid is not None and refunded >= int(paid))
    if full and InvoiceStatus.REFUNDED in _targets(status, Action.REFUND_FULL):
        refund_full(invoice, actor=actor_for(source), source=source)
        return outcome_of(invoice, changed=True, note="refunded in full")
    append_audit(invoice, actor=actor_for(source), action="refund_recorded", from_status=invoice.status,
           to_status=invoice.status,
           detail=f"{money_text(refunded - previous, invoice.currency)} refunded "
                  f"({money_text(refunded, invoice.currency)} in total) [{source}]", uow=uow)
    return outcome_of(invoice, changed=True, note="partial refund recorded" if not full else "refund recorded early")


def _targets(status: InvoiceStatus, action: Action) -> tuple[InvoiceStatus, ...]:
    try:
        return (transition(status, action),)
    except InvalidTransition:
        return ()


def apply_refund_update(refund: Mapping[str, Any], *, source: str, scope_workspace: str | None = None,
                        event_account: Any = None, uow: UnitOfWork | None = None) -> PaymentOutcome:
    """A refund changed (``charge.refund.updated``, ``refund.updated``, ``refund.failed``).

    Only a refund that ``failed`` (or was ``canceled``) changes the invoice, once per refund
    id: the refunded total drops by the refund's amount, a ``refunded`` invoice goes back to
    ``paid`` (``paid_after_void`` when it was voided), the invoice is flagged
    ``refund_failed`` and an audit entry says why; the :data:`~invoicing_plugin.signals.refund_failed`
    signal is sent after the commit when ``uow`` is given.
    """
    binding = bind_payment_intent(refund, scope_workspace=scope_workspace, event_account=event_account,
                                  source=source, uow=uow)
    if binding.invoice is None:
        return binding.ignored()
    invoice = binding.invoice
    status, refund_id = refund.get("status"), refund.get("id")
    if refund_status(status) != "failed":  # failed or canceled: the client gets nothing
        return outcome_of(invoice, note=f"refund {refund_id} is {status}; nothing to record")
    if refund_id in recorded_ids(invoice, (REFUND_FAILED,), uow=uow):
        return outcome_of(invoice, note="refund failure already recorded")
    amount = _amount(refund.get("amount"))
    amount_text = money_text(amount, refund.get("currency") or invoice.currency)
    reason = refund.get("failure_reason") or status
    from_status = invoice.status
    invoice.amount_refunded_minor = max(0, (invoice.amount_refunded_minor or 0) - amount)
    if InvoiceStatus(invoice.status) is InvoiceStatus.REFUNDED and \
            invoice.amount_refunded_minor < (invoice.amount_paid_minor or 0):
        if invoice.voided_at is not None:
            action = Action.REFUND_FAILED_AFTER_VOID
        elif (invoice.amount_paid_minor or 0) + (invoice.amount_credited_minor or 0) < invoice.amount_minor:
            # It was only partly paid (issue 15); a balance settled by a credit note was paid.
            action = Action.REFUND_FAILED_PART
        else:
            action = Action.REFUND_FAILED
        invoice.status = transition(InvoiceStatus.REFUNDED, action).value
    detail = (f"the refund of {amount_text} ({refund_id}) {status} ({reason}): the client got nothing back and the "
              f"money is in the Stripe balance again; refund again or repay the client another way")
    flag(invoice, "refund_failed", detail)
    append_audit(invoice, actor=actor_for(source), action=REFUND_FAILED, from_status=from_status,
                 to_status=invoice.status, detail=f"refund {refund_id} of {amount_text} {status} ({reason}) [{source}]",
                 result="failed", uow=uow)
    if uow is not None:
        uow.emit(signals.refund_failed, invoice=InvoiceSnapshot.of(invoice), refund_id=refund_id,
                 amount_minor=amount, currency=invoice.currency, reason=reason)
    return outcome_of(invoice, changed=True, note="refund failure recorded", flags=["refund_failed"])


def apply_dispute(dispute: Mapping[str, Any], *, source: str, scope_workspace: str | None = None,
                  event_account: Any = None, uow: UnitOfWork | None = None) -> PaymentOutcome:
    """Flag an invoice whose payment the client disputed (``charge.dispute.created``);
    not once the dispute is known to be closed (its events came out of order).

    ``uow``: the caller's unit of work (default: the app's)."""
    binding = bind_payment_intent(dispute, scope_workspace=scope_workspace, event_account=event_account,
                                  source=source, uow=uow)
    if binding.invoice is None:
        return binding.ignored()
    invoice = binding.invoice
    if dispute.get("id") in recorded_ids(invoice, _CLOSED, uow=uow):
        return outcome_of(invoice, note="dispute already closed")
    detail = (f"the client disputed {money_text(dispute.get('amount'), dispute.get('currency'))} "
              f"(reason: {dispute.get('reason') or 'unknown'}, dispute {dispute.get('id')}); respond in Stripe")
    flag(invoice, "disputed", detail)
    append_audit(invoice, actor=actor_for(source), action="dispute_opened", from_status=invoice.status,
           to_status=invoice.status, detail=f"{detail} [{source}]", result="failed", uow=uow)
    return outcome_of(invoice, changed=True, note="dispute flagged", flags=["disputed"])


def apply_dispute_funds(dispute: Mapping[str, Any], *, withdrawn: bool, source: str,
                        scope_workspace: str | None = None, event_account: Any = None,
                        uow: UnitOfWork | None = None) -> PaymentOutcome:
    """``charge.dispute.funds_withdrawn`` / ``funds_reinstated``: an audit entry, once per dispute.

    Revenue changes only with the dispute's outcome (:func:`apply_dispute_closed`): funds
    withdrawn while a dispute is open come back if it is won.
    """
    binding = bind_payment_intent(dispute, scope_workspace=scope_workspace, event_account=event_account,
                                  source=source, uow=uow)
    if binding.invoice is None:
        return binding.ignored()
    invoice = binding.invoice
    action = DISPUTE_FUNDS_WITHDRAWN if withdrawn else DISPUTE_FUNDS_REINSTATED
    if dispute.get("id") in recorded_ids(invoice, (action,), uow=uow):
        return outcome_of(invoice, note="already recorded")
    amount = money_text(dispute.get("amount"), dispute.get("currency"))
    what = ("withdrawn from the Stripe balance while the dispute is open" if withdrawn
            else "returned to the Stripe balance")
    append_audit(invoice, actor=actor_for(source), action=action, from_status=invoice.status,
                 to_status=invoice.status, detail=f"dispute {dispute.get('id')}: {amount} {what} [{source}]", uow=uow)
    return outcome_of(invoice, changed=True, note=f"dispute funds {'withdrawn' if withdrawn else 'reinstated'}")


def apply_dispute_closed(dispute: Mapping[str, Any], *, source: str, scope_workspace: str | None = None,
                         event_account: Any = None, uow: UnitOfWork | None = None) -> PaymentOutcome:
    """``charge.dispute.closed``: the dispute's outcome, once per dispute.

    ``won`` (and ``warning_closed`` / ``prevented``: an inquiry closed, nothing taken) clears
    the ``disputed`` flag. ``lost``: the disputed amount is recorded as taken back
    (``amount_dispute_lost_minor``: revenue drops by it), the flag becomes ``dispute_lost``.
    """
    binding = bind_payment_intent(dispute, scope_workspace=scope_workspace, event_account=event_account,
                                  source=source, uow=uow)
    if binding.invoice is None:
        return binding.ignored()
    invoice = binding.invoice
    status, dispute_id = dispute.get("status"), dispute.get("id")
    action = {"won": DISPUTE_WON, "lost": DISPUTE_LOST}.get(
        status, DISPUTE_CLOSED if status in ("warning_closed", "prevented") else None)
    if action is None:
        return outcome_of(invoice, note=f"dispute {dispute_id} is {status}; not closed yet")
    if dispute_id in recorded_ids(invoice, _CLOSED, uow=uow):
        return outcome_of(invoice, note="dispute outcome already recorded")
    amount = _amount(dispute.get("amount"))
    amount_text = money_text(amount, dispute.get("currency") or invoice.currency)
    unflag(invoice, "disputed")
    flags: list[str] = []
    if action == DISPUTE_LOST:
        invoice.amount_dispute_lost_minor = amount
        flag(invoice, "dispute_lost", f"dispute {dispute_id} was lost: the client's bank took back {amount_text}; "
                                      f"it no longer counts as revenue")
        flags.append("dispute_lost")
        detail = f"dispute {dispute_id} lost: {amount_text} taken back by the client's bank"
    elif action == DISPUTE_WON:
        detail = f"dispute {dispute_id} won: the {amount_text} disputed stays paid"
    else:
        detail = f"dispute {dispute_id} closed ({status}) without taking funds"
    append_audit(invoice, actor=actor_for(source), action=action, from_status=invoice.status,
                 to_status=invoice.status, detail=f"{detail} [{source}]",
                 result="failed" if action == DISPUTE_LOST else "ok", uow=uow)
    if uow is not None:
        uow.emit(signals.dispute_closed, invoice=InvoiceSnapshot.of(invoice), dispute_id=dispute_id,
                 status=status, amount_minor=amount, currency=invoice.currency)
    return outcome_of(invoice, changed=True, note=f"dispute {status}", flags=flags)
