"""Printable invoices: one plain description of the document, rendered as HTML, and as PDF from that HTML.

:func:`build_document` turns an invoice into an :class:`InvoiceDocument` (plain
strings and dates, nothing to look up later); the web layer renders it with the
``invoicing/documents/invoice.html`` template (credit notes: ``credit_note.html``),
and the PDF is that same page printed by WeasyPrint (:mod:`.pdf`), so the print view
and the PDF show the same words, amounts ("£1,800.00") and layout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from babel.dates import format_date

from ..domain.balance import of_invoice
from ..domain.calendar import as_zone, local_day
from ..domain.country import postal_address_lines
from ..domain.invoice import InvoiceStatus, display_status, offers_online_payment
from ..domain.money import Money, format_money
from ..domain.statuses import DOCUMENT_LABELS, TONES
from ..host import HostSellerDetails, HostWorkspace
from .lines import allowances_of, calculation_of
from .parties import document_seller
from .uow import UnitOfWork, wall_today

__all__ = ["Buyer", "CreditNoteDocument", "CreditNoteLine", "DocumentLine", "DocumentVat", "InvoiceDocument",
           "build_credit_note_document", "build_document", "pdf_filename", "plain_decimal", "vat_breakdown"]

#: Status wording on the document, for staff and client alike (from the status table).
DOCUMENT_STATUS: Mapping[str, str] = DOCUMENT_LABELS

#: How each VAT category is named in the breakdown (EN 16931 BT-118 codes).
VAT_LABELS: Mapping[str, str] = {
    "S": "VAT", "Z": "Zero rated", "E": "Exempt", "AE": "Reverse charge", "O": "Not subject to VAT",
}


def plain_decimal(value: Decimal) -> str:
    """``Decimal("1.50")`` -> "1.5", ``Decimal("20")`` -> "20": no exponent, no trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class DocumentPrepayment:
    """A paid deposit, or the client's credit from a credit note, deducted from the invoice
    (part of EN 16931 BT-113)."""

    reference: str  # the deposit invoice's or the credit note's number
    paid_on: date | None  # a credit: the day the credit note was made
    amount: Money
    kind: str = "deposit"  # deposit | credit


@dataclass(frozen=True)
class DocumentLine:
    """One printed line (EN 16931 BG-25): amounts as :class:`Money` of the invoice's currency."""

    description: str
    quantity: str  # "1.5"
    unit: str
    unit_price: Money  # as typed: with VAT when the document's prices_include_tax
    discount: Money | None
    vat: str  # "20 %", "0 % Z", "—" (not subject to VAT)
    net: Money  # BT-131


@dataclass(frozen=True)
class DocumentVat:
    """One row of the VAT breakdown (BG-23): category and rate, taxable amount, VAT, note."""

    label: str  # "VAT 20 %", "Reverse charge", ...
    taxable: Money  # BT-116
    tax: Money  # BT-117
    note: str | None  # BT-120


@dataclass(frozen=True)
class DocumentDiscount:
    """The document discount at one VAT rate (BG-20): ``label`` ("Discount (VAT 20 %)") and
    the amount without VAT (BT-92), printed between the lines' sum and the total without VAT."""

    label: str
    amount: Money


@dataclass(frozen=True)
class Buyer:
    """The client as the buyer on the document (EN 16931 BG-7): what the invoice holds."""

    name: str
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    post_code: str | None = None
    country: str | None = None
    vat_id: str | None = None
    registration_id: str | None = None

    @property
    def address_lines(self) -> list[str]:
        """Street lines, then post code and city, then the country code."""
        return postal_address_lines(self.address_line1, self.address_line2, self.post_code, self.city, self.country)


def _buyer(invoice) -> Buyer | None:
    values = {key: getattr(invoice, f"buyer_{key}", None) for key in
              ("address_line1", "address_line2", "city", "post_code", "country", "vat_id", "registration_id")}
    name = getattr(invoice, "buyer_name", None)
    if not name and not any(values.values()):
        return None
    return Buyer(name=name or invoice.client_name, **values)


@dataclass(frozen=True)
class CreditNoteLine:
    """A credit note as the invoice it corrects lists it."""

    number: str
    amount: Money
    issued_on: date | None
    #: Kept as the client's credit and used since on a later invoice: that invoice's number.
    used_on: str | None = None


@dataclass(frozen=True)
class InvoiceDocument:
    workspace_name: str
    number: str
    status: str  # key: draft, sent, overdue, processing, paid, ...
    status_label: str
    client_name: str
    client_email: str
    description: str
    subject_title: str | None
    amount: Money
    amount_paid: Money | None
    amount_refunded: Money | None
    issued_on: date | None  # sent date (created date for drafts)
    due_on: date | None
    paid_on: date | None
    pay_url: str | None
    locale: str = "en_US"
    seller: HostSellerDetails | None = None
    """The issuer's legal details (EN 16931 BG-4), or ``None`` when the workspace has none:
    then only :attr:`workspace_name` names the issuer, as before. A sent invoice shows them
    as they were when it was sent (``Invoice.seller_snapshot``), a draft as they are now."""
    buyer: Buyer | None = None
    """The client's legal details (BG-7) as on the invoice; ``None``: only :attr:`client_name`."""
    supply_date: date | None = None  # BT-72
    supply_start: date | None = None  # BT-73
    supply_end: date | None = None  # BT-74
    payment_terms: str | None = None  # BT-20
    #: What is still to pay (EN 16931 BT-115, :mod:`~invoicing_plugin.domain.balance`), never
    #: below zero; ``None`` on a draft. ``overpaid``: more than owed was paid (kept as credit).
    amount_due: Money | None = None
    overpaid: Money | None = None
    lines: tuple[DocumentLine, ...] = ()
    vat_breakdown: tuple[DocumentVat, ...] = ()
    net_total: Money | None = None  # BT-109
    tax_total: Money | None = None  # BT-110 (the total with VAT, BT-112, is ``amount``)
    prices_include_tax: bool = False
    lines_total: Money | None = None  # BT-106, printed when there is a document discount
    discounts: tuple[DocumentDiscount, ...] = ()  # BG-20, one per VAT rate (BT-107 in total)
    #: Paid deposits deducted from this invoice (``Invoice.prepayments``), oldest first.
    prepayments: tuple[DocumentPrepayment, ...] = ()

    def prepayment_label(self, prepayment: DocumentPrepayment) -> str:
        """"Deposit INV-0003 paid 12 March 2026", "Credit note CN-0002 of 3 April 2026" (the
        date in the document's locale)."""
        if prepayment.kind == "credit":
            made = f" of {self.date_text(prepayment.paid_on)}" if prepayment.paid_on else ""
            return f"Credit note {prepayment.reference}{made}"
        paid = f" paid {self.date_text(prepayment.paid_on)}" if prepayment.paid_on else ""
        return f"Deposit {prepayment.reference}{paid}"

    def prepayment_amount(self, prepayment: DocumentPrepayment) -> str:
        """"−£500.00": deducted, so with a minus sign (U+2212)."""
        return "\u2212" + format_money(prepayment.amount, self.locale)

    @property
    def buyer_name(self) -> str:
        """The client's legal name when known, else the name the invoice was created for."""
        return self.buyer.name if self.buyer is not None and self.buyer.name else self.client_name

    @property
    def buyer_lines(self) -> list[tuple[str, str]]:
        """``(label, text)`` rows of the client's details to print under its name."""
        buyer = self.buyer
        if buyer is None:
            return []
        rows: list[tuple[str, str]] = [("", line) for line in buyer.address_lines]
        if buyer.vat_id:
            rows.append(("VAT number", buyer.vat_id))
        if buyer.registration_id:
            rows.append(("Company number", buyer.registration_id))
        return rows

    @property
    def supply_text(self) -> str | None:
        """"12 March 2025", "1 March 2025 – 31 March 2025", or ``None``."""
        if self.supply_date is not None:
            return self.date_text(self.supply_date)
        if self.supply_start is not None and self.supply_end is not None:
            return f"{self.date_text(self.supply_start)} – {self.date_text(self.supply_end)}"
        return None

    @property
    def summary(self) -> str | None:
        """The invoice's description, printed above the lines (EN 16931's invoice note, BT-22),
        or ``None`` when it is empty or is already the text of the invoice's only line (an
        amount-and-description invoice: its one line is the description)."""
        text = (self.description or "").strip()
        if not text or (len(self.lines) == 1 and (self.lines[0].description or "").strip() == text):
            return None
        return text

    @property
    def supply_label(self) -> str:
        return "Supply date" if self.supply_date is not None else "Supply period"

    def money_text(self, money: Money | None) -> str:
        """For HTML, with the currency symbol; "—" for ``None``."""
        return format_money(money, self.locale) if money is not None else "—"
    credit_notes: tuple[CreditNoteLine, ...] = ()

    @property
    def credits_used(self) -> tuple[CreditNoteLine, ...]:
        """The credit notes kept as the client's credit that a later invoice has used."""
        return tuple(note for note in self.credit_notes if note.used_on)

    @property
    def overpaid_kept(self) -> Money | None:
        """The overpayment (:attr:`overpaid`) less the credit used on later invoices: what is
        still the client's credit on this invoice; ``None`` when nothing is."""
        if self.overpaid is None:
            return None
        left = self.overpaid.minor - sum(note.amount.minor for note in self.credits_used)
        return Money(left, self.overpaid.currency) if left > 0 else None
    """The invoice's credit notes, oldest first (none: nothing is printed for them); the
    amount due already has them taken off (:func:`~invoicing_plugin.domain.balance.of_invoice`)."""

    @property
    def seller_lines(self) -> list[tuple[str, str]]:
        """``(label, text)`` rows of the seller's details to print under its name ("" label: no label)."""
        seller = self.seller
        if seller is None:
            return []
        rows: list[tuple[str, str]] = []
        if seller.trading_name and seller.trading_name != seller.legal_name:
            rows.append(("Trading as", seller.trading_name))
        rows += [("", line) for line in seller.address_lines]
        if seller.vat_id:
            rows.append(("VAT number", seller.vat_id))
        if seller.registration_id:
            rows.append(("Company number", seller.registration_id))
        contact = " · ".join(part for part in (seller.contact_name, seller.contact_phone, seller.contact_email) if part)
        if contact:
            rows.append(("Contact", contact))
        return rows

    @property
    def issuer_name(self) -> str:
        """The seller's legal name when known, else the workspace's name."""
        return self.seller.legal_name if self.seller is not None and self.seller.legal_name else self.workspace_name

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    @property
    def tone(self) -> str:
        """The status's tone (``ok``, ``danger``, ``info``, ``neutral``): the CSS modifier."""
        return TONES.get(self.status, "neutral")

    @property
    def amount_text(self) -> str:
        """For HTML, with the currency symbol ("€1,250.50")."""
        return format_money(self.amount, self.locale)

    def date_text(self, value: date | None) -> str:
        return format_date(value, format="long", locale=self.locale) if value else "—"

    @property
    def title(self) -> str:
        return f"Invoice {self.number}" if not self.is_draft else "Draft invoice"


def build_document(invoice, workspace: HostWorkspace, *, pay_url: str | None = None,
                   today: date | None = None, uow: UnitOfWork | None = None,
                   seller: HostSellerDetails | None = None, credit_notes=(),
                   credits_used: Mapping[int, str] | None = None) -> InvoiceDocument:
    """Describe ``invoice`` for printing; ``pay_url`` is shown only while the pay link takes a card payment
    (:func:`~invoicing_plugin.domain.invoice.offers_online_payment`, the pay link's own rule).

    ``seller``: the workspace's seller details now (``services.seller.seller_details``);
    ``None`` prints the workspace's name alone. A sent invoice prints the seller as it was
    sent instead (:func:`.parties.document_seller`), whatever is passed.

    ``credit_notes``: the invoice's credit notes (objects with ``number``, ``amount_minor``,
    ``currency``, ``created_at``), listed under the totals, before the amount due.
    ``credits_used``: ``{credit note id: invoice number}`` for those kept as the client's
    credit and used since on a later invoice (:func:`.credit_notes.credit_used_on`); the
    overpayment row then says where instead of "client's credit".

    ``today`` (for "overdue") defaults to today in the workspace's time zone by ``uow``'s
    clock, else the wall clock; the issued and paid days are in that zone too."""
    zone = as_zone(getattr(workspace, "timezone", None))
    today = today or (uow.today(zone) if uow is not None else wall_today(zone))
    status = InvoiceStatus(invoice.status)
    key = display_status(status, invoice.due_date, today)
    currency = invoice.currency
    paid = invoice.amount_paid_minor
    refunded = invoice.amount_refunded_minor or 0
    lines, breakdown, totals = _lines_of(invoice)
    balance = of_invoice(invoice)
    adjustments = adjustments_of(invoice, totals=totals)
    return InvoiceDocument(
        workspace_name=workspace.name,
        number=invoice.number or "Draft",
        status=key,
        status_label=DOCUMENT_STATUS[key],
        client_name=invoice.client_name,
        client_email=invoice.client_email,
        description=invoice.description or "",
        subject_title=invoice.subject_title,
        amount=Money(int(invoice.amount_minor), currency),
        amount_paid=Money(int(paid), currency) if paid is not None else None,
        amount_refunded=Money(int(refunded), currency) if refunded else None,
        issued_on=getattr(invoice, "issue_date", None)
        or _day(invoice.sent_at or (invoice.created_at if status is InvoiceStatus.DRAFT else None), zone),
        due_on=invoice.due_date,
        paid_on=_day(invoice.paid_at, zone),
        pay_url=pay_url if offers_online_payment(invoice) else None,
        locale=getattr(workspace, "locale", None) or "en_US",
        seller=document_seller(invoice, seller),
        buyer=_buyer(invoice),
        supply_date=getattr(invoice, "supply_date", None),
        supply_start=getattr(invoice, "supply_start", None),
        supply_end=getattr(invoice, "supply_end", None),
        payment_terms=getattr(invoice, "payment_terms", None),
        lines=lines,
        vat_breakdown=breakdown,
        net_total=Money(totals.total_without_vat_minor, currency),
        tax_total=Money(totals.total_vat_minor, currency),
        prices_include_tax=bool(invoice.prices_include_tax),
        amount_due=(None if status is InvoiceStatus.DRAFT and not balance.prepaid_minor
                    else Money(balance.balance_due_minor, currency)),
        overpaid=Money(balance.overpaid_minor, currency) if balance.overpaid_minor else None,
        lines_total=adjustments.lines_total,
        discounts=adjustments.discounts,
        credit_notes=tuple(CreditNoteLine(note.number, Money(int(note.amount_minor), note.currency),
                                          _day(note.created_at, zone), (credits_used or {}).get(note.id))
                           for note in credit_notes),
        prepayments=adjustments.prepayments,
    )


@dataclass(frozen=True)
class DocumentAdjustments:
    """What the printed invoice shows between its lines and its amount due, besides VAT: the
    sum of the lines and the document discount per VAT rate (only with a discount), and the
    deposits and client credit deducted. The print page and the staff page read these."""

    lines_total: Money | None
    discounts: tuple[DocumentDiscount, ...]
    prepayments: tuple[DocumentPrepayment, ...]


def adjustments_of(invoice, *, totals=None) -> DocumentAdjustments:
    """The :class:`DocumentAdjustments` of ``invoice`` (``totals``: its ``_lines_of`` totals,
    when the caller has them)."""
    currency = invoice.currency
    if totals is None:
        totals = _lines_of(invoice)[2]
    discounts = tuple(
        DocumentDiscount(f"Discount ({_group_label(a.vat.category.value, a.vat.rate)})", Money(a.amount_minor, currency))
        for a in allowances_of(invoice))
    return DocumentAdjustments(
        lines_total=Money(totals.sum_of_line_net_minor, currency) if discounts else None,
        discounts=discounts,
        prepayments=tuple(DocumentPrepayment(row.reference, row.paid_on, Money(int(row.amount_minor), row.currency),
                                             row.kind)
                          for row in (getattr(invoice, "prepayments", None) or ())),
    )


@dataclass(frozen=True)
class CreditNoteDocument:
    """A printable credit note: the issuer and client of the invoice it corrects (``invoice``,
    that invoice's :class:`InvoiceDocument`), its own number, date, amount, reason and settlement."""

    invoice: InvoiceDocument
    number: str
    issued_on: date | None
    amount: Money
    reason: str
    settlement_label: str
    #: A note for chosen lines: the credited lines (quantity, unit price, VAT, credited net),
    #: its VAT breakdown and totals without VAT and VAT (``amount`` is the total with VAT).
    lines: tuple["CreditedDocumentLine", ...] = ()
    vat: tuple[DocumentVat, ...] = ()
    net_total: Money | None = None
    tax_total: Money | None = None

    # The frame (documents/_layout.html) reads these from any document.
    @property
    def issuer_name(self) -> str:
        return self.invoice.issuer_name

    @property
    def seller_lines(self) -> list[tuple[str, str]]:
        return self.invoice.seller_lines

    @property
    def seller(self) -> HostSellerDetails | None:
        return self.invoice.seller

    @property
    def locale(self) -> str:
        return self.invoice.locale

    @property
    def title(self) -> str:
        return f"Credit note {self.number}"

    @property
    def client_name(self) -> str:
        return self.invoice.client_name

    @property
    def client_email(self) -> str:
        return self.invoice.client_email

    @property
    def invoice_number(self) -> str:
        return self.invoice.number

    @property
    def invoice_issued_on(self) -> date | None:
        return self.invoice.issued_on

    @property
    def invoice_total(self) -> Money:
        return self.invoice.amount

    @property
    def amount_text(self) -> str:
        return format_money(self.amount, self.locale)

    def date_text(self, value: date | None) -> str:
        return self.invoice.date_text(value)


@dataclass(frozen=True)
class CreditedDocumentLine:
    """One credited line on a credit note: the invoice line's position and description, the
    quantity credited (text as printed, "1.5"), its unit, unit price, VAT text and credited net."""

    position: int
    description: str
    quantity: str
    unit: str
    unit_price: Money
    vat: str
    net: Money


def _credited_lines(note) -> tuple[CreditedDocumentLine, ...]:
    return tuple(CreditedDocumentLine(row.position, row.description, plain_decimal(row.quantity), row.unit or "",
                                      Money(int(row.unit_price_minor), note.currency),
                                      _vat_text(row.vat_category, row.vat_rate), Money(int(row.net_minor), note.currency))
                 for row in (getattr(note, "lines", None) or ()))


def _credited_vat(note) -> tuple[DocumentVat, ...]:
    out = []
    for item in getattr(note, "vat_breakdown", None) or ():
        rate = Decimal(str(item["rate"]))
        out.append(DocumentVat(_group_label(item["category"], rate), Money(int(item["taxable_minor"]), note.currency),
                               Money(int(item["tax_minor"]), note.currency), item.get("exemption_reason")))
    return tuple(out)


def build_credit_note_document(note, invoice, workspace: HostWorkspace, *, seller: HostSellerDetails | None = None,
                               settlement_label: str = "") -> CreditNoteDocument:
    """Describe credit ``note`` (a ``CreditNote`` row) of ``invoice`` for printing; a note for
    chosen lines carries them, its VAT breakdown and totals."""
    zone = as_zone(getattr(workspace, "timezone", None))
    net, tax = getattr(note, "net_minor", None), getattr(note, "tax_minor", None)
    return CreditNoteDocument(
        invoice=build_document(invoice, workspace, seller=seller),
        number=note.number,
        issued_on=_day(note.created_at, zone),
        amount=Money(int(note.amount_minor), note.currency),
        reason=note.reason,
        settlement_label=settlement_label or note.settlement,
        lines=_credited_lines(note),
        vat=_credited_vat(note),
        net_total=Money(int(net), note.currency) if net is not None else None,
        tax_total=Money(int(tax), note.currency) if tax is not None else None,
    )


def _group_label(category: str, rate: Decimal) -> str:
    return f"VAT {plain_decimal(rate)} %" if category == "S" else VAT_LABELS[category]


def _note(reason: str | None, label: str) -> str | None:
    """The group's exemption note (BT-120) to print under its ``label``; ``None`` when it only
    repeats the label (category O's default note "Not subject to VAT" is its label too)."""
    if reason is None or reason.strip().casefold() == label.strip().casefold():
        return None
    return reason


def _vat_text(category: str, rate: Decimal) -> str:
    if category == "O":
        return "—"
    if category == "S":
        return f"{plain_decimal(rate)} %"
    return f"0 % {category}"


def vat_breakdown(invoice) -> tuple[DocumentVat, ...]:
    """The invoice's VAT breakdown (BG-23) as the printed invoice shows it: one row per VAT
    category and rate, with its name ("VAT 20 %"), taxable amount, VAT and note."""
    return _lines_of(invoice)[1]


def _lines_of(invoice):
    """The printed lines, VAT breakdown and totals: from the stored lines, their nets and
    :func:`~.lines.calculation_of` (en16931.compute); an invoice without line rows prints
    as one line without VAT."""
    currency = invoice.currency
    calculation = calculation_of(invoice)
    rows = list(invoice.lines) or None
    if rows is None:
        amount = Money(int(invoice.amount_minor), currency)
        lines = (DocumentLine(invoice.description or "—", "1", "", amount, None, "—", amount),)
    else:
        lines = tuple(
            DocumentLine(row.description, plain_decimal(row.quantity), row.unit or "",
                         Money(int(row.unit_price_minor), currency),
                         Money(int(row.discount_minor), currency) if row.discount_minor else None,
                         _vat_text(row.vat_category, row.vat_rate), Money(int(row.net_minor), currency))
            for row in rows)
    breakdown = tuple(
        DocumentVat(
            _group_label(group.category.value, group.rate),
            Money(group.taxable_amount_minor, currency), Money(group.tax_amount_minor, currency),
            _note(group.exemption_reason, _group_label(group.category.value, group.rate)))
        for group in calculation.breakdown)
    return lines, breakdown, calculation.totals


def _day(value: datetime | None, zone) -> date | None:
    """The calendar day of an instant in the workspace's ``zone``."""
    return local_day(value, zone) if value is not None else None


def pdf_filename(document) -> str:
    """A safe download name: ``invoice-INV-0001.pdf`` (``credit-note-CN-0001.pdf`` for a credit note)."""
    kind = "credit-note" if isinstance(document, CreditNoteDocument) else "invoice"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", document.number).strip("-.") or kind
    return f"{kind}-{slug}.pdf"


