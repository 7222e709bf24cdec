"""The workspace's country reaches its Express account (issue 13, fault 10).

Without ``country`` Stripe creates the account in the *platform's* country
(https://docs.stripe.com/api/accounts/create#create_account-country), and an account's country
cannot be changed afterwards: a business established elsewhere cannot complete onboarding.
The host says where each workspace is (``HostWorkspace.country``, ISO 3166-1 alpha-2).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.integration.conftest import connect_workspace


def _workspace(app, *, country, slug):
    from host_demo import seed
    from host_demo.models import db

    with app.app_context():
        workspace = seed.create_workspace(f"Firm {slug}", plan="pro", slug=slug, country=country)
        db.session.commit()
        return str(workspace.id)


@pytest.mark.parametrize("country", ["GB", "DE", "US"])
def test_the_express_account_is_created_in_the_workspaces_country(app, stripe_emulator, country):
    workspace = _workspace(app, country=country, slug=f"firm-{country.lower()}")
    account = connect_workspace(app, stripe_emulator, workspace)
    assert stripe_emulator.control.get_object(account)["country"] == country


def test_a_workspace_without_a_country_gets_the_platforms(app, stripe_emulator):
    """Backwards compatible: hosts that do not say keep today's behaviour (Stripe's default)."""
    from tests.conftest import PLATFORM_KEY

    workspace = _workspace(app, country=None, slug="nowhere")
    account = connect_workspace(app, stripe_emulator, workspace)
    [create] = [r for r in stripe_emulator.control.requests() if r["path"] == "/v1/accounts"]
    platform = stripe_emulator.stripe_client(PLATFORM_KEY).v1.accounts.retrieve_current()
    assert stripe_emulator.control.get_object(account)["country"] == platform.country
    assert create["status"] == 200


@pytest.mark.parametrize("bad", ["UK", "GBR", "United Kingdom", "", "X1"])
def test_an_invalid_country_refuses_before_anything_is_stored_or_sent(app, stripe_emulator, monkeypatch, bad):
    from invoicing_plugin import HostWorkspace
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import StripeConnection
    from invoicing_plugin.services import connections
    from invoicing_plugin.services.connection_routes import ConnectionRefused

    workspace = _workspace(app, country="GB", slug="bad-country")
    with app.app_context():
        host = get_state().host
    # A host that hands over something other than an ISO code (the demo's column holds two letters).
    monkeypatch.setattr(host, "get_workspace", lambda workspace_id: HostWorkspace(
        id=workspace_id, name="Firm", plan="pro", country=bad))
    with app.test_request_context(), pytest.raises(ConnectionRefused) as info:
        connections.start_onboarding(workspace, actor="test", refresh_url="http://localhost/r",
                                     return_url="http://localhost/r")
    assert "ISO 3166-1" in info.value.message and "country" in info.value.message
    assert [r for r in stripe_emulator.control.requests() if r["path"] == "/v1/accounts"] == []
    with app.app_context():
        assert get_state().session.scalar(select(func.count()).select_from(StripeConnection)) == 0


def test_the_country_is_normalised_to_upper_case(app, stripe_emulator):
    workspace = _workspace(app, country="gb", slug="lower")
    account = connect_workspace(app, stripe_emulator, workspace)
    assert stripe_emulator.control.get_object(account)["country"] == "GB"


def test_host_workspace_country_is_optional_and_last():
    """The host contract stays backwards compatible: positional and keyword constructions still work."""
    from invoicing_plugin import HostWorkspace

    old_style = HostWorkspace("1", "Acme", "consulting", "pro", "en_GB")
    assert old_style.country is None
    assert HostWorkspace(id="1", name="Acme", country="GB").country == "GB"
