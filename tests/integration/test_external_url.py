"""Behind a proxy, every absolute link the plugin hands out uses ``INVOICING_EXTERNAL_URL``.

The app here sees every request with ``Host: internal.local:8000`` (what a reverse proxy
forwarding to an internal address sends); clients and Stripe know it only as
``https://billing.example.com/app``. Every link that leaves the app -- the email's pay
button and portal link, the pay link staff copy, Checkout's success and cancel URLs,
Connect onboarding's return and refresh URLs, the webhook endpoint registered for an
own-key workspace and shown on the health page, the printed invoice's pay link -- must
use the external address, inside requests as outside them.
"""

from __future__ import annotations

import re
import secrets
import threading

import pytest
from sqlalchemy import select

from tests.integration._invoice_helpers import draft, load, pay_link_from_email

EXTERNAL = "https://billing.example.com/app"
INTERNAL_HOST = "internal.local:8000"


class ForwardedAsInternal:
    """WSGI middleware: every request arrives with the proxy's internal Host."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ["HTTP_HOST"] = INTERNAL_HOST
        environ["SERVER_NAME"], environ["SERVER_PORT"] = INTERNAL_HOST.split(":")
        return self.wsgi_app(environ, start_response)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "INVOICING_EXTERNAL_URL": EXTERNAL}


@pytest.fixture
def proxied(app):
    app.wsgi_app = ForwardedAsInternal(app.wsgi_app)
    return app


def _absolute_urls(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", text)


def _assert_external(urls, *, stripe_url: str | None = None):
    urls = [u for u in urls if not (stripe_url and u.startswith(stripe_url))]
    assert urls, "no link found"
    for url in urls:
        assert "internal.local" not in url and "localhost" not in url, url


def test_emailed_and_copied_client_links_use_the_external_url(proxied, world, staff_client, connected_workspace,
                                                                mailbox, stripe_emulator):
    invoice = draft(proxied, world, amount="100.00")

    page = staff_client.post(f"/invoicing/invoices/{invoice.id}/send", data={"method": "email"},
                             follow_redirects=True)
    assert page.status_code == 200

    [message] = mailbox.wait_for(1)
    stored = load(proxied, invoice.id)
    pay = pay_link_from_email(message)
    assert pay == f"{EXTERNAL}/invoicing/pay/{stored.public_token}"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    portal = re.search(r"All your invoices from Acme Security: (\S+)", text).group(1)
    assert re.fullmatch(re.escape(EXTERNAL) + r"/invoicing/portal/[A-Za-z0-9_-]{43}", portal)
    _assert_external(_absolute_urls(text) + _absolute_urls(html))

    # The pay link staff copy from the invoice page.
    detail = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert pay in detail
    assert "internal.local" not in detail

    # Stripe Checkout sends the client back to the external address.
    session = stripe_emulator.control.get_object(stored.checkout_session_id)
    assert session["success_url"].startswith(f"{EXTERNAL}/invoicing/pay/{stored.public_token}/success")
    assert session["cancel_url"] == f"{pay}?cancelled=1"

    # The printable invoice (staff and client copies) and the portal.
    printed = staff_client.get(f"/invoicing/invoices/{invoice.id}/print").text
    assert pay in printed and "internal.local" not in printed
    client_page = proxied.test_client().get(portal.removeprefix(EXTERNAL))
    assert client_page.status_code == 200 and "internal.local" not in client_page.text


def test_a_new_checkout_session_made_by_the_pay_link_uses_the_external_url(proxied, world, connected_workspace,
                                                                           stripe_emulator):
    invoice = draft(proxied, world, amount="80.00", send_method="stripe_link")
    from tests.integration._invoice_helpers import send

    send(proxied, world, invoice.id, "stripe_link")
    stored = load(proxied, invoice.id)
    stripe_emulator.control.advance_clock(25 * 3600)  # the first session expires

    response = proxied.test_client().get(f"/invoicing/pay/{stored.public_token}")

    assert response.status_code in (302, 303)
    renewed = load(proxied, invoice.id)
    assert renewed.checkout_session_id != stored.checkout_session_id
    session = stripe_emulator.control.get_object(renewed.checkout_session_id)
    assert session["success_url"].startswith(f"{EXTERNAL}/invoicing/pay/")
    assert session["cancel_url"].startswith(f"{EXTERNAL}/invoicing/pay/")


def test_connect_onboarding_returns_to_the_external_url(proxied, world, staff_client, stripe_emulator):
    response = staff_client.post("/invoicing/connected-apps/stripe/connect")

    assert response.status_code in (302, 303)
    token = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    link = stripe_emulator.state.account_links[token]
    assert link.return_url == f"{EXTERNAL}/invoicing/connected-apps/stripe/return"
    assert link.refresh_url == f"{EXTERNAL}/invoicing/connected-apps/stripe/refresh"


def test_an_own_key_webhook_endpoint_and_the_health_page_use_the_external_url(proxied, world, staff_client,
                                                                             stripe_emulator):
    from invoicing_plugin.persistence.models import StripeConnection
    from invoicing_plugin.state import get_state

    key = "sk_test_" + secrets.token_hex(12)
    response = staff_client.post("/invoicing/connected-apps/stripe/key", data={"secret_key": key})
    assert response.status_code in (302, 303), response.text
    with proxied.app_context():
        endpoint_id = get_state().session.scalar(
            select(StripeConnection.webhook_endpoint_id).where(StripeConnection.workspace_id == world.acme))
        get_state().session.rollback()
    endpoint = stripe_emulator.stripe_client(key).v1.webhook_endpoints.retrieve(endpoint_id)
    assert endpoint.url == f"{EXTERNAL}/invoicing/webhooks/stripe"

    health = staff_client.get("/invoicing/webhooks/").text
    assert f"{EXTERNAL}/invoicing/webhooks/stripe" in health
    assert "internal.local" not in health


def test_outside_a_request_links_use_the_external_url_too(proxied, world):
    from invoicing_plugin.services.portal import portal_url

    result = {}

    def run():  # a fresh thread: no request context, as in a CLI command or a worker
        with proxied.app_context():
            result["url"] = portal_url(world.acme, world.client_a)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert result["url"].startswith(f"{EXTERNAL}/invoicing/portal/")


def test_without_the_setting_links_inside_a_request_use_the_request_host(proxied, world, staff_client,
                                                                        connected_workspace, mailbox):
    proxied.config["INVOICING_EXTERNAL_URL"] = None
    invoice = draft(proxied, world, amount="100.00")

    staff_client.post(f"/invoicing/invoices/{invoice.id}/send", data={"method": "email"})

    [message] = mailbox.wait_for(1)
    assert pay_link_from_email(message).startswith(f"http://{INTERNAL_HOST}/invoicing/pay/")


def test_the_documented_portal_url_example_runs_as_written(proxied, world):
    """docs/portal-and-analytics.md's snippet, inside a request that came through the proxy."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "portal-and-analytics.md").read_text()
    example = next(b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if "portal_url(" in b)
    documented = re.search(r'# "(https://[^/]+)/invoicing/portal/…"', example).group(1)
    proxied.config["INVOICING_EXTERNAL_URL"] = documented
    namespace = {"workspace_id": world.acme, "client_id": world.client_a}

    with proxied.test_request_context(headers={"Host": INTERNAL_HOST}):
        exec(compile(example, "docs/portal-and-analytics.md", "exec"), namespace)

    assert re.fullmatch(re.escape(documented) + r"/invoicing/portal/[A-Za-z0-9_-]{43}", namespace["url"])
