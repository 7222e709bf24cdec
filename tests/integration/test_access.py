"""Who may see the plugin's staff pages, decided by the host contract alone."""

from __future__ import annotations

import pytest

from tests.integration.conftest import login


def test_billing_admin_sees_the_invoice_list(app, world):
    client = login(app.test_client(), world.admin_email, world.acme_slug)
    response = client.get("/invoicing/invoices")
    assert response.status_code == 200
    assert b"Invoices" in response.data


def test_member_without_billing_rights_is_refused(app, world):
    client = login(app.test_client(), world.member_email, world.acme_slug)
    assert client.get("/invoicing/invoices").status_code == 403


def test_anonymous_visitor_is_sent_to_the_host_login(app, world):
    response = app.test_client().get("/invoicing/invoices")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]


def test_internal_workspace_has_no_invoicing_at_all(app, world):
    client = login(app.test_client(), world.owner_email, world.internal_slug)
    assert client.get("/invoicing/invoices").status_code == 404


@pytest.mark.parametrize("email, visible", [("owner@example.com", True), ("member@example.com", False)])
def test_navigation_shows_plugin_links_only_to_billing_staff(app, world, email, visible):
    client = login(app.test_client(), email, world.acme_slug)
    page = client.get("/settings/connected-apps").get_data(as_text=True)
    assert ('href="/invoicing/invoices"' in page) is visible


def test_internal_workspace_navigation_hides_plugin_links(app, world):
    client = login(app.test_client(), world.owner_email, world.internal_slug)
    page = client.get("/settings/connected-apps").get_data(as_text=True)
    assert "/invoicing/" not in page
