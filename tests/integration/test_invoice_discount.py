"""The document discount (EN 16931 BG-20) and lines explicitly without VAT (issue 15).

A discount off the whole invoice is an amount without VAT, shared among the invoice's VAT
rates pro rata to their line nets (one allowance per rate, BR-32/BR-33), by largest
remainder in the currency's unit; each rate's VAT is then computed on its net less its
share. A line's ``tax_rate`` of ``"none"`` is "Not subject to VAT" (category O) even when
the workspace has a default rate. Hand-worked examples below.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoicing_plugin import api
from invoicing_plugin.services import tax_rates
from invoicing_plugin.services.views import DiscountSnapshot
from tests.integration._invoice_helpers import invoice_and_line_counts

ACTOR = "system:test"

TWO_RATES = [{"description": "Consulting", "unit_price": "100.00", "tax_rate": "20"},
             {"description": "Books", "unit_price": "50.00", "tax_rate": "5"}]


def _draft(app, world, **kwargs):
    with app.test_request_context():
        return api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP", **kwargs)


def test_a_discount_over_two_rates_is_shared_pro_rata_hand_worked(app, world):
    """100.00 at 20 % and 50.00 at 5 %, 10.00 off. Shares 6.666… and 3.333… → 6.66 and 3.33 rounded
    down; the missing penny goes to the larger remainder (20 %): 6.67 and 3.33.
    20 %: 93.33, VAT 18.666 → 18.67. 5 %: 46.67, VAT 2.3335 → 2.33. Net 140.00, VAT 21.00, total 161.00."""
    invoice = _draft(app, world, lines=TWO_RATES, discount="10.00")
    assert invoice.discount_minor == 1000
    assert invoice.discounts == (DiscountSnapshot("S", Decimal(20), 667), DiscountSnapshot("S", Decimal(5), 333))
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (14000, 2100, 16100)
    assert [line.net_minor for line in invoice.lines] == [10000, 5000]  # line nets are not changed
    with app.test_request_context():
        again = api.get_invoice(world.acme, invoice.id)
    assert again.discount_minor == 1000 and again.discounts == invoice.discounts and again.total_minor == 16100


def test_without_a_discount_the_totals_are_as_before(app, world):
    invoice = _draft(app, world, lines=TWO_RATES)
    # 20 %: 100.00, VAT 20.00; 5 %: 50.00, VAT 2.50.
    assert (invoice.discount_minor, invoice.discounts) == (0, ())
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (15000, 2250, 17250)


def test_a_discount_on_an_amount_only_draft(app, world):
    invoice = _draft(app, world, amount="100.00", description="Audit", discount=1500)
    assert invoice.discounts == (DiscountSnapshot("O", Decimal(0), 1500),)
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (8500, 0, 8500)
    assert [line.net_minor for line in invoice.lines] == [10000]


def test_a_discount_is_kept_on_edit_and_removed_by_an_edit_without_one(app, world):
    invoice = _draft(app, world, lines=TWO_RATES, discount="10.00")
    with app.test_request_context():
        edited = api.update_draft(world.acme, ACTOR, invoice.id, api.DraftInput(
            client_id=world.client_a, currency="GBP", lines=TWO_RATES, discount="15.00"))
        assert edited.discount_minor == 1500 and edited.discounts == (
            DiscountSnapshot("S", Decimal(20), 1000), DiscountSnapshot("S", Decimal(5), 500))
        plain = api.update_draft(world.acme, ACTOR, invoice.id, api.DraftInput(
            client_id=world.client_a, currency="GBP", lines=TWO_RATES))
    assert (plain.discount_minor, plain.discounts, plain.total_minor) == (0, (), 17250)


@pytest.mark.parametrize(("discount", "says"), [
    ("-5", ""), ("abc", ""), ("1.001", "decimal"), ("150.01", "more than"), ("1e3", ""), ("NaN", ""),
    ("150.00", "total after the discount"),  # nothing left to charge: Stripe's minimum
])
def test_bad_discounts_are_refused_and_nothing_is_saved(app, world, discount, says):
    before = invoice_and_line_counts(app)
    with app.test_request_context(), pytest.raises(api.ValidationFailed) as caught:
        api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP", lines=TWO_RATES,
                         discount=discount)
    assert set(caught.value.errors) == {"discount"}
    assert says in caught.value.errors["discount"]
    assert invoice_and_line_counts(app) == before


def test_a_float_or_negative_int_discount(app, world):
    with app.test_request_context():
        with pytest.raises(TypeError):
            api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP", lines=TWO_RATES,
                             discount=10.0)
        with pytest.raises(api.ValidationFailed) as caught:
            api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP", lines=TWO_RATES,
                             discount=-1)
    assert set(caught.value.errors) == {"discount"}
    assert invoice_and_line_counts(app) == (0, 0)


def test_the_printed_invoice_shows_the_discount_per_rate(app, world, staff_client):
    from tests.integration.test_documents import pdf_text

    invoice = _draft(app, world, lines=TWO_RATES, discount="10.00")
    html = staff_client.get(f"/invoicing/invoices/{invoice.id}/print").text
    for text in ("Sum of lines", "£150.00", "Discount (VAT 20 %)", "−£6.67", "Discount (VAT 5 %)", "−£3.33",
                 "£93.33", "£46.67", "Total without VAT", "£140.00", "£21.00", "£161.00"):
        assert text in html, text
    pdf = pdf_text(staff_client.get(f"/invoicing/invoices/{invoice.id}/pdf").data)
    for text in ("Sum of lines", "Discount (VAT 20 %)", "−£6.67", "−£3.33", "£93.33", "£161.00"):  # as printed
        assert text in pdf, text


def test_a_line_can_be_explicitly_without_vat_despite_a_default_rate(app, world):
    """Default 20 %: 100.00 → VAT 20.00; "none": 30.00 not subject to VAT. Net 130.00, total 150.00."""
    with app.test_request_context():
        tax_rates.create_tax_rate(world.acme, ACTOR, tax_rates.TaxRateInput(
            name="Standard", rate="20", category="S", is_default=True))
    invoice = _draft(app, world, lines=[{"description": "Consulting", "unit_price": "100.00"},
                                        {"description": "Disbursement", "unit_price": "30.00", "tax_rate": "None"}])
    assert [(l.vat_category, l.vat_rate, l.exemption_reason) for l in invoice.lines] == [
        ("S", Decimal(20), None), ("O", Decimal(0), "Not subject to VAT")]
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (13000, 2000, 15000)


def test_no_vat_with_a_rate_id_is_refused(app, world):
    with app.test_request_context():
        rate = tax_rates.create_tax_rate(world.acme, ACTOR, tax_rates.TaxRateInput(
            name="Standard", rate="20", category="S")).id
        with pytest.raises(api.ValidationFailed) as caught:
            api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP", lines=[
                {"description": "x", "unit_price": "1.00", "tax_rate": "none", "tax_rate_id": str(rate)}])
    assert set(caught.value.errors) == {"lines-0-tax_rate"}
    assert invoice_and_line_counts(app) == (0, 0)
