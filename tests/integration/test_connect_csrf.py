"""Connected apps with CSRF protection on, as in production: a forged POST changes nothing."""

from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import select

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import StripeConnection
from tests.conftest import PLATFORM_KEY

BASE = "/invoicing/connected-apps"
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


def csrf_token(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1) or match.group(2)


@pytest.fixture
def owner(app, world):
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": world.owner_email, "password": "password", "csrf_token": token})
    assert response.status_code in (302, 303)
    assert client.get(f"/w/{world.acme_slug}").status_code in (200, 302)
    return client


def connections_in_db(app):
    with app.app_context():
        return get_state().session.scalars(select(StripeConnection)).all()


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (f"{BASE}/stripe/connect", {}),
        (f"{BASE}/stripe/key", {"secret_key": "sk_test_" + secrets.token_hex(12)}),
        (f"{BASE}/stripe/dashboard", {}),
    ],
)
def test_post_without_csrf_token_is_refused_and_changes_nothing(app, world, owner, stripe_emulator, url, data):
    response = owner.post(url, data=data)
    assert response.status_code == 400
    assert connections_in_db(app) == []
    assert stripe_emulator.control.requests() == []  # Stripe was never called


def test_disconnect_without_csrf_token_keeps_the_connection(app, world, owner, stripe_emulator):
    token = csrf_token(owner.get(f"{BASE}/stripe/key").get_data(as_text=True))
    key = "sk_test_" + secrets.token_hex(12)
    assert owner.post(f"{BASE}/stripe/key", data={"secret_key": key, "csrf_token": token}).status_code == 302

    assert owner.post(f"{BASE}/stripe/disconnect").status_code == 400
    assert owner.post(f"{BASE}/stripe/disconnect", data={"csrf_token": "forged"}).status_code == 400
    (row,) = connections_in_db(app)
    assert row.status == "active"
    assert len(stripe_emulator.stripe_client(key).v1.webhook_endpoints.list().data) == 1


def test_the_page_form_carries_a_token_that_works(app, world, owner, stripe_emulator):
    token = csrf_token(owner.get(f"{BASE}/").get_data(as_text=True))
    response = owner.post(f"{BASE}/stripe/connect", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"].startswith(stripe_emulator.url + "/setup/s/")
    assert len(stripe_emulator.stripe_client(PLATFORM_KEY).v1.accounts.list().data) == 1
