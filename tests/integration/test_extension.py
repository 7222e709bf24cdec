"""The extension follows Flask's conventions and refuses bad setups at start-up."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import inspect

from invoicing_plugin import HostWorkspace, Invoicing, InvoicingHost, get_state
from invoicing_plugin.config import SETTINGS
from invoicing_plugin.hooks import init_hook, uninstall_hook
from invoicing_plugin.persistence.models import metadata


class TinyHost(InvoicingHost):
    base_template = "base.html"

    def current_workspace(self):
        return HostWorkspace(id="1", name="One")

    def current_user(self):
        return None

    def can_manage_billing(self, user, workspace):
        return False

    def get_workspace(self, workspace_id):
        return None

    def get_client(self, workspace_id, client_id):
        return None

    def list_clients(self, workspace_id):
        return []

    def get_subject(self, workspace_id, kind, subject_id):
        return None

    def list_subjects(self, workspace_id, kind=None):
        return []


def make_app(tmp_path, **config) -> Flask:
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        SECRET_KEY="k",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}",
        **config,
    )
    SQLAlchemy(app)
    return app


def test_registers_under_extensions_and_applies_documented_defaults(tmp_path):
    app = make_app(tmp_path, INVOICING_URL_PREFIX="/billing")
    extension = Invoicing(app, host=TinyHost())

    assert app.extensions["invoicing"] is extension
    assert not hasattr(extension, "app")
    assert app.config["INVOICING_URL_PREFIX"] == "/billing"  # host value wins over the default
    for key in SETTINGS:
        assert key in app.config
    assert app.config["INVOICING_CURRENCIES"] == ("GBP", "USD", "EUR")
    assert app.config["INVOICING_DEFAULT_CURRENCY"] == "GBP"
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert "/billing/invoices" in rules
    assert "/billing/webhooks/stripe" in rules


def test_init_app_factory_pattern_keeps_state_per_app(tmp_path):
    extension = Invoicing(host=TinyHost())
    first, second = make_app(tmp_path), make_app(tmp_path)
    extension.init_app(first)
    extension.init_app(second)
    assert get_state(first) is not get_state(second)
    with second.app_context():
        assert get_state().db is second.extensions["sqlalchemy"]


def test_second_registration_on_the_same_app_is_refused(tmp_path):
    app = make_app(tmp_path)
    Invoicing(app, host=TinyHost())
    with pytest.raises(RuntimeError, match="already registered"):
        Invoicing(app, host=TinyHost())


def test_unknown_invoicing_key_is_reported_with_a_suggestion(tmp_path):
    app = make_app(tmp_path, INVOICING_STRIPE_APIKEY="sk_test_typo")
    with pytest.raises(ValueError, match="INVOICING_STRIPE_APIKEY.*did you mean INVOICING_STRIPE_API_KEY"):
        Invoicing(app, host=TinyHost())
    assert "invoicing" not in app.extensions


def test_unknown_currency_is_refused_at_start_up(tmp_path):
    app = make_app(tmp_path, INVOICING_CURRENCIES=["EUR", "XYZ"])
    with pytest.raises(ValueError, match="INVOICING_CURRENCIES"):
        Invoicing(app, host=TinyHost())


def test_extra_currencies_are_normalised(tmp_path):
    app = make_app(tmp_path, INVOICING_CURRENCIES=["eur", "jpy", "kwd"])
    Invoicing(app, host=TinyHost())
    assert app.config["INVOICING_CURRENCIES"] == ("EUR", "JPY", "KWD")
    assert app.config["INVOICING_DEFAULT_CURRENCY"] == "EUR"


def test_production_app_without_encryption_key_starts_and_refuses_only_secrets(tmp_path):
    """Issue 14: the key is needed to store or read a Stripe secret, not to start (generate-key, flask db)."""
    from invoicing_plugin.crypto import MissingEncryptionKey

    app = make_app(tmp_path)
    app.testing = False
    app.debug = False
    Invoicing(app, host=TinyHost())
    box = get_state(app).secret_box
    for use in (lambda: box.encrypt("sk_test_x"), lambda: box.decrypt("gAAAAA")):
        with pytest.raises(MissingEncryptionKey, match="INVOICING_SECRET_ENCRYPTION_KEY is required"):
            use()


def test_production_app_with_a_malformed_encryption_key_refuses_to_start(tmp_path):
    app = make_app(tmp_path, INVOICING_SECRET_ENCRYPTION_KEY="...")
    app.testing = False
    with pytest.raises(RuntimeError, match="must be a Fernet key.*generate-key` while the setting is unset"):
        Invoicing(app, host=TinyHost())


def test_host_missing_part_of_the_contract_is_named(tmp_path):
    class HalfHost:
        base_template = "base.html"

        def current_workspace(self):
            return None

    with pytest.raises(TypeError, match="missing: current_user, can_manage_billing"):
        Invoicing(make_app(tmp_path), host=HalfHost())


def test_option_keywords_set_config_defaults(tmp_path):
    app = make_app(tmp_path)
    Invoicing(app, host=TinyHost(), url_prefix="/money", page_size=10)
    assert app.config["INVOICING_URL_PREFIX"] == "/money"
    assert app.config["INVOICING_PAGE_SIZE"] == 10
    with pytest.raises(TypeError, match="unknown option 'colour'"):
        Invoicing(make_app(tmp_path), host=TinyHost(), colour="red")


def test_init_hook_is_idempotent_and_touches_no_host_table(tmp_path):
    app = make_app(tmp_path)
    db = app.extensions["sqlalchemy"]

    class HostThing(db.Model):
        __tablename__ = "host_things"
        id = db.Column(db.Integer, primary_key=True)

    Invoicing(app, host=TinyHost())
    with app.app_context():
        db.create_all()
        db.session.add(HostThing(id=7))
        db.session.commit()
        created = init_hook(app)
        assert sorted(created) == sorted(t.name for t in metadata.sorted_tables)
        assert init_hook(app) == []
        dropped = uninstall_hook(app)
        assert sorted(dropped) == sorted(created)
        tables = set(inspect(db.engine).get_table_names())
        assert "host_things" in tables
        assert not any(name.startswith("invoicing_") for name in tables)
        assert db.session.get(HostThing, 7) is not None


def test_create_tables_setting_runs_the_init_hook(tmp_path):
    app = make_app(tmp_path, INVOICING_CREATE_TABLES=True)
    Invoicing(app, host=TinyHost())
    with app.app_context():
        tables = set(inspect(app.extensions["sqlalchemy"].engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= tables


def test_webhook_endpoint_is_csrf_exempt_even_when_the_host_adds_csrf_protection_later(tmp_path):
    import hashlib
    import hmac
    import json
    import time

    from flask_wtf.csrf import CSRFProtect

    secret = "whsec_order_of_init"
    app = make_app(tmp_path, INVOICING_STRIPE_WEBHOOK_SECRET=secret, INVOICING_CREATE_TABLES=True,
                   INVOICING_STRIPE_API_KEY="sk_test_orderofinit01")
    Invoicing(app, host=TinyHost())
    CSRFProtect(app)  # after the plugin: the exemption must still apply
    app.add_url_rule("/host-form", "host_form", lambda: "ok", methods=["POST"])
    body = json.dumps({"id": "evt_order", "object": "event", "type": "customer.created", "livemode": False,
                       "created": int(time.time()), "data": {"object": {}}})
    stamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()

    client = app.test_client()
    response = client.post("/invoicing/webhooks/stripe", data=body, content_type="application/json",
                           headers={"Stripe-Signature": f"t={stamp},v1={signature}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    # Other POSTs of the host are still protected.
    assert client.post("/host-form").status_code == 400
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()
