"""The webhook endpoint under hostile input: forged headers, malformed events, oversized bodies.

Stripe's documentation decides what is accepted:

* Signatures -- https://docs.stripe.com/webhooks#verify-events : the ``Stripe-Signature``
  header holds a timestamp ``t`` and one or more ``v1`` signatures of ``"{t}.{body}"``;
  a delivery whose timestamp is older than the tolerance is refused to prevent replay
  attacks. The SDK's ``stripe.WebhookSignature.verify_header`` is the one parser of that
  header: every header below is refused or accepted exactly as it decides.
* Events -- https://docs.stripe.com/api/events/object : ``id`` (string), ``type``
  (string), ``created`` (Unix timestamp), ``livemode`` (boolean), ``account`` (string,
  Connect only) and ``data.object`` (the object, e.g. a Checkout Session, a Charge);
  a body that is JSON but not such an event is refused with 400 and nothing is recorded.
"""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
import stripe

from tests.conftest import WEBHOOK_SECRET
from tests.integration.webhook_helpers import (
    ENDPOINT,
    event_for,
    invoice_state,
    now,
    post_event,
    webhook_rows,
)


@pytest.fixture
def client(app):
    return app.test_client()


def paid_event(emulator, invoice) -> dict:
    emulator.control.pay_session(invoice.session_id)
    return event_for(emulator, "checkout.session.completed", invoice.session_id)


def signature(payload: str, timestamp: int, secret: str = WEBHOOK_SECRET) -> str:
    """The bare ``v1`` signature Stripe computes for ``payload`` at ``timestamp``."""
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return header.split("v1=", 1)[1]


def post_raw(live_server, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST over a real HTTP connection (header bytes exactly as given)."""
    url = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request("POST", ENDPOINT, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# -- replays ------------------------------------------------------------------------------------


def test_an_hour_old_delivery_replayed_with_an_extra_fresh_timestamp_is_refused(
    app, live_server, invoice, stripe_emulator
):
    """The headline replay: the old ``t`` is the one signed, a fresh one is slipped beside it."""
    event = paid_event(stripe_emulator, invoice)
    payload = json.dumps(event)
    old = now() - 3600
    captured = f"t={old},v1={signature(payload, old)}"  # what an eavesdropper saw an hour ago
    before = invoice_state(app, invoice.id)

    for forged in (
        f"v1={signature(payload, old)}, t={now()},t={old}",  # a space before the fresh one
        f"t={old},v1={signature(payload, old)}, t={now()}",
        f"t={old}, t={now()},v1={signature(payload, old)}",
        f"{captured},t={now()}",
    ):
        status, body = post_raw(live_server, payload.encode(), {
            "Content-Type": "application/json", "Stripe-Signature": forged,
        })
        assert status == 400, (forged, body)

    assert invoice_state(app, invoice.id) == before
    assert invoice_state(app, invoice.id).status == "sent"
    assert webhook_rows(app) == []
