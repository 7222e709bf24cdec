"""Recording Stripe payments on invoices: the one code path for webhooks, reconcile and the pay link.

Stripe tells us about a payment in several ways -- a webhook (possibly twice, late or
out of order), ``flask invoicing reconcile`` re-reading a Checkout Session, and the
client's browser coming back to the pay link's success URL. All of them end in
:func:`apply_checkout_session`, which

* finds the invoice only through a Checkout Session the plugin recorded for it
  (:func:`bind_session`; charges and disputes: :func:`bind_payment_intent`), and only
  when the event fits that session (endpoint, account, destination, metadata) --
  anything else changes nothing and says why;
* locks the invoice row (``SELECT ... FOR UPDATE``) so concurrent deliveries queue up;
* asks the domain state machine: :func:`~invoicing_plugin.domain.invoice.is_noop` first
  (a harmless repeat changes nothing and writes nothing), then
  :func:`~invoicing_plugin.domain.invoice.transition`;
* tells a *retried* payment from a *second* payment on another session by the
  PaymentIntent id (a second payment is flagged for staff, never silently dropped);
* refuses to mark an invoice paid when the amount or currency differ from the invoice
  (the invoice is flagged ``amount_mismatch`` instead);
* writes one :class:`InvoiceEvent` per change and queues the ``invoice_paid`` signal.

None of these functions commit: the caller's unit of work does, together with the
webhook event record (see :mod:`invoicing_plugin.webhooks.processing`), so an effect
and "this event was handled" are stored atomically. :func:`sync_invoice_from_stripe`
is the exception: it is a whole use case with its own transaction.

The payment confirmation email is queued in the outbox in the same transaction as the
payment (:func:`~.payment_confirmation.queue_payment_confirmation`, which sets
``Invoice.confirmation_sent_at``), and delivered after the commit by
:func:`send_payment_confirmation` (or ``flask invoicing deliver-emails``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .. import signals
from ..domain.errors import InvalidTransition
from ..domain.balance import of_invoice
from ..domain.fees import PAID_THROUGH_STRIPE
from ..domain.invoice import Action, InvoiceStatus, is_noop, payment_action, transition
from ..domain.money import Money
from ..domain.statuses import MONEY_RECEIVED
from ..gateways.stripe_gateway import CheckoutSession, MalformedStripeObject
from ..persistence.models import Invoice, WebhookEvent, utcnow
from ..persistence import autocommit
from ..persistence.rows import TrackedRow, save_invoice
from .common import append_audit
from .payment_binding import bind_session, session_amount
from .payment_rows import intent_recorded, latest_stripe_intent, part_fee, record_payment
from .payment_confirmation import queue_payment_confirmation
from .payment_outcome import PaymentOutcome, actor_for, flag, money_text, outcome_of, set_status
from .uow import UnitOfWork
from .views import InvoiceSnapshot, committed_snapshot

#: Events that settle a delayed payment; a ``checkout.session.completed`` (unpaid) seen
#: after one of them for the same session is stale and must not restart "processing".
_SETTLING_EVENT_TYPES = (
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
)



def _session_settled(uow: UnitOfWork, invoice: Invoice, session_id: str) -> bool:
    """Whether an async success/failure of ``session_id`` was already applied to ``invoice``."""
    rows = autocommit.reader(uow.session).scalars(
        select(WebhookEvent.payload).where(
            WebhookEvent.invoice_id == invoice.id,
            WebhookEvent.type.in_(_SETTLING_EVENT_TYPES),
            WebhookEvent.status == "processed",
        )
    )
    return any(((payload or {}).get("data") or {}).get("object", {}).get("id") == session_id for payload in rows)


# ---------------------------------------------------------------------------- the one path


def action_for_session(session: CheckoutSession) -> Action | None:
    """What a Checkout Session's own state means for its invoice (``None``: nothing yet)."""
    if session.status == "complete":
        if session.payment_status in ("paid", "no_payment_required"):
            return Action.PAYMENT_SUCCEEDED
        return Action.PAYMENT_STARTED
    return None


def apply_checkout_session(
    session: CheckoutSession,
    *,
    source: str,
    action: Action | None = None,
    uow: UnitOfWork | None = None,
    invoice: Invoice | None = None,
    scope_workspace: str | None = None,
    event_account: Any = None,
) -> PaymentOutcome:
    """Apply what Stripe says about ``session`` to its invoice, exactly once. Does not commit.

    ``action`` overrides what the session's state implies (webhooks know whether an
    unpaid complete session *failed* or is still processing; the session alone does
    not). ``invoice`` must already be row-locked when given (the invoice's own session,
    re-read from Stripe with its own key); otherwise the invoice is found through the
    session's record (:func:`bind_session`: the event's ``scope_workspace`` and
    ``event_account`` must fit it) and locked here, and an event that fits no invoice is
    ignored with the reason. ``source`` (``webhook``, ``reconcile``, ``return``,
    ``replay``) is written to the audit trail.

    ``uow`` (default: the app's unit of work) is the caller's open unit of work: its
    session reads and writes, and the ``invoice_paid`` signal is queued on it (sent when
    the caller commits).

    An invoice found here is read and written without the ORM (a
    :class:`~invoicing_plugin.persistence.rows.TrackedRow`, saved as one version-guarded
    ``UPDATE`` that goes out with the transaction's last statement); a given ``invoice``
    is an ``Invoice``, written by the session's flush.
    """
    uow = uow or UnitOfWork.for_app()
    if invoice is not None:
        return _apply(invoice, session, source=source, action=action, uow=uow,
                      asked_minor=lambda: session_amount(session.id, uow=uow))
    binding = bind_session(session, scope_workspace=scope_workspace, event_account=event_account, source=source,
                           uow=uow)
    if binding.invoice is None:
        return binding.ignored()
    row: TrackedRow = binding.invoice
    outcome = _apply(row, session, source=source, action=action, uow=uow,
                     asked_minor=lambda: binding.record.amount_minor)
    save_invoice(uow.session, row)
    return outcome


def _apply(invoice: Invoice | TrackedRow, session: CheckoutSession, *, source: str, action: Action | None,
           uow: UnitOfWork, asked_minor=lambda: None) -> PaymentOutcome:
    """What :func:`apply_checkout_session` does once the invoice is found and locked."""
    if action is None:
        if session.status == "expired":
            return _apply_expired(invoice, session, source=source)
        action = action_for_session(session)
        if action is None:
            return outcome_of(invoice, note=f"checkout session {session.id} is {session.status}; nothing to record")
    if action is Action.PAYMENT_SUCCEEDED:
        return _apply_success(invoice, session, source=source, uow=uow, asked_minor=asked_minor)
    if action is Action.PAYMENT_STARTED:
        return _apply_started(invoice, session, source=source, uow=uow)
    if action is Action.PAYMENT_FAILED:
        return _apply_failed(invoice, session, source=source, uow=uow)
    raise ValueError(f"apply_checkout_session cannot apply {action!r}")


def _apply_success(invoice: Invoice, session: CheckoutSession, *, source: str, uow: UnitOfWork,
                   asked_minor=lambda: None) -> PaymentOutcome:
    """Record the payment ``session`` made: one payment row per PaymentIntent (issue 15).

    ``asked_minor()`` is what the session was created to ask for (its record's amount; the
    invoice's total for a record without one). The payment is accepted only for that
    amount and the invoice's currency; it then becomes a payment row and the invoice moves
    to ``paid`` when nothing is left due, ``partially_paid`` when a balance is left.
    """
    status = InvoiceStatus(invoice.status)
    paid = money_text(session.amount_total, session.currency)
    intent = session.payment_intent
    actor = actor_for(source)

    if intent and invoice.amount_paid_minor and intent != invoice.payment_intent_id \
            and intent_recorded(uow.session, intent):
        # A late or repeated event of an earlier payment of this invoice (paid in parts).
        return outcome_of(invoice, note="payment already recorded")
    if status is InvoiceStatus.PARTIALLY_PAID and intent and intent == invoice.payment_intent_id:
        return outcome_of(invoice, note="payment already recorded")
    already_paid = status.value in MONEY_RECEIVED
    if already_paid and intent and invoice.payment_intent_id and intent != invoice.payment_intent_id:
        if status is not InvoiceStatus.PARTIALLY_PAID:
            # Real money on a *second* session (e.g. two tabs). Never drop it: staff refund it.
            detail = f"a second payment of {paid} ({intent}, checkout session {session.id}) arrived; refund it"
            if intent in (invoice.attention_detail or ""):
                return outcome_of(invoice, note="second payment already flagged")
            flag(invoice, "duplicate_payment", detail)
            append_audit(invoice, actor=actor, action="payment_duplicate", from_status=invoice.status,
                   to_status=invoice.status, detail=f"{detail} [{source}]", result="failed")
            return outcome_of(invoice, changed=True, note="second payment flagged", flags=["duplicate_payment"])

    if is_noop(status, Action.PAYMENT_SUCCEEDED):
        return outcome_of(invoice, note=f"already {invoice.status}")

    if session.amount_total is None or session.currency is None:
        # Nullable in Stripe's API: unknown is not a mismatch. Webhook handlers re-read such a
        # session from Stripe first (webhooks.handlers._event_session); this is what is left.
        raise MalformedStripeObject(f"Stripe gives no amount or currency for checkout session {session.id}: "
                                    "the payment cannot be checked against the invoice.")
    asked = asked_minor()
    if asked is None:
        asked = invoice.amount_minor  # a session recorded before its amount was kept asked for the total
    if session.amount_total != asked or session.currency.upper() != invoice.currency.upper():
        expected = money_text(asked, invoice.currency)
        detail = f"Stripe reports {paid} paid ({intent or session.id}) but the checkout session asked for {expected}"
        if detail in (invoice.attention_detail or ""):
            return outcome_of(invoice, note="amount mismatch already flagged")
        flag(invoice, "amount_mismatch", detail)
        if invoice.payment_intent_id is None:
            invoice.payment_intent_id = intent
        append_audit(invoice, actor=actor, action="payment_mismatch", from_status=invoice.status,
               to_status=invoice.status, detail=f"{detail}; not recorded as paid [{source}]", result="failed")
        return outcome_of(invoice, changed=True, note="amount mismatch flagged", flags=["amount_mismatch"])

    due_after = of_invoice(invoice).due_minor - session.amount_total
    try:
        new = transition(status, payment_action(Action.PAYMENT_SUCCEEDED, due_after))
    except InvalidTransition as refused:
        detail = f"a payment of {paid} ({intent or session.id}) arrived: {refused.message}"
        flag(invoice, "unexpected_payment", detail)
        append_audit(invoice, actor=actor, action="payment_unexpected", from_status=invoice.status,
               to_status=invoice.status, detail=f"{detail} [{source}]", result="failed")
        return outcome_of(invoice, changed=True, note="unexpected payment flagged", flags=["unexpected_payment"])

    from_status = invoice.status
    now = utcnow()
    fee_part = part_fee(invoice, session.amount_total)  # as checkout_request asked Stripe
    record_payment(uow.session, invoice, amount_minor=session.amount_total, method=PAID_THROUGH_STRIPE,
                   received_at=now, now=now, payment_intent_id=intent, checkout_session_id=session.id,
                   application_fee_minor=fee_part, recorded_by=actor)
    set_status(invoice, new)
    invoice.paid_at = now
    invoice.payment_intent_id = intent
    invoice.payment_method = PAID_THROUGH_STRIPE
    invoice.checkout_url = None
    flags: list[str] = []
    if new is InvoiceStatus.PAID_AFTER_VOID:
        closed = "credited in full" if status is InvoiceStatus.CREDITED else "voided"
        flag(invoice, "refund_due", f"{paid} was paid ({intent}) after the invoice was {closed}; refund it")
        flags.append("refund_due")
    fee_note = f", platform fee {money_text(fee_part, invoice.currency)}" if fee_part else ""
    left = ""
    if new is InvoiceStatus.PARTIALLY_PAID:
        left = f"; {money_text(due_after, invoice.currency)} still due"
    elif due_after < 0:
        left = f"; overpaid by {money_text(-due_after, invoice.currency)}, kept as the client's credit"
    append_audit(invoice, actor=actor, action="payment_succeeded", from_status=from_status, to_status=new.value,
           detail=f"{paid} paid by Stripe ({intent}, checkout session {session.id}{fee_note}){left} [{source}]",
           uow=uow)

    # A refund that overtook its payment (events out of order) is applied now.
    if invoice.amount_refunded_minor and invoice.amount_refunded_minor >= (invoice.amount_paid_minor or 0):
        refund_full(invoice, actor=actor, source=source)

    if new is InvoiceStatus.PAID:
        if isinstance(invoice, Invoice):
            uow.emit(signals.invoice_paid, invoice=InvoiceSnapshot.of(invoice), actor=actor, source="stripe")
        else:  # the hot path's row has no lines or payments: the snapshot is read once committed
            invoice_id = invoice.id
            uow.emit_after_commit(signals.invoice_paid, lambda: dict(
                invoice=committed_snapshot(uow.session, invoice_id), actor=actor, source="stripe"))
    confirm = new is InvoiceStatus.PAID and invoice.status == InvoiceStatus.PAID.value
    if confirm:
        queue_payment_confirmation(uow, invoice)  # in the outbox, with the payment
    return outcome_of(invoice, changed=True, note=f"{from_status} -> {new.value}", confirm=confirm, flags=flags)


def _apply_started(invoice: Invoice, session: CheckoutSession, *, source: str, uow: UnitOfWork) -> PaymentOutcome:
    status = InvoiceStatus(invoice.status)
    if is_noop(status, Action.PAYMENT_STARTED):
        return outcome_of(invoice, note=f"already {invoice.status}")
    if _session_settled(uow, invoice, session.id):
        return outcome_of(invoice, note=f"checkout session {session.id} has already settled; stale event")
    try:
        new = transition(status, Action.PAYMENT_STARTED)
    except InvalidTransition as refused:
        return outcome_of(invoice, note=f"payment start ignored: {refused.message}")
    from_status = invoice.status
    set_status(invoice, new)
    invoice.payment_intent_id = session.payment_intent or invoice.payment_intent_id
    append_audit(invoice, actor=actor_for(source), action="payment_started", from_status=from_status, to_status=new.value,
           detail=f"{money_text(session.amount_total, session.currency)} payment started, awaiting settlement "
                  f"({session.payment_intent or session.id}) [{source}]")
    return outcome_of(invoice, changed=True, note=f"{from_status} -> {new.value}")


def _forget_session(invoice: Invoice, session: CheckoutSession) -> bool:
    """Drop a session that can no longer be paid; the stable pay link makes a fresh one."""
    if invoice.checkout_session_id != session.id:
        return False
    invoice.checkout_session_id = None
    invoice.checkout_url = None
    invoice.checkout_expires_at = None
    return True


def _apply_failed(invoice: Invoice, session: CheckoutSession, *, source: str, uow: UnitOfWork) -> PaymentOutcome:
    status = InvoiceStatus(invoice.status)
    if is_noop(status, Action.PAYMENT_FAILED):
        # The failure overtook its "payment started": still forget the dead session.
        if status in (InvoiceStatus.SENT, InvoiceStatus.PARTIALLY_PAID) and _forget_session(invoice, session):
            append_audit(invoice, actor=actor_for(source), action="payment_failed", from_status=invoice.status,
                   to_status=invoice.status,
                   detail=f"the delayed payment ({session.payment_intent or session.id}) failed; "
                          f"awaiting payment [{source}]")
            return outcome_of(invoice, changed=True, note="failed session cleared")
        return outcome_of(invoice, note=f"already {invoice.status}")
    if session.payment_intent and invoice.payment_intent_id and session.payment_intent != invoice.payment_intent_id:
        return outcome_of(invoice, note="another payment is in progress; this failure does not concern it")
    # Part of the invoice was paid before this delayed payment started: back to partially paid.
    part_paid = bool(invoice.amount_paid_minor)
    try:
        new = transition(status, Action.PAYMENT_FAILED_PART if part_paid else Action.PAYMENT_FAILED)
    except InvalidTransition as refused:
        return outcome_of(invoice, note=f"payment failure ignored: {refused.message}")
    from_status = invoice.status
    set_status(invoice, new)
    # The invoice names the PaymentIntent of its latest Stripe payment (refunds use it), if any.
    invoice.payment_intent_id = latest_stripe_intent(uow.session, invoice.id) if part_paid else None
    _forget_session(invoice, session)
    append_audit(invoice, actor=actor_for(source), action="payment_failed", from_status=from_status, to_status=new.value,
           detail=f"the delayed payment ({session.payment_intent or session.id}) failed; "
                  f"{'a balance is still due' if part_paid else 'awaiting payment'} [{source}]")
    return outcome_of(invoice, changed=True, note=f"{from_status} -> {new.value}")


def _apply_expired(invoice: Invoice, session: CheckoutSession, *, source: str) -> PaymentOutcome:
    """Forget an expired session; the stable pay link creates a new one on the next visit."""
    if invoice.checkout_session_id != session.id:
        return outcome_of(invoice, note=f"checkout session {session.id} is not the invoice's current one")
    if invoice.status not in (InvoiceStatus.SENT.value, InvoiceStatus.PARTIALLY_PAID.value):
        return outcome_of(invoice, note=f"invoice is {invoice.status}; expiry changes nothing")
    _forget_session(invoice, session)
    append_audit(invoice, actor=actor_for(source), action="checkout_expired", from_status=invoice.status,
           to_status=invoice.status, detail=f"checkout session {session.id} expired unpaid [{source}]")
    return outcome_of(invoice, changed=True, note="checkout session cleared")


# ---------------------------------------------------------------------------- refunds and disputes
def refund_full(invoice: Invoice, *, actor: str, source: str) -> None:
    from_status = invoice.status
    set_status(invoice, transition(InvoiceStatus(invoice.status), Action.REFUND_FULL))
    append_audit(invoice, actor=actor, action="refunded", from_status=from_status, to_status=invoice.status,
           detail=f"{money_text(invoice.amount_refunded_minor, invoice.currency)} refunded in full [{source}]")

