"""An admin connects Stripe from host_demo's Settings through the emulator's hosted onboarding."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.helpers import sign_in


def open_connected_apps(page, base_url: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("main").get_by_role("link", name="Connected apps").click()
    expect(page).to_have_url(re.compile(r".*/invoicing/connected-apps/$"))


def stripe_status(page):
    return page.get_by_test_id("stripe-connection").locator("[data-status]")


def test_admin_connects_stripe_and_comes_back_active(app, world, live_server, page, stripe_emulator, screenshot):
    sign_in(page, live_server.url, world.admin_email, workspace_slug=world.acme_slug)
    open_connected_apps(page, live_server.url)
    expect(stripe_status(page)).to_have_text("Not connected")

    page.get_by_role("button", name="Connect Stripe").click()
    expect(page).to_have_url(re.compile(re.escape(stripe_emulator.url) + r"/setup/s/acct_"))
    expect(page.get_by_role("heading", name="Set up your payouts account")).to_be_visible()
    screenshot("connect-onboarding-hosted-page")

    page.get_by_role("button", name="Complete onboarding").click()
    page.wait_for_url(re.compile(r".*/invoicing/connected-apps/$"))
    expect(page.get_by_text("Stripe is connected. Clients can now pay invoices online.")).to_be_visible()
    expect(stripe_status(page)).to_have_text("Active")
    expect(page.get_by_role("button", name="Open Stripe dashboard")).to_be_visible()
    expect(page.get_by_role("link", name="Disconnect")).to_be_visible()
    screenshot("connect-active")

    # The Express dashboard opens in a new tab through a login link.
    with page.context.expect_page() as new_tab:
        page.get_by_role("button", name="Open Stripe dashboard").click()
    dashboard = new_tab.value
    dashboard.wait_for_load_state()
    expect(dashboard.get_by_role("heading", name="Express dashboard")).to_be_visible()
    dashboard.close()

    # Disconnect through the confirmation page.
    page.get_by_role("link", name="Disconnect").click()
    expect(page.get_by_text("does not affect your Stripe account or any completed payments")).to_be_visible()
    page.get_by_role("button", name="Disconnect Stripe").click()
    expect(stripe_status(page)).to_have_text("Disconnected")
    expect(page.get_by_role("button", name="Reconnect Stripe")).to_be_visible()


def test_leaving_onboarding_with_requirements_outstanding_shows_restricted(
    app, world, live_server, page, stripe_emulator, screenshot
):
    sign_in(page, live_server.url, world.owner_email, workspace_slug=world.acme_slug)
    open_connected_apps(page, live_server.url)

    page.get_by_role("button", name="Connect Stripe").click()
    page.get_by_role("button", name="Leave with requirements outstanding").click()
    page.wait_for_url(re.compile(r".*/invoicing/connected-apps/$"))

    expect(stripe_status(page)).to_have_text("Restricted")
    requirements = page.get_by_test_id("requirements")
    expect(requirements.get_by_text("Identity document")).to_be_visible()
    expect(requirements.get_by_text("Bank account for payouts")).to_be_visible()
    expect(page.get_by_role("button", name="Continue onboarding")).to_be_visible()
    screenshot("connect-restricted")

    # Continuing finishes it.
    page.get_by_role("button", name="Continue onboarding").click()
    page.get_by_role("button", name="Complete onboarding").click()
    page.wait_for_url(re.compile(r".*/invoicing/connected-apps/$"))
    expect(stripe_status(page)).to_have_text("Active")


def test_admin_adds_an_own_secret_key(app, world, live_server, page, stripe_emulator):
    sign_in(page, live_server.url, world.owner_email, workspace_slug=world.acme_slug)
    open_connected_apps(page, live_server.url)
    page.get_by_role("link", name="Add the Stripe Secret Key").click()

    page.get_by_label("Stripe secret key").fill("pk_test_abcdefghijklmnop")
    page.get_by_role("button", name="Save key").click()
    expect(page.get_by_role("alert").filter(has_text="That is a publishable key")).to_be_visible()
    expect(page.get_by_label("Stripe secret key")).to_have_value("")  # never echoed back

    page.get_by_label("Stripe secret key").fill("sk_test_e2eownkey0000abcd")
    page.get_by_role("button", name="Save key").click()
    expect(stripe_status(page)).to_have_text("Active")
    expect(page.get_by_text("sk_test_…abcd")).to_be_visible()
    expect(page.get_by_text("Webhook endpoint registered")).to_be_visible()
