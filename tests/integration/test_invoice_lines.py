"""Invoice lines, tax rates and EN 16931 totals through the service and the public API (issue 15).

The arithmetic is hand-worked in each test (in the style of the standard's examples):
line net = quantity × unit price rounded half up to the currency's unit, minus the line
discount; VAT per (category, rate) on that group's net total, rounded once, half up;
totals are exact sums. Nothing is saved when any field of any line is wrong.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import Invoice, InvoiceLine, SellerProfile
from invoicing_plugin.services import tax_rates

ACTOR = "system:test"


def _count(app, model) -> int:
    with app.app_context():
        session = get_state(app).session
        total = session.scalar(select(func.count()).select_from(model))
        session.rollback()
        return total


def _draft(app, world, lines, **kwargs):
    with app.test_request_context():
        return api.create_draft(world.acme, ACTOR, client_id=world.client_a, lines=lines, **kwargs)


def _add_rate(app, workspace, **fields):
    with app.test_request_context():
        return tax_rates.create_tax_rate(workspace, ACTOR, tax_rates.TaxRateInput(**fields)).id


def _gross_prices(app, workspace):
    with app.app_context():
        session = get_state(app).session
        session.add(SellerProfile(workspace_id=workspace, legal_name="Acme Security Ltd", country="GB",
                                  vat_id="GB980780684"))
        session.commit()
    with app.test_request_context():
        tax_rates.set_prices_include_tax(workspace, ACTOR, True)


def test_lines_at_several_rates_hand_worked_in_gbp(app, world):
    """S 20 %: 2 × 150.00 = 300.00 and 1.5 × 33.33 = 49.995 → 50.00 (half up): 350.00, VAT 70.00.
    Z 0 %: 1 × 45.00 − 5.00 discount = 40.00, VAT 0. S 5 %: 3 × 12.99 = 38.97, VAT 1.9485 → 1.95.
    Net 428.97 + VAT 71.95 = 500.92."""
    invoice = _draft(app, world, [
        {"description": "Penetration test", "quantity": "2", "unit": "day", "unit_price": "150.00", "tax_rate": "20"},
        {"description": "Report writing", "quantity": "1.5", "unit": "hour", "unit_price": "33.33", "tax_rate": "20 %"},
        {"description": "Travel", "unit_price": "45.00", "discount": "5.00", "tax_rate": "0"},
        {"description": "Books", "quantity": "3", "unit_price": "12.99", "tax_rate": "5"},
    ], currency="GBP")

    assert [line.net_minor for line in invoice.lines] == [30000, 5000, 4000, 3897]
    assert [(line.vat_category, line.vat_rate) for line in invoice.lines] == [
        ("S", Decimal(20)), ("S", Decimal(20)), ("Z", Decimal(0)), ("S", Decimal(5))]
    assert invoice.lines[1].quantity == Decimal("1.5") and invoice.lines[1].unit == "hour"
    assert invoice.lines[2].quantity == Decimal(1) and invoice.lines[2].discount_minor == 500
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (42897, 7195, 50092)
    assert invoice.amount_minor == invoice.total_minor == 50092
    assert invoice.description == "Penetration test"  # the first line's, when none is given
    with app.test_request_context():
        again = api.get_invoice(world.acme, invoice.id)
    assert again.lines == invoice.lines and again.net_minor == 42897 and again.tax_minor == 7195


def test_vat_is_rounded_once_per_rate_not_per_line(app, world):
    """Three lines of 10.01 at 20 %: per line 2.002 → 2.00 would give 6.00, but BR-CO-17 rounds the
    group: 30.03 × 20 % = 6.006 → 6.01. Total 36.04."""
    invoice = _draft(app, world, [{"description": f"Item {n}", "unit_price": "10.01", "tax_rate": "20"}
                                  for n in range(3)], currency="EUR", description="Items")
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (3003, 601, 3604)
    assert invoice.description == "Items"


def test_the_amount_form_still_makes_one_line_without_vat(app, world):
    with app.test_request_context():
        invoice = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1,250.50",
                                   description="Audit", currency="GBP")
    (line,) = invoice.lines
    assert (line.description, line.quantity, line.unit_price_minor, line.net_minor) == (
        "Audit", Decimal(1), 125050, 125050)
    assert (line.vat_category, line.vat_rate, line.exemption_reason) == ("O", Decimal(0), "Not subject to VAT")
    assert (invoice.amount_minor, invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (
        125050, 125050, 0, 125050)


def test_every_bad_field_of_every_line_is_reported_and_nothing_is_saved(app, world):
    before = (_count(app, Invoice), _count(app, InvoiceLine))
    with app.test_request_context(), pytest.raises(api.ValidationFailed) as caught:
        api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP", lines=[
            {"description": "Fine", "quantity": "1", "unit_price": "100.00", "tax_rate": "20"},
            {"description": "", "quantity": "abc", "unit_price": "1.234", "tax_rate": "120"},
            {"description": "Too much off", "unit_price": "10.00", "discount": "20.00"},
            {"description": "Negative", "quantity": "-1", "unit_price": "10", "tax_rate": "20", "tax_rate_id": "1"},
        ])
    errors = caught.value.errors
    assert set(errors) == {"lines-1-description", "lines-1-quantity", "lines-1-unit_price", "lines-1-tax_rate",
                           "lines-2-discount", "lines-3-quantity", "lines-3-tax_rate"}
    assert errors["lines-1-quantity"].startswith("Line 2: ")
    assert "2 decimal" in errors["lines-1-unit_price"]
    assert "more than the line" in errors["lines-2-discount"]
    assert (_count(app, Invoice), _count(app, InvoiceLine)) == before


@pytest.mark.parametrize("lines, key", [
    ([], "lines"),
    ([{"description": "Tiny", "unit_price": "0.10"}], "lines"),  # total below Stripe's minimum charge
    ([{"description": "x\x00", "unit_price": "10"}], "lines-0-description"),
])
def test_lines_as_a_whole_are_checked(app, world, lines, key):
    before = _count(app, Invoice)
    with app.test_request_context(), pytest.raises(api.ValidationFailed) as caught:
        api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP", lines=lines)
    assert key in caught.value.errors
    assert _count(app, Invoice) == before


def test_an_amount_and_lines_together_are_refused(app, world):
    with app.test_request_context(), pytest.raises(api.ValidationFailed) as caught:
        api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="10.00", description="x",
                         lines=[{"description": "y", "unit_price": "10.00"}])
    assert "either an amount or lines" in caught.value.errors["amount"]


def test_workspace_rates_by_id_and_the_default_rate(app, world):
    standard = _add_rate(app, world.acme, name="Standard", rate="20", category="S", is_default=True)
    reverse = _add_rate(app, world.acme, name="EU reverse charge", rate="", category="AE",
                        note="Reverse charge: the customer accounts for VAT (Article 196, Directive 2006/112/EC)")
    theirs = _add_rate(app, world.northwind, name="Standard", rate="20", category="S")

    invoice = _draft(app, world, [
        {"description": "Consulting", "quantity": "4", "unit_price": "250.00"},  # the default rate
        {"description": "Licence", "unit_price": "500.00", "tax_rate_id": str(reverse)},
    ], currency="EUR")
    assert [(l.vat_category, l.vat_rate, l.tax_rate_id) for l in invoice.lines] == [
        ("S", Decimal(20), standard), ("AE", Decimal(0), reverse)]
    assert invoice.lines[1].exemption_reason.startswith("Reverse charge")
    # S 20 %: 1000.00, VAT 200.00; AE: 500.00, VAT 0. Net 1500.00, VAT 200.00, total 1700.00.
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (150000, 20000, 170000)

    for foreign in (str(theirs), "999999", "abc"):  # another workspace's rate is not found
        with app.test_request_context(), pytest.raises(api.ValidationFailed) as caught:
            api.create_draft(world.acme, ACTOR, client_id=world.client_a,
                             lines=[{"description": "x", "unit_price": "10", "tax_rate_id": foreign}])
        assert "not found" in caught.value.errors["lines-0-tax_rate_id"]
    with app.test_request_context():
        tax_rates.archive_tax_rate(world.acme, ACTOR, standard)
    plain = _draft(app, world, [{"description": "After archive", "unit_price": "10.00"}], currency="GBP")
    assert plain.lines[0].vat_category == "O" and plain.tax_minor == 0  # no default any more


def test_gross_prices_reproduce_the_typed_total(app, world):
    """Prices typed with VAT (20 %): 3 × 10.00 + 1 × 0.05 = 30.05 typed. Net 30.05 / 1.2 =
    25.0417 → 25.04; VAT 25.04 × 20 % = 5.008 → 5.01; 25.04 + 5.01 = 30.05, as typed. Line nets:
    30.00 / 1.2 = 25.00 and 0.05 / 1.2 = 0.0417 → 0.04."""
    _gross_prices(app, world.acme)
    invoice = _draft(app, world, [
        {"description": "Hours", "quantity": "3", "unit_price": "10.00", "tax_rate": "20"},
        {"description": "Stamp", "unit_price": "0.05", "tax_rate": "20"},
    ], currency="GBP")
    assert invoice.prices_include_tax
    assert [(l.unit_price_minor, l.net_minor) for l in invoice.lines] == [(1000, 2500), (5, 4)]
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (2504, 501, 3005)


def test_gross_prices_share_the_rounding_difference_and_say_when_a_total_cannot_be_reached(app, world):
    """0.10 + 0.10 typed at 20 %: the group's net 0.20 / 1.2 = 0.1667 → 0.17 (VAT 0.034 → 0.03, total
    0.20 as typed); each line alone is 0.0833 → 0.08, so the 0.01 left over goes to the first of the
    largest lines: 0.09 and 0.08. The zero-rated 10.00 is its own net.
    Then 0.03 typed at 20 % has no net that gives it (0.02 + 0.00 = 0.02, 0.03 + 0.01 = 0.04): the
    rounded net 0.03 is kept and the total is one penny above what was typed (documented)."""
    _gross_prices(app, world.acme)
    shared = _draft(app, world, [
        {"description": "A", "unit_price": "0.10", "tax_rate": "20"},
        {"description": "B", "unit_price": "0.10", "tax_rate": "20"},
        {"description": "C", "unit_price": "10.00", "tax_rate": "0"},
    ], currency="GBP")
    assert [l.net_minor for l in shared.lines] == [9, 8, 1000]
    assert (shared.net_minor, shared.tax_minor, shared.total_minor) == (1017, 3, 1020)

    unreachable = _draft(app, world, [
        {"description": "A", "unit_price": "0.03", "tax_rate": "20"},
        {"description": "C", "unit_price": "10.00", "tax_rate": "0"},
    ], currency="GBP")
    assert [l.net_minor for l in unreachable.lines] == [3, 1000]
    assert unreachable.total_minor == 1004  # typed 10.03


def test_editing_a_draft_replaces_its_lines(app, world):
    invoice = _draft(app, world, [{"description": f"L{n}", "unit_price": "10.00", "tax_rate": "20"}
                                  for n in range(3)], currency="GBP")
    with app.test_request_context():
        edited = api.update_draft(world.acme, ACTOR, invoice.id, api.DraftInput(
            client_id=world.client_a, currency="GBP",
            lines=[{"description": "Only", "quantity": "2", "unit_price": "7.50", "tax_rate": "5"}]))
    assert [(l.position, l.description, l.net_minor) for l in edited.lines] == [(1, "Only", 1500)]
    # 15.00 at 5 %: VAT 0.75.
    assert (edited.net_minor, edited.tax_minor, edited.total_minor) == (1500, 75, 1575)
    with app.test_request_context():
        back = api.update_draft(world.acme, ACTOR, invoice.id, api.DraftInput(
            client_id=world.client_a, amount="12.00", description="Back to an amount", currency="GBP"))
    assert [(l.vat_category, l.net_minor) for l in back.lines] == [("O", 1200)]
    assert (back.net_minor, back.tax_minor, back.total_minor) == (1200, 0, 1200)
    with app.app_context():
        session = get_state(app).session
        assert session.scalars(select(InvoiceLine.position).where(InvoiceLine.invoice_id == invoice.id)).all() == [1]
        session.rollback()


def test_templates_carry_lines_checked_like_a_drafts(app, world):
    from invoicing_plugin.services import templates

    typed = [{"description": "Retainer", "quantity": "1", "unit": "month", "unit_price": "1,000.00", "tax_rate": "20"},
             {"description": "Hosting", "unit_price": "20", "tax_rate": ""}]
    with app.test_request_context():
        template = templates.create_template(world.acme, ACTOR, templates.TemplateInput(
            name="Monthly", currency="GBP", lines=typed))
        defaults = templates.draft_defaults(templates.get_template(world.acme, template.id))
        assert defaults["lines"] == [
            {"description": "Retainer", "quantity": "1", "unit": "month", "unit_price": "1,000.00", "tax_rate": "20"},
            {"description": "Hosting", "unit_price": "20"}]
        assert defaults["amount"] == ""
        invoice = api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP",
                                   lines=defaults["lines"])
        assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (102000, 20000, 122000)
        with pytest.raises(api.ValidationFailed) as caught:
            templates.create_template(world.acme, ACTOR, templates.TemplateInput(
                name="Broken", currency="GBP", lines=[{"description": "x", "quantity": "0", "unit_price": "1"}]))
        assert set(caught.value.errors) == {"lines-0-quantity"}
        assert [t.name for t in templates.list_templates(world.acme)] == ["Monthly"]


def test_the_printed_invoice_shows_lines_vat_breakdown_and_totals(app, world, staff_client):
    from tests.integration.test_documents import pdf_text

    reverse = _add_rate(app, world.acme, name="EU reverse charge", rate="0", category="AE",
                        note="Reverse charge: the customer accounts for VAT")
    invoice = _draft(app, world, [
        {"description": "Penetration test", "quantity": "2", "unit": "day", "unit_price": "150.00", "tax_rate": "20"},
        {"description": "Report writing", "quantity": "1.5", "unit": "hour", "unit_price": "33.33",
         "discount": "0.99", "tax_rate": "20"},
        {"description": "Licence", "unit_price": "500.00", "tax_rate_id": str(reverse)},
    ], currency="EUR")
    # S 20 %: 300.00 + (49.995 → 50.00 − 0.99 = 49.01) = 349.01, VAT 69.802 → 69.80; AE: 500.00, VAT 0.
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (84901, 6980, 91881)

    html = staff_client.get(f"/invoicing/invoices/{invoice.id}/print").text
    for text in ("Penetration test", "Report writing", "Licence", ">1.5<", ">hour<", "€33.33", "€0.99",
                 "€49.01", "20 %", "0 % AE", "VAT 20 %", "€349.01", "€69.80", "Reverse charge",
                 "Reverse charge: the customer accounts for VAT", "Total without VAT", "€849.01", "€918.81"):
        assert text in html, text
    pdf = pdf_text(staff_client.get(f"/invoicing/invoices/{invoice.id}/pdf").data)
    for text in ("Penetration test", "1.5", "hour", "€150.00", "€0.99", "€49.01", "VAT 20 %", "0 % AE",
                 "€349.01", "€69.80", "Reverse charge: the customer accounts for VAT",
                 "Total without VAT", "€849.01", "€918.81"):  # as the print page writes them (issue 16)
        assert text in pdf, text
    assert "EUR" not in pdf


def test_an_amount_only_invoice_prints_as_one_line_not_subject_to_vat(app, world, staff_client):
    with app.test_request_context():
        invoice = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1,250.50",
                                   description="Audit", currency="GBP")
    html = staff_client.get(f"/invoicing/invoices/{invoice.id}/print").text
    assert html.count('class="inv-doc__line"') == 1
    assert "Not subject to VAT" in html and "£1,250.50" in html and "£0.00" in html


def test_a_listed_page_loads_its_lines_in_one_query(app, world):
    from sqlalchemy import event

    for n in range(4):
        _draft(app, world, [{"description": f"L{n}", "unit_price": "10.00", "tax_rate": "20"},
                            {"description": "Extra", "unit_price": "1.00"}], currency="GBP")
    with app.test_request_context():
        engine = get_state(app).session.get_bind()
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            listed = api.list_invoices(world.acme)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert [[l.description for l in i.lines] for i in listed] == [[f"L{n}", "Extra"] for n in (3, 2, 1, 0)]
    assert sum("invoicing_invoice_lines" in s for s in statements) == 1
