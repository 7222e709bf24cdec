"""Settings ``init_app`` reads once are never silently ignored when changed afterwards.

The stranger's host (issue 14, new-user report item 1) set
``app.config["INVOICING_STRIPE_API_BASE"] = stripe_emulator.url`` after its factory had
run ``init_app``: "Connect Stripe" then went to api.stripe.com. A setting changed too late
must stop the plugin with a message that says how to set it, before any call to Stripe.
"""

from __future__ import annotations

import pytest

from invoicing_plugin import HostUser, Invoicing, get_state
from invoicing_plugin.gateways.stripe_gateway import GatewayRegistry
from invoicing_plugin.state import READ_AT_INIT, SettingChangedAfterInit
from tests.integration.test_extension import TinyHost, make_app


class StaffHost(TinyHost):
    def current_user(self):
        return HostUser(id="1", name="Ada", email="ada@acme.test")

    def can_manage_billing(self, user, workspace):
        return True


def test_the_emulator_url_set_after_init_stops_the_request_before_stripe_is_called(tmp_path, monkeypatch):
    app = make_app(tmp_path, INVOICING_STRIPE_API_KEY="sk_test_late00000000000001", WTF_CSRF_ENABLED=False)
    Invoicing(app, host=StaffHost(), create_tables=True)
    app.config["INVOICING_STRIPE_API_BASE"] = "http://127.0.0.1:12111"  # too late: the README's old wording
    gateways_asked = []
    monkeypatch.setattr(GatewayRegistry, "for_key", lambda self, key: gateways_asked.append(key))

    with pytest.raises(SettingChangedAfterInit, match=r"INVOICING_STRIPE_API_BASE was changed after "
                                                      r"Invoicing.init_app.*create_app"):
        app.test_client().post("/invoicing/connected-apps/stripe/connect")  # "Connect Stripe"
    assert gateways_asked == []  # no Stripe client, for api.stripe.com or any other


@pytest.mark.parametrize("key, late", [
    ("INVOICING_URL_PREFIX", "/billing"),
    ("INVOICING_STRIPE_API_BASE", "http://127.0.0.1:9"),
    ("INVOICING_STRIPE_TIMEOUT", 1),
    ("INVOICING_STRIPE_MAX_NETWORK_RETRIES", 0),
    ("INVOICING_SECRET_ENCRYPTION_KEY", "a-late-key"),
])
def test_every_setting_read_at_init_is_guarded(tmp_path, key, late):
    assert key in READ_AT_INIT
    app = make_app(tmp_path)
    Invoicing(app, host=StaffHost())
    with app.app_context():
        get_state()  # unchanged: fine
        app.config[key] = late
        with pytest.raises(SettingChangedAfterInit, match=key):
            get_state()


def test_settings_read_at_use_may_still_change_after_init(tmp_path):
    app = make_app(tmp_path)
    Invoicing(app, host=StaffHost())
    app.config["INVOICING_MAIL_PORT"] = 2525
    app.config["INVOICING_PAGE_SIZE"] = 10
    with app.app_context():
        assert get_state().host is not None


def test_settings_given_to_the_factory_reach_stripe(tmp_path, stripe_emulator):
    """The documented recipe: the emulator's URL in the config the factory receives."""
    app = make_app(tmp_path, INVOICING_STRIPE_API_BASE=stripe_emulator.url)
    Invoicing(app, host=StaffHost())
    with app.app_context():
        gateway = get_state().gateways.for_key("sk_test_factory0000000001")
        account = gateway._client.v1.accounts.create(
            {"type": "express", "capabilities": {"transfers": {"requested": True}}})
    assert stripe_emulator.control.get_object(account.id)["id"] == account.id  # it reached the emulator
