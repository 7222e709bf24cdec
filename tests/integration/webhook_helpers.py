"""Helpers for the webhook, reconcile and ordering tests.

Invoices in ``sent`` state get a *real* Checkout Session on the emulator with the
same shape the send service uses (metadata ``invoice_id``/``workspace_id``/``number``,
``client_reference_id``, ``payment_intent_data.metadata``, destination charge with the
application fee). Events are read back from the emulator through the real SDK and
signed with Stripe's own scheme (``stripe.WebhookSignature.generate_signature_header``).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

import stripe
from sqlalchemy import func, select

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import Invoice, InvoiceEvent, Payment, StripeConnection, WebhookEvent, utcnow
from invoicing_plugin.services import payments
from tests.conftest import CONNECT_WEBHOOK_SECRET, PLATFORM_KEY, WEBHOOK_SECRET
from tests.integration.conftest import connect_workspace  # noqa: F401  (one way to connect, re-exported)

ENDPOINT = "/invoicing/webhooks/stripe"


def own_key_workspace(app, emulator, workspace_id: str) -> tuple[str, str, str]:
    """A workspace on its own Stripe key with its own endpoint secret: (key, account id, secret)."""
    key = "sk_test_" + secrets.token_hex(12)
    webhook_secret = "whsec_" + secrets.token_hex(16)
    with app.app_context():
        state = get_state()
        account = state.gateways.for_key(key).retrieve_own_account()
        state.session.add(
            StripeConnection(
                workspace_id=workspace_id, mode="own_key", status="active", account_id=account.id,
                charges_enabled=True, payouts_enabled=True, details_submitted=True, attempt=1,
                secret_key_encrypted=state.secret_box.encrypt(key), secret_key_hint="sk_test_…",
                webhook_endpoint_id="we_test", webhook_secret_encrypted=state.secret_box.encrypt(webhook_secret),
                connected_at=utcnow(),
            )
        )
        state.session.commit()
    return key, account.id, webhook_secret


@dataclass
class SentInvoice:
    id: int
    workspace_id: str
    session_id: str
    number: str


def new_session(app, invoice_id: int, *, amount: int | None = None, key: str | None = None,
                account_id: str | None = None, make_current: bool = True) -> str:
    """Create a Checkout Session for the invoice (another attempt), as the send service would."""
    with app.app_context():
        state = get_state()
        invoice = state.session.get(Invoice, invoice_id)
        invoice.checkout_attempt += 1
        metadata = {"invoice_id": str(invoice.id), "workspace_id": invoice.workspace_id, "number": invoice.number}
        pi_data: dict = {"metadata": dict(metadata), "description": f"Invoice {invoice.number}"}
        if invoice.stripe_mode == "connect":
            pi_data["transfer_data"] = {"destination": account_id or invoice.stripe_account_id}
            pi_data["application_fee_amount"] = invoice.application_fee_minor
        params = {
            "mode": "payment",
            "line_items": [{
                "quantity": 1,
                "price_data": {"currency": invoice.currency.lower(), "unit_amount": amount or invoice.amount_minor,
                               "product_data": {"name": f"Invoice {invoice.number}"}},
            }],
            "metadata": metadata,
            "client_reference_id": str(invoice.id),
            "customer_email": invoice.client_email,
            "payment_intent_data": pi_data,
            "success_url": "http://localhost/invoicing/pay/x/return",
            "cancel_url": "http://localhost/invoicing/pay/x",
        }
        gateway = state.gateways.for_key(key or PLATFORM_KEY)
        session = gateway.create_checkout_session(
            params, idempotency_key=f"invoicing-checkout-{invoice.id}-{invoice.checkout_attempt}-{secrets.token_hex(4)}"
        )
        if make_current:
            invoice.checkout_session_id = session.id
            invoice.checkout_url = session.url
        # Recorded as the send service records every session it creates.
        payments.remember_checkout_session(invoice, session.id, mode=invoice.stripe_mode,
                                           account_id=account_id or invoice.stripe_account_id)
        state.session.commit()
        return session.id


def sent_invoice(app, workspace_id: str, account_id: str, *, amount: int = 50_000, currency: str = "GBP",
                 session_amount: int | None = None, mode: str = "connect", key: str | None = None,
                 client_email: str = "billing@globex.test", number: str | None = None) -> SentInvoice:
    """A ``sent`` invoice of ``workspace_id`` with a real, open Checkout Session."""
    with app.app_context():
        session = get_state().session
        count = session.scalar(select(func.count()).select_from(Invoice)) or 0
        number = number or f"INV-{count + 1:04d}-{secrets.token_hex(2)}"
        invoice = Invoice(
            workspace_id=workspace_id, number=number, status="sent", client_id="1", client_name="Globex Corporation",
            client_email=client_email, amount_minor=amount, currency=currency, description="Penetration test",
            send_method="stripe_link", stripe_mode=mode, stripe_account_id=account_id,
            fee_bps=350 if mode == "connect" else None,
            application_fee_minor=amount * 350 // 10_000 if mode == "connect" else None,
            sent_at=utcnow(),
        )
        session.add(invoice)
        session.commit()
        invoice_id = invoice.id
    session_id = new_session(app, invoice_id, amount=session_amount, key=key, account_id=account_id)
    return SentInvoice(invoice_id, workspace_id, session_id, number)


# -- events ---------------------------------------------------------------------------------


def events(emulator, type_: str | None = None, *, key: str = PLATFORM_KEY) -> list[dict]:
    """Events of the key's account, oldest first, as plain dicts (what a webhook body holds)."""
    client = emulator.stripe_client(key)
    params: dict = {"limit": 100}
    if type_:
        params["type"] = type_
    listed = client.v1.events.list(params)
    return [e.to_dict() for e in reversed(listed.data)]


def event_for(emulator, type_: str, object_id: str, *, key: str = PLATFORM_KEY) -> dict:
    found = [e for e in events(emulator, type_, key=key) if e["data"]["object"]["id"] == object_id]
    assert found, f"no {type_} event for {object_id}"
    return found[-1]


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)


def platform_secret_for(event: dict | str) -> str:
    """The platform endpoint secret Stripe signs ``event`` with: the Connect endpoint's for an
    event of a connected account (it carries ``account``), else the account endpoint's
    (https://docs.stripe.com/connect/webhooks)."""
    if isinstance(event, dict) and event.get("account") is not None:
        return CONNECT_WEBHOOK_SECRET
    return WEBHOOK_SECRET


def add_platform_endpoints(control, url: str, **options) -> tuple[dict, dict]:
    """Register the platform's two endpoints on the emulator, as docs/webhooks.md says:
    an account endpoint and a Connect endpoint, each with its own secret. Returns both."""
    account = control.add_webhook_endpoint(url, secret=WEBHOOK_SECRET, **options)
    connect = control.add_webhook_endpoint(url, secret=CONNECT_WEBHOOK_SECRET, connect=True, **options)
    return account, connect


def post_event(client, event: dict | str, *, secret: str | None = None, timestamp: int | None = None,
               signature: str | None = None):
    payload = event if isinstance(event, str) else json.dumps(event)
    secret = secret if secret is not None else platform_secret_for(event)
    header = signature if signature is not None else sign(payload, secret, timestamp)
    return client.post(ENDPOINT, data=payload, headers={"Stripe-Signature": header},
                       content_type="application/json")


def now() -> int:
    return int(time.time())


# -- reading the database ---------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceState:
    status: str
    amount_paid_minor: int | None
    amount_refunded_minor: int
    payment_intent_id: str | None
    checkout_session_id: str | None
    attention: str | None
    attention_detail: str | None
    confirmation_sent: bool
    payments: int  # payment_succeeded audit entries
    payment_rows: int = 0  # invoicing_payments rows (issue 15): one per payment received

    @property
    def comparable(self) -> tuple:
        return (self.status, self.amount_paid_minor, self.amount_refunded_minor, self.payment_intent_id,
                self.checkout_session_id, self.attention, self.payments, self.payment_rows)


def invoice_state(app, invoice_id: int) -> InvoiceState:
    with app.app_context():
        session = get_state().session
        invoice = session.get(Invoice, invoice_id)
        payments = session.scalar(
            select(func.count()).select_from(InvoiceEvent).where(
                InvoiceEvent.invoice_id == invoice_id, InvoiceEvent.action == "payment_succeeded"
            )
        )
        state = InvoiceState(
            invoice.status, invoice.amount_paid_minor, invoice.amount_refunded_minor, invoice.payment_intent_id,
            invoice.checkout_session_id, invoice.attention, invoice.attention_detail,
            invoice.confirmation_sent_at is not None, payments,
            session.scalar(select(func.count()).select_from(Payment).where(Payment.invoice_id == invoice_id)),
        )
        return state


def audit(app, invoice_id: int, action: str | None = None) -> list[InvoiceEvent]:
    with app.app_context():
        session = get_state().session
        stmt = select(InvoiceEvent).where(InvoiceEvent.invoice_id == invoice_id).order_by(InvoiceEvent.id)
        if action:
            stmt = stmt.where(InvoiceEvent.action == action)
        rows = list(session.scalars(stmt))
        session.expunge_all()
        return rows


def webhook_rows(app, event_id: str | None = None) -> list[WebhookEvent]:
    with app.app_context():
        session = get_state().session
        stmt = select(WebhookEvent).order_by(WebhookEvent.id)
        if event_id:
            stmt = stmt.where(WebhookEvent.event_id == event_id)
        rows = list(session.scalars(stmt))
        session.expunge_all()
        return rows


def set_invoice(app, invoice_id: int, **values) -> None:
    """Test set-up only: put an invoice in a given state (e.g. voided) directly."""
    with app.app_context():
        session = get_state().session
        invoice = session.get(Invoice, invoice_id)
        for name, value in values.items():
            setattr(invoice, name, value)
        session.commit()


def intent_charge(emulator, payment_intent_id: str) -> str:
    return emulator.control.get_object(payment_intent_id)["latest_charge"]


def pay_and_deliver(app, client, emulator, invoice) -> tuple[str, str]:
    """Pay the invoice's session and deliver ``checkout.session.completed``: ``(payment intent, charge)``."""
    emulator.control.pay_session(invoice.session_id)
    assert post_event(client, event_for(emulator, "checkout.session.completed", invoice.session_id)).status_code == 200
    intent = invoice_state(app, invoice.id).payment_intent_id
    return intent, intent_charge(emulator, intent)
