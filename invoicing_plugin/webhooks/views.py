"""The Stripe webhook endpoint (POST {INVOICING_URL_PREFIX}/webhooks/stripe).

Thin by design: limit the body, verify (:mod:`.verification`), hand the event to
:func:`.processing.process_event`, and answer. Stripe retries any non-2xx answer for
days, so:

* 400 -- not a verified event (bad or missing signature, stale timestamp, wrong mode,
  no secret configured, or a signed body that is not an event Stripe sends): nothing
  is recorded;
* 413 -- body larger than ``INVOICING_STRIPE_WEBHOOK_MAX_BYTES`` (by its Content-Length,
  or while a chunked body is read);
* 200 -- recorded (processed, ignored, or a duplicate that changed nothing);
* 500 -- a handler failed: the effect was rolled back, the error stored, and Stripe's
  retry will process the event again.

The blueprint is exempt from CSRF (registered in :mod:`invoicing_plugin.web`): it
authenticates by signature instead.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from .processing import process_event
from .verification import WebhookRejected, verify_event

log = logging.getLogger("invoicing_plugin.webhooks")

bp = Blueprint("invoicing_webhooks", __name__)


@bp.post("/stripe")
def stripe_webhook():
    max_bytes = int(current_app.config["INVOICING_STRIPE_WEBHOOK_MAX_BYTES"])
    # A body without Content-Length (``Transfer-Encoding: chunked``) is cut by Werkzeug at
    # ``max_content_length`` without an error, so read one byte more than allowed: getting
    # it means the body is too large.
    request.max_content_length = max_bytes + 1
    try:
        if request.content_length is not None and request.content_length > max_bytes:
            raise RequestEntityTooLarge()
        payload = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return {"error": f"The body is larger than {max_bytes} bytes."}, 413
    if len(payload) > max_bytes:
        return {"error": f"The body is larger than {max_bytes} bytes."}, 413

    try:
        verified = verify_event(payload, request.headers.get("Stripe-Signature"))
    except WebhookRejected as rejected:
        log.warning("Stripe webhook refused: %s", rejected.message)
        return {"error": rejected.message}, rejected.status

    result = process_event(verified.event, scope_workspace=verified.scope_workspace, source="webhook")
    if not result.ok:
        return {"error": "The event could not be processed; it was stored and Stripe will retry.",
                "event": result.event_id}, 500
    return {"received": True, "event": result.event_id, "status": result.status}, 200
