"""A stored invoice or credit note as an EN 16931 e-invoice (issue 16).

:func:`of_invoice` and :func:`of_credit_note` read what the documents print -- the
stored lines and their nets (:mod:`.lines`), the seller as sent (:mod:`.parties`), the
buyer columns, the deposits deducted and the payments (:mod:`~invoicing_plugin.domain.balance`)
-- and return an :class:`~invoicing_plugin.domain.einvoice.EInvoice`, which
:func:`~invoicing_plugin.domain.einvoice.cii_xml` (embedded in the Factur-X PDF) and
:func:`~invoicing_plugin.domain.einvoice.ubl_xml` (the UBL download) write out.

A draft is not an invoice yet (no number, BT-1, nor issue date, BT-2): :func:`of_invoice`
raises :class:`NotAnInvoiceYet` for it, and its PDF stays a plain PDF.

The figures are the invoice's own: BT-106..BT-112 and the VAT breakdown come from
:func:`.lines.calculation_of`, exactly as the print page shows them. BT-113 (paid amount)
is the deposits deducted plus the money received and kept (received less refunds and
lost disputes); BT-115 = BT-112 − BT-113 (BR-CO-16). Credit notes are separate documents
and are not taken off BT-115 (EN 16931 has no term for them on the invoice).

A credit note (type code 381) refers to its invoice (BG-3, BT-25/BT-26). A note for chosen
lines (issue 15) carries its own stored lines and VAT breakdown (:func:`_note_lines`,
:func:`_note_breakdown`), so its XML says what its printed page says to the unit. A note
for an amount that credits the invoice's whole total repeats the invoice's lines; for a part, one line per
VAT rate of the invoice, the credited amount shared pro rata to each rate's total with
VAT (:func:`~invoicing_plugin.domain.discounts.prorate`) and each share's net found as for
prices typed with VAT (:func:`~invoicing_plugin.domain.gross_prices.net_lines`), so the
note's total with VAT is the credited amount (in rare cases one unit of the currency
off, as that function's docstring says).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal

from ..domain import en16931
from ..domain.balance import of_invoice as balance_of
from ..domain.calendar import as_zone, local_day
from ..domain.discounts import prorate
from ..domain.einvoice import CREDIT_NOTE, INVOICE, EInvoice, EInvoiceLine, Party, PrecedingInvoice, unit_code
from ..domain.errors import AmountError, DomainError
from ..domain.gross_prices import net_lines
from ..domain.money import Money, get_currency
from ..host import HostSellerDetails, HostWorkspace
from .credit_notes import SETTLEMENTS
from .lines import allowances_of, calculation_of
from .parties import document_seller

__all__ = ["NotAnInvoiceYet", "of_credit_note", "of_invoice", "xml_filename"]

_PRICE = Context(prec=60, rounding=ROUND_HALF_UP)
PRICE_DECIMALS = 6
"""Decimals of a net price (BT-146) worked out from a line's net (prices typed with VAT)."""


class NotAnInvoiceYet(DomainError):
    """A draft has no number nor issue date: it has no e-invoice."""


def _seller(invoice, workspace: HostWorkspace, live: HostSellerDetails | None) -> Party:
    details = document_seller(invoice, live)
    if details is None:
        return Party(name=workspace.name)
    return Party(
        name=details.legal_name or workspace.name, trading_name=details.trading_name,
        registration_id=details.registration_id, vat_id=details.vat_id,
        address_line1=details.address_line1, address_line2=details.address_line2, city=details.city,
        post_code=details.post_code, country=details.country, contact_name=details.contact_name,
        contact_phone=details.contact_phone, contact_email=details.contact_email)


def _buyer(invoice) -> Party:
    return Party(
        name=invoice.buyer_name or invoice.client_name, registration_id=invoice.buyer_registration_id,
        vat_id=invoice.buyer_vat_id, address_line1=invoice.buyer_address_line1,
        address_line2=invoice.buyer_address_line2, city=invoice.buyer_city, post_code=invoice.buyer_post_code,
        country=invoice.buyer_country, contact_email=invoice.client_email or None)


def _out_of_scope(seller: Party, buyer: Party, breakdown) -> tuple[Party, Party]:
    """BR-O-02: a document whose every amount is "not subject to VAT" (category O) names no
    VAT identifier, the seller's nor the buyer's (they are printed on the page still). A
    document mixing O with other categories cannot meet both BR-O-02 and BR-S-02; it keeps
    them (see docs/einvoices.md)."""
    if breakdown and all(group.category is en16931.VatCategory.NOT_SUBJECT for group in breakdown):
        return replace(seller, vat_id=None), replace(buyer, vat_id=None)
    return seller, buyer


def _issue_date(invoice, zone) -> date:
    if invoice.issue_date is not None:
        return invoice.issue_date
    instant = invoice.sent_at or invoice.created_at
    return local_day(instant, zone)


def _net_price(row, currency: str, prices_include_tax: bool) -> tuple[Decimal, int]:
    """BT-146 and BT-136 of a stored line. Net prices: the typed price and discount. Prices
    typed with VAT: the line's net (BT-131) over its quantity, rounded half up to
    :data:`PRICE_DECIMALS`, no line allowance (the discount typed with VAT is in the net)."""
    if not prices_include_tax:
        return Money(int(row.unit_price_minor), currency).as_decimal(), int(row.discount_minor or 0)
    net = Money(int(row.net_minor), currency).as_decimal()
    price = _PRICE.divide(net, Decimal(row.quantity)).quantize(Decimal(1).scaleb(-PRICE_DECIMALS), context=_PRICE)
    return price, 0


def _lines(invoice) -> tuple[EInvoiceLine, ...]:
    currency = invoice.currency
    rows = list(invoice.lines)
    if not rows:  # stored before lines existed: one line without VAT (as calculation_of reads it)
        amount = int(invoice.amount_minor)
        return (EInvoiceLine("1", invoice.description or "-", Decimal(1), "C62", Money(amount, currency).as_decimal(),
                             en16931.NOT_SUBJECT_TO_VAT, amount),)
    out = []
    for position, row in enumerate(rows, start=1):
        price, allowance = _net_price(row, currency, bool(invoice.prices_include_tax))
        vat = en16931.VatRate(en16931.VatCategory(row.vat_category), row.vat_rate, row.exemption_reason)
        out.append(EInvoiceLine(str(position), row.description, Decimal(row.quantity), unit_code(row.unit or ""),
                                price, vat, int(row.net_minor), allowance))
    return tuple(out)


def of_invoice(invoice, workspace: HostWorkspace, *, seller: HostSellerDetails | None) -> EInvoice:
    """``invoice`` (an ``Invoice`` row with its lines) as an EN 16931 invoice (type code 380).

    ``seller``: the workspace's seller details now (``services.seller.seller_details``), used
    only when the invoice kept none at send (:func:`.parties.document_seller`); without
    any, the seller is the workspace's name. Raises :class:`NotAnInvoiceYet` for a draft."""
    if invoice.status == "draft" or not invoice.number:
        raise NotAnInvoiceYet("A draft has no e-invoice yet: send it first.")
    zone = as_zone(getattr(workspace, "timezone", None))
    calculation = calculation_of(invoice)
    balance = balance_of(invoice)
    totals = calculation.totals
    paid = balance.prepaid_minor + balance.paid_minor  # BT-113: deposits deducted + payments kept
    totals = en16931.DocumentTotals(
        currency=totals.currency, sum_of_line_net_minor=totals.sum_of_line_net_minor,
        allowances_minor=totals.allowances_minor, total_without_vat_minor=totals.total_without_vat_minor,
        total_vat_minor=totals.total_vat_minor, total_with_vat_minor=totals.total_with_vat_minor,
        paid_minor=paid, amount_due_minor=totals.total_with_vat_minor - paid)  # BR-CO-16
    notes = tuple(text for text in (invoice.description,) if text and not invoice.lines) or ()
    seller_party, buyer_party = _out_of_scope(_seller(invoice, workspace, seller), _buyer(invoice),
                                              calculation.breakdown)
    return EInvoice(
        type_code=INVOICE, number=invoice.number, issue_date=_issue_date(invoice, zone), currency=invoice.currency,
        seller=seller_party, buyer=buyer_party, lines=_lines(invoice),
        breakdown=calculation.breakdown, totals=totals, allowances=allowances_of(invoice),
        due_date=invoice.due_date, payment_terms=invoice.payment_terms, notes=notes,
        supply_date=invoice.supply_date, supply_start=invoice.supply_start, supply_end=invoice.supply_end)


def _partial_credit_lines(invoice, amount_minor: int) -> tuple[EInvoiceLine, ...]:
    """One line per VAT rate of ``invoice``: ``amount_minor`` (with VAT) shared pro rata to each
    rate's total with VAT, each share's net found as for prices typed with VAT."""
    currency = invoice.currency
    groups = [(en16931.VatRate(group.category, group.rate, group.exemption_reason),
               group.taxable_amount_minor + group.tax_amount_minor)
              for group in calculation_of(invoice).breakdown]
    shares = prorate(currency, groups, amount_minor, reason="credit")
    name = f"Credit on invoice {invoice.number}"
    typed = [en16931.InvoiceLine(name, Decimal(1), Money(share.amount_minor, currency).as_decimal(), share.vat)
             for share in shares]
    _, nets = net_lines(currency, typed)
    return tuple(EInvoiceLine(str(index), name, Decimal(1), "C62", Money(net, currency).as_decimal(), line.vat, net)
                 for index, (line, net) in enumerate(zip(typed, nets, strict=True), start=1))


def _whole_units(minor: int, currency: str) -> bool:
    """Whether ``minor`` is a whole number of the currency's smallest written amount (ISK: 100)."""
    spec = get_currency(currency)
    return minor % 10 ** (spec.stripe_exponent - spec.decimals) == 0


def _note_lines(note, invoice) -> tuple[EInvoiceLine, ...]:
    """A line note's own lines (``CreditNote.lines``): description, quantity credited, unit,
    price (:func:`_note_price`), VAT and the credited net (BT-131), as its page prints them."""
    currency = invoice.currency
    out = []
    for position, row in enumerate(note.lines, start=1):
        price, allowance = _note_price(row, currency, bool(invoice.prices_include_tax))
        vat = en16931.VatRate(en16931.VatCategory(row.vat_category), row.vat_rate, row.exemption_reason)
        out.append(EInvoiceLine(str(position), row.description, Decimal(row.quantity), unit_code(row.unit or ""),
                                price, vat, int(row.net_minor), allowance))
    return tuple(out)


def _note_breakdown(note, lines: tuple[EInvoiceLine, ...]) -> tuple[
        tuple[en16931.VatBreakdown, ...], tuple[en16931.DocumentAllowance, ...], en16931.DocumentTotals]:
    """A line note's stored VAT breakdown (``CreditNote.vat_breakdown``), and its totals
    (``net_minor``, ``tax_minor``, ``amount_minor``). Where the invoice had a document
    discount a rate's taxable amount is less than its lines' nets: the difference is that
    rate's document allowance (BG-20), so BT-116 = Σ BT-131 − Σ BT-92 per rate (BR-S-08) and
    BT-109 = BT-106 − BT-107 (BR-CO-13) hold with the stored figures unchanged."""
    currency = note.currency
    breakdown, allowances = [], []
    for item in note.vat_breakdown or ():
        vat = en16931.VatRate(en16931.VatCategory(item["category"]), Decimal(str(item["rate"])),
                              item.get("exemption_reason"))
        taxable = int(item["taxable_minor"])
        breakdown.append(en16931.VatBreakdown(vat.category, vat.rate, taxable, int(item["tax_minor"]),
                                              vat.exemption_reason))
        nets = sum(line.net_minor for line in lines
                   if line.vat.category is vat.category and line.vat.rate == vat.rate)
        if nets > taxable:
            allowances.append(en16931.DocumentAllowance(nets - taxable, vat, "Discount"))
    line_sum = sum(line.net_minor for line in lines)
    net, tax, total = int(note.net_minor), int(note.tax_minor), int(note.amount_minor)
    totals = en16931.DocumentTotals(
        currency=currency, sum_of_line_net_minor=line_sum, allowances_minor=line_sum - net,
        total_without_vat_minor=net, total_vat_minor=tax, total_with_vat_minor=total,
        paid_minor=0, amount_due_minor=total)
    return tuple(breakdown), tuple(allowances), totals


def _note_price(row, currency: str, prices_include_tax: bool) -> tuple[Decimal, int]:
    """BT-146 and BT-136 of a credited line (a ``CreditNoteLine``): with net prices, the
    invoice line's price and, as the line allowance, what the quantity at that price exceeds
    the credited net by (the line discount's share); otherwise (prices typed with VAT, or a
    quantity × price finer than the currency's unit) the net over the quantity, as
    :func:`_net_price` does."""
    net = int(row.net_minor)
    if not prices_include_tax:
        price = Money(int(row.unit_price_minor), currency).as_decimal()
        try:
            gross = Money.from_decimal(price * Decimal(row.quantity), currency).minor
        except AmountError:  # finer than the currency: the price is the net over the quantity
            gross = None
        if gross is not None and gross >= net and _whole_units(gross, currency):
            return price, gross - net
    price = _PRICE.divide(Money(net, currency).as_decimal(), Decimal(row.quantity))
    return price.quantize(Decimal(1).scaleb(-PRICE_DECIMALS), context=_PRICE), 0


def of_credit_note(note, invoice, workspace: HostWorkspace, *, seller: HostSellerDetails | None) -> EInvoice:
    """Credit ``note`` (a ``CreditNote`` row) of ``invoice`` as an EN 16931 credit note (type
    code 381), referring to the invoice (BG-3); nothing is paid on it (BT-113 = 0). Its
    payment terms (BT-20) say how it is settled ("Refund the client through Stripe", ...):
    BR-CO-25 asks for a due date or terms whenever BT-115 is positive, and a credit note
    has no due date."""
    zone = as_zone(getattr(workspace, "timezone", None))
    amount = int(note.amount_minor)
    full = amount == int(invoice.amount_minor) and list(invoice.lines)
    if list(getattr(note, "lines", None) or ()) and note.vat_breakdown is not None:  # a note for chosen lines
        lines = _note_lines(note, invoice)
        breakdown, allowances, totals = _note_breakdown(note, lines)
        calculation = en16931.Calculation(tuple(line.net_minor for line in lines), breakdown, totals)
    elif full:
        lines, allowances = _lines(invoice), allowances_of(invoice)
        calculation = calculation_of(invoice)
    else:
        lines, allowances = _partial_credit_lines(invoice, amount), ()
        calculation = en16931.compute(
            invoice.currency, [en16931.InvoiceLine(line.name, Decimal(1), line.net_price, line.vat) for line in lines])
    seller_party, buyer_party = _out_of_scope(_seller(invoice, workspace, seller), _buyer(invoice),
                                              calculation.breakdown)
    return EInvoice(
        type_code=CREDIT_NOTE, number=note.number, issue_date=local_day(note.created_at, zone),
        currency=invoice.currency, seller=seller_party, buyer=buyer_party,
        lines=lines, breakdown=calculation.breakdown, totals=calculation.totals, allowances=allowances,
        notes=(note.reason,) if note.reason else (), payment_terms=SETTLEMENTS.get(note.settlement, note.settlement),
        preceding=PrecedingInvoice(invoice.number, _issue_date(invoice, zone)),
        supply_date=invoice.supply_date, supply_start=invoice.supply_start, supply_end=invoice.supply_end)


def xml_filename(doc: EInvoice) -> str:
    """``invoice-INV-0001.xml`` / ``credit-note-CN-0001.xml`` (letters, digits, ``._-`` only)."""
    kind = "credit-note" if doc.is_credit_note else "invoice"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", doc.number).strip("-.") or kind
    return f"{kind}-{slug}.xml"
