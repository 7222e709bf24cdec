"""The Stripe webhook endpoint (POST {INVOICING_URL_PREFIX}/webhooks/stripe)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("invoicing_webhooks", __name__)


@bp.post("/stripe")
def stripe_webhook():
    # Until event handling lands, refuse everything: an unsigned or unhandled
    # event must never be processed. Stripe retries non-2xx deliveries.
    return {"error": "webhook processing is not available"}, 503
