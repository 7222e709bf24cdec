"""Credit notes: correcting a sent invoice, in full or in part, with a reason.

:func:`create_credit_note` is the one use case; the staff page and
``api.create_credit_note`` call it. What it does depends on where the invoice is:

* **Before payment** (``sent``), and on the balance of a **partly paid** invoice
  (``partially_paid``): the note *reduces what is due* (``settlement`` ``reduces_due``).
  The invoice's open Checkout Session asks for the old amount, so it is expired first, exactly
  as voiding does (:func:`.closing._close_checkout_before`): if Stripe says the client has just
  paid through it, that payment is applied instead and :class:`~.errors.PaidMeanwhile` is
  raised. The pay link then opens a new session for the amount due (the balance, total less
  paid less credit notes, :func:`.checkout.checkout_amount`); its platform fee is that
  amount's share of the fee locked at send (:func:`~invoicing_plugin.domain.fees.fee_share`),
  so the locked fee is never rewritten here. At most the balance due can be credited. A note
  for everything still due closes a ``sent`` invoice (status ``credited``: nothing due, not
  revenue, not outstanding) and settles a ``partially_paid`` one (status ``paid``: money was
  received for the rest; ``invoice_paid`` is sent with ``source="credit_note"``). To give
  back part of what a partly paid invoice *received*, credit its balance first, then credit
  the paid invoice (below). A partial note may not
  leave less than Stripe's minimum charge to pay on an invoice paid online
  (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts): credit it all then.
* **After payment** (``paid``): ``settlement`` ``refund`` gives the money back through the
  existing refund path (:func:`.refunding.refund_invoice`: only for a payment made through
  Stripe; the invoice shows the refund when Stripe's events arrive), or ``client_credit`` keeps
  it as the client's credit (:func:`client_credit_balance`), which staff may deduct from a
  later invoice of the same client (:func:`.prepayments.deduct_credits`).
* Refused, with nothing changed: drafts (edit or delete them), voided, refunded, credited and
  processing invoices; more than is left to credit (the total less earlier notes; after
  payment also no more than was received and not given back); another currency than the
  invoice's; a missing, too long or NUL-holding reason; both ``amount`` and ``lines``.

**Chosen lines** (``lines=``, :mod:`.credit_lines`): a note for quantities of the invoice's
lines, each at most what earlier line notes left of it; its lines, VAT breakdown and totals
follow :mod:`invoicing_plugin.domain.credit_lines` (the invoice's own rounding rules; the
notes of every line add up to the invoice's net and VAT exactly). Its total (with VAT) is
then the amount credited, under the same rules as an amount (at most what is left to credit
on the invoice, settlement by phase). A note for an amount does not count against the
lines' quantities; the amount left to credit still caps every note.

Each note takes its number from the workspace's own gap-free sequence
(``INVOICING_CREDIT_NOTE_PREFIX``, ``CN-0001``; :mod:`.numbering`) in the transaction that
saves it, while the invoice row is locked; a refused or failed note gives its number back.

Errors: :class:`~.errors.ValidationFailed` (per field: ``amount``, ``currency``, ``reason``,
``settlement``, ``lines``), :class:`~invoicing_plugin.domain.errors.InvalidTransition` /
:class:`~.errors.InvoicingError` (the invoice cannot be credited, Stripe refused),
:class:`~.errors.PaidMeanwhile`, :class:`~invoicing_plugin.persistence.repository.NotFound`
(not in this workspace).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from ..domain.balance import of_invoice
from ..domain.errors import AmountError, InvalidTransition
from ..domain.invoice import Action, InvoiceStatus, transition
from ..domain.money import Money, format_decimal_amount, format_money, parse_refund_amount, validate_amount
from ..persistence.models import CreditNote, CreditNoteSequence, Invoice, Prepayment
from ..persistence.repository import NotFound
from .. import signals
from . import credit_lines
from .closing import _close_checkout_before, _paid_meanwhile, _record_freed, _record_left_open
from . import prepayments
from .common import (
    CHANGED_MEANWHILE, apply_transition, claim, commit_or_conflict, lock_invoice, record_event, unit_of_work,
)
from . import refunding  # the refund path, reused as the staff page uses it
from .errors import InvoicingError, ValidationFailed
from .numbering import take_next_number
from .text import check_text
from .uow import UnitOfWork
from .views import InvoiceSnapshot

__all__ = [
    "REASON_MAX", "SETTLEMENTS", "CreditNoteLineSnapshot", "CreditNoteSnapshot", "client_credit_balance", "creditable_amount",
    "credit_used_on",
    "create_credit_note", "creditable_lines", "credit_notes_of_invoice", "get_credit_note",
]

#: How a credit note is settled, with the words staff see.
SETTLEMENTS: Mapping[str, str] = {
    "reduces_due": "Reduces the amount due (before payment)",
    "refund": "Refund the client through Stripe",
    "client_credit": "Keep as the client's credit",
}
AFTER_PAYMENT = ("refund", "client_credit")
REASON_MAX = 1000
#: Audit action of a credit note on its invoice.
CREDITED = "credit_note"


@dataclass(frozen=True)
class CreditNoteSnapshot:
    """One credit note as saved; amounts in minor units of ``currency``."""

    id: int
    workspace_id: str
    number: str
    invoice_id: int
    invoice_number: str | None
    client_id: str
    amount_minor: int
    currency: str
    reason: str
    settlement: str
    refund_id: str | None
    public_token: str
    created_by: str | None
    created_at: datetime | None
    invoice_status: str
    #: A note for chosen lines: its total without VAT and its VAT (``amount_minor`` is their
    #: sum), its lines and VAT breakdown; ``None`` / empty for a note for an amount.
    net_minor: int | None = None
    tax_minor: int | None = None
    lines: tuple["CreditNoteLineSnapshot", ...] = ()
    vat_breakdown: tuple[dict, ...] = ()

    @classmethod
    def of(cls, note: CreditNote, invoice: Invoice) -> "CreditNoteSnapshot":
        return cls(id=note.id, workspace_id=note.workspace_id, number=note.number, invoice_id=note.invoice_id,
                   invoice_number=invoice.number, client_id=note.client_id, amount_minor=int(note.amount_minor),
                   currency=note.currency, reason=note.reason, settlement=note.settlement, refund_id=note.refund_id,
                   public_token=note.public_token, created_by=note.created_by, created_at=note.created_at,
                   invoice_status=invoice.status, net_minor=note.net_minor, tax_minor=note.tax_minor,
                   lines=tuple(CreditNoteLineSnapshot(row.invoice_line_id, row.position, row.description, row.quantity,
                                                      row.unit, int(row.unit_price_minor), row.vat_category,
                                                      row.vat_rate, int(row.net_minor)) for row in note.lines),
                   vat_breakdown=tuple(dict(item) for item in (note.vat_breakdown or ())))

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def settlement_label(self) -> str:
        return SETTLEMENTS.get(self.settlement, self.settlement)


@dataclass(frozen=True)
class CreditNoteLineSnapshot:
    """One credited invoice line: the invoice line's id, the note's position, the line's
    description, unit, unit price (minor units), VAT category and rate (a percent), the
    ``quantity`` credited (Decimal) and the credited net (minor units, BT-131)."""

    invoice_line_id: int
    position: int
    description: str
    quantity: Any
    unit: str
    unit_price_minor: int
    vat_category: str
    vat_rate: Any
    net_minor: int


# --- the rules ------------------------------------------------------------------------------

_S = InvoiceStatus
_REFUSED: Mapping[InvoiceStatus, str] = {
    _S.VOIDED: "A voided invoice cannot be credited: it was cancelled already.",
    _S.PAID_AFTER_VOID: "A voided invoice cannot be credited: refund the payment it received instead.",
    _S.REFUNDED: "A refunded invoice cannot be credited: the money is already back with the client.",
    _S.CREDITED: "This invoice was credited in full already: nothing is left to credit.",
}


def _phase(status: str) -> str:
    """``"before_payment"`` (sent, or partially paid: the note takes off part or all of the
    balance) or ``"after_payment"`` (paid); refused otherwise with the reason."""
    status = InvoiceStatus(status)
    if status in (_S.SENT, _S.PARTIALLY_PAID):
        return "before_payment"
    if status is _S.PAID:
        return "after_payment"
    if status in _REFUSED:
        raise InvalidTransition(_REFUSED[status], status=status, action=Action.CREDIT_FULL)
    transition(status, Action.CREDIT_FULL)  # drafts and processing: the state machine says why
    raise AssertionError(status)  # pragma: no cover - every other status is refused above


def _client_credit_on(session, invoice: Invoice) -> int:
    stmt = select(func.coalesce(func.sum(CreditNote.amount_minor), 0)).where(
        CreditNote.workspace_id == invoice.workspace_id, CreditNote.invoice_id == invoice.id,
        CreditNote.settlement == "client_credit")
    return int(session.scalar(stmt) or 0)


def _left_to_credit(session, invoice: Invoice) -> int:
    """Before payment (sent, partially paid): the balance due (total - paid - credited).
    After payment (paid): the total less earlier notes, and no more than was received and is
    still held (received - refunded - lost in a dispute - kept as the client's credit)."""
    balance = of_invoice(invoice)
    if InvoiceStatus(invoice.status) is not _S.PAID:
        return max(balance.due_minor, 0)
    total, credited = int(invoice.amount_minor), balance.credited_minor
    if invoice.amount_paid_minor is None:  # a row from before payments were kept: paid in full
        held = total - int(invoice.amount_refunded_minor or 0) - int(invoice.amount_dispute_lost_minor or 0)
    else:
        held = balance.paid_minor
    return max(min(total - credited, held - _client_credit_on(session, invoice)), 0)


def creditable_amount(invoice: Invoice, *, uow: UnitOfWork | None = None) -> Money | None:
    """What a credit note may still take off ``invoice``, or ``None`` when it cannot be credited."""
    try:
        _phase(invoice.status)
    except InvalidTransition:
        return None
    left = _left_to_credit((uow or unit_of_work()).session, invoice)
    return Money(left, invoice.currency) if left > 0 else None


def creditable_lines(invoice: Invoice, *, uow: UnitOfWork | None = None) -> list:
    """The invoice's lines with what is left to credit of each (:class:`.credit_lines.CreditableLine`),
    for the credit note form; empty when the invoice cannot be credited or has no line rows."""
    if creditable_amount(invoice, uow=uow) is None:
        return []
    return credit_lines.creditable_lines((uow or unit_of_work()).session, invoice)


def _check_input(amount: Any, currency: str | None, reason: Any, settlement: str | None, lines: Any) -> tuple[str, str | None]:
    """Shape checks that need no invoice; returns ``(reason, settlement)``."""
    errors: dict[str, str] = {}
    if lines is not None and amount is not None and not (isinstance(amount, str) and not amount.strip()):
        errors["amount"] = "Give the lines to credit or an amount, not both."
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, (str, int, Money))):
        raise TypeError(f"amount must be text, an int of minor units or Money, not {type(amount).__name__}")
    check_text(errors, "amount", amount, "amount")
    if currency is not None and not isinstance(currency, str):
        raise TypeError(f"currency must be a currency code, not {type(currency).__name__}")
    check_text(errors, "currency", currency, "currency")
    if reason is not None and not isinstance(reason, str):
        raise TypeError(f"reason must be text, not {type(reason).__name__}")
    check_text(errors, "reason", reason, "reason")
    text = (reason or "").strip()
    if "reason" not in errors:
        if not text:
            errors["reason"] = "Say why the invoice is credited; the client sees it on the credit note."
        elif len(text) > REASON_MAX:
            errors["reason"] = f"Keep the reason under {REASON_MAX} characters."
    if settlement is not None and not isinstance(settlement, str):
        raise TypeError(f"settlement must be text, not {type(settlement).__name__}")
    settlement = (settlement or "").strip() or None
    if settlement is not None and settlement not in SETTLEMENTS:
        errors["settlement"] = "Choose how the credit is settled: " + ", ".join(SETTLEMENTS.values()).lower() + "."
    if errors:
        raise ValidationFailed(errors)
    return text, settlement


def _money(amount: Any, currency: str | None, invoice: Invoice, left: int) -> Money:
    """The amount to credit in the invoice's currency (``None``: all that is left)."""
    code = invoice.currency
    if currency is not None and currency.strip().upper() != code.upper():
        raise ValidationFailed({"currency": f"A credit note is in the invoice's currency, {code}."})
    if isinstance(amount, Money) and amount.currency != code:
        raise ValidationFailed({"currency": f"A credit note is in the invoice's currency, {code}, not {amount.currency}."})
    if left <= 0:
        raise InvoicingError("Nothing is left to credit on this invoice.")
    try:
        if amount is None or (isinstance(amount, str) and not amount.strip()):
            money = Money(left, code)
        elif isinstance(amount, Money):
            money = amount
        elif isinstance(amount, int):
            money = Money(amount, code)
        else:
            money = parse_refund_amount(amount, code)  # more than zero, in the currency's step
    except AmountError as exc:
        raise ValidationFailed({"amount": exc.message}) from None
    if money.minor <= 0:
        raise ValidationFailed({"amount": "Amount must be greater than zero."})
    if money.minor > left:
        raise ValidationFailed({"amount": f"At most {format_money(Money(left, code))} is left to credit."})
    return money


# --- the use case ---------------------------------------------------------------------------


def create_credit_note(workspace_id: str, actor: str, invoice_id: Any, *, amount: Any = None, lines: Any = None,
                       reason: str, settlement: str | None = None, currency: str | None = None,
                       request_token: str | None = None, uow: UnitOfWork | None = None) -> CreditNoteSnapshot:
    """Credit ``amount`` of the invoice (``None``: all that is left) for ``reason``.

    ``amount``: what a person typed (``"120.50"``), an ``int`` of minor units or a ``Money``.
    ``settlement``: before payment ``None``/``"reduces_due"``; after payment ``"refund"`` or
    ``"client_credit"`` (required). ``currency``, when given, must be the invoice's.
    ``request_token`` (refunds): the form's random token, so a double submit is one refund
    (:func:`.refunding.new_request_token`; a new one when not given). See the module for
    what changes and what is refused.
    """
    reason, settlement = _check_input(amount, currency, reason, settlement, lines)
    choices = credit_lines.parse(lines) if lines is not None else None
    uow = uow or unit_of_work()
    with uow:  # every check that needs the invoice, before anything is changed or asked of Stripe
        repo = uow.repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        phase = _phase(invoice.status)
        if phase == "before_payment":
            if settlement not in (None, "reduces_due") and invoice.status == _S.PARTIALLY_PAID.value:
                raise ValidationFailed({"settlement": (
                    "On a partly paid invoice a credit note reduces the balance due. To give back money "
                    "received, credit the whole balance first (the invoice is then paid), then make a credit "
                    "note settled by a refund or kept as the client's credit.")})
            if settlement not in (None, "reduces_due"):
                raise ValidationFailed({"settlement": "Before payment a credit note reduces the amount due: nothing "
                                                      "was paid to refund or keep."})
            settlement = "reduces_due"
        elif settlement not in AFTER_PAYMENT:
            raise ValidationFailed({"settlement": "The invoice is paid: choose to refund the client or keep the "
                                                  "amount as the client's credit."})
        priced = None
        if choices is not None:
            priced = credit_lines.price(uow.session, invoice, choices)
            try:
                money = _money(priced[0].total_minor, currency, invoice, _left_to_credit(uow.session, invoice))
            except ValidationFailed as exc:  # the lines' total is more than is left to credit
                raise ValidationFailed({("lines" if key == "amount" else key): message.replace(
                    "At most", "These lines come to " + format_money(Money(priced[0].total_minor, invoice.currency))
                    + " with VAT; at most") for key, message in exc.errors.items()}) from None
        else:
            money = _money(amount, currency, invoice, _left_to_credit(uow.session, invoice))
        if settlement == "refund" and not invoice.payment_intent_id:
            raise ValidationFailed({"settlement": "This invoice was paid outside Stripe: keep the amount as the "
                                                  "client's credit, or give the money back the way it came."})
        if settlement == "reduces_due":
            return _reduce_due(uow, repo, invoice, actor, money, reason, priced)
        if settlement == "client_credit":
            note = _save(uow, repo, invoice, actor, money, reason, settlement, priced=priced)
            snapshot = CreditNoteSnapshot.of(note, invoice)
            commit_or_conflict(uow)
            return snapshot
        invoice_pk = invoice.id
        uow.rollback()  # the refund path locks the invoice in its own transaction
    token = request_token or refunding.new_request_token()
    refund = refunding.refund_invoice(
        workspace_id, actor, invoice_pk, amount=format_decimal_amount(money), reason="requested_by_customer",
        note=f"Credit note: {reason}"[:refunding.NOTE_MAX], request_token=token, uow=uow.fresh(),
    )
    with uow.fresh() as again:
        repo = again.repository(workspace_id)
        invoice = lock_invoice(repo, invoice_pk)
        same = again.session.scalars(repo.select(CreditNote).where(CreditNote.refund_id == refund.refund_id)).first()
        if same is not None:  # the same form sent twice: one refund, one credit note
            return CreditNoteSnapshot.of(same, invoice)
        if priced is not None:  # the same lines, read again under this transaction's lock
            priced = credit_lines.price(again.session, invoice, choices)
        note = _save(again, repo, invoice, actor, money, reason, "refund", refund_id=refund.refund_id, priced=priced)
        snapshot = CreditNoteSnapshot.of(note, invoice)
        commit_or_conflict(again)
        return snapshot


def _save(uow: UnitOfWork, repo, invoice: Invoice, actor: str, money: Money, reason: str, settlement: str, *,
          refund_id: str | None = None, before: str | None = None, after: str | None = None,
          priced=None) -> CreditNote:
    """The note (with its number, and its lines when ``priced`` by :func:`.credit_lines.price`)
    and the invoice's credited sum, in the caller's transaction."""
    prefix = uow.settings["INVOICING_CREDIT_NOTE_PREFIX"]
    number = take_next_number(uow.session, invoice.workspace_id, prefix, model=CreditNoteSequence)
    note = repo.add(CreditNote(number=number, invoice_id=invoice.id, client_id=invoice.client_id,
                               amount_minor=money.minor, currency=money.currency, reason=reason,
                               settlement=settlement, refund_id=refund_id, created_by=actor))
    if priced is not None:
        credit_lines.store(note, *priced)
    invoice.amount_credited_minor = int(invoice.amount_credited_minor or 0) + money.minor
    how = {"reduces_due": "reduces the amount due", "refund": f"refunded through Stripe ({refund_id})",
           "client_credit": "kept as the client's credit"}[settlement]
    record_event(repo, invoice, actor, CREDITED, from_status=before or invoice.status, to_status=after or invoice.status,
                 detail=f"credit note {number} for {format_money(money)}, {how}: {reason}")
    try:  # the invoice's version-checked UPDATE: where two writers of one invoice meet on SQLite
        uow.session.flush()
    except StaleDataError:
        uow.rollback()
        raise InvoicingError(CHANGED_MEANWHILE) from None
    return note


def _reduce_due(uow: UnitOfWork, repo, invoice: Invoice, actor: str, money: Money, reason: str,
                priced=None) -> CreditNoteSnapshot:
    """Before payment (or on a partly paid invoice's balance): lower the amount due (closing a
    sent invoice as credited, settling a partly paid one as paid, when nothing is left) and
    expire the open Checkout Session, which asks for the old amount, as voiding does."""
    workspace_id = invoice.workspace_id
    due_after = of_invoice(invoice).due_minor - money.minor
    if 0 < due_after and invoice.stripe_mode:  # the pay link must still be able to charge what is left
        try:
            validate_amount(Money(due_after, invoice.currency))
        except AmountError as exc:
            raise ValidationFailed({"amount": (
                f"After this credit note {format_money(Money(due_after, invoice.currency))} would be left to pay, "
                f"which Stripe cannot charge ({exc.message}): credit all of it, or less.")}) from None
    before = after = invoice.status
    if due_after == 0:
        before, after = apply_transition(invoice, Action.CREDIT_FULL)
    # The locked fee (application_fee_minor) stays: the next session carries its pro-rata share
    # of it for the amount it asks (checkout.checkout_request, domain.fees.fee_share).
    invoice.checkout_url = None
    claim(uow, invoice, workspace_id, Action.CREDIT_FULL)
    note = _save(uow, repo, invoice, actor, money, reason, "reduces_due", before=before, after=after, priced=priced)
    if after == _S.CREDITED.value:  # cancelled in full: its deposits and credits serve a later invoice
        _record_freed(repo, invoice, actor, prepayments.release(invoice, uow.clock()))
    state, left_open = _close_checkout_before(uow, invoice, workspace_id, actor, CREDITED,
                                              "The credit note was not made")
    if state != "complete":
        _record_left_open(repo, invoice, actor, left_open)
        repo.session.flush()
        snapshot = CreditNoteSnapshot.of(note, invoice)
        if before == _S.PARTIALLY_PAID.value and after == _S.PAID.value:  # the rest credited: settled
            uow.emit(signals.invoice_paid, invoice=InvoiceSnapshot.of(invoice), actor=actor, source="credit_note")
        commit_or_conflict(uow)
        return snapshot
    invoice_pk = invoice.id
    uow.rollback()
    raise _paid_meanwhile(uow, workspace_id, invoice_pk, actor, CREDITED, "credited")


# --- reading --------------------------------------------------------------------------------


def credit_notes_of_invoice(workspace_id: str, invoice_id: Any, *, uow: UnitOfWork | None = None) -> list[CreditNoteSnapshot]:
    """The invoice's credit notes, oldest first (:class:`NotFound` for another workspace's invoice)."""
    uow = uow or unit_of_work()
    repo = uow.repository(workspace_id)
    invoice = repo.get(Invoice, invoice_id)
    notes = repo.list(CreditNote, CreditNote.invoice_id == invoice.id, order_by=CreditNote.id)
    return [CreditNoteSnapshot.of(note, invoice) for note in notes]


def get_credit_note(workspace_id: str, credit_note_id: Any, *, uow: UnitOfWork | None = None) -> tuple[CreditNote, Invoice]:
    """One credit note of the workspace and its invoice (:class:`NotFound` otherwise)."""
    repo = (uow or unit_of_work()).repository(workspace_id)
    note = repo.get(CreditNote, credit_note_id)
    return note, repo.get(Invoice, note.invoice_id)


def find_by_token(token: str, *, uow: UnitOfWork | None = None) -> tuple[CreditNote, Invoice]:
    """The credit note whose document link carries ``token`` (:class:`NotFound` otherwise)."""
    if not isinstance(token, str) or not 20 <= len(token) <= 64 or not token.replace("-", "").replace("_", "").isalnum():
        raise NotFound("credit note")
    session = (uow or unit_of_work()).session
    note = session.scalars(select(CreditNote).where(CreditNote.public_token == token)).one_or_none()
    if note is None:
        raise NotFound("credit note")
    return note, session.get(Invoice, note.invoice_id)


def client_credit_balance(workspace_id: str, client_id: str, *, uow: UnitOfWork | None = None) -> list[Money]:
    """The client's credit kept from credit notes and not yet deducted on a later invoice
    (:func:`.prepayments.deduct_credits`), per currency."""
    repo = (uow or unit_of_work()).repository(workspace_id)
    held = select(Prepayment.holds_credit_note_id).where(Prepayment.holds_credit_note_id.is_not(None))
    stmt = (repo.select(CreditNote, CreditNote.currency, func.sum(CreditNote.amount_minor))
            .where(CreditNote.client_id == str(client_id), CreditNote.settlement == "client_credit",
                   CreditNote.id.not_in(held))
            .group_by(CreditNote.currency).order_by(CreditNote.currency))
    return [Money(int(total), currency) for currency, total in repo.session.execute(stmt) if total]


def credit_used_on(workspace_id: str, notes, *, uow: UnitOfWork | None = None) -> dict[int, str]:
    """Where each of ``notes`` (``CreditNote`` rows) kept as the client's credit was used:
    ``{credit note id: number of the invoice whose prepayment row holds it}`` ("a draft
    invoice" while that invoice is a draft). A credit not used (or not kept as credit) is
    absent; so is one released again when its invoice was cancelled or deleted."""
    ids = [note.id for note in notes if note.settlement == "client_credit"]
    if not ids:
        return {}
    session = (uow or unit_of_work()).repository(workspace_id).session
    stmt = (select(Prepayment.holds_credit_note_id, Invoice.number)
            .join(Invoice, Invoice.id == Prepayment.invoice_id)
            .where(Prepayment.workspace_id == workspace_id, Invoice.workspace_id == workspace_id,
                   Prepayment.holds_credit_note_id.in_(ids)))
    return {int(note_id): number or "a draft invoice" for note_id, number in session.execute(stmt)}
