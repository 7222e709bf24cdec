"""Payment intents, refunds, disputes, events, webhook endpoints, idempotency, failures."""

from __future__ import annotations

import pytest
import stripe

from tests.emulator.helpers import express_account, session_params


def _paid_session(client, control, amount=5000, **extra):
    session = client.v1.checkout.sessions.create(session_params(amount=amount, **extra))
    control.pay_session(session.id)
    return client.v1.checkout.sessions.retrieve(session.id)


def test_paid_destination_charge(client, stripe_emulator):
    ctl = stripe_emulator.control
    seller = express_account(client, ctl)
    session = _paid_session(client, ctl, payment_intent_data={
        "application_fee_amount": 250, "transfer_data": {"destination": seller.id},
        "metadata": {"invoice_id": "9"}, "description": "Invoice 9"})
    assert (session.status, session.payment_status) == ("complete", "paid")
    intent = client.v1.payment_intents.retrieve(session.payment_intent)
    assert intent.id.startswith("pi_") and intent.status == "succeeded"
    assert (intent.amount, intent.amount_received, intent.currency) == (5000, 5000, "eur")
    assert intent.application_fee_amount == 250
    assert intent.transfer_data.destination == seller.id
    assert intent.metadata.to_dict() == {"invoice_id": "9"}
    assert intent.description == "Invoice 9"
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.id.startswith("ch_") and charge.paid and charge.status == "succeeded"
    assert charge.application_fee_amount == 250
    assert charge.transfer_data.destination == seller.id
    assert charge.payment_intent == intent.id
    # Today's Charge object (stripe/openapi fixtures3) names the destination only in
    # ``transfer_data``; the top-level ``destination`` of old API versions is gone.
    assert "destination" not in charge.to_dict()
    assert charge.payment_method_details.card.last4 == "4242"
    # The session a PaymentIntent belongs to can be looked up by it (GET /v1/checkout/sessions
    # ?payment_intent=..., https://docs.stripe.com/api/checkout/sessions/list).
    listed = client.v1.checkout.sessions.list({"payment_intent": intent.id})
    assert [s.id for s in listed.data] == [session.id]
    assert client.v1.checkout.sessions.list({"payment_intent": "pi_unknown"}).data == []


def test_declined_payment_leaves_session_open(client, stripe_emulator):
    session = client.v1.checkout.sessions.create(session_params())
    result = stripe_emulator.control.pay_session(session.id, outcome="declined")
    assert result["declined"]["message"] == "Your card was declined."
    again = client.v1.checkout.sessions.retrieve(session.id)
    assert (again.status, again.payment_status, again.payment_intent) == ("open", "unpaid", None)


@pytest.mark.parametrize("succeeded,status,payment_status,event", [
    (True, "succeeded", "paid", "checkout.session.async_payment_succeeded"),
    (False, "requires_payment_method", "unpaid", "checkout.session.async_payment_failed"),
])
def test_delayed_payment_then_settlement(client, stripe_emulator, succeeded, status,
                                         payment_status, event):
    ctl = stripe_emulator.control
    session = client.v1.checkout.sessions.create(session_params())
    ctl.pay_session(session.id, outcome="delayed")
    pending = client.v1.checkout.sessions.retrieve(session.id)
    assert (pending.status, pending.payment_status) == ("complete", "unpaid")
    assert client.v1.payment_intents.retrieve(pending.payment_intent).status == "processing"
    ctl.settle_async(session.id, succeeded=succeeded)
    settled = client.v1.checkout.sessions.retrieve(session.id)
    assert settled.payment_status == payment_status
    assert client.v1.payment_intents.retrieve(settled.payment_intent).status == status
    types = [e.type for e in client.v1.events.list().data]
    assert event in types and types.count("checkout.session.completed") == 1


def test_full_refund(client, stripe_emulator):
    session = _paid_session(client, stripe_emulator.control, amount=3000)
    refund = client.v1.refunds.create({"payment_intent": session.payment_intent})
    assert refund.id.startswith("re_") and refund.object == "refund"
    assert (refund.amount, refund.status, refund.currency) == (3000, "succeeded", "eur")
    charge = client.v1.charges.retrieve(refund.charge)
    assert charge.amount_refunded == 3000 and charge.refunded is True
    assert client.v1.refunds.retrieve(refund.id).amount == 3000
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create({"charge": charge.id})
    assert info.value.code == "charge_already_refunded"


def test_partial_refunds_and_over_refund(client, stripe_emulator):
    session = _paid_session(client, stripe_emulator.control, amount=3000)
    first = client.v1.refunds.create({"payment_intent": session.payment_intent, "amount": 1000})
    client.v1.refunds.create({"charge": first.charge, "amount": 1500})
    charge = client.v1.charges.retrieve(first.charge)
    assert (charge.amount_refunded, charge.refunded) == (2500, False)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create({"payment_intent": session.payment_intent, "amount": 501})
    assert (info.value.code, info.value.param) == ("amount_too_large", "amount")
    last = client.v1.refunds.create({"payment_intent": session.payment_intent})
    assert last.amount == 500
    refunded = [e for e in client.v1.events.list({"type": "charge.refunded"}).data]
    assert [e.data.object.amount_refunded for e in refunded] == [3000, 2500, 1000]
    assert refunded[-1].data.previous_attributes.amount_refunded == 0


def test_refund_of_unpaid_intent_and_missing_target(client, stripe_emulator):
    session = client.v1.checkout.sessions.create(session_params())
    stripe_emulator.control.pay_session(session.id, outcome="delayed")
    intent = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create({"payment_intent": intent})
    assert info.value.param == "payment_intent"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create({"payment_intent": "pi_missing"})
    assert (info.value.http_status, info.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create({})
    assert info.value.code == "parameter_missing"


def test_dispute_trigger(client, stripe_emulator):
    session = _paid_session(client, stripe_emulator.control)
    charge_id = client.v1.payment_intents.retrieve(session.payment_intent).latest_charge
    dispute = stripe_emulator.control.trigger("charge.dispute.created", charge=charge_id)
    assert dispute["id"].startswith("du_") and dispute["charge"] == charge_id
    assert client.v1.charges.retrieve(charge_id).disputed is True
    # Stripe withdraws the disputed funds at once (https://docs.stripe.com/disputes/how-disputes-work).
    withdrawn, created = client.v1.events.list({"type": "charge.dispute.*"}).data
    assert created.type == "charge.dispute.created" and created.data.object.id == dispute["id"]
    assert withdrawn.type == "charge.dispute.funds_withdrawn" and withdrawn.data.object.id == dispute["id"]


def test_payment_events_in_order_and_shape(client, stripe_emulator):
    session = _paid_session(client, stripe_emulator.control)
    events = client.v1.events.list().data
    assert [e.type for e in events] == [
        "checkout.session.completed", "payment_intent.succeeded", "charge.succeeded"]
    completed = events[0]
    assert completed.id.startswith("evt_") and completed.object == "event"
    assert completed.api_version == stripe.api_version and completed.livemode is False
    assert completed.data.object.id == session.id
    assert completed.data.object.payment_status == "paid"
    assert "account" not in completed  # platform's own event
    assert client.v1.events.retrieve(completed.id).id == completed.id


def test_events_filters(client, stripe_emulator):
    ctl = stripe_emulator.control
    first = _paid_session(client, ctl)
    ctl.advance_clock(100)
    boundary = ctl.now()
    _paid_session(client, ctl)
    later = client.v1.events.list({"created": {"gte": boundary}}).data
    assert len(later) == 3 and all(e.created >= boundary for e in later)
    earlier = client.v1.events.list({"created": {"lt": boundary}}).data
    assert {e.data.object.id for e in earlier if e.type.startswith("checkout")} == {first.id}
    only = client.v1.events.list({"type": "payment_intent.succeeded"}).data
    assert len(only) == 2 and {e.type for e in only} == {"payment_intent.succeeded"}
    several = client.v1.events.list({"types": ["charge.succeeded", "checkout.session.completed"]})
    assert len(several.data) == 4
    page = client.v1.events.list({"limit": 2})
    assert len(page.data) == 2 and page.has_more
    # no endpoints: nothing is pending, so every event counts as delivered
    assert client.v1.events.list({"delivery_success": False}).data == []
    assert len(client.v1.events.list({"delivery_success": True, "limit": 100}).data) == 6


def test_event_of_another_account_is_missing(stripe_emulator, new_key):
    owner = stripe_emulator.stripe_client(new_key())
    other = stripe_emulator.stripe_client(new_key())
    session = _paid_session(owner, stripe_emulator.control)
    event_id = owner.v1.events.list({"limit": 1}).data[0].id
    assert session.id
    with pytest.raises(stripe.InvalidRequestError) as info:
        other.v1.events.retrieve(event_id)
    assert info.value.http_status == 404 and info.value.param == "id"


def test_webhook_endpoint_crud(client):
    created = client.v1.webhook_endpoints.create({
        "url": "https://merchant.test/hooks", "enabled_events": ["checkout.session.completed"],
        "api_version": "2024-06-20", "connect": True, "metadata": {"env": "test"}})
    assert created.id.startswith("we_") and created.secret.startswith("whsec_")
    assert created.api_version == "2024-06-20" and created.status == "enabled"
    fetched = client.v1.webhook_endpoints.retrieve(created.id)
    assert "secret" not in fetched and fetched.url == "https://merchant.test/hooks"
    assert [e.id for e in client.v1.webhook_endpoints.list().data] == [created.id]
    updated = client.v1.webhook_endpoints.update(created.id, {"disabled": True})
    assert updated.status == "disabled"
    deleted = client.v1.webhook_endpoints.delete(created.id)
    assert deleted.deleted is True and deleted.id == created.id
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.webhook_endpoints.retrieve(created.id)
    assert client.v1.webhook_endpoints.list().data == []


def test_webhook_endpoint_validation(client):
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.webhook_endpoints.create({"url": "https://merchant.test/hooks"})
    assert (info.value.code, info.value.param) == ("parameter_missing", "enabled_events")
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.webhook_endpoints.create({"url": "ftp://x", "enabled_events": ["*"]})
    assert info.value.param == "url"


def test_idempotent_replay(client):
    params = session_params()
    first = client.v1.checkout.sessions.create(params, options={"idempotency_key": "key-1"})
    again = client.v1.checkout.sessions.create(params, options={"idempotency_key": "key-1"})
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert first.last_response.headers.get("Idempotent-Replayed") is None
    assert len(client.v1.checkout.sessions.list().data) == 1


def test_idempotent_replay_of_an_error_keeps_its_status(client, stripe_emulator):
    seller = express_account(client, stripe_emulator.control)
    params = session_params(amount=1000, payment_intent_data={
        "application_fee_amount": 5000, "transfer_data": {"destination": seller.id}})
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.checkout.sessions.create(params, options={"idempotency_key": "key-err"})
        assert info.value.http_status == 400
    assert info.value.headers.get("Idempotent-Replayed") == "true"


def test_idempotency_key_reused_with_other_parameters(client):
    client.v1.checkout.sessions.create(session_params(amount=1000),
                                       options={"idempotency_key": "key-2"})
    with pytest.raises(stripe.IdempotencyError) as info:
        client.v1.checkout.sessions.create(session_params(amount=2000),
                                           options={"idempotency_key": "key-2"})
    assert info.value.http_status == 400
    assert info.value.error.type == "idempotency_error"


def test_idempotency_keys_are_per_account(stripe_emulator, new_key):
    a = stripe_emulator.stripe_client(new_key())
    b = stripe_emulator.stripe_client(new_key())
    first = a.v1.checkout.sessions.create(session_params(), options={"idempotency_key": "same"})
    second = b.v1.checkout.sessions.create(session_params(amount=999),
                                           options={"idempotency_key": "same"})
    assert first.id != second.id


@pytest.mark.parametrize("error,exception,status", [
    ("rate_limit", stripe.RateLimitError, 429),
    ("api_error", stripe.APIError, 500),
])
def test_injected_failures(client, stripe_emulator, error, exception, status):
    client.v1.accounts.retrieve_current()
    stripe_emulator.control.fail_next_requests(2, error=error)
    for _ in range(2):
        with pytest.raises(exception) as info:
            client.v1.accounts.retrieve_current()
        assert info.value.http_status == status
    assert client.v1.accounts.retrieve_current().id.startswith("acct_")


def test_injected_connection_drop(client, stripe_emulator):
    stripe_emulator.control.fail_next_requests(1, error="connection_drop")
    with pytest.raises(stripe.APIConnectionError):
        client.v1.checkout.sessions.create(session_params())
    assert client.v1.checkout.sessions.list().data == []


def test_sdk_retries_through_an_injected_failure(stripe_emulator, new_key):
    """With retries on, the SDK's automatic Idempotency-Key makes the retry safe."""
    client = stripe_emulator.stripe_client(new_key(), max_network_retries=1)
    stripe_emulator.control.fail_next_requests(1, error="api_error", path_prefix="/v1/checkout")
    session = client.v1.checkout.sessions.create(session_params())
    assert session.status == "open"
    assert len(client.v1.checkout.sessions.list().data) == 1


def test_unrecognized_url(client):
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.raw_request("get", "/v1/nothing_here")
    assert info.value.http_status == 404
    assert "Unrecognized request URL" in info.value.user_message


def test_parallel_requests_with_one_idempotency_key_create_one_object(client):
    """The single state lock makes concurrent retries of one request safe."""
    from concurrent.futures import ThreadPoolExecutor

    params = session_params()

    def create(_):
        return client.v1.checkout.sessions.create(params, options={"idempotency_key": "race"}).id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(create, range(16)))
    assert len(ids) == 1
    assert len(client.v1.checkout.sessions.list({"limit": 100}).data) == 1
