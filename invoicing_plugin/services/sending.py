"""Sending invoices, their Checkout Sessions and the stable pay link.

Send, in one transaction (so a failure changes nothing and gives the number back):

1. lock the invoice row, check the state machine (draft → sent) and write the change
   (:func:`~.invoices.claim`): of two concurrent sends the second stops here, on
   SQLite too, before anything below happens, and is told the invoice was already sent;
2. for email / Stripe link: find the workspace's payment route (refuse without one);
3. take the next number (locks the workspace's sequence row);
4. lock the fee: the plan's rate in Connect mode, none with the workspace's own key;
5. create the Checkout Session (idempotency key ``invoicing-checkout-<id>-<attempt>``,
   so the SDK's retries after a timeout never create a second session);
6. send the email (the last step that cannot be undone), then commit.

If Stripe fails, the invoice stays a draft and a retry reuses the same key. If the
email fails after the session was created, that session is expired at once and
the failure record moves the invoice to the next attempt, so the retry creates a
fresh session with a fresh key (Stripe refuses a key reused with other
parameters, and the new session has a new expiry time).

The client only ever gets the plugin's own pay link, ``/pay/<public_token>``:
:func:`open_pay_link` redirects it to the open session or makes a new one when
the old one expired (Checkout Sessions live at most 24 hours).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from .. import signals
from ..domain.fees import application_fee
from ..domain.invoice import Action, InvoiceStatus, is_open_for_payment, transition
from ..domain.money import Money, format_money
from ..domain.statuses import AWAITING_MONEY
from ..state import get_state
from ..gateways.mail import Mailer, MailError, OutgoingEmail
from ..gateways.stripe_gateway import CheckoutSession, GatewayError
from ..host import HostWorkspace
from ..persistence.models import Invoice, utcnow
from ..persistence.repository import NotFound, WorkspaceRepository
from .errors import InvoicingError
from .connections import payment_availability, payment_route
from .fees import UnknownPlan, plan_fee_bps
from .invoices import (
    ONLINE_METHODS,
    SEND_METHODS,
    _commit,
    _sync_from_stripe,
    apply_transition,
    claim,
    get_workspace,
    lock_invoice,
    record_event,
    record_failure,
    repository,
    today,
    unit_of_work,
)
from .links import external_url
from .numbering import take_next_number
from .payments import remember_checkout_session
from .portal import portal_url
from .views import InvoiceSnapshot

log = logging.getLogger("invoicing_plugin.sending")

_TRY_AGAIN = "Online payment is temporarily unavailable. Please try again in a few minutes."

#: A session this close to its expiry is replaced rather than handed to a client.
EXPIRY_MARGIN = timedelta(minutes=5)

SEND_MANUALLY = "Until then you can send the invoice manually (no payment link)."

ONLINE_UNAVAILABLE = (
    "Online payment is unavailable for this workspace: connect Stripe under Settings → "
    "Connected apps, or send the invoice manually (no payment link)."
)


# --------------------------------------------------------------------- links


def pay_link(invoice: Invoice | InvoiceSnapshot) -> str:
    """The stable link the client gets: it never expires while the invoice is payable."""
    return external_url("invoicing_public.pay", token=invoice.public_token)


# --------------------------------------------------------------------- Checkout


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
    return {
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
        "customer_email": invoice.client_email,
        "success_url": external_url("invoicing_public.pay_success", token=invoice.public_token)
        + "?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": link + "?cancelled=1",
        "expires_at": int(time.time()) + seconds,
    }


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
    record it (:func:`~.payments.remember_checkout_session`) in the caller's transaction.

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


def _expire_quietly(route, session_id: str) -> None:
    try:
        route.gateway.expire_checkout_session(session_id)
    except GatewayError:
        log.warning("could not expire abandoned Checkout Session %s; it expires on its own", session_id)


# --------------------------------------------------------------------- email


def invoice_email(invoice: Invoice, workspace: HostWorkspace) -> OutgoingEmail:
    """The invoice email: details, a Pay Invoice button, and the client's portal link.

    Call inside the send's unit of work: the portal access row (created once per
    client) joins that transaction.
    """
    amount = format_money(Money(invoice.amount_minor, invoice.currency), workspace.locale)
    context = {
        "invoice": invoice,
        "workspace": workspace,
        "amount": amount,
        "pay_url": pay_link(invoice),
        "portal_url": portal_url(invoice.workspace_id, invoice.client_id),
        "due_date": invoice.due_date.strftime("%-d %B %Y") if invoice.due_date else None,
    }
    return OutgoingEmail(
        to=invoice.client_email,
        to_name=invoice.client_name,
        subject=f"Invoice {invoice.number} from {workspace.name}: {amount}",
        text=render_template("invoicing/email/invoice.txt", **context),
        html=render_template("invoicing/email/invoice.html", **context),
    )


# --------------------------------------------------------------------- send


@dataclass(frozen=True)
class SendResult:
    invoice: InvoiceSnapshot
    pay_url: str | None


def send_invoice(workspace_id: str, actor: str, invoice_id: int, *, method: str | None = None) -> SendResult:
    """Send a draft by ``method`` (default: the draft's own send method).

    ``email``: the client receives the invoice with a "Pay invoice" button;
    ``stripe_link``: staff share the pay link themselves; ``manual``: recorded as
    sent, no payment link. Email and link need a payment route. On any failure
    the invoice stays a draft, the failed attempt is recorded, and
    :class:`InvoicingError` says why; trying again is safe.
    """
    workspace = get_workspace(workspace_id)
    created: CheckoutSession | None = None
    route = None
    invoice_pk = None
    with unit_of_work() as uow:
        repo = repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        invoice_pk = invoice.id
        method = method or invoice.send_method
        if method not in SEND_METHODS:
            raise InvoicingError("Choose how to send the invoice: email, Stripe link or manually.", field="method")
        transition(invoice.status, Action.SEND)  # InvalidTransition before anything else
        if invoice.due_date is not None and invoice.due_date < today():
            raise InvoicingError("The due date is in the past: edit the draft and choose a new due date first.", field="due_date")
        if method in ONLINE_METHODS:
            availability = payment_availability(workspace_id)
            route = availability.route
            if route is None:
                message = f"{availability.message} {SEND_MANUALLY}" if availability.message else ONLINE_UNAVAILABLE
                raise InvoicingError(message, field="method")
            if route.takes_application_fee:
                plan_fee_bps(workspace.plan)  # UnknownPlan before a number is taken or Stripe is called
        # Claim the invoice before a number is taken, Stripe is asked or mail is sent: of two
        # concurrent sends, the second stops here (see invoices.claim) and creates nothing.
        before, after = apply_transition(invoice, Action.SEND)
        invoice.sent_at = utcnow()
        invoice.send_method = method
        claim(uow, invoice, workspace_id, Action.SEND)
        try:
            invoice.number = take_next_number(repo.session, str(workspace_id), current_app.config["INVOICING_NUMBER_PREFIX"])
            if route is not None:
                lock_fee(invoice, route, workspace)
                created = create_checkout(invoice, route)
            else:
                invoice.stripe_mode = invoice.stripe_account_id = None
                invoice.fee_bps = invoice.application_fee_minor = None
            invoice.online_payment_unavailable = False
            if method == "email":
                message = invoice_email(invoice, workspace)
                Mailer(current_app.config).send(message)
            detail = {
                "email": f"Emailed to {invoice.client_email}",
                "stripe_link": "Pay link ready to share",
                "manual": "Recorded as sent manually (no payment link)",
            }[method]
            record_event(repo, invoice, actor, "sent", from_status=before, to_status=after, detail=f"{invoice.number}: {detail}")
            repo.session.flush()
            snapshot = InvoiceSnapshot.of(invoice)
            uow.emit(signals.invoice_sent, invoice=snapshot, actor=actor, method=method)
            _commit(uow)
        except (GatewayError, MailError) as exc:
            uow.rollback()
            if created is not None:
                _expire_quietly(route, created.id)
            what = "Stripe" if isinstance(exc, GatewayError) else "Email"
            record_failure(workspace_id, invoice_pk, actor, "send", f"{what}: {exc.message}", bump_attempt=created is not None)
            raise InvoicingError(f"The invoice was not sent (it is still a draft): {exc.message}") from exc
    return SendResult(invoice=snapshot, pay_url=pay_link(snapshot) if route is not None else None)


# --------------------------------------------------------------------- the pay link


@dataclass(frozen=True)
class PayLinkOutcome:
    """What the client's pay link leads to: a redirect to Checkout, or a page."""

    invoice: Invoice
    redirect_url: str | None = None
    page: str | None = None  # paid | processing | voided | refunded | unavailable | error
    message: str | None = None


def find_by_token(token: str) -> Invoice:
    """The invoice behind a pay link (any workspace: the token is the secret). Drafts are NotFound."""
    if not token or len(token) > 64:
        raise NotFound("pay link")
    session = get_state().session
    invoice = session.scalars(select(Invoice).where(Invoice.public_token == token)).one_or_none()
    if invoice is None or invoice.status == InvoiceStatus.DRAFT.value:
        raise NotFound("pay link")
    return invoice


def status_page(invoice: Invoice) -> PayLinkOutcome | None:
    status = InvoiceStatus(invoice.status)
    if status in (InvoiceStatus.PAID, InvoiceStatus.PAID_AFTER_VOID):
        return PayLinkOutcome(invoice, page="paid")
    if status is InvoiceStatus.PROCESSING:
        return PayLinkOutcome(invoice, page="processing")
    if status is InvoiceStatus.VOIDED:
        return PayLinkOutcome(invoice, page="voided")
    if status is InvoiceStatus.REFUNDED:
        return PayLinkOutcome(invoice, page="refunded")
    if not is_open_for_payment(status):  # pragma: no cover - every status is handled above
        return PayLinkOutcome(invoice, page="unavailable")
    if invoice.send_method == "manual" or invoice.stripe_mode is None or invoice.online_payment_unavailable:
        return PayLinkOutcome(invoice, page="unavailable")
    return None


def open_pay_link(token: str) -> PayLinkOutcome:
    """Where the client's pay link goes now.

    An open session comfortably before its expiry: redirect to it. A session that
    expired (by our clock or Stripe's), or is about to: replace it with a fresh one
    (next attempt) and redirect. A session Stripe reports complete: the payment is
    applied through the payments service and the paid page is shown.
    """
    invoice = find_by_token(token)
    page = status_page(invoice)
    if page is not None:
        return page
    route = payment_route(invoice.workspace_id)
    if route is None:
        return PayLinkOutcome(invoice, page="unavailable")
    now = utcnow()
    try:
        if invoice.checkout_session_id and invoice.stripe_mode == route.mode and invoice.stripe_account_id == route.account_id:
            fresh = invoice.checkout_expires_at is not None and invoice.checkout_expires_at > now + EXPIRY_MARGIN
            if fresh:
                session = route.gateway.retrieve_checkout_session(invoice.checkout_session_id)
            else:
                session = route.gateway.expire_checkout_session(invoice.checkout_session_id)
            if session.status == "complete":
                return _after_payment(invoice)
            if session.status == "open" and fresh and session.url:
                return PayLinkOutcome(invoice, redirect_url=session.url)
        return _renew_checkout(invoice.workspace_id, invoice.id, invoice.checkout_attempt, route)
    except UnknownPlan as exc:  # reconnected through Connect under a plan with no configured fee
        log.error("pay link for invoice %s: %s", invoice.id, exc.message)
        return PayLinkOutcome(invoice, page="unavailable")
    except GatewayError as exc:
        log.warning("pay link for invoice %s: Stripe error %s", invoice.id, exc.kind)
        return PayLinkOutcome(invoice, page="error", message=_TRY_AGAIN)


def _after_payment(invoice: Invoice) -> PayLinkOutcome:
    invoice_id, workspace_id = invoice.id, invoice.workspace_id
    try:
        _sync_from_stripe(invoice_id)
    except Exception:  # the webhook will apply it; the client must not see an error page
        log.exception("sync_invoice_from_stripe failed for invoice %s", invoice_id)
        get_state().session.rollback()
    get_state().session.expire_all()
    invoice = WorkspaceRepository(get_state().session, workspace_id).get(Invoice, invoice_id)
    return status_page(invoice) or PayLinkOutcome(invoice, page="confirming")


def _renew_checkout(workspace_id: str, invoice_id: int, seen_attempt: int, route) -> PayLinkOutcome:
    """Replace an expired session with the next attempt's (once, even on a double click)."""
    workspace = get_workspace(workspace_id)
    with unit_of_work() as uow:
        repo = repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        page = status_page(invoice)
        if page is not None:
            uow.rollback()
            return page
        if invoice.checkout_attempt != seen_attempt and invoice.checkout_url:
            # Another request renewed it while we waited for the lock.
            url = invoice.checkout_url
            uow.rollback()
            return PayLinkOutcome(invoice, redirect_url=url)
        if invoice.stripe_mode != route.mode or invoice.stripe_account_id != route.account_id:
            lock_fee(invoice, route, workspace)  # the workspace reconnected Stripe differently
        previous = invoice.checkout_session_id
        invoice.checkout_attempt += 1
        try:  # claim the attempt before Stripe is asked: of two clicks, one creates the session
            uow.session.flush()
        except StaleDataError:
            uow.rollback()
            invoice = repository(workspace_id).get(Invoice, invoice_id)
            page = status_page(invoice)
            if page is None and invoice.checkout_url:
                return PayLinkOutcome(invoice, redirect_url=invoice.checkout_url)
            return page or PayLinkOutcome(invoice, page="error", message=_TRY_AGAIN)
        session = create_checkout(invoice, route)
        detail = f"New Checkout Session (attempt {invoice.checkout_attempt})" + (f"; {previous} had expired" if previous else "")
        record_event(repo, invoice, "client", "checkout_renewed", from_status=invoice.status, to_status=invoice.status, detail=detail)
        _commit(uow)
        return PayLinkOutcome(invoice, redirect_url=session.url)


def return_from_checkout(token: str) -> PayLinkOutcome:
    """The client came back from Checkout: re-read the session so the page is current."""
    invoice = find_by_token(token)
    if invoice.status in AWAITING_MONEY and invoice.checkout_session_id:
        outcome = _after_payment(invoice)
        if outcome.page != "confirming":
            return outcome
        return PayLinkOutcome(outcome.invoice, page="confirming")
    return status_page(invoice) or PayLinkOutcome(invoice, page="confirming")
