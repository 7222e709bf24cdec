"""The platform's two webhook endpoints, test events on live endpoints, refused deliveries.

Issue 13, faults 1, 2 and 11. What Stripe does, and these tests follow:

* https://docs.stripe.com/connect/webhooks -- an endpoint is an *account* endpoint
  (activity on the platform's own account, which includes destination charges) or a
  *Connect* endpoint (activity on connected accounts, ``account.updated`` and
  ``account.application.deauthorized`` among them; their events carry ``account``);
  ``connect`` on https://docs.stripe.com/api/webhook_endpoints/create.
* https://docs.stripe.com/webhooks -- each endpoint has its own signing secret; Stripe
  retries refused deliveries and disables an endpoint that keeps failing.
* https://docs.stripe.com/connect/webhooks -- "both live and test webhooks are sent to
  your production webhook URLs [...] check the livemode value".

The emulator delivers each kind only to endpoints of that kind, each signing with its
own secret, so a set-up with one secret fails here as it would against Stripe.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select

from invoicing_plugin import Invoicing
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import StripeConnection, WebhookRefusal
from invoicing_plugin.services import connections
from tests.conftest import CONNECT_WEBHOOK_SECRET, PLATFORM_KEY, WEBHOOK_SECRET
from tests.integration.webhook_helpers import (
    ENDPOINT,
    add_platform_endpoints,
    event_for,
    invoice_state,
    post_event,
    sent_invoice,
    webhook_rows,
)

PANEL = "/invoicing/webhooks/"
CONNECT_ENDPOINT = "/invoicing/webhooks/stripe/connect"
LIVE_KEY = "sk_live_platform0000000000000001"


def _onboard(app, stripe_emulator, workspace_id: str) -> str:
    """Start Connect onboarding through the service and finish it in the emulator (which
    emits ``account.updated`` for the connected account); returns the account id."""
    with app.test_request_context():
        connections.start_onboarding(workspace_id, actor="test", refresh_url="http://localhost/refresh",
                                     return_url="http://localhost/return")
        account_id = connections.get_connection(workspace_id).account_id
    stripe_emulator.control.complete_onboarding(account_id)
    return account_id


def _connection_status(app, workspace_id: str) -> str:
    with app.app_context():
        status = get_state().session.scalars(
            select(StripeConnection.status).where(StripeConnection.workspace_id == workspace_id)).one()
        get_state().session.rollback()
        return status


def _connect_event(stripe_emulator, event_type: str, account_id: str) -> dict:
    """The connected account's last ``event_type``, read as that account (``Stripe-Account``)."""
    client = stripe_emulator.stripe_client(PLATFORM_KEY)
    listed = client.v1.events.list({"type": event_type}, {"stripe_account": account_id})
    assert listed.data, f"no {event_type} on {account_id}"
    return listed.data[0].to_dict()


def _deliveries(stripe_emulator, event_type: str) -> list[dict]:
    return [d for d in stripe_emulator.control.deliveries() if d["event_type"] == event_type]


def _refusal_rows(app) -> list[WebhookRefusal]:
    with app.app_context():
        session = get_state().session
        rows = list(session.scalars(select(WebhookRefusal).order_by(WebhookRefusal.id)))
        session.expunge_all()
        return rows


def _info(app) -> str:
    result = app.test_cli_runner().invoke(args=["invoicing", "info"])
    assert result.exit_code == 0, result.output
    return result.output


# -- fault 1: two endpoints, each with its own secret ------------------------------------------


@pytest.mark.parametrize("connect_path", [ENDPOINT, CONNECT_ENDPOINT], ids=["same-url", "two-urls"])
def test_two_endpoints_deliver_both_kinds_and_every_one_is_processed(app, world, live_server, stripe_emulator,
                                                                    connect_path):
    """The documented set-up: an account endpoint and a Connect endpoint, the same URL or
    two, with their two secrets in the two settings."""
    control = stripe_emulator.control
    control.add_webhook_endpoint(live_server.url + ENDPOINT, secret=WEBHOOK_SECRET)
    control.add_webhook_endpoint(live_server.url + connect_path, secret=CONNECT_WEBHOOK_SECRET, connect=True)

    account_id = _onboard(app, stripe_emulator, world.acme)  # account.updated on the Connect endpoint
    assert control.wait_for_deliveries(timeout=30)
    assert _connection_status(app, world.acme) == "active"
    invoice = sent_invoice(app, world.acme, account_id)
    control.pay_session(invoice.session_id)  # checkout.session.completed on the account endpoint
    control.deauthorize(account_id)  # account.application.deauthorized on the Connect endpoint
    assert control.wait_for_deliveries(timeout=30)

    assert {d["status"] for d in control.deliveries()} == {200}
    assert invoice_state(app, invoice.id).status == "paid"
    rows = {row.type: row for row in webhook_rows(app)}
    for event_type in ("account.updated", "checkout.session.completed", "account.application.deauthorized"):
        assert rows[event_type].status == "processed", rows[event_type].note
    assert _connection_status(app, world.acme) != "active"  # deauthorized: the link is removed
    assert _refusal_rows(app) == []


def test_with_the_connect_secret_missing_connect_events_are_refused_and_shown(app, world, live_server,
                                                                            stripe_emulator, staff_client):
    """The old docs' set-up (one secret): Stripe signs Connect events with the Connect
    endpoint's own secret, so they are refused -- and the refusals are counted, and the
    health page and ``flask invoicing info`` say that account.updated never arrived and
    which setting is missing (fault 11)."""
    app.config["INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET"] = None
    add_platform_endpoints(stripe_emulator.control, live_server.url + ENDPOINT)

    _onboard(app, stripe_emulator, world.acme)
    assert stripe_emulator.control.wait_for_deliveries(timeout=30)

    attempts = _deliveries(stripe_emulator, "account.updated")
    assert attempts and {d["status"] for d in attempts} == {400}
    assert webhook_rows(app) == []
    (row,) = _refusal_rows(app)
    assert (row.endpoint, row.reason, row.count, row.signed) == ("connect", "no_secret", len(attempts), False)
    assert "INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET" in row.last_message

    html = staff_client.get(PANEL).get_data(as_text=True)
    assert f"{len(attempts)} refused" in html
    assert re.search(r'data-testid="refused" data-reason="no_secret" data-endpoint="connect"', html)
    assert re.search(r'data-type="account.updated" data-endpoint="connect"\s+data-arrived="no"', html)

    output = _info(app)
    assert "INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET: NOT configured" in output
    assert re.search(r"connect\s+account\.updated\s+NEVER received", output)
    assert f"Refused deliveries, last 7 days: {len(attempts)}" in output
    assert f"connect  no_secret: {len(attempts)}" in output


def test_a_connect_event_verifies_only_with_the_connect_secret(app, client, world, stripe_emulator):
    """Each endpoint's secret vouches for its own kind: a Connect event signed with the
    account endpoint's secret is refused (naming the setting to fill, as `stripe listen`
    signs both kinds with one secret), and an account event signed with the Connect
    secret too."""
    account_id = _onboard(app, stripe_emulator, world.acme)
    updated = _connect_event(stripe_emulator, "account.updated", account_id)
    assert updated["account"] == account_id

    refused = post_event(client, updated, secret=WEBHOOK_SECRET)
    assert refused.status_code == 400
    assert "put that secret in INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET" in refused.get_json()["error"]
    assert post_event(client, updated, secret=CONNECT_WEBHOOK_SECRET).status_code == 200

    invoice = sent_invoice(app, world.acme, account_id)
    stripe_emulator.control.pay_session(invoice.session_id)
    completed = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id)
    swapped = post_event(client, completed, secret=CONNECT_WEBHOOK_SECRET)
    assert swapped.status_code == 400 and "swapped" in swapped.get_json()["error"]
    assert invoice_state(app, invoice.id).status == "sent"
    # With `stripe listen` both settings hold the one secret it prints: both kinds verify.
    app.config["INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    assert post_event(client, completed, secret=WEBHOOK_SECRET).status_code == 200
    assert invoice_state(app, invoice.id).status == "paid"
    assert [(r.reason, r.endpoint) for r in _refusal_rows(app)] == [("signature", "connect"), ("signature", "account")]


def test_the_connect_url_takes_only_connect_events(app, client, invoice, stripe_emulator):
    stripe_emulator.control.pay_session(invoice.session_id)
    completed = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id)
    response = client.post(CONNECT_ENDPOINT, json=completed,
                           headers={"Stripe-Signature": "t=1,v1=00"})
    assert response.status_code == 400
    assert "account endpoint" in response.get_json()["error"]
    assert invoice_state(app, invoice.id).status == "sent"


@pytest.mark.parametrize("value", ["not-a-secret", "whsec_", ["whsec_ok123", 7], 42, "whsec_a b"])
def test_the_connect_secret_setting_is_checked_at_start_up(tmp_path, value):
    from tests.integration.test_extension import TinyHost

    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="k", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'a.db'}",
                      INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET=value)
    SQLAlchemy(app)
    with pytest.raises(ValueError, match="INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET"):
        Invoicing(app, host=TinyHost())


def test_the_connect_secret_setting_takes_a_list_or_comma_separated_secrets(tmp_path):
    from tests.integration.test_extension import TinyHost

    for value in ("whsec_one111, whsec_two222", ["whsec_one111", "whsec_two222"], None):
        app = Flask(__name__)
        app.config.update(TESTING=True, SECRET_KEY="k", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'b.db'}",
                          INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET=value)
        SQLAlchemy(app)
        Invoicing(app, host=TinyHost())


@pytest.mark.parametrize("missing", ["INVOICING_STRIPE_WEBHOOK_SECRET", "INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET"])
def test_a_platform_key_without_one_endpoint_secret_is_said_at_start_up(tmp_path, caplog, missing):
    """Found by a first-use trial: with only one secret the app started silently and the other
    kind of event was refused until Stripe disabled the endpoint."""
    from tests.integration.test_extension import TinyHost

    secrets = {"INVOICING_STRIPE_WEBHOOK_SECRET": "whsec_account111",
               "INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_connect222", missing: None}
    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="k", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'c.db'}",
                      INVOICING_STRIPE_API_KEY="sk_test_platform123", **secrets)
    SQLAlchemy(app)
    with caplog.at_level("WARNING", logger="invoicing_plugin"):
        Invoicing(app, host=TinyHost())
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert [w for w in warnings if missing in w], warnings
    other = next(key for key in secrets if key != missing)
    assert not [w for w in warnings if w.startswith(other)]


def test_without_a_platform_key_no_endpoint_secret_is_asked_for(tmp_path, caplog):
    from tests.integration.test_extension import TinyHost

    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="k", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'd.db'}")
    SQLAlchemy(app)
    with caplog.at_level("WARNING", logger="invoicing_plugin"):
        Invoicing(app, host=TinyHost())
    assert not [r for r in caplog.records if "WEBHOOK_SECRET" in r.getMessage()]


# -- fault 2: test events on a live endpoint ---------------------------------------------------


def test_a_test_event_on_the_live_connect_endpoint_is_acknowledged_and_not_acted_on(app, world, live_server,
                                                                                   stripe_emulator):
    """A live platform's Connect endpoint gets a connected account's *test* account.updated
    (Stripe sends test events to live Connect endpoints). Answered 200 -- so Stripe does
    not disable the endpoint -- recorded as ignored with the reason, and the workspace's
    connection is not touched."""
    with app.test_request_context():  # the account is made in test mode, then the platform goes live
        connections.start_onboarding(world.acme, actor="test", refresh_url="http://localhost/refresh",
                                     return_url="http://localhost/return")
        account_id = connections.get_connection(world.acme).account_id
    before = _connection_status(app, world.acme)
    app.config["INVOICING_STRIPE_API_KEY"] = LIVE_KEY
    control = stripe_emulator.control
    control.add_webhook_endpoint(live_server.url + ENDPOINT, secret=WEBHOOK_SECRET, livemode=True)
    control.add_webhook_endpoint(live_server.url + ENDPOINT, secret=CONNECT_WEBHOOK_SECRET, connect=True,
                                 livemode=True)

    control.complete_onboarding(account_id)
    assert control.wait_for_deliveries(timeout=30)

    (delivery,) = _deliveries(stripe_emulator, "account.updated")
    assert delivery["status"] == 200 and delivery["attempt"] == 1
    (row,) = webhook_rows(app)
    assert (row.type, row.status, row.livemode, row.account_id) == ("account.updated", "ignored", False, account_id)
    assert "test-mode event on a live-mode endpoint" in row.note
    assert _connection_status(app, world.acme) == before
    assert _refusal_rows(app) == []


def test_a_mode_mismatch_is_a_duplicate_when_delivered_again(app, client, world, stripe_emulator):
    account_id = _onboard(app, stripe_emulator, world.acme)
    updated = _connect_event(stripe_emulator, "account.updated", account_id)
    app.config["INVOICING_STRIPE_API_KEY"] = LIVE_KEY
    first = post_event(client, updated)
    again = post_event(client, updated)
    assert (first.status_code, first.get_json()["status"]) == (200, "ignored")
    assert (again.status_code, again.get_json()["status"]) == (200, "duplicate")
    assert [r.status for r in webhook_rows(app)] == ["ignored"]


# -- fault 11: refused deliveries are counted and shown, never their bodies --------------------


def test_refusals_are_counted_and_shown_without_the_body(app, client, world, stripe_emulator, staff_client):
    marker = "MARKER-Body-Of-A-Forged-Request"
    forged = {"id": "evt_forged", "object": "event", "type": "checkout.session.completed", "livemode": False,
              "created": 1, "data": {"object": {"id": "cs_x", "metadata": {"note": marker}}}}
    for _ in range(3):
        assert post_event(client, forged, secret="whsec_not_ours_at_all").status_code == 400
    assert client.post(ENDPOINT, data="x" * 10, content_type="application/json").status_code == 400  # no header

    rows = _refusal_rows(app)
    by_reason = {row.reason: row for row in rows}
    assert by_reason["signature"].count == 3  # one row per day and reason: a flood adds to a count
    assert by_reason["not_json"].count == 1
    for row in rows:
        assert not row.signed and row.last_event_id is None and row.last_event_type is None
        assert marker not in (row.last_message or "") and "evt_forged" not in (row.last_message or "")

    html = staff_client.get(PANEL).get_data(as_text=True)
    assert "0 failed, 4 refused" in " ".join(html.split())
    assert marker not in html and "evt_forged" not in html
    output = _info(app)
    assert "Refused deliveries, last 7 days: 4" in output
    assert marker not in output and "evt_forged" not in output


def test_a_signed_but_unusable_event_is_counted_with_its_id(app, client, invoice, stripe_emulator, staff_client):
    stripe_emulator.control.pay_session(invoice.session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id)
    event["data"]["object"]["amount_total"] = "2500"  # not a shape Stripe sends

    assert post_event(client, event).status_code == 400

    (row,) = _refusal_rows(app)
    assert (row.reason, row.endpoint, row.signed, row.last_event_id, row.last_event_type) == (
        "malformed", "account", True, event["id"], "checkout.session.completed")
    assert "amount_total" in row.last_message
    output = _info(app)
    assert f"last event {event['id']} (checkout.session.completed)" in output
    # The platform endpoint is shared by every workspace: its staff page shows the count, not the id.
    html = staff_client.get(PANEL).get_data(as_text=True)
    assert "1 refused" in html and event["id"] not in html


def test_info_lists_which_kinds_of_event_arrived(app, client, invoice, stripe_emulator):
    stripe_emulator.control.pay_session(invoice.session_id)
    assert post_event(client, event_for(stripe_emulator, "checkout.session.completed",
                                        invoice.session_id)).status_code == 200
    output = _info(app)
    assert re.search(r"account\s+checkout\.session\.completed\s+last \S+ \S+ UTC \(1 recorded\)", output)
    assert re.search(r"connect\s+account\.application\.deauthorized\s+NEVER received", output)
    assert "INVOICING_STRIPE_WEBHOOK_SECRET: 1 secret(s) configured" in output
    assert "Refused deliveries, last 7 days: 0" in output

