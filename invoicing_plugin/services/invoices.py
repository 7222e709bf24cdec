"""Invoice use cases: drafts, deposits, void, mark as paid, lists and the audit trail.

Every function takes an explicit ``workspace_id`` and ``actor`` (a short text
such as ``"user:7 Ada Lovelace"`` that the audit trail records), so the same code
serves the staff pages, :mod:`invoicing_plugin.api` and the CLI. Each runs in
one :class:`UnitOfWork`: it either commits everything or changes nothing.

Errors: :class:`~invoicing_plugin.services.errors.ValidationFailed` (bad input,
per field), :class:`~invoicing_plugin.services.errors.InvoicingError`,
:class:`~invoicing_plugin.domain.InvalidTransition` (the state machine refused),
:class:`~invoicing_plugin.persistence.repository.NotFound` (not in this workspace).

Sending, Checkout Sessions and the pay link live in :mod:`.sending`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping, Sequence

from flask import current_app
from sqlalchemy import and_, select, tuple_
from sqlalchemy.orm.exc import StaleDataError

from .. import signals
from ..domain.errors import AmountError, DomainError
from ..domain.invoice import Action, InvoiceStatus, deposit_amount, is_editable, transition
from ..domain.money import Money, format_money, get_currency, parse_amount, validate_amount
from ..domain.statuses import STAFF_LABELS
from ..state import get_state
from ..gateways.stripe_gateway import GatewayError
from ..host import HostSubject, HostWorkspace, parse_subject_ref
from ..persistence.models import Invoice, InvoiceEvent, utcnow
from ..persistence.repository import MAX_ID, NotFound, WorkspaceRepository, as_id
from .errors import InvoicingError, PaidMeanwhile, ValidationFailed
from .text import check_text
from .uow import UnitOfWork
from .views import InvoiceSnapshot

log = logging.getLogger("invoicing_plugin.invoices")

#: How an invoice reaches the client, with the label staff see.
SEND_METHODS: dict[str, str] = {
    "email": "Email with a “Pay invoice” button",
    "stripe_link": "Stripe payment link to copy and share",
    "manual": "Manually (no payment link; mark it paid by hand)",
}
ONLINE_METHODS = frozenset({"email", "stripe_link"})

#: Ways staff record a payment received outside Stripe.
MANUAL_PAYMENT_METHODS: dict[str, str] = {
    "bank_transfer": "Bank transfer",
    "cash": "Cash",
    "cheque": "Cheque",
    "other": "Other",
}

DESCRIPTION_MAX = 2000
NOTE_MAX = 1000
DEPOSIT_KIND = "deposit"


# --------------------------------------------------------------------- helpers


def today() -> date:
    """Today's date in UTC: the reference for due dates and overdue."""
    return datetime.now(timezone.utc).date()


def repository(workspace_id: str) -> WorkspaceRepository:
    return WorkspaceRepository(get_state().session, str(workspace_id))


def unit_of_work() -> UnitOfWork:
    return UnitOfWork(get_state().session)


def get_workspace(workspace_id: str) -> HostWorkspace:
    """The host's workspace, or NotFound (also for internal workspaces, which do not bill)."""
    workspace = get_state().host.get_workspace(str(workspace_id))
    if workspace is None or not workspace.bills_clients:
        raise NotFound(f"workspace {workspace_id!r}")
    return workspace


def record_event(
    repo: WorkspaceRepository,
    invoice: Invoice,
    actor: str,
    action: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    result: str = "ok",
    detail: str | None = None,
) -> InvoiceEvent:
    """Add one audit-trail entry to ``invoice`` (in the caller's transaction)."""
    event = InvoiceEvent(
        invoice=invoice,
        actor=actor or "system",
        action=action,
        from_status=from_status,
        to_status=to_status,
        result=result,
        detail=detail,
    )
    return repo.add(event)


def record_failure(workspace_id: str, invoice_id: int, actor: str, action: str, detail: str, *, bump_attempt: bool = False) -> None:
    """Record a failed attempt in its own transaction (the failed one was rolled back).

    ``bump_attempt`` moves the invoice to the next Checkout attempt, so the next try
    uses a fresh idempotency key (its first session was created, then expired).
    """
    try:
        with unit_of_work() as uow:
            repo = repository(workspace_id)
            invoice = repo.get(Invoice, invoice_id)
            if bump_attempt:
                invoice.checkout_attempt += 1
            record_event(repo, invoice, actor, action, from_status=invoice.status, to_status=invoice.status, result="failed", detail=detail)
            uow.commit()
    except Exception:  # never hide the original error behind a failure to log it
        log.exception("could not record the failed %s of invoice %s", action, invoice_id)


def lock_invoice(repo: WorkspaceRepository, invoice_id: Any) -> Invoice:
    """The invoice, re-read and row-locked for the rest of the transaction."""
    stmt = repo.select(Invoice).where(Invoice.id == _int_id(invoice_id)).with_for_update()
    invoice = repo.session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()
    if invoice is None:
        raise NotFound(f"Invoice {invoice_id!r}")
    return invoice


def _int_id(value: Any) -> int:
    key = as_id(value)
    if key is None:  # not a number, or one no invoice can have: never sent to the database
        raise NotFound(f"Invoice {str(value)[:40]!r}")
    return key


def apply_transition(invoice: Invoice, action: Action) -> tuple[str, str]:
    """Move ``invoice`` through the state machine; returns ``(from, to)`` status values."""
    before = InvoiceStatus(invoice.status)
    after = transition(before, action)
    invoice.status = after.value
    return before.value, after.value


def configured_currencies() -> tuple[str, ...]:
    return tuple(current_app.config["INVOICING_CURRENCIES"])


#: What the loser of a race for the same invoice hears when the state machine has no better answer.
CHANGED_MEANWHILE = "Someone else changed this invoice at the same time. Reload the page and try again."


def claim(uow: UnitOfWork, invoice: Invoice, workspace_id: str, action: Action) -> None:
    """Write ``invoice``'s change now, before anything outside the database is done.

    Every use case that then calls Stripe or sends mail claims the invoice first:
    the flush's version-checked ``UPDATE`` is where two concurrent requests meet
    on SQLite, which cannot lock the row (on PostgreSQL :func:`lock_invoice`
    already made the second wait). The loser's transaction is rolled back before
    it asked Stripe for anything, and it is told what happened in the state
    machine's words ("This invoice has already been sent."), or
    :data:`CHANGED_MEANWHILE`.
    """
    invoice_pk = invoice.id
    try:
        uow.session.flush()
    except StaleDataError:
        uow.rollback()
        current = repository(workspace_id).get(Invoice, invoice_pk)
        transition(current.status, action)  # InvalidTransition: the other request did it
        raise InvoicingError(CHANGED_MEANWHILE) from None


def _commit(uow: UnitOfWork) -> None:
    try:
        uow.commit()
    except StaleDataError:
        uow.rollback()
        raise InvoicingError(CHANGED_MEANWHILE) from None


# --------------------------------------------------------------------- drafts


@dataclass
class DraftInput:
    """What staff (or host code) fill in for a draft.

    ``amount`` is either the text staff typed (``"1,250.50"``, read with the
    currency's decimals) or an ``int`` of Stripe minor units.
    """

    client_id: str
    amount: str | int
    description: str
    currency: str | None = None
    due_date: date | None = None
    subject_ref: str | None = None
    send_method: str = "email"


@dataclass
class _Validated:
    client: Any
    money: Money
    description: str
    due_date: date | None
    subject: HostSubject | None
    send_method: str


def validate_draft(workspace_id: str, data: DraftInput, *, allow_any_currency: bool = False) -> _Validated:
    """Check every field; raise :class:`ValidationFailed` listing each problem."""
    host = get_state().host
    errors: dict[str, str] = {}
    # Text that cannot be stored is refused before the host is asked about it.
    check_text(errors, "client_id", data.client_id, "client")
    check_text(errors, "subject_ref", data.subject_ref, "engagement, project or proposal reference")
    check_text(errors, "description", data.description, "description")

    client = None
    if "client_id" in errors:
        pass
    elif not data.client_id:
        errors["client_id"] = "Choose the client to invoice."
    else:
        client = host.get_client(str(workspace_id), str(data.client_id))
        if client is None:
            errors["client_id"] = "That client was not found in this workspace. Choose one of your clients."
        elif not client.email:
            errors["client_id"] = f"{client.name} has no email address; add one in the client's details first."

    currency = (data.currency or current_app.config["INVOICING_DEFAULT_CURRENCY"] or "").strip().upper()
    money = None
    allowed = configured_currencies()
    if not allow_any_currency and currency not in allowed:
        errors["currency"] = f"Choose one of the currencies: {', '.join(allowed)}."
    else:
        try:
            get_currency(currency)
        except DomainError as exc:
            errors["currency"] = exc.message
    if "currency" not in errors:
        try:
            if isinstance(data.amount, bool):
                raise TypeError("amount must be text or an int of minor units")
            if isinstance(data.amount, int):
                money = validate_amount(Money(data.amount, currency))
            elif isinstance(data.amount, str):
                money = parse_amount(data.amount, currency)
            else:
                raise TypeError(f"amount must be text or an int of minor units, not {type(data.amount).__name__}")
        except AmountError as exc:
            errors["amount"] = exc.message
    elif not str(data.amount or "").strip():
        errors["amount"] = "Enter an amount."

    description = (data.description or "").strip()
    if "description" in errors:
        pass
    elif not description:
        errors["description"] = "Describe what the invoice is for; the client sees it."
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the description under {DESCRIPTION_MAX} characters (it has {len(description)})."

    subject = None
    if data.subject_ref and "subject_ref" not in errors:
        parsed = parse_subject_ref(data.subject_ref)
        if parsed is None:
            errors["subject_ref"] = "That engagement, project or proposal reference is not valid."
        else:
            subject = host.get_subject(str(workspace_id), *parsed)
            if subject is None:
                errors["subject_ref"] = f"That {parsed[0]} was not found in this workspace."
            elif client is not None and subject.client_id and str(subject.client_id) != str(client.id):
                errors["client_id"] = f"The {subject.kind} “{subject.title}” is for another client; choose that client or remove the link."

    if data.due_date is not None:
        if not isinstance(data.due_date, date):
            errors["due_date"] = "Enter the due date as a date, like 2030-01-31."
        elif data.due_date < today():
            errors["due_date"] = "The due date is in the past; choose today or a later date."

    if data.send_method not in SEND_METHODS:
        errors["send_method"] = "Choose how to send the invoice: email, Stripe link or manually."

    if errors:
        raise ValidationFailed(errors)
    return _Validated(client, money, description, data.due_date, subject, data.send_method)


def _apply(invoice: Invoice, valid: _Validated) -> None:
    invoice.client_id = str(valid.client.id)
    invoice.client_name = valid.client.name
    invoice.client_email = valid.client.email
    invoice.amount_minor = valid.money.minor
    invoice.currency = valid.money.currency
    invoice.description = valid.description
    invoice.due_date = valid.due_date
    invoice.send_method = valid.send_method
    invoice.subject_ref = valid.subject.ref if valid.subject else None
    invoice.subject_title = valid.subject.title if valid.subject else None


def create_draft(workspace_id: str, actor: str, data: DraftInput, *, kind: str = "standard") -> InvoiceSnapshot:
    """Save a new draft invoice; the client's name and email are copied onto it."""
    get_workspace(workspace_id)
    valid = validate_draft(workspace_id, data, allow_any_currency=kind == DEPOSIT_KIND)
    with unit_of_work() as uow:
        repo = repository(workspace_id)
        invoice = repo.add(Invoice(kind=kind, status=InvoiceStatus.DRAFT.value, created_by=actor))
        _apply(invoice, valid)
        record_event(repo, invoice, actor, "created", to_status=invoice.status, detail=_summary(invoice))
        repo.session.flush()
        snapshot = InvoiceSnapshot.of(invoice)
        uow.emit(signals.invoice_created, invoice=snapshot, actor=actor)
        _commit(uow)
    return snapshot


def update_draft(workspace_id: str, actor: str, invoice_id: int, data: DraftInput) -> InvoiceSnapshot:
    """Change a draft. Sent invoices cannot be edited (the client has seen them)."""
    with unit_of_work() as uow:
        repo = repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        if not is_editable(invoice.status):
            raise InvoicingError("Only draft invoices can be edited: this one has been sent.")
        valid = validate_draft(workspace_id, data, allow_any_currency=invoice.kind == DEPOSIT_KIND)
        _apply(invoice, valid)
        record_event(repo, invoice, actor, "edited", from_status=invoice.status, to_status=invoice.status, detail=_summary(invoice))
        repo.session.flush()
        snapshot = InvoiceSnapshot.of(invoice)
        _commit(uow)
    return snapshot


def delete_draft(workspace_id: str, actor: str, invoice_id: int) -> None:
    """Delete a draft (a draft is deleted, never voided: nobody could have paid it)."""
    with unit_of_work() as uow:
        repo = repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        if not is_editable(invoice.status):
            raise InvoicingError("Only draft invoices can be deleted; void a sent invoice instead.")
        repo.session.delete(invoice)
        _commit(uow)
    log.info("draft invoice %s deleted by %s", invoice_id, actor)


def _summary(invoice: Invoice) -> str:
    due = f", due {invoice.due_date.isoformat()}" if invoice.due_date else ""
    return f"{format_money(Money(invoice.amount_minor, invoice.currency))} to {invoice.client_name}{due}"


# --------------------------------------------------------------------- deposits


def deposit_refusal(subject: HostSubject | None) -> str | None:
    """Why a deposit invoice cannot be raised for ``subject`` (``None``: it can)."""
    if subject is None:
        return "That proposal was not found in this workspace."
    if subject.kind != "proposal":
        return "Deposit invoices are raised from proposals."
    if not subject.approved:
        return "The proposal has not been approved internally yet."
    if not subject.accepted_by_client:
        return "The client has not accepted the proposal yet."
    if not subject.total_minor or not subject.currency:
        return "The proposal has no total to take a deposit from."
    return None


def existing_deposit(workspace_id: str, proposal_id: str) -> Invoice | None:
    """A deposit invoice already raised for the proposal (not voided), if any."""
    repo = repository(workspace_id)
    stmt = (
        repo.select(Invoice)
        .where(
            Invoice.kind == DEPOSIT_KIND,
            Invoice.subject_ref == f"proposal:{proposal_id}",
            Invoice.status != InvoiceStatus.VOIDED.value,
        )
        .order_by(Invoice.id)
        .limit(1)
    )
    return repo.session.scalars(stmt).first()


def parse_percent(text: str | Decimal | int) -> Decimal:
    if isinstance(text, Decimal):
        return text
    if isinstance(text, int) and not isinstance(text, bool):
        return Decimal(text)
    cleaned = str(text or "").strip().rstrip("%").strip()
    if not cleaned:
        raise AmountError("Enter the deposit percentage, like 30.", field="percent")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise AmountError("Enter the deposit percentage as a number, like 30 or 12.5.", field="percent") from None
    if not value.is_finite():
        raise AmountError("Enter the deposit percentage as a number, like 30 or 12.5.", field="percent")
    return value


def create_deposit_from_proposal(
    workspace_id: str,
    actor: str,
    proposal_id: str,
    *,
    percent: str | Decimal | int | None = None,
    fixed: str | int | None = None,
    due_date: date | None = None,
    send_method: str = "email",
    description: str | None = None,
    allow_another: bool = False,
) -> InvoiceSnapshot:
    """Raise a ``deposit`` draft for an approved proposal the client accepted.

    The deposit is ``percent`` % of the proposal total, or a ``fixed`` amount
    (text as typed, or int minor units), in the proposal's currency. A second
    deposit for the same proposal is refused unless ``allow_another`` (so a host
    that raises deposits automatically when a client accepts cannot raise two).
    """
    host = get_state().host
    get_workspace(workspace_id)
    subject = host.get_subject(str(workspace_id), "proposal", str(proposal_id))
    if subject is None:
        raise NotFound(f"proposal {proposal_id!r}")
    refusal = deposit_refusal(subject)
    if refusal:
        raise InvoicingError(refusal)
    if not allow_another:
        existing = existing_deposit(workspace_id, subject.id)
        if existing is not None:
            label = existing.number or f"draft #{existing.id}"
            raise InvoicingError(f"A deposit invoice ({label}) already exists for this proposal.")
    total = Money(int(subject.total_minor), subject.currency)
    try:
        if (percent is None) == (fixed is None or fixed == ""):
            raise AmountError("Choose either a deposit percentage or a fixed deposit amount.", field="percent")
        if percent is not None:
            pct = parse_percent(percent)
            deposit = deposit_amount(total, percent=pct)
            what = f"{pct.normalize():f}% deposit"
        else:
            fixed_money = validate_amount(Money(fixed, total.currency)) if isinstance(fixed, int) else parse_amount(str(fixed), total.currency)
            deposit = deposit_amount(total, fixed=fixed_money)
            what = "Deposit"
    except DomainError as exc:
        raise ValidationFailed({exc.field or "percent": exc.message}) from None
    text = (description or "").strip() or f"{what} for {subject.title}"
    data = DraftInput(
        client_id=str(subject.client_id or ""),
        amount=deposit.minor,
        currency=deposit.currency,
        description=text,
        due_date=due_date,
        subject_ref=subject.ref,
        send_method=send_method,
    )
    return create_draft(workspace_id, actor, data, kind=DEPOSIT_KIND)


# --------------------------------------------------------------------- void and mark paid


def _sync_from_stripe(invoice_id: int) -> str | None:
    """Apply a payment Stripe already has, through the payments service (once only)."""
    try:
        from .payments import sync_invoice_from_stripe
    except ImportError:  # the payments service is not installed in this build
        log.warning("payments.sync_invoice_from_stripe is unavailable; invoice %s is left for the webhook", invoice_id)
        return None
    return sync_invoice_from_stripe(invoice_id)


def _close_checkout(invoice: Invoice) -> tuple[str, str | None]:
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
    from .connections import KeyUnavailable, checkout_gateway, failure_reason, open_session_risk

    try:
        gateway = checkout_gateway(invoice)
    except KeyUnavailable as exc:
        return "none", f"The Checkout Session could not be expired ({failure_reason(exc)}). {open_session_risk(invoice)}"
    session = gateway.expire_checkout_session(invoice.checkout_session_id)
    return session.status, None


def void_invoice(workspace_id: str, actor: str, invoice_id: int, *, reason: str | None = None) -> InvoiceSnapshot:
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
    with unit_of_work() as uow:
        repo = repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        before, after = apply_transition(invoice, Action.VOID)  # refuse before touching Stripe
        invoice.voided_at = utcnow()
        invoice.checkout_url = None
        claim(uow, invoice, workspace_id, Action.VOID)
        state, note = _close_checkout_before(uow, invoice, workspace_id, actor, "void", "The invoice was not voided")
        if state != "complete":
            record_event(repo, invoice, actor, "voided", from_status=before, to_status=after, detail=reason)
            _record_left_open(repo, invoice, actor, note)
            repo.session.flush()
            snapshot = InvoiceSnapshot.of(invoice)
            uow.emit(signals.invoice_voided, invoice=snapshot, actor=actor)
            _commit(uow)
            return snapshot
        invoice_pk = invoice.id
        uow.rollback()
    raise _paid_meanwhile(workspace_id, invoice_pk, actor, "void", "voided")


def _close_checkout_before(uow, invoice: Invoice, workspace_id: str, actor: str, action: str, refusal: str):
    """Expire the invoice's open Checkout Session before a staff action settles it.

    Returns what :func:`_close_checkout` found. If Stripe cannot be asked, nothing
    changes: the transaction is rolled back, the failed attempt recorded, and the
    action refused with Stripe's reason.
    """
    try:
        return _close_checkout(invoice)
    except GatewayError as exc:
        invoice_pk = invoice.id
        uow.rollback()
        record_failure(workspace_id, invoice_pk, actor, action, exc.message)
        raise InvoicingError(f"{refusal}: {exc.message}") from exc


#: Audit action: a staff action went ahead without expiring the invoice's Checkout Session.
CHECKOUT_LEFT_OPEN = "checkout_session_left_open"


def _record_left_open(repo, invoice: Invoice, actor: str, note: str | None) -> None:
    """Record (as a failed step) that the invoice's Checkout Session could not be expired."""
    if note:
        record_event(repo, invoice, actor, CHECKOUT_LEFT_OPEN, from_status=invoice.status,
                     to_status=invoice.status, result="failed", detail=note)


def checkout_left_open(invoice: Invoice, events) -> str | None:
    """The warning to show staff while a Checkout Session left open may still be paid, else ``None``."""
    if not invoice.checkout_session_id or invoice.status not in (InvoiceStatus.VOIDED.value, InvoiceStatus.PAID.value):
        return None
    if invoice.checkout_expires_at is not None and invoice.checkout_expires_at <= utcnow():
        return None
    return next((e.detail for e in reversed(events) if e.action == CHECKOUT_LEFT_OPEN), None)


def _paid_meanwhile(workspace_id: str, invoice_id: int, actor: str, action: str, verb: str) -> PaidMeanwhile:
    _sync_from_stripe(invoice_id)
    get_state().session.expire_all()
    status = repository(workspace_id).get(Invoice, invoice_id).status
    message = (
        f"Stripe says the client has already paid this invoice, so it was not {verb}. "
        + ("It is now marked as paid." if status == InvoiceStatus.PAID.value
           else "The payment is being recorded from Stripe; reload in a moment.")
    )
    record_failure(workspace_id, invoice_id, actor, action, message)
    return PaidMeanwhile(message, status=status)


def mark_paid(
    workspace_id: str,
    actor: str,
    invoice_id: int,
    *,
    method: str,
    paid_on: date | None = None,
    note: str | None = None,
) -> InvoiceSnapshot:
    """Record a payment received outside Stripe (bank transfer, cash, cheque, other).

    Any open Checkout Session is expired first, with the same rule as
    :func:`void_invoice` if the client has just paid through it.
    """
    errors = {}
    if method not in MANUAL_PAYMENT_METHODS:
        errors["method"] = "Choose how the invoice was paid: bank transfer, cash, cheque or other."
    paid_on = paid_on or today()
    if not isinstance(paid_on, date):
        errors["paid_on"] = "Enter the payment date, like 2030-01-31."
    elif paid_on > today():
        errors["paid_on"] = "The payment date cannot be in the future."
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        errors["note"] = f"Keep the note under {NOTE_MAX} characters."
    check_text(errors, "note", note, "note")
    if errors:
        raise ValidationFailed(errors)
    with unit_of_work() as uow:
        repo = repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        transition(invoice.status, Action.MARK_PAID)
        if invoice.sent_at and paid_on < invoice.sent_at.date():
            raise ValidationFailed({"paid_on": f"The payment date cannot be before the invoice was sent ({invoice.sent_at.date().isoformat()})."})
        before, after = apply_transition(invoice, Action.MARK_PAID)
        now = utcnow()
        invoice.paid_at = now if paid_on == now.date() else datetime.combine(paid_on, time(12), tzinfo=timezone.utc)
        invoice.payment_method = method
        invoice.payment_note = note or None
        invoice.amount_paid_minor = invoice.amount_minor
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
            _commit(uow)
            return snapshot
        invoice_pk = invoice.id
        uow.rollback()
    raise _paid_meanwhile(workspace_id, invoice_pk, actor, "mark_paid", "marked as paid by hand")


# --------------------------------------------------------------------- reading


def get_invoice(workspace_id: str, invoice_id: Any) -> Invoice:
    """The invoice in this workspace, or NotFound (another workspace's id included)."""
    return repository(workspace_id).get(Invoice, invoice_id)


def get_snapshot(workspace_id: str, invoice_id: Any) -> InvoiceSnapshot:
    return InvoiceSnapshot.of(get_invoice(workspace_id, invoice_id))


def invoice_events(workspace_id: str, invoice_id: int) -> list[InvoiceEvent]:
    repo = repository(workspace_id)
    return repo.list(InvoiceEvent, InvoiceEvent.invoice_id == invoice_id, order_by=InvoiceEvent.id)


#: Filters by *displayed* status (``overdue`` is a sent invoice past its due date), from the status table.
STATUS_FILTERS: Mapping[str, str] = STAFF_LABELS
SORTS: dict[str, str] = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "due": "Due date",
    "amount_desc": "Amount (highest first)",
    "amount_asc": "Amount (lowest first)",
}
@dataclass(frozen=True)
class _Segment:
    """A run of the list in one sort order: the rows matching ``condition``
    (all rows if ``None``), ordered by ``columns`` (the last one is the id), all
    ascending or all descending, so one composite index serves it both ways."""

    columns: tuple
    descending: bool = False
    condition: Any = None
    holds: Any = None  # does an anchor row (with the sort columns) belong here?


#: Every sort is a keyset order ending in the id, walked from a cursor (the id of
#: the invoice a page continues from) with an index ``(workspace_id, [status,]
#: <sort column>, id)``: no page counts or skips rows, however deep it is. Due
#: dates are optional: invoices without one come after the dated ones, by id.
_SORT_SEGMENTS: dict[str, tuple[_Segment, ...]] = {
    "newest": (_Segment((Invoice.created_at, Invoice.id), descending=True),),
    "oldest": (_Segment((Invoice.created_at, Invoice.id)),),
    "due": (
        _Segment((Invoice.due_date, Invoice.id), condition=Invoice.due_date.is_not(None),
                 holds=lambda anchor: anchor.due_date is not None),
        _Segment((Invoice.id,), condition=Invoice.due_date.is_(None), holds=lambda anchor: anchor.due_date is None),
    ),
    "amount_desc": (_Segment((Invoice.amount_minor, Invoice.id), descending=True),),
    "amount_asc": (_Segment((Invoice.amount_minor, Invoice.id)),),
}


@dataclass
class InvoiceQuery:
    """A list request. ``after`` (an invoice id) continues the list, in any sort,
    from that invoice; ``before`` gives the page that ends just before it
    (keyset pagination). ``page`` (a page number, read only without a cursor) is
    kept for :func:`invoicing_plugin.api.list_invoices` callers; it skips rows
    with ``OFFSET``, which grows with the depth."""

    status: str | None = None
    client_id: str | None = None
    sort: str = "newest"
    page: int = 1
    after: int | None = None
    page_size: int | None = None
    before: int | None = None


@dataclass
class InvoicePage:
    items: list[Invoice]
    query: InvoiceQuery
    has_next: bool
    next_after: int | None = None
    next_page: int | None = None
    prev_page: int | None = None
    is_first: bool = True
    filters: dict[str, str] = field(default_factory=dict)
    #: The cursor of the previous page (``?before=<id>``), when there is one.
    prev_before: int | None = None


def _key(columns: tuple):
    return tuple_(*columns) if len(columns) > 1 else columns[0]


def _bound(segment: _Segment, anchor) -> tuple:
    return tuple(getattr(anchor, column.key) for column in segment.columns)


def _walk(repo: WorkspaceRepository, stmt, segments, start: int, anchor, *, backwards: bool, limit: int) -> list[Invoice]:
    """Up to ``limit`` rows from ``segments[start]`` onwards (towards the start of
    the list if ``backwards``), strictly beyond ``anchor`` when it is given."""
    rows: list[Invoice] = []
    order = range(start, -1, -1) if backwards else range(start, len(segments))
    for index in order:
        segment = segments[index]
        descending = segment.descending != backwards
        part = stmt if segment.condition is None else stmt.where(segment.condition)
        if anchor is not None and index == start:
            key, bound = _key(segment.columns), _bound(segment, anchor)
            bound = tuple_(*bound) if len(bound) > 1 else bound[0]
            part = part.where(key < bound if descending else key > bound)
        part = part.order_by(*(c.desc() if descending else c.asc() for c in segment.columns))
        rows += repo.session.scalars(part.limit(limit - len(rows)))
        if len(rows) >= limit:
            break
    return rows


def _segment_of(segments, anchor) -> int:
    return next((i for i, s in enumerate(segments) if s.holds is None or s.holds(anchor)), 0)


def list_invoices(workspace_id: str, query: InvoiceQuery | None = None, *, on: date | None = None) -> InvoicePage:
    """One page of the workspace's invoices, filtered and sorted.

    Fast at any depth in every sort: a page continues from a cursor (the id of
    the last invoice of the previous page, or the first of the next one) along
    an index ``(workspace_id, [status,] <sort column>, id)``, and no page ever
    counts the whole table (one extra row tells whether there is another page).
    A cursor that names no invoice of this workspace gives the first page.
    """
    query = query or InvoiceQuery()
    if query.sort not in SORTS:
        query.sort = "newest"
    if query.status and query.status not in STATUS_FILTERS:
        query.status = None
    size = query.page_size or int(current_app.config["INVOICING_PAGE_SIZE"])
    size = max(1, min(size, 500))
    repo = repository(workspace_id)
    stmt = repo.select(Invoice)
    day = on or today()
    if query.status == "overdue":
        stmt = stmt.where(Invoice.status == "sent", Invoice.due_date < day)
    elif query.status == "sent":
        stmt = stmt.where(Invoice.status == "sent", (Invoice.due_date.is_(None)) | (Invoice.due_date >= day))
    elif query.status:
        stmt = stmt.where(Invoice.status == query.status)
    if query.client_id:
        stmt = stmt.where(Invoice.client_id == str(query.client_id))

    segments = _SORT_SEGMENTS[query.sort]
    if query.status == "sent" and query.sort == "due":
        # Said as a range on the dated segment, "not overdue" walks the index from
        # today instead of filtering out every overdue invoice first.
        dated, undated = segments
        segments = (replace(dated, condition=and_(dated.condition, Invoice.due_date >= day)), undated)
    page = InvoicePage(items=[], query=query, has_next=False)
    cursor = _int_or_none(query.before) or _int_or_none(query.after)
    anchor = None
    if cursor is not None:
        anchor = repo.session.execute(
            repo.select(Invoice, Invoice.id, Invoice.created_at, Invoice.amount_minor, Invoice.due_date)
            .where(Invoice.id == cursor)
        ).first()
    if anchor is None and cursor is None and (query.page or 1) > 1:
        return _offset_page(repo, stmt, segments, query, size)

    backwards = anchor is not None and _int_or_none(query.before) is not None
    start = _segment_of(segments, anchor) if anchor is not None else 0
    rows = _walk(repo, stmt, segments, start, anchor, backwards=backwards, limit=size + 1)
    if backwards and not rows:  # nothing before the cursor (any more): the first page
        backwards, anchor, start = False, None, 0
        rows = _walk(repo, stmt, segments, start, anchor, backwards=False, limit=size + 1)
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
        page.has_next = True  # the anchor itself comes next
        page.is_first = not more
    else:
        page.has_next = more
        page.is_first = anchor is None
    page.items = rows
    if page.has_next and rows:
        page.next_after = rows[-1].id
    if not page.is_first and rows:
        page.prev_before = rows[0].id
    return page


def _int_or_none(value: Any) -> int | None:
    """A cursor as an invoice id, or ``None`` (no cursor) for anything that cannot be one."""
    return as_id(value) if value is not None else None


def _offset_page(repo: WorkspaceRepository, stmt, segments, query: InvoiceQuery, size: int) -> InvoicePage:
    """Page ``query.page`` by number (``OFFSET``): only for API callers that ask for it."""
    # Beyond MAX_ID pages the OFFSET would not fit the database's integers; such a page is empty anyway.
    number = min(max(1, int(query.page or 1)), MAX_ID)
    if query.sort == "due":  # the two segments in one order: dated first, then undated
        order = (Invoice.due_date.is_(None), Invoice.due_date, Invoice.id)
    else:
        segment = segments[0]
        order = tuple(c.desc() if segment.descending else c.asc() for c in segment.columns)
    rows = list(repo.session.scalars(stmt.order_by(*order).offset((number - 1) * size).limit(size + 1)))
    page = InvoicePage(items=rows[:size], query=query, has_next=len(rows) > size, is_first=number == 1)
    page.next_page = number + 1 if page.has_next else None
    page.prev_page = number - 1 if number > 1 else None
    if page.has_next and page.items:
        page.next_after = page.items[-1].id
    return page


def overdue_invoices(workspace_id: str | None = None, *, on: date | None = None, limit: int | None = None) -> list[Invoice]:
    """Sent invoices past their due date, oldest due first (all workspaces unless one is given)."""
    session = get_state().session
    day = on or today()
    if workspace_id is not None:
        stmt = repository(workspace_id).select(Invoice)
    else:
        stmt = select(Invoice)
    stmt = stmt.where(Invoice.status == InvoiceStatus.SENT.value, Invoice.due_date < day).order_by(Invoice.due_date, Invoice.id)
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def flag_overdue(invoice: Invoice, *, on: date | None = None) -> bool:
    """Record an ``overdue`` audit event on ``invoice`` once; returns whether it was new."""
    repo = repository(invoice.workspace_id)
    already = repo.find(InvoiceEvent, invoice_id=invoice.id, action="overdue")
    if already is not None:
        return False
    with unit_of_work() as uow:
        days = ((on or today()) - invoice.due_date).days
        record_event(repo, invoice, "system", "overdue", from_status=invoice.status, to_status=invoice.status,
                     detail=f"Overdue by {days} day{'s' if days != 1 else ''} (due {invoice.due_date.isoformat()}).")
        uow.commit()
    return True


def clients_for(workspace_id: str) -> Sequence:
    return get_state().host.list_clients(str(workspace_id))
