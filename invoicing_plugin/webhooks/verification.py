"""Is this request really from Stripe? Signature, age and mode checks, before anything else.

A webhook is trusted only if its ``Stripe-Signature`` header verifies (Stripe's
``v1`` HMAC-SHA256 scheme, checked by the ``stripe`` SDK) against one of the
candidate secrets:

* the platform endpoint's secret(s) from ``INVOICING_STRIPE_WEBHOOK_SECRET`` -- two at
  once while rotating -- for Connect and platform events; and
* for workspaces that use their own Stripe key, the secret of the endpoint created on
  *their* account (``StripeConnection.webhook_secret_encrypted``).

The body is parsed before verification only to find which own-key workspace the event
*claims* to concern (its ``account``, the object's ``metadata.workspace_id``, or the
invoice holding its Checkout Session / PaymentIntent). Nothing is written or acted on
until a signature matches. An event verified with a workspace's secret is *scoped* to
that workspace: it can only ever touch that workspace's invoices.

Then the timestamp must be within ``INVOICING_STRIPE_WEBHOOK_TOLERANCE`` seconds (either
way, so a replayed old signature is refused) and ``livemode`` must match the key the
secret belongs to (a live event never reaches a test set-up, and vice versa).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping

import stripe
from flask import current_app
from sqlalchemy import select

from ..config import webhook_secrets
from ..extension import get_state
from ..persistence.models import Invoice, StripeConnection
from ..services.connections import stored_secrets

log = logging.getLogger("invoicing_plugin.webhooks")


class WebhookRejected(Exception):
    """The request is not a verified Stripe event; answer ``status`` and process nothing."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Candidate:
    secret: str
    scope_workspace: str | None  # None: the platform's endpoint
    livemode: bool  # the mode of the key behind this endpoint


@dataclass(frozen=True)
class VerifiedEvent:
    event: dict[str, Any]
    scope_workspace: str | None

    @property
    def id(self) -> str:
        return self.event["id"]


def _is_live_key(key: str | None) -> bool:
    return bool(key) and "_live_" in key


def platform_candidates(config: Mapping[str, Any]) -> list[Candidate]:
    live = _is_live_key(config.get("INVOICING_STRIPE_API_KEY"))
    return [Candidate(secret, None, live) for secret in webhook_secrets(config)]


def _hinted_workspaces(event: Mapping[str, Any]) -> list[str]:
    """Workspaces an (unverified) event claims to concern; used only to pick secrets."""
    session = get_state().session
    hints: list[str] = []
    account = event.get("account")
    if isinstance(account, str) and account:
        hints += session.scalars(
            select(StripeConnection.workspace_id).where(StripeConnection.account_id == account)
        ).all()
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if isinstance(obj, Mapping):
        metadata = obj.get("metadata")
        if isinstance(metadata, Mapping) and isinstance(metadata.get("workspace_id"), str):
            hints.append(metadata["workspace_id"])
        if obj.get("object") == "checkout.session" and isinstance(obj.get("id"), str):
            hints += session.scalars(
                select(Invoice.workspace_id).where(Invoice.checkout_session_id == obj["id"]).limit(1)
            ).all()
        intent = obj.get("payment_intent")
        if isinstance(intent, str) and intent:
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


def _timestamp(header: str) -> int:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                break
    raise WebhookRejected("The Stripe-Signature header has no valid timestamp.")


def _first_match(payload: bytes, signature: str, candidates: list[Candidate]) -> Candidate | None:
    for candidate in candidates:
        try:
            stripe.WebhookSignature.verify_header(payload, signature, candidate.secret, tolerance=None)
        except stripe.SignatureVerificationError:
            continue
        return candidate
    return None


def verify_event(payload: bytes, signature: str | None) -> VerifiedEvent:
    """The verified event in ``payload``, or :class:`WebhookRejected` saying why not."""
    config = current_app.config
    try:
        claimed = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected("The body is not a JSON Stripe event.") from None
    if not isinstance(claimed, dict) or not isinstance(claimed.get("id"), str) or not isinstance(
        claimed.get("type"), str
    ):
        raise WebhookRejected("The body is not a Stripe event.")

    # The platform's secrets first: most events come from the platform endpoint, and
    # trying them needs no query. Own-key workspaces' secrets are looked up (reads
    # only) just when no platform secret matches -- the same order as before, with
    # the lookups skipped when they cannot change the outcome.
    platform = platform_candidates(config)
    matched = _first_match(payload, signature, platform) if signature else None
    if matched is None:
        own_key = own_key_candidates(claimed)
        # Lookups for hints are reads only; end that transaction before anything else happens.
        get_state().session.rollback()
        if not platform and not own_key:
            log.error("Stripe webhook refused: no webhook signing secret is configured "
                      "(INVOICING_STRIPE_WEBHOOK_SECRET)")
            raise WebhookRejected("No webhook signing secret is configured, so no event can be verified.")
        if not signature:
            raise WebhookRejected("The Stripe-Signature header is missing.")
        matched = _first_match(payload, signature, own_key)
    if matched is None:
        raise WebhookRejected("The Stripe-Signature does not match any configured webhook secret.")

    tolerance = int(config["INVOICING_STRIPE_WEBHOOK_TOLERANCE"])
    age = time.time() - _timestamp(signature)
    if tolerance and abs(age) > tolerance:
        raise WebhookRejected(f"The signature timestamp is {int(abs(age))} s away from now (tolerance {tolerance} s).")

    if bool(claimed.get("livemode")) != matched.livemode:
        mode = "live" if claimed.get("livemode") else "test"
        key_mode = "live" if matched.livemode else "test"
        raise WebhookRejected(f"A {mode}-mode event cannot be processed with a {key_mode}-mode Stripe key.")
    return VerifiedEvent(event=claimed, scope_workspace=matched.scope_workspace)
