"""The template helpers a host's own pages call: ``invoicing_links()`` and
``invoicing_new_invoice_url(kind, id)``.

Both answer for the person looking: billing staff of a workspace that bills clients
get links; a member without billing rights, an internal workspace, an anonymous
visitor and a client-facing page get nothing (a link there would lead to 403/404).
"""

from __future__ import annotations

import pytest
from flask import jsonify, render_template_string

from tests.integration.conftest import login

PROBE = "/_probe/helpers"


@pytest.fixture
def probe(app):
    """A host page (added before the first request) that reports what the helpers return."""

    def helpers():
        from invoicing_plugin.web.templating import invoicing_links, invoicing_new_invoice_url

        links = invoicing_links()
        return jsonify(
            new_invoice_url=invoicing_new_invoice_url("engagement", 7),
            links=[{"label": link.label, "url": link.url, "as_tuple": list(link)} for link in links],
            rendered=render_template_string(
                "{% for link in invoicing_links() %}[{{ link.label }}|{{ link.url }}]{% endfor %}"
                "{% for label, url in invoicing_links() %}({{ label }}|{{ url }}){% endfor %}"
            ),
        )

    app.add_url_rule(PROBE, "probe_helpers", helpers)
    return app


def _ask(client):
    response = client.get(PROBE)
    assert response.status_code == 200
    return response.get_json()


def test_billing_staff_get_a_prefilled_new_invoice_url_and_self_describing_links(probe, world):
    answer = _ask(login(probe.test_client(), world.owner_email, world.acme_slug))
    assert answer["new_invoice_url"] == "/invoicing/invoices/new?subject=engagement:7"
    labels = [link["label"] for link in answer["links"]]
    assert labels == ["Invoices", "Revenue", "Emails", "Connected apps", "Webhooks", "Invoice settings"]
    first = answer["links"][0]
    assert first == {"label": "Invoices", "url": "/invoicing/invoices", "as_tuple": ["Invoices", "/invoicing/invoices"]}
    # Attribute access and the original (label, url) unpacking render the same entries.
    assert "[Invoices|/invoicing/invoices]" in answer["rendered"]
    assert "(Invoices|/invoicing/invoices)" in answer["rendered"]
    assert "[|" not in answer["rendered"] and "|]" not in answer["rendered"]


@pytest.mark.parametrize(
    "who",
    ["member without billing rights", "owner in an internal workspace", "anonymous visitor"],
)
def test_no_link_where_the_page_would_refuse(probe, world, who):
    client = probe.test_client()
    if who == "member without billing rights":
        login(client, world.member_email, world.acme_slug)
        refused = 403
    elif who == "owner in an internal workspace":
        login(client, world.owner_email, world.internal_slug)
        refused = 404
    else:
        refused = None
    answer = _ask(client)
    assert answer["new_invoice_url"] is None
    assert answer["links"] == [] and answer["rendered"] == ""
    if refused is not None:  # what the link would have led to
        assert client.get("/invoicing/invoices/new?subject=engagement:1").status_code == refused


def test_the_helpers_entry_type_is_the_documented_named_tuple():
    from invoicing_plugin.web.templating import InvoicingLink

    link = InvoicingLink("Invoices", "/invoicing/invoices")
    label, url = link
    assert (label, url) == (link.label, link.url) == ("Invoices", "/invoicing/invoices")
    assert link == ("Invoices", "/invoicing/invoices") and link._fields == ("label", "url")


def test_host_pages_show_new_invoice_only_to_billing_staff(app, world):
    page = f"/w/{world.acme_slug}/engagements/{world.engagement}"
    staff = login(app.test_client(), world.owner_email, world.acme_slug).get(page).text
    assert f'href="/invoicing/invoices/new?subject=engagement:{world.engagement}"' in staff
    member = login(app.test_client(), world.member_email, world.acme_slug).get(page)
    assert member.status_code == 200
    assert "New invoice" not in member.text and "/invoicing/" not in member.text


def test_connected_apps_page_renders_links_by_attribute(app, world):
    page = login(app.test_client(), world.owner_email, world.acme_slug).get("/settings/connected-apps").text
    assert '<a href="/invoicing/invoices">Invoices</a>' in page
    assert '<a href="/invoicing/connected-apps/">Connected apps</a>' in page


def test_billing_staff_reach_the_emails_list_from_the_navigation(probe, world):
    """New-user report item 3: the outbox (every email, attempts, last error) was not linked."""
    client = login(probe.test_client(), world.owner_email, world.acme_slug)
    emails = [link for link in _ask(client)["links"] if link["label"] == "Emails"]
    assert [link["url"] for link in emails] == ["/invoicing/emails/"]
    assert client.get(emails[0]["url"]).status_code == 200
    # ... and members without billing rights neither see the link nor open the page.
    other = login(probe.test_client(), world.member_email, world.acme_slug)
    assert _ask(other)["links"] == []
    assert other.get("/invoicing/emails/").status_code == 403
