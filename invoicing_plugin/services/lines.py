"""Invoice lines from what a person typed, priced by :mod:`invoicing_plugin.domain.en16931`.

:func:`price_lines` reads a draft's lines -- each a dict of typed text: ``description``,
``quantity`` ("2", "1.5"), ``unit`` ("hour"), ``unit_price`` ("150.00"), ``discount``
(an amount off the line, "10.00"), and either ``tax_rate`` (a percent, "20"; "0" is zero
rated; :data:`NO_VAT`, ``"none"``, is "Not subject to VAT", category O, whatever the
workspace's default) or ``tax_rate_id`` (one of the workspace's tax rates) -- with
:func:`~.en16931.parse_quantity`, :func:`~.en16931.parse_unit_price` and
:func:`~.en16931.parse_rate`. A line with neither takes the workspace's default tax
rate, or none ("Not subject to VAT", category O) when the workspace has no default.

A document discount (:func:`with_discount`, EN 16931 BG-20) is an amount without VAT off
the whole invoice, shared among its VAT rates pro rata by
:func:`~invoicing_plugin.domain.discounts.prorate`; the invoice stores the amount
(``Invoice.discount_minor``, BT-107) and the per-rate allowances follow from the stored
line nets, so they are computed the same way wherever they are shown.

Errors are collected for every field of every line at once, keyed
``lines-<index>-<field>`` with the index counted from 0 as in a form's field list
(``lines-1-quantity`` is the second line's quantity); the message names the line by
its number from 1 ("Line 2: Enter a quantity."). Errors about the lines as a whole
are keyed ``lines``. The caller raises them as :class:`~.errors.ValidationFailed`, so
nothing is saved.

Net or gross: with the workspace's ``prices_include_tax``, unit prices and discounts are
typed VAT inclusive and :func:`~invoicing_plugin.domain.gross_prices.net_lines` finds
the line nets so that the total with VAT is what was typed (its docstring states the
rounding). Either way the invoice stores each line's net (BT-131) and its totals come
from :func:`~.en16931.compute`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import object_session
from sqlalchemy.orm.attributes import set_committed_value

from ..domain import en16931
from ..domain.discounts import prorate
from ..domain.errors import DomainError
from ..domain.gross_prices import net_lines
from ..domain.money import Money, format_money
from ..persistence.models import Invoice, InvoiceLine, TaxRate
from .tax_rates import default_tax_rate, vat_of
from .text import check_text
from .uow import UnitOfWork

__all__ = ["LINE_FIELDS", "MAX_LINES", "NO_VAT", "Priced", "allowances_of", "calculation_of", "load_lines",
           "gross_rounding", "no_vat_warning", "parse_discount", "price_lines", "price_single", "store", "with_discount"]

LINE_FIELDS = ("description", "quantity", "unit", "unit_price", "discount", "tax_rate", "tax_rate_id")
MAX_LINES = 100
UNIT_MAX = 32
LINE_DESCRIPTION_MAX = 1000
NO_VAT = "none"
"""``tax_rate`` of a line that is not subject to VAT (category O), even when the workspace
has a default rate (an empty ``tax_rate`` means the default). Read case-insensitively."""


@dataclass(frozen=True)
class PricedLine:
    description: str
    quantity: Decimal
    unit: str
    unit_price_minor: int
    discount_minor: int
    vat: en16931.VatRate
    tax_rate_id: int | None
    net_minor: int


@dataclass(frozen=True)
class Priced:
    """Lines ready to store and the invoice's calculation (BT-109, BT-110, BT-112 ...)."""

    currency: str
    lines: tuple[PricedLine, ...]
    calculation: en16931.Calculation
    prices_include_tax: bool
    discount_minor: int = 0
    """The document discount (BT-107, without VAT); its per-rate allowances are :attr:`allowances`."""
    allowances: tuple[en16931.DocumentAllowance, ...] = ()

    @property
    def totals(self) -> en16931.DocumentTotals:
        return self.calculation.totals

    @property
    def gross_rounding(self) -> str | None:
        """See :func:`gross_rounding` (``None`` unless prices are typed with VAT and the total differs)."""
        return _gross_rounding(self.currency, self.lines, self.totals.total_with_vat_minor,
                               discount_minor=self.discount_minor, prices_include_tax=self.prices_include_tax)


def _minor(major: Decimal, currency: str) -> int:
    return Money.from_decimal(major, currency).minor


def _major(minor: int, currency: str) -> Decimal:
    return Money(minor, currency).as_decimal()


def _text(value: Any, key: str, errors: dict[str, str], label: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"{key} must be typed text (str), not {type(value).__name__}")
    text = str(value)
    check_text(errors, key, text, label)
    return text.strip()


def _vat_for(uow: UnitOfWork, workspace_id: str, typed_rate: str, typed_id: str, key: str, number: int,
             errors: dict[str, str], default: TaxRate | None) -> tuple[en16931.VatRate | None, int | None]:
    if typed_rate and typed_id:
        errors[f"{key}-tax_rate"] = f"Line {number}: choose a tax rate or type a percent, not both."
        return None, None
    if typed_rate.lower() == NO_VAT:
        return en16931.NOT_SUBJECT_TO_VAT, None
    if typed_id:
        found = None
        if typed_id.isdigit():
            found = uow.repository(workspace_id).find(TaxRate, id=int(typed_id), archived=False)
        if found is None:
            errors[f"{key}-tax_rate_id"] = f"Line {number}: that tax rate was not found; choose one of yours."
            return None, None
        return vat_of(found), found.id
    if typed_rate:
        try:
            rate = en16931.parse_rate(typed_rate)
        except DomainError as exc:
            errors[f"{key}-tax_rate"] = f"Line {number}: {exc.message}"
            return None, None
        category = en16931.VatCategory.STANDARD if rate > 0 else en16931.VatCategory.ZERO
        return en16931.VatRate(category, rate), None
    if default is not None:
        return vat_of(default), default.id
    return en16931.NOT_SUBJECT_TO_VAT, None


def price_lines(uow: UnitOfWork, workspace_id: str, currency: str, raw_lines: Any, *,
                prices_include_tax: bool, errors: dict[str, str]) -> Priced | None:
    """Read and price ``raw_lines`` (a list of dicts of typed text); ``None`` with
    ``errors`` filled when anything is wrong (``currency`` must already be valid)."""
    if not isinstance(raw_lines, (list, tuple)):
        raise TypeError("lines must be a list of dicts")
    if not raw_lines:
        errors["lines"] = "Add at least one line."
        return None
    if len(raw_lines) > MAX_LINES:
        errors["lines"] = f"An invoice has at most {MAX_LINES} lines."
        return None
    default = default_tax_rate(workspace_id, uow=uow)
    parsed: list[tuple] = []
    for index, raw in enumerate(raw_lines):
        if not isinstance(raw, dict):
            raise TypeError("each line must be a dict of typed text")
        unknown = set(raw) - set(LINE_FIELDS)
        if unknown:
            raise TypeError(f"unknown line fields: {', '.join(sorted(map(str, unknown)))}")
        key, number = f"lines-{index}", index + 1
        before = len(errors)  # before the NUL checks: a field refused there must stop this line too
        text = {field: _text(raw.get(field), f"{key}-{field}", errors, field.replace("_", " "))
                for field in LINE_FIELDS}
        if len(errors) == before and not any(text[f] for f in LINE_FIELDS if f != "quantity") \
                and text["quantity"] in ("", "1"):
            # An empty line ("Add line" once too often): one message, not one per field.
            errors[f"{key}-description"] = f"Line {number} is empty: fill it in, or remove it."
            continue
        description = text["description"]
        if not description and f"{key}-description" not in errors:
            errors[f"{key}-description"] = f"Line {number}: describe the item or service."
        elif len(description) > LINE_DESCRIPTION_MAX:
            errors[f"{key}-description"] = f"Line {number}: keep the description under {LINE_DESCRIPTION_MAX} characters."
        if len(text["unit"]) > UNIT_MAX:
            errors[f"{key}-unit"] = f"Line {number}: keep the unit under {UNIT_MAX} characters."
        values: dict[str, Any] = {}
        for field, parse in (("quantity", en16931.parse_quantity),
                             ("unit_price", lambda t: en16931.parse_unit_price(t, currency)),
                             ("discount", lambda t: en16931.parse_unit_price(t, currency) if t else Decimal(0))):
            if f"{key}-{field}" in errors:
                continue
            typed = text[field]
            if field == "quantity" and not typed:
                typed = "1"
            try:
                values[field] = parse(typed)
            except DomainError as exc:
                message = exc.message.replace("unit price", "discount") if field == "discount" else exc.message
                errors[f"{key}-{field}"] = f"Line {number}: {message}"
        vat, rate_id = (None, None)
        if f"{key}-tax_rate" not in errors and f"{key}-tax_rate_id" not in errors:
            vat, rate_id = _vat_for(uow, workspace_id, text["tax_rate"], text["tax_rate_id"], key, number,
                                    errors, default)
        if len(errors) > before:
            continue
        try:
            allowance = (en16931.LineAllowance(_minor(values["discount"], currency))
                         if values["discount"] else None)
            line = en16931.InvoiceLine(description, values["quantity"], values["unit_price"], vat,
                                       unit=text["unit"], allowance=allowance)
            en16931.line_net_amount(line, currency)  # the discount is not above the line's amount
        except DomainError as exc:
            errors[f"{key}-{exc.field or 'unit_price'}"] = f"Line {number}: {exc.message}"
            continue
        parsed.append((line, rate_id))
    if errors:
        return None
    domain_lines = [line for line, _ in parsed]
    try:
        if prices_include_tax:
            _, nets = net_lines(currency, domain_lines)
        else:
            nets = en16931.compute(currency, domain_lines).line_net_minor
        calculation = _compute_from_nets(currency, [(line.description, line.vat, net)
                                                    for line, net in zip(domain_lines, nets, strict=True)])
    except DomainError as exc:
        errors["lines"] = exc.message
        return None
    priced = tuple(
        PricedLine(line.description, line.quantity, line.unit, _minor(line.net_price, currency),
                   line.allowance.amount_minor if line.allowance else 0, line.vat, rate_id, net)
        for (line, rate_id), net in zip(parsed, nets, strict=True)
    )
    return Priced(currency, priced, calculation, prices_include_tax)


def price_single(description: str, amount_minor: int, currency: str) -> Priced:
    """The amount-and-description draft: one line without VAT (:func:`~.en16931.single_line`)."""
    line = en16931.single_line(description, amount_minor, currency)
    calculation = en16931.compute(currency, [line])
    priced = PricedLine(line.description, line.quantity, "", amount_minor, 0, line.vat, None,
                        calculation.line_net_minor[0])
    return Priced(currency, (priced,), calculation, False)


def _compute_from_nets(currency: str, nets: list[tuple[str, en16931.VatRate, int]],
                       allowances: tuple[en16931.DocumentAllowance, ...] = ()) -> en16931.Calculation:
    """:func:`~.en16931.compute` over lines whose net (BT-131) is already known: each as
    quantity 1 at its net, which gives the same breakdown and totals."""
    return en16931.compute(currency, [en16931.InvoiceLine(description or "-", Decimal(1), _major(net, currency), vat)
                                      for description, vat, net in nets], allowances)


def parse_discount(value: Any, currency: str) -> int:
    """The document discount in minor units from text as typed (``"10.00"``, the currency's
    decimals, without VAT) or an ``int`` of minor units; ``None`` or empty text is 0.
    :class:`DomainError` (field ``discount``) for bad text or a negative amount;
    ``TypeError`` for another type (a ``float``)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"discount must be typed text (str) or an int of minor units, not {type(value).__name__}")
    if isinstance(value, int):
        if value < 0:
            raise DomainError("A discount cannot be negative.", field="discount")
        return value
    if not value.strip():
        return 0
    try:
        return _minor(en16931.parse_unit_price(value, currency), currency)
    except DomainError as exc:
        raise DomainError(exc.message.replace("unit price", "discount"), field="discount") from None


def with_discount(priced: Priced, discount: Any, errors: dict[str, str]) -> Priced | None:
    """``priced`` with a document discount (see :func:`parse_discount`) taken off, shared
    among its VAT rates by :func:`~invoicing_plugin.domain.discounts.prorate`; ``None`` with
    ``errors["discount"]`` set when it cannot be (bad text, more than the lines' net)."""
    try:
        discount_minor = parse_discount(discount, priced.currency)
        if not discount_minor:
            return priced
        nets = [(line.description, line.vat, line.net_minor) for line in priced.lines]
        allowances = prorate(priced.currency, [(vat, net) for _, vat, net in nets], discount_minor)
        calculation = _compute_from_nets(priced.currency, nets, allowances)
    except DomainError as exc:
        errors["discount"] = exc.message
        return None
    return Priced(priced.currency, priced.lines, calculation, priced.prices_include_tax, discount_minor, allowances)


def store(invoice: Invoice, priced: Priced) -> None:
    """Replace ``invoice``'s lines and totals with ``priced`` (same session, not flushed).

    Rows are rewritten in place by position and the surplus deleted, so an edit never
    inserts a position that an old row still holds (the unit of work inserts before it
    deletes)."""
    existing = list(invoice.lines)
    for position, line in enumerate(priced.lines, start=1):
        values = dict(
            workspace_id=invoice.workspace_id, position=position, description=line.description,
            quantity=line.quantity, unit=line.unit, unit_price_minor=line.unit_price_minor,
            discount_minor=line.discount_minor, vat_category=line.vat.category.value, vat_rate=line.vat.rate,
            exemption_reason=line.vat.exemption_reason, tax_rate_id=line.tax_rate_id, net_minor=line.net_minor,
        )
        if position <= len(existing):
            for key, value in values.items():
                setattr(existing[position - 1], key, value)
        else:
            invoice.lines.append(InvoiceLine(**values))
    del invoice.lines[len(priced.lines):]
    totals = priced.totals
    invoice.net_minor = totals.total_without_vat_minor
    invoice.tax_minor = totals.total_vat_minor
    invoice.amount_minor = totals.total_with_vat_minor
    invoice.prices_include_tax = priced.prices_include_tax
    invoice.discount_minor = priced.discount_minor


def gross_rounding(invoice: Invoice) -> str | None:
    """When ``invoice``'s line prices were typed with VAT (``prices_include_tax``) and its total
    with VAT is not what those lines add up to, a sentence saying both amounts; else ``None``.

    The gross rule (:mod:`~invoicing_plugin.domain.gross_prices`) makes the total the typed
    one except where VAT, rounded once per rate, cannot (then one currency unit per rate
    apart). With a document discount (an amount without VAT) the total is not meant to be
    the typed sum, so nothing is said. :attr:`Priced.gross_rounding` says the same of lines
    not saved yet (the draft form's totals)."""
    return _gross_rounding(invoice.currency, list(invoice.lines), int(invoice.amount_minor),
                           discount_minor=int(invoice.discount_minor or 0),
                           prices_include_tax=bool(invoice.prices_include_tax))


def no_vat_warning(invoice: Invoice, *, uow: UnitOfWork | None = None) -> str | None:
    """A warning for a draft that charges no VAT at all (every line "Not subject to VAT",
    category O -- an amount-and-description draft is one such line) while its workspace has
    a default tax rate (it charges VAT, and staff may expect the amount to carry it); else
    ``None``. The draft is not changed: an amount keeps meaning one line without VAT."""
    if invoice.status != "draft":
        return None
    rows = list(invoice.lines)
    if any(row.vat_category != en16931.VatCategory.NOT_SUBJECT.value for row in rows):
        return None
    default = default_tax_rate(str(invoice.workspace_id), uow=uow)
    if default is None:
        return None
    return (f"This invoice charges no VAT: its amount is one line not subject to VAT, although this workspace's "
            f"default rate is {default.name}. If it should carry VAT, edit the draft and add lines (a new line "
            "takes the default rate) before sending.")


def _gross_rounding(currency: str, lines, total_minor: int, *, discount_minor: int,
                    prices_include_tax: bool) -> str | None:
    """``lines``: objects with ``quantity``, ``unit_price_minor`` (as typed) and ``discount_minor``."""
    if not prices_include_tax or discount_minor or not lines:
        return None
    typed = 0
    for line in lines:
        allowance = en16931.LineAllowance(int(line.discount_minor)) if line.discount_minor else None
        typed += en16931.line_net_amount(en16931.InvoiceLine(
            "typed", Decimal(line.quantity), _major(int(line.unit_price_minor), currency),
            en16931.NOT_SUBJECT_TO_VAT, allowance=allowance), currency)
    if typed == total_minor:
        return None
    return (f"The lines typed with VAT included add up to {format_money(Money(typed, currency))}, but the total "
            f"is {format_money(Money(total_minor, currency))}: VAT is rounded once per rate, and no amount without "
            "VAT gives exactly the typed total (it is at most one unit of the currency per VAT rate away).")


def _stored_nets(invoice: Invoice) -> list[tuple[str, en16931.VatRate, int]]:
    return [(row.description, en16931.VatRate(en16931.VatCategory(row.vat_category), row.vat_rate,
                                              row.exemption_reason), int(row.net_minor))
            for row in invoice.lines]


def allowances_of(invoice: Invoice) -> tuple[en16931.DocumentAllowance, ...]:
    """The stored invoice's document discount as EN 16931 allowances (BG-20), one per VAT
    rate, pro rata to the stored line nets (:func:`~invoicing_plugin.domain.discounts.prorate`)."""
    discount = int(getattr(invoice, "discount_minor", 0) or 0)
    if not discount or not list(getattr(invoice, "lines", ()) or ()):
        return ()
    return prorate(invoice.currency, [(vat, net) for _, vat, net in _stored_nets(invoice)], discount)


def calculation_of(invoice: Invoice) -> en16931.Calculation:
    """The stored invoice's breakdown and totals, from its lines' nets and its document
    discount; an invoice without line rows (inserted before lines existed, or by hand) is
    one line without VAT."""
    rows = list(invoice.lines)
    if not rows:
        return en16931.compute(invoice.currency, [
            en16931.single_line(invoice.description or "-", int(invoice.amount_minor), invoice.currency)])
    return _compute_from_nets(invoice.currency, _stored_nets(invoice), allowances_of(invoice))


def load_lines(invoices) -> None:
    """Load the lines of many ORM invoices with one query (a list's snapshots would
    otherwise load them one invoice at a time)."""
    invoices = [invoice for invoice in invoices if isinstance(invoice, Invoice)]
    session = object_session(invoices[0]) if invoices else None
    if session is None:
        return
    by_id: dict[int, list[InvoiceLine]] = {invoice.id: [] for invoice in invoices}
    rows = session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id.in_(list(by_id)))
                           .order_by(InvoiceLine.invoice_id, InvoiceLine.position))
    for row in rows:
        by_id[row.invoice_id].append(row)
    for invoice in invoices:
        set_committed_value(invoice, "lines", by_id[invoice.id])
