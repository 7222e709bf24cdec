"""The staff invoice form with lines (issue 15), with JavaScript off: "Add line", "Remove" and
"Update totals" post the form back and re-render it (nothing saved); "Save" saves the lines
with their totals; errors show next to the line's field; the amount-only form still works."""

from __future__ import annotations

import re

from sqlalchemy import select

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import Invoice
from invoicing_plugin.services import tax_rates
from tests.integration._invoice_helpers import input_value, invoice_and_line_counts

NEW = "/invoicing/invoices/new"


def _base(world, **extra):
    return {"client_id": world.client_a, "currency": "GBP", "description": "Q3 work", "send_method": "email", **extra}


def test_add_line_turns_the_amount_into_lines_and_saves_nothing(app, world, staff_client):
    page = staff_client.post(NEW, data=_base(world, amount="100.00", add_line="1"))
    assert page.status_code == 200
    html = page.text
    assert input_value(html, "lines-0-unit_price") == "100.00" and input_value(html, "lines-0-description") == "Q3 work"
    assert input_value(html, "lines-1-description") == "" and input_value(html, "lines-1-quantity") == "1"
    assert input_value(html, "lines-2-description") is None
    assert input_value(html, "amount") == ""
    assert invoice_and_line_counts(app) == (0, 0)


def test_lines_with_totals_saved_from_the_form(app, world, staff_client):
    with app.test_request_context():
        standard = tax_rates.create_tax_rate(world.acme, "t", tax_rates.TaxRateInput(
            name="Standard", rate="20", category="S", is_default=True)).id
    lines = {"lines-0-description": "Test", "lines-0-quantity": "2", "lines-0-unit": "day",
             "lines-0-unit_price": "150.00", "lines-0-tax_rate_id": str(standard),
             "lines-1-description": "Books", "lines-1-quantity": "3", "lines-1-unit_price": "12.99",
             "lines-1-tax_rate": "5",
             "lines-2-description": "Drop me", "lines-2-unit_price": "1.00"}
    removed = staff_client.post(NEW, data=_base(world, amount="", remove_line="2", **lines))
    assert removed.status_code == 200 and "Drop me" not in removed.text
    # S 20 %: 300.00, VAT 60.00; S 5 %: 38.97, VAT 1.9485 -> 1.95. Net 338.97, VAT 61.95, total 400.92.
    totals = dict(re.findall(r'data-total="(\w+)">([^<]+)<', removed.text))
    assert totals == {"net": "£338.97", "tax": "£61.95", "total": "£400.92"}
    assert invoice_and_line_counts(app) == (0, 0)

    del lines["lines-2-description"], lines["lines-2-unit_price"]
    saved = staff_client.post(NEW, data=_base(world, amount="", **lines))
    assert saved.status_code == 302
    with app.app_context():
        session = get_state(app).session
        invoice = session.scalars(select(Invoice)).one()
        assert (invoice.net_minor, invoice.tax_minor, invoice.amount_minor) == (33897, 6195, 40092)
        assert [(l.description, l.vat_rate, l.tax_rate_id) for l in invoice.lines] == [
            ("Test", 20, standard), ("Books", 5, None)]
        invoice_id = invoice.id
        session.rollback()

    edit = staff_client.get(f"/invoicing/invoices/{invoice_id}/edit").text
    assert input_value(edit, "lines-1-tax_rate") == "5" and input_value(edit, "lines-0-unit_price") == "150.00"
    assert re.search(rf'<option selected value="{standard}">', edit)
    assert input_value(edit, "lines-2-description") is None
    assert dict(re.findall(r'data-total="(\w+)">([^<]+)<', edit))["total"] == "£400.92"


def test_a_bad_line_shows_its_error_next_to_the_field_and_saves_nothing(app, world, staff_client):
    response = staff_client.post(NEW, data=_base(world, amount="", **{
        "lines-0-description": "Ok", "lines-0-unit_price": "10.00",
        "lines-1-description": "Bad", "lines-1-quantity": "abc", "lines-1-unit_price": "10.00"}))
    assert response.status_code == 422
    assert 'id="lines-1-quantity-error">Line 2: Enter the quantity as a number' in response.text
    assert invoice_and_line_counts(app) == (0, 0)


def test_the_amount_only_form_still_saves_one_line_and_edits_as_an_amount(app, world, staff_client):
    assert staff_client.post(NEW, data=_base(world, amount="1,250.50")).status_code == 302
    with app.app_context():
        session = get_state(app).session
        invoice = session.scalars(select(Invoice)).one()
        assert (invoice.amount_minor, invoice.net_minor, invoice.tax_minor, len(invoice.lines)) == (125050, 125050, 0, 1)
        invoice_id = invoice.id
        session.rollback()
    edit = staff_client.get(f"/invoicing/invoices/{invoice_id}/edit").text
    assert input_value(edit, "amount") == "1250.50" and input_value(edit, "lines-0-description") is None
    missing = staff_client.post(NEW, data=_base(world, amount=""))
    assert missing.status_code == 422 and "Enter an amount." in missing.text


def test_the_blank_line_add_line_made_is_left_out_on_save(app, world, staff_client):
    """newuser16 N10: "Add line" on an amount gives the converted line and an empty one; the form
    saved as shown (JavaScript off) keeps the typed line, not "Line 2 is empty"."""
    shown = staff_client.post(NEW, data=_base(world, amount="500", description="amt", add_line="1")).text
    posted = {name: input_value(shown, name) or "" for name in (
        "lines-0-description", "lines-0-quantity", "lines-0-unit_price", "lines-1-description", "lines-1-quantity",
        "lines-1-unit_price")}
    assert posted["lines-1-quantity"] == "1" and posted["lines-1-description"] == ""
    saved = staff_client.post(NEW, data=_base(world, amount="", description="amt", **posted))
    assert saved.status_code == 302, saved.text
    with app.app_context():
        session = get_state(app).session
        invoice = session.scalars(select(Invoice)).one()
        assert [(line.description, line.unit_price_minor) for line in invoice.lines] == [("amt", 50_000)]
        session.rollback()


def test_a_blank_line_between_lines_is_left_out_but_a_half_typed_one_is_not(app, world, staff_client):
    lines = {"lines-0-description": "Test", "lines-0-unit_price": "10.00",
             "lines-1-quantity": "1",
             "lines-2-description": "Bad", "lines-2-quantity": "abc", "lines-2-unit_price": "10.00"}
    refused = staff_client.post(NEW, data=_base(world, amount="", **lines))
    assert refused.status_code == 422
    # the blank line is gone, so the bad one is now line 2 and its error sits next to it
    assert 'id="lines-1-quantity-error">Line 2: Enter the quantity as a number' in refused.text
    half = {"lines-0-description": "Test", "lines-0-unit_price": "10.00", "lines-1-unit_price": "5.00"}
    assert staff_client.post(NEW, data=_base(world, amount="", **half)).status_code == 422
    only_blank = {"lines-0-quantity": "1"}
    assert staff_client.post(NEW, data=_base(world, amount="", **only_blank)).status_code == 422
    assert invoice_and_line_counts(app) == (0, 0)
