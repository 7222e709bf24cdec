"""The emulator refuses what Stripe refuses, judged by Stripe's documentation and OpenAPI spec.

Each test names the Stripe page (or the path in Stripe's OpenAPI spec,
https://github.com/stripe/openapi ``openapi/spec3.json``) it follows.  Every
refusal must come back as Stripe's error object -- ``type``
``invalid_request_error``, ``param`` and ``message``, ``code`` where Stripe
gives one -- so the SDK raises ``stripe.InvalidRequestError``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
import stripe

from tests.emulator.helpers import express_account, session_params

SESSIONS = "/v1/checkout/sessions"


def _refused(call, *args, **kwargs) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as info:
        call(*args, **kwargs)
    error = info.value
    assert error.http_status == 400
    assert error.error.type == "invalid_request_error"
    return error


def _with_product(**product_data):
    params = session_params()
    params["line_items"][0]["price_data"]["product_data"].update(product_data)
    return params


def _metadata(keys: int, key_length: int = 8, value_length: int = 1) -> dict[str, str]:
    return {f"k{i:0{key_length - 1}d}": "v" * value_length for i in range(keys)}


# Where Checkout Session create takes metadata: the session's own, the
# PaymentIntent's (payment_intent_data[metadata]) and the product's.
METADATA_PLACES = {
    "metadata": lambda md: session_params(metadata=md),
    "payment_intent_data[metadata]": lambda md: session_params(
        payment_intent_data={"metadata": md}),
    "line_items[0][price_data][product_data][metadata]": lambda md: _with_product(metadata=md),
}


# ------------------------------------------------------------------ metadata
# https://docs.stripe.com/metadata  ("You can specify up to 50 keys, with key
# names up to 40 characters long and values up to 500 characters long.")


@pytest.mark.parametrize("param", list(METADATA_PLACES))
def test_metadata_at_most_50_keys(client, param):
    build = METADATA_PLACES[param]
    client.v1.checkout.sessions.create(build(_metadata(50)))
    error = _refused(client.v1.checkout.sessions.create, build(_metadata(51)))
    assert error.param == param
    assert "Metadata can have up to 50 keys, but you've set 51." in error.user_message


@pytest.mark.parametrize("param", list(METADATA_PLACES))
def test_metadata_keys_at_most_40_characters(client, param):
    build = METADATA_PLACES[param]
    client.v1.checkout.sessions.create(build(_metadata(1, key_length=40)))
    error = _refused(client.v1.checkout.sessions.create, build(_metadata(1, key_length=41)))
    assert error.param == param
    assert "Invalid key" in error.user_message


@pytest.mark.parametrize("param", list(METADATA_PLACES))
def test_metadata_values_at_most_500_characters(client, param):
    build = METADATA_PLACES[param]
    client.v1.checkout.sessions.create(build(_metadata(1, value_length=500)))
    error = _refused(client.v1.checkout.sessions.create, build(_metadata(1, value_length=501)))
    assert error.param == f"{param}[k0000000]"
    assert "must be a string under 500 characters" in error.user_message


def test_metadata_limits_apply_to_connected_accounts_too(client, stripe_emulator):
    """https://docs.stripe.com/metadata -- the limits hold on every object, e.g. accounts."""
    account = express_account(client, stripe_emulator.control)
    error = _refused(client.v1.accounts.update, account.id, {"metadata": _metadata(1, 41)})
    assert error.param == "metadata"


# ------------------------------------------------------------ string lengths
# Stripe's OpenAPI spec, paths./v1/checkout/sessions.post.requestBody: maxLength.


@pytest.mark.parametrize("param,limit,build", [
    # client_reference_id: maxLength 200
    ("client_reference_id", 200, lambda text: session_params(client_reference_id=text)),
    # payment_intent_data.description: maxLength 1000
    ("payment_intent_data[description]", 1000,
     lambda text: session_params(payment_intent_data={"description": text})),
    # line_items[].price_data.product_data.name: maxLength 5000
    ("line_items[0][price_data][product_data][name]", 5000,
     lambda text: _with_product(name=text)),
    # line_items[].price_data.product_data.description: maxLength 40000
    ("line_items[0][price_data][product_data][description]", 40000,
     lambda text: _with_product(description=text)),
    # payment_intent_data.statement_descriptor_suffix: maxLength 22
    ("payment_intent_data[statement_descriptor_suffix]", 22,
     lambda text: session_params(payment_intent_data={"statement_descriptor_suffix": text})),
])
def test_checkout_string_lengths_follow_the_spec(client, param, limit, build):
    client.v1.checkout.sessions.create(build("x" * limit))
    error = _refused(client.v1.checkout.sessions.create, build("x" * (limit + 1)))
    assert error.param == param
    assert f"must be at most {limit} characters" in error.user_message


def test_account_string_lengths_follow_the_spec(client):
    """Spec: paths./v1/accounts.post ``business_profile.mcc`` maxLength 4."""
    error = _refused(client.v1.accounts.create, {
        "type": "express", "country": "DE", "business_profile": {"mcc": "57345"}})
    assert error.param == "business_profile[mcc]"


def test_lengths_come_from_a_table_extracted_from_the_spec():
    """The committed table says which spec it came from and holds the spec's numbers."""
    from invoicing_plugin.testing.stripe_emulator.params import _CONSTRAINTS_FILE, spec_constraints

    table = json.loads(_CONSTRAINTS_FILE.read_text(encoding="utf-8"))
    assert table["_source"].startswith("github.com/stripe/openapi")
    assert table["_spec_version"]
    create = spec_constraints()["checkout.SessionCreateParams"]
    assert create["client_reference_id"] == {"maxLength": 200}
    assert create["payment_intent_data[description]"] == {"maxLength": 1000}


# -------------------------------------------------------------- empty strings
# https://docs.stripe.com/error-codes#parameter-invalid-empty -- an empty string
# is read as "unset", which a parameter the spec offers no "" for refuses.


def test_empty_product_name_is_refused(client):
    error = _refused(client.v1.checkout.sessions.create, _with_product(name=""))
    assert error.code == "parameter_invalid_empty"
    assert error.param == "line_items[0][price_data][product_data][name]"


def test_empty_client_reference_id_is_refused(client):
    error = _refused(client.v1.checkout.sessions.create, session_params(client_reference_id=""))
    assert (error.code, error.param) == ("parameter_invalid_empty", "client_reference_id")


# ------------------------------------------------------------------- e-mails
# https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-customer_email
# and https://docs.stripe.com/error-codes#email-invalid


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@at@example.com", "sp ace@x.com"])
def test_customer_email_must_be_an_email(client, email):
    client.v1.checkout.sessions.create(session_params(customer_email="buyer@example.com"))
    error = _refused(client.v1.checkout.sessions.create, session_params(customer_email=email))
    assert (error.code, error.param) == ("email_invalid", "customer_email")


# ----------------------------------------------------------------- enumerations
# Spec: paths./v1/checkout/sessions.post ``locale`` enum (and every other enum):
# the SDK's ``Literal`` members for the pinned version are that enum.


@pytest.mark.parametrize("locale", ["xx", "en-US", "english"])
def test_unknown_locale_is_refused(client, locale):
    for known in ("auto", "fr", "pt-BR"):
        client.v1.checkout.sessions.create(session_params(locale=known))
    error = _refused(client.v1.checkout.sessions.create, session_params(locale=locale))
    assert error.param == "locale"
    assert "must be one of" in error.user_message


def test_unknown_enum_value_is_refused_anywhere(client):
    """Spec: ``submit_type`` enum auto/book/donate/pay/subscribe."""
    client.v1.checkout.sessions.create(session_params(submit_type="pay"))
    error = _refused(client.v1.checkout.sessions.create, session_params(submit_type="buy"))
    assert error.param == "submit_type"


# --------------------------------------------------------------- Stripe-Version
# https://docs.stripe.com/api/versioning -- a version such as 2026-10-28.endive;
# Stripe answers "Invalid Stripe API version: <value>" otherwise.


@pytest.mark.parametrize("version", ["2019-2-19", "latest", "2022-08-02", "2026-10-28.nope",
                                     "2026-10-28.endive, 2026-10-28.endive"])
def test_malformed_or_unknown_stripe_version_is_refused(stripe_emulator, new_key, version):
    good = stripe_emulator.stripe_client(new_key())
    good.v1.checkout.sessions.create(session_params())
    bad = stripe_emulator.stripe_client(new_key(), stripe_version=version)
    error = _refused(bad.v1.checkout.sessions.create, session_params())
    assert error.user_message == f"Invalid Stripe API version: {version}"


def test_error_body_has_stripes_shape(stripe_emulator, new_key):
    """https://docs.stripe.com/api/errors -- ``{"error": {type, code, param, message, ...}}``."""
    request = urllib.request.Request(
        f"{stripe_emulator.url}{SESSIONS}", method="POST",
        data=b"mode=payment&success_url=https%3A%2F%2Fm.test%2Fok&customer_email=nope"
             b"&line_items[0][quantity]=1&line_items[0][price_data][currency]=eur"
             b"&line_items[0][price_data][unit_amount]=900"
             b"&line_items[0][price_data][product_data][name]=X",
        headers={"Authorization": f"Bearer {new_key()}"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    with info.value as response:
        assert response.code == 400
        error = json.loads(response.read())["error"]
    assert error["type"] == "invalid_request_error"
    assert (error["code"], error["param"]) == ("email_invalid", "customer_email")
    assert error["message"] and error["doc_url"].endswith("email-invalid")


# ------------------------------------------------------------------ expansions
# https://docs.stripe.com/api/expanding_objects and
# https://docs.stripe.com/api/checkout/sessions/object#checkout_session_object-line_items
# (``line_items`` is includable: expanded, it is a list object).


def test_retrieve_session_expanding_line_items(client):
    session = client.v1.checkout.sessions.create(session_params(amount=700, quantity=3))
    expanded = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["line_items"]})
    items = expanded.line_items
    assert items.object == "list" and items.has_more is False
    assert items.url == f"{SESSIONS}/{session.id}/line_items"
    (item,) = items.data
    assert (item.object, item.quantity, item.amount_total) == ("item", 3, 2100)
    plain = client.v1.checkout.sessions.retrieve(session.id)
    assert "line_items" not in plain
    deeper = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["line_items", "line_items.data.price"]})
    assert deeper.line_items.data[0].price.unit_amount == 700


def test_list_sessions_expanding_each_sessions_line_items(client):
    first = client.v1.checkout.sessions.create(session_params(amount=700))
    second = client.v1.checkout.sessions.create(session_params(amount=900))
    listed = client.v1.checkout.sessions.list({"expand": ["data.line_items"]})
    by_id = {s.id: s for s in listed.data}
    assert by_id[first.id].line_items.data[0].amount_total == 700
    assert by_id[second.id].line_items.data[0].amount_total == 900

