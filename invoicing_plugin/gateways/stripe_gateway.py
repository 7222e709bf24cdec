"""All Stripe HTTP, in one module: the Stripe implementation of the payment-provider port.

:class:`StripeGateway` implements :class:`~invoicing_plugin.services.ports.PaymentProvider`
(one API key's view of Stripe) and :class:`GatewayRegistry` implements
:class:`~invoicing_plugin.services.ports.PaymentProviders`. Services hand them the port's
value types and get the port's value types back; they never see ``stripe`` objects,
parameters, statuses or exceptions. Stripe's parameters, status mappings and labels live
beside this module in :mod:`.stripe_const`; the secret-redacting log filter in
:mod:`.stripe_redaction` (both re-exported here where they always were).

Every Stripe failure becomes a :class:`GatewayError` whose ``message`` can be shown to
staff as-is and whose ``kind`` lets a caller react (``auth``, ``permission``,
``rate_limit``, ``network``, ``invalid_request``, ``idempotency``, ``api``).

The client is ``stripe.StripeClient`` with the configured API base (the bundled
emulator in tests and demos) and an explicitly pinned API version, so a Stripe
account's default version can never change the shapes we parse.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Mapping

import stripe

from ..domain.errors import InvoicingError
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


class GatewayError(InvoicingError):
    """A Stripe call failed. ``message`` is safe to show to staff (an :class:`InvoicingError`).

    ``kind`` classifies the failure (``api``, ``network``, ``rate_limit``, ``auth``,
    ``permission``, ``malformed`` ...); ``code`` and ``param`` are Stripe's, when it
    gave them. ``field`` is always ``None``: ``param`` names a Stripe parameter, not a
    form field.
    """

    def __init__(self, message: str, *, kind: str = "api", code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.param = param

    @property
    def retryable(self) -> bool:
        return self.kind in {"network", "rate_limit", "api"}


class MalformedStripeObject(GatewayError):
    """A Stripe object (an event payload or an API answer) that is not shaped as Stripe documents it.

    Raised by the mappers below (:func:`checkout_session`, :func:`account_info`,
    :func:`charge_object`, ...) and by :func:`stripe_event`, which validate every field
    the plugin reads -- type, presence, bounds -- before any of it reaches a service or
    the database. ``message`` names the field, e.g. ``data.object.amount_total must be
    an integer``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="malformed")


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
    if kind == "invalid_request" and detail:
        message = f"Stripe refused the request: {detail}"
    else:
        message = fallback
    return GatewayError(message, kind=kind, code=getattr(exc, "code", None), param=getattr(exc, "param", None))


def _plain(obj: Any) -> Mapping[str, Any]:
    """A Stripe object as a plain dict. StripeObject is not a dict in stripe>=15 (no ``.get``);
    event payloads already are dicts."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    return obj


# -- reading Stripe objects: every field the plugin reads is checked here, once ----------
#
# Shapes are those of Stripe's API reference (https://docs.stripe.com/api): ids are
# strings of letters, digits and underscores (at most 255 characters; account ids are
# short and stored in 64), amounts are non-negative integers in minor units, timestamps
# are integer Unix seconds, currencies three-letter ISO codes, ``metadata`` maps string
# keys (up to 40 characters) to string values (up to 500), booleans are JSON booleans.
# Anything else -- a string amount, a list for ``metadata``, an object where an id is
# due, a NUL character, a number too large to store -- is not an object Stripe sends and
# raises :class:`MalformedStripeObject`.

_STRIPE_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
_EVENT_TYPE = re.compile(r"[A-Za-z0-9_.]{1,96}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
MAX_ACCOUNT_ID_CHARS = 64
MAX_AMOUNT = 2**63 - 1  # a BIGINT column
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime holds
_MISSING = object()


def _where(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _get(obj: Mapping[str, Any], name: str, where: str, required: bool) -> Any:
    value = obj.get(name, _MISSING)
    if value is _MISSING:
        if required:
            raise MalformedStripeObject(f"{_where(where, name)} is missing.")
        return None
    return value


def _bad(obj_where: str, name: str, expected: str) -> MalformedStripeObject:
    return MalformedStripeObject(f"{_where(obj_where, name)} must be {expected}.")


def is_stripe_id(value: Any, max_chars: int = 255) -> bool:
    """Whether ``value`` looks like a Stripe object id (letters, digits, ``_``; bounded length)."""
    return isinstance(value, str) and len(value) <= max_chars and _STRIPE_ID.fullmatch(value) is not None


# Each reader: ``required`` -- the key must be present (Stripe always sends it);
# ``nullable`` -- it may be ``null``. An absent optional key reads as ``None``.


def _id(obj, name, where, *, required=True, nullable=False, max_chars=255) -> str | None:
    value = _get(obj, name, where, required)
    if value is None and (nullable or name not in obj):
        return None
    if not is_stripe_id(value, max_chars):
        raise _bad(where, name, f"a Stripe id (letters, digits and _, at most {max_chars} characters)")
    return value


def _text(obj, name, where, *, required=False, nullable=True, max_chars=5000) -> str | None:
    value = _get(obj, name, where, required)
    if value is None and (nullable or name not in obj):
        return None
    if not isinstance(value, str) or len(value) > max_chars or "\x00" in value:
        raise _bad(where, name, f"a string of at most {max_chars} characters without NUL")
    return value


def _integer(obj, name, where, *, required=False, nullable=True, maximum=MAX_AMOUNT) -> int | None:
    value = _get(obj, name, where, required)
    if value is None and (nullable or name not in obj):
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise _bad(where, name, f"an integer from 0 to {maximum}")
    return value


def _boolean(obj, name, where, *, required=False) -> bool:
    value = _get(obj, name, where, required)
    if value is None and name not in obj:
        return False
    if not isinstance(value, bool):
        raise _bad(where, name, "true or false")
    return value


def _currency(obj, where, *, required=True, nullable=False) -> str | None:
    value = _get(obj, "currency", where, required)
    if value is None and (nullable or "currency" not in obj):
        return None
    if not isinstance(value, str) or _CURRENCY.fullmatch(value) is None:
        raise _bad(where, "currency", "a three-letter ISO currency code")
    return value.upper()


def _metadata(obj, where, *, required=True) -> dict[str, str]:
    value = _get(obj, "metadata", where, required)
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 40 and len(v) <= 500
        and "\x00" not in k and "\x00" not in v
        for k, v in value.items()
    ):
        raise _bad(where, "metadata", "an object of strings (keys up to 40, values up to 500 characters)")
    return dict(value)


def _strings(obj, name, where) -> tuple[str, ...]:
    value = _get(obj, name, where, False)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and "\x00" not in v for v in value):
        raise _bad(where, name, "a list of strings")
    return tuple(value)


def _object(obj: Any, kind: str, where: str) -> Mapping[str, Any]:
    """``obj`` as a plain mapping, checked to be a Stripe object of ``kind`` with an id."""
    obj = _plain(obj)
    if not isinstance(obj, Mapping):
        raise MalformedStripeObject(f"{where or 'The object'} must be a {kind} object.")
    if obj.get("object") != kind:
        raise MalformedStripeObject(f"{_where(where, 'object')} must be {kind!r}.")
    return obj


def _requirements(account: Mapping[str, Any], where: str) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    req = _get(account, "requirements", where, False)
    if req is None:
        return (), (), None
    sub = _where(where, "requirements")
    if not isinstance(req, Mapping):
        raise _bad(where, "requirements", "an object")
    return _strings(req, "currently_due", sub), _strings(req, "past_due", sub), \
        _text(req, "disabled_reason", sub, required=True, max_chars=128)


def account_info(account: Any, *, where: str = "") -> AccountStatus:
    """Map a Stripe Account (object or event payload dict) to the port's :class:`AccountStatus`
    (requirement names in words from :mod:`.stripe_const`).

    Raises :class:`MalformedStripeObject` when it is not shaped as Stripe's Account
    (https://docs.stripe.com/api/accounts/object).
    """
    account = _object(account, "account", where)
    currently_due, past_due, disabled_reason = _requirements(account, where)
    return AccountStatus(
        id=_id(account, "id", where, max_chars=MAX_ACCOUNT_ID_CHARS),
        charges_enabled=_boolean(account, "charges_enabled", where, required=True),
        payouts_enabled=_boolean(account, "payouts_enabled", where, required=True),
        details_submitted=_boolean(account, "details_submitted", where, required=True),
        livemode=_boolean(account, "livemode", where),
        due=stripe_const.requirement_items(currently_due, past_due),
        disabled_reason=disabled_reason,
        blocked_by_provider=stripe_const.blocked_by_provider(disabled_reason),
        requirements=stripe_const.requirements_record(currently_due, past_due),
    )


def checkout_session(session: Any, *, where: str = "") -> CheckoutSession:
    """Map a Stripe Checkout Session (object or event payload dict) to :class:`CheckoutSession`.

    Raises :class:`MalformedStripeObject` when it is not shaped as Stripe's Checkout
    Session (https://docs.stripe.com/api/checkout/sessions/object): e.g. ``amount_total``
    not an integer, ``metadata`` not an object of strings, ``payment_intent`` neither an
    id nor null (the plugin never expands it).
    """
    session = _object(session, "checkout.session", where)
    return CheckoutSession(
        id=_id(session, "id", where),
        url=_text(session, "url", where, required=True),
        status=_text(session, "status", where, required=True, max_chars=64),
        payment_status=_text(session, "payment_status", where, required=True, nullable=False, max_chars=64),
        amount_total=_integer(session, "amount_total", where, required=True),
        currency=_currency(session, where, nullable=True),
        payment_intent=_id(session, "payment_intent", where, nullable=True),
        expires_at=_integer(session, "expires_at", where, required=True, nullable=False, maximum=MAX_TIMESTAMP),
        metadata=_metadata(session, where),
        livemode=_boolean(session, "livemode", where, required=True),
    )


def charge_object(charge: Any, *, where: str = "") -> Mapping[str, Any]:
    """A Stripe Charge (https://docs.stripe.com/api/charges/object), its fields checked.

    Returns the same mapping; the fields :func:`~invoicing_plugin.services.payments.
    apply_charge_refunded` reads (``id``, ``payment_intent``, ``metadata``, ``amount``,
    ``amount_refunded``, ``refunded``, ``currency``) are known to be well-typed.
    """
    charge = _object(charge, "charge", where)
    _id(charge, "id", where)
    _id(charge, "payment_intent", where, nullable=True)
    _metadata(charge, where)
    _integer(charge, "amount", where, required=True, nullable=False)
    _integer(charge, "amount_refunded", where, required=True, nullable=False)
    _boolean(charge, "refunded", where, required=True)
    _currency(charge, where)
    return charge


def dispute_object(dispute: Any, *, where: str = "") -> Mapping[str, Any]:
    """A Stripe Dispute (https://docs.stripe.com/api/disputes/object), its fields checked.

    Returns the same mapping (``id``, ``payment_intent``, ``metadata``, ``amount``,
    ``currency``, ``reason`` well-typed).
    """
    dispute = _object(dispute, "dispute", where)
    _id(dispute, "id", where)
    _id(dispute, "payment_intent", where, nullable=True)
    _metadata(dispute, where)
    _integer(dispute, "amount", where, required=True, nullable=False)
    _currency(dispute, where)
    _text(dispute, "reason", where, required=True, nullable=False, max_chars=128)
    return dispute


def application_object(application: Any, *, where: str = "") -> Mapping[str, Any]:
    """The Connect application of ``account.application.deauthorized`` (an ``application`` object)."""
    application = _object(application, "application", where)
    _id(application, "id", where)
    _text(application, "name", where, required=True)
    return application


def stripe_event(event: Any) -> Mapping[str, Any]:
    """A Stripe Event's envelope (https://docs.stripe.com/api/events/object), checked.

    ``object`` is ``"event"``; ``id`` a Stripe id; ``type`` a dotted name; ``created`` an
    integer Unix timestamp; ``livemode`` a boolean; ``account`` absent, null or an
    account id; ``data`` an object whose ``object`` is an object. Returns the same
    mapping. The object itself is checked by its mapper (:func:`checkout_session`, ...).
    """
    if not isinstance(event, Mapping):
        raise MalformedStripeObject("The body must be a Stripe event object.")
    if event.get("object") != "event":
        raise _bad("", "object", "'event'")
    _id(event, "id", "")
    if not isinstance(event.get("type"), str) or _EVENT_TYPE.fullmatch(event["type"]) is None:
        raise _bad("", "type", "an event type (letters, digits, _ and ., at most 96 characters)")
    _integer(event, "created", "", required=True, nullable=False, maximum=MAX_TIMESTAMP)
    _boolean(event, "livemode", "", required=True)
    _id(event, "account", "", required=False, nullable=True, max_chars=MAX_ACCOUNT_ID_CHARS)
    data = event.get("data")
    if not isinstance(data, Mapping):
        raise _bad("", "data", "an object")
    if not isinstance(data.get("object"), Mapping):
        raise _bad("data", "object", "an object")
    previous = data.get("previous_attributes", None)
    if previous is not None and not isinstance(previous, Mapping):
        raise _bad("data", "previous_attributes", "an object")
    return event


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
    def list_undelivered_events(self, *, created_gte: int | None = None, limit: int = 100) -> list[ProviderEvent]:
        params: dict[str, Any] = {"delivery_success": False, "limit": limit}
        if created_gte is not None:
            params["created"] = {"gte": created_gte}
        page = self._call(self._client.v1.events.list, params)
        return [
            ProviderEvent(
                id=e.id, type=e.type, created=e.created, account=_plain(e).get("account"), payload=e.to_dict()
            )
            for e in page.data
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
