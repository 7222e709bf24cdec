"""A client pays from their portal on a phone; staff look at revenue analytics."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from playwright.sync_api import expect

from tests.conftest import WEBHOOK_SECRET
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.helpers import sign_in
from tests.integration.conftest import connect_workspace, make_invoice  # noqa: F401  (fixture)

PHONE = {"width": 390, "height": 844}


def send_invoice_for_engagement(app, world, base_url: str) -> tuple[str, str]:
    """Staff send an invoice for the engagement through the services; returns (number, portal URL)."""
    from invoicing_plugin import api
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.services.portal import portal_url

    with app.test_request_context(base_url=base_url):
        draft = api.create_draft(world.acme, "test", client_id=world.client_a, amount="1,250.50", currency="GBP",
                                 description="Q3 web application penetration test",
                                 subject=f"engagement:{world.engagement}", send_method="stripe_link",
                                 due_date=date.today() + timedelta(days=14))
        sent = api.send(world.acme, "test", draft.id, method="stripe_link")
        url = portal_url(world.acme, world.client_a)
        get_state().session.commit()
    return sent.number, url


def test_client_pays_an_invoice_from_the_portal_on_a_phone(app, world, live_server, browser, stripe_emulator,
                                                           make_invoice):
    connect_workspace(app, stripe_emulator, world.acme)
    stripe_emulator.control.add_webhook_endpoint(live_server.url + "/invoicing/webhooks/stripe", secret=WEBHOOK_SECRET)
    make_invoice(workspace_id=world.acme, client_id=world.client_a, number="INV-0100", status="paid",
                 client_name="Globex Corporation", amount_minor=50000, description="Scoping workshop",
                 paid_at=datetime(2025, 2, 3, 15, tzinfo=timezone.utc))
    number, portal = send_invoice_for_engagement(app, world, live_server.url)
    assert portal.startswith(live_server.url + "/invoicing/portal/")

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    phone = context.new_page()
    phone.goto(portal)

    expect(phone.get_by_role("heading", name="Hello, Globex Corporation")).to_be_visible()
    expect(phone.get_by_role("heading", name="Q3 penetration test")).to_be_visible()
    expect(phone.get_by_role("heading", name="Other invoices")).to_be_visible()
    unpaid = phone.locator(f'[data-invoice="{number}"]')
    assert "Awaiting payment" in unpaid.inner_text() and "£1,250.50" in unpaid.inner_text()
    assert "Paid on February 3, 2025" in phone.locator('[data-invoice="INV-0100"]').inner_text()
    # Made for a phone: nothing wider than the screen, buttons big enough to tap.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    pay = phone.get_by_role("link", name=f"Pay invoice {number}")
    assert pay.bounding_box()["height"] >= 44
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "portal-phone.png"), full_page=True)

    pay.click()
    phone.wait_for_url(re.compile(re.escape(stripe_emulator.url) + r"/c/pay/cs_test_.*"))
    expect(phone.get_by_role("heading", name="Pay 1250.50 GBP")).to_be_visible()
    phone.get_by_label("Card number").fill("4242 4242 4242 4242")
    phone.get_by_role("button", name="Pay 1250.50 GBP").click()
    phone.wait_for_url(re.compile(r".*/invoicing/pay/[^/]+/success\?session_id=cs_test_.*"))

    phone.goto(portal)
    card = phone.locator(f'[data-invoice="{number}"]')
    assert "Paid" in card.locator(".inv-status").inner_text()
    assert "Paid on" in card.inner_text()
    assert phone.get_by_role("link", name=f"Pay invoice {number}").count() == 0
    assert "You're all paid up" in phone.locator(".inv-summary").inner_text()
    phone.screenshot(path=str(ARTIFACTS / "portal-phone-paid.png"), full_page=True)
    context.close()


def test_staff_see_revenue_analytics(app, world, live_server, page, screenshot, make_invoice):
    today = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
    amounts = {"GBP": [420000, 310000, 0, 515000, 268000, 610000, 455000, 0, 720000, 390000, 540000, 275000],
               "EUR": [0, 180000, 220000, 0, 305000, 0, 150000, 260000, 0, 330000, 0, 125000]}
    for currency, series in amounts.items():
        for months_ago, amount in enumerate(reversed(series)):
            if amount:
                paid_at = (today.replace(day=10) - timedelta(days=30 * months_ago)).replace(day=10)
                make_invoice(workspace_id=world.acme, client_id=world.client_a, currency=currency, status="paid",
                             amount_minor=amount, paid_at=paid_at, created_at=paid_at - timedelta(days=14),
                             fee_bps=350, application_fee_minor=amount * 35 // 1000)
    make_invoice(workspace_id=world.acme, client_id=world.client_b, amount_minor=185000,
                 due_date=today.date() - timedelta(days=5), created_at=today - timedelta(days=40))
    make_invoice(workspace_id=world.acme, client_id=world.client_a, currency="EUR", amount_minor=98000,
                 due_date=today.date() + timedelta(days=20))

    sign_in(page, live_server.url, world.owner_email, workspace_slug=world.acme_slug)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Revenue").click()
    page.wait_for_url(re.compile(r".*/invoicing/analytics$"))

    expect(page.get_by_role("heading", name="Revenue", exact=True)).to_be_visible()
    expect(page.get_by_role("img", name="Paid revenue per month in GBP")).to_be_visible()
    expect(page.get_by_role("img", name="Paid revenue per month in EUR")).to_be_visible()
    assert "£1,850.00" in page.locator("#kpi-overdue").locator("..").inner_text()
    screenshot("analytics")

    page.get_by_label("From", exact=True).fill("2001-01-01")
    page.get_by_label("To", exact=True).fill("2000-01-01")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*/invoicing/analytics\?start=2001-01-01&end=2000-01-01$"))
    expect(page.get_by_role("alert").filter(has_text="The start date must be on or before the end date.")).to_be_visible()
