"""Issue 15, new-user session 15: the staff invoice (and template) form with lines.

F1 a draft keeps the net/gross basis it was saved with; F2 every refusal the service can
give reaches the page; F3 more than 100 lines is refused, never cut; F5 "Update totals"
shows a bad line's error; F6 a comma in a quantity is never guessed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import Invoice, SellerProfile
from invoicing_plugin.services import lines as line_service
from invoicing_plugin.services import parties, tax_rates
from invoicing_plugin.services.errors import ValidationFailed
from tests.integration._invoice_helpers import input_value, invoice_and_line_counts

NEW = "/invoicing/invoices/new"
NEW_TEMPLATE = "/invoicing/templates/new"
ACTOR = "user:1 Test"


def _base(world, **extra):
    return {"client_id": world.client_a, "currency": "GBP", "description": "Q3 work", "send_method": "email",
            "amount": "", **extra}


def selected(html: str, name: str) -> str | None:
    select_html = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    option = re.search(r'<option selected value="([^"]*)"', select_html.group(1)) if select_html else None
    return option.group(1) if option else None


def totals(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-total="(\w+)">([^<]+)<', html))


def _rate(app, world, rate="20"):
    with app.test_request_context():
        return tax_rates.create_tax_rate(world.acme, ACTOR, tax_rates.TaxRateInput(
            name=f"Standard {rate}", rate=rate, category="S")).id


def _set_gross(app, world, gross: bool):
    with app.app_context():
        session = get_state(app).session
        if session.scalar(select(SellerProfile).where(SellerProfile.workspace_id == world.acme)) is None:
            session.add(SellerProfile(workspace_id=world.acme, legal_name="Acme Security Ltd", country="GB",
                                      vat_id="GB980780684"))
            session.commit()
        session.rollback()
    with app.test_request_context():
        tax_rates.set_prices_include_tax(world.acme, ACTOR, gross)


def _stored(app, invoice_id):
    with app.app_context():
        session = get_state(app).session
        invoice = session.get(Invoice, invoice_id)
        out = (invoice.amount_minor, invoice.prices_include_tax)
        session.rollback()
        return out


def _edit_and_save(staff_client, invoice_id):
    """Open the edit page and post it back unchanged, as "Save changes" does."""
    html = staff_client.get(f"/invoicing/invoices/{invoice_id}/edit").text
    data = {}
    for tag in re.findall(r"<input[^>]*>", html):  # what a browser posts: unchecked boxes are not sent
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name is None or value is None or name.group(1).startswith("csrf"):
            continue
        if re.search(r'type="(checkbox|radio)"', tag) and not re.search(r"\bchecked\b", tag):
            continue
        data[name.group(1)] = value.group(1)
    for name in re.findall(r'<select[^>]*name="([^"]+)"', html):
        data[name] = selected(html, name) or ""
    data["description"] = re.search(r'<textarea[^>]*name="description"[^>]*>\s*([^<]*)</textarea>', html).group(1).strip()
    data["send_method"] = "email"
    return html, staff_client.post(f"/invoicing/invoices/{invoice_id}/edit", data=data)


# --- F1: a draft keeps its net/gross basis ------------------------------------------------------------


@pytest.mark.parametrize(("saved_gross", "typed", "total_minor", "total_text"), [
    (True, "120.00", 12000, "£120.00"),  # gross 120.00 at 20 % is 120.00 in all, not 144.00
    (False, "10.00", 1482, "£14.82"),  # net 1.2345 × 10.00 = 12.35 + VAT 2.47 = 14.82, not 12.35
])
def test_switching_the_workspace_basis_never_changes_an_existing_draft(app, world, staff_client, saved_gross,
                                                                       typed, total_minor, total_text):
    rate = _rate(app, world)
    _set_gross(app, world, saved_gross)
    quantity = "1" if saved_gross else "1.2345"
    saved = staff_client.post(NEW, data=_base(world, **{
        "lines-0-description": "Work", "lines-0-quantity": quantity, "lines-0-unit_price": typed,
        "lines-0-tax_rate_id": str(rate)}))
    assert saved.status_code == 302
    invoice_id = int(saved.headers["Location"].rstrip("/").split("/")[-1])
    assert _stored(app, invoice_id) == (total_minor, saved_gross)

    _set_gross(app, world, not saved_gross)  # the workspace switches

    html, response = _edit_and_save(staff_client, invoice_id)
    assert selected(html, "prices_basis") == ("gross" if saved_gross else "net")
    assert totals(html)["total"] == total_text
    assert ("incl. VAT" if saved_gross else "excl. VAT") in html  # the form says which
    assert response.status_code == 302
    assert _stored(app, invoice_id) == (total_minor, saved_gross)


def test_the_form_can_choose_the_other_basis_and_the_api_keeps_the_drafts(app, world, staff_client):
    """Choosing the other basis on the form reads the typed prices that way (not converted);
    the service keeps an edited draft's basis when none is given (the API's update_draft)."""
    rate = _rate(app, world)
    _set_gross(app, world, False)
    lines = {"lines-0-description": "Work", "lines-0-unit_price": "120.00", "lines-0-tax_rate_id": str(rate)}
    preview = staff_client.post(NEW, data=_base(world, prices_basis="gross", recalculate="1", **lines))
    assert totals(preview.text)["total"] == "£120.00" and "incl. VAT" in preview.text
    saved = staff_client.post(NEW, data=_base(world, prices_basis="gross", **lines))
    invoice_id = int(saved.headers["Location"].rstrip("/").split("/")[-1])
    assert _stored(app, invoice_id) == (12000, True)

    with app.test_request_context():
        api.update_draft(world.acme, ACTOR, invoice_id, api.DraftInput(
            client_id=world.client_a, lines=[{"description": "Work", "unit_price": "120.00",
                                              "tax_rate_id": str(rate)}]))
    assert _stored(app, invoice_id) == (12000, True)


# --- F2: every refusal reaches the page ---------------------------------------------------------------


@pytest.mark.parametrize("send_method", ["manual", "email"])
@pytest.mark.parametrize(("quantity", "price", "words"), [("1000", "1000", "at most £999,999.99"),
                                                         ("1", "0.01", "at least £0.30")])
def test_a_total_stripe_cannot_charge_is_explained_on_the_form(app, world, staff_client, send_method, quantity,
                                                               price, words):
    rate = _rate(app, world)
    response = staff_client.post(NEW, data=_base(world, send_method=send_method, **{
        "lines-0-description": "Work", "lines-0-quantity": quantity, "lines-0-unit_price": price,
        "lines-0-tax_rate_id": str(rate)}))
    assert response.status_code == 422
    assert "The total with VAT" in response.text and words in response.text
    assert invoice_and_line_counts(app) == (0, 0)


def _service_error_keys(source: str) -> set[str]:
    """Every literal error key the draft's validation can give (so a new one is caught here)."""
    return set(re.findall(r'errors(?:\.setdefault\(|\[)"([a-z_]+)"', source))


LINE_KEYS = [f"lines-0-{field}" for field in line_service.LINE_FIELDS] + ["lines", "lines-7-quantity"]


@pytest.mark.parametrize("page", ["new", "edit"])
def test_every_error_the_draft_service_can_give_is_shown_on_the_invoice_form(app, world, staff_client, monkeypatch,
                                                                             page):
    root = Path(line_service.__file__).parent
    keys = set()
    for module in ("drafts.py", "lines.py", "parties.py"):
        keys |= _service_error_keys((root / module).read_text())
    keys |= {column for column, _, _ in parties.BUYER_FIELDS.values()}
    keys |= {"supply_start", "supply_end", "supply_date", "payment_terms"}
    keys |= set(LINE_KEYS)
    errors = {key: f"MESSAGE[{key}]" for key in sorted(keys)}  # none a prefix of another

    def refuse(*args, **kwargs):
        raise ValidationFailed(dict(errors))

    from invoicing_plugin.web import invoices as views
    url = NEW
    if page == "edit":
        with app.test_request_context():
            draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="10.00", description="D")
        url = f"/invoicing/invoices/{draft.id}/edit"
    monkeypatch.setattr(views.service, "create_draft", refuse)
    monkeypatch.setattr(views.service, "update_draft", refuse)
    response = staff_client.post(url, data=_base(world, **{"lines-0-description": "Work", "lines-0-unit_price": "1.00"}))
    assert response.status_code == 422
    missing = [key for key, message in errors.items() if message not in response.text]
    assert missing == []


def test_every_error_the_template_service_can_give_is_shown_on_the_template_form(app, world, staff_client,
                                                                                 monkeypatch):
    root = Path(line_service.__file__).parent
    keys = _service_error_keys((root / "templates.py").read_text()) | set(LINE_KEYS)
    errors = {key: f"MESSAGE[{key}]" for key in sorted(keys)}  # none a prefix of another

    def refuse(*args, **kwargs):
        raise ValidationFailed(dict(errors))

    from invoicing_plugin.web import invoices as views
    monkeypatch.setattr(views.template_service, "create_template", refuse)
    response = staff_client.post(NEW_TEMPLATE, data={"name": "T", "currency": "GBP", "send_method": "email",
                                                     "lines-0-description": "Work", "lines-0-unit_price": "1.00"})
    assert response.status_code == 422
    missing = [key for key, message in errors.items() if message not in response.text]
    assert missing == []


# --- F3: at most 100 lines, refused clearly -----------------------------------------------------------


@pytest.mark.parametrize("count", [101, 200])
def test_more_than_100_lines_are_refused_not_cut(app, world, staff_client, count):
    lines = {f"lines-{i}-{field}": text for i in range(count)
             for field, text in (("description", f"Item {i}"), ("unit_price", "1.00"), ("tax_rate", "20"))}
    response = staff_client.post(NEW, data=_base(world, **lines))
    assert response.status_code == 422
    assert "An invoice has at most 100 lines." in response.text
    assert invoice_and_line_counts(app) == (0, 0)


def test_add_line_at_100_lines_says_why_nothing_was_added(app, world, staff_client):
    lines = {f"lines-{i}-{field}": text for i in range(100)
             for field, text in (("description", f"Item {i}"), ("unit_price", "1.00"))}
    response = staff_client.post(NEW, data=_base(world, add_line="1", **lines))
    assert response.status_code == 200
    assert input_value(response.text, "lines-99-description") == "Item 99"
    assert input_value(response.text, "lines-100-description") is None
    assert "at most 100 lines; no line was added" in response.text


# --- F5: "Update totals" shows a bad line's error ------------------------------------------------------


@pytest.mark.parametrize("bad", ["abc", "1,5"])
def test_update_totals_with_a_bad_line_shows_its_error(app, world, staff_client, bad):
    rate = _rate(app, world)
    response = staff_client.post(NEW, data=_base(world, recalculate="1", **{
        "lines-0-description": "Good", "lines-0-quantity": "2", "lines-0-unit_price": "100",
        "lines-0-tax_rate_id": str(rate),
        "lines-1-description": "Bad", "lines-1-quantity": bad, "lines-1-unit_price": "10"}))
    assert response.status_code == 200
    assert 'id="lines-1-quantity-error">Line 2:' in response.text
    assert "The totals show once every line above reads correctly." in response.text
    assert invoice_and_line_counts(app) == (0, 0)


def test_update_totals_with_a_bad_discount_shows_its_error(app, world, staff_client):
    response = staff_client.post(NEW, data=_base(world, recalculate="1", discount="500.00", **{
        "lines-0-description": "Good", "lines-0-unit_price": "100"}))
    assert response.status_code == 200
    assert 'id="discount-error"' in response.text


# --- F6: a comma in a quantity or price is never guessed --------------------------------------------------


@pytest.mark.parametrize(("field", "text", "words"), [
    ("quantity", "1,000", "use a point for decimals"), ("quantity", "1,5", "use a point for decimals"),
    ("unit_price", "12,345", "Is “12,345” 12345 or a decimal?"), ("discount", "1,000", "Is “1,000” 1000"),
    ("tax_rate", "20,5", "use a point for decimals"), ("quantity", "-2", "A quantity cannot be negative."),
])
def test_ambiguous_commas_in_a_line_are_refused_on_the_form(app, world, staff_client, field, text, words):
    line = {"lines-0-description": "Work", "lines-0-quantity": "1", "lines-0-unit_price": "2000.00",
            f"lines-0-{field}": text}
    response = staff_client.post(NEW, data=_base(world, **line))
    assert response.status_code == 422
    assert f'id="lines-0-{field}-error">Line 1: ' in response.text and words in response.text
    assert invoice_and_line_counts(app) == (0, 0)


def test_add_line_turns_an_amount_with_thousands_separators_into_a_plain_price(app, world, staff_client):
    response = staff_client.post(NEW, data=_base(world, amount="2,000", add_line="1"))
    assert input_value(response.text, "lines-0-unit_price") == "2000"


# --- F7: a typed VAT % and a chosen rate together ----------------------------------------------------------


def test_a_chosen_rate_and_a_typed_percent_together_are_refused(app, world, staff_client):
    rate = _rate(app, world)
    response = staff_client.post(NEW, data=_base(world, **{
        "lines-0-description": "Work", "lines-0-unit_price": "100", "lines-0-tax_rate_id": str(rate),
        "lines-0-tax_rate": "5"}))
    assert response.status_code == 422 and "not both" in response.text
    assert invoice_and_line_counts(app) == (0, 0)


# --- F9: a rate edited after the line was priced ------------------------------------------------------------


def test_editing_a_rate_does_not_change_a_draft_through_its_edit_page(app, world, staff_client):
    reduced = _rate(app, world, "5")
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, description="D", lines=[
            {"description": "Work", "unit_price": "100", "tax_rate_id": str(reduced)}])
        tax_rates.update_tax_rate(world.acme, ACTOR, reduced, tax_rates.TaxRateInput(
            name="Standard 5", rate="10", category="S"))
    assert _stored(app, draft.id) == (10500, False)

    html, response = _edit_and_save(staff_client, draft.id)
    assert totals(html)["total"] == "£105.00" and input_value(html, "lines-0-tax_rate") == "5"
    assert response.status_code == 302
    assert _stored(app, draft.id) == (10500, False)


# --- F14: the staff detail page shows the VAT breakdown --------------------------------------------------------


def test_the_detail_page_shows_net_vat_and_the_price_basis(app, world, staff_client):
    rate = _rate(app, world)
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, description="D", lines=[
            {"description": "Work", "quantity": "2", "unit_price": "100", "tax_rate_id": str(rate)}])
    html = staff_client.get(f"/invoicing/invoices/{draft.id}").text
    fields = dict(re.findall(r'data-field="([\w-]+)">([^<]+)<', html))
    assert fields["amount"].strip() == "£240.00" and fields["net"] == "£200.00" and fields["tax"] == "£40.00"
    assert fields["prices-basis"] == "without VAT (net)"


# --- F12: an empty extra line ----------------------------------------------------------------------------


def test_an_empty_extra_line_is_left_out_and_a_form_of_only_empty_lines_says_to_fill_one_in(app, world,
                                                                                               staff_client):
    """An untouched extra line (quantity still 1, nothing else typed) is left out on save when
    a typed line remains (newuser16 N10, docs/invoices.md "leaves out lines nobody typed in");
    a form whose only line is untouched says so on that line, not "Enter a unit price"."""
    saved = staff_client.post(NEW, data=_base(world, **{
        "lines-0-description": "Work", "lines-0-unit_price": "100", "lines-1-quantity": "1"}))
    assert saved.status_code == 302, saved.text
    response = staff_client.post(NEW, data=_base(world, **{"lines-0-quantity": "1"}))
    assert response.status_code == 422
    assert 'id="lines-0-description-error">Line 1 is empty: fill it in, or remove it.' in response.text
    assert "Line 1: Enter" not in response.text
