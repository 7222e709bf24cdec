"""Sending invoices, their Checkout Sessions and the stable pay link.

Send, in one transaction (so a failure changes nothing and gives the number back):

1. lock the invoice row, check the state machine (draft → sent) and write the change
   (:func:`~.common.claim`): of two concurrent sends the second stops here, on
   SQLite too, before anything below happens, and is told the invoice was already sent;
2. for email / Stripe link: find the workspace's payment route (refuse without one);
3. take the next number (locks the workspace's sequence row);
4. lock the fee: the plan's rate in Connect mode, none with the workspace's own key;
5. create the Checkout Session (idempotency key ``invoicing-checkout-<id>-<nonce>-<attempt>``,
   so the SDK's retries after a timeout never create a second session);
6. render the email and queue it in the outbox (:mod:`.outbox`), then commit: the
   email exists exactly when the send does.

After the commit the email is delivered (best effort, :func:`.outbox.deliver_after_commit`);
an SMTP failure then leaves the invoice sent and the email in the outbox, retried by
``flask invoicing deliver-emails`` and shown on the invoice page. If Stripe fails, the
invoice stays a draft and a retry reuses the same key. A commit that fails rolls the
queued email back with the rest: nothing is sent for a send that did not happen.

The client only ever gets the plugin's own pay link, ``/pay/<public_token>``
(:mod:`.paylink`); the Checkout Session itself is built in :mod:`.checkout`. Both are
re-exported here under their former names.

:func:`send_invoice` takes an optional ``uow`` (:class:`~.uow.UnitOfWork`: session,
host, gateways, mailer, clock, settings) and defaults to the app's. Emailing still
needs the Flask app: the email is rendered from Jinja templates and its links are
built with ``url_for`` (a method of ``manual`` needs neither).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template

from .. import signals
from ..domain.balance import of_invoice
from ..domain.invoice import Action, transition
from ..domain.money import Money, format_money
from ..gateways.mail import OutgoingEmail
from ..gateways.stripe_gateway import CheckoutSession, GatewayError
from ..host import HostWorkspace
from ..persistence.models import Invoice
from .checkout import (  # noqa: F401  (also re-exported under their former names)
    checkout_idempotency_key,
    checkout_params,
    create_checkout,
    expire_quietly,
    lock_fee,
    pay_link,
)
from .common import (
    ONLINE_METHODS,
    SEND_METHODS,
    apply_transition,
    claim,
    commit_or_conflict,
    get_workspace,
    lock_invoice,
    record_event,
    record_failure,
    unit_of_work,
)
from .connection_routes import payment_availability
from .email_amounts import email_amounts
from .errors import InvoicingError
from .fees import plan_fee_bps
from .numbering import take_next_number
from .outbox import deliver_after_commit, enqueue
from .parties import refuse_if_incomplete, stamp_at_send
from .paylink import (  # noqa: F401  (re-exported under their former names)
    EXPIRY_MARGIN,
    PayLinkOutcome,
    find_by_token,
    open_pay_link,
    return_from_checkout,
    status_page,
    too_small_to_pay_online,
)
from .portal import portal_url
from .uow import UnitOfWork
from .views import InvoiceSnapshot

SEND_MANUALLY = "Until then you can send the invoice manually (no payment link)."

ONLINE_UNAVAILABLE = (
    "Online payment is unavailable for this workspace: connect Stripe under Settings → "
    "Connected apps, or send the invoice manually (no payment link)."
)


def invoice_email(invoice: Invoice, workspace: HostWorkspace, *, uow: UnitOfWork | None = None) -> OutgoingEmail:
    """The invoice email: details, a Pay Invoice button, and the client's portal link.

    Call inside the send's unit of work: the portal access row (created once per
    client) joins that transaction. Needs the Flask app (templates, ``url_for``).
    Rendered once, when queued: the outbox stores the result. The subject and "Amount due"
    state what the pay link asks for (:func:`.email_amounts.email_amounts`); with deposits or
    credit deducted the total and each deduction are listed too.
    """
    amounts = email_amounts(invoice, workspace.locale)
    amount = amounts.due  # what the pay link asks for, not the total (newuser16 N3)
    context = {
        "invoice": invoice,
        "workspace": workspace,
        "amount": amount,
        "amounts": amounts,
        "pay_url": pay_link(invoice),
        "settled": settled_text(invoice, workspace.locale),
        "portal_url": portal_url(invoice.workspace_id, invoice.client_id, uow=uow),
        "due_date": invoice.due_date.strftime("%-d %B %Y") if invoice.due_date else None,
    }
    return OutgoingEmail(
        to=invoice.client_email,
        to_name=invoice.client_name,
        subject=f"Invoice {invoice.number} from {workspace.name}: {amount}",
        text=render_template("invoicing/email/invoice.txt", **context),
        html=render_template("invoicing/email/invoice.html", **context),
    )


def settled_by_prepayments(invoice: Invoice) -> bool:
    """Whether deposits and client credit deducted cover the invoice's whole total (nothing due)."""
    prepaid = int(invoice.prepaid_minor or 0)
    return prepaid > 0 and of_invoice(invoice).due_minor <= 0 and not int(invoice.amount_paid_minor or 0)


def settled_text(invoice: Invoice, locale: str | None = None) -> str | None:
    """The email's line for an invoice settled by its deposits and credits, else ``None``."""
    if not settled_by_prepayments(invoice):
        return None
    prepaid = format_money(Money(int(invoice.prepaid_minor), invoice.currency), locale)
    return f"Nothing to pay: the deposits and credit already received ({prepaid}) cover this invoice."


# --------------------------------------------------------------------- send


def _settle_by_prepayments(repo, invoice: Invoice, actor: str) -> None:
    """The send of an invoice its deposits and credits cover: paid at once, nothing received
    on it (``amount_paid_minor`` 0, so the revenue counts nothing twice: the deposits were
    revenue when they were paid), recorded as ``settled_by_prepayments``."""
    before, after = apply_transition(invoice, Action.MARK_PAID)
    invoice.paid_at = invoice.sent_at
    invoice.amount_paid_minor = 0
    invoice.checkout_url = None
    record_event(repo, invoice, actor, "settled_by_prepayments", from_status=before, to_status=after,
                 detail="Nothing due: " + ", ".join(
                     f"{'client credit' if row.credit_note_id else 'deposit'} {row.reference} "
                     f"{format_money(Money(int(row.amount_minor), row.currency))}" for row in invoice.prepayments)
                 + " cover the total")


@dataclass(frozen=True)
class SendResult:
    invoice: InvoiceSnapshot
    pay_url: str | None
    #: For ``email``: ``None`` when delivered after the commit, else why it was not (yet):
    #: the email waits in the outbox and is retried (``flask invoicing deliver-emails``).
    email_problem: str | None = None


def send_invoice(workspace_id: str, actor: str, invoice_id: int, *, method: str | None = None,
                 uow: UnitOfWork | None = None) -> SendResult:
    """Send a draft by ``method`` (default: the draft's own send method).

    ``email``: the client receives the invoice with a "Pay invoice" button;
    ``stripe_link``: staff share the pay link themselves; ``manual``: recorded as
    sent, no payment link. Email and link need a payment route. On any failure
    the invoice stays a draft, the failed attempt is recorded, and
    :class:`InvoicingError` says why; trying again is safe. An invoice that lacks what a
    legal invoice needs (seller or client details, VAT numbers its tax categories require;
    see :mod:`.parties`) is refused with :class:`~.parties.InvoiceIncomplete`, listing all
    of it, before a number is taken or Stripe is called. Sending stamps the issue date (the
    workspace's today), the due date from the seller's payment terms when the draft has
    none, and the seller's details as they are now. The email is queued in
    the same transaction and delivered after the commit: an SMTP failure does not
    undo the send (``SendResult.email_problem`` says it is being retried).
    """
    uow = uow or unit_of_work()
    workspace = get_workspace(workspace_id, uow)
    created: CheckoutSession | None = None
    route = None
    invoice_pk = None
    with uow:
        repo = uow.repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        invoice_pk = invoice.id
        method = method or invoice.send_method
        if method not in SEND_METHODS:
            raise InvoicingError("Choose how to send the invoice: email, Stripe link or manually.", field="method")
        transition(invoice.status, Action.SEND)  # InvalidTransition before anything else
        if invoice.due_date is not None and invoice.due_date < uow.today(workspace):
            raise InvoicingError("The due date is in the past: edit the draft and choose a new due date first.", field="due_date")
        # Everything a legal invoice lacks, in one message, before anything changes (parties.py).
        seller = refuse_if_incomplete(invoice, workspace, uow)
        # Deposits or client credit cover the whole total: nothing to pay, so no payment
        # route, fee or Checkout Session (Stripe cannot charge 0); sent and settled as paid.
        settled = settled_by_prepayments(invoice)
        if method in ONLINE_METHODS and not settled:
            availability = payment_availability(workspace_id, uow=uow)
            route = availability.route
            if route is None:
                message = f"{availability.message} {SEND_MANUALLY}" if availability.message else ONLINE_UNAVAILABLE
                raise InvoicingError(message, field="method")
            if route.takes_application_fee:
                plan_fee_bps(workspace.plan, uow=uow)  # UnknownPlan before a number is taken or Stripe is called
        # Claim the invoice before a number is taken, Stripe is asked or mail is sent: of two
        # concurrent sends, the second stops here (see common.claim) and creates nothing.
        before, after = apply_transition(invoice, Action.SEND)
        invoice.sent_at = uow.clock()
        invoice.send_method = method
        stamp_at_send(invoice, seller, uow.today(workspace))  # issue date, due date by terms, seller as sent
        claim(uow, invoice, workspace_id, Action.SEND)
        try:
            invoice.number = take_next_number(repo.session, str(workspace_id), uow.settings["INVOICING_NUMBER_PREFIX"])
            if route is not None:
                lock_fee(invoice, route, workspace)
                created = create_checkout(invoice, route)
            else:
                invoice.stripe_mode = invoice.stripe_account_id = None
                invoice.fee_bps = invoice.application_fee_minor = None
            invoice.online_payment_unavailable = False
            if method == "email":
                enqueue(uow, invoice_email(invoice, workspace, uow=uow), workspace_id=str(workspace_id),
                        kind="invoice", invoice_id=invoice.id)
            detail = {
                "email": f"Emailed to {invoice.client_email}",
                "stripe_link": "Pay link ready to share",
                "manual": "Recorded as sent manually (no payment link)",
            }[method]
            record_event(repo, invoice, actor, "sent", from_status=before, to_status=after, detail=f"{invoice.number}: {detail}")
            if settled:
                _settle_by_prepayments(repo, invoice, actor)
            repo.session.flush()
            snapshot = InvoiceSnapshot.of(invoice)
            uow.emit(signals.invoice_sent, invoice=snapshot, actor=actor, method=method)
            if settled:
                uow.emit(signals.invoice_paid, invoice=snapshot, actor=actor, source="prepayments")
            commit_or_conflict(uow)
        except GatewayError as exc:
            uow.rollback()
            if created is not None:
                expire_quietly(route, created.id)
            record_failure(workspace_id, invoice_pk, actor, "send", f"Stripe: {exc.message}",
                           bump_attempt=created is not None, uow=uow)
            raise InvoicingError(f"The invoice was not sent (it is still a draft): {exc.message}") from exc
    email_problem = None
    if method == "email":
        delivered = deliver_after_commit(invoice_pk, uow=uow)
        if delivered is None:
            email_problem = "the email is queued and will be delivered shortly"
        elif not delivered.sent:
            errors = [error for _, error in delivered.retrying + delivered.gave_up]
            email_problem = errors[0] if errors else "the email is queued and will be delivered shortly"
    return SendResult(invoice=snapshot, pay_url=pay_link(snapshot) if route is not None else None,
                      email_problem=email_problem)

