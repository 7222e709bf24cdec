"""Form decoding and SDK-derived validation (no server needed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stripe._encode import _api_encode

from invoicing_plugin.testing.stripe_emulator.errors import StripeError
from invoicing_plugin.testing.stripe_emulator.params import decode_form, schema_for, validate


def test_decodes_nested_dicts_and_indexed_lists():
    pairs = [
        ("line_items[0][price_data][currency]", "eur"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price_data][currency]", "eur"),
        ("metadata[invoice]", "INV-1"),
        ("expand[]", "payment_intent"),
        ("expand[]", "line_items"),
    ]
    assert decode_form(pairs) == {
        "line_items": [
            {"price_data": {"currency": "eur"}, "quantity": "2"},
            {"price_data": {"currency": "eur"}},
        ],
        "metadata": {"invoice": "INV-1"},
        "expand": ["payment_intent", "line_items"],
    }


def test_sparse_numeric_keys_stay_a_dict():
    assert decode_form([("metadata[5]", "x")]) == {"metadata": {"5": "x"}}


def test_conflicting_shapes_are_rejected():
    with pytest.raises(StripeError) as info:
        decode_form([("a", "1"), ("a[b]", "2")])
    assert info.value.status == 400


scalars = st.text(alphabet="abcXYZ019 -_.", min_size=1, max_size=8)
keys = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3),
        st.dictionaries(keys, children, min_size=1, max_size=3),
    ),
    max_leaves=12,
)


@given(st.dictionaries(keys, values, min_size=1, max_size=4))
def test_decoding_inverts_the_sdk_encoder(data):
    """Whatever the SDK encodes, the emulator decodes back to the same data."""
    assert decode_form(list(_api_encode(data))) == data


def test_schema_comes_from_sdk_classes():
    schema = schema_for("checkout.SessionCreateParams")
    assert {"mode", "line_items", "payment_intent_data", "success_url", "expand"} <= set(schema.fields)
    line_item = schema.fields["line_items"].item
    assert "currency" in line_item.fields["price_data"].required
    transfer = schema.fields["payment_intent_data"].fields["transfer_data"]
    assert transfer.required == frozenset({"destination"})
    # request options are headers, never parameters
    assert not {"api_key", "stripe_account", "idempotency_key"} & set(schema.fields)


def test_unknown_nested_parameter_reports_full_bracket_name():
    with pytest.raises(StripeError) as info:
        validate({"payment_intent_data": {"foo": "1"}}, "checkout.SessionCreateParams")
    body = info.value.body()["error"]
    assert body["code"] == "parameter_unknown"
    assert body["param"] == "payment_intent_data[foo]"
    assert body["message"] == "Received unknown parameter: payment_intent_data[foo]"


def test_missing_required_nested_parameter():
    with pytest.raises(StripeError) as info:
        validate({"line_items": [{"price_data": {"unit_amount": "5"}}]},
                 "checkout.SessionCreateParams")
    assert info.value.code == "parameter_missing"
    assert info.value.param == "line_items[0][price_data][currency]"


def test_coerces_integers_booleans_and_keeps_metadata_free_form():
    params = validate(
        {"delivery_success": "false", "created": {"gte": "10"}, "limit": "3"}, "EventListParams")
    assert params == {"delivery_success": False, "created": {"gte": 10}, "limit": 3}
    meta = validate({"metadata": {"anything": "x", "0": "y"}}, "RefundCreateParams")
    assert meta["metadata"] == {"anything": "x", "0": "y"}


def test_invalid_integer():
    with pytest.raises(StripeError) as info:
        validate({"amount": "12x"}, "RefundCreateParams")
    assert (info.value.code, info.value.param) == ("parameter_invalid_integer", "amount")


def test_literal_enums_from_sdk_are_enforced():
    with pytest.raises(StripeError) as info:
        validate({"url": "http://x", "enabled_events": ["not.an.event"]},
                 "WebhookEndpointCreateParams")
    assert info.value.param == "enabled_events[0]"
