"""The arithmetic of a credit note for chosen invoice lines (EN 16931 type 381, issue 15).

Pure: the standard library and :mod:`.en16931` only. A credit note carries the same terms
as the invoice it corrects (EN 16931 treats a credit note, type code 381, as an invoice
with the same business terms): lines (BG-25) with a quantity, the net credited per line
(BT-131), a VAT breakdown per category and rate (BG-23), totals without and with VAT.

The rules, for a note crediting quantity ``q`` of an invoice line of quantity ``Q`` and net
``N`` (minor units) of which earlier line notes credited ``q0`` (nets ``n0``):

1. **Quantity**: ``0 < q <= Q - q0``; more is refused (:class:`~.errors.DomainError`,
   field ``quantity``), nothing is rounded away.
2. **Credited line net** = ``round(N × (q0 + q) / Q) - n0``, rounded **half up** to the
   currency's unit (as BT-131 is on the invoice), so the notes of a whole line add up to
   ``N`` exactly, whatever pieces it was credited in (the last piece takes what is left:
   ``(q0 + q) = Q`` gives ``N - n0``).
3. **Taxable amount per (category, rate)** = the rate's share of the invoice's taxable
   amount (BT-116, after its document discount) in proportion to the line net credited so
   far at that rate: ``T(C) = round(B × C / L)`` (half up), where ``L`` is the sum of the
   invoice's line nets at the rate, ``B`` its taxable amount and ``C`` the line nets credited
   at the rate by this and earlier line notes; this note's taxable amount is
   ``T(C_after) - T(C_before)``. Without a document discount ``B = L`` and ``T(C) = C``.
4. **VAT per (category, rate)** = ``V(T(C_after)) - V(T(C_before))`` where ``V`` is the
   invoice's own rule (BT-117 = BT-116 × rate / 100, rounded once, half up:
   :func:`.en16931.compute`). The first note of a rate is therefore exactly the invoice's
   rule applied to its taxable amount; the notes of all the lines together add up to the
   invoice's VAT per rate exactly, never a unit more.
5. **Totals**: net = Σ taxable amounts, VAT = Σ VAT, total = net + VAT (exact sums).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .en16931 import DocumentAllowance, VatBreakdown, VatCategory, VatRate, _unit_minor, _vat_amount
from .errors import DomainError
from .money import get_currency

__all__ = ["CreditedLine", "LineCredit", "StoredLine", "credit_lines"]


@dataclass(frozen=True)
class StoredLine:
    """An invoice line as stored: ``key`` (its id), ``quantity`` (BT-129), ``net_minor``
    (BT-131), ``vat``, and what earlier line notes credited of it (quantity and net)."""

    key: int
    quantity: Decimal
    net_minor: int
    vat: VatRate
    credited_quantity: Decimal = Decimal(0)
    credited_net_minor: int = 0

    @property
    def left(self) -> Decimal:
        """The quantity still to credit."""
        return self.quantity - self.credited_quantity


@dataclass(frozen=True)
class CreditedLine:
    """One line of the note: the invoice line ``key``, the ``quantity`` credited and its net."""

    key: int
    quantity: Decimal
    net_minor: int


@dataclass(frozen=True)
class LineCredit:
    """A credit note for lines: its lines (in the order asked), VAT breakdown (in the
    invoice's order of rates) and totals, in minor units of ``currency``."""

    currency: str
    lines: tuple[CreditedLine, ...]
    breakdown: tuple[VatBreakdown, ...]
    net_minor: int
    tax_minor: int

    @property
    def total_minor(self) -> int:
        return self.net_minor + self.tax_minor


def _round_half_up(value: Fraction, unit: int) -> int:
    """``value`` (minor units, ≥ 0) rounded half up to a multiple of ``unit``."""
    steps = value / unit
    whole = steps.numerator // steps.denominator
    if steps - whole >= Fraction(1, 2):
        whole += 1
    return whole * unit


def _share(part: int, whole: int, of: int, unit: int) -> int:
    """``of × part / whole`` rounded half up to ``unit``; exactly ``of`` when ``part == whole``."""
    if part == whole:
        return of
    if whole == 0:
        return 0
    return _round_half_up(Fraction(of) * part / whole, unit)


def credit_lines(currency: str, lines: Sequence[StoredLine], chosen: Mapping[int, Decimal],
                 allowances: Iterable[DocumentAllowance] = ()) -> LineCredit:
    """The credit note for quantities ``chosen`` (line key → quantity) of the invoice's
    ``lines`` (every line of the invoice, with what earlier line notes credited) and its
    document ``allowances`` (:func:`~invoicing_plugin.services.lines.allowances_of`), by the
    rules in the module docstring. :class:`DomainError` (``field`` ``quantity`` or
    ``lines``) for nothing chosen, an unknown key, a quantity not above 0, or more than is
    left of a line."""
    spec = get_currency(currency)
    unit = _unit_minor(spec)
    by_key = {line.key: line for line in lines}
    if not chosen:
        raise DomainError("Choose at least one line to credit.", field="lines")
    credited: list[CreditedLine] = []
    for key, quantity in chosen.items():
        line = by_key.get(key)
        if line is None:
            raise DomainError("That line is not on this invoice.", field="lines")
        if not isinstance(quantity, Decimal) or not quantity.is_finite():
            raise TypeError("quantities are Decimal")
        if quantity <= 0:
            raise DomainError("Credit a quantity above 0.", field="quantity")
        if quantity > line.left:
            raise DomainError(f"At most {_plain(line.left)} of this line is left to credit.", field="quantity")
        after = _share_quantity(line, line.credited_quantity + quantity, unit)
        credited.append(CreditedLine(key, quantity, after - line.credited_net_minor))
    groups: dict[tuple[VatCategory, Decimal], list] = {}  # key -> [vat, L, C_before, C_after, A]
    for line in lines:
        group = groups.setdefault(line.vat.key, [line.vat, 0, 0, 0, 0])
        group[1] += line.net_minor
        group[2] += line.credited_net_minor
        group[3] += line.credited_net_minor
    for piece in credited:
        groups[by_key[piece.key].vat.key][3] += piece.net_minor
    for allowance in allowances:
        group = groups.get(allowance.vat.key)
        if group is not None:
            group[4] += allowance.amount_minor
    breakdown = []
    for vat, whole, before, after, off in groups.values():
        if after == before:
            continue
        taxable_whole = whole - off
        t_before, t_after = _share(before, whole, taxable_whole, unit), _share(after, whole, taxable_whole, unit)
        tax = _vat_amount(t_after, vat.rate, spec) - _vat_amount(t_before, vat.rate, spec)
        breakdown.append(VatBreakdown(vat.category, vat.rate, t_after - t_before, tax, vat.exemption_reason))
    net = sum(b.taxable_amount_minor for b in breakdown)
    tax = sum(b.tax_amount_minor for b in breakdown)
    return LineCredit(spec.code, tuple(credited), tuple(breakdown), net, tax)


def _share_quantity(line: StoredLine, quantity: Decimal, unit: int) -> int:
    """The line's net credited once ``quantity`` of it is (rule 2)."""
    if quantity == line.quantity:
        return line.net_minor
    return _round_half_up(Fraction(line.net_minor) * Fraction(quantity) / Fraction(line.quantity), unit)


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
