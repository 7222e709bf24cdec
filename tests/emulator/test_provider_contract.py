"""The payment-provider port's contract, run against the fake and the real Stripe gateway.

The same checks run against :class:`~invoicing_plugin.testing.fake_provider.FakeProviders`
and :class:`~invoicing_plugin.gateways.stripe_gateway.GatewayRegistry` pointed at the
project's Stripe emulator (which follows Stripe's documentation), so the fake the fast
tests use cannot drift from what the Stripe gateway really answers. A ``Driver`` plays the
client and the provider's back office (pay a checkout, finish onboarding) for each.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from invoicing_plugin.gateways.stripe_gateway import GatewayError, GatewayRegistry
from invoicing_plugin.services.ports import (
    AccountStatus,
    CheckoutReference,
    CheckoutRequest,
    CheckoutSession,
    PaymentProvider,
    PaymentProviders,
    Refund,
)
from invoicing_plugin.testing.fake_provider import FakeProviders


@dataclass
class Driver:
    providers: PaymentProviders
    pay: Callable[[str, str], Any]  # (checkout id, outcome: succeeded | declined | delayed)
    complete_onboarding: Callable[[str], Any]
    settle: Callable[[str, bool], Any]  # (checkout id, succeeded): a delayed payment settles

    def platform(self) -> PaymentProvider:
        return self.providers.for_key("sk_test_" + secrets.token_hex(12))


@pytest.fixture(params=["fake", "stripe"])
def driver(request) -> Driver:
    if request.param == "fake":
        providers = FakeProviders()

        def owner_of(session_id):
            return next(p for p in providers._providers.values() if session_id in p._checkouts)

        return Driver(providers, lambda sid, outcome: owner_of(sid).pay(sid, outcome),
                      lambda account_id: next(iter(providers._providers.values())).complete_onboarding(account_id),
                      lambda sid, succeeded: owner_of(sid).settle(sid, succeeded))
    emulator = request.getfixturevalue("stripe_emulator")
    providers = GatewayRegistry(api_base=emulator.url, timeout=10, max_network_retries=0)
    return Driver(providers, lambda sid, outcome: emulator.control.pay_session(sid, outcome),
                  emulator.control.complete_onboarding, emulator.control.settle_async)


def _request(**changes) -> CheckoutRequest:
    values: dict[str, Any] = dict(
        amount_minor=125_000, currency="GBP", title="Invoice INV-0007", description="Penetration test",
        customer_email="billing@globex.test", success_url="https://app.test/pay/tok/success",
        cancel_url="https://app.test/pay/tok?cancelled=1", expires_at=int(time.time()) + 3600,
        reference=CheckoutReference(invoice_id=7, workspace_id="42", invoice_number="INV-0007"),
    )
    values.update(changes)
    return CheckoutRequest(**values)


def _connected_account(driver: Driver, platform: PaymentProvider) -> AccountStatus:
    account = platform.create_connected_account(workspace_id="42", email=None, idempotency_key=secrets.token_hex(8))
    driver.complete_onboarding(account.id)
    return platform.retrieve_account(account.id)


def test_both_implement_the_port(driver):
    assert isinstance(driver.providers, PaymentProviders)
    assert isinstance(driver.platform(), PaymentProvider)
    with pytest.raises(GatewayError) as refused:
        driver.providers.for_key("")
    assert refused.value.kind == "auth"


def test_a_checkout_is_opened_as_asked_and_carries_our_reference(driver):
    provider = driver.platform()
    request = _request()
    session = provider.create_checkout(request, idempotency_key="k-1")
    assert isinstance(session, CheckoutSession)
    assert (session.status, session.payment_status, session.amount_total, session.currency) == (
        "open", "unpaid", 125_000, "GBP")
    assert session.url and session.payment_id is None and session.expires_at == request.expires_at
    assert dict(session.metadata) == {"invoice_id": "7", "workspace_id": "42", "invoice_number": "INV-0007"}
    assert session.livemode is False
    assert provider.retrieve_checkout_session(session.id) == session


def test_an_idempotency_key_answers_the_same_checkout_or_refuses_another_request(driver):
    provider = driver.platform()
    request = _request()
    first = provider.create_checkout(request, idempotency_key="k-2")
    assert provider.create_checkout(request, idempotency_key="k-2").id == first.id
    with pytest.raises(GatewayError) as refused:
        provider.create_checkout(_request(amount_minor=99, expires_at=request.expires_at), idempotency_key="k-2")
    assert refused.value.kind == "idempotency" and not refused.value.retryable
    assert provider.create_checkout(request, idempotency_key="k-3").id != first.id


def test_expiring_closes_an_open_checkout_and_answers_a_closed_one_as_it_is(driver):
    provider = driver.platform()
    session = provider.create_checkout(_request(), idempotency_key="k-4")
    expired = provider.expire_checkout_session(session.id)
    assert (expired.id, expired.status, expired.payment_status) == (session.id, "expired", "unpaid")
    assert provider.expire_checkout_session(session.id).status == "expired"
    assert provider.retrieve_checkout_session(session.id).status == "expired"

    paid = provider.create_checkout(_request(), idempotency_key="k-5")
    driver.pay(paid.id, "succeeded")
    after = provider.expire_checkout_session(paid.id)
    assert (after.status, after.payment_status) == ("complete", "paid")


def test_an_unknown_checkout_is_an_invalid_request(driver):
    provider = driver.platform()
    with pytest.raises(GatewayError) as refused:
        provider.retrieve_checkout_session("cs_test_doesnotexist000")
    assert refused.value.kind == "invalid_request" and refused.value.code == "resource_missing"


@pytest.mark.parametrize("outcome, status, payment_status, payment", [
    ("succeeded", "complete", "paid", "succeeded"),
    ("delayed", "complete", "unpaid", "pending"),
])
def test_a_paid_checkout_names_its_payment(driver, outcome, status, payment_status, payment):
    provider = driver.platform()
    session = provider.create_checkout(_request(), idempotency_key="k-6")
    driver.pay(session.id, outcome)
    now = provider.retrieve_checkout_session(session.id)
    assert (now.status, now.payment_status) == (status, payment_status)
    assert now.payment_id and now.payment_intent == now.payment_id
    assert provider.checkout_session_id_for_payment_intent(now.payment_id) == session.id
    state = provider.retrieve_payment(now.payment_id)
    assert (state.id, state.status, state.succeeded, state.failed) == (
        now.payment_id, payment, payment == "succeeded", False)


@pytest.mark.parametrize("succeeded, payment_status, payment", [(True, "paid", "succeeded"),
                                                                (False, "unpaid", "failed")])
def test_a_delayed_payment_settles(driver, succeeded, payment_status, payment):
    provider = driver.platform()
    session = provider.create_checkout(_request(), idempotency_key="k-10")
    driver.pay(session.id, "delayed")
    driver.settle(session.id, succeeded)
    now = provider.retrieve_checkout_session(session.id)
    assert (now.status, now.payment_status) == ("complete", payment_status)
    assert provider.retrieve_payment(now.payment_id).status == payment


def test_a_declined_card_leaves_the_checkout_open(driver):
    provider = driver.platform()
    session = provider.create_checkout(_request(), idempotency_key="k-7")
    driver.pay(session.id, "declined")
    again = provider.retrieve_checkout_session(session.id)
    assert (again.status, again.payment_status, again.payment_id) == ("open", "unpaid", None)


def test_refunds_give_back_part_then_the_rest_and_never_more(driver):
    provider = driver.platform()
    session = provider.create_checkout(_request(amount_minor=10_000), idempotency_key="k-8")
    driver.pay(session.id, "succeeded")
    payment = provider.retrieve_checkout_session(session.id).payment_id

    part = provider.refund(payment, amount_minor=2_500, idempotency_key="r-1")
    assert isinstance(part, Refund)
    assert (part.payment_id, part.amount_minor, part.currency, part.status) == (payment, 2_500, "GBP", "succeeded")
    assert provider.refund(payment, amount_minor=2_500, idempotency_key="r-1").id == part.id  # a retry
    with pytest.raises(GatewayError) as refused:
        provider.refund(payment, amount_minor=9_000, idempotency_key="r-2")
    assert refused.value.kind == "invalid_request"
    rest = provider.refund(payment, amount_minor=None, idempotency_key="r-3")
    assert (rest.amount_minor, rest.status) == (7_500, "succeeded") and rest.id != part.id
    assert provider.refunded_amount(payment) == 10_000


def test_a_refund_carries_stripes_reason_and_our_metadata_and_refuses_other_reasons(driver):
    """https://docs.stripe.com/api/refunds/create: ``reason`` is one of duplicate, fraudulent,
    requested_by_customer; the same key with other parameters is not the same request."""
    provider = driver.platform()
    session = provider.create_checkout(_request(amount_minor=10_000), idempotency_key="k-9")
    driver.pay(session.id, "succeeded")
    payment = provider.retrieve_checkout_session(session.id).payment_id
    with pytest.raises(GatewayError) as refused:
        provider.refund(payment, amount_minor=1_000, idempotency_key="r-9", reason="changed_mind")
    assert refused.value.kind == "invalid_request"
    refund = provider.refund(payment, amount_minor=1_000, idempotency_key="r-10", reason="requested_by_customer",
                             metadata={"invoice_id": "7", "note": "scope cancelled"})
    assert (refund.amount_minor, refund.status) == (1_000, "succeeded")
    again = provider.refund(payment, amount_minor=1_000, idempotency_key="r-10", reason="requested_by_customer",
                            metadata={"invoice_id": "7", "note": "scope cancelled"})
    assert again.id == refund.id


def test_a_connected_account_is_onboarded_and_described_in_words(driver):
    platform = driver.platform()
    account = platform.create_connected_account(workspace_id="42", email=None, idempotency_key="a-1")
    assert isinstance(account, AccountStatus)
    assert account.id.startswith("acct_") and not account.charges_enabled and not account.details_submitted
    assert platform.create_connected_account(workspace_id="42", email=None, idempotency_key="a-1").id == account.id
    assert account.due and all(item.code and item.label for item in account.due)
    assert account.disabled_reason and not account.blocked_by_provider
    assert driver.providers.requirement_labels(account.requirements)
    assert driver.providers.disabled_reason_label(account.disabled_reason)
    assert platform.create_onboarding_link(account.id, refresh_url="https://app.test/r",
                                           return_url="https://app.test/b").startswith("http")

    driver.complete_onboarding(account.id)
    ready = platform.retrieve_account(account.id)
    assert (ready.id, ready.charges_enabled, ready.payouts_enabled, ready.details_submitted) == (
        account.id, True, True, True)
    assert ready.due == () and ready.disabled_reason is None and not ready.blocked_by_provider
    assert driver.providers.requirement_labels(ready.requirements) == ()
    assert driver.providers.disabled_reason_label(ready.disabled_reason) is None
    assert platform.create_login_link(account.id).startswith("http")


def test_a_destination_checkout_pays_the_connected_account(driver):
    platform = driver.platform()
    account = _connected_account(driver, platform)
    request = _request(destination_account=account.id, application_fee_minor=1_250)
    session = platform.create_checkout(request, idempotency_key="k-9")
    assert (session.status, session.amount_total) == ("open", 125_000)
    driver.pay(session.id, "succeeded")
    assert platform.retrieve_checkout_session(session.id).payment_status == "paid"


def test_an_own_key_proves_itself_and_manages_its_webhook_endpoint(driver):
    provider = driver.platform()
    own = provider.retrieve_own_account()
    assert own.id.startswith("acct_") and provider.retrieve_own_account().id == own.id
    assert provider.livemode is False
    endpoint = provider.create_webhook_endpoint(url="https://app.test/hook", events=["checkout.session.completed"],
                                                metadata={"workspace_id": "42"})
    assert endpoint.id and endpoint.secret and endpoint.url == "https://app.test/hook"
    provider.delete_webhook_endpoint(endpoint.id)
    provider.delete_webhook_endpoint(endpoint.id)  # already gone is what was wanted
    assert isinstance(provider.list_undelivered_events(), list)


def test_the_request_refuses_what_no_provider_could_take():
    for bad in (dict(amount_minor=0), dict(amount_minor=12.5), dict(amount_minor=True), dict(currency="pounds"),
                dict(destination_account="acct_1"), dict(application_fee_minor=5),
                dict(destination_account="acct_1", application_fee_minor=200_000),
                dict(expires_at=1.5)):
        with pytest.raises((TypeError, ValueError)):
            _request(**bad)
