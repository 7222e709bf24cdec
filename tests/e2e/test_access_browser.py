"""A person signs in to host_demo and reaches (or is refused) the plugin's pages."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.helpers import sign_in


def test_billing_admin_opens_invoices_from_the_host_navigation(app, world, live_server, page):
    sign_in(page, live_server.url, world.admin_email, workspace_slug=world.acme_slug)

    page.get_by_role("link", name="Invoices").first.click()

    expect(page).to_have_url(re.compile(r".*/invoicing/invoices$"))
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()


def test_member_without_billing_rights_is_refused_a_plugin_page(app, world, live_server, page):
    sign_in(page, live_server.url, world.member_email, workspace_slug=world.acme_slug)

    assert page.get_by_role("link", name="Invoices").count() == 0
    response = page.goto(f"{live_server.url}/invoicing/invoices")
    assert response.status == 403
