"""All Stripe HTTP, in one module: the Stripe implementation of the payment-provider port.

:class:`StripeGateway` implements :class:`~invoicing_plugin.services.ports.PaymentProvider`
(one API key's view of Stripe) and :class:`GatewayRegistry` implements
:class:`~invoicing_plugin.services.ports.PaymentProviders`. Services hand them the port's
value types and get the port's value types back; they never see ``stripe`` objects,
parameters, statuses or exceptions. Stripe's parameters, status mappings and labels live
beside this module in :mod:`.stripe_const`; the readers of Stripe's objects and
:class:`GatewayError` in :mod:`.stripe_objects`; the secret-redacting log filter in
:mod:`.stripe_redaction` (the last two re-exported here where they always were).

Every Stripe failure becomes a :class:`GatewayError` whose ``message`` can be shown to
staff as-is and whose ``kind`` lets a caller react (``auth``, ``permission``,
``rate_limit``, ``network``, ``invalid_request``, ``idempotency``, ``api``).

The client is ``stripe.StripeClient`` with the configured API base (the bundled
emulator in tests and demos) and an explicitly pinned API version, so a Stripe
account's default version can never change the shapes we parse.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

import stripe

from ..services.ports import (
    AccountStatus,
    CheckoutRequest,
    CheckoutSession,
    PaymentState,
    ProviderEvent,
    Refund,
    WebhookEndpoint,
)
from . import stripe_const
from .stripe_objects import (  # noqa: F401  (the readers and errors, kept importable here)
    _CURRENCY,
    _EVENT_TYPE,
    _MISSING,
    _STRIPE_ID,
    MAX_ACCOUNT_ID_CHARS,
    MAX_AMOUNT,
    MAX_TIMESTAMP,
    GatewayError,
    MalformedStripeObject,
    _bad,
    _boolean,
    _currency,
    _get,
    _id,
    _integer,
    _metadata,
    _object,
    _plain,
    _requirements,
    _strings,
    _text,
    _where,
    account_info,
    application_object,
    charge_object,
    checkout_session,
    dispute_object,
    is_stripe_id,
    stripe_event,
)
from .stripe_redaction import (  # noqa: F401  (the gateway's names, kept importable here)
    SecretRedactingFilter,
    _console_debug,
    install_log_redaction,
    log,
    redact_secrets,
)

#: The API version every request pins. It matches the installed SDK's own
#: version so request and response types agree with its typed classes.
STRIPE_API_VERSION = "2026-10-28.endive"

#: The port's value types under the names this module always gave them.
AccountInfo = AccountStatus
StripeEventRef = ProviderEvent
__all__ = ["AccountInfo", "CheckoutSession", "GatewayError", "GatewayRegistry", "MalformedStripeObject",
           "StripeEventRef", "StripeGateway", "WebhookEndpoint"]


#: Stripe's exception classes -> the :class:`GatewayError` ``kind`` and the message staff see.
_ERROR_KINDS: tuple[tuple[type[Exception], str, str], ...] = (
    (stripe.AuthenticationError, "auth", "Stripe rejected the API key. Check that it is correct and not revoked."),
    (stripe.PermissionError, "permission", "This Stripe key is not allowed to do that. Use a key with more permissions."),
    (stripe.RateLimitError, "rate_limit", "Stripe is rate limiting requests right now. Please try again in a moment."),
    (stripe.APIConnectionError, "network", "Could not reach Stripe. Please try again in a moment."),
    (stripe.IdempotencyError, "idempotency", "Stripe saw a conflicting retry of this request."),
    (stripe.CardError, "card", "The card was declined."),
    (stripe.InvalidRequestError, "invalid_request", "Stripe refused the request."),
)


def _translate(exc: stripe.StripeError) -> GatewayError:
    for cls, kind, fallback in _ERROR_KINDS:
        if isinstance(exc, cls):
            break
    else:
        kind, fallback = "api", "Stripe had a problem processing the request. Please try again."
    detail = getattr(exc, "user_message", None) or ""
    # The SDK leaves ``code`` unset on some classes (PermissionError); the error object has it.
    code = getattr(exc, "code", None) or getattr(getattr(exc, "error", None), "code", None)
    if code == "account_invalid":
        # https://docs.stripe.com/error-codes#account-invalid: the Stripe-Account is not one the
        # platform may act for (any more) -- not a key short of permissions.
        message = ("Stripe refuses the platform access to the connected account: it may have disconnected the "
                   "platform (a deauthorization whose event has not arrived). Check the account in the Stripe "
                   "Dashboard (Connect, Accounts).")
    elif kind == "invalid_request" and detail:
        message = f"Stripe refused the request: {detail}"
    else:
        message = fallback
    return GatewayError(message, kind=kind, code=code, param=getattr(exc, "param", None))


class StripeGateway:
    """One Stripe API key's view of Stripe: the Stripe
    :class:`~invoicing_plugin.services.ports.PaymentProvider`.

    ``stripe_account`` arguments make a call on behalf of a connected account
    (the ``Stripe-Account`` header). Besides the port's operations it keeps the
    Stripe-shaped ones it always had (:meth:`create_checkout_session` with Stripe's
    parameters, :meth:`retrieve_payment_intent`, :meth:`create_refund`), for tests and
    tools that speak Stripe.
    """

    def __init__(self, api_key: str, *, api_base: str, timeout: float = 20, max_network_retries: int = 2) -> None:
        if not api_key:
            raise GatewayError("No Stripe API key is configured.", kind="auth")
        install_log_redaction()
        base = api_base.rstrip("/")
        self._client = stripe.StripeClient(
            api_key,
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": base, "connect": base, "files": base},
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )
        self.livemode = "_live_" in api_key

    def _call(self, fn, *args, **kwargs):
        if _console_debug():  # turned on after start-up: still never print a secret
            install_log_redaction()
        try:
            return fn(*args, **kwargs)
        except stripe.StripeError as exc:
            raise _translate(exc) from exc

    @staticmethod
    def _options(*, stripe_account: str | None = None, idempotency_key: str | None = None) -> dict:
        options: dict[str, Any] = {}
        if stripe_account:
            options["stripe_account"] = stripe_account
        if idempotency_key:
            options["idempotency_key"] = idempotency_key
        return options

    # -- accounts (Connect Express) ------------------------------------------------
    def create_connected_account(self, *, workspace_id: str, email: str | None, idempotency_key: str,
                                 country: str | None = None) -> AccountStatus:
        """A Connect **Express** account for the workspace (``POST /v1/accounts``), in ``country``
        (ISO 3166-1 alpha-2; ``None``: Stripe uses the platform's country)."""
        account = self._call(
            self._client.v1.accounts.create,
            stripe_const.express_account_params(workspace_id=workspace_id, email=email, country=country),
            self._options(idempotency_key=idempotency_key),
        )
        return account_info(account)

    #: The former name of :meth:`create_connected_account`.
    create_express_account = create_connected_account

    def retrieve_account(self, account_id: str) -> AccountStatus:
        return account_info(self._call(self._client.v1.accounts.retrieve, account_id))

    def retrieve_own_account(self) -> AccountStatus:
        """The account the API key belongs to: a live call that proves the key works."""
        return account_info(self._call(self._client.v1.accounts.retrieve_current))

    def create_onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        link = self._call(
            self._client.v1.account_links.create,
            stripe_const.onboarding_link_params(account_id, refresh_url=refresh_url, return_url=return_url),
        )
        return link.url

    def create_login_link(self, account_id: str) -> str:
        return self._call(self._client.v1.accounts.login_links.create, account_id).url

    # -- webhook endpoints (own-key workspaces) --------------------------------------
    def create_webhook_endpoint(self, *, url: str, events: list[str], metadata: Mapping[str, str]) -> WebhookEndpoint:
        endpoint = self._call(
            self._client.v1.webhook_endpoints.create,
            {"url": url, "enabled_events": events, "api_version": STRIPE_API_VERSION, "metadata": dict(metadata)},
        )
        endpoint = _plain(endpoint)
        return WebhookEndpoint(id=endpoint["id"], secret=endpoint.get("secret"), url=endpoint["url"])

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        try:
            self._call(self._client.v1.webhook_endpoints.delete, endpoint_id)
        except GatewayError as exc:
            if exc.code != "resource_missing":  # already gone is what we wanted
                raise

    # -- Checkout ------------------------------------------------------------------
    def create_checkout(self, request: CheckoutRequest, *, idempotency_key: str) -> CheckoutSession:
        """A Checkout Session for the port's request (parameters: :func:`.stripe_const.checkout_session_params`)."""
        return self.create_checkout_session(stripe_const.checkout_session_params(request),
                                            idempotency_key=idempotency_key)

    def create_checkout_session(self, params: Mapping[str, Any], *, idempotency_key: str) -> CheckoutSession:
        """A Checkout Session from Stripe's own parameters (``POST /v1/checkout/sessions``)."""
        session = self._call(
            self._client.v1.checkout.sessions.create, dict(params), self._options(idempotency_key=idempotency_key)
        )
        return checkout_session(session)

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        return checkout_session(self._call(self._client.v1.checkout.sessions.retrieve, session_id))

    def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        """Expire an open session. Returns the session as Stripe now has it.

        If it is no longer open (paid or already expired) Stripe refuses; we then
        re-read it so the caller sees *why* (``complete`` means the client paid).
        """
        try:
            return checkout_session(self._call(self._client.v1.checkout.sessions.expire, session_id))
        except GatewayError as exc:
            if exc.kind != "invalid_request":
                raise
            return self.retrieve_checkout_session(session_id)

    def checkout_session_id_for_payment_intent(self, payment_intent_id: str) -> str | None:
        """The id of the Checkout Session that created ``payment_intent_id`` on this key's account,
        or ``None`` (``GET /v1/checkout/sessions?payment_intent=...``: "Only return the Checkout
        Session for the PaymentIntent specified", https://docs.stripe.com/api/checkout/sessions/list)."""
        page = self._call(self._client.v1.checkout.sessions.list, {"payment_intent": payment_intent_id, "limit": 1})
        return page.data[0].id if page.data else None

    # -- payments ------------------------------------------------------------------
    def retrieve_payment(self, payment_id: str) -> PaymentState:
        """The PaymentIntent's outcome in the port's words (:data:`.stripe_const.PAYMENT_INTENT_STATUS`)."""
        intent = self.retrieve_payment_intent(payment_id)
        return PaymentState(id=payment_id, status=stripe_const.payment_status(intent.get("status")))

    def retrieve_payment_intent(self, payment_intent_id: str) -> Mapping[str, Any]:
        return self._call(self._client.v1.payment_intents.retrieve, payment_intent_id).to_dict()

    def refunded_amount(self, payment_id: str) -> int:
        """The PaymentIntent's charge's ``amount_refunded`` now: Stripe lowers it when a refund
        fails (https://docs.stripe.com/refunds#failed-refunds). One request (the charge
        expanded, https://docs.stripe.com/api/expanding_objects)."""
        intent = self._call(self._client.v1.payment_intents.retrieve, payment_id,
                            {"expand": ["latest_charge"]}).to_dict()
        charge = intent.get("latest_charge")
        if charge is None:
            return 0
        if not isinstance(charge, Mapping):
            raise MalformedStripeObject(f"payment intent {payment_id}: latest_charge was not expanded")
        return _integer(charge, "amount_refunded", "payment_intent.latest_charge", required=True, nullable=False)

    def refund(self, payment_id: str, *, amount_minor: int | None, idempotency_key: str, reason: str | None = None,
               metadata: Mapping[str, str] | None = None, destination_charge: bool = False) -> Refund:
        """Refund ``amount_minor`` (``None``: what is left) of the PaymentIntent ``payment_id``
        (parameters: :func:`.stripe_const.refund_params`)."""
        refund = self.create_refund(payment_intent=payment_id, amount=amount_minor, idempotency_key=idempotency_key,
                                    reason=reason, metadata=metadata, destination_charge=destination_charge)
        where = "refund"
        return Refund(
            id=_id(refund, "id", where),
            payment_id=payment_id,
            amount_minor=_integer(refund, "amount", where, required=True, nullable=False),
            currency=_currency(refund, where),
            status=stripe_const.refund_status(refund.get("status")),
        )

    def create_refund(self, *, payment_intent: str, amount: int | None, idempotency_key: str,
                      **options: Any) -> Mapping[str, Any]:
        """A Refund from Stripe's own parameters (``POST /v1/refunds``), as Stripe's object."""
        refund = self._call(self._client.v1.refunds.create,
                            stripe_const.refund_params(payment_intent, amount, **options),
                            self._options(idempotency_key=idempotency_key))
        return refund.to_dict()

    # -- events --------------------------------------------------------------------
    def list_undelivered_events(self, *, created_gte: int | None = None, limit: int = 100,
                                account: str | None = None) -> list[ProviderEvent]:
        """Every event Stripe has not delivered (``delivery_success=false``), newest first.

        All pages, read with the SDK's auto-pagination (``limit`` is the page size):
        https://docs.stripe.com/webhooks/process-undelivered-events. ``account``: a
        connected account's events (``Stripe-Account``), those its Connect endpoint was sent.
        """
        params: dict[str, Any] = {"delivery_success": False, "limit": limit}
        if created_gte is not None:
            params["created"] = {"gte": created_gte}
        page = self._call(self._client.v1.events.list, params, self._options(stripe_account=account))
        return [
            ProviderEvent(
                id=e.id, type=e.type, created=e.created, account=_plain(e).get("account"), payload=e.to_dict()
            )
            for e in self._call(lambda: list(page.auto_paging_iter()))
        ]


class GatewayRegistry:
    """Hands out one :class:`StripeGateway` per API key, built once and shared: the Stripe
    :class:`~invoicing_plugin.services.ports.PaymentProviders`."""

    def __init__(self, *, api_base: str, timeout: float, max_network_retries: int) -> None:
        self._settings = {"api_base": api_base, "timeout": timeout, "max_network_retries": max_network_retries}
        install_log_redaction()
        self._gateways: dict[str, StripeGateway] = {}
        self._lock = threading.Lock()

    def for_key(self, api_key: str) -> StripeGateway:
        with self._lock:
            gateway = self._gateways.get(api_key)
            if gateway is None:
                gateway = self._gateways[api_key] = StripeGateway(api_key, **self._settings)
            return gateway

    @staticmethod
    def requirement_labels(requirements: Mapping[str, Any] | None) -> tuple[str, ...]:
        """A stored ``requirements`` record in words (:func:`.stripe_const.stored_requirement_labels`)."""
        return stripe_const.stored_requirement_labels(requirements)

    @staticmethod
    def disabled_reason_label(reason: str | None) -> str | None:
        return stripe_const.disabled_reason_label(reason)
