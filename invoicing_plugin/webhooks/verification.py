"""Is this request really from Stripe? Signature, age and mode checks, before anything else.

A webhook is trusted only if its ``Stripe-Signature`` header verifies (Stripe's
``v1`` HMAC-SHA256 scheme, checked by the ``stripe`` SDK) against one of the
candidate secrets:

* for an event of a connected account (it carries ``account``): the platform's
  **Connect** endpoint's secret(s), ``INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET``, and no
  other -- Stripe delivers such events only to Connect endpoints
  (https://docs.stripe.com/connect/webhooks);
* for any other event: the platform's **account** endpoint's secret(s),
  ``INVOICING_STRIPE_WEBHOOK_SECRET`` -- two at once while rotating -- and, for
  workspaces that use their own Stripe key, the secret of the (account) endpoint
  created on *their* account (``StripeConnection.webhook_secret_encrypted``).

Each endpoint has its own signing secret (https://docs.stripe.com/webhooks), so a
set-up with one secret verifies only one of the two kinds; the refusal names the
missing setting.

The body is parsed before verification only to find which own-key workspace the event
*claims* to concern (its ``account``, the object's ``metadata.workspace_id``, or the
recorded Checkout Session, or the invoice holding its PaymentIntent). Nothing is written or acted on
until a signature matches. An event verified with a workspace's secret is *scoped* to
that workspace: it can only ever touch that workspace's invoices.

The ``Stripe-Signature`` header is read by **one** parser, the SDK's: the accepting call
is ``stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)``, which
checks the signature and the age of the *same* timestamp together (Stripe's replay
protection, https://docs.stripe.com/webhooks#verify-events). The plugin never splits the
header itself; it only refuses, whole, a header that is not ASCII (the SDK raises
``TypeError`` on a non-ASCII ``v1`` value instead of refusing it). A signature older
than ``INVOICING_STRIPE_WEBHOOK_TOLERANCE`` seconds is refused as too old; ``0`` turns
the age check off (as in the SDK). A timestamp in the future is accepted, as the SDK
decides: only Stripe's signer holds the secret.

Then the body must be an event Stripe would send (:func:`.handlers.check_event`: the
envelope and, for handled types, the object each handler reads); otherwise it is
refused with 400 and nothing is recorded. Every refusal carries a :class:`.Refusal`
(reason, endpoint kind, and -- only when a secret verified the signature -- the event's
id and type) for the count on the health page.

Finally ``livemode`` is compared with the mode of the key the secret belongs to. Stripe
sends connected accounts' *test* events to *live* Connect endpoints and asks receivers
to check ``livemode`` (https://docs.stripe.com/connect/webhooks), so a mismatch is not
refused (a run of 400s gets the endpoint disabled, live events with it): the event is
returned with :attr:`VerifiedEvent.mode_mismatch` set, acknowledged, recorded as
``ignored`` with that reason, and never acted on.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any, Mapping

import stripe
from flask import current_app
from sqlalchemy import select

from ..config import WEBHOOK_SECRET_SETTINGS, webhook_secrets
from ..state import get_state
from ..gateways.stripe_gateway import MAX_ACCOUNT_ID_CHARS, MalformedStripeObject, is_stripe_id
from ..persistence.models import CheckoutSessionRecord, Invoice, StripeConnection
from ..services.connections import stored_secrets
from .handlers import check_event
from .refusals import Refusal

log = logging.getLogger("invoicing_plugin.webhooks")


class WebhookRejected(Exception):
    """The request is not a verified Stripe event; answer ``status`` and process nothing."""

    def __init__(self, message: str, status: int = 400, refusal: Refusal | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.refusal = refusal or Refusal("not_event", status=status)


@dataclass(frozen=True)
class Candidate:
    secret: str
    scope_workspace: str | None  # None: the platform's endpoint
    livemode: bool  # the mode of the key behind this endpoint
    endpoint: str = "account"  # "account" | "connect": the platform endpoint kind (own-key: account)


@dataclass(frozen=True)
class VerifiedEvent:
    event: dict[str, Any]
    scope_workspace: str | None
    endpoint: str = "account"
    #: Why the event must not be acted on although it is verified (its ``livemode`` is
    #: not the key's mode), or ``None``.
    mode_mismatch: str | None = None

    @property
    def id(self) -> str:
        return self.event["id"]


def event_endpoint(event: Mapping[str, Any]) -> str:
    """The platform endpoint kind that receives ``event``: ``"connect"`` when it carries a
    connected ``account`` (https://docs.stripe.com/api/events/object: "The connected
    account that originates the event"), else ``"account"``."""
    return "connect" if event.get("account") is not None else "account"


def _is_live_key(key: str | None) -> bool:
    return bool(key) and "_live_" in key


def platform_candidates(config: Mapping[str, Any], endpoint: str = "account") -> list[Candidate]:
    """The platform's ``endpoint`` (``"account"`` or ``"connect"``) secrets, in the mode of
    the platform key."""
    live = _is_live_key(config.get("INVOICING_STRIPE_API_KEY"))
    return [Candidate(secret, None, live, endpoint) for secret in webhook_secrets(config, endpoint)]


def _hinted_workspaces(event: Mapping[str, Any]) -> list[str]:
    """Workspaces an (unverified) event claims to concern; used only to pick secrets."""
    session = get_state().session
    # Unverified input: only values shaped as Stripe ids (or a plain workspace id) are
    # looked up, so nothing an attacker sends can make a query fail.
    hints: list[str] = []
    account = event.get("account")
    if is_stripe_id(account, MAX_ACCOUNT_ID_CHARS):
        hints += session.scalars(
            select(StripeConnection.workspace_id).where(StripeConnection.account_id == account)
        ).all()
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if isinstance(obj, Mapping):
        metadata = obj.get("metadata")
        workspace = metadata.get("workspace_id") if isinstance(metadata, Mapping) else None
        if isinstance(workspace, str) and 0 < len(workspace) <= 64 and "\x00" not in workspace:
            hints.append(workspace)
        if obj.get("object") == "checkout.session" and is_stripe_id(obj.get("id")):
            hints += session.scalars(
                select(CheckoutSessionRecord.workspace_id).where(CheckoutSessionRecord.session_id == obj["id"])
            ).all()
        intent = obj.get("payment_intent")
        if is_stripe_id(intent):
            hints += session.scalars(
                select(Invoice.workspace_id).where(Invoice.payment_intent_id == intent).limit(1)
            ).all()
    unique: list[str] = []
    for hint in hints:
        if hint and hint not in unique:
            unique.append(hint)
    return unique[:5]


def own_key_candidates(event: Mapping[str, Any]) -> list[Candidate]:
    """Endpoint secrets of own-key workspaces the event points at."""
    state = get_state()
    workspaces = _hinted_workspaces(event)
    if not workspaces:
        return []
    connections = state.session.scalars(
        select(StripeConnection).where(
            StripeConnection.workspace_id.in_(workspaces),
            StripeConnection.mode == "own_key",
            StripeConnection.webhook_secret_encrypted.is_not(None),
        )
    ).all()
    candidates = []
    for connection in connections:
        secrets = stored_secrets(connection)  # an unreadable secret is None (logged there), never raised
        if secrets.webhook_secret is None:
            continue
        live = _is_live_key(secrets.secret_key) if secrets.secret_key else connection.livemode
        candidates.append(Candidate(secrets.webhook_secret, connection.workspace_id, live))
    return candidates


def _accepts(payload: str, signature: str, secret: str, tolerance: int | None) -> bool:
    """Whether the SDK accepts ``signature`` for ``payload`` by ``secret``: signature *and*
    age together, one parser reading the header. The SDK refuses a timestamp older than
    ``tolerance`` seconds (``0`` or ``None``: no age check); it accepts a future one, and
    so does the plugin: only Stripe's signer holds the secret, and it signs with its
    current time."""
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance)
    except stripe.SignatureVerificationError:
        return False
    return True


def _first_match(payload: str, signature: str, candidates: list[Candidate], tolerance: int | None):
    return next((c for c in candidates if _accepts(payload, signature, c.secret, tolerance)), None)


def _json(payload: bytes) -> tuple[str, Any]:
    """The body as text and as JSON, or :class:`WebhookRejected`.

    Stripe sends UTF-8 JSON. Refused: other encodings (the SDK signs the UTF-8 text),
    ``NaN``/``Infinity`` (not JSON) and numbers too large for a float, nesting too deep
    to parse, and escapes that are not Unicode text (a lone surrogate such as
    ``"\\ud800"``, which no database can store).
    """
    try:
        text = payload.decode("utf-8")
        claimed = json.loads(text, parse_constant=_not_json, parse_float=_finite)
        if "\\u" in text or text.count("[") + text.count("{") > _SHALLOW:
            # Only a ``\u`` escape can make a surrogate (the UTF-8 text has none), and
            # only deep nesting can fail to encode again: then the value is encoded as
            # the database's JSON will be, to find out. Otherwise that cannot fail.
            json.dumps(claimed, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        raise WebhookRejected("The body is not a JSON Stripe event.") from None
    return text, claimed


#: Fewer opening brackets than this cannot nest deep enough to reach the recursion limit.
_SHALLOW = 200


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):  # 1e999: no database stores it
        raise ValueError(f"{literal[:20]} is out of range")
    return value


def verify_event(payload: bytes, signature: str | None, *, endpoint: str | None = None) -> VerifiedEvent:
    """The verified event in ``payload``, or :class:`WebhookRejected` saying why not.

    ``endpoint``: ``"connect"`` when the request came to the Connect-only URL (only
    Connect events, verified with the Connect secrets); ``None`` for the shared URL,
    where the event's ``account`` says which endpoint's secrets apply.
    """
    config = current_app.config
    if signature is not None and not signature.isascii():
        # Stripe's header is ASCII (``t=<digits>,v1=<hex>``). The SDK compares ``v1`` values
        # with ``hmac.compare_digest``, which raises TypeError on non-ASCII text instead of
        # refusing it: such a header never reaches the SDK. (Not a second parser: the header
        # is not split, only refused whole.)
        raise WebhookRejected("The Stripe-Signature header is not one Stripe sends (it is not ASCII).",
                              refusal=Refusal("header", endpoint=endpoint or "account"))
    try:
        text, claimed = _json(payload)
    except WebhookRejected as rejected:
        rejected.refusal = Refusal("not_json", endpoint=endpoint or "account")
        raise
    if not isinstance(claimed, dict) or not isinstance(claimed.get("id"), str) or not isinstance(
        claimed.get("type"), str
    ):
        raise WebhookRejected("The body is not a Stripe event.", refusal=Refusal("not_event", endpoint=endpoint or "account"))

    kind = event_endpoint(claimed)
    if endpoint == "connect" and kind != "connect":
        raise WebhookRejected("This URL receives the Connect endpoint's events, which carry the connected "
                              "`account`; point the account endpoint at .../webhooks/stripe.",
                              refusal=Refusal("wrong_endpoint", endpoint="connect"))
    if kind == "connect":
        matched = _verify_connect(config, text, claimed, signature)
    else:
        matched = _verify_account(config, text, claimed, signature)

    try:
        check_event(claimed)
    except MalformedStripeObject as malformed:
        raise WebhookRejected(
            f"The body is not an event Stripe sends: {malformed.message}",
            refusal=Refusal("malformed", endpoint=kind, signed=True, scope=matched.scope_workspace,
                            event_id=claimed["id"], event_type=claimed["type"]),
        ) from None

    mismatch = None
    if claimed["livemode"] != matched.livemode:
        mode = "live" if claimed["livemode"] else "test"
        key_mode = "live" if matched.livemode else "test"
        whose = "the workspace's own Stripe key" if matched.scope_workspace else "the platform's Stripe key"
        mismatch = (f"A {mode}-mode event on a {key_mode}-mode endpoint ({whose} is a {key_mode}-mode key): "
                    "acknowledged and not acted on. Stripe sends connected accounts' test events to live "
                    "Connect endpoints (https://docs.stripe.com/connect/webhooks).")
    return VerifiedEvent(event=claimed, scope_workspace=matched.scope_workspace, endpoint=kind,
                         mode_mismatch=mismatch)


def _refuse_unmatched(text: str, signature: str, tried: list[Candidate], endpoint: str, tolerance: int,
                      hint: str = "") -> None:
    """Refuse a delivery no candidate accepted; only say why. A signature that matches at any
    age is stale."""
    if _first_match(text, signature, tried, None) is not None:
        raise WebhookRejected(f"The signature timestamp is older than the tolerance ({tolerance} s): "
                              "a late or replayed delivery.", refusal=Refusal("stale", endpoint=endpoint))
    raise WebhookRejected(f"The Stripe-Signature does not match any configured webhook secret{hint}.",
                          refusal=Refusal("signature", endpoint=endpoint))


def _require_signature(signature: str | None, endpoint: str) -> None:
    if not signature:
        raise WebhookRejected("The Stripe-Signature header is missing.",
                              refusal=Refusal("no_signature", endpoint=endpoint))


def _verify_connect(config, text: str, claimed: Mapping[str, Any], signature: str | None) -> Candidate:
    """A Connect event: the Connect endpoint's secrets, and no other."""
    setting = WEBHOOK_SECRET_SETTINGS["connect"]
    tolerance = int(config["INVOICING_STRIPE_WEBHOOK_TOLERANCE"])
    candidates = platform_candidates(config, "connect")
    if not candidates:
        log.error("Stripe webhook refused: a Connect event (%s) arrived but no Connect endpoint signing "
                  "secret is configured (%s)", claimed.get("type") if isinstance(claimed.get("type"), str)
                  and len(claimed["type"]) <= 96 else "?", setting)
        raise WebhookRejected(f"No Connect endpoint signing secret is configured ({setting}), so events of "
                              "connected accounts cannot be verified.",
                              refusal=Refusal("no_secret", endpoint="connect"))
    _require_signature(signature, "connect")
    matched = _first_match(text, signature, candidates, tolerance)
    if matched is not None:
        return matched
    hint = ""
    if _first_match(text, signature, platform_candidates(config, "account"), None) is not None:
        # One secret for both kinds is what `stripe listen` uses; say which setting lacks it.
        hint = (f" for Connect events ({setting}); it is signed with the account endpoint's secret, as "
                f"`stripe listen` signs both kinds: put that secret in {setting} as well")
    _refuse_unmatched(text, signature, candidates, "connect", tolerance, hint)
    raise AssertionError("unreachable")  # pragma: no cover


def _verify_account(config, text: str, claimed: Mapping[str, Any], signature: str | None) -> Candidate:
    """An event of an account itself: the platform's account endpoint, or an own-key
    workspace's endpoint."""
    # The platform's secrets first: most events come from the platform endpoint, and
    # trying them needs no query. Own-key workspaces' secrets are looked up (reads
    # only) just when no platform secret matches -- the same order as before, with
    # the lookups skipped when they cannot change the outcome.
    tolerance = int(config["INVOICING_STRIPE_WEBHOOK_TOLERANCE"])
    platform = platform_candidates(config, "account")
    own_key: list[Candidate] = []
    matched = _first_match(text, signature, platform, tolerance) if signature else None
    if matched is not None:
        return matched
    own_key = own_key_candidates(claimed)
    # Lookups for hints are reads only; end that transaction before anything else happens.
    get_state().session.rollback()
    if not platform and not own_key:
        log.error("Stripe webhook refused: no webhook signing secret is configured "
                  "(INVOICING_STRIPE_WEBHOOK_SECRET)")
        raise WebhookRejected("No signing secret of the account endpoint is configured "
                              "(INVOICING_STRIPE_WEBHOOK_SECRET), so events of the platform's own "
                              "account (payments, refunds, disputes) cannot be verified.",
                              refusal=Refusal("no_secret", endpoint="account"))
    _require_signature(signature, "account")
    matched = _first_match(text, signature, own_key, tolerance)
    if matched is not None:
        return matched
    hint = ""
    if _first_match(text, signature, platform_candidates(config, "connect"), None) is not None:
        hint = (" for account events (INVOICING_STRIPE_WEBHOOK_SECRET); it is signed with the Connect "
                "endpoint's secret: the two settings look swapped")
    _refuse_unmatched(text, signature, platform + own_key, "account", tolerance, hint)
    raise AssertionError("unreachable")  # pragma: no cover
