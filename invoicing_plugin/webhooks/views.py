"""The Stripe webhook endpoints.

``POST {INVOICING_URL_PREFIX}/webhooks/stripe`` receives both of the platform's
endpoints (the account endpoint and the Connect endpoint may share this URL; the
event's ``account`` says which secrets verify it) and own-key workspaces' endpoints;
``POST .../webhooks/stripe/connect`` is the same, for the Connect endpoint only
(https://docs.stripe.com/connect/webhooks).

Thin by design: limit the body, verify (:mod:`.verification`), hand the event to
:func:`.processing.process_event`, and answer. Stripe retries any non-2xx answer for
days, and disables an endpoint after repeated failures, so:

* 400 -- not a verified event (bad or missing signature, stale timestamp, no secret
  configured for the endpoint, or a signed body that is not an event Stripe sends):
  nothing of the event is recorded; the refusal is counted (:mod:`.refusals`);
* 413 -- body larger than ``INVOICING_STRIPE_WEBHOOK_MAX_BYTES`` (by its Content-Length,
  or while a chunked body is read); counted too;
* 200 -- recorded (processed, ignored, or a duplicate that changed nothing); an event
  whose ``livemode`` is not the key's mode is recorded as ignored with the reason and
  never acted on;
* 500 -- a handler failed: the effect was rolled back, the error stored, and Stripe's
  retry will process the event again.

The blueprint is exempt from CSRF (registered in :mod:`invoicing_plugin.web`): it
authenticates by signature instead.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from .processing import process_event, record_ignored
from .refusals import Refusal, record_refusal
from .verification import WebhookRejected, verify_event

log = logging.getLogger("invoicing_plugin.webhooks")

bp = Blueprint("invoicing_webhooks", __name__)


@bp.post("/stripe")
def stripe_webhook():
    return _receive(None)


@bp.post("/stripe/connect")
def stripe_connect_webhook():
    return _receive("connect")


def _receive(endpoint: str | None):
    max_bytes = int(current_app.config["INVOICING_STRIPE_WEBHOOK_MAX_BYTES"])
    # A body without Content-Length (``Transfer-Encoding: chunked``) is cut by Werkzeug at
    # ``max_content_length`` without an error, so read one byte more than allowed: getting
    # it means the body is too large.
    request.max_content_length = max_bytes + 1
    too_large = False
    try:
        if request.content_length is not None and request.content_length > max_bytes:
            raise RequestEntityTooLarge()
        payload = request.get_data(cache=False)
    except RequestEntityTooLarge:
        too_large = True
    if too_large or len(payload) > max_bytes:
        message = f"The body is larger than {max_bytes} bytes."
        record_refusal(Refusal("too_large", endpoint=endpoint or "account", status=413), message)
        return {"error": message}, 413

    try:
        verified = verify_event(payload, request.headers.get("Stripe-Signature"), endpoint=endpoint)
    except WebhookRejected as rejected:
        log.warning("Stripe webhook refused: %s", rejected.message)
        record_refusal(rejected.refusal, rejected.message)
        return {"error": rejected.message}, rejected.status

    if verified.mode_mismatch is not None:
        log.info("Stripe event %s not acted on: %s", verified.id, verified.mode_mismatch)
        result = record_ignored(verified.event, workspace_id=verified.scope_workspace,
                                note=verified.mode_mismatch)
        return {"received": True, "event": result.event_id, "status": result.status}, 200

    result = process_event(verified.event, scope_workspace=verified.scope_workspace, source="webhook")
    if not result.ok:
        return {"error": "The event could not be processed; it was stored and Stripe will retry.",
                "event": result.event_id}, 500
    return {"received": True, "event": result.event_id, "status": result.status}, 200
