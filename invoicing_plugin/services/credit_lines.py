"""Credit notes for chosen invoice lines: reading the choice, pricing it, storing its lines.

``lines=`` of :func:`.credit_notes.create_credit_note` is a list of dicts, one per invoice
line to credit:

* ``line_id`` (the invoice line's id, :attr:`InvoiceLineSnapshot` has none, the staff form
  posts it) **or** ``position`` (the line's number on the invoice, from 1), as an ``int`` or
  digit text;
* ``quantity`` (optional): how much of it, as typed (``"1.5"``; an ``int`` or ``Decimal`` is
  taken as is); missing or empty: all that is left of the line.

The arithmetic is :mod:`invoicing_plugin.domain.credit_lines` (pro rata line nets that add
up to each line's net exactly, VAT per rate by the invoice's own rule). Errors are
:class:`~.errors.ValidationFailed` keyed ``lines`` (the list as a whole) or
``lines-<index from 0>-line`` / ``lines-<index>-quantity``, all at once; nothing is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ..domain import en16931
from ..domain.credit_lines import LineCredit, StoredLine, credit_lines
from ..domain.errors import DomainError
from ..persistence.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from ..persistence.repository import as_id
from .errors import ValidationFailed
from .lines import MAX_LINES, allowances_of
from .text import has_nul

__all__ = ["CreditableLine", "Choice", "creditable_lines", "parse", "price", "store"]


@dataclass(frozen=True)
class Choice:
    """One parsed entry: ``by`` ``"line_id"`` or ``"position"``, ``ref`` the int, ``quantity``
    (``None``: all that is left)."""

    by: str
    ref: int
    quantity: Decimal | None


@dataclass(frozen=True)
class CreditableLine:
    """An invoice line as the credit note form offers it: the row and the quantity left."""

    line: InvoiceLine
    credited: Decimal
    left: Decimal


def _quantity(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise TypeError(f"a credited quantity is text, an int or a Decimal, not {type(value).__name__}")
    if isinstance(value, str):
        if has_nul(value):
            raise DomainError("Enter the quantity as a number, like 1 or 0.5.", field="quantity")
        return en16931.parse_quantity(value)
    quantity = Decimal(value)
    if not quantity.is_finite() or quantity <= 0:
        raise DomainError("Quantity must be above 0.", field="quantity")
    return quantity


def parse(lines: Any) -> list[Choice]:
    """The shape of ``lines=``, before anything is read (see the module docstring)."""
    if isinstance(lines, (str, bytes, dict)) or not isinstance(lines, Sequence):
        raise ValidationFailed({"lines": "Give the lines to credit as a list, like "
                                         "[{\"position\": 1, \"quantity\": \"2\"}]."})
    if not lines:
        raise ValidationFailed({"lines": "Choose at least one line to credit."})
    if len(lines) > MAX_LINES:
        raise ValidationFailed({"lines": f"An invoice has at most {MAX_LINES} lines."})
    errors: dict[str, str] = {}
    out: list[Choice] = []
    for index, item in enumerate(lines):
        key = f"lines-{index}"
        if not isinstance(item, dict):
            errors[f"{key}-line"] = f"Line {index + 1}: give a line_id or position, and a quantity."
            continue
        unknown = set(item) - {"line_id", "position", "quantity"}
        refs = [name for name in ("line_id", "position") if item.get(name) not in (None, "")]
        ref = None
        if unknown:
            errors[f"{key}-line"] = f"Line {index + 1}: unknown field {sorted(unknown)[0]!r}."
        elif len(refs) != 1:
            errors[f"{key}-line"] = f"Line {index + 1}: give either its line_id or its position."
        else:
            raw = item[refs[0]]
            ref = as_id(raw) if not isinstance(raw, bool) and isinstance(raw, (int, str)) else None
            if ref is None:
                errors[f"{key}-line"] = f"Line {index + 1}: {refs[0]} is a whole number."
        try:
            quantity = _quantity(item.get("quantity"))
        except DomainError as exc:
            errors[f"{key}-quantity"] = f"Line {index + 1}: {exc.message}"
            continue
        if ref is not None and not unknown:
            out.append(Choice(refs[0], ref, quantity))
    if errors:
        raise ValidationFailed(errors)
    return out


def _credited(session, invoice: Invoice) -> dict[int, tuple[Decimal, int]]:
    """What earlier notes credited of each invoice line: ``{line id: (quantity, net)}``."""
    rows = session.scalars(select(CreditNoteLine).join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
                           .where(CreditNote.invoice_id == invoice.id, CreditNote.workspace_id == invoice.workspace_id))
    out: dict[int, tuple[Decimal, int]] = {}
    for row in rows:
        quantity, net = out.get(row.invoice_line_id, (Decimal(0), 0))
        out[row.invoice_line_id] = (quantity + row.quantity, net + int(row.net_minor))
    return out


def _vat(line: InvoiceLine) -> en16931.VatRate:
    return en16931.VatRate(en16931.VatCategory(line.vat_category), line.vat_rate, line.exemption_reason)


def creditable_lines(session, invoice: Invoice) -> list[CreditableLine]:
    """The invoice's lines, each with the quantity earlier line notes credited and what is left."""
    credited = _credited(session, invoice)
    out = []
    for line in invoice.lines:
        done = credited.get(line.id, (Decimal(0), 0))[0]
        out.append(CreditableLine(line, done, line.quantity - done))
    return out


def price(session, invoice: Invoice, choices: list[Choice]) -> tuple[LineCredit, dict[int, InvoiceLine]]:
    """The credit for ``choices`` of ``invoice``'s lines (its row locked by the caller), with
    the invoice lines by id. :class:`ValidationFailed` when a line is not on the invoice, a
    line is chosen twice, or a quantity is more than is left of its line."""
    rows = list(invoice.lines)
    if not rows:
        raise ValidationFailed({"lines": "This invoice has no stored lines to credit: give the amount to credit."})
    by_id = {row.id: row for row in rows}
    by_position = {row.position: row for row in rows}
    credited = _credited(session, invoice)
    errors: dict[str, str] = {}
    chosen: dict[int, Decimal] = {}
    for index, choice in enumerate(choices):
        row = (by_id if choice.by == "line_id" else by_position).get(choice.ref)
        if row is None:
            errors[f"lines-{index}-line"] = f"Line {index + 1}: that line is not on this invoice."
            continue
        if row.id in chosen:
            errors[f"lines-{index}-line"] = f"Line {index + 1}: invoice line {row.position} is chosen twice."
            continue
        left = row.quantity - credited.get(row.id, (Decimal(0), 0))[0]
        quantity = left if choice.quantity is None else choice.quantity
        if left <= 0:
            errors[f"lines-{index}-quantity"] = f"Line {index + 1}: invoice line {row.position} is credited in full already."
        elif quantity > left:
            errors[f"lines-{index}-quantity"] = (f"Line {index + 1}: at most {_plain(left)} of invoice line "
                                                 f"{row.position} is left to credit.")
        else:
            chosen[row.id] = quantity
    if errors:
        raise ValidationFailed(errors)
    stored = [StoredLine(row.id, row.quantity, int(row.net_minor), _vat(row), *credited.get(row.id, (Decimal(0), 0)))
              for row in rows]
    try:
        credit = credit_lines(invoice.currency, stored, chosen, allowances_of(invoice))
    except DomainError as exc:  # the checks above make this unreachable, but never a 500
        raise ValidationFailed({exc.field if exc.field == "lines" else "lines": exc.message}) from None
    if credit.total_minor <= 0:
        raise ValidationFailed({"lines": "These lines credit nothing (their amount is 0)."})
    return credit, by_id


def store(note: CreditNote, credit: LineCredit, rows: dict[int, InvoiceLine]) -> None:
    """Give ``note`` its lines, totals and VAT breakdown (same session, not flushed)."""
    for position, piece in enumerate(credit.lines, start=1):
        row = rows[piece.key]
        note.lines.append(CreditNoteLine(
            invoice_line_id=row.id, workspace_id=note.workspace_id, position=position, description=row.description,
            quantity=piece.quantity, unit=row.unit or "", unit_price_minor=int(row.unit_price_minor),
            vat_category=row.vat_category, vat_rate=row.vat_rate, exemption_reason=row.exemption_reason,
            net_minor=piece.net_minor))
    note.net_minor = credit.net_minor
    note.tax_minor = credit.tax_minor
    note.vat_breakdown = [{"category": b.category.value, "rate": _plain(b.rate), "taxable_minor": b.taxable_amount_minor,
                           "tax_minor": b.tax_amount_minor, "exemption_reason": b.exemption_reason}
                          for b in credit.breakdown]


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
