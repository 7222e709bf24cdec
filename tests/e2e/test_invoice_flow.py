"""The whole invoice flow in a browser: draft → send by email → client pays from the email → paid."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import WEBHOOK_SECRET
from tests.e2e.helpers import sign_in
from tests.integration._invoice_helpers import pay_link_from_email
from tests.integration.conftest import connect_workspace


def test_staff_invoice_a_client_who_pays_from_the_email(app, world, live_server, page, stripe_emulator, mailbox,
                                                        screenshot):
    connect_workspace(app, stripe_emulator, world.acme)
    # Stripe tells the app about the payment too, signed with the platform secret.
    stripe_emulator.control.add_webhook_endpoint(live_server.url + "/invoicing/webhooks/stripe", secret=WEBHOOK_SECRET)

    sign_in(page, live_server.url, world.owner_email, workspace_slug=world.acme_slug)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
    page.get_by_role("link", name="New invoice").click()

    page.get_by_label("Client", exact=True).select_option(label="Globex Corporation <billing@globex.test>")
    page.get_by_label("Amount").fill("1,250.50")
    page.get_by_label("Currency").select_option("GBP")
    page.get_by_label("Description").fill("Q3 web application penetration test")
    page.get_by_label("Email with a “Pay invoice” button").check()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Draft invoice")).to_be_visible()
    screenshot("invoice-draft")

    send_form = page.get_by_role("form", name="Send the invoice")
    send_form.get_by_label("Email with a “Pay invoice” button").check()
    send_form.get_by_role("button", name="Send invoice").click()
    expect(page.get_by_text("Invoice INV-0001 emailed to billing@globex.test.")).to_be_visible()
    invoice_url = page.url
    pay_link = page.get_by_label("Pay link for the client").input_value()
    screenshot("invoice-sent")

    [message] = mailbox.wait_for(1)
    link = pay_link_from_email(message)
    assert link == pay_link and link.startswith(live_server.url + "/invoicing/pay/")

    client = page.context.browser.new_context()  # the client's own browser: not signed in
    client_page = client.new_page()
    client_page.goto(link)
    assert client_page.url.startswith(stripe_emulator.url + "/c/pay/cs_test_")
    expect(client_page.get_by_role("heading", name="Pay 1250.50 GBP")).to_be_visible()
    expect(client_page.get_by_text("Invoice INV-0001")).to_be_visible()
    client_page.get_by_role("button", name="Pay 1250.50 GBP").click()
    client_page.wait_for_url(re.compile(r".*/invoicing/pay/[^/]+/success\?session_id=cs_test_.*"))
    expect(client_page.get_by_text("Paid — thank you.")).to_be_visible()
    client.close()

    assert stripe_emulator.control.wait_for_deliveries(timeout=10)
    completed = [d for d in stripe_emulator.control.deliveries() if d["event_type"] == "checkout.session.completed"]
    assert completed and all(d["ok"] for d in completed)  # the webhook agrees (and changes nothing twice)
    page.goto(invoice_url)
    panel = page.get_by_role("region", name="Invoice")
    assert panel.locator('[data-field="status"] [data-status]').inner_text() == "Paid"
    assert page.get_by_role("button", name="Void invoice").count() == 0
    screenshot("invoice-paid")
