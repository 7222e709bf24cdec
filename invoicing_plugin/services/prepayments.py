"""Paid deposits deducted from a later invoice for the same subject (issue 15).

When staff create an invoice for a subject (``subject_ref``, e.g. ``"proposal:42"``)
whose deposit invoices were paid, the new invoice may deduct them, as Odoo does with
down payments: each deducted deposit is a :class:`~invoicing_plugin.persistence.models.Prepayment`
row (its number, the day it was paid, what it kept) and ``Invoice.prepaid_minor`` is
their sum. EN 16931 counts prepayments in the paid amount BT-113, so the amount due
(BT-115) is the total less deposits, payments and credit notes
(:mod:`invoicing_plugin.domain.balance`); the Checkout Session asks for that.

Rules (each refusal is a :class:`ValidationFailed` on ``deduct_deposits`` and saves nothing):

* A deposit can be deducted when it is a ``deposit`` invoice of this workspace for the
  same subject, ``paid``, with money kept (paid less refunds and lost disputes, > 0), in
  the invoice's currency (a deposit in another currency cannot be deducted: the message
  says so), and not deducted already.
* A deposit is deducted once, ever: ``invoicing_prepayments.deposit_invoice_id`` is
  unique, and the check and the insert run under a lock on the deposit (PostgreSQL,
  :mod:`~invoicing_plugin.persistence.locks`), so two drafts created at the same moment
  cannot both take it. Deleting the draft deletes its rows: the deposits are free again.
* The deposits (and credits) deducted may cover the invoice's total, never more: more is
  refused, never capped -- a cap would silently drop part of a deposit the client paid.
  (Deduct fewer deposits, or issue the final invoice for the full amount.) An invoice
  whose total they cover in full has nothing due: sending it settles it as paid, with no
  Checkout Session (:mod:`.sending`).
* Ids that are not invoices of this workspace answer :class:`NotFound` (404).
* Voiding the invoice, or crediting it in full before payment (status ``credited``), frees
  its deposits and credits (:func:`release`): a later invoice can deduct them again. The
  rows stay, as the record of what the cancelled invoice showed, with ``released_at`` set.

**The client's credit** (issue 15): a credit note settled as ``client_credit`` is deducted
from a later invoice of the **same client** in the same workspace and currency the same way
(:func:`available_credits`, :func:`deduct_credits`, field ``apply_credits``): a
:class:`Prepayment` row with ``credit_note_id``, the note's number and the day it was
made. A credit is used whole and once (``holds_credit_note_id`` is unique; a credit larger
than the invoice's total cannot be applied to it); the same total rule applies to deposits
and credits together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import object_session

from ..domain.balance import of_invoice
from ..domain.calendar import local_day
from ..domain.invoice import InvoiceStatus
from ..domain.money import Money, format_money
from ..host import parse_subject_ref
from ..persistence import locks
from ..persistence.models import CreditNote, Invoice, Prepayment
from ..persistence.repository import NotFound, as_id
from .common import DEPOSIT_KIND, unit_of_work
from .errors import InvoicingError, ValidationFailed
from .text import has_nul
from .uow import UnitOfWork

#: The length of ``Invoice.subject_ref`` ("proposal:42").
SUBJECT_REF_MAX = Invoice.__table__.c.subject_ref.type.length

__all__ = ["CreditChoice", "DepositChoice", "Selection", "available_credits", "check_selection", "deduct",
           "deduct_credits", "deductible_deposits", "recheck", "release"]

FIELD = "deduct_deposits"
CREDIT_FIELD = "apply_credits"

Selection = bool | Sequence[Any] | None
"""``True``: every deductible deposit of the subject in the invoice's currency; ``False`` /
``None``: none; a list: those deposit invoice ids (each must be deductible)."""


@dataclass(frozen=True, kw_only=True)
class _Choice:
    """What a draft form offers to deduct: ``amount_minor`` of ``currency``, and ``refusal``,
    why it cannot be deducted now (``None``: it can)."""

    id: int
    number: str
    amount_minor: int
    currency: str
    refusal: str | None

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


@dataclass(frozen=True, kw_only=True)
class DepositChoice(_Choice):
    """A paid deposit of the subject, as the draft form offers it: ``amount_minor`` is what
    would be deducted (paid less refunds and lost disputes); ``paid_on`` its paid day."""

    paid_on: date | None


def check_selection(selection: Any, field: str = FIELD) -> Selection:
    """The selection's shape, before anything is read: ``True``, ``False``, ``None`` or a
    list of ids (ints or digit text). Else :class:`ValidationFailed` on ``field``."""
    what = "deposit invoice ids" if field == FIELD else "credit note ids"
    if selection is None or isinstance(selection, bool):
        return selection
    if isinstance(selection, (str, bytes, dict)) or not isinstance(selection, Sequence):
        raise ValidationFailed({field: f"Give True, False or a list of {what}."})
    if len(selection) > 100:
        raise ValidationFailed({field: "That is too many for one invoice."})
    ids: list[Any] = []
    for item in selection:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise ValidationFailed({field: what[0].upper() + what[1:] + " are whole numbers."})
        ids.append(item)
    return ids


def _kept(deposit: Invoice) -> int:
    balance = of_invoice(deposit)
    return max(0, balance.paid_minor)


def _holder(session, column, held_id: int) -> Prepayment | None:
    """The prepayment row that holds deposit/credit note ``held_id`` (``column`` is
    ``Prepayment.holds_deposit_id`` or ``holds_credit_note_id``), or ``None``."""
    return session.scalars(select(Prepayment).where(column == held_id).limit(1)).first()


def _deducted_on(session, deposit_id: int) -> Prepayment | None:
    return _holder(session, Prepayment.holds_deposit_id, deposit_id)


def _held_refusal(session, what: str, holder: Prepayment | None) -> str | None:
    """"<what> is already deducted on INV-0007." when ``holder`` holds it, else ``None``."""
    if holder is None:
        return None
    other = session.get(Invoice, holder.invoice_id)
    where = (other.number or f"draft #{other.id}") if other is not None else f"invoice #{holder.invoice_id}"
    return f"{what} is already deducted on {where}."


def _currency_refusal(what: str, its_currency: str, currency: str, kind: str) -> str | None:
    """A deposit or credit is deducted only from an invoice in its own currency."""
    if its_currency.upper() == (currency or "").upper():
        return None
    return (f"{what} {'was paid' if kind == 'deposit' else 'is'} in {its_currency.upper()}; this invoice is in "
            f"{(currency or '').upper()}. A {kind} can only be deducted from an invoice in its own currency.")


def _refusal(session, deposit: Invoice, subject_ref: str | None, currency: str) -> str | None:
    label = deposit.number or f"draft #{deposit.id}"
    if deposit.kind != DEPOSIT_KIND:
        return f"Invoice {label} is not a deposit invoice."
    if subject_ref is None or deposit.subject_ref != subject_ref:
        return f"Deposit {label} is for another proposal, engagement or project."
    if deposit.status != InvoiceStatus.PAID.value:
        return f"Deposit {label} has not been paid."
    if _kept(deposit) <= 0:
        return f"Deposit {label} was refunded: nothing to deduct."
    return (_currency_refusal(f"Deposit {label}", deposit.currency, currency, "deposit")
            or _held_refusal(session, f"Deposit {label}", _deducted_on(session, deposit.id)))


def _deposits_of_subject(repo, subject_ref: str) -> list[Invoice]:
    stmt = (repo.select(Invoice)
            .where(Invoice.kind == DEPOSIT_KIND, Invoice.subject_ref == subject_ref,
                   Invoice.status == InvoiceStatus.PAID.value)
            .order_by(Invoice.id))
    return list(repo.session.scalars(stmt))


def deductible_deposits(workspace_id: str, subject_ref: str | None, currency: str, *,
                        uow: UnitOfWork | None = None) -> list[DepositChoice]:
    """The subject's paid deposits (oldest first), each with why it cannot be deducted
    (``refusal``), for the draft form. Empty without a subject, and for text that cannot be
    a stored reference (malformed, with a NUL, longer than the column): nothing is looked up
    for it (the draft's own validation says what is wrong with it)."""
    if (not isinstance(subject_ref, str) or has_nul(subject_ref) or len(subject_ref) > SUBJECT_REF_MAX
            or parse_subject_ref(subject_ref) is None):
        return []
    uow = uow or unit_of_work()
    repo = uow.repository(workspace_id)
    zone = uow.zone(workspace_id)
    out = []
    for deposit in _deposits_of_subject(repo, subject_ref):
        out.append(DepositChoice(
            id=deposit.id, number=deposit.number or f"#{deposit.id}",
            paid_on=local_day(deposit.paid_at, zone) if deposit.paid_at else None,
            amount_minor=_kept(deposit), currency=deposit.currency,
            refusal=_refusal(repo.session, deposit, subject_ref, currency)))
    return out


def deduct(uow: UnitOfWork, invoice: Invoice, selection: Selection, actor: str) -> list[Prepayment]:
    """Deduct the selected deposits from ``invoice`` (a new, flushed draft) in ``uow``'s
    transaction: lock each deposit, check it, insert its :class:`Prepayment` row and set
    ``invoice.prepaid_minor``. Raises :class:`ValidationFailed` / :class:`NotFound`; the
    caller's transaction then rolls back, so nothing is saved."""
    selection = check_selection(selection)
    if not selection:
        return []
    workspace_id = str(invoice.workspace_id)
    repo = uow.repository(workspace_id)
    session = repo.session
    if invoice.kind == DEPOSIT_KIND:
        raise ValidationFailed({FIELD: "Deposits are deducted from the final invoice, not from another deposit."})
    if selection is True:
        if not invoice.subject_ref:
            return []
        ids = [d.id for d in _deposits_of_subject(repo, invoice.subject_ref)]
        explicit = False
    else:
        if not invoice.subject_ref:
            raise ValidationFailed({FIELD: "Link the invoice to the proposal, engagement or project its deposits "
                                           "were for, to deduct them."})
        ids = []
        for raw in selection:
            key = as_id(raw)
            if key is None:
                raise NotFound(f"Invoice {str(raw)[:40]!r}")
            if key not in ids:
                ids.append(key)
        explicit = True
    zone = uow.zone(workspace_id)
    rows = []
    for deposit_id in sorted(ids):  # one order for every request: no deadlock between two
        locks.hold(session, "prepayment", workspace_id, str(deposit_id))
        deposit = session.scalars(repo.select(Invoice).where(Invoice.id == deposit_id)).one_or_none()
        if deposit is None:
            raise NotFound(f"Invoice {deposit_id!r}")
        refusal = _refusal(session, deposit, invoice.subject_ref, invoice.currency)
        if refusal is not None:
            if explicit:
                raise ValidationFailed({FIELD: refusal})
            continue  # "all of them": the ones that can be deducted
        rows.append(Prepayment(
            invoice_id=invoice.id, deposit_invoice_id=deposit.id, holds_deposit_id=deposit.id, workspace_id=workspace_id,
            amount_minor=_kept(deposit), currency=deposit.currency.upper(), reference=deposit.number or f"#{deposit.id}",
            paid_on=local_day(deposit.paid_at, zone) if deposit.paid_at else None, created_by=actor))
    total = int(invoice.prepaid_minor or 0) + sum(row.amount_minor for row in rows)
    _check_total(invoice, total)
    for row in rows:
        session.add(row)
    try:
        session.flush()
    except IntegrityError:  # another transaction took one meanwhile (SQLite has no lock): the index says no
        raise InvoicingError("One of these deposits was just deducted on another invoice; reload and try again.") from None
    invoice.prepaid_minor = total
    session.expire(invoice, ["prepayments"])
    return rows


def _check_total(invoice: Invoice, prepaid_minor: int, field: str = FIELD) -> None:
    """Deposits and credits may cover the invoice's total, not more (the client would be
    owed money by an invoice)."""
    if prepaid_minor and prepaid_minor > int(invoice.amount_minor):
        raise ValidationFailed({field: (
            f"The deposits and credits deducted ({format_money(Money(prepaid_minor, invoice.currency))}) are more "
            f"than this invoice's total of {format_money(Money(int(invoice.amount_minor), invoice.currency))}; "
            "deduct fewer of them or raise the invoice's total.")})


def recheck(invoice: Invoice) -> None:
    """After a draft with deducted deposits was edited: its currency and subject must still
    be the deposits', and the deposits must still leave something to pay."""
    prepaid = int(invoice.prepaid_minor or 0)
    if not prepaid:
        return
    for row in invoice.prepayments:
        if row.currency.upper() != invoice.currency.upper():
            raise ValidationFailed({"currency": (
                f"{'Credit' if row.credit_note_id else 'Deposit'} {row.reference} deducted here is in {row.currency}; "
                f"the invoice must stay in {row.currency} (delete the draft to free it).")})
    session = object_session(invoice)
    for row in invoice.prepayments:
        if row.credit_note_id is not None:
            note = session.get(CreditNote, row.credit_note_id)
            if note is not None and note.client_id != invoice.client_id:
                raise ValidationFailed({"client_id": (
                    f"The client's credit {row.reference} is deducted here: keep the client "
                    "(delete the draft to free the credit).")})
    subjects = {getattr(session.get(Invoice, row.deposit_invoice_id), "subject_ref", None)
                for row in invoice.prepayments if row.deposit_invoice_id is not None}
    if subjects and subjects != {invoice.subject_ref}:
        raise ValidationFailed({"subject_ref": (
            "Deposits of this proposal, engagement or project are deducted here: keep the link "
            "(delete the draft to free the deposits).")})
    _check_total(invoice, prepaid)



def release(invoice: Invoice, now) -> list[Prepayment]:
    """Free the deposits and credits ``invoice`` deducted (it is being voided or credited in
    full), in the caller's transaction: each row stops holding its deposit or credit
    (``holds_*`` NULL) and gets ``released_at``; the rows stay as the record of what the
    cancelled invoice showed. Returns the rows freed (none when nothing was held)."""
    freed = []
    for row in invoice.prepayments:
        if row.holds_deposit_id is None and row.holds_credit_note_id is None:
            continue
        row.holds_deposit_id = None
        row.holds_credit_note_id = None
        row.released_at = now
        freed.append(row)
    return freed


# --- the client's credit ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreditChoice(_Choice):
    """The client's credit kept from a credit note, as the draft form offers it:
    ``amount_minor`` is deducted whole; ``made_on`` the day the note was made."""

    made_on: date | None


def _credit_held_by(session, note_id: int) -> Prepayment | None:
    return _holder(session, Prepayment.holds_credit_note_id, note_id)


def _credit_refusal(session, note: CreditNote, client_id: str, currency: str) -> str | None:
    if note.settlement != "client_credit":
        return f"Credit note {note.number} was not kept as the client's credit."
    if note.client_id != str(client_id):
        return f"Credit note {note.number} is another client's credit."
    return (_currency_refusal(f"Credit note {note.number}", note.currency, currency, "credit")
            or _held_refusal(session, f"Credit note {note.number}", _credit_held_by(session, note.id)))


def _credits_of_client(repo, client_id: str) -> list[CreditNote]:
    stmt = (repo.select(CreditNote)
            .where(CreditNote.client_id == str(client_id), CreditNote.settlement == "client_credit")
            .order_by(CreditNote.id))
    return list(repo.session.scalars(stmt))


def available_credits(workspace_id: str, client_id: str | None, currency: str, *,
                      uow: UnitOfWork | None = None) -> list[CreditChoice]:
    """The client's credit notes kept as credit (oldest first) that are not deducted on
    another invoice, each with why it cannot be applied to an invoice in ``currency``."""
    if not isinstance(client_id, str) or not client_id or has_nul(client_id) or len(client_id) > 64:
        return []
    uow = uow or unit_of_work()
    repo = uow.repository(workspace_id)
    zone = uow.zone(workspace_id)
    out = []
    for note in _credits_of_client(repo, client_id):
        if _credit_held_by(repo.session, note.id) is not None:
            continue  # used: not offered at all
        out.append(CreditChoice(id=note.id, number=note.number,
                                made_on=local_day(note.created_at, zone) if note.created_at else None,
                                amount_minor=int(note.amount_minor), currency=note.currency,
                                refusal=_credit_refusal(repo.session, note, client_id, currency)))
    return out


def deduct_credits(uow: UnitOfWork, invoice: Invoice, selection: Selection, actor: str) -> list[Prepayment]:
    """Deduct the selected client credits from ``invoice`` (a new, flushed draft), as
    :func:`deduct` does deposits: lock each credit note, check it is this client's, in this
    currency and not deducted elsewhere, insert its :class:`Prepayment` row and add it to
    ``invoice.prepaid_minor``. ``True``: every credit that can be (while the total allows,
    oldest first); a list: those credit note ids (each must be). :class:`ValidationFailed`
    (field ``apply_credits``) / :class:`NotFound`; the caller's transaction then rolls back."""
    selection = check_selection(selection, CREDIT_FIELD)
    if not selection:
        return []
    workspace_id = str(invoice.workspace_id)
    repo = uow.repository(workspace_id)
    session = repo.session
    if invoice.kind == DEPOSIT_KIND:
        raise ValidationFailed({CREDIT_FIELD: "The client's credit is deducted from an invoice, not from a deposit."})
    explicit = selection is not True
    if explicit:
        ids = []
        for raw in selection:
            key = as_id(raw)
            if key is None:
                raise NotFound(f"Credit note {str(raw)[:40]!r}")
            if key not in ids:
                ids.append(key)
    else:
        ids = [note.id for note in _credits_of_client(repo, invoice.client_id)]
    zone = uow.zone(workspace_id)
    total = int(invoice.prepaid_minor or 0)
    rows = []
    for note_id in sorted(ids):
        locks.hold(session, "client_credit", workspace_id, str(note_id))
        note = session.scalars(repo.select(CreditNote).where(CreditNote.id == note_id)).one_or_none()
        if note is None:
            raise NotFound(f"Credit note {note_id!r}")
        refusal = _credit_refusal(session, note, invoice.client_id, invoice.currency)
        if refusal is None and not explicit and total + int(note.amount_minor) > int(invoice.amount_minor):
            refusal = "more than is left"
        if refusal is not None:
            if explicit:
                raise ValidationFailed({CREDIT_FIELD: refusal})
            continue
        total += int(note.amount_minor)
        rows.append(Prepayment(
            invoice_id=invoice.id, credit_note_id=note.id, holds_credit_note_id=note.id, workspace_id=workspace_id,
            amount_minor=int(note.amount_minor), currency=note.currency.upper(), reference=note.number,
            paid_on=local_day(note.created_at, zone) if note.created_at else None, created_by=actor))
    _check_total(invoice, total, CREDIT_FIELD)
    for row in rows:
        session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise InvoicingError("One of these credits was just deducted on another invoice; reload and try again.") from None
    invoice.prepaid_minor = total
    session.expire(invoice, ["prepayments"])
    return rows
