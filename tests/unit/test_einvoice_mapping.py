"""The pure EN 16931 e-invoice mapping (``invoicing_plugin.domain.einvoice``): amounts as
decimal text from integer minor units with the currency table's decimals, never a float;
unit codes; and both syntaxes valid against their XSDs for every VAT category."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import facturx
import pytest
from lxml import etree

from invoicing_plugin.domain import en16931 as E
from invoicing_plugin.domain.einvoice import (
    CREDIT_NOTE, INVOICE, EInvoice, EInvoiceLine, Party, PrecedingInvoice, amount_text, cii_xml, price_text, ubl_xml,
    unit_code,
)

RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"


@pytest.mark.parametrize(("minor", "currency", "text"), [
    (12345, "GBP", "123.45"), (-500, "EUR", "-5.00"), (0, "EUR", "0.00"), (1500, "JPY", "1500"),
    (150000, "ISK", "1500"), (1234567, "KWD", "1234.567"), (10**14 - 1, "EUR", "999999999999.99"),
])
def test_amounts_are_written_from_minor_units_with_the_currencys_decimals(minor, currency, text):
    assert amount_text(minor, currency) == text


def test_a_float_or_a_sub_unit_amount_is_refused():
    with pytest.raises(TypeError):
        amount_text(12.5, "GBP")
    with pytest.raises(TypeError):
        amount_text(Decimal("12.50"), "GBP")
    with pytest.raises(ValueError):
        amount_text(150050, "ISK")  # ISK has no decimals: 1500.50 krónur is not an amount


@pytest.mark.parametrize(("price", "currency", "text"), [
    (Decimal("400"), "GBP", "400.00"), (Decimal("33.33"), "GBP", "33.33"), (Decimal("12.345600"), "EUR", "12.3456"),
    (Decimal("1500"), "JPY", "1500"), (Decimal("0"), "EUR", "0.00"),
])
def test_net_prices_keep_the_currencys_decimals_and_any_finer_ones(price, currency, text):
    assert price_text(price, currency) == text


@pytest.mark.parametrize(("unit", "code"), [
    ("", "C62"), ("hour", "HUR"), ("Hours", "HUR"), ("day", "DAY"), ("days", "DAY"), ("month", "MON"),
    ("kg", "KGM"), ("licence", "C62"),
])
def test_typed_units_map_to_un_ece_recommendation_20(unit, code):
    assert unit_code(unit) == code


def _document(type_code: str, vat: E.VatRate, currency: str = "EUR") -> EInvoice:
    line = E.InvoiceLine("Service\nwith a line break \x07 and a bell", Decimal("1.5"), Decimal("100.00"), vat,
                         unit="hour")
    calculation = E.compute(currency, [line])
    seller = Party("Seller SA", vat_id="FR40303265045", address_line1="1 rue", city="Paris", country="FR")
    buyer = Party("Buyer GmbH", vat_id="DE136695976", country="DE")
    return EInvoice(type_code, "X-1", date(2026, 3, 1), currency, seller, buyer,
                    (EInvoiceLine("1", line.description, line.quantity, "HUR", line.net_price, vat,
                                  calculation.line_net_minor[0]),),
                    calculation.breakdown, calculation.totals, due_date=date(2026, 3, 31),
                    preceding=PrecedingInvoice("INV-1", date(2026, 2, 1)) if type_code == CREDIT_NOTE else None)


VATS = [E.VatRate(E.VatCategory.STANDARD, Decimal("20")), E.VatRate(E.VatCategory.ZERO, Decimal(0)),
        E.VatRate(E.VatCategory.EXEMPT, Decimal(0), "Article 132 exemption"),
        E.VatRate(E.VatCategory.REVERSE_CHARGE, Decimal(0), "Reverse charge"), E.NOT_SUBJECT_TO_VAT]


@pytest.mark.parametrize("vat", VATS, ids=lambda v: v.category.value)
@pytest.mark.parametrize("type_code", [INVOICE, CREDIT_NOTE])
def test_both_syntaxes_are_schema_valid_for_every_vat_category(vat, type_code):
    doc = _document(type_code, vat)

    cii, ubl = cii_xml(doc), ubl_xml(doc)

    assert facturx.xml_check_xsd(cii, flavor="factur-x", level="en16931") is True
    flavor = "ubl-2.1-creditnote" if type_code == CREDIT_NOTE else "ubl-2.1-invoice"
    assert facturx.xml_check_xsd(ubl, flavor=flavor) is True
    root = etree.fromstring(cii)
    rates = root.findall(f".//{{{RAM}}}ApplicableHeaderTradeSettlement/{{{RAM}}}ApplicableTradeTax"
                         f"/{{{RAM}}}RateApplicablePercent")
    # O (not subject to VAT) carries no rate at all (BR-O-05); the others their percent.
    assert [r.text for r in rates] == ([] if vat.category is E.VatCategory.NOT_SUBJECT
                                       else ["20" if vat.category is E.VatCategory.STANDARD else "0"])
    reasons = root.findall(f".//{{{RAM}}}ExemptionReason")
    assert [r.text for r in reasons] == ([vat.exemption_reason] if vat.exemption_reason else [])
    # The control character a person cannot have meant is left out; the line break stays.
    name = root.find(f".//{{{RAM}}}SpecifiedTradeProduct/{{{RAM}}}Name").text
    assert name == "Service\nwith a line break  and a bell"


def test_a_document_needs_a_known_type_code_and_a_line():
    doc = _document(INVOICE, VATS[0])
    with pytest.raises(ValueError):
        EInvoice("999", "X", date(2026, 1, 1), "EUR", doc.seller, doc.buyer, doc.lines, doc.breakdown, doc.totals)
    with pytest.raises(ValueError):
        EInvoice(INVOICE, "X", date(2026, 1, 1), "EUR", doc.seller, doc.buyer, (), doc.breakdown, doc.totals)


@pytest.mark.parametrize(("price_minor", "quantity", "net_minor", "gross", "currency", "expected"), [
    # Net prices: the invoice line's price, the line discount's share as the line allowance.
    (3333, "2", 6617, False, "GBP", (Decimal("33.33"), 49)),
    (40000, "1", 40000, False, "GBP", (Decimal("400.00"), 0)),
    # quantity × price finer than a penny: the net over the quantity, no allowance.
    (3333, "1.5", 5000, False, "GBP", (Decimal("33.333333"), 0)),
    # Prices typed with VAT: the net over the quantity (EN 16931 carries net prices).
    (12000, "3", 30000, True, "GBP", (Decimal("100.000000"), 0)),
    # ISK writes whole krónur: 1.5 × 1,001 kr = 1,501.5 kr is no amount, so net / quantity.
    (100100, "1.5", 150200, False, "ISK", (Decimal("1001.333333"), 0)),
])
def test_a_credited_lines_price_and_allowance_meet_br_lin_04(price_minor, quantity, net_minor, gross, currency,
                                                           expected):
    """Newuser16 N1: a credit note for chosen lines writes its own lines; BT-131 = BT-129 ×
    BT-146 − BT-136 holds exactly when the price is the invoice line's, else to the price's
    6 decimals."""
    from types import SimpleNamespace

    from invoicing_plugin.services.einvoice import _note_price

    row = SimpleNamespace(unit_price_minor=price_minor, quantity=Decimal(quantity), net_minor=net_minor)
    price, allowance = _note_price(row, currency, gross)
    assert (price, allowance) == expected
    assert isinstance(allowance, int)
