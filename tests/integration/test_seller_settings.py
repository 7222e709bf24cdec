"""Invoice settings: the workspace as the seller on its invoices (issue 15, "The parties", EN 16931 BG-4).

Staff keep the seller's legal details per workspace; the VAT number is checked per country
with python-stdnum (offline); any error shows next to its field and saves nothing; the
host may prefill the details; the printable invoice (staff page, PDF, client portal)
shows them. Every query is scoped to the workspace.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from invoicing_plugin.extension import get_state
from invoicing_plugin.host import HostSellerDetails
from invoicing_plugin.persistence.models import SellerProfile
from tests.integration.conftest import login
from tests.integration.test_documents import pdf_text
from tests.integration.test_portal import portal_path

PAGE = "/invoicing/settings/"

ACME_UK = {
    "legal_name": "Acme Security Ltd",
    "trading_name": "Acme Pentest",
    "address_line1": "1 Threadneedle Street",
    "address_line2": "Floor 3",
    "city": "London",
    "post_code": "EC2R 8AH",
    "country": "GB",
    "vat_id": "GB 980 7806 84",
    "registration_id": "01234567",
    "contact_name": "Olivia Owner",
    "contact_phone": "+44 20 7946 0000",
    "contact_email": "billing@acme.test",
    "payment_terms_days": "14",
    "footer": "Bank: Example Bank, sort code 12-34-56, account 12345678.",
}


def profiles(app, workspace_id=None) -> list[SellerProfile]:
    with app.app_context():
        session = get_state(app).session
        stmt = select(SellerProfile).order_by(SellerProfile.id)
        if workspace_id is not None:
            stmt = stmt.where(SellerProfile.workspace_id == workspace_id)
        rows = list(session.scalars(stmt))
        for row in rows:
            session.expunge(row)
        session.rollback()
        return rows


def count_profiles(app) -> int:
    with app.app_context():
        session = get_state(app).session
        total = session.scalar(select(func.count()).select_from(SellerProfile))
        session.rollback()
        return total


def test_staff_save_the_seller_and_see_it_again(app, world, staff_client):
    page = staff_client.get(PAGE)
    assert page.status_code == 200
    assert "Invoice settings" in page.text

    saved = staff_client.post(PAGE, data=ACME_UK, follow_redirects=True)

    assert saved.status_code == 200
    assert "Invoice settings saved" in saved.text
    (row,) = profiles(app)
    assert (row.workspace_id, row.legal_name, row.country, row.vat_id) == (world.acme, "Acme Security Ltd", "GB",
                                                                          "GB980780684")
    assert (row.post_code, row.city, row.payment_terms_days, row.contact_email) == ("EC2R 8AH", "London", 14,
                                                                                  "billing@acme.test")
    assert row.updated_by and "Olivia Owner" in row.updated_by
    again = staff_client.get(PAGE).text
    assert 'value="Acme Security Ltd"' in again and 'value="GB980780684"' in again


def test_editing_replaces_the_one_row_of_the_workspace(app, world, staff_client):
    staff_client.post(PAGE, data=ACME_UK)
    edited = dict(ACME_UK, legal_name="Acme Security GmbH", country="DE", vat_id="136695976",
                  city="Berlin", post_code="10115", trading_name="", payment_terms_days="")

    assert staff_client.post(PAGE, data=edited).status_code == 302

    (row,) = profiles(app)
    assert (row.legal_name, row.country, row.vat_id, row.city) == ("Acme Security GmbH", "DE", "DE136695976", "Berlin")
    assert row.trading_name is None and row.payment_terms_days is None


@pytest.mark.parametrize(("country", "vat_id", "stored"), [
    ("GB", "GB980780684", "GB980780684"),
    ("DE", "DE 136 695 976", "DE136695976"),
    ("FR", "FR40303265045", "FR40303265045"),
])
def test_valid_vat_numbers_of_gb_de_and_fr_are_saved(app, world, staff_client, country, vat_id, stored):
    response = staff_client.post(PAGE, data=dict(ACME_UK, country=country, vat_id=vat_id))

    assert response.status_code == 302
    assert profiles(app)[0].vat_id == stored


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"vat_id": "GB980780685"}, "vat_id", "not a valid GB VAT number"),  # check digits
    ({"country": "FR", "vat_id": "DE136695976"}, "vat_id", "starts with DE"),  # another country's prefix
    ({"country": "DE", "vat_id": "136695977"}, "vat_id", "not a valid DE VAT number"),
    ({"country": "", "vat_id": "GB980780684"}, "country", "Choose the country"),
    ({"country": "UK"}, "country", "Choose a country from the list"),
    ({"legal_name": "  "}, "legal_name", "legal name"),
    ({"contact_email": "billing@acme.test, eve@evil.test"}, "contact_email", "one email address"),
    ({"payment_terms_days": "400"}, "payment_terms_days", "from 0 to 365"),
    ({"payment_terms_days": "soon"}, "payment_terms_days", ""),
    ({"footer": "x" * 1001}, "footer", "under 1000 characters"),
    ({"city": "Lon\x00don"}, "city", "NUL"),
])
def test_invalid_input_is_shown_next_to_its_field_and_nothing_is_saved(app, world, staff_client, changes, field,
                                                                         message):
    staff_client.post(PAGE, data=dict(ACME_UK, legal_name="Before Ltd"))
    before = profiles(app)

    response = staff_client.post(PAGE, data=dict(ACME_UK, **changes))

    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text
    after = profiles(app)
    assert [(r.legal_name, r.vat_id, r.country, r.updated_at) for r in after] == \
        [(r.legal_name, r.vat_id, r.country, r.updated_at) for r in before]


def test_a_first_save_with_an_error_creates_no_row(app, world, staff_client):
    response = staff_client.post(PAGE, data=dict(ACME_UK, vat_id="GB980780685"))

    assert response.status_code == 422
    assert count_profiles(app) == 0


def test_another_workspaces_seller_is_never_shown(app, world, staff_client):
    staff_client.post(PAGE, data=ACME_UK)
    outsider = login(app.test_client(), world.outsider_email, world.northwind_slug)

    page = outsider.get(PAGE).text
    assert "Acme Security Ltd" not in page and 'value="GB980780684"' not in page and "Threadneedle" not in page

    assert outsider.post(PAGE, data=dict(ACME_UK, legal_name="Northwind Consulting LLC", country="US",
                                         vat_id="")).status_code == 302
    by_workspace = {row.workspace_id: row.legal_name for row in profiles(app)}
    assert by_workspace == {world.acme: "Acme Security Ltd", world.northwind: "Northwind Consulting LLC"}
    assert "Northwind Consulting LLC" not in staff_client.get(PAGE).text


def test_member_without_billing_rights_is_refused_and_nothing_is_saved(app, world):
    member = login(app.test_client(), world.member_email, world.acme_slug)

    assert member.get(PAGE).status_code == 403
    assert member.post(PAGE, data=ACME_UK).status_code == 403
    assert count_profiles(app) == 0


def test_internal_workspace_has_no_invoice_settings(app, world):
    owner = login(app.test_client(), world.owner_email, world.internal_slug)

    assert owner.get(PAGE).status_code == 404
    assert owner.post(PAGE, data=ACME_UK).status_code == 404
    assert count_profiles(app) == 0


def test_anonymous_visitors_are_sent_to_log_in(app, world):
    response = app.test_client().get(PAGE)
    assert response.status_code in (302, 401)
    assert count_profiles(app) == 0


def test_the_page_is_in_the_plugin_navigation(app, world, staff_client):
    assert f'href="{PAGE}"' in staff_client.get("/invoicing/invoices").text


@pytest.fixture
def host_prefill(app, world, monkeypatch):
    """host_demo given the optional ``seller_details(workspace)`` of the host contract."""
    asked = []

    def seller_details(workspace):
        asked.append(workspace.id)
        if workspace.id != world.acme:
            return None
        return HostSellerDetails(legal_name="Acme Holdings plc", address_line1="2 Host Road", city="Leeds",
                                 post_code="LS1 1AA", country="GB", vat_id="GB980780684")

    monkeypatch.setattr(get_state(app).host, "seller_details", seller_details, raising=False)
    return asked


def test_the_host_prefills_the_form_until_staff_save_their_own(app, world, staff_client, host_prefill):
    page = staff_client.get(PAGE).text
    assert "Prefilled from" in page and 'value="Acme Holdings plc"' in page and 'value="2 Host Road"' in page
    assert count_profiles(app) == 0  # a prefill is not saved until staff save it

    staff_client.post(PAGE, data=ACME_UK)

    page = staff_client.get(PAGE).text
    assert 'value="Acme Security Ltd"' in page and "Acme Holdings plc" not in page and "Prefilled" not in page


def test_the_printable_invoice_shows_the_hosts_prefill_while_nothing_is_saved(app, world, staff_client,
                                                                            host_prefill, make_invoice):
    invoice = make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0100")

    html = staff_client.get(f"/invoicing/invoices/{invoice.id}/print").text

    assert "Acme Holdings plc" in html and "2 Host Road" in html and "VAT number: GB980780684" in html


def test_the_printable_invoice_pdf_and_portal_show_the_seller(app, world, staff_client, make_invoice):
    invoice = make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0101")
    before = staff_client.get(f"/invoicing/invoices/{invoice.id}/print").text
    assert "Acme Security Ltd" not in before and "VAT number" not in before  # nothing saved: the workspace name
    staff_client.post(PAGE, data=ACME_UK)

    html = staff_client.get(f"/invoicing/invoices/{invoice.id}/print").text
    for expected in ("Acme Security Ltd", "Trading as: Acme Pentest", "1 Threadneedle Street", "Floor 3",
                     "EC2R 8AH London", "VAT number: GB980780684", "Company number: 01234567",
                     "billing@acme.test", "sort code 12-34-56"):
        assert expected in html, expected

    text = pdf_text(staff_client.get(f"/invoicing/invoices/{invoice.id}/pdf").data)
    for expected in ("Acme Security Ltd", "1 Threadneedle Street", "VAT number: GB980780684", "sort code 12-34-56"):
        assert expected in text, expected

    client_page = app.test_client().get(
        f"{portal_path(app, world.acme, world.client_a)}/invoices/{invoice.public_token}").text
    assert "Acme Security Ltd" in client_page and "VAT number: GB980780684" in client_page


def test_another_workspaces_invoice_never_shows_this_seller(app, world, staff_client, make_invoice):
    staff_client.post(PAGE, data=ACME_UK)
    theirs = make_invoice(workspace_id=world.northwind, client_id=world.northwind_client, number="NW-0001")
    outsider = login(app.test_client(), world.outsider_email, world.northwind_slug)

    html = outsider.get(f"/invoicing/invoices/{theirs.id}/print").text

    assert "Northwind Consulting" in html
    assert "Acme Security Ltd" not in html and "GB980780684" not in html
