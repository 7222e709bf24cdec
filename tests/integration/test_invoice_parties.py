"""The parties and dates of a legal invoice, through the API, the staff pages and the documents
(issue 15, "The parties"; EN 16931 BG-7 buyer, BT-2 issue date, BT-72/73/74 supply, BT-20 terms).

- the buyer is copied from the host's client (its new optional fields) when the draft is
  made, editable on the draft, checked (country, VAT number with python-stdnum), frozen at send;
- sending refuses, in one message listing every gap and before anything changes, an invoice
  that lacks what a tax invoice needs -- once the workspace keeps Invoice settings (or the
  invoice carries VAT); the seeds' simple case still sends;
- sending stamps the issue date (the workspace's day), the due date from the payment terms,
  and the seller as it is then: a later change of the settings leaves sent invoices alone;
- the printed invoice, its PDF and the client portal show all of it.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select, update

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import Invoice, InvoiceEvent
from invoicing_plugin.services.parties import BuyerInput
from invoicing_plugin.services.seller import SellerInput, save_seller_profile
from tests.integration._invoice_helpers import ACTOR, draft, freeze_clock, load
from tests.integration.conftest import login
from tests.integration.test_documents import pdf_text
from tests.support.pdf import squeeze
from tests.integration.test_portal import portal_path

#: 18:54:07 PST on 29 November 2026 in Los Angeles; already the 30th in UTC.
WINTER = datetime(2026, 11, 30, 2, 54, 7, tzinfo=timezone.utc)

GLOBEX_DE = {"legal_name": "Globex Deutschland GmbH", "address_line1": "Unter den Linden 1", "city": "Berlin",
             "post_code": "10117", "country": "DE", "vat_id": "DE 136 695 976"}
SELLER = dict(legal_name="Acme Security Ltd", address_line1="1 Threadneedle Street", city="London",
              post_code="EC2R 8AH", country="GB", vat_id="GB980780684", payment_terms_days=14)


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, WINTER)


def set_client(app, client_id, **details):
    """Change the host's client record (host_demo's own table)."""
    from host_demo.models import Client, db

    with app.app_context():
        db.session.execute(update(Client).where(Client.id == int(client_id)).values(**details))
        db.session.commit()


def set_workspace_zone(app, workspace_id, zone):
    from host_demo.models import Workspace, db

    with app.app_context():
        db.session.execute(update(Workspace).where(Workspace.id == int(workspace_id)).values(timezone=zone))
        db.session.commit()


def save_seller(app, workspace_id, **fields):
    with app.test_request_context():
        save_seller_profile(workspace_id, ACTOR, SellerInput(**fields))


def invoice_count(app) -> int:
    with app.app_context():
        session = get_state().session
        count = session.scalar(select(func.count()).select_from(Invoice))
        session.rollback()
        return count


def actions(app, invoice_id) -> list[str]:
    with app.app_context():
        session = get_state().session
        rows = session.scalars(select(InvoiceEvent.action).where(InvoiceEvent.invoice_id == invoice_id)).all()
        session.rollback()
        return list(rows)


def edit_form(world, invoice, **changes) -> dict:
    """The edit form as the page posts it, buyer fields shown for the draft's client."""
    form = {
        "client_id": invoice.client_id, "amount": "1250.00", "currency": "GBP", "description": "Penetration test",
        "subject_ref": "", "due_date": "", "send_method": "manual", "buyer_for": invoice.client_id,
        "buyer_name": "Globex Corporation Ltd", "buyer_address_line1": "20 Canada Square", "buyer_address_line2": "",
        "buyer_city": "London", "buyer_post_code": "E14 5HU", "buyer_country": "GB", "buyer_vat_id": "",
        "buyer_registration_id": "01234567", "supply_date": "", "supply_start": "2030-03-01",
        "supply_end": "2030-03-31", "payment_terms": "30 days net",
    }
    form.update(changes)
    return form


# --- The buyer on the draft ------------------------------------------------------------------


def test_a_draft_copies_the_clients_legal_details_from_the_host(app, world):
    set_client(app, world.client_a, **GLOBEX_DE)

    invoice = load(app, draft(app, world).id)

    assert (invoice.buyer_name, invoice.buyer_address_line1, invoice.buyer_city, invoice.buyer_post_code,
            invoice.buyer_country, invoice.buyer_vat_id) == ("Globex Deutschland GmbH", "Unter den Linden 1",
                                                            "Berlin", "10117", "DE", "DE136695976")
    assert invoice.client_name == "Globex Corporation"  # the host's everyday name stays what it was
    plain = load(app, draft(app, world, client=world.client_b).id)
    assert (plain.buyer_name, plain.buyer_city, plain.buyer_country) == ("Initech", None, None)


@pytest.mark.parametrize(("details", "words"), [
    ({"country": "DE", "vat_id": "DE136695977"}, "not a valid DE VAT number"),
    ({"country": "ZZ"}, "two-letter ISO code"),
    ({"city": "Ber\x00lin"}, "NUL"),
    ({"vat_id": "DE136695976"}, "country first"),
    ({"post_code": 10117}, "as text"),
    ({"address_line1": "x" * 201}, "under 200"),
])
def test_a_host_client_whose_details_cannot_go_on_an_invoice_refuses_the_draft(app, world, monkeypatch, details,
                                                                                words):
    """What the host answers is checked as typed input is (built as host_demo builds its clients,
    so a NUL or an int reaches the plugin on PostgreSQL too, where host_demo could not store it)."""
    import dataclasses

    from host_demo import host as demo_host

    real = demo_host._host_client
    monkeypatch.setattr(demo_host, "_host_client", lambda client: dataclasses.replace(real(client), **details))

    with pytest.raises(api.ValidationFailed) as caught:
        draft(app, world)

    assert "client_id" in caught.value.errors and words in caught.value.errors["client_id"]
    assert "Globex Corporation's details in the client record" in caught.value.errors["client_id"]
    assert invoice_count(app) == 0


def test_the_api_takes_a_buyer_and_dates_and_refuses_bad_ones_saving_nothing(app, world):
    with app.test_request_context():
        made = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="10.00", currency="GBP",
                                description="Audit", buyer=BuyerInput(name="Globex SARL", country="fr",
                                                                      vat_id="40303265045", city="Paris",
                                                                      address_line1="1 rue de Rivoli"),
                                supply_date=date(2030, 3, 1), payment_terms="Net 30")
    stored = load(app, made.id)
    assert (stored.buyer_name, stored.buyer_country, stored.buyer_vat_id) == ("Globex SARL", "FR", "FR40303265045")
    assert (stored.supply_date, stored.payment_terms) == (date(2030, 3, 1), "Net 30")

    bad_calls = [
        dict(buyer=BuyerInput(name="Globex", country="FR", vat_id="DE136695976")),
        dict(buyer=BuyerInput(name="", city="Paris")),
        dict(supply_start=date(2030, 3, 31), supply_end=date(2030, 3, 1)),
        dict(supply_date=date(2030, 3, 1), supply_start=date(2030, 3, 1), supply_end=date(2030, 3, 2)),
        dict(supply_date="2030-03-01"),
        dict(payment_terms="x" * 501),
    ]
    for extra in bad_calls:
        with app.test_request_context(), pytest.raises(api.ValidationFailed):
            api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="10.00", currency="GBP",
                             description="Audit", **extra)
    assert invoice_count(app) == 1


def test_staff_edit_the_buyer_and_the_dates_on_the_draft(app, world, staff_client):
    invoice = draft(app, world, send_method="manual")
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}/edit").text
    assert 'name="buyer_name"' in page and 'value="Globex Corporation"' in page
    assert f'name="buyer_for" type="hidden" value="{world.client_a}"' in page or \
        f'name="buyer_for" value="{world.client_a}"' in page or f'value="{world.client_a}" name="buyer_for"' in page

    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/edit",
                                 data=edit_form(world, invoice, buyer_vat_id="GB 980 7806 84"))

    assert response.status_code == 302
    stored = load(app, invoice.id)
    assert (stored.buyer_name, stored.buyer_address_line1, stored.buyer_city, stored.buyer_post_code,
            stored.buyer_country, stored.buyer_vat_id, stored.buyer_registration_id) == (
        "Globex Corporation Ltd", "20 Canada Square", "London", "E14 5HU", "GB", "GB980780684", "01234567")
    assert (stored.supply_start, stored.supply_end, stored.payment_terms) == (
        date(2030, 3, 1), date(2030, 3, 31), "30 days net")


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"buyer_name": ""}, "buyer_name", "legal name"),
    ({"buyer_name": "x" * 256}, "buyer_name", "under 255"),
    ({"buyer_city": "Lon\x00don"}, "buyer_city", "NUL"),
    ({"buyer_country": "UK"}, "buyer_country", "two-letter ISO code"),
    ({"buyer_country": "<script>"}, "buyer_country", "two-letter ISO code"),
    ({"buyer_vat_id": "GB980780685"}, "buyer_vat_id", "not a valid GB VAT number"),
    ({"buyer_vat_id": "DE136695976"}, "buyer_vat_id", "client&#39;s country"),
    ({"buyer_country": "", "buyer_vat_id": "GB980780684"}, "buyer_vat_id", "country first"),
    ({"supply_start": "2030-04-01"}, "supply_end", "ends before it starts"),
    ({"supply_date": "2030-03-05"}, "supply_date", "not both"),
    ({"supply_end": ""}, "supply_end", "both its first and its last day"),
    ({"supply_date": "yesterday"}, "supply_date", ""),
    ({"payment_terms": "x" * 501}, "payment_terms", "under 500"),
    ({"payment_terms": "net\x0030"}, "payment_terms", "NUL"),
])
def test_bad_buyer_or_date_input_is_shown_next_to_its_field_and_changes_nothing(app, world, staff_client, changes,
                                                                                field, words):
    invoice = draft(app, world, send_method="manual")
    before = load(app, invoice.id)

    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/edit", data=edit_form(world, invoice, **changes))

    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and words in response.text
    after = load(app, invoice.id)
    assert (after.version, after.buyer_name, after.buyer_city, after.supply_start, after.payment_terms) == (
        before.version, before.buyer_name, before.buyer_city, before.supply_start, before.payment_terms)


def test_choosing_another_client_takes_that_clients_details_not_the_old_ones(app, world, staff_client):
    set_client(app, world.client_b, legal_name="Initech LLC", address_line1="4120 Freidrich Lane", city="Austin",
               country="US")
    invoice = draft(app, world, send_method="manual")

    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/edit",
                                 data=edit_form(world, invoice, client_id=world.client_b))

    assert response.status_code == 302
    stored = load(app, invoice.id)
    assert (stored.client_name, stored.buyer_name, stored.buyer_city, stored.buyer_country, stored.buyer_vat_id) == (
        "Initech", "Initech LLC", "Austin", "US", None)


def test_an_edit_that_leaves_the_buyer_out_keeps_the_drafts_own(app, world, staff_client):
    """The API's DraftInput without ``buyer`` (and a form without the buyer section) keeps what the draft holds."""
    invoice = draft(app, world, send_method="manual")
    staff_client.post(f"/invoicing/invoices/{invoice.id}/edit", data=edit_form(world, invoice))
    set_client(app, world.client_a, legal_name="Changed In The Host Ltd")

    with app.test_request_context():
        api.update_draft(world.acme, ACTOR, invoice.id, api.DraftInput(
            client_id=world.client_a, amount="99.00", currency="GBP", description="Changed", send_method="manual"))

    stored = load(app, invoice.id)
    assert (stored.amount_minor, stored.buyer_name, stored.buyer_city) == (9900, "Globex Corporation Ltd", "London")


def test_another_workspaces_draft_answers_404(app, world):
    invoice = draft(app, world, send_method="manual")
    outsider = login(app.test_client(), world.outsider_email, world.northwind_slug)

    assert outsider.get(f"/invoicing/invoices/{invoice.id}/edit").status_code == 404
    response = outsider.post(f"/invoicing/invoices/{invoice.id}/edit",
                             data=edit_form(world, invoice, buyer_name="Hijacked Ltd"))
    assert response.status_code == 404
    assert outsider.get(f"/invoicing/invoices/{invoice.id}/print").status_code == 404
    assert outsider.post(f"/invoicing/invoices/{invoice.id}/send", data={"method": "manual"}).status_code == 404
    with app.test_request_context(), pytest.raises(api.NotFound):
        api.update_draft(world.northwind, ACTOR, invoice.id, api.DraftInput(
            client_id=world.northwind_client, amount="1.00", currency="GBP", description="x",
            buyer=BuyerInput(name="Hijacked Ltd")))
    with app.test_request_context(), pytest.raises(api.NotFound):
        api.send(world.northwind, ACTOR, invoice.id, method="manual")
    assert load(app, invoice.id).buyer_name == "Globex Corporation"


# --- Sending: the refusal ---------------------------------------------------------------------


def test_the_seeds_simple_case_still_sends_without_invoice_settings(app, world):
    """No Invoice settings, no VAT, no client address: sent as before (and frozen as sent)."""
    invoice = draft(app, world, send_method="manual")

    with app.test_request_context():
        sent = api.send(world.acme, ACTOR, invoice.id, method="manual")

    stored = load(app, invoice.id)
    assert (sent.status, stored.number) == ("sent", "INV-0001")
    assert stored.seller_snapshot == {} and stored.issue_date is not None


@pytest.mark.parametrize("method", ["manual", "email", "stripe_link"])
def test_sending_refuses_an_incomplete_invoice_listing_everything_and_changing_nothing(
        app, world, connected_workspace, stripe_emulator, method):
    save_seller(app, world.acme, legal_name="Acme Security Ltd", country="GB")  # no address
    invoice = draft(app, world, send_method=method)

    with app.test_request_context(), pytest.raises(api.InvoiceIncomplete) as caught:
        api.send(world.acme, ACTOR, invoice.id, method=method)

    assert caught.value.missing == [
        "The seller's address is missing: street and city (Invoice settings).",
        "The client's address is missing: street and city (edit the draft).",
        "The client's country is missing (edit the draft).",
    ]
    assert all(item in caught.value.message for item in caught.value.missing)
    stored = load(app, invoice.id)
    assert (stored.status, stored.number, stored.checkout_session_id, stored.sent_at, stored.issue_date,
            stored.seller_snapshot) == ("draft", None, None, None, None, None)
    assert actions(app, invoice.id) == ["created"]

    # Once complete it sends, and takes the first number: the refusal used none.
    save_seller(app, world.acme, **SELLER)
    set_client(app, world.client_a, legal_name="Globex Corporation Ltd", address_line1="20 Canada Square",
               city="London", country="GB")
    with app.test_request_context():
        api.update_draft(world.acme, ACTOR, invoice.id, api.DraftInput(
            client_id=world.client_a, amount="1250.00", currency="GBP", description="Penetration test",
            send_method=method, buyer=BuyerInput(name="Globex Corporation Ltd", address_line1="20 Canada Square",
                                                 city="London", country="GB")))
        sent = api.send(world.acme, ACTOR, invoice.id, method=method)
    assert (sent.status, sent.number) == ("sent", "INV-0001")


def test_the_staff_page_shows_the_one_refusal_message(app, world, staff_client):
    save_seller(app, world.acme, legal_name="Acme Security Ltd", country="GB")
    invoice = draft(app, world, send_method="manual")

    page = staff_client.post(f"/invoicing/invoices/{invoice.id}/send", data={"method": "manual"},
                             follow_redirects=True).text

    assert "This invoice cannot be sent yet" in page
    assert "The seller&#39;s address is missing" in page and "The client&#39;s country is missing" in page
    assert load(app, invoice.id).status == "draft"


def _reverse_charge_draft(app, world):
    """A draft with one reverse-charge line (a workspace tax rate, category AE)."""
    from invoicing_plugin.services.tax_rates import TaxRateInput, create_tax_rate

    with app.test_request_context():
        rate = create_tax_rate(world.acme, ACTOR, TaxRateInput(
            name="Reverse charge (EU B2B)", rate="0", category="AE",
            note="Reverse charge: the customer accounts for VAT (Article 196, Directive 2006/112/EC)"))
        return api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP", send_method="manual",
                                lines=[{"description": "Penetration test", "quantity": "3", "unit": "day",
                                        "unit_price": "900.00", "tax_rate_id": str(rate.id)}])


def test_reverse_charge_needs_both_vat_numbers_before_sending(app, world):
    """The VAT categories come from the stored lines (services.parties.invoice_vat_rates): a
    reverse-charge invoice without the client's VAT number is refused with EN 16931's
    BR-AE-02 message, and nothing changes."""
    save_seller(app, world.acme, **{**SELLER, "vat_id": ""})
    set_client(app, world.client_a, **{**GLOBEX_DE, "vat_id": None})
    invoice = _reverse_charge_draft(app, world)
    assert [(line.vat_category, line.net_minor) for line in load_lines(app, invoice.id)] == [("AE", 270000)]

    with app.test_request_context(), pytest.raises(api.InvoiceIncomplete) as caught:
        api.send(world.acme, ACTOR, invoice.id, method="manual")

    assert caught.value.missing == ["The seller's VAT number is missing (Invoice settings).",
                                    "Reverse charge needs the client's VAT number."]
    assert load(app, invoice.id).number is None


def test_a_vat_line_switches_the_legal_check_on_without_invoice_settings(app, world):
    """No Invoice settings saved, but a standard-rated line: the invoice carries VAT, so it
    must be a legal invoice (the seller's VAT number and both parties' details)."""
    with app.test_request_context():
        invoice = api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP",
                                   send_method="manual", lines=[{"description": "Audit", "unit_price": "100.00",
                                                                 "tax_rate": "20"}])
    assert (invoice.net_minor, invoice.tax_minor, invoice.amount_minor) == (10000, 2000, 12000)

    with app.test_request_context(), pytest.raises(api.InvoiceIncomplete) as caught:
        api.send(world.acme, ACTOR, invoice.id, method="manual")

    assert "The seller's VAT number is missing (Invoice settings)." in caught.value.missing
    assert load(app, invoice.id).status == "draft"


def load_lines(app, invoice_id):
    from invoicing_plugin.persistence.models import InvoiceLine

    with app.app_context():
        return get_state().session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
                                           .order_by(InvoiceLine.position)).all()


def test_dates_are_checked_even_when_the_client_is_missing(app, world):
    with app.test_request_context(), pytest.raises(api.ValidationFailed) as caught:
        api.create_draft(world.acme, ACTOR, client_id="999999", amount="10.00", currency="GBP", description="x",
                         supply_start=date(2030, 3, 2), supply_end=date(2030, 3, 1))

    assert {"client_id", "supply_end"} <= caught.value.errors.keys()


# --- Sending: what it stamps, and the documents --------------------------------------------------


def _complete_sent_invoice(app, world, clock, **draft_extra):
    set_workspace_zone(app, world.acme, "America/Los_Angeles")
    save_seller(app, world.acme, **SELLER)
    set_client(app, world.client_a, **GLOBEX_DE)
    with app.test_request_context():
        made = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1250.00", currency="GBP",
                                description="Penetration test", send_method="manual", **draft_extra)
        return api.send(world.acme, ACTOR, made.id, method="manual")


def test_send_stamps_the_issue_day_in_the_workspaces_zone_the_due_date_by_terms_and_the_seller(
        app, world, clock):
    sent = _complete_sent_invoice(app, world, clock)

    stored = load(app, sent.id)
    assert stored.issue_date == date(2026, 11, 29)  # 18:54 in Los Angeles; the 30th in UTC
    assert stored.due_date == date(2026, 12, 13)  # + the seller's 14 days
    assert stored.seller_snapshot["legal_name"] == "Acme Security Ltd"
    assert stored.seller_snapshot["address_line1"] == "1 Threadneedle Street"


def test_an_explicit_due_date_is_not_replaced_by_the_terms(app, world, clock):
    sent = _complete_sent_invoice(app, world, clock, due_date=date(2027, 1, 31))

    assert load(app, sent.id).due_date == date(2027, 1, 31)


def test_a_sent_invoice_prints_the_seller_as_sent_a_draft_the_seller_now(app, world, staff_client, clock):
    sent = _complete_sent_invoice(app, world, clock)
    save_seller(app, world.acme, **{**SELLER, "legal_name": "Acme Renamed Ltd", "address_line1": "2 New Street"})
    later = draft(app, world, send_method="manual")

    sent_page = staff_client.get(f"/invoicing/invoices/{sent.id}/print").text
    sent_pdf = pdf_text(staff_client.get(f"/invoicing/invoices/{sent.id}/pdf").data)
    draft_page = staff_client.get(f"/invoicing/invoices/{later.id}/print").text

    assert "Acme Security Ltd" in sent_page and "1 Threadneedle Street" in sent_page
    assert "Acme Renamed Ltd" not in sent_page and "2 New Street" not in sent_page
    assert "Acme Security Ltd" in sent_pdf and "Acme Renamed Ltd" not in sent_pdf
    assert "Acme Renamed Ltd" in draft_page and "2 New Street" in draft_page


def test_the_print_page_pdf_and_portal_show_the_buyer_the_dates_and_the_terms(app, world, staff_client, clock):
    sent = _complete_sent_invoice(app, world, clock, supply_start=date(2026, 11, 1), supply_end=date(2026, 11, 28),
                                  payment_terms="Bank transfer within 14 days; 1.5 % a month after.")

    page = staff_client.get(f"/invoicing/invoices/{sent.id}/print").text
    pdf = pdf_text(staff_client.get(f"/invoicing/invoices/{sent.id}/pdf").data)
    portal = portal_path(app, world.acme, world.client_a)
    client = app.test_client()
    cards = client.get(portal).text
    client_page = client.get(f"{portal}/invoices/{sent.public_token}").text

    for text in (page, client_page):
        assert "Globex Deutschland GmbH" in text and "Unter den Linden 1" in text and "10117 Berlin" in text
        assert "VAT number: DE136695976" in text
        assert "<dt>Issued</dt><dd>November 29, 2026</dd>" in text
        assert "<dt>Supply period</dt><dd>November 1, 2026 – November 28, 2026</dd>" in text
        assert "<dt>Due</dt><dd>December 13, 2026</dd>" in text
        assert "Bank transfer within 14 days; 1.5 % a month after." in text
    for expected in ("Globex Deutschland GmbH", "Unter den Linden 1", "10117 Berlin", "VAT number: DE136695976",
                     "Supply period", "November 1, 2026", "December 13, 2026", "Payment terms",
                     "Bank transfer within 14 days"):
        assert squeeze(expected) in squeeze(pdf), expected  # the stylesheet upper-cases labels, cells wrap
    assert "Issued November 29, 2026" in cards and "supplied November 1, 2026 – November 28, 2026" in cards
    detail = staff_client.get(f"/invoicing/invoices/{sent.id}").text  # the staff page says the same
    assert "Unter den Linden 1, 10117 Berlin, DE" in detail and "VAT number DE136695976" in detail
    assert '<dd data-field="issue-date">2026-11-29</dd>' in detail and "2026-11-01 – 2026-11-28" in detail


def test_a_supply_date_prints_as_one_day(app, world, staff_client, clock):
    sent = _complete_sent_invoice(app, world, clock, supply_date=date(2026, 11, 20))

    page = staff_client.get(f"/invoicing/invoices/{sent.id}/print").text

    assert "<dt>Supply date</dt><dd>November 20, 2026</dd>" in page and "Supply period" not in page
