"""Idempotency keys are unique per installation and per attempt (issue 13, fault 3).

Stripe keeps an idempotency key per account for at least 24 hours and answers a repeated key
with the first request's saved response -- or, when the parameters differ, with an
``idempotency_error`` (https://docs.stripe.com/api/idempotent_requests). Two installations of
the plugin on one platform key (a staging and a production app, or one app after its database
was reset) share that key space: a key built only from database ids (``invoicing-connect-1-0``,
``invoicing-checkout-1-0``) makes the second installation receive the *first* one's Express
account for its workspace 1 -- another tenant's payouts -- and its Checkout Sessions refused.

Here two host_demo apps, each with its own database and the same workspace and invoice ids, talk
to one emulator platform key, as they would to Stripe.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from tests.conftest import PLATFORM_KEY
from tests.integration._invoice_helpers import draft, load, send
from tests.integration.conftest import connect_workspace


def _seed(app):
    """acme (plan pro) with one client, like the ``world`` fixture: ids 1 on a fresh database."""
    from host_demo import seed
    from host_demo.models import db

    with app.app_context():
        acme = seed.create_workspace("Acme Security", plan="pro", slug="acme")
        client = seed.create_client(acme, "Globex Corporation", "billing@globex.test")
        db.session.commit()
        return str(acme.id), str(client.id)


@contextmanager
def _second_installation(app_config, db_backend, request, tmp_path):
    """Another host_demo app with its own, fresh database and the same Stripe platform key."""
    from host_demo import create_app
    from host_demo.models import db
    from invoicing_plugin.hooks import init_hook

    if db_backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'second-installation.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database("invoicing_test_second")
    other = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": url})
    with other.app_context():
        db.create_all()
        init_hook(other)
    try:
        yield other
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def second_app(app_config, db_backend, request, tmp_path):
    with _second_installation(app_config, db_backend, request, tmp_path) as other:
        yield other


def _reset_database(app):
    """Drop and recreate every table: the installation starts again from an empty database."""
    from host_demo.models import db
    from invoicing_plugin.hooks import init_hook
    from invoicing_plugin.persistence.models import metadata

    with app.app_context():
        db.session.remove()
        metadata.drop_all(db.engine)
        db.drop_all()
        db.create_all()
        init_hook(app)


def _posts(emulator, path):
    return [r for r in emulator.control.requests() if r["method"] == "POST" and r["path"] == path]


def _express_accounts(emulator):
    return list(emulator.stripe_client(PLATFORM_KEY).v1.accounts.list({"limit": 100}).data)


def _send_one(app, workspace, client):
    invoice = draft(app, None, workspace=workspace, client=client, send_method="stripe_link")
    send(app, None, invoice.id, "stripe_link", workspace=workspace)
    return load(app, invoice.id)


# ---------------------------------------------------------------- Express accounts


def test_two_installations_on_one_platform_key_each_get_their_own_express_account(app, second_app, stripe_emulator):
    workspace_a, _ = _seed(app)
    workspace_b, _ = _seed(second_app)
    assert workspace_a == workspace_b  # the same workspace id in both databases

    account_a = connect_workspace(app, stripe_emulator, workspace_a)
    account_b = connect_workspace(second_app, stripe_emulator, workspace_b)

    assert account_a != account_b, "the second installation was handed the first one's Express account"
    assert len(_express_accounts(stripe_emulator)) == 2
    creates = _posts(stripe_emulator, "/v1/accounts")
    assert len({r["idempotency_key"] for r in creates}) == 2


def test_after_a_database_reset_a_workspace_gets_a_new_express_account(app, stripe_emulator):
    workspace, _ = _seed(app)
    before = connect_workspace(app, stripe_emulator, workspace)

    _reset_database(app)
    workspace_again, _ = _seed(app)
    assert workspace_again == workspace
    after = connect_workspace(app, stripe_emulator, workspace_again)

    assert after != before
    assert len(_express_accounts(stripe_emulator)) == 2


def test_a_retried_connect_attempt_reuses_its_key_and_gets_the_same_account(app, stripe_emulator, monkeypatch):
    """The point of the key: Stripe made the account, then saving it failed; the retry must not make a second."""
    from invoicing_plugin.services import connection_onboarding

    workspace, _ = _seed(app)
    real_link = connection_onboarding.link_account
    calls = []

    def crash_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the process died after Stripe answered")
        return real_link(*args, **kwargs)

    monkeypatch.setattr(connection_onboarding, "link_account", crash_once)
    with app.test_request_context(), pytest.raises(RuntimeError):
        connection_onboarding.start_onboarding(workspace, actor="test", refresh_url="http://localhost/r",
                                               return_url="http://localhost/r")
    account = connect_workspace(app, stripe_emulator, workspace)

    # The retry was answered from Stripe's saved response (a replay is not executed again).
    [executed] = _posts(stripe_emulator, "/v1/accounts")
    assert [a.id for a in _express_accounts(stripe_emulator)] == [account]
    assert stripe_emulator.control.get_object(account)["metadata"] == {"workspace_id": workspace}


# ---------------------------------------------------------------- Checkout Sessions


def test_two_installations_send_their_invoice_1_without_colliding_keys(app, second_app, stripe_emulator):
    workspace_a, client_a = _seed(app)
    workspace_b, client_b = _seed(second_app)
    connect_workspace(app, stripe_emulator, workspace_a)
    connect_workspace(second_app, stripe_emulator, workspace_b)

    sent_a = _send_one(app, workspace_a, client_a)
    sent_b = _send_one(second_app, workspace_b, client_b)

    assert sent_a.id == sent_b.id  # the same invoice id in both databases
    assert sent_a.checkout_session_id != sent_b.checkout_session_id
    creates = _posts(stripe_emulator, "/v1/checkout/sessions")
    # Each installation's first request was taken: none refused as a reused key, no attempt wasted.
    assert [r["status"] for r in creates] == [200, 200]
    assert len({r["idempotency_key"] for r in creates}) == 2
    assert (sent_a.checkout_attempt, sent_b.checkout_attempt) == (0, 0)


def test_after_a_database_reset_invoice_1_gets_a_fresh_checkout_key(app, stripe_emulator):
    workspace, client = _seed(app)
    connect_workspace(app, stripe_emulator, workspace)
    before = _send_one(app, workspace, client)

    _reset_database(app)
    workspace, client = _seed(app)
    connect_workspace(app, stripe_emulator, workspace)
    after = _send_one(app, workspace, client)

    assert after.id == before.id
    creates = _posts(stripe_emulator, "/v1/checkout/sessions")
    assert [r["status"] for r in creates] == [200, 200]
    assert creates[0]["idempotency_key"] != creates[1]["idempotency_key"]
    assert after.checkout_attempt == 0


def test_every_idempotency_key_the_plugin_sends_carries_the_rows_random_id(app, stripe_emulator):
    """The kind, not the instance: no POST goes out with a key made of database ids alone."""
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import StripeConnection

    workspace, client = _seed(app)
    connect_workspace(app, stripe_emulator, workspace)
    sent = _send_one(app, workspace, client)
    with app.app_context():
        connection = get_state().session.scalars(select(StripeConnection)).one()
        connection_nonce = connection.idempotency_nonce
    posts = [r for r in stripe_emulator.control.requests() if r["method"] == "POST"]
    ours = [r for r in posts if r["idempotency_key"].startswith("invoicing-")]
    # Every other POST carries the SDK's own random key (stripe-python adds a UUID to each POST).
    assert all(uuid.UUID(r["idempotency_key"]) for r in posts if r not in ours)
    assert {r["path"] for r in ours} == {"/v1/accounts", "/v1/checkout/sessions"}
    for request in ours:
        nonce = connection_nonce if request["path"] == "/v1/accounts" else sent.idempotency_nonce
        assert nonce and len(nonce) == 32 and nonce in request["idempotency_key"]
