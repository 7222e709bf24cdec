"""The client portal: a client sees their own sent invoices, and nothing else."""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta, timezone

import pytest

from invoicing_plugin.host import HostClientIdentity
from invoicing_plugin.persistence.models import ClientPortalAccess


def portal_path(app, workspace_id: str, client_id: str) -> str:
    from invoicing_plugin.services.portal import portal_url

    with app.test_request_context():
        url = portal_url(workspace_id, client_id)
        from invoicing_plugin.extension import get_state

        get_state().session.commit()
    assert url.startswith("http://localhost/invoicing/portal/")
    return url.removeprefix("http://localhost")


def card_numbers(html: str) -> list[str]:
    return re.findall(r'data-invoice="([^"]+)"', html)


@pytest.fixture
def acme_invoices(world, make_invoice):
    """A spread of acme invoices for client_a, plus others that must never show."""
    engagement = f"engagement:{world.engagement}"
    mine = {
        "due": make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0001",
                            subject_ref=engagement, subject_title="Q3 penetration test",
                            amount_minor=125050, currency="EUR", due_date=date.today() + timedelta(days=10),
                            description="Web application test", stripe_mode="own_key"),
        "overdue": make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0002",
                                subject_ref=engagement, subject_title="Q3 penetration test",
                                amount_minor=50000, due_date=date.today() - timedelta(days=3),
                                stripe_mode="own_key"),
        "paid": make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0003", status="paid",
                             paid_at=datetime(2025, 3, 4, 12, tzinfo=timezone.utc)),
        "processing": make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0004",
                                   status="processing"),
    }
    others = {
        "draft": make_invoice(workspace_id=world.acme, client_id=world.client_a, status="draft",
                              description="Secret draft"),
        "other_client": make_invoice(workspace_id=world.acme, client_id=world.client_b, number="INV-0100",
                                     client_name="Initech", description="Initech work"),
        # Another workspace, with the same client id string: must not leak either.
        "other_workspace": make_invoice(workspace_id=world.northwind, client_id=world.client_a, number="NW-0001",
                                        description="Northwind work"),
    }
    return mine, others


def test_portal_lists_only_the_clients_sent_invoices_grouped_by_engagement(app, world, acme_invoices):
    mine, others = acme_invoices
    path = portal_path(app, world.acme, world.client_a)

    response = app.test_client().get(path)

    assert response.status_code == 200
    html = response.text
    assert sorted(card_numbers(html)) == ["INV-0001", "INV-0002", "INV-0003", "INV-0004"]
    assert "Secret draft" not in html and "Initech work" not in html and "Northwind work" not in html
    # Grouped: the engagement first (it has something to pay), then the rest.
    assert html.index("Q3 penetration test") < html.index("Other invoices")
    assert html.index("INV-0002") < html.index("Other invoices") < html.index("INV-0003")
    assert "Hello, Globex Corporation" in html


def test_portal_shows_overdue_pay_buttons_and_paid_dates(app, world, acme_invoices):
    mine, _ = acme_invoices
    html = app.test_client().get(portal_path(app, world.acme, world.client_a)).text

    def card(number):
        return re.search(rf'data-invoice="{number}">(.*?)</li>', html, re.S).group(1)

    assert "Overdue" in card("INV-0002") and "Was due on" in card("INV-0002")
    assert f'href="/invoicing/pay/{mine["due"].public_token}"' in card("INV-0001")
    assert f'href="/invoicing/pay/{mine["overdue"].public_token}"' in card("INV-0002")
    assert "Pay invoice" not in card("INV-0003") and "Paid on March 4, 2025" in card("INV-0003")
    assert "Pay invoice" not in card("INV-0004") and "Payment processing" in card("INV-0004")
    assert "€1,250.50" in card("INV-0001")
    # The summary adds up what is due per currency and never mixes currencies.
    summary = re.search(r'<section class="inv-summary.*?</section>', html, re.S).group(0)
    assert re.findall(r'inv-summary__amount">([^<]+)<', summary) == ["€1,250.50", "£500.00"]
    assert "1 invoice is past the due date" in summary


def test_portal_link_is_created_once_per_client(app, world):
    first = portal_path(app, world.acme, world.client_a)
    again = portal_path(app, world.acme, world.client_a)
    other = portal_path(app, world.acme, world.client_b)

    assert first == again
    assert first != other
    with app.app_context():
        from invoicing_plugin.extension import get_state

        assert get_state().session.query(ClientPortalAccess).count() == 2


def test_portal_url_outside_a_request_uses_the_external_url(app, world):
    """In a CLI command or a worker there is no request: INVOICING_EXTERNAL_URL names the host."""
    from invoicing_plugin.services.errors import InvoicingError
    from invoicing_plugin.services.portal import portal_url

    def outside_a_request(client_id):
        # A fresh thread starts with no request context, as a CLI command or a worker.
        result = {}

        def run():
            with app.app_context():
                try:
                    result["url"] = portal_url(world.acme, client_id)
                except InvoicingError as exc:
                    result["error"] = str(exc)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        return result

    app.config["INVOICING_EXTERNAL_URL"] = "https://billing.example.com"
    url = outside_a_request(world.client_a)["url"]
    assert re.fullmatch(r"https://billing\.example\.com/invoicing/portal/[A-Za-z0-9_-]{43}", url)

    app.config["INVOICING_EXTERNAL_URL"] = None
    assert "INVOICING_EXTERNAL_URL" in outside_a_request(world.client_b)["error"]


@pytest.mark.parametrize("token", ["nope", "x" * 43, "../../etc", "A" * 200])
def test_unknown_or_malformed_portal_links_answer_404(app, world, token):
    assert app.test_client().get(f"/invoicing/portal/{token}").status_code == 404


def test_a_client_cannot_open_another_clients_or_workspaces_invoice(app, world, acme_invoices):
    mine, others = acme_invoices
    client = app.test_client()
    path = portal_path(app, world.acme, world.client_a)

    for invoice in others.values():
        assert client.get(f"{path}/invoices/{invoice.public_token}").status_code == 404
        assert client.get(f"{path}/invoices/{invoice.public_token}.pdf").status_code == 404
    assert client.get(f"{path}/invoices/{mine['due'].public_token}").status_code == 200
    # The other client's own link does not show client A's invoice either.
    other_path = portal_path(app, world.acme, world.client_b)
    assert client.get(f"{other_path}/invoices/{mine['due'].public_token}").status_code == 404
    assert card_numbers(client.get(other_path).text) == ["INV-0100"]


def test_portal_pages_keep_the_link_private(app, world, acme_invoices):
    response = app.test_client().get(portal_path(app, world.acme, world.client_a))

    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response.headers["Cache-Control"]
    assert "noindex" in response.headers["X-Robots-Tag"]
    # Client pages never show the host's staff navigation.
    assert "Sign out" not in response.text


def test_portal_of_an_internal_workspace_answers_404(app, world, make_invoice):
    make_invoice(workspace_id=world.internal, client_id="1")
    path = portal_path(app, world.internal, "1")
    assert app.test_client().get(path).status_code == 404


def test_client_signed_in_through_the_host_sees_their_portal(app, world, acme_invoices, monkeypatch):
    from invoicing_plugin.extension import get_state

    client = app.test_client()
    assert client.get("/invoicing/portal").status_code == 404  # host_demo has no client login

    host = get_state(app).host
    monkeypatch.setattr(host, "current_client", lambda: HostClientIdentity(world.acme, world.client_b),
                        raising=False)
    response = client.get("/invoicing/portal")

    assert response.status_code == 200
    assert card_numbers(response.text) == ["INV-0100"]


def test_client_printable_invoice_and_pdf(app, world, acme_invoices):
    mine, _ = acme_invoices
    path = portal_path(app, world.acme, world.client_a)
    client = app.test_client()

    page = client.get(f"{path}/invoices/{mine['due'].public_token}")
    assert page.status_code == 200
    assert "INV-0001" in page.text and "Acme Security" in page.text and "€1,250.50" in page.text
    assert f"http://localhost/invoicing/pay/{mine['due'].public_token}" in page.text

    pdf = client.get(f"{path}/invoices/{mine['due'].public_token}.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert 'filename="invoice-INV-0001.pdf"' in pdf.headers["Content-Disposition"]


def test_portal_offers_no_pay_button_for_a_manual_invoice(app, world, make_invoice):
    """Issue 15 F4: a manual invoice awaits payment as arranged; the portal's card, its print
    page and PDF offer no pay link (the link itself would say online payment is unavailable)."""
    manual = make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0050",
                          send_method="manual", stripe_mode="own_key", amount_minor=7000)
    path = portal_path(app, world.acme, world.client_a)
    client = app.test_client()
    html = client.get(path).text
    card = re.search(r'data-invoice="INV-0050">(.*?)</li>', html, re.S).group(1)

    assert "Pay invoice" not in card and "/invoicing/pay/" not in card
    assert "/invoicing/pay/" not in client.get(f"{path}/invoices/{manual.public_token}").text
