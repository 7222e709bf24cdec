"""Account endpoints and Connect endpoints, each with its own secret, as Stripe has them.

Stripe (https://docs.stripe.com/connect/webhooks): "Account webhooks are for activity on
your own account [...] This includes all types of charges, except those made directly on
a connected account. Connect webhooks are for activity on any connected account";
an endpoint is created as one or the other (``connect`` on
https://docs.stripe.com/api/webhook_endpoints/create), and each endpoint has its own
signing secret (https://docs.stripe.com/webhooks#verify-events). "For Connect webhooks,
[...] both live and test webhooks are sent to your production webhook URLs [...] check
the livemode value" (https://docs.stripe.com/connect/webhooks).

So the emulator delivers a destination charge's ``checkout.session.*``/``charge.*`` only
to account endpoints and ``account.*`` of connected accounts only to Connect endpoints,
whether the endpoints come from the API, the control API, the constructor or the
command line: a set-up with one secret verifies only one of the two groups.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
import stripe

from invoicing_plugin.testing.stripe_emulator import EmulatorControl, EmulatorControlError, StripeEmulator
from tests.emulator.helpers import express_account, session_params

ACCOUNT_SECRET = "whsec_emulator_account_endpoint_0001"
CONNECT_SECRET = "whsec_emulator_connect_endpoint_0002"
ACCOUNT_TYPES = {"checkout.session.completed", "charge.succeeded", "payment_intent.succeeded"}
CONNECT_TYPES = {"account.updated", "account.application.deauthorized"}


def _destination_payment_and_deauthorization(client, control):
    seller = express_account(client, control)  # account.updated (Connect)
    session = client.v1.checkout.sessions.create(session_params(payment_intent_data={
        "application_fee_amount": 100, "transfer_data": {"destination": seller.id}}))
    control.pay_session(session.id)  # checkout.session.completed, charge.*, payment_intent.* (account)
    control.deauthorize(seller.id)  # account.application.deauthorized (Connect)
    assert control.wait_for_deliveries(timeout=10)
    return seller


def _verifies(received, secret: str) -> bool:
    try:
        stripe.WebhookSignature.verify_header(received.body, received.headers["Stripe-Signature"], secret, 300)
    except stripe.SignatureVerificationError:
        return False
    return True


def test_control_endpoints_are_account_or_connect_each_with_its_own_secret(client, stripe_emulator,
                                                                           webhook_receiver):
    control = stripe_emulator.control
    account_hook = control.add_webhook_endpoint(webhook_receiver.url, secret=ACCOUNT_SECRET)
    connect_hook = control.add_webhook_endpoint(webhook_receiver.url, secret=CONNECT_SECRET, connect=True)
    assert (account_hook["connect"], connect_hook["connect"]) == (False, True)

    seller = _destination_payment_and_deauthorization(client, control)

    by_endpoint: dict[str, set[str]] = {}
    for delivery in control.deliveries():
        by_endpoint.setdefault(delivery["endpoint_id"], set()).add(delivery["event_type"])
    assert by_endpoint[account_hook["id"]] == ACCOUNT_TYPES
    assert by_endpoint[connect_hook["id"]] == CONNECT_TYPES
    for received in webhook_receiver.received:
        event = received.event
        connect = event["type"] in CONNECT_TYPES
        assert (event.get("account") == seller.id) is connect
        # Each delivery is signed with its endpoint's secret and with no other one.
        assert _verifies(received, CONNECT_SECRET if connect else ACCOUNT_SECRET)
        assert not _verifies(received, ACCOUNT_SECRET if connect else CONNECT_SECRET)


def test_an_account_endpoint_alone_never_receives_connect_events(client, stripe_emulator, webhook_receiver):
    """The old one-endpoint set-up: Connect events reach no one (the default kind is
    ``connect=false``, as in Stripe's API)."""
    stripe_emulator.control.add_webhook_endpoint(webhook_receiver.url, secret=ACCOUNT_SECRET)
    _destination_payment_and_deauthorization(client, stripe_emulator.control)
    assert {e["type"] for e in webhook_receiver.events()} == ACCOUNT_TYPES


def test_an_endpoint_for_both_kinds_is_refused(stripe_emulator, webhook_receiver):
    with pytest.raises(EmulatorControlError) as refused:
        stripe_emulator.control.add_webhook_endpoint(webhook_receiver.url, connect=None)
    assert refused.value.status == 400
    assert "one or the other" in str(refused.value)


def test_api_created_endpoints_route_the_same_way(client, stripe_emulator, webhook_receiver):
    account_hook = client.v1.webhook_endpoints.create({"url": webhook_receiver.url, "enabled_events": ["*"]})
    connect_hook = client.v1.webhook_endpoints.create(
        {"url": webhook_receiver.url, "enabled_events": ["*"], "connect": True})
    assert account_hook.secret != connect_hook.secret
    _destination_payment_and_deauthorization(client, stripe_emulator.control)
    for received in webhook_receiver.received:
        connect = "account" in received.event
        assert _verifies(received, connect_hook.secret if connect else account_hook.secret)
        assert not _verifies(received, account_hook.secret if connect else connect_hook.secret)


def test_test_events_reach_a_live_connect_endpoint_but_no_live_account_endpoint(
        client, stripe_emulator, webhook_receiver):
    """https://docs.stripe.com/connect/webhooks: test webhooks of connected accounts are
    sent to production (live) Connect endpoints too; an account endpoint gets only its
    own mode's events."""
    control = stripe_emulator.control
    live_account = control.add_webhook_endpoint(webhook_receiver.url + "?live-account", livemode=True)
    live_connect = control.add_webhook_endpoint(webhook_receiver.url + "?live-connect", connect=True,
                                                livemode=True)
    _destination_payment_and_deauthorization(client, control)  # a test-mode platform

    by_endpoint: dict[str, set[str]] = {}
    for delivery in control.deliveries():
        by_endpoint.setdefault(delivery["endpoint_id"], set()).add(delivery["event_type"])
    assert live_account["id"] not in by_endpoint
    assert by_endpoint[live_connect["id"]] == CONNECT_TYPES
    assert {e["livemode"] for e in webhook_receiver.events()} == {False}


def test_live_events_never_reach_a_test_endpoint(stripe_emulator, webhook_receiver):
    control = stripe_emulator.control
    control.add_webhook_endpoint(webhook_receiver.url, connect=True, livemode=False)
    control.add_webhook_endpoint(webhook_receiver.url, livemode=False)
    live = stripe_emulator.stripe_client("sk_live_" + "a1b2c3d4e5f6a7b8c9d0")
    express_account(live, control)
    assert control.wait_for_deliveries(timeout=10)
    assert webhook_receiver.received == []


def test_configured_endpoints_from_the_constructor(webhook_receiver):
    with StripeEmulator(webhook_url=webhook_receiver.url, webhook_secret=ACCOUNT_SECRET,
                        connect_webhook_url=webhook_receiver.url + "?connect",
                        connect_webhook_secret=CONNECT_SECRET) as emu:
        kinds = sorted((e.connect, e.secret) for e in emu.state.endpoints.values())
        assert kinds == [(False, ACCOUNT_SECRET), (True, CONNECT_SECRET)]
        client = emu.stripe_client("sk_test_constructor0001")
        _destination_payment_and_deauthorization(client, emu.control)
        emu.control.reset()  # configured endpoints survive
        assert len(emu.state.endpoints) == 2
    types = Counter(e["type"] for e in webhook_receiver.events())
    assert set(types) == ACCOUNT_TYPES | CONNECT_TYPES and max(types.values()) == 1
    for received in webhook_receiver.received:
        assert _verifies(received, CONNECT_SECRET if "account" in received.event else ACCOUNT_SECRET)


def test_command_line_connect_endpoint(webhook_receiver):
    """``--connect-webhook-url``/``--connect-webhook-secret`` (alias ``--forward-connect-to``,
    after ``stripe listen``, https://docs.stripe.com/stripe-cli)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "invoicing_plugin.testing.stripe_emulator", "--port", "0",
         "--forward-to", webhook_receiver.url, "--webhook-secret", ACCOUNT_SECRET,
         "--forward-connect-to", webhook_receiver.url, "--connect-webhook-secret", CONNECT_SECRET],
        stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = line.rsplit(" ", 1)[1].strip()
        announced = [process.stdout.readline(), process.stdout.readline()]
        assert any(a.startswith("Delivering account webhooks") and ACCOUNT_SECRET in a for a in announced)
        assert any(a.startswith("Delivering Connect webhooks") and CONNECT_SECRET in a for a in announced)
        client = stripe.StripeClient("sk_test_cliconnect0001", max_network_retries=0,
                                     base_addresses={"api": url, "connect": url, "files": url})
        _destination_payment_and_deauthorization(client, EmulatorControl(url))
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
    assert process.returncode == 0
    assert {e["type"] for e in webhook_receiver.events()} == ACCOUNT_TYPES | CONNECT_TYPES
    for received in webhook_receiver.received:
        assert _verifies(received, CONNECT_SECRET if "account" in received.event else ACCOUNT_SECRET)
