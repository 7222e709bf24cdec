"""An admin connects Stripe from host_demo's Settings through the emulator's hosted onboarding."""

from __future__ import annotations

import re

from tests.e2e.helpers import sign_in


def open_connected_apps(page, base_url: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("main").get_by_role("link", name="Connected apps").click()
    assert page.url.endswith("/invoicing/connected-apps/")


def stripe_status(page):
    return page.get_by_test_id("stripe-connection").locator("[data-status]")


def test_admin_connects_stripe_and_comes_back_active(app, world, live_server, page, stripe_emulator, screenshot):
    sign_in(page, live_server.url, world.admin_email, workspace_slug=world.acme_slug)
    open_connected_apps(page, live_server.url)
    assert stripe_status(page).inner_text() == "Not connected"

    page.get_by_role("button", name="Connect Stripe").click()
    assert page.url.startswith(stripe_emulator.url + "/setup/s/acct_")
    assert page.get_by_role("heading", name="Set up your payouts account").is_visible()
    screenshot("connect-onboarding-hosted-page")

    page.get_by_role("button", name="Complete onboarding").click()
    page.wait_for_url(re.compile(r".*/invoicing/connected-apps/$"))
    assert page.get_by_text("Stripe is connected. Clients can now pay invoices online.").is_visible()
    assert stripe_status(page).inner_text() == "Active"
    assert page.get_by_role("button", name="Open Stripe dashboard").is_visible()
    assert page.get_by_role("link", name="Disconnect").is_visible()
    screenshot("connect-active")

    # The Express dashboard opens in a new tab through a login link.
    with page.context.expect_page() as new_tab:
        page.get_by_role("button", name="Open Stripe dashboard").click()
    dashboard = new_tab.value
    dashboard.wait_for_load_state()
    assert dashboard.get_by_role("heading", name="Express dashboard").is_visible()
    dashboard.close()

    # Disconnect through the confirmation page.
    page.get_by_role("link", name="Disconnect").click()
    assert page.get_by_text("does not affect your Stripe account or any completed payments").is_visible()
    page.get_by_role("button", name="Disconnect Stripe").click()
    assert stripe_status(page).inner_text() == "Disconnected"
    assert page.get_by_role("button", name="Reconnect Stripe").is_visible()


def test_leaving_onboarding_with_requirements_outstanding_shows_restricted(
    app, world, live_server, page, stripe_emulator, screenshot
):
    sign_in(page, live_server.url, world.owner_email, workspace_slug=world.acme_slug)
    open_connected_apps(page, live_server.url)

    page.get_by_role("button", name="Connect Stripe").click()
    page.get_by_role("button", name="Leave with requirements outstanding").click()
    page.wait_for_url(re.compile(r".*/invoicing/connected-apps/$"))

    assert stripe_status(page).inner_text() == "Restricted"
    requirements = page.get_by_test_id("requirements")
    assert requirements.get_by_text("Identity document").is_visible()
    assert requirements.get_by_text("Bank account for payouts").is_visible()
    assert page.get_by_role("button", name="Continue onboarding").is_visible()
    screenshot("connect-restricted")

    # Continuing finishes it.
    page.get_by_role("button", name="Continue onboarding").click()
    page.get_by_role("button", name="Complete onboarding").click()
    page.wait_for_url(re.compile(r".*/invoicing/connected-apps/$"))
    assert stripe_status(page).inner_text() == "Active"


def test_admin_adds_an_own_secret_key(app, world, live_server, page, stripe_emulator):
    sign_in(page, live_server.url, world.owner_email, workspace_slug=world.acme_slug)
    open_connected_apps(page, live_server.url)
    page.get_by_role("link", name="Add the Stripe Secret Key").click()

    page.get_by_label("Stripe secret key").fill("pk_test_abcdefghijklmnop")
    page.get_by_role("button", name="Save key").click()
    assert page.get_by_role("alert").filter(has_text="That is a publishable key").is_visible()
    assert page.get_by_label("Stripe secret key").input_value() == ""  # never echoed back

    page.get_by_label("Stripe secret key").fill("sk_test_e2eownkey0000abcd")
    page.get_by_role("button", name="Save key").click()
    assert stripe_status(page).inner_text() == "Active"
    assert page.get_by_text("sk_test_…abcd").is_visible()
    assert page.get_by_text("Webhook endpoint registered").is_visible()
