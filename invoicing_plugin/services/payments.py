"""Recording Stripe payments on invoices: the one code path for webhooks, reconcile and the pay link.

Stripe tells us about a payment in several ways -- a webhook (possibly twice, late or
out of order), ``flask invoicing reconcile`` re-reading a Checkout Session, and the
client's browser coming back to the pay link's success URL. All of them end in
:func:`apply_checkout_session`, which

* locks the invoice row (``SELECT ... FOR UPDATE``) so concurrent deliveries queue up;
* asks the domain state machine: :func:`~invoicing_plugin.domain.invoice.is_noop` first
  (a harmless repeat changes nothing and writes nothing), then
  :func:`~invoicing_plugin.domain.invoice.transition`;
* tells a *retried* payment from a *second* payment on another session by the
  PaymentIntent id (a second payment is flagged for staff, never silently dropped);
* refuses to mark an invoice paid when the amount or currency differ from the invoice
  (the invoice is flagged ``amount_mismatch`` instead);
* writes one :class:`InvoiceEvent` per change and queues the ``invoice_paid`` signal.

None of these functions commit: the caller's unit of work does, together with the
webhook event record (see :mod:`invoicing_plugin.webhooks.processing`), so an effect
and "this event was handled" are stored atomically. :func:`sync_invoice_from_stripe`
is the exception: it is a whole use case with its own transaction.

The payment confirmation email is sent *after* the commit by
:func:`send_payment_confirmation`; ``Invoice.confirmation_sent_at`` is claimed with a
conditional ``UPDATE`` so exactly one process sends it, however many try at once.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from flask import current_app, render_template
from sqlalchemy import bindparam, select, update

from .. import signals
from ..domain.errors import InvalidTransition
from ..domain.invoice import Action, InvoiceStatus, is_noop, transition
from ..domain.money import Money, format_money
from ..extension import get_state
from ..gateways.mail import Mailer, MailError, OutgoingEmail
from ..gateways.stripe_gateway import CheckoutSession, GatewayError, StripeGateway
from ..persistence import appends
from ..persistence.models import Invoice, InvoiceEvent, WebhookEvent, utcnow
from ..persistence.repository import NotFound, WorkspaceRepository
from .uow import UnitOfWork, retry_on_conflict
from .views import InvoiceSnapshot

log = logging.getLogger("invoicing_plugin.payments")

#: Invoice statuses whose Checkout Session may still turn into money.
AWAITING_STRIPE = (InvoiceStatus.SENT.value, InvoiceStatus.PROCESSING.value)

#: ``Invoice.attention`` codes, most important first wins (a dispute outranks the rest).
ATTENTION_RANK: Mapping[str, int] = {
    "disputed": 50,
    "refund_due": 40,  # paid after void: the money must go back
    "amount_mismatch": 30,
    "duplicate_payment": 30,
    "unexpected_payment": 20,
}

#: Events that settle a delayed payment; a ``checkout.session.completed`` (unpaid) seen
#: after one of them for the same session is stale and must not restart "processing".
_SETTLING_EVENT_TYPES = (
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
)


@dataclass
class PaymentOutcome:
    """What applying one piece of Stripe news did to an invoice."""

    invoice_id: int | None = None
    workspace_id: str | None = None
    status: str | None = None  # the invoice's status afterwards
    changed: bool = False  # anything written
    note: str = ""
    confirm: bool = False  # a payment confirmation email is due after the commit
    flags: list[str] = field(default_factory=list)

    @classmethod
    def unmatched(cls, note: str) -> "PaymentOutcome":
        return cls(note=note)


# ---------------------------------------------------------------------------- lookups


def _locked(stmt, *, skip_locked: bool = False):
    # populate_existing: a row already in the identity map is refreshed with what the
    # lock returns, never left stale from an earlier read in the same session.
    return stmt.with_for_update(skip_locked=skip_locked).execution_options(populate_existing=True)


def _one(stmt) -> Invoice | None:
    return get_state().session.scalars(stmt.limit(1)).first()


def _in_scope(invoice: Invoice | None, scope_workspace: str | None) -> Invoice | None:
    if invoice is None or scope_workspace is None or invoice.workspace_id == str(scope_workspace):
        return invoice
    return None


def lock_invoice(invoice_id: int, *, skip_locked: bool = False) -> Invoice | None:
    """The invoice with this id, row-locked until the transaction ends (``None`` if missing
    or, with ``skip_locked``, if another transaction holds it)."""
    return _one(_locked(select(Invoice).where(Invoice.id == int(invoice_id)), skip_locked=skip_locked))


def find_invoice(
    *,
    session_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    payment_intent: str | None = None,
    scope_workspace: str | None = None,
    lock: bool = True,
) -> Invoice | None:
    """The invoice a piece of Stripe news is about, across workspaces.

    Matching order: the Checkout Session id (the invoice's current session), then the
    session's metadata ``invoice_id`` *and* ``workspace_id`` (an older session of the same
    invoice, e.g. after a void), then the PaymentIntent id (``charge.*`` events).
    ``scope_workspace`` limits the search to one workspace (events signed with that
    own-key workspace's secret can only ever touch its own invoices).
    """
    wrap = _locked if lock else (lambda stmt: stmt)
    if session_id:
        found = _in_scope(_by_column("checkout_session_id", session_id, lock), scope_workspace)
        if found is not None:
            return found
    metadata = metadata or {}
    invoice_id, workspace_id = metadata.get("invoice_id"), metadata.get("workspace_id")
    if invoice_id and workspace_id:
        repo = WorkspaceRepository(get_state().session, str(workspace_id))
        # Metadata is text: only a plain decimal that can be an invoice id is looked up
        # (a huge number would make the query itself fail on SQLite).
        digits = str(invoice_id)
        if digits.isascii() and digits.isdigit() and 0 < int(digits) < 2**31:
            stmt = repo.select(Invoice).where(Invoice.id == int(digits))
        else:
            stmt = None
        if stmt is not None:
            found = _in_scope(_one(wrap(stmt)), scope_workspace)
            if found is not None:
                return found
    if payment_intent:
        return _in_scope(_by_column("payment_intent_id", payment_intent, lock), scope_workspace)
    return None


@functools.cache
def _by_column_statement(column: str, lock: bool):
    stmt = select(Invoice).where(getattr(Invoice, column) == bindparam("value")).limit(1)
    return _locked(stmt) if lock else stmt


def _by_column(column: str, value: str, lock: bool) -> Invoice | None:
    """The (first) invoice whose ``column`` is ``value``; the statement is built once per shape."""
    return get_state().session.scalars(_by_column_statement(column, lock), {"value": value}).first()


def find_invoice_for_session(session: CheckoutSession, *, scope_workspace: str | None = None, lock: bool = True):
    return find_invoice(
        session_id=session.id,
        metadata=session.metadata,
        payment_intent=session.payment_intent,
        scope_workspace=scope_workspace,
        lock=lock,
    )


# ---------------------------------------------------------------------------- helpers


def _audit(invoice: Invoice, *, actor: str, action: str, from_status: str | None, to_status: str | None,
           detail: str, result: str = "ok") -> None:
    # The audit trail is append-only and never read back in the same transaction: the
    # row is queued and written with the transaction's last statement (on the webhook
    # path, inside the statement that records the event). It commits or rolls back
    # with the caller.
    appends.append(
        get_state().session, InvoiceEvent.__table__,
        {"invoice_id": invoice.id, "workspace_id": invoice.workspace_id, "created_at": utcnow(), "actor": actor,
         "action": action, "from_status": from_status, "to_status": to_status, "result": result,
         "detail": detail},
    )


def _actor(source: str) -> str:
    return "stripe" if source in ("webhook", "replay") else "system"


def flag(invoice: Invoice, code: str, detail: str) -> None:
    """Ask staff to look at ``invoice``: the most important reason is shown, every detail kept."""
    current = invoice.attention
    if current is None or ATTENTION_RANK.get(code, 0) >= ATTENTION_RANK.get(current, 0):
        invoice.attention = code
    line = f"{code}: {detail}"
    existing = invoice.attention_detail or ""
    if line not in existing.splitlines():
        invoice.attention_detail = f"{existing}\n{line}".strip()


def _money(minor: int | None, currency: str | None) -> str:
    if minor is None or not currency:
        return "an unknown amount"
    try:
        return format_money(Money(int(minor), currency))
    except Exception:  # an exotic currency we do not know must not break recording
        return f"{minor} {currency} (minor units)"


def _set_status(invoice: Invoice, new: InvoiceStatus) -> None:
    invoice.status = new.value


def _outcome(invoice: Invoice, **kwargs) -> PaymentOutcome:
    return PaymentOutcome(invoice_id=invoice.id, workspace_id=invoice.workspace_id, status=invoice.status, **kwargs)


def _session_settled(invoice: Invoice, session_id: str) -> bool:
    """Whether an async success/failure of ``session_id`` was already applied to ``invoice``."""
    rows = get_state().session.scalars(
        select(WebhookEvent.payload).where(
            WebhookEvent.invoice_id == invoice.id,
            WebhookEvent.type.in_(_SETTLING_EVENT_TYPES),
            WebhookEvent.status == "processed",
        )
    )
    return any(((payload or {}).get("data") or {}).get("object", {}).get("id") == session_id for payload in rows)


# ---------------------------------------------------------------------------- the one path


def action_for_session(session: CheckoutSession) -> Action | None:
    """What a Checkout Session's own state means for its invoice (``None``: nothing yet)."""
    if session.status == "complete":
        if session.payment_status in ("paid", "no_payment_required"):
            return Action.PAYMENT_SUCCEEDED
        return Action.PAYMENT_STARTED
    return None


def apply_checkout_session(
    session: CheckoutSession,
    *,
    source: str,
    action: Action | None = None,
    uow: UnitOfWork | None = None,
    invoice: Invoice | None = None,
    scope_workspace: str | None = None,
) -> PaymentOutcome:
    """Apply what Stripe says about ``session`` to its invoice, exactly once. Does not commit.

    ``action`` overrides what the session's state implies (webhooks know whether an
    unpaid complete session *failed* or is still processing; the session alone does
    not). ``invoice`` must already be row-locked when given; otherwise it is found and
    locked here. ``source`` (``webhook``, ``reconcile``, ``return``, ``replay``) is
    written to the audit trail.
    """
    if invoice is None:
        invoice = find_invoice_for_session(session, scope_workspace=scope_workspace)
        if invoice is None:
            return PaymentOutcome.unmatched(f"no invoice matches checkout session {session.id}")
    if action is None:
        if session.status == "expired":
            return _apply_expired(invoice, session, source=source)
        action = action_for_session(session)
        if action is None:
            return _outcome(invoice, note=f"checkout session {session.id} is {session.status}; nothing to record")
    if action is Action.PAYMENT_SUCCEEDED:
        return _apply_success(invoice, session, source=source, uow=uow)
    if action is Action.PAYMENT_STARTED:
        return _apply_started(invoice, session, source=source)
    if action is Action.PAYMENT_FAILED:
        return _apply_failed(invoice, session, source=source)
    raise ValueError(f"apply_checkout_session cannot apply {action!r}")


def _apply_success(
    invoice: Invoice, session: CheckoutSession, *, source: str, uow: UnitOfWork | None
) -> PaymentOutcome:
    status = InvoiceStatus(invoice.status)
    paid = _money(session.amount_total, session.currency)
    intent = session.payment_intent
    actor = _actor(source)

    already_paid = status in (InvoiceStatus.PAID, InvoiceStatus.PAID_AFTER_VOID, InvoiceStatus.REFUNDED)
    if already_paid and intent and invoice.payment_intent_id and intent != invoice.payment_intent_id:
        # Real money on a *second* session (e.g. two tabs). Never drop it: staff refund it.
        detail = f"a second payment of {paid} ({intent}, checkout session {session.id}) arrived; refund it"
        if intent in (invoice.attention_detail or ""):
            return _outcome(invoice, note="second payment already flagged")
        flag(invoice, "duplicate_payment", detail)
        _audit(invoice, actor=actor, action="payment_duplicate", from_status=invoice.status,
               to_status=invoice.status, detail=f"{detail} [{source}]", result="failed")
        return _outcome(invoice, changed=True, note="second payment flagged", flags=["duplicate_payment"])

    if is_noop(status, Action.PAYMENT_SUCCEEDED):
        return _outcome(invoice, note=f"already {invoice.status}")

    if session.amount_total != invoice.amount_minor or (session.currency or "").upper() != invoice.currency.upper():
        expected = _money(invoice.amount_minor, invoice.currency)
        detail = f"Stripe reports {paid} paid ({intent or session.id}) but the invoice is for {expected}"
        if detail in (invoice.attention_detail or ""):
            return _outcome(invoice, note="amount mismatch already flagged")
        flag(invoice, "amount_mismatch", detail)
        if invoice.payment_intent_id is None:
            invoice.payment_intent_id = intent
        _audit(invoice, actor=actor, action="payment_mismatch", from_status=invoice.status,
               to_status=invoice.status, detail=f"{detail}; not marked paid [{source}]", result="failed")
        return _outcome(invoice, changed=True, note="amount mismatch flagged", flags=["amount_mismatch"])

    try:
        new = transition(status, Action.PAYMENT_SUCCEEDED)
    except InvalidTransition as refused:
        detail = f"a payment of {paid} ({intent or session.id}) arrived: {refused.message}"
        flag(invoice, "unexpected_payment", detail)
        _audit(invoice, actor=actor, action="payment_unexpected", from_status=invoice.status,
               to_status=invoice.status, detail=f"{detail} [{source}]", result="failed")
        return _outcome(invoice, changed=True, note="unexpected payment flagged", flags=["unexpected_payment"])

    from_status = invoice.status
    _set_status(invoice, new)
    invoice.paid_at = utcnow()
    invoice.payment_intent_id = intent
    invoice.amount_paid_minor = session.amount_total
    invoice.payment_method = "stripe"
    invoice.checkout_url = None
    flags: list[str] = []
    if new is InvoiceStatus.PAID_AFTER_VOID:
        flag(invoice, "refund_due", f"{paid} was paid ({intent}) after the invoice was voided; refund it")
        flags.append("refund_due")
    fee = invoice.application_fee_minor
    fee_note = f", platform fee {_money(fee, invoice.currency)}" if fee else ""
    _audit(invoice, actor=actor, action="payment_succeeded", from_status=from_status, to_status=new.value,
           detail=f"{paid} paid by Stripe ({intent}, checkout session {session.id}{fee_note}) [{source}]")

    # A refund that overtook its payment (events out of order) is applied now.
    if invoice.amount_refunded_minor and invoice.amount_refunded_minor >= (invoice.amount_paid_minor or 0):
        _refund_full(invoice, actor=actor, source=source)

    if uow is not None and new is InvoiceStatus.PAID:
        uow.emit(signals.invoice_paid, invoice=InvoiceSnapshot.of(invoice), actor=actor, source="stripe")
    return _outcome(invoice, changed=True, note=f"{from_status} -> {new.value}",
                    confirm=new is InvoiceStatus.PAID and invoice.status == InvoiceStatus.PAID.value, flags=flags)


def _apply_started(invoice: Invoice, session: CheckoutSession, *, source: str) -> PaymentOutcome:
    status = InvoiceStatus(invoice.status)
    if is_noop(status, Action.PAYMENT_STARTED):
        return _outcome(invoice, note=f"already {invoice.status}")
    if _session_settled(invoice, session.id):
        return _outcome(invoice, note=f"checkout session {session.id} has already settled; stale event")
    try:
        new = transition(status, Action.PAYMENT_STARTED)
    except InvalidTransition as refused:
        return _outcome(invoice, note=f"payment start ignored: {refused.message}")
    from_status = invoice.status
    _set_status(invoice, new)
    invoice.payment_intent_id = session.payment_intent or invoice.payment_intent_id
    _audit(invoice, actor=_actor(source), action="payment_started", from_status=from_status, to_status=new.value,
           detail=f"{_money(session.amount_total, session.currency)} payment started, awaiting settlement "
                  f"({session.payment_intent or session.id}) [{source}]")
    return _outcome(invoice, changed=True, note=f"{from_status} -> {new.value}")


def _forget_session(invoice: Invoice, session: CheckoutSession) -> bool:
    """Drop a session that can no longer be paid; the stable pay link makes a fresh one."""
    if invoice.checkout_session_id != session.id:
        return False
    invoice.checkout_session_id = None
    invoice.checkout_url = None
    invoice.checkout_expires_at = None
    return True


def _apply_failed(invoice: Invoice, session: CheckoutSession, *, source: str) -> PaymentOutcome:
    status = InvoiceStatus(invoice.status)
    if is_noop(status, Action.PAYMENT_FAILED):
        # The failure overtook its "payment started": still forget the dead session.
        if status is InvoiceStatus.SENT and _forget_session(invoice, session):
            _audit(invoice, actor=_actor(source), action="payment_failed", from_status=invoice.status,
                   to_status=invoice.status,
                   detail=f"the delayed payment ({session.payment_intent or session.id}) failed; "
                          f"awaiting payment [{source}]")
            return _outcome(invoice, changed=True, note="failed session cleared")
        return _outcome(invoice, note=f"already {invoice.status}")
    if session.payment_intent and invoice.payment_intent_id and session.payment_intent != invoice.payment_intent_id:
        return _outcome(invoice, note="another payment is in progress; this failure does not concern it")
    try:
        new = transition(status, Action.PAYMENT_FAILED)
    except InvalidTransition as refused:
        return _outcome(invoice, note=f"payment failure ignored: {refused.message}")
    from_status = invoice.status
    _set_status(invoice, new)
    invoice.payment_intent_id = None
    _forget_session(invoice, session)
    _audit(invoice, actor=_actor(source), action="payment_failed", from_status=from_status, to_status=new.value,
           detail=f"the delayed payment ({session.payment_intent or session.id}) failed; awaiting payment [{source}]")
    return _outcome(invoice, changed=True, note=f"{from_status} -> {new.value}")


def _apply_expired(invoice: Invoice, session: CheckoutSession, *, source: str) -> PaymentOutcome:
    """Forget an expired session; the stable pay link creates a new one on the next visit."""
    if invoice.checkout_session_id != session.id:
        return _outcome(invoice, note=f"checkout session {session.id} is not the invoice's current one")
    if invoice.status != InvoiceStatus.SENT.value:
        return _outcome(invoice, note=f"invoice is {invoice.status}; expiry changes nothing")
    _forget_session(invoice, session)
    _audit(invoice, actor=_actor(source), action="checkout_expired", from_status=invoice.status,
           to_status=invoice.status, detail=f"checkout session {session.id} expired unpaid [{source}]")
    return _outcome(invoice, changed=True, note="checkout session cleared")


# ---------------------------------------------------------------------------- refunds and disputes


def _refund_full(invoice: Invoice, *, actor: str, source: str) -> None:
    from_status = invoice.status
    _set_status(invoice, transition(InvoiceStatus(invoice.status), Action.REFUND_FULL))
    _audit(invoice, actor=actor, action="refunded", from_status=from_status, to_status=invoice.status,
           detail=f"{_money(invoice.amount_refunded_minor, invoice.currency)} refunded in full [{source}]")


def apply_charge_refunded(
    charge: Mapping[str, Any], *, source: str, scope_workspace: str | None = None
) -> PaymentOutcome:
    """Record a refund (``charge.refunded``): the refunded total, and REFUNDED once it is all back.

    The charge carries the cumulative ``amount_refunded``, so a late or repeated event
    never lowers what is recorded. A refund that arrives before its payment is kept and
    applied when the payment is recorded.
    """
    invoice = find_invoice(payment_intent=charge.get("payment_intent"), metadata=charge.get("metadata"),
                           scope_workspace=scope_workspace)
    if invoice is None:
        return PaymentOutcome.unmatched(f"no invoice matches charge {charge.get('id')}")
    intent = charge.get("payment_intent")
    if intent and invoice.payment_intent_id and intent != invoice.payment_intent_id:
        _audit(invoice, actor=_actor(source), action="refund_other_payment", from_status=invoice.status,
               to_status=invoice.status,
               detail=f"{_money(charge.get('amount_refunded'), charge.get('currency'))} refunded on another "
                      f"payment ({intent}) [{source}]")
        return _outcome(invoice, changed=True, note="refund of another payment noted")
    refunded = int(charge.get("amount_refunded") or 0)
    if refunded <= (invoice.amount_refunded_minor or 0):
        return _outcome(invoice, note="refund already recorded")
    previous = invoice.amount_refunded_minor or 0
    invoice.amount_refunded_minor = refunded
    status = InvoiceStatus(invoice.status)
    paid = invoice.amount_paid_minor if invoice.amount_paid_minor is not None else charge.get("amount")
    full = bool(charge.get("refunded")) or (paid is not None and refunded >= int(paid))
    if full and InvoiceStatus.REFUNDED in _targets(status, Action.REFUND_FULL):
        _refund_full(invoice, actor=_actor(source), source=source)
        return _outcome(invoice, changed=True, note="refunded in full")
    _audit(invoice, actor=_actor(source), action="refund_recorded", from_status=invoice.status,
           to_status=invoice.status,
           detail=f"{_money(refunded - previous, invoice.currency)} refunded "
                  f"({_money(refunded, invoice.currency)} in total) [{source}]")
    return _outcome(invoice, changed=True, note="partial refund recorded" if not full else "refund recorded early")


def _targets(status: InvoiceStatus, action: Action) -> tuple[InvoiceStatus, ...]:
    try:
        return (transition(status, action),)
    except InvalidTransition:
        return ()


def apply_dispute(dispute: Mapping[str, Any], *, source: str, scope_workspace: str | None = None) -> PaymentOutcome:
    """Flag an invoice whose payment the client disputed (``charge.dispute.created``)."""
    invoice = find_invoice(payment_intent=dispute.get("payment_intent"), metadata=dispute.get("metadata"),
                           scope_workspace=scope_workspace)
    if invoice is None:
        return PaymentOutcome.unmatched(f"no invoice matches dispute {dispute.get('id')}")
    detail = (f"the client disputed {_money(dispute.get('amount'), dispute.get('currency'))} "
              f"(reason: {dispute.get('reason') or 'unknown'}, dispute {dispute.get('id')}); respond in Stripe")
    flag(invoice, "disputed", detail)
    _audit(invoice, actor=_actor(source), action="dispute_opened", from_status=invoice.status,
           to_status=invoice.status, detail=f"{detail} [{source}]", result="failed")
    return _outcome(invoice, changed=True, note="dispute flagged", flags=["disputed"])


# ---------------------------------------------------------------------------- re-reading Stripe


def gateway_for_invoice(invoice: Invoice) -> StripeGateway:
    """The Stripe key an invoice's Checkout Sessions were created with."""
    from .connections import get_connection, own_key_gateway, payment_route

    if invoice.stripe_mode == "own_key":
        connection = get_connection(invoice.workspace_id)
        if connection is None or not connection.secret_key_encrypted:
            raise GatewayError("This workspace's own Stripe key is no longer stored.", kind="auth")
        return own_key_gateway(connection)
    if invoice.stripe_mode is None:
        route = payment_route(invoice.workspace_id)
        if route is not None:
            return route.gateway
    return get_state().platform_gateway()


def _action_from_stripe(gateway: StripeGateway, session: CheckoutSession) -> Action | None:
    """The session's meaning, asking its PaymentIntent whether an unpaid complete session failed."""
    action = action_for_session(session)
    if action is Action.PAYMENT_STARTED and session.payment_intent:
        intent = gateway.retrieve_payment_intent(session.payment_intent)
        if intent.get("status") in ("requires_payment_method", "canceled"):
            return Action.PAYMENT_FAILED
        if intent.get("status") == "succeeded":
            return Action.PAYMENT_SUCCEEDED
    return action


@dataclass(frozen=True)
class SyncResult:
    invoice_id: int
    status: str
    outcome: PaymentOutcome | None = None
    skipped: str | None = None  # why nothing was asked (not awaiting Stripe, locked elsewhere ...)
    error: str | None = None


def sync_invoice(invoice_id: int, *, source: str = "return", skip_locked: bool = False) -> SyncResult:
    """Re-read the invoice's current Checkout Session and apply it (own transaction).

    The invoice row stays locked while Stripe is asked, so a webhook or a second
    reconcile run for the same invoice waits (or, with ``skip_locked``, moves on)
    instead of recording the payment a second time.
    """
    state = get_state()
    confirm = False
    with UnitOfWork(state.session) as uow:
        invoice = lock_invoice(invoice_id, skip_locked=skip_locked)
        if invoice is None:
            state.session.rollback()
            if skip_locked and state.session.get(Invoice, int(invoice_id)) is not None:
                return SyncResult(int(invoice_id), status="", skipped="locked by another process")
            raise NotFound(f"Invoice {invoice_id!r}")
        status = invoice.status
        if status not in AWAITING_STRIPE or not invoice.checkout_session_id:
            return SyncResult(invoice.id, status=status, skipped="not awaiting a Stripe payment")
        try:
            gateway = gateway_for_invoice(invoice)
            session = gateway.retrieve_checkout_session(invoice.checkout_session_id)
            action = _action_from_stripe(gateway, session)
        except GatewayError as exc:
            log.warning("could not re-read checkout session of invoice %s: %s", invoice.id, exc.message)
            return SyncResult(invoice.id, status=status, error=exc.message)
        outcome = apply_checkout_session(session, source=source, action=action, uow=uow, invoice=invoice)
        status = invoice.status
        confirm = outcome.confirm
        uow.commit()
    if confirm:
        send_payment_confirmation(invoice_id)
    return SyncResult(int(invoice_id), status=status, outcome=outcome)


def sync_invoice_from_stripe(invoice_id: int) -> str:
    """Ask Stripe about the invoice's current Checkout Session and record the outcome once.

    For the pay link's success return (a client who paid sees "paid" even if the
    webhook is late) and for void / mark-paid when Stripe says the session already
    completed. Returns the invoice's status afterwards. If Stripe cannot be reached
    the invoice is left as it is (the webhook or reconcile will catch up). Raises
    :class:`~invoicing_plugin.persistence.repository.NotFound` for an unknown id.

    It commits its own transaction: call it outside a unit of work of your own.
    """
    return retry_on_conflict(lambda: sync_invoice(invoice_id, source="return")).status


# ---------------------------------------------------------------------------- confirmation email


def _confirmation_email(invoice: Invoice) -> OutgoingEmail:
    host = get_state().host
    workspace = host.get_workspace(invoice.workspace_id)
    context = {
        "invoice": invoice,
        "workspace_name": workspace.name if workspace else "",
        "amount": _money(invoice.amount_paid_minor or invoice.amount_minor, invoice.currency),
        "paid_on": (invoice.paid_at or utcnow()).astimezone(timezone.utc).strftime("%d %B %Y"),
    }
    number = invoice.number or f"#{invoice.id}"
    sender_name = f" from {workspace.name}" if workspace else ""
    return OutgoingEmail(
        to=invoice.client_email,
        to_name=invoice.client_name,
        subject=f"Payment received for invoice {number}{sender_name}",
        text=render_template("invoicing/email/payment_confirmation.txt", **context),
        html=render_template("invoicing/email/payment_confirmation.html", **context),
    )


def _claim_confirmation(invoice_id: int, value: datetime | None, *, expect_unset: bool) -> bool:
    table = Invoice.__table__
    stmt = update(table).where(table.c.id == int(invoice_id)).values(confirmation_sent_at=value)
    if expect_unset:
        stmt = stmt.where(table.c.confirmation_sent_at.is_(None), table.c.status == InvoiceStatus.PAID.value)
    return get_state().session.execute(stmt).rowcount == 1


def send_payment_confirmation(invoice_id: int) -> bool:
    """Email the client that their payment arrived -- at most once per invoice.

    Runs after the payment's commit. The first caller to set ``confirmation_sent_at``
    sends; everyone else returns ``False``. If SMTP fails the payment stays recorded,
    the claim is released (so ``flask invoicing reconcile`` can retry) and the failure
    is written to the invoice's audit trail. Off when
    ``INVOICING_PAYMENT_CONFIRMATION_EMAIL`` is false.
    """
    if not current_app.config["INVOICING_PAYMENT_CONFIRMATION_EMAIL"]:
        return False
    state = get_state()
    session = state.session
    with UnitOfWork(session) as uow:
        claimed = _claim_confirmation(invoice_id, utcnow(), expect_unset=True)
        uow.commit()
    if not claimed:
        return False
    invoice = session.get(Invoice, int(invoice_id), populate_existing=True)
    error: str | None = None
    try:
        message = _confirmation_email(invoice)
        Mailer(current_app.config).send(message)
    except MailError as exc:
        error = exc.message
    except Exception as exc:  # a template or host error must not lose the claim forever
        log.exception("payment confirmation for invoice %s could not be built", invoice_id)
        error = f"The confirmation email could not be prepared ({type(exc).__name__})."
    with UnitOfWork(session) as uow:
        invoice = session.get(Invoice, int(invoice_id))
        if error is not None:
            _claim_confirmation(invoice_id, None, expect_unset=False)
            log.warning("payment confirmation for invoice %s not sent: %s", invoice_id, error)
            _audit(invoice, actor="system", action="payment_confirmation_email", from_status=invoice.status,
                   to_status=invoice.status, detail=error, result="failed")
        else:
            _audit(invoice, actor="system", action="payment_confirmation_email", from_status=invoice.status,
                   to_status=invoice.status, detail=f"payment confirmation sent to {invoice.client_email}")
        uow.commit()
    return error is None


def retry_unsent_confirmations(limit: int = 200) -> tuple[int, int]:
    """Send confirmations whose earlier attempt failed. Returns (sent, still failing)."""
    if not current_app.config["INVOICING_PAYMENT_CONFIRMATION_EMAIL"]:
        return 0, 0
    session = get_state().session
    failed_ids = select(InvoiceEvent.invoice_id).where(
        InvoiceEvent.action == "payment_confirmation_email", InvoiceEvent.result == "failed"
    )
    ids = list(
        session.scalars(
            select(Invoice.id)
            .where(Invoice.status == InvoiceStatus.PAID.value, Invoice.confirmation_sent_at.is_(None),
                   Invoice.id.in_(failed_ids))
            .order_by(Invoice.id)
            .limit(limit)
        )
    )
    session.rollback()
    sent = failed = 0
    for invoice_id in ids:
        if send_payment_confirmation(invoice_id):
            sent += 1
        else:
            failed += 1
    return sent, failed
