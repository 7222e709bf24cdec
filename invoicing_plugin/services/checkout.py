"""Checkout Sessions for invoices: the stable pay link, the session's request, the fee.

The session is asked for in the payment-provider port's words (:class:`~.ports.CheckoutRequest`);
the provider's gateway turns it into its own parameters.

Used by sending (the first session) and the pay link (a fresh session when the old
one expired). :func:`create_checkout` is the only place sessions are created, and it
records each one (:func:`~.payment_binding.remember_checkout_session`): only recorded
sessions bind Stripe's news to invoices.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from ..domain.balance import of_invoice
from ..domain.fees import application_fee
from ..domain.money import Money
from ..gateways import stripe_const
from ..gateways.stripe_gateway import GatewayError
from ..host import HostWorkspace
from ..persistence.models import Invoice
from .connection_routes import PaymentRoute
from .fees import plan_fee_bps
from .idempotency import checkout_key
from .links import external_url
from .payment_binding import remember_checkout_session
from .payment_rows import part_fee
from .ports import CheckoutReference, CheckoutRequest, CheckoutSession
from .uow import UnitOfWork
from .views import InvoiceSnapshot

log = logging.getLogger("invoicing_plugin.sending")


def pay_link(invoice: Invoice | InvoiceSnapshot) -> str:
    """The stable link the client gets: it never expires while the invoice is payable."""
    return external_url("invoicing_public.pay", token=invoice.public_token)


def checkout_idempotency_key(invoice: Invoice) -> str:
    """Unique to this installation, the invoice and its attempt (:func:`.idempotency.checkout_key`)."""
    return checkout_key(invoice)


def checkout_amount(invoice: Invoice) -> int:
    """What a Checkout Session for ``invoice`` asks for: the balance due (issue 15), the total
    less what was paid and less its credit notes
    (:func:`~invoicing_plugin.domain.balance.of_invoice`)."""
    due = of_invoice(invoice).due_minor
    if due <= 0:
        raise ValueError(f"invoice {invoice.id} has nothing due: no Checkout Session to create")
    return due


def checkout_request(invoice: Invoice, route: PaymentRoute, *, uow: UnitOfWork | None = None,
                     amount_minor: int | None = None) -> CheckoutRequest:
    """The payment page for ``invoice`` (which has its number and locked fee), in the port's words.

    It asks for the balance due (:func:`checkout_amount`): the total, or what is left once
    part was paid or credited. Its platform fee is that amount's share of the invoice's
    locked fee (:func:`.payment_rows.part_fee`: rounded on the running total of what was paid,
    never above the locked fee less the fees already taken; the whole fee for the whole
    total; after a credit note, the rate locked at send on the lower amount), so it never
    exceeds the amount asked for (Stripe refuses an ``application_fee_amount`` above the
    payment's, https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-payment_intent_data-application_fee_amount).
    The locked fee itself (``application_fee_minor``) is never rewritten.
    ``amount_minor``: a part of the balance the client chose on the pay link of an invoice
    that allows it (checked there; here only refused above the balance or below 1).

    Connect routes pay the workspace's account (``destination_account``) and keep the
    invoice's locked platform fee; own-key routes keep the money on the key's account. The
    page stops taking payments ``INVOICING_CHECKOUT_EXPIRES_SECONDS`` from now, kept inside
    Stripe's bounds with a margin for clock skew (:func:`~..gateways.stripe_const.checkout_expires_at`).
    """
    uow = uow or UnitOfWork.for_app()
    seconds = int(uow.settings["INVOICING_CHECKOUT_EXPIRES_SECONDS"])
    amount = checkout_amount(invoice)
    if amount_minor is not None:
        if not 0 < amount_minor <= amount:
            raise ValueError(f"invoice {invoice.id}: {amount_minor} is not a part of the balance {amount}")
        amount = amount_minor
    fee = (int(part_fee(invoice, amount) or 0) if route.takes_application_fee else None)
    return CheckoutRequest(
        amount_minor=amount,
        currency=invoice.currency,
        title=f"Invoice {invoice.number}",
        description=invoice.description,
        customer_email=invoice.client_email,
        success_url=external_url("invoicing_public.pay_success", token=invoice.public_token),
        cancel_url=pay_link(invoice) + "?cancelled=1",
        expires_at=stripe_const.checkout_expires_at(seconds, int(uow.clock().timestamp())),
        reference=CheckoutReference(invoice_id=invoice.id, workspace_id=str(invoice.workspace_id),
                                    invoice_number=invoice.number or ""),
        destination_account=route.account_id if route.takes_application_fee else None,
        application_fee_minor=fee,
    )


def checkout_params(invoice: Invoice, route: PaymentRoute) -> dict:
    """Stripe's parameters for :func:`checkout_request` (kept for one release; the gateway builds
    them itself from the request: :func:`~..gateways.stripe_const.checkout_session_params`)."""
    return stripe_const.checkout_session_params(checkout_request(invoice, route))


def lock_fee(invoice: Invoice, route: PaymentRoute, workspace: HostWorkspace) -> None:
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


def create_checkout(invoice: Invoice, route: PaymentRoute, *, uow: UnitOfWork | None = None,
                    amount_minor: int | None = None) -> CheckoutSession:
    """Create the session for the invoice's current attempt, store it on the invoice and
    record it (:func:`~.payment_binding.remember_checkout_session`) in the caller's transaction.
    It asks for the balance, or ``amount_minor`` (a part chosen on the pay link).

    A Stripe ``idempotency`` error means this attempt's key was used with other
    parameters (an earlier try reached Stripe, then failed here): move to the next
    attempt once. That earlier session was never shown to anyone and expires.
    """
    for _ in range(2):
        request = checkout_request(invoice, route, uow=uow, amount_minor=amount_minor)
        try:
            session = route.gateway.create_checkout(request, idempotency_key=checkout_idempotency_key(invoice))
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
    remember_checkout_session(invoice, session.id, mode=route.mode, account_id=route.account_id,
                              amount_minor=request.amount_minor, uow=uow)
    invoice.checkout_expires_at = (
        datetime.fromtimestamp(session.expires_at, tz=timezone.utc) if session.expires_at else None
    )
    return session


def expire_quietly(route: PaymentRoute, session_id: str) -> None:
    try:
        route.gateway.expire_checkout_session(session_id)
    except GatewayError:
        log.warning("could not expire abandoned Checkout Session %s; it expires on its own", session_id)
