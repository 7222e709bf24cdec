"""All Stripe HTTP, in one module.

Services call :class:`StripeGateway` and get back small plain dataclasses; they
never see ``stripe`` objects or exceptions. Every Stripe failure becomes a
:class:`GatewayError` whose ``message`` can be shown to staff as-is and whose
``kind`` lets a caller react (``auth``, ``permission``, ``rate_limit``,
``network``, ``invalid_request``, ``idempotency``, ``api``).

The client is ``stripe.StripeClient`` with the configured API base (the bundled
emulator in tests and demos) and an explicitly pinned API version, so a Stripe
account's default version can never change the shapes we parse.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

import stripe

#: The API version every request pins. It matches the installed SDK's own
#: version so request and response types agree with its typed classes.
STRIPE_API_VERSION = "2026-10-28.endive"


# -- no secret in any log ------------------------------------------------------------------
#
# The SDK logs every request's form body and every response body at DEBUG on the
# ``stripe`` logger (``stripe/_api_requestor.py``: "Post details", "API response body"),
# already formatted (logfmt) into ``msg``. A webhook endpoint's creation answers with its
# signing ``secret`` (https://docs.stripe.com/api/webhook_endpoints/create, "secret ...
# only returned at creation"); PaymentIntents and embedded Checkout Sessions carry a
# ``client_secret`` that Stripe says "should not be logged"
# (https://docs.stripe.com/api/payment_intents/object#payment_intent_object-client_secret).
# A filter on the ``stripe`` logger redacts those, by shape and by field name, in the
# formatted text, before any handler sees the record.

_REDACTED = "[redacted]"

#: Values that are secret whatever field they sit in.
_SECRET_SHAPES = re.compile(
    r"\bwhsec_[A-Za-z0-9_]+"  # webhook signing secrets
    r"|\b(?:sk|rk|ek)_[A-Za-z0-9_]{8,}"  # secret, restricted and ephemeral keys (live, test, any mode)
    r"|\b(?:pi|seti|src|cs_live|cs_test)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"  # client secrets
    r"|\bgAAAAA[A-Za-z0-9_-]{20,}={0,2}"  # Fernet tokens (our encrypted secrets)
)
#: Account Links and Express login links are single-use bearer URLs into a connected
#: account's onboarding or dashboard (https://docs.stripe.com/api/account_links,
#: https://docs.stripe.com/api/accounts/login_link): the token goes, the account id stays.
_BEARER_LINK = re.compile(r"(/(?:setup/[a-z]|express)/acct_[A-Za-z0-9]+/)[A-Za-z0-9_-]+")
#: ``"secret": "…"`` / ``"client_secret": '…'`` in JSON (or its repr), any value shape.
_SECRET_JSON_FIELD = re.compile(
    r"""(?P<key>["'][A-Za-z0-9_]*(?:secret|password|api_key)[A-Za-z0-9_]*\\?["']\s*:\s*)"""
    r"""(?P<quote>\\?["'])(?P<value>(?:(?!(?P=quote)).)*)(?P=quote)""",
    re.IGNORECASE,
)
#: ``secret=…`` in a form-encoded body or logfmt line (also ``metadata[secret]=…``).
_SECRET_FORM_FIELD = re.compile(
    r"(?P<key>\b[A-Za-z0-9_\[\]%]*(?:secret|password|api_key)[A-Za-z0-9_\]%]*=)(?P<value>[^&\s'\"]+)",
    re.IGNORECASE,
)


def redact_secrets(text: str) -> str:
    """``text`` with every secret-shaped value (``whsec_``, ``sk_``/``rk_``/``ek_`` keys,
    ``…_secret_…`` client secrets, Fernet tokens, onboarding/login link tokens) and every
    ``*secret*``/``*password*``/``*api_key*`` field's value replaced by ``[redacted]``.
    Ids, amounts and other fields are kept."""
    text = _SECRET_JSON_FIELD.sub(
        lambda m: m.group(0) if m.group("value") == _REDACTED
        else f"{m.group('key')}{m.group('quote')}{_REDACTED}{m.group('quote')}",
        text,
    )
    text = _SECRET_FORM_FIELD.sub(lambda m: f"{m.group('key')}{_REDACTED}", text)
    text = _BEARER_LINK.sub(lambda m: f"{m.group(1)}{_REDACTED}", text)
    return _SECRET_SHAPES.sub(_REDACTED, text)


class SecretRedactingFilter(logging.Filter):
    """Redacts secrets from a record's formatted message, traceback and stack.

    The message is formatted here (``record.getMessage()``) and ``args`` cleared, so a
    secret passed as an argument is caught as well as one already in ``msg``. The
    record is never dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record keeps its raw parts, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact_secrets(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Formatters print exc_text when it is set; the exception object goes, so no
            # handler can format its unredacted text again.
            record.exc_text = redact_secrets(record.exc_text)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact_secrets(record.stack_info)
        return True


_install_lock = threading.Lock()
_console_warned = False
log = logging.getLogger("invoicing_plugin.stripe")


def install_log_redaction() -> None:
    """Put one :class:`SecretRedactingFilter` on the ``stripe`` logger (idempotent).

    Also keeps the SDK's *console* logging off DEBUG: ``stripe.log = "debug"`` (or the
    ``STRIPE_LOG=debug`` environment variable) makes the SDK ``print`` every response
    body to stderr, past any logging filter. It is lowered to ``"info"`` (request lines
    and response codes only) with a warning; the bodies still reach the ``stripe``
    logger at DEBUG, redacted.
    """
    global _console_warned
    with _install_lock:
        logger = logging.getLogger("stripe")
        if not any(isinstance(f, SecretRedactingFilter) for f in logger.filters):
            logger.addFilter(SecretRedactingFilter())
        if _console_debug():
            stripe.log = "info"
            if not _console_warned:
                _console_warned = True
                log.warning(
                    "stripe console logging at debug prints response bodies with secrets to stderr; "
                    "lowered to info (the 'stripe' logger still gets the bodies at DEBUG, redacted)"
                )


def _console_debug() -> bool:
    """Whether the SDK would print DEBUG lines to stderr (its ``stripe.log`` / ``STRIPE_LOG``)."""
    if getattr(stripe, "log", None) in ("debug", "info"):
        return stripe.log == "debug"
    return os.environ.get("STRIPE_LOG") == "debug"


class GatewayError(Exception):
    """A Stripe call failed. ``message`` is safe to show to staff."""

    def __init__(self, message: str, *, kind: str = "api", code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.code = code
        self.param = param

    @property
    def retryable(self) -> bool:
        return self.kind in {"network", "rate_limit", "api"}


@dataclass(frozen=True)
class AccountInfo:
    id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    livemode: bool = False
    currently_due: tuple[str, ...] = ()
    past_due: tuple[str, ...] = ()
    disabled_reason: str | None = None

    @property
    def requirements(self) -> dict:
        return {"currently_due": list(self.currently_due), "past_due": list(self.past_due)}


@dataclass(frozen=True)
class CheckoutSession:
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


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    secret: str | None
    url: str


@dataclass(frozen=True)
class StripeEventRef:
    id: str
    type: str
    created: int
    account: str | None
    payload: Mapping[str, Any]


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


def _requirements(account: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    req = account.get("requirements")
    if not req:
        return (), (), None
    return (
        tuple(req.get("currently_due") or ()),
        tuple(req.get("past_due") or ()),
        req.get("disabled_reason"),
    )


def account_info(account: Any) -> AccountInfo:
    """Map a Stripe Account (object or event payload dict) to :class:`AccountInfo`."""
    account = _plain(account)
    get = account.get
    currently_due, past_due, disabled_reason = _requirements(account)
    return AccountInfo(
        id=get("id"),
        charges_enabled=bool(get("charges_enabled")),
        payouts_enabled=bool(get("payouts_enabled")),
        details_submitted=bool(get("details_submitted")),
        livemode=bool(get("livemode")),
        currently_due=currently_due,
        past_due=past_due,
        disabled_reason=disabled_reason,
    )


def checkout_session(session: Any) -> CheckoutSession:
    """Map a Stripe Checkout Session (object or event payload dict) to :class:`CheckoutSession`."""
    session = _plain(session)
    get = session.get
    payment_intent = get("payment_intent")
    if payment_intent is not None and not isinstance(payment_intent, str):
        payment_intent = payment_intent.get("id")
    return CheckoutSession(
        id=get("id"),
        url=get("url"),
        status=get("status"),
        payment_status=get("payment_status"),
        amount_total=get("amount_total"),
        currency=(get("currency") or "").upper() or None,
        payment_intent=payment_intent,
        expires_at=get("expires_at"),
        metadata=dict(get("metadata") or {}),
        livemode=bool(get("livemode")),
    )


class StripeGateway:
    """One Stripe API key's view of Stripe.

    ``stripe_account`` arguments make a call on behalf of a connected account
    (the ``Stripe-Account`` header).
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
    def create_express_account(self, *, workspace_id: str, email: str | None, idempotency_key: str) -> AccountInfo:
        params: dict[str, Any] = {
            "type": "express",
            "metadata": {"workspace_id": workspace_id},
            "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
        }
        if email:
            params["email"] = email
        account = self._call(
            self._client.v1.accounts.create, params, self._options(idempotency_key=idempotency_key)
        )
        return account_info(account)

    def retrieve_account(self, account_id: str) -> AccountInfo:
        return account_info(self._call(self._client.v1.accounts.retrieve, account_id))

    def retrieve_own_account(self) -> AccountInfo:
        """The account the API key belongs to: a live call that proves the key works."""
        return account_info(self._call(self._client.v1.accounts.retrieve_current))

    def create_onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        link = self._call(
            self._client.v1.account_links.create,
            {"account": account_id, "type": "account_onboarding", "refresh_url": refresh_url, "return_url": return_url},
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
    def create_checkout_session(self, params: Mapping[str, Any], *, idempotency_key: str) -> CheckoutSession:
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
    def retrieve_payment_intent(self, payment_intent_id: str) -> Mapping[str, Any]:
        return self._call(self._client.v1.payment_intents.retrieve, payment_intent_id).to_dict()

    def create_refund(self, *, payment_intent: str, amount: int | None, idempotency_key: str) -> Mapping[str, Any]:
        params: dict[str, Any] = {"payment_intent": payment_intent}
        if amount is not None:
            params["amount"] = amount
        refund = self._call(self._client.v1.refunds.create, params, self._options(idempotency_key=idempotency_key))
        return refund.to_dict()

    # -- events --------------------------------------------------------------------
    def list_undelivered_events(self, *, created_gte: int | None = None, limit: int = 100) -> list[StripeEventRef]:
        params: dict[str, Any] = {"delivery_success": False, "limit": limit}
        if created_gte is not None:
            params["created"] = {"gte": created_gte}
        page = self._call(self._client.v1.events.list, params)
        return [
            StripeEventRef(
                id=e.id, type=e.type, created=e.created, account=_plain(e).get("account"), payload=e.to_dict()
            )
            for e in page.data
        ]


class GatewayRegistry:
    """Hands out one :class:`StripeGateway` per API key, built once and shared."""

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
