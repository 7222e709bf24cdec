"""The printed invoice and the staff pages after new-user session 15 (notes/newuser15.md F10,
F11, F13, F14) and the ``invoice_paid`` snapshot of a Stripe payment (lines and payments
as ``api.get_invoice`` gives them)."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from sqlalchemy import select

from invoicing_plugin import api, signals
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import Invoice
from invoicing_plugin.services.seller import SellerInput, save_seller_profile
from invoicing_plugin.services.tax_rates import TaxRateInput, create_tax_rate, set_prices_include_tax
from tests.integration._invoice_helpers import ACTOR
from tests.integration.test_invoice_parties import set_client
from tests.integration.webhook_helpers import event_for, post_event

GB_SELLER = SellerInput(legal_name="Acme Security Ltd", address_line1="1 Threadneedle Street", city="London",
                        post_code="EC2R 8AH", country="GB", vat_id="GB980780684", payment_terms_days=30)


def _vat_registered(app, world, *, gross: bool = False) -> dict[str, str]:
    """acme with saved seller details, a default "Standard 20%" and a "Reduced 5%" rate."""
    with app.test_request_context():
        save_seller_profile(world.acme, ACTOR, GB_SELLER)
        standard = create_tax_rate(world.acme, ACTOR, TaxRateInput(name="Standard 20%", rate="20", category="S",
                                                                   is_default=True))
        reduced = create_tax_rate(world.acme, ACTOR, TaxRateInput(name="Reduced 5%", rate="5", category="S"))
        if gross:
            set_prices_include_tax(world.acme, ACTOR, True)
        return {"standard": str(standard.id), "reduced": str(reduced.id)}


def _text(html: str) -> str:
    """The page's words, tags dropped and white space folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# --- F10: the invoice's description is printed -------------------------------------------


def test_a_lines_invoice_prints_its_description_on_the_page_and_the_pdf(app, world, staff_client):
    _vat_registered(app, world)
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP",
                                 description="November consulting",
                                 lines=[{"description": "Audit", "quantity": "1.5", "unit": "day",
                                         "unit_price": "850.00"}])

    page = staff_client.get(f"/invoicing/invoices/{draft.id}/print")
    pdf = staff_client.get(f"/invoicing/invoices/{draft.id}/pdf")

    assert page.status_code == 200 and pdf.status_code == 200
    assert 'data-field="description"' in page.text and "November consulting" in _text(page.text)
    assert "November consulting" in _pdf_text(pdf.data)


def test_an_amount_invoice_prints_its_description_once(app, world, staff_client):
    """An amount draft's description is its one line's text: printed there, not twice."""
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="250.00", currency="GBP",
                                 description="Retainer for March")

    page = staff_client.get(f"/invoicing/invoices/{draft.id}/print").text
    pdf = _pdf_text(staff_client.get(f"/invoicing/invoices/{draft.id}/pdf").data)

    assert _text(page).count("Retainer for March") == 1
    assert pdf.count("Retainer for March") == 1


# --- F11: "Not subject to VAT" once; the amount draft of a VAT-registered workspace ------


def test_the_vat_breakdown_names_not_subject_to_vat_once(app, world, staff_client):
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1250.50", currency="GBP",
                                 description="Support")

    page = _text(staff_client.get(f"/invoicing/invoices/{draft.id}/print").text)
    pdf = _pdf_text(staff_client.get(f"/invoicing/invoices/{draft.id}/pdf").data)

    assert page.count("Not subject to VAT") == 1
    assert pdf.count("Not subject to VAT") == 1


def test_an_amount_draft_of_a_workspace_with_a_default_rate_is_flagged_before_sending(app, world, staff_client):
    _vat_registered(app, world)
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1250.50", currency="GBP",
                                 description="Support")
        assert draft.tax_minor == 0 and draft.total_minor == 125_050  # amount= keeps its meaning

    page = staff_client.get(f"/invoicing/invoices/{draft.id}").text

    notice = re.search(r'<p[^>]*data-notice="no-vat"[^>]*>(.*?)</p>', page, re.S)
    assert notice, "no warning on the draft page"
    assert "Standard 20%" in notice.group(1) and "not subject to VAT" in notice.group(1)


def test_no_vat_warning_without_a_default_rate_or_once_lines_carry_vat(app, world, staff_client):
    with app.test_request_context():
        plain = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="100.00", currency="GBP",
                                 description="Support")
    assert 'data-notice="no-vat"' not in staff_client.get(f"/invoicing/invoices/{plain.id}").text

    _vat_registered(app, world)
    with app.test_request_context():
        taxed = api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP",
                                 lines=[{"description": "Audit", "unit_price": "100.00"}])
        assert taxed.tax_minor == 2_000
    assert 'data-notice="no-vat"' not in staff_client.get(f"/invoicing/invoices/{taxed.id}").text


def test_the_new_invoice_form_says_an_amount_has_no_vat_when_there_is_a_default_rate(app, world, staff_client):
    _vat_registered(app, world)

    page = _text(staff_client.get("/invoicing/invoices/new").text)

    assert "not subject to VAT" in page and "Standard 20%" in page


# --- F13: gross prices whose total cannot be what was typed -------------------------------


def _gross_draft(app, world, unit_price: str):
    """A draft of 3 × ``unit_price`` typed with 20 % VAT included."""
    rates = _vat_registered(app, world, gross=True)
    with app.test_request_context():
        return api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP",
                                lines=[{"description": "Workshop seat", "quantity": "3", "unit_price": unit_price,
                                        "tax_rate_id": rates["standard"]}])


def test_a_gross_draft_whose_total_differs_from_the_typed_amounts_says_so(app, world, staff_client):
    """3 × 40.01 with 20 % VAT included = 120.03 typed; no net gives 120.03 (100.03 + 20.01
    = 120.04, 100.02 + 20.00 = 120.02), so the total is 120.04: one penny more."""
    draft = _gross_draft(app, world, "40.01")
    assert draft.total_minor == 12_004

    page = staff_client.get(f"/invoicing/invoices/{draft.id}").text
    notice = re.search(r'data-notice="gross-rounding"[^>]*>(.*?)</p>', page, re.S)
    assert notice, "the draft does not say the total differs from what was typed"
    assert "£120.03" in notice.group(1) and "£120.04" in notice.group(1)

    form = staff_client.get(f"/invoicing/invoices/{draft.id}/edit").text
    assert 'data-notice="gross-rounding"' in form and "£120.03" in form


def test_a_gross_draft_that_adds_up_to_what_was_typed_says_nothing(app, world, staff_client):
    draft = _gross_draft(app, world, "40.00")
    assert draft.total_minor == 12_000

    assert 'data-notice="gross-rounding"' not in staff_client.get(f"/invoicing/invoices/{draft.id}").text
    assert 'data-notice="gross-rounding"' not in staff_client.get(f"/invoicing/invoices/{draft.id}/edit").text


# --- F14: the staff detail page shows the VAT per rate -------------------------------------


def test_the_detail_page_shows_net_vat_per_rate_total_paid_and_due(app, world, staff_client):
    """100.00 at 20 % and 200.00 at 5 %: net 300.00, VAT 20.00 + 10.00 = 30.00, total 330.00;
    £100.00 received by hand, £230.00 due."""
    rates = _vat_registered(app, world)
    set_client(app, world.client_a, legal_name="Globex Corporation Ltd", address_line1="20 Canada Square",
               city="London", post_code="E14 5NP", country="GB")
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP", send_method="manual",
                                 lines=[{"description": "Audit", "unit_price": "100.00"},
                                        {"description": "Books", "unit_price": "200.00",
                                         "tax_rate_id": rates["reduced"]}])
        api.send(world.acme, ACTOR, draft.id, method="manual")
        api.mark_paid(world.acme, ACTOR, draft.id, amount="100.00", method="bank_transfer")

    page = staff_client.get(f"/invoicing/invoices/{draft.id}").text

    rows = {label: _text(row) for label, row in
            re.findall(r'<tr data-vat-group="([^"]+)">(.*?)</tr>', page, re.S)}
    assert set(rows) == {"VAT 20 %", "VAT 5 %"}
    assert "£100.00" in rows["VAT 20 %"] and "£20.00" in rows["VAT 20 %"]
    assert "£200.00" in rows["VAT 5 %"] and "£10.00" in rows["VAT 5 %"]
    for field, amount in (("net", "£300.00"), ("tax", "£30.00"), ("amount", "£330.00"), ("received", "£100.00"),
                          ("balance", "£230.00")):
        found = re.search(rf'data-field="{field}">(.*?)</dd>', page, re.S)
        assert found and amount in found.group(1), field


# --- the invoice_paid snapshot of a Stripe payment -----------------------------------------


def test_the_invoice_paid_signal_of_a_stripe_payment_carries_lines_and_payments(
        app, world, connected_workspace, stripe_emulator):
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP",
                                 send_method="stripe_link",
                                 lines=[{"description": "Audit", "quantity": "2", "unit_price": "150.00",
                                         "tax_rate": "none"},
                                        {"description": "Report", "unit_price": "50.00", "tax_rate": "none"}])
        sent = api.send(world.acme, ACTOR, draft.id, method="stripe_link")
    client = app.test_client()
    assert client.get(f"/invoicing/pay/{sent.public_token}").status_code == 303
    with app.app_context():
        session_id = get_state().session.scalar(select(Invoice.checkout_session_id).where(Invoice.id == sent.id))
        get_state().session.rollback()
    stripe_emulator.control.pay_session(session_id)
    seen = []

    with signals.invoice_paid.connected_to(lambda sender, **kw: seen.append(kw)):
        response = post_event(client, event_for(stripe_emulator, "checkout.session.completed", session_id))

    assert response.status_code == 200 and response.get_json()["status"] == "processed"
    assert [kw["source"] for kw in seen] == ["stripe"]
    snapshot = seen[0]["invoice"]
    with app.test_request_context():
        read = api.get_invoice(world.acme, sent.id)
    assert [line.description for line in snapshot.lines] == ["Audit", "Report"]
    assert snapshot.lines == read.lines
    assert [(p.amount_minor, p.method) for p in snapshot.payments] == [(35_000, "stripe")]
    assert snapshot.payments == read.payments
    assert (snapshot.status, snapshot.paid_minor, snapshot.due_minor) == ("paid", 35_000, 0)


def test_a_signal_sent_after_commit_is_built_only_when_someone_listens(app):
    from invoicing_plugin.services.uow import UnitOfWork

    built: list[int] = []

    def build() -> dict:
        built.append(1)
        return {"invoice": None, "actor": "test"}

    with app.app_context():
        uow = UnitOfWork.for_app()
        with uow:
            uow.emit_after_commit(signals.invoice_voided, build)
            uow.commit()
        assert built == []  # nobody listens: nothing is read
        seen: list[dict] = []
        with signals.invoice_voided.connected_to(lambda sender, **kw: seen.append(kw)), uow:
            uow.emit_after_commit(signals.invoice_voided, build)
            uow.commit()
    assert built == [1] and seen == [{"invoice": None, "actor": "test"}]
