"""Hostile requests at the two webhook URLs (issue 13, faults 1, 2, 11), as an attacker or a
misconfigured sender would make them: forged or odd ``account`` values, ``livemode`` that is
not a boolean, Connect events signed with the wrong endpoint's secret, floods of refusals and
of mode-mismatched events, oversized headers. Every one: a 4xx or an acknowledged ignore,
never a 500, nothing acted on, and the refusal count stays one row per day, endpoint kind,
reason and scope (https://docs.stripe.com/connect/webhooks, https://docs.stripe.com/webhooks).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import WebhookEvent, WebhookRefusal
from tests.conftest import CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET
from tests.integration.webhook_helpers import now, sign

ENDPOINT = "/invoicing/webhooks/stripe"
CONNECT = "/invoicing/webhooks/stripe/connect"


@pytest.fixture
def client(app):
    return app.test_client()


def account_event(event_id: str, **changes) -> dict:
    event = {"id": event_id, "object": "event", "api_version": "2026-10-28.endive", "created": now(),
             "data": {"object": {"id": "acct_1AbCdEfGhIjKlMnO", "object": "account", "charges_enabled": True,
                                 "payouts_enabled": True, "details_submitted": True, "metadata": {}}},
             "livemode": False, "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
             "type": "account.updated", "account": "acct_1AbCdEfGhIjKlMnO"}
    event.update(changes)
    return event


def post(client, url: str, event: dict | str, secret: str, **headers):
    body = event if isinstance(event, str) else json.dumps(event)
    return client.post(url, data=body, content_type="application/json",
                       headers={"Stripe-Signature": sign(body, secret), **headers})


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        session = get_state().session
        rows = session.scalar(select(func.count()).select_from(WebhookRefusal))
        total = session.scalar(select(func.coalesce(func.sum(WebhookRefusal.count), 0)))
        events = session.scalar(select(func.count()).select_from(WebhookEvent))
        session.rollback()
        return rows, total, events


@pytest.mark.parametrize("url", [ENDPOINT, CONNECT])
@pytest.mark.parametrize("account", ["", 123, True, ["acct_1"], {"id": "acct_1"}, "acct_" + "x" * 300,
                                     "acct_1\x00", "not an id"])
def test_a_forged_account_value_is_refused_signed_or_not(app, client, url, account):
    for secret in (CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET, "whsec_attacker"):
        response = post(client, url, account_event(f"evt_forged{abs(hash((url, str(account), secret))) % 10**8}",
                                                   account=account), secret)
        assert response.status_code == 400, response.get_json()
    rows, total, events = counts(app)
    assert events == 0 and total == 3 and rows <= 3


@pytest.mark.parametrize("livemode", ["true", "false", 1, 0, None, [], {}])
def test_livemode_that_is_not_a_boolean_is_refused_not_acted_on(app, client, livemode):
    response = post(client, CONNECT, account_event("evt_livemode1", livemode=livemode), CONNECT_WEBHOOK_SECRET)
    assert response.status_code == 400
    assert counts(app)[2] == 0


def test_an_account_event_at_the_connect_url_and_a_connect_event_signed_with_the_account_secret(app, client):
    plain = account_event("evt_plain1")
    del plain["account"]
    assert post(client, CONNECT, plain, WEBHOOK_SECRET).status_code == 400  # wrong endpoint
    assert post(client, CONNECT, account_event("evt_wrongsecret1"), WEBHOOK_SECRET).status_code == 400
    assert post(client, ENDPOINT, account_event("evt_wrongsecret2"), WEBHOOK_SECRET).status_code == 400
    assert counts(app)[2] == 0


def test_a_flood_of_refusals_stays_one_row_per_reason(app, client):
    for i in range(60):
        body = json.dumps(account_event(f"evt_flood{i}", type=f"attacker.text{i}"))
        header = f"t={now()},v1={'0' * 64},scope=workspace{i},reason=evil{i}"
        assert client.post(CONNECT if i % 2 else ENDPOINT, data=body, content_type="application/json",
                           headers={"Stripe-Signature": header}).status_code == 400
    rows, total, events = counts(app)
    assert (rows, total, events) == (1, 60, 0)  # signature, Connect endpoint (the event has account)
    with app.app_context():
        stored = " ".join(f"{r.reason} {r.scope} {r.last_message} {r.last_event_id} {r.last_event_type}"
                          for r in get_state().session.scalars(select(WebhookRefusal)))
    assert "attacker" not in stored and "evil" not in stored and "workspace" not in stored


def test_mode_mismatch_redeliveries_are_one_ignored_row(app, client):
    event = account_event("evt_livetest1", livemode=True)
    body = json.dumps(event)
    statuses = []
    for _ in range(20):
        response = post(client, CONNECT, body, CONNECT_WEBHOOK_SECRET)
        assert response.status_code == 200
        statuses.append(response.get_json()["status"])
    assert statuses[0] == "ignored" and set(statuses[1:]) <= {"ignored", "duplicate"}
    assert counts(app)[2] == 1


def test_huge_signature_header_is_refused_quickly(app, client):
    body = json.dumps(account_event("evt_huge1"))
    header = f"t={now()}," + ",".join(["v1=" + "a" * 64] * 5000)
    response = client.post(CONNECT, data=body, content_type="application/json",
                           headers={"Stripe-Signature": header})
    assert response.status_code == 400
    header = "t=" + "9" * 100_000 + ",v1=" + "a" * 64
    assert client.post(CONNECT, data=body, content_type="application/json",
                       headers={"Stripe-Signature": header}).status_code == 400
    assert counts(app)[2] == 0
