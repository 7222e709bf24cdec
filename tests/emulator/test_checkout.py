"""Checkout Sessions through the SDK: creation rules, currencies, expiry, listing."""

from __future__ import annotations

import pytest
import stripe

from tests.emulator.helpers import express_account, session_params


def test_create_session_shape(client, stripe_emulator):
    session = client.v1.checkout.sessions.create(session_params(
        amount=1250, quantity=2, customer_email="buyer@example.com",
        client_reference_id="INV-001", metadata={"invoice_id": "7"}))
    assert session.id.startswith("cs_test_") and session.object == "checkout.session"
    assert session.url == f"{stripe_emulator.url}/c/pay/{session.id}"
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert (session.amount_subtotal, session.amount_total, session.currency) == (2500, 2500, "eur")
    assert session.payment_intent is None and session.livemode is False
    assert session.metadata.to_dict() == {"invoice_id": "7"}
    assert session.client_reference_id == "INV-001"
    assert session.expires_at - session.created == 24 * 3600
    assert client.v1.checkout.sessions.retrieve(session.id).to_dict() == session.to_dict()


def test_line_items_listing(client):
    session = client.v1.checkout.sessions.create(session_params(amount=700, quantity=3))
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert items.object == "list" and items.has_more is False
    (item,) = items.data
    assert item.object == "item" and item.description == "Invoice INV-001"
    assert (item.quantity, item.amount_total, item.price.unit_amount) == (3, 2100, 700)


def test_unknown_nested_parameter(client):
    params = session_params(payment_intent_data={"foo": "bar"})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(params)
    assert info.value.http_status == 400
    assert (info.value.code, info.value.param) == ("parameter_unknown", "payment_intent_data[foo]")
    assert info.value.user_message == "Received unknown parameter: payment_intent_data[foo]"


@pytest.mark.parametrize("missing", ["mode", "line_items", "success_url"])
def test_required_parameters(client, missing):
    params = session_params()
    del params[missing]
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(params)
    assert (info.value.code, info.value.param) == ("parameter_missing", missing)


def test_embedded_sessions_need_no_success_url(client):
    params = session_params(ui_mode="embedded_page", return_url="https://merchant.test/r")
    del params["success_url"], params["cancel_url"]
    session = client.v1.checkout.sessions.create(params)
    assert session.url is None and session.client_secret


@pytest.mark.parametrize("currency,amount,code", [
    ("usd", 49, "amount_too_small"),
    ("eur", 49, "amount_too_small"),
    ("gbp", 29, "amount_too_small"),
    ("jpy", 49, "amount_too_small"),
    ("eur", 100_000_000, "amount_too_large"),
    ("isk", 150_050, "invalid_charge_amount"),
    ("kwd", 10_005, "invalid_charge_amount"),
])
def test_amount_rules_rejected(client, currency, amount, code):
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(session_params(amount=amount, currency=currency))
    assert info.value.code == code


@pytest.mark.parametrize("currency,amount", [
    ("usd", 50), ("gbp", 30), ("jpy", 50), ("krw", 1000), ("isk", 150_000), ("kwd", 10_000),
    ("eur", 99_999_999), ("EUR", 500),
])
def test_amount_rules_accepted(client, currency, amount):
    session = client.v1.checkout.sessions.create(session_params(amount=amount, currency=currency))
    assert session.amount_total == amount and session.currency == currency.lower()


def test_minimum_applies_to_the_total_not_the_unit(client):
    session = client.v1.checkout.sessions.create(session_params(amount=20, quantity=3,
                                                                currency="usd"))
    assert session.amount_total == 60


def test_invalid_currency(client):
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(session_params(currency="xyz"))
    assert info.value.param == "line_items[0][price_data][currency]"


def test_expires_at_window(client, stripe_emulator):
    now = stripe_emulator.control.now()
    for bad in (now + 29 * 60, now + 24 * 3600 + 60):
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.checkout.sessions.create(session_params(expires_at=bad))
        assert info.value.param == "expires_at"
    session = client.v1.checkout.sessions.create(session_params(expires_at=now + 3600))
    assert session.expires_at == now + 3600


def test_destination_charge_rules(client, stripe_emulator):
    seller = express_account(client, stripe_emulator.control)
    ok = client.v1.checkout.sessions.create(session_params(amount=1000, payment_intent_data={
        "application_fee_amount": 100, "transfer_data": {"destination": seller.id}}))
    assert ok.status == "open"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(session_params(amount=1000, payment_intent_data={
            "application_fee_amount": 1001, "transfer_data": {"destination": seller.id}}))
    assert info.value.param == "payment_intent_data[application_fee_amount]"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(session_params(payment_intent_data={
            "application_fee_amount": 10}))
    assert info.value.param == "payment_intent_data[application_fee_amount]"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(session_params(payment_intent_data={
            "transfer_data": {"destination": "acct_doesnotexist"}}))
    assert info.value.param == "payment_intent_data[transfer_data][destination]"


def test_destination_must_be_able_to_receive_transfers(client, stripe_emulator):
    seller = express_account(client, stripe_emulator.control, onboard=False)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(session_params(payment_intent_data={
            "transfer_data": {"destination": seller.id}}))
    assert info.value.code == "insufficient_capabilities_for_transfer"


def test_expire_only_open_sessions(client, stripe_emulator):
    session = client.v1.checkout.sessions.create(session_params())
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired" and expired.url is None
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.expire(session.id)
    assert info.value.user_message == (
        'Only Checkout Sessions with a status in ["open"] can be expired.')
    paid = client.v1.checkout.sessions.create(session_params())
    stripe_emulator.control.pay_session(paid.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(paid.id)


def test_clock_advance_expires_sessions_and_emits_event(client, stripe_emulator):
    now = stripe_emulator.control.now()
    # The emulator's clock is the wall clock plus an offset, so a second can tick
    # between reading it and creating: leave a margin over the 30-minute minimum.
    short = client.v1.checkout.sessions.create(session_params(expires_at=now + 1800 + 60))
    long = client.v1.checkout.sessions.create(session_params())
    stripe_emulator.control.advance_clock(1800 + 120)
    assert client.v1.checkout.sessions.retrieve(short.id).status == "expired"
    assert client.v1.checkout.sessions.retrieve(long.id).status == "open"
    events = client.v1.events.list({"type": "checkout.session.expired"})
    assert [e.data.object.id for e in events.data] == [short.id]


def test_list_filters_and_pagination(client, stripe_emulator):
    sessions = [client.v1.checkout.sessions.create(session_params()) for _ in range(3)]
    stripe_emulator.control.pay_session(sessions[0].id)
    paid = client.v1.checkout.sessions.retrieve(sessions[0].id)
    listing = client.v1.checkout.sessions.list({"limit": 2})
    assert listing.object == "list" and listing.url == "/v1/checkout/sessions"
    assert [s.id for s in listing.data] == [sessions[2].id, sessions[1].id]
    assert listing.has_more is True
    rest = client.v1.checkout.sessions.list({"limit": 2, "starting_after": sessions[1].id})
    assert [s.id for s in rest.data] == [sessions[0].id] and rest.has_more is False
    by_intent = client.v1.checkout.sessions.list({"payment_intent": paid.payment_intent})
    assert [s.id for s in by_intent.data] == [paid.id]
    open_ones = client.v1.checkout.sessions.list({"status": "open"})
    assert {s.id for s in open_ones.data} == {sessions[1].id, sessions[2].id}
    all_ids = [s.id for s in client.v1.checkout.sessions.list({"limit": 1}).auto_paging_iter()]
    assert all_ids == [s.id for s in reversed(sessions)]


def test_sessions_of_another_account_are_missing(stripe_emulator, new_key):
    owner = stripe_emulator.stripe_client(new_key())
    other = stripe_emulator.stripe_client(new_key())
    session = owner.v1.checkout.sessions.create(session_params())
    with pytest.raises(stripe.InvalidRequestError) as info:
        other.v1.checkout.sessions.retrieve(session.id)
    assert (info.value.http_status, info.value.code, info.value.param) == (
        404, "resource_missing", "id")
    assert other.v1.checkout.sessions.list().data == []


def test_connected_account_objects_are_separate(client, stripe_emulator):
    seller = express_account(client, stripe_emulator.control)
    direct = client.v1.checkout.sessions.create(session_params(),
                                                options={"stripe_account": seller.id})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.retrieve(direct.id)
    again = client.v1.checkout.sessions.retrieve(direct.id, options={"stripe_account": seller.id})
    assert again.id == direct.id


def test_expand_payment_intent(client, stripe_emulator):
    session = client.v1.checkout.sessions.create(session_params())
    stripe_emulator.control.pay_session(session.id)
    expanded = client.v1.checkout.sessions.retrieve(session.id,
                                                    {"expand": ["payment_intent.latest_charge"]})
    assert expanded.payment_intent.object == "payment_intent"
    assert expanded.payment_intent.latest_charge.object == "charge"
