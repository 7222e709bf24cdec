"""An in-memory payment provider: the port (:mod:`invoicing_plugin.services.ports`) without HTTP.

For fast tests of the use cases (``tests/unit/services/``): :class:`FakeProviders` stands
in for the Stripe gateway registry (``InvoicingState.gateways``), :class:`FakeProvider`
for one key's gateway. It answers as the port documents, and
``tests/emulator/test_provider_contract.py`` runs the same checks against it and the real
Stripe gateway pointed at the emulator, so the two cannot drift apart.

What the client and the provider's back office do is driven by the test:
:meth:`FakeProvider.pay` (the client pays a checkout, a delayed payment starts, or the card is
declined), :meth:`FakeProvider.complete_onboarding`. Every call is kept in
:attr:`FakeProvider.calls` as ``(operation, arguments)``.

Failures are :class:`~invoicing_plugin.gateways.stripe_gateway.GatewayError`, the port's
error, with the kinds the Stripe gateway gives: ``invalid_request`` (unknown id, a refund
larger than what is left), ``idempotency`` (a key reused with another request), ``auth``
(an empty key).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from ..gateways.stripe_gateway import GatewayError
from ..services.ports import (
    AccountStatus,
    CheckoutRequest,
    CheckoutSession,
    PaymentState,
    ProviderEvent,
    Refund,
    Requirement,
    WebhookEndpoint,
)

__all__ = ["FakeProvider", "FakeProviders"]

#: What a new connected account must still provide, in the fake's words.
ONBOARDING_REQUIREMENTS = (("bank_account", "Bank account for payouts"), ("identity", "Identity of the owner"))
#: The fake's disabled reasons, in words.
DISABLED_REASONS = {"missing_information": "The provider needs more information before this account can take "
                                           "payments."}


@dataclass
class _World:
    """What every key of one fake provider shares (accounts, ids, the clock)."""

    clock: Callable[[], float]
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    accounts: dict[str, AccountStatus] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self.ids):06d}"

    def now(self) -> int:
        return int(self.clock())


@dataclass
class _Checkout:
    request: CheckoutRequest
    session: CheckoutSession


@dataclass
class _Payment:
    id: str
    amount_minor: int
    currency: str
    status: str  # succeeded | failed | pending
    refunded_minor: int = 0


class FakeProvider:
    """One key's view of the fake provider (the port's :class:`PaymentProvider`)."""

    def __init__(self, api_key: str, *, world: _World | None = None, url: str = "https://pay.fake.test") -> None:
        if not api_key:
            raise GatewayError("No Stripe API key is configured.", kind="auth")
        self.api_key = api_key
        self.livemode = "_live_" in api_key
        self.url = url.rstrip("/")
        self._world = world or _World(clock=time.time)
        self.account_id = self._world.new_id("acct")
        self._checkouts: dict[str, _Checkout] = {}
        self._idempotency: dict[str, tuple[str, Any, Any]] = {}
        self._payments: dict[str, _Payment] = {}
        self._refunds: dict[str, Refund] = {}
        self._endpoints: dict[str, WebhookEndpoint] = {}
        self.events: list[ProviderEvent] = []
        self.calls: list[tuple[str, tuple]] = []

    # -- helpers ----------------------------------------------------------------------------
    def _log(self, operation: str, *args: Any) -> None:
        self.calls.append((operation, args))

    @staticmethod
    def _missing(what: str, object_id: str) -> GatewayError:
        return GatewayError(f"Stripe refused the request: No such {what}: '{object_id}'", kind="invalid_request",
                            code="resource_missing")

    def _idempotent(self, operation: str, key: str, request: Any, make: Callable[[], Any]) -> Any:
        seen = self._idempotency.get(key)
        if seen is not None:
            if seen[0] != operation or seen[1] != request:
                raise GatewayError("Stripe saw a conflicting retry of this request.", kind="idempotency",
                                   code="idempotency_key_in_use")
            return seen[2]
        answer = make()
        self._idempotency[key] = (operation, request, answer)
        return answer

    def _checkout(self, session_id: str) -> _Checkout:
        checkout = self._checkouts.get(session_id)
        if checkout is None:
            raise self._missing("checkout.session", session_id)
        if checkout.session.status == "open" and checkout.session.expires_at <= self._world.now():
            checkout.session = replace(checkout.session, status="expired", url=None)
        return checkout

    # -- Checkout ---------------------------------------------------------------------------
    def create_checkout(self, request: CheckoutRequest, *, idempotency_key: str) -> CheckoutSession:
        self._log("create_checkout", request, idempotency_key)
        if not isinstance(request, CheckoutRequest):
            raise TypeError("create_checkout takes a CheckoutRequest")
        with self._world.lock:
            if request.destination_account is not None:
                account = self._world.accounts.get(request.destination_account)
                if account is None or not account.charges_enabled:
                    raise GatewayError("Stripe refused the request: the destination account cannot take payments.",
                                       kind="invalid_request", param="destination_account")
            expires_at = request.expires_at
            if expires_at is None:  # the provider's longest lifetime: 24 hours, as Stripe's default
                expires_at = self._world.now() + 24 * 3600
            if expires_at <= self._world.now():
                raise GatewayError("Stripe refused the request: expires_at must be in the future.",
                                   kind="invalid_request", param="expires_at")

            def make() -> CheckoutSession:
                session_id = self._world.new_id("cs")
                session = CheckoutSession(
                    id=session_id, url=f"{self.url}/c/pay/{session_id}", status="open", payment_status="unpaid",
                    amount_total=request.amount_minor, currency=request.currency.upper(), payment_intent=None,
                    expires_at=expires_at, metadata=request.reference.metadata(), livemode=self.livemode,
                )
                self._checkouts[session_id] = _Checkout(request, session)
                return session

            return self._idempotent("create_checkout", idempotency_key, request, make)

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        self._log("retrieve_checkout_session", session_id)
        with self._world.lock:
            return self._checkout(session_id).session

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        self._log("expire_checkout_session", session_id)
        with self._world.lock:
            checkout = self._checkout(session_id)
            if checkout.session.status == "open":
                checkout.session = replace(checkout.session, status="expired", url=None)
            return checkout.session

    def checkout_session_id_for_payment_intent(self, payment_intent_id: str) -> str | None:
        self._log("checkout_session_id_for_payment_intent", payment_intent_id)
        with self._world.lock:
            for session_id, checkout in self._checkouts.items():
                if checkout.session.payment_intent == payment_intent_id:
                    return session_id
            return None

    # -- payments and refunds ---------------------------------------------------------------
    def retrieve_payment(self, payment_id: str) -> PaymentState:
        self._log("retrieve_payment", payment_id)
        with self._world.lock:
            payment = self._payments.get(payment_id)
            if payment is None:
                raise self._missing("payment_intent", payment_id)
            return PaymentState(id=payment.id, status=payment.status)

    def refunded_amount(self, payment_id: str) -> int:
        self._log("refunded_amount", payment_id)
        with self._world.lock:
            payment = self._payments.get(payment_id)
            if payment is None:
                raise self._missing("payment_intent", payment_id)
            return payment.refunded_minor

    def refund(self, payment_id: str, *, amount_minor: int | None, idempotency_key: str, reason: str | None = None,
               metadata: Mapping[str, str] | None = None, destination_charge: bool = False) -> Refund:
        self._log("refund", payment_id, amount_minor, idempotency_key)
        if reason is not None and reason not in ("duplicate", "fraudulent", "requested_by_customer"):
            raise GatewayError(f"Stripe refused the request: Invalid reason: {reason}.", kind="invalid_request",
                               param="reason")
        with self._world.lock:
            payment = self._payments.get(payment_id)
            if payment is None:
                raise self._missing("payment_intent", payment_id)

            def make() -> Refund:
                if payment.status != "succeeded":
                    raise GatewayError("Stripe refused the request: the payment has not succeeded.",
                                       kind="invalid_request")
                left = payment.amount_minor - payment.refunded_minor
                amount = left if amount_minor is None else amount_minor
                if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0 or amount > left:
                    raise GatewayError("Stripe refused the request: the refund is larger than what is left.",
                                       kind="invalid_request", param="amount")
                payment.refunded_minor += amount
                refund = Refund(id=self._world.new_id("re"), payment_id=payment.id, amount_minor=amount,
                                currency=payment.currency, status="succeeded")
                self._refunds[refund.id] = refund
                return refund

            return self._idempotent("refund", idempotency_key,
                                    (payment_id, amount_minor, reason, tuple(sorted((metadata or {}).items())),
                                     destination_charge), make)

    # -- connected accounts -----------------------------------------------------------------
    def create_connected_account(self, *, workspace_id: str, email: str | None, idempotency_key: str,
                                 country: str | None = None) -> AccountStatus:
        self._log("create_connected_account", workspace_id, email, idempotency_key)
        with self._world.lock:
            def make() -> AccountStatus:
                due = tuple(Requirement(code, label) for code, label in ONBOARDING_REQUIREMENTS)
                account = AccountStatus(
                    id=self._world.new_id("acct"), charges_enabled=False, payouts_enabled=False,
                    details_submitted=False, livemode=self.livemode, due=due,
                    disabled_reason="missing_information", blocked_by_provider=False,
                    requirements={"due": [item.code for item in due]},
                )
                self._world.accounts[account.id] = account
                return account

            made = self._idempotent("create_connected_account", idempotency_key, (workspace_id, email, country), make)
            return self._world.accounts[made.id]

    create_express_account = create_connected_account

    def retrieve_account(self, account_id: str) -> AccountStatus:
        self._log("retrieve_account", account_id)
        with self._world.lock:
            account = self._world.accounts.get(account_id)
            if account is None:
                raise self._missing("account", account_id)
            return account

    def retrieve_own_account(self) -> AccountStatus:
        self._log("retrieve_own_account")
        with self._world.lock:
            account = self._world.accounts.get(self.account_id)
            if account is None:
                account = self._world.accounts[self.account_id] = AccountStatus(
                    id=self.account_id, charges_enabled=True, payouts_enabled=True, details_submitted=True,
                    livemode=self.livemode)
            return account

    def create_onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        self._log("create_onboarding_link", account_id, refresh_url, return_url)
        self.retrieve_account(account_id)
        return f"{self.url}/setup/{account_id}/{self._world.new_id('link')}"

    def create_login_link(self, account_id: str) -> str:
        self._log("create_login_link", account_id)
        account = self.retrieve_account(account_id)
        if not account.details_submitted:
            raise GatewayError("Stripe refused the request: the account has not finished onboarding.",
                               kind="invalid_request")
        return f"{self.url}/express/{account_id}/{self._world.new_id('login')}"

    # -- webhook endpoints and events -------------------------------------------------------
    def create_webhook_endpoint(self, *, url: str, events: list[str], metadata: Mapping[str, str]) -> WebhookEndpoint:
        self._log("create_webhook_endpoint", url, tuple(events), dict(metadata))
        endpoint = WebhookEndpoint(id=self._world.new_id("we"), secret=self._world.new_id("whsec"), url=url)
        self._endpoints[endpoint.id] = endpoint
        return endpoint

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        self._log("delete_webhook_endpoint", endpoint_id)
        self._endpoints.pop(endpoint_id, None)

    def list_undelivered_events(self, *, created_gte: int | None = None, limit: int = 100,
                                account: str | None = None) -> list[ProviderEvent]:
        self._log("list_undelivered_events", created_gte, limit)
        found = [e for e in self.events
                 if (created_gte is None or e.created >= created_gte) and e.account == account]
        return sorted(found, key=lambda e: e.created, reverse=True)  # every page

    # -- what the client and the provider's back office do (test drivers) -------------------
    def pay(self, session_id: str, outcome: str = "succeeded") -> CheckoutSession:
        """The client pays the open checkout, as the emulator's ``pay_session``: ``succeeded``
        (paid), ``delayed`` (a delayed method: complete, unpaid, payment pending) or
        ``declined`` (the checkout stays open for another try)."""
        statuses = {"succeeded": "succeeded", "delayed": "pending", "declined": "failed"}
        if outcome not in statuses:
            raise ValueError(f"Unknown outcome {outcome!r}: use succeeded, declined or delayed.")
        with self._world.lock:
            checkout = self._checkout(session_id)
            if checkout.session.status != "open":
                raise GatewayError("The checkout is not open.", kind="invalid_request")
            request = checkout.request
            payment = _Payment(id=self._world.new_id("pi"), amount_minor=request.amount_minor,
                               currency=request.currency.upper(),
                               status=statuses[outcome])
            if payment.status == "failed":
                return checkout.session
            self._payments[payment.id] = payment
            checkout.session = replace(
                checkout.session, status="complete", url=None, payment_intent=payment.id,
                payment_status="paid" if payment.status == "succeeded" else "unpaid",
            )
            return checkout.session

    def settle(self, session_id: str, succeeded: bool = True) -> CheckoutSession:
        """A delayed payment of the checkout settles (the emulator's ``settle_async``)."""
        with self._world.lock:
            checkout = self._checkout(session_id)
            payment = self._payments.get(checkout.session.payment_intent or "")
            if payment is None or payment.status != "pending":
                raise GatewayError("The checkout has no pending payment.", kind="invalid_request")
            payment.status = "succeeded" if succeeded else "failed"
            if succeeded:
                checkout.session = replace(checkout.session, payment_status="paid")
            return checkout.session

    def complete_onboarding(self, account_id: str) -> AccountStatus:
        """The owner finished onboarding: the account can take payments."""
        with self._world.lock:
            account = self._world.accounts.get(account_id)
            if account is None:
                raise self._missing("account", account_id)
            account = self._world.accounts[account_id] = replace(
                account, charges_enabled=True, payouts_enabled=True, details_submitted=True, due=(),
                disabled_reason=None, requirements={"due": []})
            return account


class FakeProviders:
    """The fake provider as a whole (the port's :class:`PaymentProviders`): one
    :class:`FakeProvider` per key, sharing connected accounts and the clock."""

    def __init__(self, *, clock: Callable[[], float] = time.time, url: str = "https://pay.fake.test") -> None:
        self._world = _World(clock=clock)
        self._url = url
        self._providers: dict[str, FakeProvider] = {}

    def for_key(self, api_key: str) -> FakeProvider:
        with self._world.lock:
            provider = self._providers.get(api_key)
            if provider is None:
                provider = self._providers[api_key] = FakeProvider(api_key, world=self._world, url=self._url)
            return provider

    @staticmethod
    def requirement_labels(requirements: Mapping[str, Any] | None) -> tuple[str, ...]:
        labels = dict(ONBOARDING_REQUIREMENTS)
        names = list((requirements or {}).get("due") or [])
        return tuple(dict.fromkeys(labels.get(name, name) for name in names))

    @staticmethod
    def disabled_reason_label(reason: str | None) -> str | None:
        if not reason:
            return None
        return DISABLED_REASONS.get(reason, reason)
