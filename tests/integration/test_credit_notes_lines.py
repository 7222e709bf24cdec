"""Issue 15: credit notes for chosen invoice lines and quantities, through the API and the staff
page (JavaScript off: plain form posts), with the tax of a partly credited line worked by hand.
EN 16931 treats a credit note (type 381) as an invoice with the same terms: lines, VAT per rate,
totals. Refusals change nothing (no note, no number, no credited sum)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import CreditNote, CreditNoteLine, CreditNoteSequence, InvoiceLine
from invoicing_plugin.services.seller import SellerInput, save_seller_profile
from tests.integration._invoice_helpers import ACTOR, load
from tests.integration.test_invoice_parties import set_client

SELLER = SellerInput(legal_name="Acme Security Ltd", address_line1="1 Threadneedle Street", city="London",
                     post_code="EC2R 8AH", country="GB", vat_id="GB980780684")
REASON = "Hour 3 of the workshop was cancelled"
LINES = [
    {"description": "Workshop", "quantity": "3", "unit": "hour", "unit_price": "33.33", "tax_rate": "20"},
    {"description": "Printed handbook", "quantity": "2", "unit_price": "80.00", "tax_rate": "0"},
]


def _sent(app, world, lines=LINES, workspace=None, client=None):
    """A manual invoice: 3 h × £33.33 at 20 % (99.99 + VAT 20.00) and 2 × £80.00 zero rated:
    net 259.99, VAT 20.00, total £279.99. The seller and buyer have what a VAT invoice needs."""
    with app.test_request_context():
        save_seller_profile(workspace or world.acme, ACTOR, SELLER)
    set_client(app, client or world.client_a, legal_name="Globex Corporation Ltd", address_line1="20 Canada Square",
               city="London", post_code="E14 5NP", country="GB", vat_id="GB 314 1592 28")
    with app.test_request_context():
        draft = api.create_draft(workspace or world.acme, ACTOR, client_id=client or world.client_a, lines=lines,
                                 currency="GBP", description="Training", send_method="manual")
        return api.send(workspace or world.acme, ACTOR, draft.id, method="manual")


def _credit(app, world, invoice_id, workspace=None, **kwargs):
    kwargs.setdefault("reason", REASON)
    with app.test_request_context():
        return api.create_credit_note(workspace or world.acme, ACTOR, invoice_id, **kwargs)


def _state(app):
    with app.app_context():
        session = get_state(app).session
        got = (session.scalars(select(CreditNote.number)).all(), session.scalars(select(CreditNoteLine.id)).all(),
               session.scalars(select(CreditNoteSequence.next_value)).all())
        session.rollback()
    return got


def _line_ids(app, invoice_id):
    with app.app_context():
        session = get_state(app).session
        ids = session.scalars(select(InvoiceLine.id).where(InvoiceLine.invoice_id == invoice_id)
                              .order_by(InvoiceLine.position)).all()
        session.rollback()
    return ids


def test_one_hour_of_a_line_is_credited_with_its_vat_worked_by_hand(app, world):
    invoice = _sent(app, world)
    assert (invoice.net_minor, invoice.tax_minor, invoice.amount_minor) == (25_999, 2_000, 27_999)
    # 1 of 3 hours: net 99.99 × 1/3 = 33.33; VAT 20 % of 33.33 = 6.666 -> 6.67; total 40.00.
    note = _credit(app, world, invoice.id, lines=[{"position": 1, "quantity": "1"}])
    assert (note.net_minor, note.tax_minor, note.amount_minor, note.settlement) == (3_333, 667, 4_000, "reduces_due")
    [line] = note.lines
    assert (line.position, line.description, line.quantity, line.unit, line.unit_price_minor, line.net_minor) == (
        1, "Workshop", line.quantity, "hour", 3_333, 3_333)
    assert str(line.quantity) == "1"
    assert note.vat_breakdown == ({"category": "S", "rate": "20", "taxable_minor": 3_333, "tax_minor": 667,
                                   "exemption_reason": None},)
    stored = load(app, invoice.id)
    assert (stored.status, stored.amount_credited_minor) == ("sent", 4_000)
    # The second hour: cumulative VAT 13.33 less 6.67 = 6.66, so 39.99; by the line's id this time.
    first_line = _line_ids(app, invoice.id)[0]
    second = _credit(app, world, invoice.id, lines=[{"line_id": str(first_line), "quantity": "1"}])
    assert (second.net_minor, second.tax_minor, second.amount_minor) == (3_333, 666, 3_999)
    # Only one hour is left of the line.
    before = _state(app)
    with pytest.raises(api.ValidationFailed) as refused:
        _credit(app, world, invoice.id, lines=[{"position": 1, "quantity": "1.5"}])
    assert "at most 1 of invoice line 1" in refused.value.errors["lines-0-quantity"]
    assert _state(app) == before and load(app, invoice.id).amount_credited_minor == 7_999


def test_crediting_every_line_left_credits_exactly_what_is_due_and_closes_the_invoice(app, world):
    invoice = _sent(app, world)
    _credit(app, world, invoice.id, lines=[{"position": 1, "quantity": "1"}])  # 40.00
    # All that is left of both lines (no quantity: all of it): 2 h (66.66 + VAT 13.33) + 160.00 zero rated.
    rest = _credit(app, world, invoice.id, lines=[{"position": 1}, {"position": 2}])
    assert (rest.net_minor, rest.tax_minor, rest.amount_minor) == (22_666, 1_333, 23_999)
    assert [(b["category"], b["taxable_minor"], b["tax_minor"]) for b in rest.vat_breakdown] == [
        ("S", 6_666, 1_333), ("Z", 16_000, 0)]
    assert rest.invoice_status == "credited"
    stored = load(app, invoice.id)
    assert (stored.status, stored.amount_credited_minor) == ("credited", 27_999)  # 40.00 + 239.99, to the penny


@pytest.mark.parametrize(("lines", "field"), [
    ([], "lines"),
    ("1", "lines"),
    ([1], "lines-0-line"),
    ([{"position": 3}], "lines-0-line"),  # not on the invoice
    ([{"position": 0}], "lines-0-line"),
    ([{"position": 1, "line_id": 1}], "lines-0-line"),  # both
    ([{"position": 1, "quantity": "0"}], "lines-0-quantity"),
    ([{"position": 1, "quantity": "-1"}], "lines-0-quantity"),
    ([{"position": 1, "quantity": "abc"}], "lines-0-quantity"),
    ([{"position": 1, "quantity": "1\x00"}], "lines-0-quantity"),
    ([{"position": 1, "quantity": "3.00001"}], "lines-0-quantity"),
    ([{"position": 1, "quantity": "4"}], "lines-0-quantity"),  # more than the line
    ([{"position": 1}, {"position": 1}], "lines-1-line"),  # twice
    ([{"position": 1, "colour": "red"}], "lines-0-line"),
])
def test_bad_lines_are_refused_clearly_and_nothing_is_written(app, world, lines, field):
    invoice = _sent(app, world)
    before = _state(app)
    with pytest.raises(api.ValidationFailed) as refused:
        _credit(app, world, invoice.id, lines=lines)
    assert field in refused.value.errors, refused.value.errors
    assert _state(app) == before and load(app, invoice.id).amount_credited_minor == 0


def test_lines_and_an_amount_together_are_refused(app, world):
    invoice = _sent(app, world)
    with pytest.raises(api.ValidationFailed) as refused:
        _credit(app, world, invoice.id, amount="10.00", lines=[{"position": 1}])
    assert "amount" in refused.value.errors and _state(app) == ([], [], [])


def test_lines_worth_more_than_is_left_on_the_invoice_are_refused(app, world):
    invoice = _sent(app, world)
    _credit(app, world, invoice.id, amount="250.00")  # 29.99 left
    before = _state(app)
    with pytest.raises(api.ValidationFailed) as refused:
        _credit(app, world, invoice.id, lines=[{"position": 1, "quantity": "1"}])  # 40.00
    assert refused.value.errors["lines"] == "These lines come to £40.00 with VAT; at most £29.99 is left to credit."
    assert _state(app) == before


def test_another_invoices_line_is_not_on_this_one(app, world):
    invoice, other = _sent(app, world), _sent(app, world)
    other_line = _line_ids(app, other.id)[0]
    with pytest.raises(api.ValidationFailed) as refused:
        _credit(app, world, invoice.id, lines=[{"line_id": other_line}])
    assert "not on this invoice" in refused.value.errors["lines-0-line"]


def test_another_workspaces_invoice_is_not_found(app, world):
    invoice = _sent(app, world)
    with pytest.raises(api.NotFound):
        _credit(app, world, invoice.id, workspace=world.northwind, lines=[{"position": 1}])
    assert _state(app) == ([], [], [])


def test_after_payment_lines_are_kept_as_the_clients_credit(app, world):
    invoice = _sent(app, world)
    with app.test_request_context():
        api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer")
    note = _credit(app, world, invoice.id, lines=[{"position": 2, "quantity": "1"}], settlement="client_credit")
    assert (note.amount_minor, note.tax_minor, note.settlement) == (8_000, 0, "client_credit")


def test_the_credit_notes_document_lists_its_lines(app, world, staff_client):
    invoice = _sent(app, world)
    note = _credit(app, world, invoice.id, lines=[{"position": 1, "quantity": "0.5"}])
    # 0.5 h: 99.99 × 0.5/3 = 16.665 -> 16.67 (half up); VAT 3.334 -> 3.33; total 20.00.
    assert (note.net_minor, note.tax_minor, note.amount_minor) == (1_667, 333, 2_000)
    page = staff_client.get(f"/invoicing/credit-notes/{note.id}")
    assert page.status_code == 200
    row = re.search(r'<tr data-credited-line="1">(.*?)</tr>', page.text, re.S).group(1)
    assert "Workshop" in row and "0.5 hour" in row and "£33.33" in row and "20 %" in row and "£16.67" in row
    assert "£3.33" in page.text and "£20.00" in page.text
    pdf = staff_client.get(f"/invoicing/credit-notes/{note.id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_the_staff_form_credits_chosen_quantities_without_javascript(app, world, staff_client):
    invoice = _sent(app, world)
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}")
    first, second = _line_ids(app, invoice.id)
    assert f'name="credit_line-{first}"' in page.text and f'name="credit_line-{second}"' in page.text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    data = {"reason": REASON, "settlement": "reduces_due", f"credit_line-{first}": "1", f"credit_line-{second}": ""}
    if token:
        data["csrf_token"] = token.group(1)
    saved = staff_client.post(f"/invoicing/invoices/{invoice.id}/credit-notes", data=data)
    assert saved.status_code == 302
    with app.app_context():
        session = get_state(app).session
        note = session.scalars(select(CreditNote)).one()
        assert (note.amount_minor, note.net_minor, note.tax_minor) == (4_000, 3_333, 667)
        assert [(line.position, str(line.quantity)) for line in note.lines] == [(1, "1")]
        session.rollback()
    # Too much is refused on the page, with the message, and nothing is saved.
    again = staff_client.get(f"/invoicing/invoices/{invoice.id}")
    assert "2" in re.search(r'<tr data-credit-line="1">(.*?)</tr>', again.text, re.S).group(1)
    data[f"credit_line-{first}"] = "5"
    refused = staff_client.post(f"/invoicing/invoices/{invoice.id}/credit-notes", data=data)
    assert refused.status_code == 422
    assert "at most 2 of invoice line 1" in refused.text
    assert 'value="5"' in refused.text  # what was typed stays
    assert load(app, invoice.id).amount_credited_minor == 4_000
