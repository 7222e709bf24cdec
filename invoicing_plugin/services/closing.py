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
from ..domain.balance import amount_due
from ..domain.calendar import local_day, midday
from ..domain.invoice import Action, InvoiceStatus, transition
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
from .payment_sync import sync_invoice_from_stripe
from .text import check_text
from .uow import UnitOfWork, system_clock
from .views import InvoiceSnapshot


def _close_checkout(uow: UnitOfWork, invoice: Invoice) -> tuple[str, str | None]:
    """Expire the invoice's open Checkout Session, returning ``(state, note)``.

    ``state`` is Stripe's answer: ``expired``, ``complete`` (the client paid) or
    ``none`` (no session, or no key to reach it: the note says so, and that the
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
    return session.status, None


def void_invoice(workspace_id: str, actor: str, invoice_id: int, *, reason: str | None = None,
                 uow: UnitOfWork | None = None) -> InvoiceSnapshot:
    """Void an unpaid sent invoice and expire its Checkout Session.

    If Stripe says the session is already complete, the client has paid: the
    payment is applied (the invoice becomes paid) and :class:`PaidMeanwhile` is
    raised instead of voiding. A ``reason`` holding a NUL character is
    :class:`ValidationFailed` (field ``reason``) before Stripe is asked anything.
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
            _record_left_open(repo, invoice, actor, note)
            repo.session.flush()
            snapshot = InvoiceSnapshot.of(invoice)
            uow.emit(signals.invoice_voided, invoice=snapshot, actor=actor)
            commit_or_conflict(uow)
            return snapshot
        invoice_pk = invoice.id
        uow.rollback()
    raise _paid_meanwhile(uow, workspace_id, invoice_pk, actor, "void", "voided")


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
    uow: UnitOfWork | None = None,
) -> InvoiceSnapshot:
    """Record a payment received outside Stripe (bank transfer, cash, cheque, other).

    Any open Checkout Session is expired first, with the same rule as
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
    if errors:
        raise ValidationFailed(errors)
    with uow:
        repo = uow.repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        transition(invoice.status, Action.MARK_PAID)
        sent_on = local_day(invoice.sent_at, zone) if invoice.sent_at else None
        if sent_on and paid_on < sent_on:
            raise ValidationFailed({"paid_on": f"The payment date cannot be before the invoice was sent ({sent_on.isoformat()})."})
        before, after = apply_transition(invoice, Action.MARK_PAID)
        now = uow.clock()
        # Today: the instant; another day: noon of that day in the workspace's zone (that day there).
        invoice.paid_at = now if paid_on == local_day(now, zone) else midday(paid_on, zone)
        invoice.payment_method = method
        invoice.payment_note = note or None
        invoice.amount_paid_minor = amount_due(int(invoice.amount_minor), 0, int(invoice.amount_credited_minor or 0))
        invoice.checkout_url = None
        claim(uow, invoice, workspace_id, Action.MARK_PAID)
        state, left_open = _close_checkout_before(
            uow, invoice, workspace_id, actor, "mark_paid", "The invoice was not marked as paid"
        )
        if state != "complete":
            detail = f"{MANUAL_PAYMENT_METHODS[method]} on {paid_on.isoformat()}" + (f": {note}" if note else "")
            record_event(repo, invoice, actor, "marked_paid", from_status=before, to_status=after, detail=detail)
            _record_left_open(repo, invoice, actor, left_open)
            repo.session.flush()
            snapshot = InvoiceSnapshot.of(invoice)
            uow.emit(signals.invoice_paid, invoice=snapshot, actor=actor, source="manual")
            commit_or_conflict(uow)
            return snapshot
        invoice_pk = invoice.id
        uow.rollback()
    raise _paid_meanwhile(uow, workspace_id, invoice_pk, actor, "mark_paid", "marked as paid by hand")

