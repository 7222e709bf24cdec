"""Checkout Sessions for invoices: the stable pay link, the session's parameters, the fee.

Used by sending (the first session) and the pay link (a fresh session when the old
one expired). :func:`create_checkout` is the only place sessions are created, and it
records each one (:func:`~.payment_binding.remember_checkout_session`): only recorded
sessions bind Stripe's news to invoices.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from flask import current_app

from ..domain.email import stripe_email
from ..domain.fees import application_fee
from ..domain.money import Money
from ..gateways.stripe_gateway import CheckoutSession, GatewayError
from ..host import HostWorkspace
from ..persistence.models import Invoice
from .fees import plan_fee_bps
from .links import external_url
from .payment_binding import remember_checkout_session
from .views import InvoiceSnapshot

log = logging.getLogger("invoicing_plugin.sending")


def pay_link(invoice: Invoice | InvoiceSnapshot) -> str:
    """The stable link the client gets: it never expires while the invoice is payable."""
    return external_url("invoicing_public.pay", token=invoice.public_token)


def checkout_idempotency_key(invoice: Invoice) -> str:
    return f"invoicing-checkout-{invoice.id}-{invoice.checkout_attempt}"


def checkout_params(invoice: Invoice, route) -> dict:
    """The Checkout Session for ``invoice`` (which has its number and locked fee)."""
    metadata = {
        "invoice_id": str(invoice.id),
        "workspace_id": str(invoice.workspace_id),
        "invoice_number": invoice.number or "",
    }
    payment_intent_data: dict = {"metadata": dict(metadata), "description": f"Invoice {invoice.number}"}
    if route.takes_application_fee:
        payment_intent_data["application_fee_amount"] = int(invoice.application_fee_minor or 0)
        payment_intent_data["transfer_data"] = {"destination": route.account_id}
    seconds = int(current_app.config["INVOICING_CHECKOUT_EXPIRES_SECONDS"])
    link = pay_link(invoice)
    params = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": invoice.currency.lower(),
                    "unit_amount": invoice.amount_minor,
                    "product_data": {"name": f"Invoice {invoice.number}", "description": invoice.description[:1000]},
                },
                "quantity": 1,
            }
        ],
        "metadata": metadata,
        "payment_intent_data": payment_intent_data,
        "client_reference_id": str(invoice.id),
        "success_url": external_url("invoicing_public.pay_success", token=invoice.public_token)
        + "?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": link + "?cancelled=1",
        "expires_at": int(time.time()) + seconds,
    }
    # customer_email only prefills Checkout's e-mail field; an address Stripe refuses
    # (email_invalid) would fail the whole session, so it is left out and Checkout asks.
    email = stripe_email(invoice.client_email)
    if email:
        params["customer_email"] = email
    return params


def lock_fee(invoice: Invoice, route, workspace: HostWorkspace) -> None:
    """Fix the platform fee now: a later plan change never alters a sent invoice."""
    invoice.stripe_mode = route.mode
    invoice.stripe_account_id = route.account_id
    if route.takes_application_fee:
        bps = plan_fee_bps(workspace.plan)  # UnknownPlan: never a silent 0 %
        invoice.fee_bps = bps
        invoice.application_fee_minor = application_fee(Money(invoice.amount_minor, invoice.currency), bps).minor
    else:  # the workspace's own Stripe account: no platform fee
        invoice.fee_bps = 0
        invoice.application_fee_minor = 0


def create_checkout(invoice: Invoice, route) -> CheckoutSession:
    """Create the session for the invoice's current attempt, store it on the invoice and
    record it (:func:`~.payment_binding.remember_checkout_session`) in the caller's transaction.

    A Stripe ``idempotency`` error means this attempt's key was used with other
    parameters (an earlier try reached Stripe, then failed here): move to the next
    attempt once. That earlier session was never shown to anyone and expires.
    """
    for _ in range(2):
        try:
            session = route.gateway.create_checkout_session(
                checkout_params(invoice, route), idempotency_key=checkout_idempotency_key(invoice)
            )
            break
        except GatewayError as exc:
            if exc.kind != "idempotency":
                raise
            invoice.checkout_attempt += 1
    else:  # pragma: no cover - two conflicts in a row
        raise GatewayError("Stripe refused to create the payment page. Please try again.", kind="idempotency")
    invoice.checkout_session_id = session.id
    invoice.checkout_url = session.url
    # Every session is kept with its invoice: only these bind Stripe's news to invoices.
    remember_checkout_session(invoice, session.id, mode=route.mode, account_id=route.account_id)
    invoice.checkout_expires_at = (
        datetime.fromtimestamp(session.expires_at, tz=timezone.utc) if session.expires_at else None
    )
    return session


def expire_quietly(route, session_id: str) -> None:
    try:
        route.gateway.expire_checkout_session(session_id)
    except GatewayError:
        log.warning("could not expire abandoned Checkout Session %s; it expires on its own", session_id)
