"""Printable invoices: one plain description of the document, rendered as HTML or PDF.

:func:`build_document` turns an invoice into an :class:`InvoiceDocument` (plain
strings and dates, nothing to look up later); the web layer renders it with the
``invoicing/documents/invoice.html`` template, and :func:`render_pdf` draws it with
fpdf2.

Fonts: fpdf2's core fonts only know Latin-1, so the PDF embeds DejaVu Sans when the
system has it (Debian: ``fonts-dejavu-core``) and any character the font lacks
becomes ``?``. Without DejaVu it falls back to Helvetica and transliterates: accents
are dropped where that keeps the letter ("Zoë" -> "Zoe"), typographic quotes and
dashes become ASCII and anything else becomes ``?``. Either way nothing crashes.
Amounts are written with the ISO code ("EUR 1,250.50") so they read the same in
every font.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from babel.dates import format_date

from ..domain.balance import of_invoice
from ..domain.calendar import as_zone, local_day
from ..domain.country import postal_address_lines
from ..domain.invoice import InvoiceStatus, display_status, offers_online_payment
from ..domain.money import Money, format_decimal_amount, format_money
from ..domain.statuses import DOCUMENT_LABELS, TONES
from ..host import HostSellerDetails, HostWorkspace
from .lines import allowances_of, calculation_of
from .parties import document_seller
from .uow import UnitOfWork, wall_today

__all__ = ["Buyer", "CreditNoteDocument", "CreditNoteLine", "DocumentLine", "DocumentVat", "InvoiceDocument",
           "build_credit_note_document", "build_document", "code_amount", "vat_breakdown", "latin1_safe", "pdf_filename", "plain_decimal",
           "render_pdf"]

#: Status wording on the document, for staff and client alike (from the status table).
DOCUMENT_STATUS: Mapping[str, str] = DOCUMENT_LABELS

#: Where DejaVu Sans lives on common systems; the first that exists is embedded.
FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
)


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
    """A paid deposit deducted from the invoice (part of EN 16931 BT-113)."""

    reference: str  # the deposit invoice's number
    paid_on: date | None
    amount: Money


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
        """"Deposit INV-0003 paid 12 March 2026" (the date in the document's locale)."""
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
        """The status's tone (``ok``, ``danger``, ``info``, ``neutral``): the CSS modifier and PDF colour."""
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
                   seller: HostSellerDetails | None = None, credit_notes=()) -> InvoiceDocument:
    """Describe ``invoice`` for printing; ``pay_url`` is shown only while the pay link takes a card payment
    (:func:`~invoicing_plugin.domain.invoice.offers_online_payment`, the pay link's own rule).

    ``seller``: the workspace's seller details now (``services.seller.seller_details``);
    ``None`` prints the workspace's name alone. A sent invoice prints the seller as it was
    sent instead (:func:`.parties.document_seller`), whatever is passed.

    ``credit_notes``: the invoice's credit notes (objects with ``number``, ``amount_minor``,
    ``currency``, ``created_at``), listed under the totals, before the amount due.

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
    discounts = tuple(
        DocumentDiscount(f"Discount ({_group_label(a.vat.category.value, a.vat.rate)})", Money(a.amount_minor, currency))
        for a in allowances_of(invoice))
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
        lines_total=Money(totals.sum_of_line_net_minor, currency) if discounts else None,
        discounts=discounts,
        credit_notes=tuple(CreditNoteLine(note.number, Money(int(note.amount_minor), note.currency),
                                          _day(note.created_at, zone)) for note in credit_notes),
        prepayments=tuple(DocumentPrepayment(row.reference, row.paid_on, Money(int(row.amount_minor), row.currency))
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


def build_credit_note_document(note, invoice, workspace: HostWorkspace, *, seller: HostSellerDetails | None = None,
                               settlement_label: str = "") -> CreditNoteDocument:
    """Describe credit ``note`` (a ``CreditNote`` row) of ``invoice`` for printing."""
    zone = as_zone(getattr(workspace, "timezone", None))
    return CreditNoteDocument(
        invoice=build_document(invoice, workspace, seller=seller),
        number=note.number,
        issued_on=_day(note.created_at, zone),
        amount=Money(int(note.amount_minor), note.currency),
        reason=note.reason,
        settlement_label=settlement_label or note.settlement,
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


def code_amount(money: Money) -> str:
    """``EUR 1,250.50``, ``JPY 1,500``: the amount with its ISO code, any font can show it."""
    plain = format_decimal_amount(money)
    sign = "-" if plain.startswith("-") else ""
    whole, _, fraction = plain.lstrip("-").partition(".")
    grouped = f"{int(whole):,}"
    return f"{money.currency} {sign}{grouped}{'.' + fraction if fraction else ''}"


def pdf_filename(document) -> str:
    """A safe download name: ``invoice-INV-0001.pdf`` (``credit-note-CN-0001.pdf`` for a credit note)."""
    kind = "credit-note" if isinstance(document, CreditNoteDocument) else "invoice"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", document.number).strip("-.") or kind
    return f"{kind}-{slug}.pdf"


# --- PDF -----------------------------------------------------------------------------------

_ASCII_PUNCTUATION = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
        "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u00a0": " ", "\u202f": " ",
        "\u2022": "*", "\u20ac": "EUR",
        # Latin letters that have no decomposition to a Latin-1 base letter.
        "\u0141": "L", "\u0142": "l", "\u0110": "D", "\u0111": "d", "\u0152": "OE", "\u0153": "oe",
        "\u0131": "i", "\u0126": "H", "\u0127": "h", "\u0166": "T", "\u0167": "t",
    }
)


def latin1_safe(text: str) -> str:
    """``text`` with only Latin-1 characters, for fpdf2's core fonts; never raises."""
    text = unicodedata.normalize("NFC", text).translate(_ASCII_PUNCTUATION)
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        out.append(base if base and all(ord(c) < 256 for c in base) else "?")
    return "".join(out)


@lru_cache(maxsize=1)
def unicode_font_files() -> tuple[str, str] | None:
    """(regular, bold) DejaVu Sans files on this system, or ``None``."""
    for regular, bold in FONT_CANDIDATES:
        if os.path.isfile(regular) and os.path.isfile(bold):
            return regular, bold
    return None


def render_pdf(document, *, unicode_font: bool | None = None) -> bytes:
    """The invoice (an :class:`InvoiceDocument`) or credit note (a :class:`CreditNoteDocument`)
    as PDF bytes (A4). ``unicode_font=False`` forces the Latin-1 core font."""
    from fpdf import FPDF  # imported lazily: only PDF downloads need it

    fonts = unicode_font_files() if unicode_font is not False else None
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title(latin1_safe(document.title) if fonts is None else document.title)
    pdf.set_author(latin1_safe(document.issuer_name) if fonts is None else document.issuer_name)
    pdf.set_creator("invoicing_plugin")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 18, 18)
    if fonts:
        pdf.add_font("InvoiceSans", "", fonts[0])
        pdf.add_font("InvoiceSans", "B", fonts[1])
        family = "InvoiceSans"
    else:
        family = "helvetica"
    pdf.add_page()
    pen = _Pen(pdf, family, unicode=bool(fonts))
    _draw(pen, document)
    return bytes(pdf.output())


class _Pen:
    """fpdf2 with the font choice and text cleaning applied in one place."""

    INK = (17, 24, 39)
    MUTED = (91, 100, 114)
    RULE = (217, 221, 227)
    ACCENT = (48, 86, 211)

    def __init__(self, pdf, family: str, *, unicode: bool) -> None:
        self.pdf = pdf
        self.family = family
        self.unicode = unicode

    def clean(self, text: str) -> str:
        if not self.unicode:
            return latin1_safe(text)
        cmap = self.pdf.current_font.cmap
        return "".join(ch if ord(ch) in cmap or ch in "\n\t" else "?" for ch in unicodedata.normalize("NFC", text))

    def font(self, size: float, bold: bool = False, color=INK) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)
        self.pdf.set_text_color(*color)

    def text(self, text: str, *, width: float = 0, height: float = 6, align: str = "L", link: str = "",
             ln: bool = True) -> None:
        from fpdf.enums import XPos, YPos

        self.pdf.cell(
            width, height, self.clean(text), align=align, link=link,
            new_x=XPos.LMARGIN if ln else XPos.RIGHT, new_y=YPos.NEXT if ln else YPos.TOP,
        )

    def paragraph(self, text: str, *, width: float = 0, height: float = 5.5) -> None:
        from fpdf.enums import XPos, YPos

        self.pdf.multi_cell(width, height, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def rule(self, gap: float = 4) -> None:
        pdf = self.pdf
        pdf.ln(gap / 2)
        pdf.set_draw_color(*self.RULE)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.ln(gap / 2)


def _draw_header(pen: _Pen, doc, heading: str) -> None:
    """Who issues the document (the seller's details) and what it is, with its number."""
    pdf = pen.pdf
    full = pdf.w - pdf.l_margin - pdf.r_margin
    top = pdf.get_y()
    pen.font(18, bold=True)
    pdf.multi_cell(full * 0.6, 8, pen.clean(doc.issuer_name))
    pen.font(9, color=_Pen.MUTED)
    for label, value in doc.seller_lines:
        pdf.multi_cell(full * 0.6, 4.5, pen.clean(f"{label}: {value}" if label else value))
    pdf.set_xy(pdf.l_margin + full * 0.6, top)
    pen.font(20, bold=True, color=_Pen.ACCENT)
    pen.text(heading, width=full * 0.4, height=8, align="R")
    pdf.set_x(pdf.l_margin + full * 0.6)
    pen.font(11, color=_Pen.MUTED)
    pen.text(doc.number, width=full * 0.4, align="R")
    pdf.set_y(max(pdf.get_y(), top + 18))
    pen.rule(6)


def _draw_footer(pen: _Pen, doc) -> None:
    if doc.seller is not None and doc.seller.footer:
        pen.pdf.ln(4)
        pen.rule(2)
        pen.font(9, color=_Pen.MUTED)
        pen.paragraph(doc.seller.footer, height=4.5)


def _draw_credit_note(pen: _Pen, doc: "CreditNoteDocument") -> None:
    pdf = pen.pdf
    full = pdf.w - pdf.l_margin - pdf.r_margin
    _draw_header(pen, doc, "CREDIT NOTE")
    pen.font(9, bold=True, color=_Pen.MUTED)
    pen.text("CREDIT TO", height=5)
    pen.font(11, bold=True)
    pdf.multi_cell(full, 6, pen.clean(doc.client_name))
    pen.font(10, color=_Pen.MUTED)
    pdf.multi_cell(full, 5, pen.clean(doc.client_email))
    pdf.ln(3)
    for label, value in (("Credit note number", doc.number), ("Issued", doc.date_text(doc.issued_on)),
                         ("Corrects invoice", doc.invoice_number),
                         ("Invoice issued", doc.date_text(doc.invoice_issued_on)),
                         ("Settlement", doc.settlement_label)):
        pen.font(10, color=_Pen.MUTED)
        pen.text(label, width=full * 0.35, height=6, ln=False)
        pen.font(10)
        pen.text(value, width=full * 0.65, height=6)
    pen.rule(4)
    pen.font(9, bold=True, color=_Pen.MUTED)
    pen.text("REASON")
    pen.font(11)
    pen.paragraph(doc.reason or "—")
    pen.rule(4)
    for label, value, bold in (("Invoice total", code_amount(doc.invoice_total), False),
                               ("Credited", code_amount(doc.amount), True)):
        pdf.set_x(pdf.l_margin + full * 0.4)
        pen.font(12, bold=bold, color=_Pen.INK if bold else _Pen.MUTED)
        pen.text(label, width=full * 0.3, height=7, ln=False)
        pen.text(value, width=full * 0.3, height=7, align="R")
    _draw_footer(pen, doc)


def _draw(pen: _Pen, doc) -> None:
    if isinstance(doc, CreditNoteDocument):
        _draw_credit_note(pen, doc)
        return
    pdf = pen.pdf
    full = pdf.w - pdf.l_margin - pdf.r_margin

    # Header: who issues it, and what it is.
    _draw_header(pen, doc, "DRAFT INVOICE" if doc.is_draft else "INVOICE")

    # Bill to / key dates side by side.
    block_top = pdf.get_y()
    pen.font(9, bold=True, color=_Pen.MUTED)
    pen.text("BILL TO", height=5)
    pen.font(11, bold=True)
    pdf.multi_cell(full * 0.5, 6, pen.clean(doc.buyer_name))
    pen.font(10, color=_Pen.MUTED)
    for label, value in doc.buyer_lines:
        pdf.multi_cell(full * 0.5, 5, pen.clean(f"{label}: {value}" if label else value))
    pdf.multi_cell(full * 0.5, 5, pen.clean(doc.client_email))
    left_bottom = pdf.get_y()

    rows = [("Invoice number", doc.number), ("Issued", doc.date_text(doc.issued_on))]
    if doc.supply_text:
        rows.append((doc.supply_label, doc.supply_text))
    rows.append(("Due", doc.date_text(doc.due_on)))
    if doc.paid_on:
        rows.append(("Paid", doc.date_text(doc.paid_on)))
    rows.append(("Status", doc.status_label))
    pdf.set_y(block_top)
    for label, value in rows:
        pdf.set_x(pdf.l_margin + full * 0.5)
        pen.font(10, color=_Pen.MUTED)
        pen.text(label, width=full * 0.2, height=6, ln=False)
        bold = label == "Status"
        pen.font(10, bold=bold, color=_status_color(doc) if bold else _Pen.INK)
        pen.text(value, width=full * 0.3, height=6, align="R")
    pdf.set_y(max(left_bottom, pdf.get_y()) + 6)

    # What the invoice is for, then its lines (BG-25).
    if doc.subject_title:
        pen.font(10, color=_Pen.MUTED)
        pen.paragraph(f"For: {doc.subject_title}")
        pdf.ln(2)
    if doc.summary:
        pen.font(10.5)
        pen.paragraph(doc.summary)
        pdf.ln(2)
    # Widths hold "EUR 150,000.00" and "1,000.5 hours" at 8.5 pt on A4.
    columns = ((0.30, "DESCRIPTION", "L"), (0.12, "QTY", "R"), (0.16, "UNIT PRICE", "R"), (0.14, "DISCOUNT", "R"),
               (0.08, "VAT", "R"), (0.20, "NET", "R"))
    pen.font(7.5, bold=True, color=_Pen.MUTED)
    for index, (share, label, align) in enumerate(columns):
        pen.text(label, width=full * share, height=6, align=align, ln=index == len(columns) - 1)
    pen.rule(2)
    for line in doc.lines:
        line_top = pdf.get_y()
        pen.font(8.5)
        pdf.multi_cell(full * columns[0][0], 5, pen.clean(line.description or "—"))
        after_description = pdf.get_y()
        pdf.set_xy(pdf.l_margin + full * columns[0][0], line_top)
        quantity = f"{line.quantity} {line.unit}".strip()
        cells = (quantity, code_amount(line.unit_price), code_amount(line.discount) if line.discount else "—",
                 line.vat, code_amount(line.net))
        for index, ((share, _, align), value) in enumerate(zip(columns[1:], cells)):
            pen.text(value, width=full * share, height=5, align=align, ln=index == len(cells) - 1)
        pdf.set_y(max(after_description, pdf.get_y()) + 1)
    if doc.prices_include_tax:
        pen.font(8.5, color=_Pen.MUTED)
        pen.text("Unit prices and discounts include VAT; net amounts are without VAT.", height=5)
    pen.rule(4)

    def total_row(label: str, value: str, *, bold: bool = False, size: float = 11) -> None:
        pdf.set_x(pdf.l_margin + full * 0.4)
        pen.font(size, bold=bold, color=_Pen.INK if bold else _Pen.MUTED)
        pen.text(label, width=full * 0.3, height=7, ln=False)
        pen.font(size, bold=bold)
        pen.text(value, width=full * 0.3, height=7, align="R")

    # The VAT breakdown (BG-23): per category and rate, with the exemption / reverse-charge note.
    pen.font(9, bold=True, color=_Pen.MUTED)
    pen.text("VAT BREAKDOWN", height=6)
    for group in doc.vat_breakdown:
        pen.font(9.5)
        pen.text(group.label, width=full * 0.4, height=5, ln=False)
        pen.text(f"on {code_amount(group.taxable)}", width=full * 0.3, height=5, align="R", ln=False)
        pen.text(code_amount(group.tax), width=full * 0.3, height=5, align="R")
        if group.note:
            pen.font(8.5, color=_Pen.MUTED)
            pen.paragraph(group.note, height=4.5)
    pen.rule(4)

    if doc.discounts:
        total_row("Sum of lines", code_amount(doc.lines_total))
        for discount in doc.discounts:
            total_row(discount.label, "-" + code_amount(discount.amount))
    if doc.net_total is not None:
        total_row("Total without VAT", code_amount(doc.net_total))
        total_row("VAT", code_amount(doc.tax_total))
    total_row("Total", code_amount(doc.amount), bold=True, size=13)
    for prepayment in doc.prepayments:
        total_row(doc.prepayment_label(prepayment), "-" + code_amount(prepayment.amount))  # core fonts: no U+2212
    if doc.amount_paid is not None:
        total_row("Paid", code_amount(doc.amount_paid))
    if doc.amount_refunded is not None:
        total_row("Refunded", code_amount(doc.amount_refunded))
    for note in doc.credit_notes:
        total_row(f"Credit note {note.number}", "-" + code_amount(note.amount))
    if doc.amount_due is not None:
        total_row("Amount due", code_amount(doc.amount_due))
    if doc.overpaid is not None:
        total_row("Overpaid (client's credit)", code_amount(doc.overpaid))
    pdf.ln(6)

    if doc.payment_terms:
        pen.font(10, bold=True)
        pen.text("Payment terms", height=5)
        pen.font(10, color=_Pen.MUTED)
        pen.paragraph(doc.payment_terms, height=5)
        pdf.ln(3)

    if doc.pay_url:
        pen.font(11, bold=True)
        pen.text("Pay online")
        pen.font(10, color=_Pen.ACCENT)
        pen.paragraph(doc.pay_url)
        pdf.link(pdf.l_margin, pdf.get_y() - 5.5, full, 5.5, doc.pay_url)
        pen.font(9, color=_Pen.MUTED)
        pen.paragraph("Open the link to pay securely by card with Stripe.")
    elif doc.status == "paid" and doc.paid_on:
        pen.font(11, bold=True, color=(6, 118, 71))
        pen.text(f"Paid on {doc.date_text(doc.paid_on)}. Thank you.")

    _draw_footer(pen, doc)


def _status_color(doc: InvoiceDocument) -> tuple[int, int, int]:
    return _TONE_COLORS.get(doc.tone, _Pen.ACCENT)


#: The status line's colour in the PDF, by tone (any other tone: the accent colour).
_TONE_COLORS: Mapping[str, tuple[int, int, int]] = {"ok": (6, 118, 71), "danger": (180, 35, 24)}
