"""The payment-provider port: what the use cases need from a payment provider, in their words.

Services and webhooks talk to a payment provider only through :class:`PaymentProvider`
(one API key's view of the provider: Checkout, payments, refunds, connected accounts,
webhook endpoints, undelivered events) and :class:`PaymentProviders` (the provider as a
whole: one :class:`PaymentProvider` per key, and what the provider's own codes stored
on a connection mean in words). They hand it the frozen value types below and get
frozen value types back, never a provider's objects, parameter names or status codes.

Implementations:

* :class:`~invoicing_plugin.gateways.stripe_gateway.StripeGateway` and
  :class:`~invoicing_plugin.gateways.stripe_gateway.GatewayRegistry` (Stripe; its
  parameters, status mappings and labels live beside it in
  :mod:`invoicing_plugin.gateways.stripe_const`);
* ``FakeProvider`` and ``FakeProviders`` in the package's ``testing/fake_provider.py``
  (in memory, for fast tests; production code never imports them). ``tests/emulator/test_provider_contract.py`` runs the same checks against both.

Failures: every operation raises
:class:`~invoicing_plugin.gateways.stripe_gateway.GatewayError` (an
:class:`~invoicing_plugin.domain.errors.InvoicingError` whose ``message`` staff may read,
``kind`` one of ``auth``, ``permission``, ``rate_limit``, ``network``,
``invalid_request``, ``idempotency``, ``card``, ``api``, ``malformed``; ``retryable``
for ``network``, ``rate_limit`` and ``api``). The class keeps its historical home in the
Stripe gateway module (its qualified name is part of the error-root contract).

Money is integer minor units everywhere; currencies are ISO 4217 codes in upper case;
timestamps are integer Unix seconds.

This module imports nothing of the package but the domain, and nothing of Flask or a
provider's SDK, so any layer may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Protocol, runtime_checkable

__all__ = [
    "AccountStatus",
    "CheckoutReference",
    "CheckoutRequest",
    "CheckoutSession",
    "PaymentProvider",
    "PaymentProviders",
    "PaymentState",
    "ProviderEvent",
    "Refund",
    "Requirement",
    "WebhookEndpoint",
]

# -- Checkout -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutReference:
    """Our ids a checkout carries, so the provider's news about it can be checked against
    the invoice it was made for (:mod:`.payment_binding` compares them)."""

    invoice_id: int
    workspace_id: str
    invoice_number: str

    def metadata(self) -> dict[str, str]:
        """The reference as the string map a checkout and its payment carry (``invoice_id``,
        ``workspace_id``, ``invoice_number``: our names, read back by the webhook side)."""
        return {
            "invoice_id": str(self.invoice_id),
            "workspace_id": str(self.workspace_id),
            "invoice_number": self.invoice_number,
        }


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class CheckoutRequest:
    """A hosted payment page for one amount: what the client pays, where they return.

    ``amount_minor`` (> 0) in ``currency``'s minor units; ``title`` is what the client
    pays for (the page's line and the payment's description, e.g. ``"Invoice INV-0001"``),
    ``description`` the longer text (a provider may shorten it to its limit).
    ``success_url`` is where the client lands after paying (the provider may add its own
    reference to the checkout); ``cancel_url`` where "back" leads. ``expires_at``: the
    page stops taking payments then (Unix seconds); ``None`` for the provider's longest
    lifetime (Stripe: 24 hours after creation, on its own clock).

    ``destination_account``: the money is for this connected account (the provider
    transfers it there) and ``application_fee_minor`` (0 to the amount) stays with the
    platform; both or neither. Without them the payment stays on the key's own account.

    Raises ``TypeError``/``ValueError`` for a request no provider could take (a
    programming error, never a staff input: amounts are validated before).
    """

    amount_minor: int
    currency: str
    title: str
    description: str
    customer_email: str | None
    success_url: str
    cancel_url: str
    expires_at: int | None
    reference: CheckoutReference
    destination_account: str | None = None
    application_fee_minor: int | None = None

    def __post_init__(self) -> None:
        if not _is_int(self.amount_minor) or self.amount_minor <= 0:
            raise ValueError(f"amount_minor must be a positive integer (minor units), not {self.amount_minor!r}")
        if not isinstance(self.currency, str) or len(self.currency) != 3 or not self.currency.isalpha():
            raise ValueError(f"currency must be a three-letter ISO code, not {self.currency!r}")
        if self.expires_at is not None and not _is_int(self.expires_at):
            raise TypeError("expires_at must be integer Unix seconds or None")
        if (self.destination_account is None) != (self.application_fee_minor is None):
            raise ValueError("destination_account and application_fee_minor go together")
        if self.application_fee_minor is not None and (
            not _is_int(self.application_fee_minor) or not 0 <= self.application_fee_minor <= self.amount_minor
        ):
            raise ValueError("application_fee_minor must be an integer from 0 to the amount")

    @property
    def takes_application_fee(self) -> bool:
        return self.destination_account is not None


#: A checkout's own state: ``open`` (can be paid), ``complete`` (the client finished it;
#: see ``payment_status``), ``expired`` (can no longer be paid).
CheckoutStatus = Literal["open", "complete", "expired"]
#: Whether the money of a checkout arrived: ``paid``, ``unpaid`` (none yet, or a delayed
#: method still settling), ``no_payment_required``.
CheckoutPaymentStatus = Literal["paid", "unpaid", "no_payment_required"]


@dataclass(frozen=True)
class CheckoutSession:
    """A checkout as the provider has it now.

    ``status`` is a :data:`CheckoutStatus`, ``payment_status`` a
    :data:`CheckoutPaymentStatus`; ``amount_total`` in minor units of ``currency``
    (upper case); ``payment_intent`` the provider's id of the payment the checkout made
    (``None`` until there is one); ``expires_at`` Unix seconds; ``metadata`` the
    reference's map (:meth:`CheckoutReference.metadata`) as the provider returned it.
    """

    id: str
    url: str | None
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    amount_total: int | None
    currency: str | None
    payment_intent: str | None
    expires_at: int | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    livemode: bool = False

    @property
    def payment_id(self) -> str | None:
        """The provider's id of the payment this checkout made (alias of ``payment_intent``)."""
        return self.payment_intent


# -- payments and refunds -------------------------------------------------------------------

#: A payment's outcome as far as an invoice cares.
PaymentOutcomeName = Literal["succeeded", "failed", "pending"]


@dataclass(frozen=True)
class PaymentState:
    """One payment's state: ``succeeded`` (the money arrived), ``failed`` (it will not
    without the client trying again: declined, cancelled) or ``pending`` (anything else:
    processing, waiting for the client)."""

    id: str
    status: str  # succeeded | failed | pending

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True)
class Refund:
    """A refund the provider accepted: ``amount_minor`` of ``currency`` back to the client.

    ``status``: ``succeeded``, ``pending`` (accepted, not yet final) or ``failed``.
    """

    id: str
    payment_id: str
    amount_minor: int
    currency: str
    status: str  # succeeded | pending | failed


# -- connected accounts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """One thing the provider still needs from an account's owner.

    ``code`` is the provider's name for it (shown as is when it has no ``label``),
    ``label`` the words for staff, ``overdue`` whether its deadline passed (payments are,
    or are about to be, disabled until it is provided).
    """

    code: str
    label: str
    overdue: bool = False


@dataclass(frozen=True)
class AccountStatus:
    """A provider account as the plugin needs it: can it take payments, and what is missing.

    ``due`` lists what the owner must still provide, overdue items first.
    ``disabled_reason`` is the provider's code for why payments are disabled (``None``:
    they are not), stored as is on the connection; ``blocked_by_provider`` says whether
    that reason is the provider's own decision or review rather than missing
    information. ``requirements`` is the provider's own record of ``due``, stored as is
    on the connection (``StripeConnection.requirements``) and read back in words by
    :meth:`PaymentProviders.requirement_labels`.
    """

    id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    livemode: bool = False
    due: tuple[Requirement, ...] = ()
    disabled_reason: str | None = None
    blocked_by_provider: bool = False
    requirements: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookEndpoint:
    """An endpoint the provider delivers events to; ``secret`` signs them (only known at creation)."""

    id: str
    secret: str | None
    url: str


@dataclass(frozen=True)
class ProviderEvent:
    """An event the provider holds: ``created`` in Unix seconds, ``account`` the connected
    account it happened on (``None``: the key's own), ``payload`` the event as delivered."""

    id: str
    type: str
    created: int
    account: str | None
    payload: Mapping[str, Any]


# -- the port -------------------------------------------------------------------------------


@runtime_checkable
class PaymentProvider(Protocol):
    """One API key's view of a payment provider. Every method raises ``GatewayError``."""

    #: Whether the key works on live money.
    livemode: bool

    # Checkout
    def create_checkout(self, request: CheckoutRequest, *, idempotency_key: str) -> CheckoutSession:
        """Open a hosted payment page. The same key with the same request answers the same
        checkout; the same key with another request raises ``GatewayError(kind="idempotency")``."""
        ...

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        """The checkout as the provider has it now."""
        ...

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        """Stop an open checkout taking payments. One that is no longer open is answered as
        it is (``complete``: the client paid; ``expired``: already closed)."""
        ...

    def checkout_session_id_for_payment_intent(self, payment_intent_id: str) -> str | None:
        """The id of the checkout that made payment ``payment_intent_id`` on this key's
        account, or ``None`` when no checkout of this account made it."""
        ...

    # payments and refunds
    def retrieve_payment(self, payment_id: str) -> PaymentState:
        """The payment's outcome so far."""
        ...

    def refunded_amount(self, payment_id: str) -> int:
        """How much of the payment is refunded now, in minor units: refunds that failed or
        were canceled since are not counted (read afresh, never from an event)."""
        ...

    def refund(self, payment_id: str, *, amount_minor: int | None, idempotency_key: str,
               reason: str | None = None, metadata: Mapping[str, str] | None = None,
               destination_charge: bool = False) -> Refund:
        """Give ``amount_minor`` (``None``: all that is left) of a payment back to the client.

        ``reason``: ``duplicate``, ``fraudulent`` or ``requested_by_customer`` (``None``: not
        said). ``metadata``: our notes, kept with the refund (string values, at most 500
        characters each). ``destination_charge``: the payment was sent on to a connected
        account (Connect): its share is taken back from that account and the platform's
        fee is refunded too, both in proportion to the amount refunded; the refund itself
        comes out of the platform's balance. Refused (:class:`GatewayError`) when the
        provider refuses: more than is left, a charged-back payment, ...
        """
        ...

    # connected accounts (the platform key)
    def create_connected_account(self, *, workspace_id: str, email: str | None,
                                 idempotency_key: str, country: str | None = None) -> AccountStatus:
        """An account of the platform for a workspace, to be onboarded by its owner.

        ``country``: where the business is established (ISO 3166-1 alpha-2, upper case);
        ``None`` lets the provider choose (Stripe: the platform's own country)."""
        ...

    def retrieve_account(self, account_id: str) -> AccountStatus: ...

    def retrieve_own_account(self) -> AccountStatus:
        """The account the key belongs to: a live call that proves the key works."""
        ...

    def create_onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        """A single-use link to the provider's onboarding of a connected account."""
        ...

    def create_login_link(self, account_id: str) -> str:
        """A single-use link to a connected account's dashboard."""
        ...

    # webhook endpoints and events (own keys)
    def create_webhook_endpoint(self, *, url: str, events: list[str],
                                metadata: Mapping[str, str]) -> WebhookEndpoint: ...

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        """Delete the endpoint; one already gone is not an error."""
        ...

    def list_undelivered_events(self, *, created_gte: int | None = None, limit: int = 100,
                                account: str | None = None) -> list[ProviderEvent]:
        """Every event the provider failed to deliver (all pages; ``limit`` is the page size),
        newest first, created at ``created_gte`` or later; ``account``: those of that connected
        account instead of the key's own."""
        ...


@runtime_checkable
class PaymentProviders(Protocol):
    """The provider as a whole: one :class:`PaymentProvider` per API key, and the provider's
    codes stored on a connection in words (for pages that show a connection without calling
    the provider)."""

    def for_key(self, api_key: str) -> PaymentProvider:
        """The provider for ``api_key``; raises ``GatewayError(kind="auth")`` for an empty key."""
        ...

    def requirement_labels(self, requirements: Mapping[str, Any] | None) -> tuple[str, ...]:
        """What an :attr:`AccountStatus.requirements` record asks for, in words, overdue
        first, without repeats."""
        ...

    def disabled_reason_label(self, reason: str | None) -> str | None:
        """Why payments are disabled (:attr:`AccountStatus.disabled_reason`), in words."""
        ...
