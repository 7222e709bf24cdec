"""An invoice or credit note as an EN 16931 e-invoice, and its two XML syntaxes (issue 16).

Pure: the standard library and the domain only. :class:`EInvoice` holds the business
terms (BT) and groups (BG) of EN 16931-1 that the plugin knows; the service layer
(:mod:`invoicing_plugin.services.einvoice`) fills it from a stored invoice or credit
note. Two serialisations of the same terms:

* :func:`cii_xml` -- UN/CEFACT Cross Industry Invoice (CII D16B) as Factur-X / ZUGFeRD
  profile **EN 16931** (guideline ``urn:cen.eu:en16931:2017``), embedded in the PDF;
* :func:`ubl_xml` -- OASIS UBL 2.1 ``Invoice`` (type code 380) or ``CreditNote`` (381)
  as Peppol BIS Billing 3.0 names it (customization
  ``urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0``).

Amounts are written from integer minor units with the currency's decimals from the
project's currency table (:func:`amount_text`: ``12345`` GBP -> ``"123.45"``, ``1500``
JPY -> ``"1500"``), never through a float. Quantities, prices and rates are
:class:`~decimal.Decimal` written without exponent.

What the terms carry, and what is left out, is listed in ``docs/einvoices.md``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal

from .en16931 import DocumentAllowance, DocumentTotals, VatBreakdown, VatCategory, VatRate
from .money import get_currency

__all__ = [
    "CII_GUIDELINE", "CREDIT_NOTE", "INVOICE", "PEPPOL_CUSTOMIZATION", "PEPPOL_PROFILE", "EInvoice",
    "EInvoiceLine", "Party", "PrecedingInvoice", "amount_text", "cii_xml", "decimal_text", "price_text", "ubl_xml",
    "unit_code",
]

INVOICE = "380"  # UNTDID 1001: commercial invoice (BT-3)
CREDIT_NOTE = "381"  # UNTDID 1001: credit note (BT-3)
CII_GUIDELINE = "urn:cen.eu:en16931:2017"  # BT-24, Factur-X profile EN 16931
PEPPOL_CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"  # BT-23

#: VAT exemption reason codes (BT-121, the CEF VATEX list) for the categories whose code
#: does not depend on the law invoked: reverse charge and "not subject to VAT".
VATEX: dict[VatCategory, str] = {VatCategory.REVERSE_CHARGE: "VATEX-EU-AE", VatCategory.NOT_SUBJECT: "VATEX-EU-O"}

#: BT-130 from the free-text unit staff type (lower-cased, trailing "s" dropped): UN/ECE
#: Recommendation 20 (with 21's C62 "one"). Anything else is C62 "one" (the unit stays in
#: the item's name, see :func:`unit_code`).
UNIT_CODES: dict[str, str] = {
    "": "C62", "unit": "C62", "piece": "H87", "pc": "H87", "pcs": "H87", "item": "C62", "each": "C62", "ea": "C62",
    "hour": "HUR", "hr": "HUR", "h": "HUR", "minute": "MIN", "min": "MIN", "second": "SEC",
    "day": "DAY", "week": "WEE", "month": "MON", "year": "ANN", "kg": "KGM", "kilogram": "KGM",
    "g": "GRM", "gram": "GRM", "tonne": "TNE", "t": "TNE", "km": "KMT", "kilometre": "KMT", "kilometer": "KMT",
    "m": "MTR", "metre": "MTR", "meter": "MTR", "l": "LTR", "litre": "LTR", "liter": "LTR",
    "m2": "MTK", "m3": "MTQ", "kwh": "KWH", "set": "SET", "page": "C62", "word": "C62",
}

_PLAIN = Context(prec=60, rounding=ROUND_HALF_UP)


def unit_code(unit: str) -> str:
    """BT-130 for a typed unit: ``"hours"`` -> ``"HUR"``, ``"day"`` -> ``"DAY"``, ``""`` -> ``"C62"``."""
    key = (unit or "").strip().lower().rstrip(".")
    if key in UNIT_CODES:
        return UNIT_CODES[key]
    if key.endswith("s") and key[:-1] in UNIT_CODES:
        return UNIT_CODES[key[:-1]]
    return "C62"


def amount_text(minor: int, currency: str) -> str:
    """``minor`` (an ``int`` of Stripe minor units) as the decimal text of an amount, with
    the currency's decimals: ``12345`` GBP -> ``"123.45"``, ``-500`` EUR -> ``"-5.00"``,
    ``1500`` JPY -> ``"1500"``, ``150000`` ISK (exponent 2, no decimals) -> ``"1500"``.
    Anything but an ``int`` raises ``TypeError``; an amount finer than the currency's unit
    ``ValueError`` (it cannot be an amount on an invoice)."""
    if type(minor) is not int:
        raise TypeError(f"amount must be an int of minor units, not {type(minor).__name__}")
    spec = get_currency(currency)
    per_unit = 10 ** (spec.stripe_exponent - spec.decimals)
    if minor % per_unit:
        raise ValueError(f"{minor} minor units of {spec.code} is finer than the currency's unit")
    units = minor // per_unit
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), 10 ** spec.decimals)
    return f"{sign}{whole}.{fraction:0{spec.decimals}d}" if spec.decimals else f"{sign}{whole}"


def decimal_text(value: Decimal) -> str:
    """A quantity, price or rate without exponent or trailing zeros: ``Decimal("1.50")`` -> ``"1.5"``."""
    if not isinstance(value, Decimal):
        raise TypeError(f"expected a Decimal, not {type(value).__name__}")
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def price_text(value: Decimal, currency: str) -> str:
    """A net price (BT-146) with at least the currency's decimals and no trailing zeros
    beyond them: ``Decimal("400")`` GBP -> ``"400.00"``, ``Decimal("12.345600")`` -> ``"12.3456"``."""
    if not isinstance(value, Decimal):
        raise TypeError(f"expected a Decimal, not {type(value).__name__}")
    places = get_currency(currency).decimals
    exponent = value.normalize(_PLAIN).as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        places = -exponent
    return format(value.quantize(Decimal(1).scaleb(-places), context=_PLAIN), "f")


@dataclass(frozen=True)
class Party:
    """The seller (BG-4) or the buyer (BG-7).

    ``name`` BT-27/BT-44 (legal name), ``trading_name`` BT-28/BT-45, ``registration_id``
    BT-30/BT-47, ``vat_id`` BT-31/BT-48 (with its country prefix), the postal address
    BG-5/BG-8 (``address_line1`` BT-35/BT-50, ``address_line2`` BT-36/BT-51, ``city``
    BT-37/BT-52, ``post_code`` BT-38/BT-53, ``country`` BT-40/BT-55, ISO 3166-1 alpha-2),
    the contact BG-6/BG-9 (``contact_name``, ``contact_phone``, ``contact_email``)."""

    name: str
    trading_name: str | None = None
    registration_id: str | None = None
    vat_id: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    post_code: str | None = None
    country: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None

    @property
    def has_address(self) -> bool:
        return any((self.address_line1, self.address_line2, self.city, self.post_code, self.country))


@dataclass(frozen=True)
class EInvoiceLine:
    """One line (BG-25): ``line_id`` BT-126, ``name`` BT-153, ``quantity`` BT-129, ``unit_code``
    BT-130, ``net_price`` BT-146 (major units, Decimal), ``vat`` BT-151/BT-152, ``net_minor``
    BT-131, ``allowance_minor`` BT-136 (0: none), ``note`` BT-127."""

    line_id: str
    name: str
    quantity: Decimal
    unit_code: str
    net_price: Decimal
    vat: VatRate
    net_minor: int
    allowance_minor: int = 0
    note: str | None = None


@dataclass(frozen=True)
class PrecedingInvoice:
    """BG-3: the invoice a credit note corrects, BT-25 ``number`` and BT-26 ``issue_date``."""

    number: str
    issue_date: date | None


@dataclass(frozen=True)
class EInvoice:
    """An invoice (type code 380) or credit note (381) in EN 16931 terms.

    ``number`` BT-1, ``issue_date`` BT-2, ``type_code`` BT-3, ``currency`` BT-5,
    ``due_date`` BT-9, ``payment_terms`` BT-20, ``notes`` BT-22, ``preceding`` BG-3,
    ``seller`` BG-4, ``buyer`` BG-7, ``supply_date`` BT-72, ``supply_start``/``supply_end``
    BT-73/BT-74, ``lines`` BG-25, ``allowances`` BG-20, ``breakdown`` BG-23 and ``totals``
    BG-22 (all amounts in minor units of ``currency``)."""

    type_code: str
    number: str
    issue_date: date
    currency: str
    seller: Party
    buyer: Party
    lines: tuple[EInvoiceLine, ...]
    breakdown: tuple[VatBreakdown, ...]
    totals: DocumentTotals
    allowances: tuple[DocumentAllowance, ...] = ()
    due_date: date | None = None
    payment_terms: str | None = None
    notes: tuple[str, ...] = ()
    preceding: PrecedingInvoice | None = None
    supply_date: date | None = None
    supply_start: date | None = None
    supply_end: date | None = None

    def __post_init__(self) -> None:
        if self.type_code not in (INVOICE, CREDIT_NOTE):
            raise ValueError(f"type code {self.type_code!r} is neither 380 (invoice) nor 381 (credit note)")
        if not self.lines:
            raise ValueError("an e-invoice has at least one line (BR-16)")

    @property
    def is_credit_note(self) -> bool:
        return self.type_code == CREDIT_NOTE

    def amount(self, minor: int) -> str:
        return amount_text(minor, self.currency)


# --- CII (Factur-X EN 16931) ----------------------------------------------------------------

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

_CII_PREFIXES = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
_UBL_PREFIXES = {"cac": CAC, "cbc": CBC}

# XML 1.0 cannot carry most C0 controls even escaped; the plugin refuses them on input,
# this keeps a stray one from making the whole document unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _sub(parent: ET.Element, ns: str, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ns}}}{tag}", attrib)
    if text is not None:
        element.text = _text(text)
    return element


def _serialise(root: ET.Element, prefixes: dict[str, str]) -> bytes:
    """UTF-8 XML with a declaration and the usual prefixes (declared on the root)."""
    for prefix, uri in prefixes.items():
        ET.register_namespace(prefix, uri)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _cii_date(parent: ET.Element, tag: str, value: date, ns: str = UDT) -> None:
    holder = _sub(parent, RAM, tag)
    _sub(holder, ns, "DateTimeString", value.strftime("%Y%m%d"), format="102")


def _cii_tax(parent: ET.Element, vat: VatRate | VatBreakdown, *, tag: str = "ApplicableTradeTax",
             breakdown: VatBreakdown | None = None, currency: str = "") -> None:
    """A ram:TradeTaxType: a line's (BT-151/152), a breakdown's (BG-23) or an allowance's (BT-95/96)."""
    tax = _sub(parent, RAM, tag)
    category = VatCategory(vat.category)
    if breakdown is not None:
        _sub(tax, RAM, "CalculatedAmount", amount_text(breakdown.tax_amount_minor, currency))  # BT-117
    _sub(tax, RAM, "TypeCode", "VAT")
    if breakdown is not None and breakdown.exemption_reason:
        _sub(tax, RAM, "ExemptionReason", breakdown.exemption_reason)  # BT-120
    if breakdown is not None:
        _sub(tax, RAM, "BasisAmount", amount_text(breakdown.taxable_amount_minor, currency))  # BT-116
    _sub(tax, RAM, "CategoryCode", category.value)  # BT-118 / BT-151 / BT-95
    if breakdown is not None and category in VATEX:
        _sub(tax, RAM, "ExemptionReasonCode", VATEX[category])  # BT-121
    if category is not VatCategory.NOT_SUBJECT:  # BR-O-05 and friends: O carries no rate
        _sub(tax, RAM, "RateApplicablePercent", decimal_text(vat.rate))  # BT-119 / BT-152 / BT-96


def _cii_party(parent: ET.Element, tag: str, party: Party) -> None:
    node = _sub(parent, RAM, tag)
    _sub(node, RAM, "Name", party.name)  # BT-27 / BT-44
    if party.registration_id or party.trading_name:
        legal = _sub(node, RAM, "SpecifiedLegalOrganization")
        if party.registration_id:
            _sub(legal, RAM, "ID", party.registration_id)  # BT-30 / BT-47
        if party.trading_name:
            _sub(legal, RAM, "TradingBusinessName", party.trading_name)  # BT-28 / BT-45
    if party.contact_name or party.contact_phone or party.contact_email:
        contact = _sub(node, RAM, "DefinedTradeContact")
        if party.contact_name:
            _sub(contact, RAM, "PersonName", party.contact_name)
        if party.contact_phone:
            _sub(_sub(contact, RAM, "TelephoneUniversalCommunication"), RAM, "CompleteNumber", party.contact_phone)
        if party.contact_email:
            _sub(_sub(contact, RAM, "EmailURIUniversalCommunication"), RAM, "URIID", party.contact_email)
    if party.has_address:
        address = _sub(node, RAM, "PostalTradeAddress")
        for tag_, value in (("PostcodeCode", party.post_code), ("LineOne", party.address_line1),
                            ("LineTwo", party.address_line2), ("CityName", party.city),
                            ("CountryID", party.country)):
            if value:
                _sub(address, RAM, tag_, value)
    if party.vat_id:
        registration = _sub(node, RAM, "SpecifiedTaxRegistration")
        _sub(registration, RAM, "ID", party.vat_id, schemeID="VA")  # BT-31 / BT-48


def cii_xml(doc: EInvoice) -> bytes:
    """``doc`` as a Factur-X EN 16931 CII document (UTF-8 bytes), the order the XSD asks."""
    cur = doc.currency
    root = ET.Element(f"{{{RSM}}}CrossIndustryInvoice")
    context = _sub(root, RSM, "ExchangedDocumentContext")
    _sub(_sub(context, RAM, "GuidelineSpecifiedDocumentContextParameter"), RAM, "ID", CII_GUIDELINE)
    header = _sub(root, RSM, "ExchangedDocument")
    _sub(header, RAM, "ID", doc.number)  # BT-1
    _sub(header, RAM, "TypeCode", doc.type_code)  # BT-3
    _cii_date(header, "IssueDateTime", doc.issue_date)  # BT-2
    for note in doc.notes:
        _sub(_sub(header, RAM, "IncludedNote"), RAM, "Content", note)  # BT-22
    transaction = _sub(root, RSM, "SupplyChainTradeTransaction")
    for line in doc.lines:
        item = _sub(transaction, RAM, "IncludedSupplyChainTradeLineItem")
        line_doc = _sub(item, RAM, "AssociatedDocumentLineDocument")
        _sub(line_doc, RAM, "LineID", line.line_id)  # BT-126
        if line.note:
            _sub(_sub(line_doc, RAM, "IncludedNote"), RAM, "Content", line.note)  # BT-127
        _sub(_sub(item, RAM, "SpecifiedTradeProduct"), RAM, "Name", line.name)  # BT-153
        agreement = _sub(item, RAM, "SpecifiedLineTradeAgreement")
        price = _sub(agreement, RAM, "NetPriceProductTradePrice")
        _sub(price, RAM, "ChargeAmount", price_text(line.net_price, cur))  # BT-146
        delivery = _sub(item, RAM, "SpecifiedLineTradeDelivery")
        _sub(delivery, RAM, "BilledQuantity", decimal_text(line.quantity), unitCode=line.unit_code)  # BT-129/130
        settlement = _sub(item, RAM, "SpecifiedLineTradeSettlement")
        _cii_tax(settlement, line.vat)  # BT-151 / BT-152
        if line.allowance_minor:
            allowance = _sub(settlement, RAM, "SpecifiedTradeAllowanceCharge")  # BG-27
            _sub(_sub(allowance, RAM, "ChargeIndicator"), UDT, "Indicator", "false")
            _sub(allowance, RAM, "ActualAmount", amount_text(line.allowance_minor, cur))  # BT-136
            _sub(allowance, RAM, "Reason", "Discount")  # BT-139
        summation = _sub(settlement, RAM, "SpecifiedTradeSettlementLineMonetarySummation")
        _sub(summation, RAM, "LineTotalAmount", amount_text(line.net_minor, cur))  # BT-131
    agreement = _sub(transaction, RAM, "ApplicableHeaderTradeAgreement")
    _cii_party(agreement, "SellerTradeParty", doc.seller)
    _cii_party(agreement, "BuyerTradeParty", doc.buyer)
    delivery = _sub(transaction, RAM, "ApplicableHeaderTradeDelivery")
    if doc.supply_date is not None:
        event = _sub(delivery, RAM, "ActualDeliverySupplyChainEvent")
        _cii_date(event, "OccurrenceDateTime", doc.supply_date)  # BT-72
    settlement = _sub(transaction, RAM, "ApplicableHeaderTradeSettlement")
    _sub(settlement, RAM, "InvoiceCurrencyCode", cur)  # BT-5
    for group in doc.breakdown:
        _cii_tax(settlement, group, breakdown=group, currency=cur)  # BG-23
    if doc.supply_start is not None and doc.supply_end is not None:
        period = _sub(settlement, RAM, "BillingSpecifiedPeriod")
        _cii_date(period, "StartDateTime", doc.supply_start)  # BT-73
        _cii_date(period, "EndDateTime", doc.supply_end)  # BT-74
    for allowance in doc.allowances:  # BG-20
        node = _sub(settlement, RAM, "SpecifiedTradeAllowanceCharge")
        _sub(_sub(node, RAM, "ChargeIndicator"), UDT, "Indicator", "false")
        _sub(node, RAM, "ActualAmount", amount_text(allowance.amount_minor, cur))  # BT-92
        _sub(node, RAM, "Reason", allowance.reason or "Discount")  # BT-97
        _cii_tax(node, allowance.vat, tag="CategoryTradeTax")  # BT-95 / BT-96
    if doc.payment_terms or doc.due_date is not None:
        terms = _sub(settlement, RAM, "SpecifiedTradePaymentTerms")
        if doc.payment_terms:
            _sub(terms, RAM, "Description", doc.payment_terms)  # BT-20
        if doc.due_date is not None:
            _cii_date(terms, "DueDateDateTime", doc.due_date)  # BT-9
    totals = doc.totals
    summation = _sub(settlement, RAM, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(summation, RAM, "LineTotalAmount", doc.amount(totals.sum_of_line_net_minor))  # BT-106
    if doc.allowances:
        _sub(summation, RAM, "AllowanceTotalAmount", doc.amount(totals.allowances_minor))  # BT-107
    _sub(summation, RAM, "TaxBasisTotalAmount", doc.amount(totals.total_without_vat_minor))  # BT-109
    _sub(summation, RAM, "TaxTotalAmount", doc.amount(totals.total_vat_minor), currencyID=cur)  # BT-110
    _sub(summation, RAM, "GrandTotalAmount", doc.amount(totals.total_with_vat_minor))  # BT-112
    _sub(summation, RAM, "TotalPrepaidAmount", doc.amount(totals.paid_minor))  # BT-113
    _sub(summation, RAM, "DuePayableAmount", doc.amount(totals.amount_due_minor))  # BT-115
    if doc.preceding is not None:
        reference = _sub(settlement, RAM, "InvoiceReferencedDocument")  # BG-3
        _sub(reference, RAM, "IssuerAssignedID", doc.preceding.number)  # BT-25
        if doc.preceding.issue_date is not None:
            _cii_date(reference, "FormattedIssueDateTime", doc.preceding.issue_date, ns=QDT)  # BT-26
    return _serialise(root, _CII_PREFIXES)


# --- UBL 2.1 (Peppol BIS Billing 3) -----------------------------------------------------------


def _ubl_tax_category(parent: ET.Element, tag: str, vat: VatRate | VatBreakdown, *, with_reason: bool) -> None:
    category = VatCategory(vat.category)
    node = _sub(parent, CAC, tag)
    _sub(node, CBC, "ID", category.value)
    if category is not VatCategory.NOT_SUBJECT:
        _sub(node, CBC, "Percent", decimal_text(vat.rate))
    if with_reason and category in VATEX:
        _sub(node, CBC, "TaxExemptionReasonCode", VATEX[category])  # BT-121
    if with_reason and vat.exemption_reason:
        _sub(node, CBC, "TaxExemptionReason", vat.exemption_reason)  # BT-120
    _sub(_sub(node, CAC, "TaxScheme"), CBC, "ID", "VAT")


def _ubl_party(parent: ET.Element, tag: str, party: Party) -> None:
    node = _sub(_sub(parent, CAC, tag), CAC, "Party")
    if party.trading_name:
        _sub(_sub(node, CAC, "PartyName"), CBC, "Name", party.trading_name)  # BT-28 / BT-45
    address = _sub(node, CAC, "PostalAddress")  # BG-5 / BG-8 (mandatory in UBL's party)
    for tag_, value in (("StreetName", party.address_line1), ("AdditionalStreetName", party.address_line2),
                        ("CityName", party.city), ("PostalZone", party.post_code)):
        if value:
            _sub(address, CBC, tag_, value)
    if party.country:
        _sub(_sub(address, CAC, "Country"), CBC, "IdentificationCode", party.country)  # BT-40 / BT-55
    if party.vat_id:
        scheme = _sub(node, CAC, "PartyTaxScheme")
        _sub(scheme, CBC, "CompanyID", party.vat_id)  # BT-31 / BT-48
        _sub(_sub(scheme, CAC, "TaxScheme"), CBC, "ID", "VAT")
    legal = _sub(node, CAC, "PartyLegalEntity")
    _sub(legal, CBC, "RegistrationName", party.name)  # BT-27 / BT-44
    if party.registration_id:
        _sub(legal, CBC, "CompanyID", party.registration_id)  # BT-30 / BT-47
    if party.contact_name or party.contact_phone or party.contact_email:
        contact = _sub(node, CAC, "Contact")  # BG-6 / BG-9
        for tag_, value in (("Name", party.contact_name), ("Telephone", party.contact_phone),
                            ("ElectronicMail", party.contact_email)):
            if value:
                _sub(contact, CBC, tag_, value)


def ubl_xml(doc: EInvoice) -> bytes:
    """``doc`` as a UBL 2.1 ``Invoice`` or ``CreditNote`` (UTF-8 bytes), Peppol BIS 3 flavour,
    the element order the UBL 2.1 XSD asks."""
    cur = doc.currency
    credit = doc.is_credit_note
    root_ns = UBL_CREDIT_NOTE if credit else UBL_INVOICE
    # UBL documents name their own namespace as the default one (``<Invoice xmlns="...">``);
    # ElementTree cannot declare a default namespace beside unqualified attributes
    # (``currencyID``), so the root is written with its namespace as a plain attribute.
    root = ET.Element("CreditNote" if credit else "Invoice", {"xmlns": root_ns})
    _sub(root, CBC, "CustomizationID", PEPPOL_CUSTOMIZATION)  # BT-24
    _sub(root, CBC, "ProfileID", PEPPOL_PROFILE)  # BT-23
    _sub(root, CBC, "ID", doc.number)  # BT-1
    _sub(root, CBC, "IssueDate", doc.issue_date.isoformat())  # BT-2
    if not credit and doc.due_date is not None:
        _sub(root, CBC, "DueDate", doc.due_date.isoformat())  # BT-9
    _sub(root, CBC, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", doc.type_code)  # BT-3
    for note in doc.notes:
        _sub(root, CBC, "Note", note)  # BT-22
    _sub(root, CBC, "DocumentCurrencyCode", cur)  # BT-5
    if doc.supply_start is not None and doc.supply_end is not None:
        period = _sub(root, CAC, "InvoicePeriod")
        _sub(period, CBC, "StartDate", doc.supply_start.isoformat())  # BT-73
        _sub(period, CBC, "EndDate", doc.supply_end.isoformat())  # BT-74
    if doc.preceding is not None:
        reference = _sub(_sub(root, CAC, "BillingReference"), CAC, "InvoiceDocumentReference")  # BG-3
        _sub(reference, CBC, "ID", doc.preceding.number)  # BT-25
        if doc.preceding.issue_date is not None:
            _sub(reference, CBC, "IssueDate", doc.preceding.issue_date.isoformat())  # BT-26
    _ubl_party(root, "AccountingSupplierParty", doc.seller)
    _ubl_party(root, "AccountingCustomerParty", doc.buyer)
    if doc.supply_date is not None:
        _sub(_sub(root, CAC, "Delivery"), CBC, "ActualDeliveryDate", doc.supply_date.isoformat())  # BT-72
    if credit and doc.due_date is not None:
        means = _sub(root, CAC, "PaymentMeans")
        _sub(means, CBC, "PaymentMeansCode", "1")  # "instrument not defined": the pay link decides
        _sub(means, CBC, "PaymentDueDate", doc.due_date.isoformat())  # BT-9 on a credit note
    if doc.payment_terms:
        _sub(_sub(root, CAC, "PaymentTerms"), CBC, "Note", doc.payment_terms)  # BT-20
    for allowance in doc.allowances:  # BG-20
        node = _sub(root, CAC, "AllowanceCharge")
        _sub(node, CBC, "ChargeIndicator", "false")
        _sub(node, CBC, "AllowanceChargeReason", allowance.reason or "Discount")  # BT-97
        _sub(node, CBC, "Amount", amount_text(allowance.amount_minor, cur), currencyID=cur)  # BT-92
        _ubl_tax_category(node, "TaxCategory", allowance.vat, with_reason=False)  # BT-95 / BT-96
    totals = doc.totals
    tax_total = _sub(root, CAC, "TaxTotal")
    _sub(tax_total, CBC, "TaxAmount", doc.amount(totals.total_vat_minor), currencyID=cur)  # BT-110
    for group in doc.breakdown:  # BG-23
        subtotal = _sub(tax_total, CAC, "TaxSubtotal")
        _sub(subtotal, CBC, "TaxableAmount", doc.amount(group.taxable_amount_minor), currencyID=cur)  # BT-116
        _sub(subtotal, CBC, "TaxAmount", doc.amount(group.tax_amount_minor), currencyID=cur)  # BT-117
        _ubl_tax_category(subtotal, "TaxCategory", group, with_reason=True)  # BT-118..BT-121
    monetary = _sub(root, CAC, "LegalMonetaryTotal")  # BG-22
    for tag, minor in (("LineExtensionAmount", totals.sum_of_line_net_minor),  # BT-106
                       ("TaxExclusiveAmount", totals.total_without_vat_minor),  # BT-109
                       ("TaxInclusiveAmount", totals.total_with_vat_minor),  # BT-112
                       ("AllowanceTotalAmount", totals.allowances_minor if doc.allowances else None),  # BT-107
                       ("PrepaidAmount", totals.paid_minor),  # BT-113
                       ("PayableAmount", totals.amount_due_minor)):  # BT-115
        if minor is not None:
            _sub(monetary, CBC, tag, doc.amount(minor), currencyID=cur)
    for line in doc.lines:  # BG-25
        node = _sub(root, CAC, "CreditNoteLine" if credit else "InvoiceLine")
        _sub(node, CBC, "ID", line.line_id)  # BT-126
        if line.note:
            _sub(node, CBC, "Note", line.note)  # BT-127
        _sub(node, CBC, "CreditedQuantity" if credit else "InvoicedQuantity", decimal_text(line.quantity),
             unitCode=line.unit_code)  # BT-129 / BT-130
        _sub(node, CBC, "LineExtensionAmount", doc.amount(line.net_minor), currencyID=cur)  # BT-131
        if line.allowance_minor:
            allowance = _sub(node, CAC, "AllowanceCharge")  # BG-27
            _sub(allowance, CBC, "ChargeIndicator", "false")
            _sub(allowance, CBC, "AllowanceChargeReason", "Discount")  # BT-139
            _sub(allowance, CBC, "Amount", doc.amount(line.allowance_minor), currencyID=cur)  # BT-136
        item = _sub(node, CAC, "Item")
        _sub(item, CBC, "Name", line.name)  # BT-153
        _ubl_tax_category(item, "ClassifiedTaxCategory", line.vat, with_reason=False)  # BT-151 / BT-152
        price = _sub(node, CAC, "Price")
        _sub(price, CBC, "PriceAmount", price_text(line.net_price, cur), currencyID=cur)  # BT-146
    return _serialise(root, _UBL_PREFIXES)
