"""E-invoices (issue 16): the PDF of a sent invoice or credit note is a Factur-X hybrid with
its EN 16931 data as CII XML, and a UBL 2.1 download carries the same data.

Every test reads the XML back -- out of the PDF with ``facturx.get_xml_from_pdf``, or from
the UBL download -- checks it against the official schema with ``facturx.xml_check_xsd``
(Factur-X EN 16931 XSD; UBL 2.1 Invoice / CreditNote XSD, both shipped with factur-x),
and holds every figure against the invoice's own (its snapshot, its stored lines) and
against the figures worked by hand in the docstrings. EN 16931's Schematron rules need an
XSLT 2 processor (Saxon) that is not installed here; the business rules they check
(BR-CO-10..17 sums, BR-AE-*) are asserted figure by figure instead.
"""

from __future__ import annotations

from decimal import Decimal

import facturx
import pytest
from lxml import etree

from invoicing_plugin import api
from invoicing_plugin.services.seller import SellerInput, save_seller_profile
from invoicing_plugin.services.tax_rates import TaxRateInput, create_tax_rate
from tests.integration._invoice_helpers import ACTOR
from tests.integration.test_invoice_parties import set_client
from tests.support.pdf import require_pdf_rendering

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}

GB_SELLER = SellerInput(legal_name="Acme Security Ltd", trading_name="Acme", address_line1="1 Threadneedle Street",
                        city="London", post_code="EC2R 8AH", country="GB", vat_id="GB980780684",
                        registration_id="01234567", contact_email="billing@acme.test", payment_terms_days=30)
FR_SELLER = SellerInput(legal_name="Acme Sécurité SAS", address_line1="12 rue de la Paix", city="Paris",
                        post_code="75002", country="FR", vat_id="FR40303265045", registration_id="303265045",
                        payment_terms_days=30)
REVERSE_CHARGE_NOTE = "Reverse charge: VAT due by the customer (Article 196, Directive 2006/112/EC)"


def one(root, path: str) -> str:
    """The text of the single element at ``path`` (an error when there is none or several)."""
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, found)
    value = found[0]
    return value if isinstance(value, str) else value.text


def texts(root, path: str) -> list[str]:
    return [node if isinstance(node, str) else node.text for node in root.xpath(path, namespaces=NS)]


def factur_x_of(pdf: bytes):
    """The CII XML embedded in ``pdf``, checked against the Factur-X EN 16931 XSD."""
    if not pdf.startswith(b"%PDF"):
        require_pdf_rendering()
    filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    root = etree.fromstring(xml)
    assert facturx.get_flavor(root) == "factur-x" and facturx.get_level(root) == "en16931"
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    return root


def ubl_of(response, kind: str):
    """The UBL download, well formed, in UBL 2.1's namespace, valid against its XSD."""
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/xml"
    root = etree.fromstring(response.data)
    assert root.tag == f"{{{NS['cn' if kind == 'CreditNote' else 'inv']}}}{kind}"
    assert root.nsmap[None] == NS["cn" if kind == "CreditNote" else "inv"]
    flavor = "ubl-2.1-creditnote" if kind == "CreditNote" else "ubl-2.1-invoice"
    assert facturx.xml_check_xsd(response.data, flavor=flavor) is True
    assert one(root, "cbc:CustomizationID") == \
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    return root


def issue_date(app, invoice_id: int):
    """BT-2 as the invoice row holds it (the send day in the workspace's zone)."""
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import Invoice

    with app.app_context():
        session = get_state().session
        value = session.get(Invoice, invoice_id).issue_date
        session.rollback()
    assert value is not None
    return value


def money(minor: int) -> str:
    """Minor units of a two-decimal currency as the XML writes them."""
    return str(Decimal(minor).scaleb(-2).quantize(Decimal("0.01")))


def _gbp_invoice(app, world, *, deposit: bool = False, paid: str | None = None):
    """A sent GBP invoice: 3 day × £400.00 at 20 % = 1,200.00; 4 hour × £33.33 at 5 % less
    £0.99 = 132.33; a £10.00 document discount shared pro rata (9.01 at 20 %, 0.99 at 5 %).
    Taxable 1,190.99 and 131.34; VAT 238.20 (1,190.99 × 20 % = 238.198) and 6.57
    (131.34 × 5 % = 6.567); net 1,322.33, VAT 244.77, total 1,567.10. ``deposit``: a paid
    £300.00 deposit (30 % of the accepted £1,000.00 proposal) is deducted; ``paid``: then a
    bank transfer of that much."""
    with app.test_request_context():
        save_seller_profile(world.acme, ACTOR, GB_SELLER)
    set_client(app, world.client_a, legal_name="Globex Corporation Ltd", address_line1="20 Canada Square",
               city="London", post_code="E14 5NP", country="GB", vat_id="GB 314 1592 28")
    subject = f"proposal:{world.proposal_accepted}"
    with app.test_request_context():
        if deposit:
            made = api.create_deposit(world.acme, ACTOR, subject, percent=30, send_method="manual")
            api.send(world.acme, ACTOR, made.id, method="manual")
            api.mark_paid(world.acme, ACTOR, made.id, method="bank_transfer")
        draft = api.create_draft(
            world.acme, ACTOR, client_id=world.client_a, currency="GBP", send_method="manual",
            subject=subject if deposit else None, deduct_deposits=deposit, discount="10.00",
            payment_terms="30 days net",
            lines=[{"description": "Penetration test", "quantity": "3", "unit": "day", "unit_price": "400.00",
                    "tax_rate": "20"},
                   {"description": "Retest & report <draft>", "quantity": "4", "unit": "hours",
                    "unit_price": "33.33", "discount": "0.99", "tax_rate": "5"}])
        sent = api.send(world.acme, ACTOR, draft.id, method="manual")
        if paid:
            sent = api.mark_paid(world.acme, ACTOR, sent.id, method="bank_transfer", amount=paid)
        return sent


def test_the_pdf_of_a_gbp_invoice_at_two_rates_is_factur_x_with_the_invoices_figures(app, world, staff_client):
    """Paid: the £300.00 deposit and £500.00 by transfer, so BT-113 = 800.00 and BT-115 =
    1,567.10 − 800.00 = 767.10."""
    invoice = _gbp_invoice(app, world, deposit=True, paid="500.00")
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (132_233, 24_477, 156_710)
    assert (invoice.prepaid_minor, invoice.paid_minor, invoice.due_minor) == (30_000, 50_000, 76_710)

    response = staff_client.get(f"/invoicing/invoices/{invoice.id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    cii = factur_x_of(response.data)

    assert one(cii, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") \
        == "urn:cen.eu:en16931:2017"
    assert one(cii, "rsm:ExchangedDocument/ram:ID") == invoice.number  # BT-1
    assert one(cii, "rsm:ExchangedDocument/ram:TypeCode") == "380"  # BT-3
    assert one(cii, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") \
        == issue_date(app, invoice.id).strftime("%Y%m%d")  # BT-2
    trade = "rsm:SupplyChainTradeTransaction/"
    seller = trade + "ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/"
    buyer = trade + "ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty/"
    assert one(cii, seller + "ram:Name") == "Acme Security Ltd"  # BT-27
    assert one(cii, seller + "ram:SpecifiedLegalOrganization/ram:ID") == "01234567"  # BT-30
    assert one(cii, seller + "ram:SpecifiedLegalOrganization/ram:TradingBusinessName") == "Acme"  # BT-28
    assert one(cii, seller + "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == "GB980780684"  # BT-31
    assert one(cii, seller + "ram:PostalTradeAddress/ram:LineOne") == "1 Threadneedle Street"
    assert one(cii, seller + "ram:PostalTradeAddress/ram:CityName") == "London"
    assert one(cii, seller + "ram:PostalTradeAddress/ram:PostcodeCode") == "EC2R 8AH"
    assert one(cii, seller + "ram:PostalTradeAddress/ram:CountryID") == "GB"  # BT-40
    assert one(cii, buyer + "ram:Name") == "Globex Corporation Ltd"  # BT-44
    assert one(cii, buyer + "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == "GB314159228"  # BT-48
    assert one(cii, buyer + "ram:PostalTradeAddress/ram:CountryID") == "GB"  # BT-55

    lines = cii.xpath(trade + "ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    assert len(lines) == len(invoice.lines) == 2
    expected = [("1", "Penetration test", "3", "DAY", "400.00", "S", "20", None, invoice.lines[0].net_minor),
                ("2", "Retest & report <draft>", "4", "HUR", "33.33", "S", "5", "0.99", invoice.lines[1].net_minor)]
    for line, (line_id, name, quantity, unit, price, category, rate, discount, net) in zip(lines, expected):
        assert one(line, "ram:AssociatedDocumentLineDocument/ram:LineID") == line_id  # BT-126
        assert one(line, "ram:SpecifiedTradeProduct/ram:Name") == name  # BT-153
        assert one(line, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity") == quantity  # BT-129
        assert one(line, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/@unitCode") == unit  # BT-130
        assert one(line, "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount") == price
        settlement = "ram:SpecifiedLineTradeSettlement/"
        assert one(line, settlement + "ram:ApplicableTradeTax/ram:CategoryCode") == category  # BT-151
        assert one(line, settlement + "ram:ApplicableTradeTax/ram:RateApplicablePercent") == rate  # BT-152
        assert texts(line, settlement + "ram:SpecifiedTradeAllowanceCharge/ram:ActualAmount") == \
            ([discount] if discount else [])  # BT-136
        assert one(line, settlement + "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount") \
            == money(net)  # BT-131
    assert [money(line.net_minor) for line in invoice.lines] == ["1200.00", "132.33"]

    settlement = trade + "ram:ApplicableHeaderTradeSettlement/"
    assert one(cii, settlement + "ram:InvoiceCurrencyCode") == "GBP"  # BT-5
    allowances = cii.xpath(settlement + "ram:SpecifiedTradeAllowanceCharge", namespaces=NS)  # BG-20
    assert [(one(a, "ram:ChargeIndicator/udt:Indicator"), one(a, "ram:ActualAmount"),
             one(a, "ram:CategoryTradeTax/ram:RateApplicablePercent")) for a in allowances] == \
        [("false", "9.01", "20"), ("false", "0.99", "5")]
    groups = cii.xpath(settlement + "ram:ApplicableTradeTax", namespaces=NS)  # BG-23
    assert [(one(g, "ram:CategoryCode"), one(g, "ram:RateApplicablePercent"), one(g, "ram:BasisAmount"),
             one(g, "ram:CalculatedAmount")) for g in groups] == \
        [("S", "20", "1190.99", "238.20"), ("S", "5", "131.34", "6.57")]
    assert sum(Decimal(one(g, "ram:CalculatedAmount")) for g in groups) == Decimal(money(invoice.tax_minor))
    assert one(cii, settlement + "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString") \
        == invoice.due_date.strftime("%Y%m%d")  # BT-9
    assert one(cii, settlement + "ram:SpecifiedTradePaymentTerms/ram:Description") == "30 days net"  # BT-20
    totals = settlement + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
    assert one(cii, totals + "ram:LineTotalAmount") == "1332.33"  # BT-106
    assert one(cii, totals + "ram:AllowanceTotalAmount") == "10.00"  # BT-107
    assert one(cii, totals + "ram:TaxBasisTotalAmount") == money(invoice.net_minor) == "1322.33"  # BT-109
    assert one(cii, totals + "ram:TaxTotalAmount[@currencyID='GBP']") == money(invoice.tax_minor) == "244.77"
    assert one(cii, totals + "ram:GrandTotalAmount") == money(invoice.total_minor) == "1567.10"  # BT-112
    assert one(cii, totals + "ram:TotalPrepaidAmount") == money(invoice.prepaid_minor + invoice.paid_minor) \
        == "800.00"  # BT-113
    assert one(cii, totals + "ram:DuePayableAmount") == money(invoice.due_minor) == "767.10"  # BT-115


def test_the_ubl_download_carries_the_same_figures(app, world, staff_client):
    invoice = _gbp_invoice(app, world, deposit=True, paid="500.00")

    response = staff_client.get(f"/invoicing/invoices/{invoice.id}/ubl")
    assert f'filename="invoice-{invoice.number}.xml"' in response.headers["Content-Disposition"]
    ubl = ubl_of(response, "Invoice")

    assert one(ubl, "cbc:ID") == invoice.number
    assert one(ubl, "cbc:IssueDate") == issue_date(app, invoice.id).isoformat()
    assert one(ubl, "cbc:DueDate") == invoice.due_date.isoformat()
    assert one(ubl, "cbc:InvoiceTypeCode") == "380"
    assert one(ubl, "cbc:DocumentCurrencyCode") == "GBP"
    supplier = "cac:AccountingSupplierParty/cac:Party/"
    customer = "cac:AccountingCustomerParty/cac:Party/"
    assert one(ubl, supplier + "cac:PartyLegalEntity/cbc:RegistrationName") == "Acme Security Ltd"
    assert one(ubl, supplier + "cac:PartyLegalEntity/cbc:CompanyID") == "01234567"
    assert one(ubl, supplier + "cac:PartyTaxScheme/cbc:CompanyID") == "GB980780684"
    assert one(ubl, supplier + "cac:PartyTaxScheme/cac:TaxScheme/cbc:ID") == "VAT"
    assert one(ubl, supplier + "cac:PostalAddress/cac:Country/cbc:IdentificationCode") == "GB"
    assert one(ubl, customer + "cac:PartyLegalEntity/cbc:RegistrationName") == "Globex Corporation Ltd"
    assert one(ubl, customer + "cac:PartyTaxScheme/cbc:CompanyID") == "GB314159228"
    lines = ubl.xpath("cac:InvoiceLine", namespaces=NS)
    assert [(one(line, "cbc:ID"), one(line, "cbc:InvoicedQuantity"), one(line, "cbc:InvoicedQuantity/@unitCode"),
             one(line, "cbc:LineExtensionAmount"), one(line, "cac:Item/cbc:Name"),
             one(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
             one(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent"), one(line, "cac:Price/cbc:PriceAmount"))
            for line in lines] == [
        ("1", "3", "DAY", "1200.00", "Penetration test", "S", "20", "400.00"),
        ("2", "4", "HUR", "132.33", "Retest & report <draft>", "S", "5", "33.33")]
    assert texts(ubl, "cac:InvoiceLine/cac:AllowanceCharge/cbc:Amount") == ["0.99"]
    assert texts(ubl, "cac:AllowanceCharge/cbc:Amount") == ["9.01", "0.99"]
    assert [(one(s, "cbc:TaxableAmount"), one(s, "cbc:TaxAmount"), one(s, "cac:TaxCategory/cbc:Percent"))
            for s in ubl.xpath("cac:TaxTotal/cac:TaxSubtotal", namespaces=NS)] == \
        [("1190.99", "238.20", "20"), ("131.34", "6.57", "5")]
    assert one(ubl, "cac:TaxTotal/cbc:TaxAmount") == "244.77"
    assert all(node.get("currencyID") == "GBP" for node in ubl.xpath("//cbc:TaxAmount | //cbc:PayableAmount",
                                                                      namespaces=NS))
    total = "cac:LegalMonetaryTotal/"
    assert [one(ubl, total + tag) for tag in ("cbc:LineExtensionAmount", "cbc:TaxExclusiveAmount",
                                               "cbc:TaxInclusiveAmount", "cbc:AllowanceTotalAmount",
                                               "cbc:PrepaidAmount", "cbc:PayableAmount")] == \
        ["1332.33", "1322.33", "1567.10", "10.00", "800.00", "767.10"]


def test_an_eur_reverse_charge_invoice_names_both_vat_ids_and_the_exemption(app, world, staff_client):
    """A French seller bills a German business in EUR under reverse charge (category AE,
    rate 0): 2 day × €750.00 + 1 × €125.50 = 1,625.50 net, VAT 0.00, total 1,625.50, nothing
    paid: due 1,625.50."""
    with app.test_request_context():
        save_seller_profile(world.acme, ACTOR, FR_SELLER)
        rate_id = str(create_tax_rate(world.acme, ACTOR, TaxRateInput(
            name="Reverse charge", rate="0", category="AE", note=REVERSE_CHARGE_NOTE)).id)
    set_client(app, world.client_a, legal_name="Globex GmbH", address_line1="Friedrichstraße 1", city="Berlin",
               post_code="10117", country="DE", vat_id="DE136695976")
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="EUR", send_method="manual",
                                 lines=[{"description": "Audit", "quantity": "2", "unit": "day",
                                         "unit_price": "750.00", "tax_rate_id": rate_id},
                                        {"description": "Travel", "unit_price": "125.50", "tax_rate_id": rate_id}])
        invoice = api.send(world.acme, ACTOR, draft.id, method="manual")
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor, invoice.due_minor) == \
        (162_550, 0, 162_550, 162_550)

    cii = factur_x_of(staff_client.get(f"/invoicing/invoices/{invoice.id}/pdf").data)
    agreement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/"
    assert one(cii, agreement + "ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == "FR40303265045"
    assert one(cii, agreement + "ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == "DE136695976"
    assert one(cii, agreement + "ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID") == "DE"
    settlement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    assert one(cii, settlement + "ram:InvoiceCurrencyCode") == "EUR"
    group = cii.xpath(settlement + "ram:ApplicableTradeTax", namespaces=NS)
    assert len(group) == 1
    assert [one(group[0], tag) for tag in ("ram:CategoryCode", "ram:RateApplicablePercent", "ram:BasisAmount",
                                           "ram:CalculatedAmount", "ram:ExemptionReason",
                                           "ram:ExemptionReasonCode")] == \
        ["AE", "0", "1625.50", "0.00", REVERSE_CHARGE_NOTE, "VATEX-EU-AE"]
    assert texts(cii, "//ram:IncludedSupplyChainTradeLineItem//ram:ApplicableTradeTax/ram:CategoryCode") == \
        ["AE", "AE"]
    totals = settlement + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
    assert [one(cii, totals + tag) for tag in ("ram:LineTotalAmount", "ram:TaxBasisTotalAmount",
                                                "ram:TaxTotalAmount", "ram:GrandTotalAmount",
                                                "ram:TotalPrepaidAmount", "ram:DuePayableAmount")] == \
        ["1625.50", "1625.50", "0.00", "1625.50", "0.00", "1625.50"]
    assert one(cii, settlement + "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString") \
        == invoice.due_date.strftime("%Y%m%d")

    ubl = ubl_of(staff_client.get(f"/invoicing/invoices/{invoice.id}/ubl"), "Invoice")
    assert one(ubl, "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID") == "FR40303265045"
    assert one(ubl, "cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID") == "DE136695976"
    category = "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/"
    assert [one(ubl, category + tag) for tag in ("cbc:ID", "cbc:Percent", "cbc:TaxExemptionReasonCode",
                                                  "cbc:TaxExemptionReason")] == \
        ["AE", "0", "VATEX-EU-AE", REVERSE_CHARGE_NOTE]
    assert one(ubl, "cbc:DocumentCurrencyCode") == "EUR"
    assert one(ubl, "cac:LegalMonetaryTotal/cbc:PayableAmount[@currencyID='EUR']") == "1625.50"


def test_a_partial_credit_note_is_type_381_referring_to_its_invoice(app, world, staff_client):
    """£120.00 credited on the 1,567.10 invoice, shared pro rata to each rate's total with
    VAT (1,429.19 at 20 %, 137.91 at 5 %): 109.44 and 10.56 (12,000 p × 142,919 / 156,710 =
    10,943.9 -> 10,944 by the larger remainder). Nets as for prices typed with VAT: 109.44 /
    1.2 = 91.20 (VAT 18.24) and 10.56 / 1.05 = 10.06 (VAT 0.50): total 120.00."""
    invoice = _gbp_invoice(app, world)
    with app.test_request_context():
        note = api.create_credit_note(world.acme, ACTOR, invoice.id, amount="120.00", reason="Retest cancelled")

    response = staff_client.get(f"/invoicing/credit-notes/{note.id}/pdf")
    assert response.status_code == 200
    cii = factur_x_of(response.data)
    assert one(cii, "rsm:ExchangedDocument/ram:ID") == note.number
    assert one(cii, "rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert one(cii, "rsm:ExchangedDocument/ram:IncludedNote/ram:Content") == "Retest cancelled"
    settlement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    assert one(cii, settlement + "ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == invoice.number  # BT-25
    # BR-CO-25: BT-115 is positive, so the terms say how the note is settled (it has no due date).
    assert one(cii, settlement + "ram:SpecifiedTradePaymentTerms/ram:Description") == \
        "Reduces the amount due (before payment)"
    assert one(cii, settlement + "ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString") \
        == issue_date(app, invoice.id).strftime("%Y%m%d")  # BT-26
    lines = cii.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    assert [(one(line, ".//ram:LineTotalAmount"), one(line, ".//ram:RateApplicablePercent")) for line in lines] \
        == [("91.20", "20"), ("10.06", "5")]
    groups = cii.xpath(settlement + "ram:ApplicableTradeTax", namespaces=NS)
    assert [(one(g, "ram:BasisAmount"), one(g, "ram:CalculatedAmount")) for g in groups] == \
        [("91.20", "18.24"), ("10.06", "0.50")]
    totals = settlement + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
    assert [one(cii, totals + tag) for tag in ("ram:TaxBasisTotalAmount", "ram:TaxTotalAmount",
                                                "ram:GrandTotalAmount", "ram:TotalPrepaidAmount",
                                                "ram:DuePayableAmount")] == \
        ["101.26", "18.74", money(note.amount_minor), "0.00", "120.00"]
    assert one(cii, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == "GB980780684"
    assert one(cii, "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == "GB314159228"

    ubl = ubl_of(staff_client.get(f"/invoicing/credit-notes/{note.id}/ubl"), "CreditNote")
    assert one(ubl, "cbc:CreditNoteTypeCode") == "381"
    assert one(ubl, "cbc:ID") == note.number
    assert one(ubl, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID") == invoice.number
    assert texts(ubl, "cac:CreditNoteLine/cbc:LineExtensionAmount") == ["91.20", "10.06"]
    assert texts(ubl, "cac:CreditNoteLine/cbc:CreditedQuantity") == ["1", "1"]
    assert one(ubl, "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount") == "120.00"
    assert one(ubl, "cac:LegalMonetaryTotal/cbc:PayableAmount") == "120.00"
    assert one(ubl, "cac:PaymentTerms/cbc:Note") == "Reduces the amount due (before payment)"
    # The client's copy of the note (its token link) is the same Factur-X.
    client_pdf = app.test_client().get(f"/invoicing/credit-notes/{note.public_token}/pdf").data
    assert one(factur_x_of(client_pdf), "rsm:ExchangedDocument/ram:ID") == note.number


def test_a_full_credit_note_repeats_the_invoices_lines(app, world, staff_client):
    invoice = _gbp_invoice(app, world)
    with app.test_request_context():
        note = api.create_credit_note(world.acme, ACTOR, invoice.id, amount="1567.10", reason="Cancelled")

    cii = factur_x_of(staff_client.get(f"/invoicing/credit-notes/{note.id}/pdf").data)

    assert texts(cii, "//ram:IncludedSupplyChainTradeLineItem/ram:SpecifiedTradeProduct/ram:Name") == \
        ["Penetration test", "Retest & report <draft>"]
    assert texts(cii, "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount") == ["1567.10"]
    assert texts(cii, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CalculatedAmount") == \
        ["238.20", "6.57"]


def test_the_clients_portal_pdf_is_factur_x_too(app, world):
    from tests.integration.test_portal import portal_path

    invoice = _gbp_invoice(app, world)
    path = portal_path(app, world.acme, world.client_a)

    pdf = app.test_client().get(f"{path}/invoices/{invoice.public_token}.pdf").data

    assert one(factur_x_of(pdf), "rsm:ExchangedDocument/ram:ID") == invoice.number


def test_a_draft_has_no_e_invoice(app, world, staff_client, make_invoice):
    draft = make_invoice(workspace_id=world.acme, client_id=world.client_a, status="draft")

    pdf = staff_client.get(f"/invoicing/invoices/{draft.id}/pdf").data
    if not pdf.startswith(b"%PDF"):
        require_pdf_rendering()
    assert facturx.get_xml_from_pdf(pdf, check_xsd=False) == (False, False)  # no XML attached
    assert staff_client.get(f"/invoicing/invoices/{draft.id}/ubl").status_code == 409
    page = staff_client.get(f"/invoicing/invoices/{draft.id}").text
    assert f"/invoicing/invoices/{draft.id}/print" in page and f"/invoicing/invoices/{draft.id}/ubl" not in page


def test_an_invoice_sent_without_seller_details_still_validates(app, world, staff_client, make_invoice):
    """The seeds' simple case (no seller profile, one amount without VAT, category O): the
    seller is the workspace's name; O carries no rate (BR-O-05)."""
    invoice = make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0100", amount_minor=1500,
                           currency="JPY", description="Consulting")

    cii = factur_x_of(staff_client.get(f"/invoicing/invoices/{invoice.id}/pdf").data)

    assert one(cii, "//ram:SellerTradeParty/ram:Name") == "Acme Security"
    assert texts(cii, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode") == ["O"]
    assert texts(cii, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent") == []
    assert texts(cii, "//ram:GrandTotalAmount") == ["1500"]  # JPY: no decimals
    ubl_of(staff_client.get(f"/invoicing/invoices/{invoice.id}/ubl"), "Invoice")


def test_an_invoice_wholly_outside_the_scope_of_vat_names_no_vat_number(app, world, staff_client):
    """BR-O-02: lines "not subject to VAT" only (category O), so neither party's VAT number is
    written, though the seller and the client have one (the page still prints them)."""
    with app.test_request_context():
        save_seller_profile(world.acme, ACTOR, GB_SELLER)
    set_client(app, world.client_a, legal_name="Globex Corporation Ltd", address_line1="20 Canada Square",
               city="London", country="GB", vat_id="GB 314 1592 28")
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP", send_method="manual",
                                 lines=[{"description": "Disbursement", "unit_price": "80.00", "tax_rate": "none"}])
        invoice = api.send(world.acme, ACTOR, draft.id, method="manual")

    cii = factur_x_of(staff_client.get(f"/invoicing/invoices/{invoice.id}/pdf").data)
    ubl = ubl_of(staff_client.get(f"/invoicing/invoices/{invoice.id}/ubl"), "Invoice")

    assert texts(cii, "//ram:SpecifiedTaxRegistration") == [] and texts(ubl, "//cac:PartyTaxScheme") == []
    assert texts(cii, "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == ["01234567"]
    assert texts(cii, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode") == ["O"]
    assert texts(cii, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:ExemptionReason") == \
        ["Not subject to VAT"]


def test_the_invoice_page_links_to_print_pdf_and_ubl(app, world, staff_client):
    invoice = _gbp_invoice(app, world)
    with app.test_request_context():
        note = api.create_credit_note(world.acme, ACTOR, invoice.id, amount="10.00", reason="Goodwill")

    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").text

    for path in (f"/invoicing/invoices/{invoice.id}/print", f"/invoicing/invoices/{invoice.id}/pdf",
                 f"/invoicing/invoices/{invoice.id}/ubl", f"/invoicing/credit-notes/{note.id}/pdf",
                 f"/invoicing/credit-notes/{note.id}/ubl"):
        assert f'href="{path}"' in page, path


def test_another_workspaces_e_invoices_answer_404(app, world, staff_client, make_invoice):
    theirs = make_invoice(workspace_id=world.northwind, client_id=world.northwind_client, number="NW-0001")
    mine = make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0200")

    assert staff_client.get(f"/invoicing/invoices/{mine.id}/ubl").status_code == 200
    assert staff_client.get(f"/invoicing/invoices/{theirs.id}/ubl").status_code == 404
    assert staff_client.get("/invoicing/credit-notes/999999/ubl").status_code == 404


def test_another_workspaces_credit_note_ubl_answers_404(app, world, staff_client):
    from tests.integration.conftest import login

    invoice = _gbp_invoice(app, world)
    with app.test_request_context():
        note = api.create_credit_note(world.acme, ACTOR, invoice.id, amount="10.00", reason="Goodwill")
    outsider = login(app.test_client(), world.outsider_email, "northwind")

    assert staff_client.get(f"/invoicing/credit-notes/{note.id}/ubl").status_code == 200

    assert outsider.get(f"/invoicing/credit-notes/{note.id}/ubl").status_code == 404
    assert outsider.get(f"/invoicing/invoices/{invoice.id}/ubl").status_code == 404


def test_the_schema_check_refuses_a_broken_document(app, world, staff_client):
    """The XSD check used above can fail: a CII without its type code (BT-3), a UBL line
    without its net amount (BT-131), are refused."""
    invoice = _gbp_invoice(app, world)
    cii = factur_x_of(staff_client.get(f"/invoicing/invoices/{invoice.id}/pdf").data)
    type_code = cii.xpath("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS)[0]
    type_code.getparent().remove(type_code)
    with pytest.raises(Exception, match="not valid against the official"):
        facturx.xml_check_xsd(etree.tostring(cii), flavor="factur-x", level="en16931")

    ubl = etree.fromstring(staff_client.get(f"/invoicing/invoices/{invoice.id}/ubl").data)
    net = ubl.xpath("cac:InvoiceLine/cbc:LineExtensionAmount", namespaces=NS)[0]
    net.getparent().remove(net)
    with pytest.raises(Exception, match="not valid against the official"):
        facturx.xml_check_xsd(etree.tostring(ubl), flavor="ubl-2.1-invoice")


def _stored_note(app, note_id: int):
    """The credit note row's own figures: its lines ``(description, quantity, net)``, its VAT
    breakdown ``[(rate, taxable, tax)]`` and ``(net, tax, total)``."""
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import CreditNote

    with app.app_context():
        session = get_state().session
        row = session.get(CreditNote, note_id)
        lines = [(line.description, Decimal(line.quantity), int(line.net_minor)) for line in row.lines]
        vat = [(Decimal(str(item["rate"])), int(item["taxable_minor"]), int(item["tax_minor"]))
               for item in row.vat_breakdown]
        totals = (int(row.net_minor), int(row.tax_minor), int(row.amount_minor))
        session.rollback()
    return lines, vat, totals


def test_a_credit_note_for_chosen_lines_carries_its_own_lines_and_vat(app, world, staff_client):
    """Newuser16 N1: 1 of the 3 days and 2 of the 4 hours of the 1,567.10 invoice. Lines
    400.00 (1 day × 400.00) and 66.17 (13,233 p × 2 / 4 = 6,616.5 -> 6,617, half up; 2 ×
    33.33 = 66.66 less 0.49 of the line discount). The £10.00 document discount's share:
    taxable 397.00 at 20 % (119,099 × 40,000 / 120,000 = 39,699.7) and 65.67 at 5 %
    (13,134 × 6,617 / 13,233 = 6,567.5 -> 6,567), so allowances 3.00 and 0.50; VAT 79.40
    and 3.28 (65.67 × 5 % = 3.2835). Net 462.67, VAT 82.68, total 545.35 -- the figures the
    printed note shows, not a pro-rata "Credit on invoice" line per rate."""
    invoice = _gbp_invoice(app, world)
    with app.test_request_context():
        note = api.create_credit_note(world.acme, ACTOR, invoice.id, reason="One day and two hours not delivered",
                                      lines=[{"position": 1, "quantity": "1"}, {"position": 2, "quantity": "2"}])
    lines, vat, (net, tax, total) = _stored_note(app, note.id)
    assert lines == [("Penetration test", Decimal(1), 40_000), ("Retest & report <draft>", Decimal(2), 6_617)]
    assert vat == [(Decimal(20), 39_700, 7_940), (Decimal(5), 6_567, 328)]
    assert (net, tax, total) == (46_267, 8_268, 54_535)

    cii = factur_x_of(staff_client.get(f"/invoicing/credit-notes/{note.id}/pdf").data)
    assert one(cii, "rsm:ExchangedDocument/ram:TypeCode") == "381"
    items = cii.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    assert [(one(item, ".//ram:SpecifiedTradeProduct/ram:Name"), Decimal(one(item, ".//ram:BilledQuantity")),
             one(item, ".//ram:BilledQuantity/@unitCode"), one(item, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount"),
             one(item, ".//ram:LineTotalAmount"), one(item, ".//ram:RateApplicablePercent")) for item in items] == \
        [("Penetration test", Decimal(1), "DAY", "400.00", "400.00", "20"),
         ("Retest & report <draft>", Decimal(2), "HUR", "33.33", "66.17", "5")]
    assert [(name, quantity, money(net_minor)) for name, quantity, net_minor in lines] == \
        [(one(item, ".//ram:SpecifiedTradeProduct/ram:Name"), Decimal(one(item, ".//ram:BilledQuantity")),
          one(item, ".//ram:LineTotalAmount")) for item in items]
    settlement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    groups = cii.xpath(settlement + "ram:ApplicableTradeTax", namespaces=NS)
    assert [(Decimal(one(g, "ram:RateApplicablePercent")), one(g, "ram:BasisAmount"), one(g, "ram:CalculatedAmount"))
            for g in groups] == [(rate, money(taxable), money(amount)) for rate, taxable, amount in vat]
    allowances = cii.xpath(settlement + "ram:SpecifiedTradeAllowanceCharge", namespaces=NS)
    assert [(one(a, "ram:ActualAmount"), one(a, ".//ram:RateApplicablePercent")) for a in allowances] == \
        [("3.00", "20"), ("0.50", "5")]
    totals = settlement + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
    assert [one(cii, totals + tag) for tag in ("ram:LineTotalAmount", "ram:AllowanceTotalAmount",
                                                "ram:TaxBasisTotalAmount", "ram:TaxTotalAmount",
                                                "ram:GrandTotalAmount", "ram:DuePayableAmount")] == \
        [money(40_000 + 6_617), money(40_000 + 6_617 - net), money(net), money(tax), money(total), money(total)]

    ubl = ubl_of(staff_client.get(f"/invoicing/credit-notes/{note.id}/ubl"), "CreditNote")
    assert texts(ubl, "cac:CreditNoteLine/cac:Item/cbc:Name") == [name for name, _, _ in lines]
    assert [Decimal(q) for q in texts(ubl, "cac:CreditNoteLine/cbc:CreditedQuantity")] == [q for _, q, _ in lines]
    assert texts(ubl, "cac:CreditNoteLine/cbc:LineExtensionAmount") == [money(n) for _, _, n in lines]
    assert texts(ubl, "cac:CreditNoteLine/cac:Price/cbc:PriceAmount") == ["400.00", "33.33"]
    subtotals = ubl.xpath("cac:TaxTotal/cac:TaxSubtotal", namespaces=NS)
    assert [(Decimal(one(s, "cac:TaxCategory/cbc:Percent")), one(s, "cbc:TaxableAmount"), one(s, "cbc:TaxAmount"))
            for s in subtotals] == [(rate, money(taxable), money(amount)) for rate, taxable, amount in vat]
    assert one(ubl, "cac:TaxTotal/cbc:TaxAmount") == money(tax)
    assert [one(ubl, "cac:LegalMonetaryTotal/" + tag) for tag in
            ("cbc:LineExtensionAmount", "cbc:AllowanceTotalAmount", "cbc:TaxExclusiveAmount",
             "cbc:TaxInclusiveAmount", "cbc:PayableAmount")] == \
        [money(46_617), money(350), money(net), money(total), money(total)]
