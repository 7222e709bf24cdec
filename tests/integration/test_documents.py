"""Printable invoices: the staff print page and PDF, read back with pypdf."""

from __future__ import annotations

import io
from datetime import date, datetime, timezone

import pytest
from pypdf import PdfReader

from invoicing_plugin.host import HostWorkspace
from invoicing_plugin.persistence.models import Invoice
from invoicing_plugin.services import documents


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_staff_pdf_shows_everything_a_client_needs(app, world, staff_client, make_invoice):
    invoice = make_invoice(
        workspace_id=world.acme, client_id=world.client_a, number="INV-0042", client_name="Zoë Café",
        amount_minor=125050, currency="EUR", description="Web application penetration test",
        sent_at=datetime(2025, 3, 1, 9, tzinfo=timezone.utc), due_date=date(2099, 3, 31),
        stripe_mode="own_key",  # sent with Stripe connected: its pay link takes cards
    )

    response = staff_client.get(f"/invoicing/invoices/{invoice.id}/pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert 'filename="invoice-INV-0042.pdf"' in response.headers["Content-Disposition"]
    text = pdf_text(response.data)
    for expected in ("Acme Security", "INV-0042", "Zoë Café", "Web application penetration test",
                     "EUR 1,250.50", "March 1, 2025", "March 31, 2099", "Awaiting payment",
                     f"/invoicing/pay/{invoice.public_token}"):
        assert expected in text, expected


def test_paid_invoice_pdf_shows_the_payment_date_and_no_pay_link(app, world, staff_client, make_invoice):
    invoice = make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0007", status="paid",
                           amount_minor=1500, currency="JPY",
                           paid_at=datetime(2025, 5, 6, 10, tzinfo=timezone.utc))

    text = pdf_text(staff_client.get(f"/invoicing/invoices/{invoice.id}/pdf").data)

    assert "JPY 1,500" in text and "Paid" in text and "May 6, 2025" in text
    assert "/pay/" not in text


def test_latin1_fallback_never_crashes_on_other_scripts(app):
    """Without a Unicode font the PDF transliterates: accents go, € becomes EUR, the rest '?'."""
    invoice = Invoice(status="sent", number="INV-0001", client_name="Zoë Łukasz 東京 “Ltd”", client_email="z@x.test",
                      amount_minor=1050, currency="EUR", description="Audit – phase 1 €",
                      sent_at=datetime(2025, 1, 2, tzinfo=timezone.utc), due_date=date(2025, 2, 1),
                      public_token="t" * 43, amount_refunded_minor=0)
    document = documents.build_document(invoice, HostWorkspace(id="1", name="Café Société"),
                                        pay_url="https://x.test/pay/1", today=date(2025, 1, 10))

    text = pdf_text(documents.render_pdf(document, unicode_font=False))

    assert "Zoë Lukasz ?? \"Ltd\"" in text
    assert "Audit - phase 1 EUR" in text
    assert "EUR 10.50" in text and "Café Société" in text


@pytest.mark.skipif(documents.unicode_font_files() is None, reason="DejaVu Sans is not installed")
def test_unicode_font_keeps_accents_and_the_euro_sign(app):
    invoice = Invoice(status="paid", number="INV-0002", client_name="Łukasz Żółć", client_email="l@x.test",
                      amount_minor=1050, currency="EUR", description="Prüfung €",
                      paid_at=datetime(2025, 1, 3, tzinfo=timezone.utc), amount_paid_minor=1050,
                      amount_refunded_minor=0, public_token="t" * 43)
    document = documents.build_document(invoice, HostWorkspace(id="1", name="Acme"), today=date(2025, 1, 10))

    text = pdf_text(documents.render_pdf(document))

    assert "Łukasz Żółć" in text and "Prüfung €" in text


def test_staff_print_page_is_printable(app, world, staff_client, make_invoice):
    invoice = make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0009",
                           due_date=date(2001, 1, 1), stripe_mode="own_key")

    response = staff_client.get(f"/invoicing/invoices/{invoice.id}/print")

    assert response.status_code == 200
    html = response.text
    assert "INV-0009" in html and "Overdue" in html and "Globex" not in html.split("<body")[0]
    assert "document.css" in html  # the print stylesheet
    assert f"/invoicing/invoices/{invoice.id}/pdf" in html
    assert f"http://localhost/invoicing/pay/{invoice.public_token}" in html


def test_draft_can_be_printed_by_staff_as_a_draft(app, world, staff_client, make_invoice):
    draft = make_invoice(workspace_id=world.acme, client_id=world.client_a, status="draft")

    assert "Draft invoice" in staff_client.get(f"/invoicing/invoices/{draft.id}/print").text
    assert "DRAFT INVOICE" in pdf_text(staff_client.get(f"/invoicing/invoices/{draft.id}/pdf").data)


def test_another_workspaces_invoice_answers_404(app, world, staff_client, make_invoice):
    theirs = make_invoice(workspace_id=world.northwind, client_id=world.northwind_client)

    assert staff_client.get(f"/invoicing/invoices/{theirs.id}/print").status_code == 404
    assert staff_client.get(f"/invoicing/invoices/{theirs.id}/pdf").status_code == 404


def test_member_without_billing_rights_cannot_download(app, world, make_invoice):
    from tests.integration.conftest import login

    invoice = make_invoice(workspace_id=world.acme, client_id=world.client_a)
    member = login(app.test_client(), world.member_email, world.acme_slug)

    assert member.get(f"/invoicing/invoices/{invoice.id}/pdf").status_code == 403


@pytest.mark.parametrize("unpayable", [
    {"send_method": "manual", "stripe_mode": "own_key"},  # sent "manually": payment as arranged
    {"send_method": "email", "stripe_mode": None},  # sent before Stripe was connected
    {"send_method": "email", "stripe_mode": "own_key", "online_payment_unavailable": True},
])
def test_no_pay_online_section_when_the_pay_link_refuses_cards(app, world, staff_client, make_invoice, unpayable):
    """Issue 15 F4: the print page and PDF offer "Pay online" exactly when the pay link
    takes a card payment -- one rule (domain.invoice.offers_online_payment) for both."""
    invoice = make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0031", **unpayable)

    html = staff_client.get(f"/invoicing/invoices/{invoice.id}/print").text
    pdf = pdf_text(staff_client.get(f"/invoicing/invoices/{invoice.id}/pdf").data)
    link = app.test_client().get(f"/invoicing/pay/{invoice.public_token}")

    assert "Pay online" not in html and "by card with Stripe" not in html and "/pay/" not in html
    assert "Pay online" not in pdf and "/pay/" not in pdf
    assert "not available" in link.text  # the pay link says the same


def test_pay_online_section_when_the_pay_link_takes_cards(app, world, staff_client, make_invoice):
    invoice = make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0032",
                           send_method="email", stripe_mode="own_key")

    html = staff_client.get(f"/invoicing/invoices/{invoice.id}/print").text

    assert "Pay online" in html and f"/invoicing/pay/{invoice.public_token}" in html
