"""Stripe events as Stripe sends them: a JSON body and a ``Stripe-Signature`` header.

The header is Stripe's v1 scheme: ``t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``
(what ``stripe.WebhookSignature.verify_header`` checks).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from invoicing_plugin.gateways.stripe_gateway import STRIPE_API_VERSION

from .data import HookInvoice


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def checkout_completed(invoice: HookInvoice, *, event_id: str, created: int | None = None) -> bytes:
    """``checkout.session.completed`` for ``invoice``'s current session, paid in full."""
    created = int(time.time()) if created is None else created
    session = {
        "id": invoice.checkout_session_id,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": invoice.amount_minor,
        "amount_total": invoice.amount_minor,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": f"https://app.example.test/invoicing/pay/{invoice.id}?cancelled=1",
        "client_reference_id": str(invoice.id),
        "consent": None,
        "created": created - 120,
        "currency": invoice.currency.lower(),
        "customer": None,
        "customer_creation": "if_required",
        "customer_details": {"email": invoice.client_email, "name": "Accounts Payable", "phone": None,
                             "address": {"country": "GB", "postal_code": "EC1A 1BB", "city": None, "line1": None,
                                         "line2": None, "state": None},
                             "tax_exempt": "none", "tax_ids": []},
        "customer_email": invoice.client_email,
        "expires_at": created + 86_000,
        "invoice": None,
        "livemode": False,
        "locale": None,
        "metadata": {"invoice_id": str(invoice.id), "workspace_id": invoice.workspace_id, "number": invoice.number},
        "mode": "payment",
        "payment_intent": f"pi_3Bench{invoice.id:0>14}",
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "paid",
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "complete",
        "submit_type": "pay",
        "subscription": None,
        "success_url": f"https://app.example.test/invoicing/pay/{invoice.id}?paid=1",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
    }
    event = {
        "id": event_id,
        "object": "event",
        "account": invoice.account_id,
        "api_version": STRIPE_API_VERSION,
        "created": created,
        "data": {"object": session},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
    }
    return json.dumps(event, separators=(",", ":")).encode()


def event_id_for(invoice: HookInvoice, tag: str = "") -> str:
    return f"evt_1Bench{tag}{invoice.id:0>16}"
