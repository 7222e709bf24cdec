"""The arithmetic of an invoice with lines and VAT, in EN 16931's terms (issue 15).

Pure: the standard library and :mod:`.money` only. Names follow the business terms
(BT) and groups (BG) of EN 16931-1, the European semantic model of an invoice, so the
documents and the e-invoice export can carry them one to one:

* :class:`InvoiceLine` -- BG-25: quantity BT-129, unit BT-130, item net price BT-146,
  the line's VAT category and rate BT-151/BT-152, a line allowance BG-27 (BT-136);
  its net amount BT-131 is :func:`line_net_amount`.
* :class:`DocumentAllowance` -- BG-20: amount BT-92, VAT category and rate BT-95/BT-96,
  reason BT-97.
* :class:`VatBreakdown` -- BG-23: category code BT-118, rate BT-119, taxable amount
  BT-116, tax amount BT-117, exemption reason text BT-120.
* :class:`DocumentTotals` -- BG-22: BT-106, BT-107, BT-109, BT-110, BT-112, BT-113, BT-115.

Units: every amount is an ``int`` of minor units in the currency's Stripe exponent
(:mod:`.money`); quantities, prices and rates are :class:`~decimal.Decimal`. A ``float``
anywhere raises ``TypeError`` (a programming error, not a refusal).

The rounding rules (:func:`compute`; the same text is in ``docs/invoices.md``):

1. **Line net (BT-131)** = BT-129 × BT-146, rounded **half up** (halves away from zero)
   to the currency's unit -- the smallest amount a person writes in it: 0.01 GBP/EUR,
   1 JPY, 0.001 KWD, 1 ISK -- then minus the line allowance (BT-136, already in that
   unit). EN 16931 asks for BT-131 as an amount of the currency, not more precise.
2. **Sum of line net (BT-106)** = Σ BT-131 of the *rounded* line nets (BR-CO-10).
3. **Taxable amount per (category, rate) (BT-116)** = Σ BT-131 − Σ BT-92 of the lines and
   document allowances in that category at that rate (BR-S-08, BR-Z-08, BR-E-08,
   BR-AE-08).
4. **VAT per (category, rate) (BT-117)** = BT-116 × BT-119 / 100, rounded **once**,
   half up, to the currency's unit (BR-CO-17, BR-S-09). Never per line: the sum of
   per-line rounded VAT can differ from this by a unit per few lines, and BR-CO-17 is
   checked on the group. Categories Z, E, AE (and O) have rate 0, so BT-117 = 0
   (BR-Z-09, BR-E-09, BR-AE-09).
5. **Totals** are exact integer sums, no further rounding: BT-107 = Σ BT-92 (BR-CO-11);
   BT-109 = BT-106 − BT-107 (BR-CO-13; no document charges BT-108 here); BT-110 = Σ
   BT-117 (BR-CO-14); BT-112 = BT-109 + BT-110 (BR-CO-15); BT-115 = BT-112 − BT-113
   (BR-CO-16; no rounding amount BT-114). BT-113, the paid amount, is the deposits
   deducted (prepayments) plus the payments received. A negative BT-115 is an
   overpayment, kept as a credit (:attr:`DocumentTotals.credit_minor`).

EN 16931 says "rounded to two decimals" without naming the mode; we use half up, as
:func:`.money.fraction_of` and Stripe's fee rounding do. What Stripe may *charge*
(minimum, maximum per charge, the step of three-decimal currencies) is checked on the
amount asked for (:func:`.money.validate_amount`), not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation
from enum import Enum

from .errors import AmountError, DomainError
from .money import CurrencySpec, Money, _typed_amount, get_currency

__all__ = [
    "MAX_DOCUMENT_MINOR",
    "MAX_QUANTITY",
    "NOT_SUBJECT_TO_VAT",
    "QUANTITY_DECIMALS",
    "RATE_DECIMALS",
    "Calculation",
    "DocumentAllowance",
    "DocumentTotals",
    "InvoiceLine",
    "LineAllowance",
    "Missing",
    "Prepayment",
    "VatBreakdown",
    "VatCategory",
    "VatRate",
    "compute",
    "line_net_amount",
    "missing_for_vat",
    "parse_quantity",
    "parse_rate",
    "parse_unit_price",
    "percent_allowances",
    "single_line",
]

QUANTITY_DECIMALS = 4
"""Most decimals a typed quantity may have ("1.5" hours, "0.25" days, "2.125" kg)."""

MAX_QUANTITY = Decimal(1_000_000)
"""Largest quantity of one line; beyond it a typo is likelier than an order."""

RATE_DECIMALS = 2
"""Most decimals of a typed VAT rate in percent ("20", "5.5", "7.7")."""

MAX_DOCUMENT_MINOR = 10**14 - 1
"""Largest amount (in minor units) any line or total may reach: fits a SQL BIGINT with
room to spare, far above any real invoice, and keeps Decimal arithmetic exact."""

# Exact arithmetic, whatever the host set as decimal's default context: 60 digits hold
# MAX_QUANTITY × any allowed price with every decimal; an overflow or NaN traps.
_EXACT = Context(prec=60, traps=[InvalidOperation, Inexact])
_ROUND = Context(prec=60, rounding=ROUND_HALF_UP, traps=[InvalidOperation])


class VatCategory(str, Enum):
    """VAT category code (BT-118, BT-151, BT-95): UNTDID 5305, as EN 16931 uses it."""

    STANDARD = "S"  # standard rated: rate > 0 (BR-S-05)
    ZERO = "Z"  # zero rated: rate 0 (BR-Z-05), no exemption reason (BR-Z-10)
    EXEMPT = "E"  # exempt: rate 0 (BR-E-05), exemption reason required (BR-E-10)
    REVERSE_CHARGE = "AE"  # buyer accounts for VAT: rate 0 (BR-AE-05), reason (BR-AE-10)
    NOT_SUBJECT = "O"  # outside the scope of VAT (seller not registered): BR-O-*


_ZERO_RATED = {VatCategory.ZERO, VatCategory.EXEMPT, VatCategory.REVERSE_CHARGE, VatCategory.NOT_SUBJECT}


def _require_decimal(name: str, value: object) -> Decimal:
    """``value`` as a finite Decimal; a float or int is a bug (``TypeError``)."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{name} must be finite, not {value}")
    return value


def _require_minor(name: str, value: object) -> int:
    if type(value) is not int:
        raise TypeError(f"{name} must be an int of minor units, not {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class VatRate:
    """A VAT category with its rate (BT-151/BT-152 on a line, BT-118/BT-119 in the breakdown).

    ``rate`` is a percent (``Decimal("20")`` is 20 %), 0–100. S needs a rate above 0
    (BR-S-05); Z, E, AE and O have rate 0 (BR-Z-05, BR-E-05, BR-AE-05; O carries no rate
    at all in EN 16931, BR-O-05, which an export must omit). Anything else raises
    :class:`DomainError`. ``exemption_reason`` is the text of BT-120 ("Reverse charge",
    the legal note of an exemption); whether it is required is checked by
    :func:`missing_for_vat`, which lists every gap at once.
    """

    category: VatCategory
    rate: Decimal
    exemption_reason: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "category", VatCategory(self.category))
        rate = _require_decimal("rate", self.rate)
        if not Decimal(0) <= rate <= Decimal(100):
            raise DomainError(f"A VAT rate is a percent from 0 to 100, not {rate}.", field="tax_rate")
        if self.category is VatCategory.STANDARD and rate == 0:
            raise DomainError("A standard-rated VAT rate must be above 0 % (use zero rated).", field="tax_rate")
        if self.category in _ZERO_RATED and rate != 0:
            raise DomainError(f"VAT category {self.category.value} has rate 0 %, not {rate} %.", field="tax_rate")
        if self.exemption_reason is not None:
            if not isinstance(self.exemption_reason, str):
                raise TypeError("exemption_reason must be a str or None")
            object.__setattr__(self, "exemption_reason", self.exemption_reason.strip() or None)

    @property
    def key(self) -> tuple[VatCategory, Decimal]:
        """The breakdown group: one BG-23 per category and rate (BR-S-08 and the others).
        ``Decimal("20")`` and ``Decimal("20.00")`` are one group."""
        return (self.category, self.rate.normalize(_EXACT))


NOT_SUBJECT_TO_VAT = VatRate(VatCategory.NOT_SUBJECT, Decimal(0), "Not subject to VAT")
"""What an amount-and-description draft carries: no VAT (see :func:`single_line`)."""


@dataclass(frozen=True, slots=True)
class LineAllowance:
    """An invoice line allowance (BG-27): amount BT-136 in minor units (≥ 0), reason BT-139."""

    amount_minor: int
    reason: str | None = None

    def __post_init__(self) -> None:
        if _require_minor("amount_minor", self.amount_minor) < 0:
            raise AmountError("A line discount cannot be negative.", field="discount")


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """An invoice line (BG-25).

    ``quantity`` BT-129 (> 0, ≤ :data:`MAX_QUANTITY`), ``unit`` BT-130 (free text here,
    "hour", "day"; the export maps it to a UN/ECE rec. 20 code), ``net_price`` BT-146 in
    major units (``Decimal("150.00")``, ≥ 0), ``vat`` BT-151/BT-152, ``allowance``
    BG-27. Out-of-range values raise :class:`DomainError`; floats ``TypeError``.
    """

    description: str
    quantity: Decimal
    net_price: Decimal
    vat: VatRate
    unit: str = ""
    allowance: LineAllowance | None = None

    def __post_init__(self) -> None:
        quantity = _require_decimal("quantity", self.quantity)
        price = _require_decimal("net_price", self.net_price)
        if not Decimal(0) < quantity <= MAX_QUANTITY:
            raise DomainError(f"Quantity must be above 0 and at most {MAX_QUANTITY:,}.", field="quantity")
        if price < 0:
            raise AmountError("A unit price cannot be negative.", field="unit_price")
        if not isinstance(self.vat, VatRate):
            raise TypeError("vat must be a VatRate")


@dataclass(frozen=True, slots=True)
class DocumentAllowance:
    """A document level allowance (BG-20): amount BT-92 (minor units, > 0), the VAT
    category and rate it reduces (BT-95/BT-96), reason BT-97."""

    amount_minor: int
    vat: VatRate
    reason: str | None = None

    def __post_init__(self) -> None:
        if _require_minor("amount_minor", self.amount_minor) <= 0:
            raise AmountError("A document discount must be greater than zero.", field="discount")


@dataclass(frozen=True, slots=True)
class Prepayment:
    """Money received before this invoice and deducted from it (part of BT-113): a paid
    deposit invoice, named by its number and date."""

    amount_minor: int
    reference: str
    paid_on: date | None = None

    def __post_init__(self) -> None:
        if _require_minor("amount_minor", self.amount_minor) <= 0:
            raise AmountError("A deducted deposit must be greater than zero.")


@dataclass(frozen=True, slots=True)
class VatBreakdown:
    """One VAT breakdown (BG-23): BT-118, BT-119, BT-116, BT-117, BT-120 (minor units)."""

    category: VatCategory
    rate: Decimal
    taxable_amount_minor: int
    tax_amount_minor: int
    exemption_reason: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentTotals:
    """Document totals (BG-22), all in minor units of ``currency``."""

    currency: str
    sum_of_line_net_minor: int  # BT-106
    allowances_minor: int  # BT-107
    total_without_vat_minor: int  # BT-109
    total_vat_minor: int  # BT-110
    total_with_vat_minor: int  # BT-112
    paid_minor: int  # BT-113
    amount_due_minor: int  # BT-115 (negative: overpaid)

    @property
    def credit_minor(self) -> int:
        """What was paid beyond the total (0 unless BT-115 is negative)."""
        return max(0, -self.amount_due_minor)


@dataclass(frozen=True, slots=True)
class Calculation:
    """What :func:`compute` returns: each line's BT-131 (in line order), the VAT
    breakdown (one per category and rate, in order of first appearance) and the totals."""

    line_net_minor: tuple[int, ...]
    breakdown: tuple[VatBreakdown, ...]
    totals: DocumentTotals


# --- Rounding -------------------------------------------------------------------------


def _unit_minor(spec: CurrencySpec) -> int:
    """Minor units in the currency's smallest written amount (GBP 1, JPY 1, ISK 100)."""
    return 10 ** (spec.stripe_exponent - spec.decimals)


def _product(*factors: Decimal, divisor: int = 1) -> Decimal:
    """The exact product of ``factors`` divided by ``divisor`` (a power of ten), or
    :class:`AmountError` when it needs more than 60 digits (never a silent rounding)."""
    try:
        result = Decimal(1)
        for factor in factors:
            result = _EXACT.multiply(result, factor)
        return _EXACT.divide(result, divisor)
    except (Inexact, InvalidOperation):
        raise AmountError("This amount is too large or too precise for an invoice.") from None


def _round_to_unit(major: Decimal, spec: CurrencySpec) -> int:
    """``major`` (an amount in major units) as minor units, rounded half up to the unit."""
    unit = Decimal(1).scaleb(-spec.decimals)
    if major.adjusted() > 20:
        raise AmountError("This amount is too large for an invoice.")
    rounded = major.quantize(unit, context=_ROUND)
    minor = int(rounded.scaleb(spec.stripe_exponent, context=_EXACT))
    if abs(minor) > MAX_DOCUMENT_MINOR:
        raise AmountError("This amount is too large for an invoice.")
    return minor


def _check_total(minor: int) -> int:
    if abs(minor) > MAX_DOCUMENT_MINOR:
        raise AmountError("The invoice total is too large.")
    return minor


def line_net_amount(line: InvoiceLine, currency: str) -> int:
    """BT-131 in minor units: BT-129 × BT-146 rounded half up to the currency's unit,
    minus BT-136. A discount above the line's amount raises :class:`AmountError`."""
    spec = get_currency(currency)
    gross = _round_to_unit(_product(line.quantity, line.net_price), spec) if line.net_price else 0
    allowance = line.allowance.amount_minor if line.allowance else 0
    if allowance % _unit_minor(spec):
        raise AmountError(f"{spec.code} discounts are in whole units of the currency.", field="discount")
    if allowance > gross:
        raise AmountError(f"The discount on {line.description!r} is more than the line's amount.", field="discount")
    return gross - allowance


def _vat_amount(taxable_minor: int, rate: Decimal, spec: CurrencySpec) -> int:
    """BT-117 = BT-116 × BT-119 / 100, rounded once, half up (BR-CO-17)."""
    if rate == 0:
        return 0
    return _round_to_unit(_product(_major(taxable_minor, spec), rate, divisor=100), spec)


def _major(minor: int, spec: CurrencySpec) -> Decimal:
    return Decimal(minor).scaleb(-spec.stripe_exponent, context=_EXACT)


def compute(
    currency: str,
    lines: Sequence[InvoiceLine],
    allowances: Iterable[DocumentAllowance] = (),
    *,
    prepayments: Iterable[Prepayment] = (),
    payments_minor: Iterable[int] = (),
) -> Calculation:
    """The line nets, VAT breakdown and document totals, by the rules in the module docstring.

    ``allowances`` are document level allowances, each reducing the taxable amount of its
    own (category, rate) group; a group must have lines, and its allowances cannot exceed
    its lines' net (:class:`AmountError` otherwise). ``prepayments`` (deposits deducted)
    and ``payments_minor`` (money received, each > 0) make up BT-113. An invoice needs at
    least one line (BR-16).
    """
    spec = get_currency(currency)
    if not lines:
        raise DomainError("An invoice needs at least one line.", field="lines")
    nets = tuple(line_net_amount(line, spec.code) for line in lines)
    groups: dict[tuple[VatCategory, Decimal], list] = {}
    for line, net in zip(lines, nets, strict=True):
        group = groups.setdefault(line.vat.key, [line.vat, 0, 0])
        group[1] += net
    allowances = tuple(allowances)
    for allowance in allowances:
        if not isinstance(allowance, DocumentAllowance):
            raise TypeError("allowances must be DocumentAllowance")
        if allowance.amount_minor % _unit_minor(spec):
            raise AmountError(f"{spec.code} discounts are in whole units of the currency.", field="discount")
        group = groups.get(allowance.vat.key)
        if group is None:
            raise AmountError(
                f"A discount at {allowance.vat.category.value} {allowance.vat.rate} % has no line at that rate.",
                field="discount",
            )
        group[2] += allowance.amount_minor
    breakdown = []
    for vat, net, off in groups.values():
        taxable = net - off
        if taxable < 0:
            raise AmountError(
                f"The discounts at {vat.category.value} {vat.rate} % are more than the lines at that rate.",
                field="discount",
            )
        breakdown.append(
            VatBreakdown(vat.category, vat.rate, _check_total(taxable), _vat_amount(taxable, vat.rate, spec),
                         vat.exemption_reason)
        )
    paid = 0
    for prepayment in prepayments:
        if not isinstance(prepayment, Prepayment):
            raise TypeError("prepayments must be Prepayment")
        paid += prepayment.amount_minor
    for payment in payments_minor:
        if _require_minor("payment", payment) <= 0:
            raise AmountError("A payment must be greater than zero.")
        paid += payment
    line_sum = _check_total(sum(nets))  # BR-CO-10
    allowance_sum = sum(a.amount_minor for a in allowances)  # BR-CO-11
    without_vat = line_sum - allowance_sum  # BR-CO-13
    vat_sum = sum(b.tax_amount_minor for b in breakdown)  # BR-CO-14
    with_vat = _check_total(without_vat + vat_sum)  # BR-CO-15
    paid = _check_total(paid)
    totals = DocumentTotals(
        currency=spec.code,
        sum_of_line_net_minor=line_sum,
        allowances_minor=allowance_sum,
        total_without_vat_minor=without_vat,
        total_vat_minor=vat_sum,
        total_with_vat_minor=with_vat,
        paid_minor=paid,
        amount_due_minor=with_vat - paid,  # BR-CO-16
    )
    return Calculation(nets, tuple(breakdown), totals)


def percent_allowances(
    currency: str, lines: Sequence[InvoiceLine], percent: Decimal, reason: str | None = None
) -> tuple[DocumentAllowance, ...]:
    """A document discount of ``percent`` % as EN 16931 needs it: one BG-20 per
    (category, rate) group, each the percent of that group's line net, rounded half up
    to the currency's unit. Groups whose discount rounds to 0 get none."""
    spec = get_currency(currency)
    percent = _require_decimal("percent", percent)
    if not Decimal(0) < percent <= Decimal(100):
        raise DomainError("A discount percent is above 0 and at most 100.", field="discount")
    nets: dict[tuple[VatCategory, Decimal], list] = {}
    for line in lines:
        entry = nets.setdefault(line.vat.key, [line.vat, 0])
        entry[1] += line_net_amount(line, spec.code)
    out = []
    for vat, net in nets.values():
        amount = _round_to_unit(_product(_major(net, spec), percent, divisor=100), spec)
        if amount > 0:
            out.append(DocumentAllowance(amount, vat, reason))
    return tuple(out)


# --- What a VAT category needs (listed, not raised one at a time) -----------------------


@dataclass(frozen=True, slots=True)
class Missing:
    """One thing an invoice lacks for its VAT categories: the EN 16931 ``rule`` it
    breaks, the business ``term`` concerned, and a ``message`` for staff."""

    rule: str
    term: str
    message: str


def missing_for_vat(
    lines: Iterable[InvoiceLine],
    allowances: Iterable[DocumentAllowance] = (),
    *,
    seller_vat_id: str | None,
    buyer_vat_id: str | None,
) -> list[Missing]:
    """Everything the invoice's VAT categories require and it lacks, in one list (empty: fine).

    * S, Z, E, AE need the seller's VAT id BT-31 (BR-S-02, BR-Z-02, BR-E-02, BR-AE-02);
      O (not subject to VAT) needs none.
    * AE (reverse charge) needs the buyer's VAT id BT-48 (BR-AE-02; the standard also
      accepts the buyer's legal registration id BT-47, but the VAT Directive's reverse
      charge invoice, art. 226(4), names the VAT id) and the text "Reverse charge" or
      its legal note as BT-120 (BR-AE-10).
    * E needs an exemption reason BT-120 (BR-E-10); O one too (BR-O-10).
    * Z must *not* carry an exemption reason (BR-Z-10): zero rating is not an exemption.
    * One (category, rate) group is one BG-23 with one BT-120: two different reasons
      in one group are reported.
    """
    vats = [line.vat for line in lines] + [allowance.vat for allowance in allowances]
    out: list[Missing] = []

    def add(rule: str, term: str, message: str) -> None:
        item = Missing(rule, term, message)
        if item not in out:
            out.append(item)

    categories = {vat.category for vat in vats}
    if categories - {VatCategory.NOT_SUBJECT} and not (seller_vat_id or "").strip():
        first = sorted(c.value for c in categories - {VatCategory.NOT_SUBJECT})[0]
        add(f"BR-{first}-02", "BT-31", "The seller's VAT number is missing (Invoice settings).")
    if VatCategory.REVERSE_CHARGE in categories and not (buyer_vat_id or "").strip():
        add("BR-AE-02", "BT-48", "Reverse charge needs the client's VAT number.")
    reasons: dict[tuple[VatCategory, Decimal], set[str]] = {}
    for vat in vats:
        if vat.exemption_reason:
            reasons.setdefault(vat.key, set()).add(vat.exemption_reason)
        if vat.category is VatCategory.REVERSE_CHARGE and not vat.exemption_reason:
            add("BR-AE-10", "BT-120", 'Reverse charge lines need the note "Reverse charge" (or its legal text).')
        elif vat.category is VatCategory.EXEMPT and not vat.exemption_reason:
            add("BR-E-10", "BT-120", "Exempt lines need the reason for the exemption.")
        elif vat.category is VatCategory.NOT_SUBJECT and not vat.exemption_reason:
            add("BR-O-10", "BT-120", "Lines not subject to VAT need a note saying why.")
        elif vat.category is VatCategory.ZERO and vat.exemption_reason:
            add("BR-Z-10", "BT-120", "Zero-rated lines take no exemption reason (zero rating is not an exemption).")
    for (category, rate), texts in reasons.items():
        if len(texts) > 1:
            add("BG-23", "BT-120", f"Lines at {category.value} {rate} % give different exemption reasons; use one.")
    return out


# --- Parsing what a person types -------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?")
_NEGATIVE = re.compile(r"-\s*[0-9.,]*[0-9][0-9.,]*")
_AMBIGUOUS_GROUPING = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
"""A price with thousands separators and no decimal point: "1,500" (1500, or 1.5 typed
with a decimal comma?); "1,500.00" and "1500" are not ambiguous."""
_COMMA_HINT = ("use a point for decimals, like 1.5, and no thousands separators "
               "(a comma could mean either).")


def _typed_decimal(text: object, what: str, field: str, decimals: int) -> Decimal:
    """A non-negative number typed with ``.`` as the point ("1250.5"); no sign, exponent,
    NaN or Infinity. At most ``decimals`` significant decimals (trailing zeros do not count).

    No comma at all (issue 15, F6): in "1,500" a comma could be a thousands separator
    (1500) or a decimal comma (1.5) -- a quantity or a rate must not be guessed, so it is
    refused with a message saying to use a point. A negative number is refused as such."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be typed text (str), not {type(text).__name__}")
    cleaned = text.strip()
    if not cleaned:
        raise DomainError(f"Enter a {what}.", field=field)
    match = _PLAIN_NUMBER.fullmatch(cleaned)
    if match is None or not (match["whole"] or match["fraction"]):
        if _NEGATIVE.fullmatch(cleaned):
            raise DomainError(f"A {what} cannot be negative.", field=field)
        if "," in cleaned and re.fullmatch(r"[0-9.,]+", cleaned):
            raise DomainError(f"Type the {what} without commas: {_COMMA_HINT}", field=field)
        raise DomainError(f"Enter the {what} as a number, like 2 or 1.5.", field=field)
    fraction = (match["fraction"] or "").rstrip("0")
    if len(fraction) > decimals:
        raise DomainError(f"A {what} has at most {decimals} decimal places.", field=field)
    whole = match["whole"].lstrip("0") or "0"
    if len(whole) > 15:
        raise DomainError(f"That {what} is too large.", field=field)
    return Decimal(f"{whole}.{fraction}" if fraction else whole)


def parse_quantity(text: str) -> Decimal:
    """BT-129 from what a person typed ("2", "1.5", "1000"; no commas): above 0, at most
    :data:`QUANTITY_DECIMALS` decimals and :data:`MAX_QUANTITY`; else :class:`DomainError`."""
    quantity = _typed_decimal(text, "quantity", "quantity", QUANTITY_DECIMALS)
    if quantity == 0:
        raise DomainError("Quantity must be above 0.", field="quantity")
    if quantity > MAX_QUANTITY:
        raise DomainError(f"Quantity must be at most {MAX_QUANTITY:,}.", field="quantity")
    return quantity


def parse_unit_price(text: str, currency: str) -> Decimal:
    """BT-146 in major units from what a person typed ("150.00", "1,250.50"), read as
    :func:`.money.parse_amount` reads amounts (same messages), with the currency's
    decimals at most; 0 is allowed (a free item), negative is not. Thousands separators
    without a decimal point ("1,500") are refused as ambiguous (issue 15, F6): a person used
    to decimal commas means 1.5; "1,500.00" or "1500" is read. A decimal comma ("12,50")
    is refused with a hint to use a point."""
    if not isinstance(text, str):
        raise TypeError(f"unit price must be typed text (str), not {type(text).__name__}")
    spec = get_currency(currency)
    if _AMBIGUOUS_GROUPING.fullmatch(text.strip()):
        # "1,500": 1500 with a thousands separator, or 1.5 with a decimal comma? Not guessed (F6).
        plain = text.strip().replace(",", "")
        raise AmountError(f"Is “{text.strip()}” {plain} or a decimal? Type {plain} without the comma, "
                          f"or {text.strip()}.00 with a point for the decimals.", field="unit_price")
    try:
        money = _typed_amount(text, spec)
    except AmountError as error:
        message = error.message
        if "," in text and message.startswith("Enter the amount as a number"):  # "12,50", "1.100,00"
            message = (f"{message} Use a point for decimals; a comma only separates thousands, "
                       "as in 1,250.50.")
        raise AmountError(message, field="unit_price") from None
    if money.minor < 0:
        raise AmountError("A unit price cannot be negative.", field="unit_price")
    if money.minor > MAX_DOCUMENT_MINOR:
        raise AmountError("That unit price is too large.", field="unit_price")
    return Money(money.minor, spec.code).as_decimal().quantize(Decimal(1).scaleb(-spec.decimals), context=_EXACT)


def parse_rate(text: str) -> Decimal:
    """BT-119/BT-152 as a percent from what a person typed ("20", "5.5", "20 %"):
    0 to 100, at most :data:`RATE_DECIMALS` decimals; else :class:`DomainError`."""
    if not isinstance(text, str):
        raise TypeError(f"tax rate must be typed text (str), not {type(text).__name__}")
    cleaned = text.strip().removesuffix("%").strip()
    rate = _typed_decimal(cleaned, "tax rate", "tax_rate", RATE_DECIMALS)
    if rate > 100:
        raise DomainError("A tax rate is a percent from 0 to 100.", field="tax_rate")
    return rate


# --- The seeds' simple case ------------------------------------------------------------


def single_line(description: str, amount_minor: int, currency: str) -> InvoiceLine:
    """An amount-and-description draft as one line: quantity 1, unit price the amount,
    no VAT (category O, "Not subject to VAT"), so its totals are the amount itself:
    BT-131 = BT-109 = BT-112 = ``amount_minor``."""
    _require_minor("amount_minor", amount_minor)
    if amount_minor < 0:
        raise AmountError("Amount cannot be negative.")
    price = Money(amount_minor, currency).as_decimal()
    return InvoiceLine(description, Decimal(1), price, NOT_SUBJECT_TO_VAT)
