"""The payment use cases against the fake provider (no app, no HTTP): the port is all they need."""

from __future__ import annotations

import time

import pytest

from invoicing_plugin.domain.invoice import Action
from invoicing_plugin.gateways import stripe_const
from invoicing_plugin.services.payment_sync import _action_from_stripe
from invoicing_plugin.services.ports import CheckoutReference, CheckoutRequest
from invoicing_plugin.testing.fake_provider import FakeProviders


def _request(**changes) -> CheckoutRequest:
    values = dict(
        amount_minor=48_000, currency="EUR", title="Invoice INV-0003", description="Retest",
        customer_email="billing@globex.test", success_url="https://app.test/pay/t/success",
        cancel_url="https://app.test/pay/t?cancelled=1", expires_at=int(time.time()) + 3600,
        reference=CheckoutReference(invoice_id=3, workspace_id="9", invoice_number="INV-0003"),
    )
    values.update(changes)
    return CheckoutRequest(**values)


@pytest.fixture
def provider():
    return FakeProviders().for_key("sk_test_unit")


@pytest.mark.parametrize("settles, action", [(None, Action.PAYMENT_STARTED), (True, Action.PAYMENT_SUCCEEDED),
                                             (False, Action.PAYMENT_FAILED)])
def test_sync_asks_the_payment_what_a_complete_unpaid_checkout_means(provider, settles, action):
    session = provider.create_checkout(_request(), idempotency_key="k")
    provider.pay(session.id, "delayed")
    if settles is not None:
        payment = provider.retrieve_checkout_session(session.id).payment_id
        provider._payments[payment].status = "succeeded" if settles else "failed"  # session not yet updated
    now = provider.retrieve_checkout_session(session.id)
    assert (now.status, now.payment_status) == ("complete", "unpaid")
    assert _action_from_stripe(provider, now) is action


def test_sync_does_not_ask_about_an_open_or_paid_checkout(provider):
    session = provider.create_checkout(_request(), idempotency_key="k")
    assert _action_from_stripe(provider, session) is None
    paid = provider.pay(session.id, "succeeded")
    provider.calls.clear()
    assert _action_from_stripe(provider, paid) is Action.PAYMENT_SUCCEEDED
    assert provider.calls == []  # the checkout alone said it


def test_the_stripe_parameters_of_a_destination_checkout():
    params = stripe_const.checkout_session_params(
        _request(destination_account="acct_1", application_fee_minor=960, description="x" * 1500))
    assert params["payment_intent_data"] == {
        "metadata": {"invoice_id": "3", "workspace_id": "9", "invoice_number": "INV-0003"},
        "description": "Invoice INV-0003", "application_fee_amount": 960, "transfer_data": {"destination": "acct_1"},
    }
    assert params["line_items"][0]["price_data"]["currency"] == "eur"
    assert len(params["line_items"][0]["price_data"]["product_data"]["description"]) == 1000
    assert params["success_url"] == "https://app.test/pay/t/success?session_id={CHECKOUT_SESSION_ID}"
    own = stripe_const.checkout_session_params(_request())
    assert set(own["payment_intent_data"]) == {"metadata", "description"}
