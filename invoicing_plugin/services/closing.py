"""Closing an invoice by hand: void it, or mark it paid outside Stripe.

Both expire the invoice's open Checkout Session first (with the key that created
it); if Stripe says the client has just paid through it, the payment is applied
instead and :class:`~.errors.PaidMeanwhile` is raised. Both take an optional
``uow`` (:class:`~.uow.UnitOfWork`: session, clock, gateways) and default to the app's.

Errors: :class:`~invoicing_plugin.services.errors.ValidationFailed` (bad input,
per field), :class:`~invoicing_plugin.services.errors.InvoicingError`,
:class:`~invoicing_plugin.domain.InvalidTransition` (the state machine refused),
:class:`~invoicing_plugin.persistence.repository.NotFound` (not in this workspace).
"""

from __future__ import annotations

from datetime import date

from .. import signals
from ..domain.calendar import local_day, midday
from ..domain.balance import of_invoice
from ..domain.errors import AmountError
from ..domain.invoice import Action, InvoiceStatus, payment_action, transition
from ..domain.money import Money, check_payment_amount, format_money, parse_payment_amount
from ..gateways.stripe_gateway import GatewayError
from ..persistence.models import Invoice
from .common import (
    MANUAL_PAYMENT_METHODS,
    NOTE_MAX,
    apply_transition,
    claim,
    commit_or_conflict,
    lock_invoice,
    record_event,
    record_failure,
    unit_of_work,
)
from .connection_routes import KeyUnavailable, checkout_gateway, failure_reason, open_session_risk
from .errors import InvoicingError, PaidMeanwhile, ValidationFailed
from .payment_rows import SPENT, checkout_state, record_payment
from .payment_sync import sync_invoice_from_stripe
from . import prepayments
from .text import check_text
from .uow import UnitOfWork, system_clock
from .views import InvoiceSnapshot


def _close_checkout(uow: UnitOfWork, invoice: Invoice) -> tuple[str, str | None]:
    """Expire the invoice's open Checkout Session, returning ``(state, note)``.

    ``state`` is Stripe's answer: ``expired``, ``complete`` (the client paid and that
    payment is not recorded yet), ``spent`` (complete, but its payment is already a
    payment row -- it paid an earlier part: nothing new, the action goes ahead;
    :func:`.payment_rows.checkout_state`) or ``none`` (no session, or no key to reach it: the note says so, and that the
    session can still be paid until it expires). The session is expired with the
    key that created it (:func:`.connections.checkout_gateway`), whatever the
    workspace's connection is now. A temporary Stripe failure raises
    :class:`GatewayError`; when no usable key is held (none stored, another
    account linked since, or the stored key cannot be read) the action goes
    ahead without Stripe and the note tells staff what is left open.
    """
    if not invoice.checkout_session_id:
        return "none", None
    try:
        gateway = checkout_gateway(invoice, uow=uow)
    except KeyUnavailable as exc:
        return "none", f"The Checkout Session could not be expired ({failure_reason(exc)}). {open_session_risk(invoice)}"
    session = gateway.expire_checkout_session(invoice.checkout_session_id)
    return checkout_state(uow.session, invoice.checkout_session_id, session.status), None


def void_invoice(workspace_id: str, actor: str, invoice_id: int, *, reason: str | None = None,
                 uow: UnitOfWork | None = None) -> InvoiceSnapshot:
    """Void an unpaid sent invoice and expire its Checkout Session.

    If Stripe says the session is already complete, the client has paid: the
    payment is applied (the invoice becomes paid) and :class:`PaidMeanwhile` is
    raised instead of voiding. A ``reason`` holding a NUL character is
    :class:`ValidationFailed` (field ``reason``) before Stripe is asked anything.
    Deposits and client credit the invoice deducted are freed for a later invoice
    (:func:`.prepayments.release`; recorded as ``prepayments_freed``).
    """
    errors: dict[str, str] = {}
    check_text(errors, "reason", reason, "reason")
    if errors:  # before Stripe is asked to expire anything
        raise ValidationFailed(errors)
    reason = (reason or "").strip()[:NOTE_MAX] or None
    uow = uow or unit_of_work()
    with uow:
        repo = uow.repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        before, after = apply_transition(invoice, Action.VOID)  # refuse before touching Stripe
        invoice.voided_at = uow.clock()
        invoice.checkout_url = None
        claim(uow, invoice, workspace_id, Action.VOID)
        state, note = _close_checkout_before(uow, invoice, workspace_id, actor, "void", "The invoice was not voided")
        if state != "complete":
            record_event(repo, invoice, actor, "voided", from_status=before, to_status=after, detail=reason)
            _record_freed(repo, invoice, actor, prepayments.release(invoice, uow.clock()))
            _record_left_open(repo, invoice, actor, note)
            repo.session.flush()
            snapshot = InvoiceSnapshot.of(invoice)
            uow.emit(signals.invoice_voided, invoice=snapshot, actor=actor)
            commit_or_conflict(uow)
            return snapshot
        invoice_pk = invoice.id
        uow.rollback()
    raise _paid_meanwhile(uow, workspace_id, invoice_pk, actor, "void", "voided")


#: Audit action: the deposits and credits a voided or fully credited invoice deducted were freed.
PREPAYMENTS_FREED = "prepayments_freed"


def _record_freed(repo, invoice: Invoice, actor: str, freed) -> None:
    """Record which deposits and credits the cancelled invoice gave back (none: nothing)."""
    if freed:
        record_event(repo, invoice, actor, PREPAYMENTS_FREED, from_status=invoice.status, to_status=invoice.status,
                     detail="Freed for a later invoice: " + ", ".join(
                         f"{'client credit' if row.credit_note_id else 'deposit'} {row.reference}" for row in freed))


def _close_checkout_before(uow: UnitOfWork, invoice: Invoice, workspace_id: str, actor: str, action: str, refusal: str):
    """Expire the invoice's open Checkout Session before a staff action settles it.

    Returns what :func:`_close_checkout` found. If Stripe cannot be asked, nothing
    changes: the transaction is rolled back, the failed attempt recorded, and the
    action refused with Stripe's reason.
    """
    try:
        return _close_checkout(uow, invoice)
    except GatewayError as exc:
        invoice_pk = invoice.id
        uow.rollback()
        record_failure(workspace_id, invoice_pk, actor, action, exc.message, uow=uow)
        raise InvoicingError(f"{refusal}: {exc.message}") from exc


#: Audit action: a staff action went ahead without expiring the invoice's Checkout Session.
CHECKOUT_LEFT_OPEN = "checkout_session_left_open"


def _record_left_open(repo, invoice: Invoice, actor: str, note: str | None) -> None:
    """Record (as a failed step) that the invoice's Checkout Session could not be expired."""
    if note:
        record_event(repo, invoice, actor, CHECKOUT_LEFT_OPEN, from_status=invoice.status,
                     to_status=invoice.status, result="failed", detail=note)


def checkout_left_open(invoice: Invoice, events, *, uow: UnitOfWork | None = None) -> str | None:
    """The warning to show staff while a Checkout Session left open may still be paid, else ``None``.

    "Now" is ``uow``'s clock when one is given, else the wall clock."""
    if not invoice.checkout_session_id or invoice.status not in (InvoiceStatus.VOIDED.value, InvoiceStatus.PAID.value):
        return None
    if invoice.checkout_expires_at is not None and invoice.checkout_expires_at <= (uow.clock() if uow is not None else system_clock()):
        return None
    return next((e.detail for e in reversed(events) if e.action == CHECKOUT_LEFT_OPEN), None)


def _paid_meanwhile(uow: UnitOfWork, workspace_id: str, invoice_id: int, actor: str, action: str,
                    verb: str) -> PaidMeanwhile:
    sync_invoice_from_stripe(invoice_id)  # payment_sync takes the app's unit of work (converted separately)
    uow.session.expire_all()
    status = uow.repository(workspace_id).get(Invoice, invoice_id).status
    message = (
        f"Stripe says the client has already paid this invoice, so it was not {verb}. "
        + ("It is now marked as paid." if status == InvoiceStatus.PAID.value
           else "The payment is being recorded from Stripe; reload in a moment.")
    )
    record_failure(workspace_id, invoice_id, actor, action, message, uow=uow)
    return PaidMeanwhile(message, status=status)


def mark_paid(
    workspace_id: str,
    actor: str,
    invoice_id: int,
    *,
    method: str,
    paid_on: date | None = None,
    note: str | None = None,
    amount: str | int | None = None,
    allow_overpayment: bool = False,
    uow: UnitOfWork | None = None,
) -> InvoiceSnapshot:
    """Record a payment received outside Stripe (bank transfer, cash, cheque, other).

    ``amount`` is what was received: text as staff type it ("1,250.50", in the invoice's
    currency) or an ``int`` of minor units; ``None`` (the default) is the whole balance due.
    It must be more than zero and a whole number of the currency's steps
    (:func:`~invoicing_plugin.domain.money.check_payment_amount`; Stripe's minimum does
    not apply to cash). More than the balance is refused (field ``amount``) unless
    ``allow_overpayment``: the excess is then kept as the client's credit on the invoice
    and shown (a negative amount due). Each call records one payment row
    (:mod:`.payment_rows`), so an invoice may be paid in several parts; the invoice is
    ``partially_paid`` while a balance is left and ``paid`` once nothing is.

    Any open Checkout Session is expired first (its amount is no longer the balance; the
    pay link makes a fresh one for what is left), with the same rule as
    :func:`void_invoice` if the client has just paid through it.
    """
    uow = uow or unit_of_work()
    errors = {}
    if method not in MANUAL_PAYMENT_METHODS:
        errors["method"] = "Choose how the invoice was paid: bank transfer, cash, cheque or other."
    zone = uow.zone(workspace_id)  # the workspace's calendar decides what "today" and "the future" are
    today = uow.today(zone)
    paid_on = paid_on or today
    if not isinstance(paid_on, date):
        errors["paid_on"] = "Enter the payment date, like 2030-01-31."
    elif paid_on > today:
        errors["paid_on"] = "The payment date cannot be in the future."
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        errors["note"] = f"Keep the note under {NOTE_MAX} characters."
    check_text(errors, "note", note, "note")
    if amount is not None and not isinstance(amount, (str, int)) or isinstance(amount, bool):
        errors["amount"] = "Enter the amount received, like 1250.00."
    elif isinstance(amount, str):
        check_text(errors, "amount", amount, "amount")
    if errors:
        raise ValidationFailed(errors)
    with uow:
        repo = uow.repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        transition(invoice.status, Action.MARK_PAID)
        sent_on = local_day(invoice.sent_at, zone) if invoice.sent_at else None
        if sent_on and paid_on < sent_on:
            raise ValidationFailed({"paid_on": f"The payment date cannot be before the invoice was sent ({sent_on.isoformat()})."})
        owed = of_invoice(invoice).due_minor
        received = _received_amount(amount, invoice.currency, owed, allow_overpayment)
        before_balance = of_invoice(invoice)
        now = uow.clock()
        # Today: the instant; another day: noon of that day in the workspace's zone (that day there).
        received_at = now if paid_on == local_day(now, zone) else midday(paid_on, zone)
        record_payment(uow.session, invoice, amount_minor=received, method=method, received_at=received_at, now=now,
                       note=note or None, recorded_by=actor)
        due_after = before_balance.due_minor - received
        before, after = apply_transition(invoice, payment_action(Action.MARK_PAID, due_after))
        if invoice.paid_at is None or received_at >= invoice.paid_at:
            invoice.paid_at = received_at  # when the latest payment was received
        invoice.payment_method = method
        invoice.payment_note = note or None
        invoice.checkout_url = None
        claim(uow, invoice, workspace_id, Action.MARK_PAID)
        state, left_open = _close_checkout_before(
            uow, invoice, workspace_id, actor, "mark_paid", "The payment was not recorded"
        )
        if state != "complete":
            if state in ("expired", SPENT) and after == InvoiceStatus.PARTIALLY_PAID.value:
                # It asked for the old balance (or paid an earlier part): the pay link makes a
                # fresh one for what is left.
                invoice.checkout_session_id = None
                invoice.checkout_expires_at = None
            received_text = format_money(Money(received, invoice.currency))
            if due_after == 0 and received == invoice.amount_minor:  # the whole invoice at once, as before
                detail = f"{MANUAL_PAYMENT_METHODS[method]} on {paid_on.isoformat()}" + (f": {note}" if note else "")
            else:
                detail = (f"{received_text} by {MANUAL_PAYMENT_METHODS[method].lower()} on {paid_on.isoformat()}"
                          + (f": {note}" if note else ""))
            if due_after > 0:
                detail += f"; {format_money(Money(due_after, invoice.currency))} still due"
            elif due_after < 0:
                detail += (f"; overpaid by {format_money(Money(-due_after, invoice.currency))}, kept as the "
                           "client's credit")
            record_event(repo, invoice, actor, "marked_paid" if after == InvoiceStatus.PAID.value else "payment_recorded",
                         from_status=before, to_status=after, detail=detail)
            _record_left_open(repo, invoice, actor, left_open)
            repo.session.flush()
            snapshot = InvoiceSnapshot.of(invoice)
            if after == InvoiceStatus.PAID.value:
                uow.emit(signals.invoice_paid, invoice=snapshot, actor=actor, source="manual")
            commit_or_conflict(uow)
            return snapshot
        invoice_pk = invoice.id
        uow.rollback()
    raise _paid_meanwhile(uow, workspace_id, invoice_pk, actor, "mark_paid", "marked as paid by hand")


def _received_amount(amount: str | int | None, currency: str, owed_minor: int, allow_overpayment: bool) -> int:
    """The amount of a payment recorded by hand, in minor units, or :class:`ValidationFailed`."""
    if amount is None or (isinstance(amount, str) and not amount.strip()):
        if owed_minor <= 0:
            raise ValidationFailed({"amount": "Nothing is due on this invoice."})
        return owed_minor
    try:
        money = (parse_payment_amount(amount, currency) if isinstance(amount, str)
                 else check_payment_amount(Money(amount, currency)))
    except AmountError as exc:
        raise ValidationFailed({"amount": exc.message}) from None
    if money.minor > owed_minor and not allow_overpayment:
        owed_text = format_money(Money(max(owed_minor, 0), currency))
        raise ValidationFailed({"amount": (
            f"That is more than the {owed_text} due. To keep the excess as the client's credit, "
            "confirm the overpayment; otherwise enter the amount due or less.")})
    return money.minor
