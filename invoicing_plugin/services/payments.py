"""Recording Stripe payments on invoices: the one code path for webhooks, reconcile and the pay link.

Stripe tells us about a payment in several ways -- a webhook (possibly twice, late or
out of order), ``flask invoicing reconcile`` re-reading a Checkout Session, and the
client's browser coming back to the pay link's success URL. All of them end in
:func:`apply_checkout_session`, which

* finds the invoice only through a Checkout Session the plugin recorded for it
  (:func:`bind_session`; charges and disputes: :func:`bind_payment_intent`), and only
  when the event fits that session (endpoint, account, destination, metadata) --
  anything else changes nothing and says why;
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

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from flask import current_app, render_template
from sqlalchemy import select, update

from .. import signals
from ..domain.errors import InvalidTransition
from ..domain.invoice import Action, InvoiceStatus, is_noop, transition
from ..domain.money import Money, format_money
from ..domain.statuses import AWAITING_MONEY, MONEY_RECEIVED
from ..state import get_state
from ..gateways.mail import Mailer, MailError, OutgoingEmail
from ..gateways.stripe_gateway import CheckoutSession, GatewayError, StripeGateway
from ..persistence import appends
from ..persistence.models import CheckoutSessionRecord, Invoice, InvoiceEvent, WebhookEvent, utcnow
from ..persistence.repository import NotFound
from .connections import checkout_gateway, get_connection, own_key_gateway
from .uow import UnitOfWork, retry_on_conflict
from .views import InvoiceSnapshot

log = logging.getLogger("invoicing_plugin.payments")

#: Invoice statuses whose Checkout Session may still turn into money.
AWAITING_STRIPE = AWAITING_MONEY  # from the status table

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

    ignored: bool = False  # the event changes no invoice (``note`` says why)

    @classmethod
    def unmatched(cls, note: str, *, workspace_id: str | None = None,
                  invoice_id: int | None = None) -> "PaymentOutcome":
        """An event that changes nothing. ``workspace_id`` / ``invoice_id``: whose session it
        named (a refused event is shown to that workspace), when one of ours."""
        return cls(invoice_id=invoice_id, workspace_id=workspace_id, note=note, ignored=True)


# ---------------------------------------------------------------------------- lookups


def _locked(stmt, *, skip_locked: bool = False):
    # populate_existing: a row already in the identity map is refreshed with what the
    # lock returns, never left stale from an earlier read in the same session.
    return stmt.with_for_update(skip_locked=skip_locked).execution_options(populate_existing=True)


def _one(stmt) -> Invoice | None:
    return get_state().session.scalars(stmt.limit(1)).first()


def lock_invoice(invoice_id: int, *, skip_locked: bool = False) -> Invoice | None:
    """The invoice with this id, row-locked until the transaction ends (``None`` if missing
    or, with ``skip_locked``, if another transaction holds it)."""
    return _one(_locked(select(Invoice).where(Invoice.id == int(invoice_id)), skip_locked=skip_locked))


# ---------------------------------------------------------------------------- binding events to invoices
#
# An event may change an invoice only when its Checkout Session -- or the PaymentIntent
# Stripe reported for that session -- is one this plugin created for that invoice
# (a CheckoutSessionRecord), and it comes from where that session's money goes. The
# session's metadata is never enough on its own: anyone whose events reach an endpoint
# of ours (a connected account, another integration on the platform account) can write
# any metadata. It is still compared, as a consistency check.


def remember_checkout_session(invoice: Invoice, session_id: str, *, mode: str, account_id: str | None) -> None:
    """Record that the plugin created Checkout Session ``session_id`` for ``invoice``.

    Call in the transaction that stores the session on the invoice; rows are never
    deleted, so every session an invoice ever had stays bound to it.
    """
    db = get_state().session
    if db.scalars(select(CheckoutSessionRecord.id).where(CheckoutSessionRecord.session_id == session_id)).first():
        return  # the same session again (an idempotent retry)
    db.add(CheckoutSessionRecord(session_id=session_id, invoice_id=invoice.id, workspace_id=str(invoice.workspace_id),
                                 stripe_mode=mode, account_id=account_id, created_at=utcnow()))


@dataclass(frozen=True)
class Binding:
    """The invoice an event may change, or why it may change none.

    ``record`` is set when the event names a session of ours but is refused: its
    workspace is the one the refusal is shown to (never the workspace the metadata names).
    """

    invoice: Invoice | None = None
    record: CheckoutSessionRecord | None = None
    reason: str = ""

    def ignored(self) -> PaymentOutcome:
        if self.record is None:
            return PaymentOutcome.unmatched(self.reason)
        return PaymentOutcome.unmatched(self.reason, workspace_id=self.record.workspace_id,
                                        invoice_id=self.record.invoice_id)


_UNSTATED = object()


def _destination(obj: Mapping[str, Any]) -> Any:
    """Where a charge's money went (``transfer_data.destination``), ``_UNSTATED`` when the
    object does not say (a dispute, a Checkout Session)."""
    if "transfer_data" not in obj:
        return _UNSTATED
    transfer = obj.get("transfer_data")
    destination = transfer.get("destination") if isinstance(transfer, Mapping) else None
    if isinstance(destination, Mapping):  # expanded
        destination = destination.get("id")
    return destination


def _refusal(record: CheckoutSessionRecord, *, scope_workspace: str | None, own_endpoint: bool, event_account: Any,
             metadata: Any, obj: Mapping[str, Any] | None) -> str | None:
    """Why an event about ``record``'s session must not change its invoice (``None``: it may).

    ``own_endpoint``: the event was verified with an own-key workspace's endpoint secret
    (or read with its key), so it speaks for that workspace's own Stripe account only.
    """
    if scope_workspace is None:
        if record.stripe_mode != "connect":
            return ("the session is on a workspace's own Stripe account, but the event came through the "
                    "platform's endpoint")
    elif record.workspace_id != str(scope_workspace):
        return "the event was verified with another workspace's webhook secret"
    elif own_endpoint and record.stripe_mode != "own_key":
        return ("the session was made through the platform (Connect), but the event came through the "
                "workspace's own endpoint")
    if event_account is not None and event_account != record.account_id:
        return "the event comes from another Stripe account than the one the session pays"
    if obj is not None:
        destination = _destination(obj)
        expected = record.account_id if record.stripe_mode == "connect" else None
        if destination is not _UNSTATED and destination != expected:
            return "the money went to another account than the one the session pays (transfer_data.destination)"
    if isinstance(metadata, Mapping):
        invoice_id, workspace_id = metadata.get("invoice_id"), metadata.get("workspace_id")
        if (invoice_id is not None and str(invoice_id) != str(record.invoice_id)) or (
            workspace_id is not None and str(workspace_id) != record.workspace_id
        ):
            return "its metadata names another invoice than the one the session was created for"
    return None


def _bound(column, value: str, *, lock: bool, checks: dict) -> Binding | None:
    """The record whose ``column`` is ``value`` and its invoice (row-locked), checked against
    the event; ``None`` when there is no such record. One statement."""
    stmt = (select(CheckoutSessionRecord, Invoice)
            .join(Invoice, (Invoice.id == CheckoutSessionRecord.invoice_id)
                  & (Invoice.workspace_id == CheckoutSessionRecord.workspace_id))
            .where(column == value).limit(1))
    if lock:
        stmt = stmt.with_for_update(of=Invoice).execution_options(populate_existing=True)
    row = get_state().session.execute(stmt).first()
    if row is None:
        return None
    record, invoice = row
    reason = _refusal(record, **checks)
    if reason is not None:
        scope = checks.get("scope_workspace")
        if scope is not None and str(scope) != record.workspace_id:
            # The event belongs to the workspace whose secret verified it; it learns
            # nothing about the other workspace's invoice.
            return Binding(reason="the checkout session or payment is not one of this workspace's")
        return Binding(record=record, reason=reason)
    return Binding(invoice=invoice, record=record)


def _own_endpoint(scope_workspace: str | None, source: str) -> bool:
    """Whether the event speaks for an own-key workspace's account: verified with its
    endpoint secret or read with its key. A replay re-runs a stored event inside its
    workspace (``scope_workspace`` only limits it) whichever endpoint delivered it."""
    return scope_workspace is not None and source != "replay"


def bind_session(session: CheckoutSession, *, scope_workspace: str | None = None, event_account: Any = None,
                 lock: bool = True, source: str = "webhook") -> Binding:
    """The invoice a Checkout Session event is about: only through the session's own record."""
    checks = dict(scope_workspace=scope_workspace, own_endpoint=_own_endpoint(scope_workspace, source),
                  event_account=event_account, metadata=session.metadata, obj=None)
    bound = _bound(CheckoutSessionRecord.session_id, session.id, lock=lock, checks=checks) \
        if isinstance(session.id, str) else None
    return bound or Binding(reason=f"checkout session {session.id} was not created by this plugin")


def _session_of_intent(payment_intent: str, scope_workspace: str | None) -> str | None:
    """Ask Stripe which Checkout Session created ``payment_intent`` (a charge event that
    overtook its session's event). Raises :class:`GatewayError` when Stripe can't be asked."""
    gateway = None
    if scope_workspace is not None:
        connection = get_connection(str(scope_workspace))
        if connection is not None and connection.mode == "own_key" and connection.secret_key_encrypted:
            gateway = own_key_gateway(connection)
    if gateway is None:
        gateway = get_state().platform_gateway()
    return gateway.checkout_session_id_for_payment_intent(payment_intent)


def bind_payment_intent(obj: Mapping[str, Any], *, scope_workspace: str | None = None, event_account: Any = None,
                        lock: bool = True, source: str = "webhook") -> Binding:
    """The invoice a charge or dispute is about: its PaymentIntent must be the one Stripe
    reported for one of our sessions. A PaymentIntent we have not seen yet (its session's
    event is late) is looked up at Stripe -- the session that created it -- never guessed
    from metadata."""
    intent = obj.get("payment_intent")
    if isinstance(intent, Mapping):  # expanded
        intent = intent.get("id")
    what = f"{obj.get('object') or 'object'} {obj.get('id')}"
    if not isinstance(intent, str) or not intent:
        return Binding(reason=f"{what} names no payment intent")
    checks = dict(scope_workspace=scope_workspace, own_endpoint=_own_endpoint(scope_workspace, source),
                  event_account=event_account, metadata=obj.get("metadata"), obj=obj)
    bound = _bound(CheckoutSessionRecord.payment_intent_id, intent, lock=lock, checks=checks)
    if bound is not None:
        return bound
    unknown = Binding(reason=f"payment intent {intent} of {what} was not made through a checkout session "
                             f"of this plugin")
    if event_account is not None:
        return unknown  # an object on a connected account itself: the plugin makes destination charges only
    # First news of this PaymentIntent (charge events come before or without their session's
    # in our records): Stripe says which session created it.
    try:
        session_id = _session_of_intent(intent, scope_workspace)
    except GatewayError as exc:
        if exc.retryable:
            raise  # answered 5xx: Stripe delivers the event again later
        return Binding(reason=f"Stripe could not say which checkout session made {intent} ({exc.message})")
    bound = _bound(CheckoutSessionRecord.session_id, session_id, lock=lock, checks=checks) if session_id else None
    if bound is None or (bound.record is not None and bound.record.payment_intent_id not in (None, intent)):
        return unknown
    if bound.invoice is not None:
        bound.record.payment_intent_id = intent  # noted: the next event about it needs no lookup
    return bound


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
    event_account: Any = None,
) -> PaymentOutcome:
    """Apply what Stripe says about ``session`` to its invoice, exactly once. Does not commit.

    ``action`` overrides what the session's state implies (webhooks know whether an
    unpaid complete session *failed* or is still processing; the session alone does
    not). ``invoice`` must already be row-locked when given (the invoice's own session,
    re-read from Stripe with its own key); otherwise the invoice is found through the
    session's record (:func:`bind_session`: the event's ``scope_workspace`` and
    ``event_account`` must fit it) and locked here, and an event that fits no invoice is
    ignored with the reason. ``source`` (``webhook``, ``reconcile``, ``return``,
    ``replay``) is written to the audit trail.
    """
    if invoice is None:
        binding = bind_session(session, scope_workspace=scope_workspace, event_account=event_account, source=source)
        if binding.invoice is None:
            return binding.ignored()
        invoice = binding.invoice
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

    already_paid = status.value in MONEY_RECEIVED
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
    charge: Mapping[str, Any], *, source: str, scope_workspace: str | None = None, event_account: Any = None
) -> PaymentOutcome:
    """Record a refund (``charge.refunded``): the refunded total, and REFUNDED once it is all back.

    The charge carries the cumulative ``amount_refunded``, so a late or repeated event
    never lowers what is recorded. A refund that arrives before its payment is kept and
    applied when the payment is recorded. The charge's PaymentIntent must be one of the
    invoice's sessions' (:func:`bind_payment_intent`).
    """
    binding = bind_payment_intent(charge, scope_workspace=scope_workspace, event_account=event_account,
                                  source=source)
    if binding.invoice is None:
        return binding.ignored()
    invoice = binding.invoice
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


def apply_dispute(dispute: Mapping[str, Any], *, source: str, scope_workspace: str | None = None,
                  event_account: Any = None) -> PaymentOutcome:
    """Flag an invoice whose payment the client disputed (``charge.dispute.created``)."""
    binding = bind_payment_intent(dispute, scope_workspace=scope_workspace, event_account=event_account,
                                  source=source)
    if binding.invoice is None:
        return binding.ignored()
    invoice = binding.invoice
    detail = (f"the client disputed {_money(dispute.get('amount'), dispute.get('currency'))} "
              f"(reason: {dispute.get('reason') or 'unknown'}, dispute {dispute.get('id')}); respond in Stripe")
    flag(invoice, "disputed", detail)
    _audit(invoice, actor=_actor(source), action="dispute_opened", from_status=invoice.status,
           to_status=invoice.status, detail=f"{detail} [{source}]", result="failed")
    return _outcome(invoice, changed=True, note="dispute flagged", flags=["disputed"])


# ---------------------------------------------------------------------------- re-reading Stripe


def gateway_for_invoice(invoice: Invoice) -> StripeGateway:
    """The Stripe key an invoice's Checkout Sessions were created with.

    See :func:`.connections.checkout_gateway`: raises a non-retryable
    :class:`GatewayError` when no usable key is held (e.g. the stored key cannot be read).
    """
    return checkout_gateway(invoice)


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
