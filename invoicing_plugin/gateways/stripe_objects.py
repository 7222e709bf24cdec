"""Reading Stripe's objects, and the gateway's errors: part of the Stripe gateway.

Every Stripe object the plugin reads -- an event payload or an API answer -- goes through
one of the mappers here (:func:`checkout_session`, :func:`account_info`,
:func:`charge_object`, :func:`dispute_object`, :func:`application_object`) or the event
envelope's check (:func:`stripe_event`), which validate every field the plugin reads
before any of it reaches a service or the database, and raise
:class:`MalformedStripeObject` (a :class:`GatewayError`) otherwise.

:class:`GatewayError` is what every Stripe failure becomes (the HTTP side, with the
translation of the SDK's exceptions, is :mod:`.stripe_gateway`). Every name here is
re-exported by :mod:`.stripe_gateway`, where it always was importable.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import stripe

from ..domain.errors import InvoicingError
from ..services.ports import AccountStatus, CheckoutSession
from . import stripe_const

__all__ = [
    "GatewayError", "MAX_ACCOUNT_ID_CHARS", "MAX_AMOUNT", "MAX_TIMESTAMP", "MalformedStripeObject",
    "account_info", "application_object", "charge_object", "checkout_session", "dispute_object",
    "is_stripe_id", "stripe_event",
]


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
