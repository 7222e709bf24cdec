"""Webhook delivery: signatures, routing, retries, undelivered events, chaos."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
import stripe

from invoicing_plugin.testing.stripe_emulator import EmulatorControl, StripeEmulator
from tests.emulator.helpers import express_account, session_params

SECRET = "whsec_test_secret_for_emulator_tests"


def _pay(client, control, **extra):
    session = client.v1.checkout.sessions.create(session_params(**extra))
    control.pay_session(session.id)
    return session


def test_api_endpoint_receives_signed_events(client, stripe_emulator, webhook_receiver):
    endpoint = client.v1.webhook_endpoints.create({
        "url": webhook_receiver.url, "enabled_events": ["checkout.session.completed"],
        "api_version": "2025-03-31.basil"})
    session = _pay(client, stripe_emulator.control)
    assert stripe_emulator.control.wait_for_deliveries(timeout=10)
    (received,) = webhook_receiver.received  # enabled_events filters the other two
    header = received.headers["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(received.body, header, endpoint.secret)
    event = stripe.Webhook.construct_event(received.body, header, endpoint.secret)
    assert event.type == "checkout.session.completed" and event.object == "event"
    assert event.data.object.id == session.id and event.api_version == "2025-03-31.basil"
    assert event.request.idempotency_key is None  # paid from the hosted flow, not the API
    assert event.pending_webhooks == 1 and event.livemode is False
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(received.body, header, "whsec_wrong")
    listed = client.v1.events.retrieve(event.id)
    assert listed.pending_webhooks == 0


def test_api_triggered_events_record_the_request(client, stripe_emulator, webhook_receiver):
    client.v1.webhook_endpoints.create({"url": webhook_receiver.url,
                                        "enabled_events": ["checkout.session.expired"]})
    session = client.v1.checkout.sessions.create(session_params())
    client.v1.checkout.sessions.expire(session.id, options={"idempotency_key": "expire-1"})
    assert stripe_emulator.control.wait_for_deliveries(timeout=10)
    (event,) = webhook_receiver.events()
    assert event["request"]["idempotency_key"] == "expire-1"
    assert event["request"]["id"].startswith("req_")


def test_connect_routing(client, stripe_emulator, webhook_receiver):
    """Destination-charge events reach platform endpoints; account events reach connect ones."""
    platform_hook = client.v1.webhook_endpoints.create(
        {"url": webhook_receiver.url + "?kind=platform", "enabled_events": ["*"]})
    connect_hook = client.v1.webhook_endpoints.create(
        {"url": webhook_receiver.url + "?kind=connect", "enabled_events": ["*"],
         "connect": True})
    seller = express_account(client, stripe_emulator.control)
    _pay(client, stripe_emulator.control, payment_intent_data={
        "application_fee_amount": 100, "transfer_data": {"destination": seller.id}})
    stripe_emulator.control.deauthorize(seller.id)
    assert stripe_emulator.control.wait_for_deliveries(timeout=10)
    by_endpoint = {}
    for delivery in stripe_emulator.control.deliveries():
        by_endpoint.setdefault(delivery["endpoint_id"], []).append(delivery["event_type"])
    assert sorted(by_endpoint[platform_hook.id]) == [
        "charge.succeeded", "checkout.session.completed", "payment_intent.succeeded"]
    # Delivered concurrently: "Stripe doesn't guarantee the delivery of events in the order
    # in which they're generated" (https://docs.stripe.com/webhooks#event-ordering).
    assert sorted(by_endpoint[connect_hook.id]) == ["account.application.deauthorized", "account.updated"]
    connect_events = [e for e in webhook_receiver.events() if e["type"].startswith("account.")]
    assert {e["account"] for e in connect_events} == {seller.id}


def test_other_platforms_endpoints_get_nothing(stripe_emulator, new_key, webhook_receiver):
    owner = stripe_emulator.stripe_client(new_key())
    other = stripe_emulator.stripe_client(new_key())
    other.v1.webhook_endpoints.create({"url": webhook_receiver.url, "enabled_events": ["*"]})
    _pay(owner, stripe_emulator.control)
    assert stripe_emulator.control.wait_for_deliveries(timeout=10)
    assert webhook_receiver.received == []


def test_control_endpoint_with_given_secret(client, stripe_emulator, webhook_receiver):
    stripe_emulator.control.add_webhook_endpoint(webhook_receiver.url, secret=SECRET)
    _pay(client, stripe_emulator.control)
    assert stripe_emulator.control.wait_for_deliveries(timeout=10)
    assert len(webhook_receiver.received) == 3
    for received in webhook_receiver.received:
        stripe.Webhook.construct_event(received.body, received.headers["Stripe-Signature"], SECRET)


def test_retries_until_2xx(client, stripe_emulator, webhook_receiver):
    webhook_receiver.fail_first = 2
    stripe_emulator.control.add_webhook_endpoint(
        webhook_receiver.url, secret=SECRET, enabled_events=["payment_intent.succeeded"])
    _pay(client, stripe_emulator.control)
    assert stripe_emulator.control.wait_for_deliveries(timeout=10)
    attempts = [(d["attempt"], d["status"]) for d in stripe_emulator.control.deliveries()]
    assert attempts == [(1, 500), (2, 500), (3, 200)]
    assert len({r.body for r in webhook_receiver.received}) == 1  # same event each time
    assert client.v1.events.list({"delivery_success": False}).data == []


def test_undelivered_events_are_listed(client, stripe_emulator, webhook_receiver):
    webhook_receiver.fail_first = 10_000
    stripe_emulator.control.add_webhook_endpoint(
        webhook_receiver.url, secret=SECRET, enabled_events=["checkout.session.completed"])
    session = _pay(client, stripe_emulator.control)
    undelivered = client.v1.events.list({"delivery_success": False}).data
    assert [e.type for e in undelivered] == ["checkout.session.completed"]
    assert stripe_emulator.control.wait_for_deliveries(timeout=10)
    attempts = stripe_emulator.control.deliveries()
    assert [d["attempt"] for d in attempts] == [1, 2, 3, 4, 5]  # schedule of 4 waits
    (event,) = client.v1.events.list({"delivery_success": False}).data
    assert event.data.object.id == session.id and event.pending_webhooks == 1
    delivered = client.v1.events.list({"delivery_success": True}).data
    assert {e.type for e in delivered} == {"charge.succeeded", "payment_intent.succeeded"}


def test_unreachable_endpoint_is_retried(client, stripe_emulator):
    stripe_emulator.control.add_webhook_endpoint("http://127.0.0.1:9/nowhere", secret=SECRET,
                                                 enabled_events=["charge.succeeded"])
    _pay(client, stripe_emulator.control)
    assert stripe_emulator.control.wait_for_deliveries(timeout=15)
    attempts = stripe_emulator.control.deliveries()
    assert len(attempts) == 5 and all(d["status"] is None and d["error"] for d in attempts)


def _chaos_run(client, control, receiver, seed):
    control.set_chaos(seed=seed, duplicate_rate=0.5, concurrent_rate=0.5, delay_rate=1.0,
                      max_delay=0.6)
    for _ in range(3):
        _pay(client, control)
    emitted = [e.id for e in reversed(client.v1.events.list({"limit": 100}).data)]
    assert control.wait_for_deliveries(timeout=15)
    return emitted, control.deliveries()


def test_chaos_is_reproducible_and_duplicates_and_reorders(stripe_emulator, new_key,
                                                           webhook_receiver):
    ctl = stripe_emulator.control
    plans = []
    for _ in range(2):
        ctl.reset()
        webhook_receiver.received.clear()
        ctl.add_webhook_endpoint(webhook_receiver.url, secret=SECRET)
        client = stripe_emulator.stripe_client(new_key())
        emitted, log = _chaos_run(client, ctl, webhook_receiver, seed=1234)
        position = {event_id: index for index, event_id in enumerate(emitted)}
        plan = sorted((position[d["event_id"]], d["copy"], d["delay"], d["concurrent"])
                      for d in log)
        plans.append(plan)
        copies = Counter(d["event_id"] for d in log)
        assert set(copies) == set(emitted) and max(copies.values()) == 2
        received_ids = [r.event["id"] for r in webhook_receiver.received]
        assert Counter(received_ids) == copies  # duplicates really reach the endpoint
        first_arrivals = list(dict.fromkeys(received_ids))
        assert first_arrivals != emitted  # delays reorder deliveries
        for received in webhook_receiver.received:  # every copy is validly signed
            stripe.Webhook.construct_event(received.body, received.headers["Stripe-Signature"],
                                           SECRET)
        if any(d["concurrent"] for d in log):
            pair = [d for d in log if d["concurrent"]][:2]
            assert pair[0]["event_id"] == pair[1]["event_id"]
            assert abs(pair[0]["at"] - pair[1]["at"]) < 0.5
    assert plans[0] == plans[1]
    assert any(entry[3] for entry in plans[0])  # at least one concurrent pair in this seed


def test_different_seed_gives_a_different_plan(stripe_emulator, webhook_receiver):
    ctl = stripe_emulator.control
    delays = []
    for seed in (1, 2):
        ctl.reset()
        ctl.add_webhook_endpoint(webhook_receiver.url, secret=SECRET)
        client = stripe_emulator.stripe_client(f"sk_test_seed{seed}abcdefgh")
        ctl.set_chaos(seed=seed, duplicate_rate=0.0, delay_rate=1.0, max_delay=0.2)
        _pay(client, ctl)
        assert ctl.wait_for_deliveries(timeout=10)
        delays.append([d["delay"] for d in ctl.deliveries()])
    assert delays[0] != delays[1]


def test_configured_endpoint_survives_reset():
    with StripeEmulator(webhook_url="http://127.0.0.1:9/x", webhook_secret=SECRET) as emu:
        emu.control.add_webhook_endpoint("http://127.0.0.1:9/y")
        emu.control.reset()
        urls = sorted(e.url for e in emu.state.endpoints.values())
        assert urls == ["http://127.0.0.1:9/x"]


def test_command_line_server(tmp_path, webhook_receiver):
    process = subprocess.Popen(
        [sys.executable, "-m", "invoicing_plugin.testing.stripe_emulator", "--port", "0",
         "--webhook-url", webhook_receiver.url, "--webhook-secret", SECRET,
         "--chaos", "--chaos-seed", "3", "--chaos-duplicate-rate", "1",
         "--chaos-max-delay", "0.1"],
        stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("Stripe emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        control = EmulatorControl(url)
        client = stripe.StripeClient("sk_test_cli12345678", max_network_retries=0,
                                     base_addresses={"api": url, "connect": url, "files": url})
        session = client.v1.checkout.sessions.create(session_params())
        control.pay_session(session.id)
        assert control.wait_for_deliveries(timeout=10)
        types = Counter(e["type"] for e in webhook_receiver.events())
        assert types["checkout.session.completed"] == 2  # chaos duplicated every delivery
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
    assert process.returncode == 0
