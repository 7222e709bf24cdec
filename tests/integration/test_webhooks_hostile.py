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


# -- Stripe-Signature header variants: refused or accepted exactly as the SDK decides ------------

TOLERANCE = 300  # the default INVOICING_STRIPE_WEBHOOK_TOLERANCE


def header_variants(payload: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(refused: name, header, what the answer says), (accepted: name, header) for ``payload``."""
    fresh, old, soon = now(), now() - 3600, now() + 60
    sig = lambda t: signature(payload, t)  # noqa: E731
    huge = 10**20
    refused = [
        # the replay: the hour-old signed t, with a fresh t the SDK does not read
        ("space before a fresh t", f"v1={sig(old)}, t={fresh},t={old}", "older than the tolerance"),
        ("space before the old t", f" t={fresh},t={old},v1={sig(old)}", "older than the tolerance"),
        ("old t first, fresh t second", f"t={old},t={fresh},v1={sig(old)}", "older than the tolerance"),
        ("fresh t first, old t second", f"t={fresh},t={old},v1={sig(old)}", "does not match"),
        ("fresh t signed, old t read first", f"t={old},t={fresh},v1={sig(fresh)}", "does not match"),
        ("stale by a second", f"t={now() - TOLERANCE - 5},v1={sig(now() - TOLERANCE - 5)}", "older than the tolerance"),
        ("an hour old", f"t={old},v1={sig(old)}", "older than the tolerance"),
        ("negative t", f"t=-1,v1={sig(-1)}", "older than the tolerance"),
        ("t too long to be a number", f"t={'9' * 5000},v1={sig(fresh)}", "does not match"),
        ("t not a number", f"t=1.5e9,v1={sig(fresh)}", "does not match"),
        ("empty t", f"t=,v1={sig(fresh)}", "does not match"),
        ("no t", f"v1={sig(fresh)}", "does not match"),
        ("T in capitals", f"T={fresh},v1={sig(fresh)}", "does not match"),
        ("space before v1", f"t={fresh}, v1={sig(fresh)}", "does not match"),
        ("space after t", f"t ={fresh},v1={sig(fresh)}", "does not match"),
        ("only v0", f"t={fresh},v0={sig(fresh)}", "does not match"),
        ("several v1, none valid", f"t={fresh},v1={'0' * 64},v1={sig(old)},v1=", "does not match"),
        ("empty v1", f"t={fresh},v1=", "does not match"),
        ("a huge v1", f"t={fresh},v1={'a' * 200_000}", "does not match"),
        ("only commas", ",,,", "does not match"),
        ("only spaces", "   ", "does not match"),
        ("signed by another secret", f"t={fresh},v1={signature(payload, fresh, 'whsec_other')}", "does not match"),
    ]
    accepted = [
        ("plain", f"t={fresh},v1={sig(fresh)}"),
        ("v1 first", f"v1={sig(fresh)},t={fresh}"),
        ("empty parts", f",t={fresh},,v1={sig(fresh)},"),
        ("space inside the t value", f"t= {fresh},v1={sig(fresh)}"),
        ("a second t after the signed one", f"t={fresh},v1={sig(fresh)},t={old}"),
        ("several v1, one valid", f"t={fresh},v1={'0' * 64},v1={sig(fresh)},v1={sig(old)}"),
        ("v0 beside v1", f"t={fresh},v0={'f' * 64},v1={sig(fresh)}"),
        ("a long header", f"t={fresh}," + "v1=deadbeef," * 5000 + f"v1={sig(fresh)}"),
        ("a minute ahead (clock skew)", f"t={soon},v1={sig(soon)}"),
        # The SDK refuses only old timestamps; a future one can only come from the signer.
        ("an hour in the future", f"t={now() + 3600},v1={sig(now() + 3600)}"),
        ("huge t", f"t={huge},v1={sig(huge)}"),
    ]
    return refused, accepted


def sdk_accepts(payload: str, header: str) -> bool:
    """What Stripe's SDK decides (signature and age together)."""
    try:
        stripe.WebhookSignature.verify_header(payload, header, WEBHOOK_SECRET, TOLERANCE)
    except stripe.SignatureVerificationError:
        return False
    return True


def test_forged_and_stale_signature_headers_are_refused_and_change_nothing(app, client, invoice, stripe_emulator):
    event = paid_event(stripe_emulator, invoice)
    payload = json.dumps(event)
    before = invoice_state(app, invoice.id)
    refused, _ = header_variants(payload)

    for name, header, reason in refused:
        assert not sdk_accepts(payload, header), name  # the table says what Stripe's SDK says
        response = post_event(client, payload, signature=header)
        assert response.status_code == 400, (name, response.get_json())
        assert reason in response.get_json()["error"], (name, response.get_json())

    assert invoice_state(app, invoice.id) == before
    assert webhook_rows(app) == []


def test_signature_headers_the_sdk_accepts_are_processed(app, client, invoice, stripe_emulator):
    event = paid_event(stripe_emulator, invoice)
    _, accepted = header_variants(json.dumps(event))

    for number, (name, header) in enumerate(accepted):
        copy = dict(event, id=f"{event['id']}_{number}")  # each variant its own event id
        payload = json.dumps(copy)
        header = header_variants(payload)[1][number][1]
        assert sdk_accepts(payload, header), name
        response = post_event(client, payload, signature=header)
        assert response.status_code == 200, (name, response.get_json())
        assert response.get_json()["status"] == "processed", name
        assert len(webhook_rows(app, copy["id"])) == 1, name

    state = invoice_state(app, invoice.id)
    assert (state.status, state.payments) == ("paid", 1)


def test_signature_headers_with_characters_outside_ascii_are_refused_with_400(
    app, client, live_server, invoice, stripe_emulator
):
    """A ``Stripe-Signature`` Stripe sends is ASCII (``t=<digits>,v1=<hex>``). The SDK's
    comparison (``hmac.compare_digest``) raises ``TypeError`` on a non-ASCII ``v1`` value
    instead of refusing it, which answered 500 to anyone, unsigned; such a header is
    refused with 400 before it reaches the SDK -- wherever the character sits, even after
    a valid signature."""
    event = paid_event(stripe_emulator, invoice)
    payload = json.dumps(event)
    fresh = now()
    valid = signature(payload, fresh)
    headers = {
        "non-ASCII v1": f"t={fresh},v1=\u00e9",
        "non-ASCII v1 before the valid one": f"t={fresh},v1=\u00ff,v1={valid}",
        "valid v1, then a non-ASCII one": f"t={fresh},v1={valid},v1=\u00e9",
        "non-ASCII t": f"t=\u00e9,v1={valid}",
        "non-ASCII unknown scheme": f"t={fresh},v1={valid},x=\u00e9",
        "a character beyond Latin-1": f"t={fresh},v1=\u0100",
    }
    before = invoice_state(app, invoice.id)

    for name, header in headers.items():
        response = post_event(client, payload, signature=header)
        assert response.status_code == 400, (name, response.status_code)
        assert "Stripe-Signature" in response.get_json()["error"], name
    # The same over a real socket, the header's bytes as sent: Latin-1 and UTF-8.
    for raw in (f"t={fresh},v1=".encode() + b"\xe9", f"t={fresh},v1=".encode() + "\u00e9".encode()):
        status, body = post_raw(live_server, payload.encode(), {"Content-Type": "application/json",
                                                                 "Stripe-Signature": raw})
        assert status == 400, (raw, status, body[:200])

    assert invoice_state(app, invoice.id) == before
    assert webhook_rows(app) == []


def test_a_tolerance_of_zero_turns_the_timestamp_check_off(app, client, invoice, stripe_emulator):
    """``INVOICING_STRIPE_WEBHOOK_TOLERANCE = 0``: no age limit either way (as the SDK's ``tolerance=0``)."""
    app.config["INVOICING_STRIPE_WEBHOOK_TOLERANCE"] = 0
    event = paid_event(stripe_emulator, invoice)
    payload = json.dumps(event)
    ahead = now() + 86_400

    assert post_event(client, payload, signature=f"t={ahead},v1={signature(payload, ahead)}").status_code == 200
    old = now() - 86_400
    again = post_event(client, payload, signature=f"t={old},v1={signature(payload, old)}")
    assert (again.status_code, again.get_json()["status"]) == (200, "duplicate")
    # ... while the signature itself is still checked, by the same parser.
    assert post_event(client, payload, signature=f"t={now()},v1={signature(payload, old)}").status_code == 400
    assert invoice_state(app, invoice.id).status == "paid"


def test_a_stale_signature_of_a_rotated_secret_is_reported_as_too_old(app, client, invoice, stripe_emulator):
    """With several candidate secrets, the one that signed decides the answer: "too old", not "no match"."""
    app.config["INVOICING_STRIPE_WEBHOOK_SECRET"] = ["whsec_old_secret_000", "whsec_new_secret_111"]
    event = paid_event(stripe_emulator, invoice)
    payload = json.dumps(event)
    old = now() - 3600

    response = post_event(client, payload, signature=f"t={old},v1={signature(payload, old, 'whsec_new_secret_111')}")

    assert response.status_code == 400
    assert "older than the tolerance" in response.get_json()["error"]
    assert invoice_state(app, invoice.id).status == "sent"
    assert webhook_rows(app) == []


# -- signed bodies that are JSON but not an event Stripe would send ------------------------------
#
# The rule (docs/webhooks.md): such a body is refused with 400 and nothing is recorded,
# whatever its event type -- never a 500 (Stripe retries a 500 for three days). It is
# checked before anything is recorded, by the gateway mapper each handler uses.

DELETE = object()
ID, ID_OR_NULL, AMOUNT, AMOUNT_OR_NULL, BOOL, TEXT, TEXT_OR_NULL, CURRENCY, METADATA, STRINGS, KIND = (
    "id", "id?", "amount", "amount?", "bool", "text", "text?", "currency", "metadata", "strings", "kind")

#: Values of the wrong type or out of bounds for each kind of field (Stripe's API reference).
WRONG: dict[str, list] = {
    ID: [123, None, "", "x" * 300, "cs_\u0000", {"id": "cs_x"}, ["cs_x"], True, "cs x", "cs_é", DELETE],
    ID_OR_NULL: [123, "", "x" * 300, "pi_\u0000", {"id": "pi_x", "object": "payment_intent"}, ["pi_x"], True,
                 DELETE],
    AMOUNT: ["50000", 50000.0, 500.5, -1, True, 2**64, None, [], {}, DELETE],
    AMOUNT_OR_NULL: ["50000", 50000.0, -1, False, 2**63, [], {"value": 1}, DELETE],
    BOOL: ["true", "false", 1, 0, None, [], {}, DELETE],
    TEXT: [1, 1.5, True, None, [], {}, "x\u0000y", DELETE],
    TEXT_OR_NULL: [1, True, [], {"a": "b"}, "x\u0000", DELETE],
    CURRENCY: [1, "", "gbpx", "£££", "g\u0000p", ["gbp"], {}, DELETE],
    METADATA: [[], ["invoice_id"], "x", 1, True, {"invoice_id": 1}, {"invoice_id": ["1"]}, {"invoice_id": None},
               {"invoice_id": {"id": "1"}}, {"k" * 41: "v"}, {"k": "v" * 501}, {"invoice_id": "1\u0000"}, DELETE],
    STRINGS: ["x", [1], [None], {}, 1],
    KIND: ["event", "list", "", None, 1, DELETE],
}

SESSION = {"id": ID, "object": KIND, "url": TEXT_OR_NULL, "status": TEXT_OR_NULL, "payment_status": TEXT,
           "amount_total": AMOUNT_OR_NULL, "currency": CURRENCY, "payment_intent": ID_OR_NULL,
           "expires_at": AMOUNT_OR_NULL, "metadata": METADATA, "livemode": BOOL}
CHARGE = {"id": ID, "object": KIND, "payment_intent": ID_OR_NULL, "metadata": METADATA, "amount": AMOUNT,
          "amount_refunded": AMOUNT, "refunded": BOOL, "currency": CURRENCY}
DISPUTE = {"id": ID, "object": KIND, "payment_intent": ID_OR_NULL, "metadata": METADATA, "amount": AMOUNT,
           "currency": CURRENCY, "reason": TEXT}
ACCOUNT = {"id": ID, "object": KIND, "charges_enabled": BOOL, "payouts_enabled": BOOL, "details_submitted": BOOL,
           "requirements": {"currently_due": STRINGS, "past_due": STRINGS, "disabled_reason": TEXT_OR_NULL}}
APPLICATION = {"id": ID, "object": KIND, "name": TEXT_OR_NULL}
REFUND = {"id": ID, "object": KIND, "payment_intent": ID_OR_NULL, "amount": AMOUNT, "currency": CURRENCY,
          "status": TEXT}
DISPUTE_OUTCOME = {**DISPUTE, "status": TEXT}
OBJECT_FIELDS = {
    "checkout.session.completed": SESSION,
    "checkout.session.async_payment_succeeded": SESSION,
    "checkout.session.async_payment_failed": SESSION,
    "checkout.session.expired": SESSION,
    "charge.refunded": CHARGE,
    "charge.dispute.created": DISPUTE,
    "charge.refund.updated": REFUND,
    "refund.updated": REFUND,
    "refund.failed": REFUND,
    "charge.dispute.funds_withdrawn": DISPUTE_OUTCOME,
    "charge.dispute.funds_reinstated": DISPUTE_OUTCOME,
    "charge.dispute.closed": DISPUTE_OUTCOME,
    "account.updated": ACCOUNT,
    "account.application.deauthorized": APPLICATION,
}

#: The envelope, for every event type (https://docs.stripe.com/api/events/object).
ENVELOPE_MUTATIONS: list[tuple[str, tuple, object]] = [
    *[(f"id={v!r:.20}", ("id",), v) for v in WRONG[ID]],
    *[(f"object={v!r}", ("object",), v) for v in ("list", "checkout.session", "", None, 1, DELETE)],
    *[(f"type={v!r:.20}", ("type",), v) for v in (1, None, ["x"], "", "x" * 97, "checkout session", DELETE)],
    *[(f"created={v!r}", ("created",), v)
      for v in ("1700000000", 1.7e9, -1, 10**20, 2**63, True, None, [], DELETE)],
    *[(f"livemode={v!r}", ("livemode",), v) for v in WRONG[BOOL]],
    *[(f"account={v!r:.20}", ("account",), v)
      for v in (1, {"id": "acct_x"}, ["acct_x"], "", "a" * 65, "acct_\u0000", True)],
    *[(f"data={v!r}", ("data",), v) for v in (None, [], "x", 1, {}, {"previous_attributes": {}}, DELETE)],
    *[(f"data.object={v!r}", ("data", "object"), v) for v in (None, [], "x", 1, True, DELETE)],
    ("data.previous_attributes=[]", ("data", "previous_attributes"), []),
]


def object_mutations(fields: dict, path: tuple = ("data", "object")) -> list[tuple[str, tuple, object]]:
    mutations = []
    for name, kind in fields.items():
        if isinstance(kind, dict):  # a nested object
            mutations += [(f"{'.'.join(path)}.{name}={v!r}", (*path, name), v) for v in ([], "x", 1, True)]
            mutations += object_mutations(kind, (*path, name))
            continue
        for value in WRONG[kind]:
            label = "deleted" if value is DELETE else f"{value!r:.30}"
            mutations.append((f"{'.'.join(path)}.{name}={label}", (*path, name), value))
    return mutations


def mutated(event: dict, path: tuple, value) -> dict:
    event = json.loads(json.dumps(event))
    target = event
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return event


def well_formed_event(event_type: str, invoice, account: str) -> dict:
    """A Stripe-shaped event of ``event_type`` about ``invoice`` (or its workspace's account)."""
    metadata = {"invoice_id": str(invoice.id), "workspace_id": invoice.workspace_id, "number": invoice.number}
    if event_type.startswith("checkout.session."):
        status, paid = {"checkout.session.expired": ("expired", "unpaid"),
                        "checkout.session.async_payment_failed": ("complete", "unpaid")}.get(
            event_type, ("complete", "paid"))
        obj = {"id": invoice.session_id, "object": "checkout.session", "url": None, "status": status,
               "payment_status": paid, "amount_total": 50_000, "currency": "gbp", "payment_intent": "pi_test_base",
               "expires_at": now() + 3600, "metadata": metadata, "livemode": False}
    elif event_type == "charge.refunded":
        obj = {"id": "ch_test_base", "object": "charge", "payment_intent": "pi_test_base", "metadata": metadata,
               "amount": 50_000, "amount_refunded": 50_000, "refunded": True, "currency": "gbp", "livemode": False}
    elif event_type.startswith("charge.dispute."):
        obj = {"id": "dp_test_base", "object": "dispute", "charge": "ch_test_base", "payment_intent": "pi_test_base",
               "metadata": metadata, "amount": 50_000, "currency": "gbp", "reason": "fraudulent", "livemode": False,
               "status": "lost" if event_type == "charge.dispute.closed" else "needs_response"}
    elif event_type in ("charge.refund.updated", "refund.updated", "refund.failed"):
        obj = {"id": "re_test_base", "object": "refund", "charge": "ch_test_base", "payment_intent": "pi_test_base",
               "metadata": {}, "amount": 50_000, "currency": "gbp", "status": "failed",
               "failure_reason": "lost_or_stolen_card", "reason": None}
    elif event_type == "account.updated":
        obj = {"id": account, "object": "account", "charges_enabled": False, "payouts_enabled": False,
               "details_submitted": True,
               "requirements": {"currently_due": ["external_account"], "past_due": ["external_account"],
                                "disabled_reason": "requirements.past_due"}}
    elif event_type == "account.application.deauthorized":
        obj = {"id": "ca_test_platform", "object": "application", "name": "Platform"}
    else:  # pragma: no cover - a new handled type needs its well-formed example here
        raise AssertionError(f"add a well-formed {event_type} to this test")
    return {"id": f"evt_base_{event_type.replace('.', '_')}", "object": "event", "api_version": "2026-10-28.endive",
            "created": now(), "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": event_type, "account": account}


def connection_state(app, workspace_id: str) -> tuple:
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import StripeConnection

    with app.app_context():
        row = get_state().session.query(StripeConnection).filter_by(workspace_id=workspace_id).one()
        return row.status, row.charges_enabled, row.payouts_enabled, row.disabled_reason, row.account_id


def test_every_handled_event_type_has_its_malformed_shapes_here():
    from invoicing_plugin.webhooks.handlers import HANDLERS, OBJECT_READERS

    assert set(OBJECT_FIELDS) == set(HANDLERS) == set(OBJECT_READERS)


@pytest.mark.parametrize("event_type", sorted(OBJECT_FIELDS))
def test_a_signed_body_that_is_not_a_stripe_event_is_refused_with_400_and_changes_nothing(
    app, client, invoice, account, event_type
):
    base = well_formed_event(event_type, invoice, account)
    before = invoice_state(app, invoice.id), connection_state(app, invoice.workspace_id)
    mutations = ENVELOPE_MUTATIONS + object_mutations(OBJECT_FIELDS[event_type])
    assert len(mutations) > 60

    for label, path, value in mutations:
        response = post_event(client, mutated(base, path, value))
        assert response.status_code == 400, (label, response.status_code, response.get_data(as_text=True)[:300])
        assert "not" in response.get_json()["error"] and "event" in response.get_json()["error"], label

    assert webhook_rows(app) == []
    assert (invoice_state(app, invoice.id), connection_state(app, invoice.workspace_id)) == before
    # The unchanged example passes the shape check: each refusal above was for its one
    # malformed field. (Whether it then binds to the invoice is test_payment_binding's
    # business: a charge naming a PaymentIntent none of our sessions made is ignored.)
    response = post_event(client, base)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] in ("processed", "ignored"), response.get_json()


@pytest.mark.parametrize("event_type", sorted(OBJECT_FIELDS))
def test_well_typed_but_hostile_values_answer_without_a_5xx_and_touch_no_invoice(
    app, client, invoice, account, event_type
):
    """Valid shapes with values no invoice has (huge ids in metadata, another workspace, ...)."""
    base = well_formed_event(event_type, invoice, account)
    obj = base["data"]["object"]
    if "metadata" in obj:  # not the invoice's session, intent or charge: only the metadata could match
        obj["id"] = obj["id"][:3] + "unknown"
        obj["payment_intent"] = "pi_unknown"
    hostile = []
    for invoice_id in () if "metadata" not in obj else (
        "9" * 30, str(2**63), str(2**31), "-1", "0", "1e3", " 1", "１", "0x1", "", "x" * 500
    ):
        hostile.append(("metadata.invoice_id", ("data", "object", "metadata", "invoice_id"), invoice_id))
    for workspace in () if "metadata" not in obj else ("9" * 30, "x" * 500, "", "%00", "' OR 1=1 --"):
        hostile.append(("metadata.workspace_id", ("data", "object", "metadata", "workspace_id"), workspace))
    # From here on, nothing names the invoice or its workspace's account.
    if "metadata" in obj:
        base = mutated(base, ("data", "object", "metadata", "invoice_id"), "999999")
    if event_type.startswith("account."):
        base = mutated(base, ("account",), "acct_not_connected")
        if obj.get("object") == "account":
            base = mutated(base, ("data", "object", "id"), "acct_not_connected")
    hostile += [
        ("account unknown", ("account",), "acct_" + "9" * 59),
        ("no account", ("account",), None),
        ("amount at the limit", ("data", "object", "amount_total" if "amount_total" in obj else "amount"), 2**63 - 1),
        ("created 0", ("created",), 0),
        ("created year 9999", ("created",), 253_402_300_799),
        ("unknown fields", ("data", "object", "surprise"), {"nested": ["\u0000", 1e308, None]}),
    ]
    before = invoice_state(app, invoice.id), connection_state(app, invoice.workspace_id)

    for number, (label, path, value) in enumerate(hostile):
        if path[-1] == "amount" and "amount" not in obj:
            continue
        event = mutated(base, path, value)
        event["id"] = f"{base['id']}_{number}"
        response = post_event(client, event)
        assert response.status_code < 500, (label, value, response.get_data(as_text=True)[:300])

    assert (invoice_state(app, invoice.id), connection_state(app, invoice.workspace_id)) == before


# -- oversized bodies ------------------------------------------------------------------------------


def post_chunked(live_server, chunks, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST with ``Transfer-Encoding: chunked`` and no Content-Length, over a real socket."""
    url = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.putrequest("POST", ENDPOINT)
        for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
            connection.putheader(name, value)
        connection.endheaders()
        try:
            for chunk in chunks:
                connection.send(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
            connection.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading everything: read its answer
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_an_oversized_chunked_body_gets_413_and_nothing_is_recorded(app, live_server, invoice, stripe_emulator):
    """No Content-Length to check up front: the limit applies while the body is read."""
    app.config["INVOICING_STRIPE_WEBHOOK_MAX_BYTES"] = 4096
    event = paid_event(stripe_emulator, invoice)
    event["data"]["object"]["metadata"]["padding"] = "x" * 400  # still a valid event, only too big
    event["padding"] = "y" * 8000
    payload = json.dumps(event).encode()
    assert len(payload) > 4096
    headers = {"Content-Type": "application/json",
               "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(payload.decode(), WEBHOOK_SECRET)}

    status, body = post_chunked(live_server, [payload[i:i + 1000] for i in range(0, len(payload), 1000)], headers)

    assert status == 413, body
    assert b"larger than 4096 bytes" in body
    assert webhook_rows(app) == []
    assert invoice_state(app, invoice.id).status == "sent"


def test_a_chunked_body_within_the_limit_is_processed(app, live_server, invoice, stripe_emulator):
    event = paid_event(stripe_emulator, invoice)
    payload = json.dumps(event).encode()
    app.config["INVOICING_STRIPE_WEBHOOK_MAX_BYTES"] = len(payload)  # exactly at the limit
    headers = {"Content-Type": "application/json",
               "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(payload.decode(), WEBHOOK_SECRET)}

    status, body = post_chunked(live_server, [payload[i:i + 500] for i in range(0, len(payload), 500)], headers)

    assert status == 200, body
    assert invoice_state(app, invoice.id).status == "paid"


# -- bodies that are not the UTF-8 JSON text Stripe sends --------------------------------------


def test_signed_bodies_that_are_not_utf8_json_text_are_refused_with_400(app, client, invoice, stripe_emulator):
    event = paid_event(stripe_emulator, invoice)
    text = json.dumps(event)
    bodies = {
        "UTF-16": text.encode("utf-16"),
        "UTF-8 with a BOM": b"\xef\xbb\xbf" + text.encode(),
        "NaN": text.replace('"amount_total": 50000', '"amount_total": NaN').encode(),
        "Infinity in an unread field": text[:-1].encode() + b', "x": -Infinity}',
        "a number too large for a float": text[:-1].encode() + b', "x": 1e999}',
        "nested too deep": text[:-1].encode() + b', "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "a lone surrogate": text.replace(event["id"], event["id"] + "\\ud800").encode(),
        "a lone surrogate in an unread field": text[:-1].encode() + b', "x": "\\udc00"}',
        "invalid UTF-8": text.replace(event["id"], event["id"] + "\udcff").encode("utf-8", "surrogateescape"),
    }
    before = invoice_state(app, invoice.id)

    for name, body in bodies.items():
        # Signed as the SDK signs text (what a holder of the secret could send).
        header = stripe.WebhookSignature.generate_signature_header(body.decode("utf-8", "replace"), WEBHOOK_SECRET)
        response = client.post(ENDPOINT, data=body, content_type="application/json",
                               headers={"Stripe-Signature": header})
        assert response.status_code == 400, (name, response.status_code)
        assert "not a JSON Stripe event" in response.get_json()["error"], name

    assert webhook_rows(app) == []
    assert invoice_state(app, invoice.id) == before


def test_unsigned_hostile_values_are_refused_before_any_query_can_fail(app, client, invoice, stripe_emulator):
    """Before a signature matches, the body is read only to pick own-key secrets: no value breaks that."""
    event = paid_event(stripe_emulator, invoice)
    hostile = ["x\u0000", "x" * 10_000, "\u00e9" * 100, "' OR 1=1 --", 2**70, {"id": "x"}]
    paths = [("account",), ("data", "object", "id"), ("data", "object", "payment_intent"),
             ("data", "object", "metadata", "workspace_id")]

    for path in paths:
        for value in hostile:
            response = post_event(client, mutated(event, path, value), secret="whsec_not_ours")
            assert response.status_code == 400, (path, repr(value)[:30], response.status_code)
            assert "does not match" in response.get_json()["error"]

    assert webhook_rows(app) == []
