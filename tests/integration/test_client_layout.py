"""Client-facing pages never show the host's staff layout; the documented layouts work as written.

host_demo's layout (its ``base_template``) carries the staff navigation: the brand link
to the staff dashboard, the main menu with the plugin's entries, "Sign out". The pay
link, the pages Stripe Checkout returns to, their error pages and the client portal
extend ``INVOICING_CLIENT_BASE_TEMPLATE`` instead (by default the plugin's neutral
``invoicing/client_layout.html``), even for a signed-in staff member opening a client's
link. The README's claims are run as written: ``{% block title %}`` is optional in the
host's layout, and its client layout example brands the client pages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import ChoiceLoader, DictLoader

from tests.integration._invoice_helpers import draft, load, send

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CLIENT_SECTION = README[README.index("### Client-facing pages"):README.index("## Configuration")]

#: What host_demo's staff layout (host_demo/templates/base.html) shows a signed-in member.
STAFF_NAVIGATION = ('class="topbar"', 'aria-label="Main"', "Sign out", "/invoicing/invoices", "Connected apps")


def _assert_client_page(response, status=200):
    assert response.status_code == status, response.text[:500]
    page = response.text
    assert 'class="inv-portal__header"' in page  # the client layout
    for marker in STAFF_NAVIGATION:
        assert marker not in page, f"staff navigation ({marker!r}) on a client page"


@pytest.fixture
def sent_invoice(app, world, connected_workspace):
    invoice = draft(app, world, amount="480.00", send_method="stripe_link", description="Retest")
    send(app, world, invoice.id, "stripe_link")
    return load(app, invoice.id)


def test_the_staff_pages_do_show_the_staff_navigation(staff_client):
    page = staff_client.get("/invoicing/invoices").text
    for marker in STAFF_NAVIGATION:
        assert marker in page


def test_pay_link_pages_show_no_staff_navigation_even_to_signed_in_staff(app, staff_client, sent_invoice,
                                                                         stripe_emulator):
    token = sent_invoice.public_token

    cancelled = staff_client.get(f"/invoicing/pay/{token}?cancelled=1")
    _assert_client_page(cancelled)
    assert "Acme Security" in cancelled.text and "Payment was not completed" in cancelled.text

    stripe_emulator.control.pay_session(sent_invoice.checkout_session_id)
    returned = staff_client.get(f"/invoicing/pay/{token}/success?session_id={sent_invoice.checkout_session_id}")
    _assert_client_page(returned)
    assert "Paid" in returned.text
    _assert_client_page(staff_client.get(f"/invoicing/pay/{token}"))

    _assert_client_page(staff_client.get("/invoicing/pay/" + "x" * 43), status=404)
    _assert_client_page(staff_client.get(f"/invoicing/pay/{token}?cancelled=%00"), status=400)


def test_the_portal_shows_no_staff_navigation_even_to_signed_in_staff(app, world, staff_client, sent_invoice):
    from invoicing_plugin.services.portal import portal_url

    with app.test_request_context():
        url = portal_url(world.acme, world.client_a)
        from invoicing_plugin.state import get_state

        get_state().session.commit()
    page = staff_client.get(re.sub(r"^https?://[^/]+", "", url))

    _assert_client_page(page)
    assert "Invoice INV-0001" in page.text and "Acme Security" in page.text


def test_the_host_layout_needs_no_title_block(app, staff_client):
    """README and host.py: the host's layout must define ``content`` and may define ``title``."""
    from invoicing_plugin.state import get_state

    content_only = "<main>{% block content %}{% endblock %}</main>"
    app.jinja_loader = ChoiceLoader([DictLoader({"content_only.html": content_only}), app.jinja_loader])
    get_state(app).host.base_template = "content_only.html"
    try:
        page = staff_client.get("/invoicing/invoices")
    finally:
        get_state(app).host.base_template = "base.html"

    assert page.status_code == 200
    assert page.text.startswith("<main>") and "Invoices" in page.text


def test_the_readme_client_layout_example_brands_the_client_pages(app, staff_client, sent_invoice):
    [setting] = re.findall(r"```python\n(.*?)```", CLIENT_SECTION, re.S)
    [layout] = re.findall(r"```html\n(.*?)```", CLIENT_SECTION, re.S)
    app.jinja_loader = ChoiceLoader([DictLoader({"client_layout.html": layout}), app.jinja_loader])
    exec(compile(setting, "README.md", "exec"), {"app": app})

    page = staff_client.get(f"/invoicing/pay/{sent_invoice.public_token}?cancelled=1")

    assert page.status_code == 200
    assert '<header class="client-header">Acme Security</header>' in page.text
    assert "<title>Invoice INV-0001 from Acme Security · Acme</title>" in page.text
    assert "Payment was not completed" in page.text
    for marker in STAFF_NAVIGATION:
        assert marker not in page.text
