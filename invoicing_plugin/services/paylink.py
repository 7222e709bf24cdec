"""The stable pay link ``/pay/<public_token>``: where the client's link leads now.

:func:`open_pay_link` redirects to the open Checkout Session or makes a new one when
the old one expired (Checkout Sessions live at most 24 hours); a session Stripe
reports complete is applied through :mod:`.payment_sync` and the paid page is shown.
The public functions take an optional ``uow`` (:class:`~.uow.UnitOfWork`) and
default to the app's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..domain.balance import of_invoice
from ..domain.errors import AmountError
from ..domain.partial_pay import MAX_TYPED, PartialRange, choose_amount, partial_range
from ..domain.invoice import InvoiceStatus, is_open_for_payment, offers_online_payment
from ..domain.money import Money, card_chargeable, format_money
from ..domain.statuses import AWAITING_MONEY
from ..gateways.stripe_gateway import GatewayError
from ..persistence.models import CheckoutSessionRecord, Invoice
from ..persistence.repository import NotFound
from .checkout import checkout_amount, create_checkout, lock_fee
from .common import commit_or_conflict, get_workspace, lock_invoice, record_event, unit_of_work
from .connection_routes import payment_route
from .fees import UnknownPlan
from .payment_rows import checkout_state, session_recorded
from .payment_sync import sync_invoice_from_stripe
from .uow import UnitOfWork

log = logging.getLogger("invoicing_plugin.sending")

_TRY_AGAIN = "Online payment is temporarily unavailable. Please try again in a few minutes."

#: A session this close to its expiry is replaced rather than handed to a client.
EXPIRY_MARGIN = timedelta(minutes=5)



@dataclass(frozen=True)
class PayLinkOutcome:
    """What the client's pay link leads to: a redirect to Checkout, or a page."""

    invoice: Invoice
    redirect_url: str | None = None
    page: str | None = None  # paid | part_paid | processing | voided | refunded | unavailable | too_small | error | choose
    message: str | None = None
    #: ``page == "choose"``: the amounts the client may pay (an invoice allowing partial
    #: payments), and what they typed when it was refused (``message`` says why).
    choice: PartialRange | None = None
    typed: str | None = None


def partial_choice(invoice: Invoice) -> PartialRange | None:
    """The amounts the pay link offers for ``invoice`` when staff allowed partial payments
    (from the minimum, or the balance if smaller, to the balance); ``None``: the link asks
    for the whole balance."""
    if not invoice.allow_partial:
        return None
    due = of_invoice(invoice).due_minor
    if due <= 0:
        return None
    return partial_range(due, invoice.partial_minimum_minor, invoice.currency)


def find_by_token(token: str, *, uow: UnitOfWork | None = None) -> Invoice:
    """The invoice behind a pay link (any workspace: the token is the secret). Drafts are NotFound."""
    if not token or len(token) > 64:
        raise NotFound("pay link")
    session = (uow or unit_of_work()).session
    invoice = session.scalars(select(Invoice).where(Invoice.public_token == token)).one_or_none()
    if invoice is None or invoice.status == InvoiceStatus.DRAFT.value:
        raise NotFound("pay link")
    return invoice


def status_page(invoice: Invoice) -> PayLinkOutcome | None:
    status = InvoiceStatus(invoice.status)
    if status in (InvoiceStatus.PAID, InvoiceStatus.PAID_AFTER_VOID):
        return PayLinkOutcome(invoice, page="paid")
    if status is InvoiceStatus.PARTIALLY_PAID and of_invoice(invoice).due_minor <= 0:
        return PayLinkOutcome(invoice, page="paid")  # nothing left to pay (credited meanwhile)
    if status is InvoiceStatus.PROCESSING:
        return PayLinkOutcome(invoice, page="processing")
    if status in (InvoiceStatus.VOIDED, InvoiceStatus.CREDITED):  # a full credit note cancels it too
        return PayLinkOutcome(invoice, page="voided")
    if status is InvoiceStatus.REFUNDED:
        return PayLinkOutcome(invoice, page="refunded")
    if not is_open_for_payment(status):  # pragma: no cover - every status is handled above
        return PayLinkOutcome(invoice, page="unavailable")
    if not offers_online_payment(invoice):  # the same rule decides the printed "Pay online" section
        return PayLinkOutcome(invoice, page="unavailable")
    message = too_small_to_pay_online(invoice)
    if message is not None:  # not temporary: Stripe will never charge it, so it is not asked
        return PayLinkOutcome(invoice, page="too_small", message=message)
    return None


def too_small_to_pay_online(invoice: Invoice) -> str | None:
    """Why the balance due cannot be paid by card, or ``None`` when it can (or nothing is due).

    Stripe refuses a charge below the currency's minimum or not a whole step
    (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts;
    :func:`~invoicing_plugin.domain.money.card_chargeable`): after a part was paid by hand
    (Stripe's minimum does not apply to cash) a few pence may be left that no Checkout Session
    can ask for. The pay link then says so instead of "try again"; staff settle it by hand
    or with a credit note."""
    due = of_invoice(invoice).due_minor
    if due <= 0 or card_chargeable(Money(due, invoice.currency)):
        return None
    return (f"The {format_money(Money(due, invoice.currency))} still due is less than can be paid by card "
            f"(the least Stripe can charge in {invoice.currency} is "
            f"{format_money(Money(Money(due, invoice.currency).spec.min_charge, invoice.currency))}).")


def open_pay_link(token: str, *, amount: str | None = None, uow: UnitOfWork | None = None) -> PayLinkOutcome:
    """Where the client's pay link goes now.

    An invoice that allows partial payments (:func:`partial_choice`): without ``amount``
    (the text the client typed) the ``choose`` page (a form, default the balance); with an
    amount outside the range or not a number, the ``choose`` page with the reason in
    ``message`` -- Stripe is not asked. A valid amount is then handled as below, with a
    session for *that* amount: the open one if it asks for exactly that (a reload or a
    double submit makes no second session), otherwise the open one is expired and a new
    one made. Without partial payments ``amount`` is ignored: the link asks for the balance.

    An open session comfortably before its expiry, for the balance due now: redirect to
    it (one for another amount -- part was paid since -- is expired and replaced). A session that
    expired (by our clock or Stripe's), or is about to: replace it with a fresh one
    (next attempt) and redirect. A session Stripe reports complete: the payment is
    applied through the payments service and the paid page is shown.
    """
    uow = uow or unit_of_work()
    invoice = find_by_token(token, uow=uow)
    page = status_page(invoice)
    if page is not None:
        return page
    route = payment_route(invoice.workspace_id, uow=uow)
    if route is None:
        return PayLinkOutcome(invoice, page="unavailable")
    choice, chosen = partial_choice(invoice), None
    if choice is not None:
        if amount is None:
            return PayLinkOutcome(invoice, page="choose", choice=choice)
        try:
            chosen = choose_amount(amount, choice).minor
        except AmountError as exc:
            typed = amount[:MAX_TYPED] if isinstance(amount, str) and amount.isprintable() else None
            return PayLinkOutcome(invoice, page="choose", choice=choice, message=exc.message, typed=typed)
    wanted = checkout_amount(invoice) if chosen is None else chosen
    now = uow.clock()
    try:
        if invoice.checkout_session_id and invoice.stripe_mode == route.mode and invoice.stripe_account_id == route.account_id:
            fresh = invoice.checkout_expires_at is not None and invoice.checkout_expires_at > now + EXPIRY_MARGIN
            if fresh:
                session = route.gateway.retrieve_checkout_session(invoice.checkout_session_id)
            else:
                session = route.gateway.expire_checkout_session(invoice.checkout_session_id)
            if checkout_state(uow.session, invoice.checkout_session_id, session.status) == "complete":
                return _after_payment(uow, invoice)
            # complete and recorded: it paid a part (the balance is still due); a new session follows
            if session.status == "open" and fresh and session.url:
                if session.amount_total == wanted:
                    return PayLinkOutcome(invoice, redirect_url=session.url)
                # It asks for another amount than the balance due now (part of the invoice was
                # paid since) or than the client chose: close it, so it cannot be paid too, and
                # make one for the amount wanted now.
                session = route.gateway.expire_checkout_session(invoice.checkout_session_id)
                if checkout_state(uow.session, invoice.checkout_session_id, session.status) == "complete":
                    return _after_payment(uow, invoice)
        return _renew_checkout(uow, invoice.workspace_id, invoice.id, invoice.checkout_attempt, route,
                               amount_minor=chosen)
    except UnknownPlan as exc:  # reconnected through Connect under a plan with no configured fee
        log.error("pay link for invoice %s: %s", invoice.id, exc.message)
        return PayLinkOutcome(invoice, page="unavailable")
    except GatewayError as exc:
        log.warning("pay link for invoice %s: Stripe error %s", invoice.id, exc.kind)
        return PayLinkOutcome(invoice, page="error", message=_TRY_AGAIN)


def _after_payment(uow: UnitOfWork, invoice: Invoice) -> PayLinkOutcome:
    invoice_id, workspace_id = invoice.id, invoice.workspace_id
    try:
        sync_invoice_from_stripe(invoice_id)  # payment_sync takes the app's unit of work (converted separately)
    except Exception:  # the webhook will apply it; the client must not see an error page
        log.exception("sync_invoice_from_stripe failed for invoice %s", invoice_id)
        uow.session.rollback()
    uow.session.expire_all()
    invoice = uow.repository(workspace_id).get(Invoice, invoice_id)
    page = status_page(invoice)
    if page is None and invoice.status == InvoiceStatus.PARTIALLY_PAID.value and _recorded(
            uow, invoice.checkout_session_id):
        return PayLinkOutcome(invoice, page="part_paid")  # this session paid a part; the rest is still due
    return page or PayLinkOutcome(invoice, page="confirming")


def _recorded(uow: UnitOfWork, session_id: str | None) -> bool:
    """Whether the payment of Checkout Session ``session_id`` is already a payment row
    (:func:`.payment_rows.session_recorded`, the one rule staff actions use too)."""
    return session_recorded(uow.session, session_id)


def _asked(uow: UnitOfWork, session_id: str | None) -> int | None:
    """What our recorded Checkout Session ``session_id`` asked for."""
    if not session_id:
        return None
    return uow.session.scalar(select(CheckoutSessionRecord.amount_minor)
                              .where(CheckoutSessionRecord.session_id == session_id))


def _renew_checkout(uow: UnitOfWork, workspace_id: str, invoice_id: int, seen_attempt: int, route, *,
                    amount_minor: int | None = None) -> PayLinkOutcome:
    """Replace an expired session with the next attempt's (once, even on a double click).

    ``amount_minor``: the part of the balance the client chose (``None``: the balance). When
    another request renewed the session meanwhile, its session is used if it asks for the
    same part; one for another part is expired (it must not stay payable) and replaced."""
    workspace = get_workspace(workspace_id, uow)
    with uow:
        repo = uow.repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        page = status_page(invoice)
        if page is not None:
            uow.rollback()
            return page
        if invoice.checkout_attempt != seen_attempt and invoice.checkout_url:
            # Another request renewed it while we waited for the lock.
            if amount_minor is None or _asked(uow, invoice.checkout_session_id) == amount_minor:
                url = invoice.checkout_url
                uow.rollback()
                return PayLinkOutcome(invoice, redirect_url=url)
            # ... for another part the client chose (two tabs): that one must not stay payable.
            other = route.gateway.expire_checkout_session(invoice.checkout_session_id)
            if checkout_state(uow.session, invoice.checkout_session_id, other.status) == "complete":
                uow.rollback()
                return _after_payment(uow, uow.repository(workspace_id).get(Invoice, invoice_id))
        if invoice.stripe_mode != route.mode or invoice.stripe_account_id != route.account_id:
            lock_fee(invoice, route, workspace)  # the workspace reconnected Stripe differently
        previous = invoice.checkout_session_id
        invoice.checkout_attempt += 1
        try:  # claim the attempt before Stripe is asked: of two clicks, one creates the session
            uow.session.flush()
        except StaleDataError:
            uow.rollback()
            invoice = uow.repository(workspace_id).get(Invoice, invoice_id)
            page = status_page(invoice)
            if page is None and invoice.checkout_url:
                return PayLinkOutcome(invoice, redirect_url=invoice.checkout_url)
            return page or PayLinkOutcome(invoice, page="error", message=_TRY_AGAIN)
        session = create_checkout(invoice, route, amount_minor=amount_minor)
        detail = f"New Checkout Session (attempt {invoice.checkout_attempt})" + (f"; {previous} had expired" if previous else "")
        if amount_minor is not None:
            detail += f"; the client chose to pay {format_money(Money(amount_minor, invoice.currency))}"
        record_event(repo, invoice, "client", "checkout_renewed", from_status=invoice.status, to_status=invoice.status, detail=detail)
        commit_or_conflict(uow)
        return PayLinkOutcome(invoice, redirect_url=session.url)


def return_from_checkout(token: str, *, uow: UnitOfWork | None = None) -> PayLinkOutcome:
    """The client came back from Checkout: re-read the session so the page is current."""
    uow = uow or unit_of_work()
    invoice = find_by_token(token, uow=uow)
    if invoice.status in AWAITING_MONEY and invoice.checkout_session_id:
        outcome = _after_payment(uow, invoice)
        if outcome.page != "confirming":
            return outcome  # paid, processing, part_paid (a part: the rest still due) ...
        return PayLinkOutcome(outcome.invoice, page="confirming")
    return status_page(invoice) or PayLinkOutcome(invoice, page="confirming")
