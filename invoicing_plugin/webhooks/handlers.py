"""Stripe event types we act on: one handler each.

The event types themselves, and what every layer needs to know about each (the gateway
mapper that reads its ``data.object``, whether its handler commits on its own, whether an
own-key endpoint subscribes to it), are one table:
:data:`~invoicing_plugin.gateways.stripe_events.ROUTES`. This module holds only
:data:`HANDLERS`, event type -> handler, with exactly that table's keys (a test checks
it). Adding an event type is one row there plus one small function here.

Every handler receives an :class:`EventContext`, runs inside the transaction that
also records the event (see :mod:`.processing`), never commits, and returns the
status to store: ``processed`` or ``ignored``. (The exceptions, the rows marked
``own_transaction``, call services that commit on their own.) Raising makes the
endpoint answer 5xx so Stripe retries, and the error is stored with the event.

:func:`check_event` runs each handled type's object reader (with the envelope check)
before the webhook endpoint records anything, so a body that is not an event Stripe
would send is refused with 400 and never reaches a handler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from sqlalchemy import select

from ..domain.invoice import Action
from ..gateways import stripe_events
from ..gateways.stripe_gateway import (
    account_info,
    application_object,
    charge_object,
    checkout_session,
    dispute_object,
    stripe_event,
)
from ..gateways.stripe_refund_objects import dispute_outcome, refund_object
from ..persistence.models import StripeConnection
from ..services import connections, payments
from ..services.payments import PaymentOutcome
from ..services.ports import CheckoutSession
from ..services.uow import UnitOfWork


@dataclass
class EventContext:
    """One verified event being handled, and what handling it found out."""

    event: Mapping[str, Any]
    source: str  # webhook | reconcile | replay
    uow: UnitOfWork
    scope_workspace: str | None = None  # set when verified with an own-key workspace's secret
    workspace_id: str | None = None
    invoice_id: int | None = None
    note: str = ""
    confirm_invoice_ids: list[int] = field(default_factory=list)

    @property
    def object(self) -> Mapping[str, Any]:
        return (self.event.get("data") or {}).get("object") or {}

    @property
    def account(self) -> str | None:
        """The connected account the event happened on (Connect events), else ``None``."""
        account = self.event.get("account")
        return account if isinstance(account, str) and account else None

    def record(self, outcome: PaymentOutcome) -> str:
        self.note = outcome.note
        if outcome.ignored or outcome.invoice_id is None:
            # Recorded with the reason, answered 200. When it named one of our sessions, it is
            # shown to that session's workspace (never to a workspace its metadata names).
            self.workspace_id = outcome.workspace_id or self.workspace_id
            self.invoice_id = outcome.invoice_id or self.invoice_id
            return "ignored"
        self.invoice_id = outcome.invoice_id
        self.workspace_id = outcome.workspace_id
        if outcome.confirm:
            self.confirm_invoice_ids.append(outcome.invoice_id)
        return "processed"


Handler = Callable[[EventContext], str]


def _event_session(ctx: EventContext) -> CheckoutSession:
    """The event's Checkout Session; re-read from Stripe when its snapshot lacks the amount
    or the currency of a completed session.

    Both are nullable in Stripe's API (https://docs.stripe.com/api/checkout/sessions/object),
    so a snapshot without them says nothing about what was paid: it is never compared with
    the invoice (that would flag a false ``amount_mismatch``). The session is asked for with
    the key of the endpoint that received the event -- the own-key workspace's, else the
    platform's (where Connect destination-charge sessions live). A Stripe failure raises
    :class:`~..gateways.stripe_gateway.GatewayError`: the event fails and Stripe retries it.
    Events of a connected account's own sessions (``account`` set) are not ours to re-read;
    binding ignores them.
    """
    session = checkout_session(ctx.object)
    if session.status != "complete" or ctx.account is not None:
        return session
    if session.amount_total is not None and session.currency is not None:
        return session
    if ctx.scope_workspace is not None:
        connection = connections.get_connection(ctx.scope_workspace, uow=ctx.uow)
        gateway = connections.own_key_gateway(connection, uow=ctx.uow)
    else:
        gateway = ctx.uow.platform_gateway()
    return gateway.retrieve_checkout_session(session.id)


def _session_handler(action: Action | None) -> Handler:
    def handle(ctx: EventContext) -> str:
        session = _event_session(ctx)
        return ctx.record(
            payments.apply_checkout_session(
                session, source=ctx.source, action=action, uow=ctx.uow, scope_workspace=ctx.scope_workspace,
                event_account=ctx.account,
            )
        )

    return handle


def session_completed(ctx: EventContext) -> str:
    """Paid only when ``payment_status`` is ``paid``; otherwise a delayed payment is processing."""
    session = _event_session(ctx)
    action = Action.PAYMENT_SUCCEEDED if session.payment_status in ("paid", "no_payment_required") \
        else Action.PAYMENT_STARTED
    return ctx.record(
        payments.apply_checkout_session(
            session, source=ctx.source, action=action, uow=ctx.uow, scope_workspace=ctx.scope_workspace,
            event_account=ctx.account,
        )
    )


def session_expired(ctx: EventContext) -> str:
    """Forget the session (when it is the invoice's current one); the pay link makes a new one."""
    session = checkout_session(ctx.object)
    return ctx.record(
        payments.apply_checkout_session(session, source=ctx.source, uow=ctx.uow, scope_workspace=ctx.scope_workspace,
                                        event_account=ctx.account)
    )


def charge_refunded(ctx: EventContext) -> str:
    return ctx.record(
        payments.apply_charge_refunded(charge_object(ctx.object), source=ctx.source,
                                       scope_workspace=ctx.scope_workspace, event_account=ctx.account, uow=ctx.uow)
    )


def dispute_created(ctx: EventContext) -> str:
    return ctx.record(
        payments.apply_dispute(dispute_object(ctx.object), source=ctx.source, scope_workspace=ctx.scope_workspace,
                               event_account=ctx.account, uow=ctx.uow)
    )


def refund_updated(ctx: EventContext) -> str:
    """A refund changed; only a failed (or canceled) one changes the invoice."""
    return ctx.record(
        payments.apply_refund_update(refund_object(ctx.object), source=ctx.source, scope_workspace=ctx.scope_workspace,
                                     event_account=ctx.account, uow=ctx.uow)
    )


def _dispute_funds(withdrawn: bool) -> Handler:
    def handle(ctx: EventContext) -> str:
        return ctx.record(
            payments.apply_dispute_funds(dispute_outcome(ctx.object), withdrawn=withdrawn, source=ctx.source,
                                         scope_workspace=ctx.scope_workspace, event_account=ctx.account,
                                         uow=ctx.uow)
        )

    return handle


def dispute_closed(ctx: EventContext) -> str:
    """The dispute's outcome: won clears the flag, lost takes the amount out of revenue."""
    return ctx.record(
        payments.apply_dispute_closed(dispute_outcome(ctx.object), source=ctx.source,
                                      scope_workspace=ctx.scope_workspace, event_account=ctx.account, uow=ctx.uow)
    )


def _connection_workspace(ctx: EventContext, account_id: str | None) -> str | None:
    if not account_id:
        return None
    return ctx.uow.session.scalars(
        select(StripeConnection.workspace_id).where(StripeConnection.account_id == account_id).limit(1)
    ).first()


def _connect_event_allowed(ctx: EventContext, account_id: str | None) -> str | None:
    """The workspace a Connect account event concerns, or ``None`` when it must be ignored."""
    workspace_id = _connection_workspace(ctx, account_id)
    if workspace_id is None:
        ctx.note = f"no workspace is connected to {account_id}"
        return None
    if ctx.scope_workspace is not None and workspace_id != ctx.scope_workspace:
        ctx.note = "account event outside the verifying workspace"
        return None
    ctx.workspace_id = workspace_id
    return workspace_id


def account_updated(ctx: EventContext) -> str:
    """Onboarding progress or restrictions of a connected account.

    The event's snapshot may be older than one already applied (events arrive in any
    order: https://docs.stripe.com/webhooks#event-ordering), so only its account id is
    used: the account is re-read from Stripe (:func:`~..services.connections.refresh_account`).
    """
    info = account_info(ctx.object)
    if _connect_event_allowed(ctx, info.id) is None:
        return "ignored"
    # Its service opens and commits its own transaction (the row is ``own_transaction``):
    # a fresh unit of work with the same collaborators, on the same session.
    unchanged = connections.refresh_account(info.id, uow=ctx.uow.fresh())
    if unchanged is not None:
        ctx.note = unchanged
        return "ignored"
    ctx.note = "connection updated from the account as Stripe has it now"
    return "processed"


def account_deauthorized(ctx: EventContext) -> str:
    """The connected account disconnected the platform: online payment stops for that workspace."""
    # The event's object is the platform's *application*; the account is the event's ``account``.
    application_object(ctx.object)
    account_id = ctx.event.get("account")
    if _connect_event_allowed(ctx, account_id) is None:
        return "ignored"
    connections.apply_deauthorization(account_id, uow=ctx.uow.fresh())
    ctx.note = "connection deauthorized"
    return "processed"


#: Every event type we handle -> its handler; the keys are exactly those of
#: :data:`~invoicing_plugin.gateways.stripe_events.ROUTES`. Anything else is recorded as ``ignored``.
HANDLERS: Mapping[str, Handler] = {
    "checkout.session.completed": session_completed,
    "checkout.session.async_payment_succeeded": _session_handler(Action.PAYMENT_SUCCEEDED),
    "checkout.session.async_payment_failed": _session_handler(Action.PAYMENT_FAILED),
    "checkout.session.expired": session_expired,
    "charge.refunded": charge_refunded,
    "charge.dispute.created": dispute_created,
    "charge.refund.updated": refund_updated,
    "refund.updated": refund_updated,
    "refund.failed": refund_updated,
    "charge.dispute.funds_withdrawn": _dispute_funds(True),
    "charge.dispute.funds_reinstated": _dispute_funds(False),
    "charge.dispute.closed": dispute_closed,
    "account.updated": account_updated,
    "account.application.deauthorized": account_deauthorized,
}


def check_event(event: Any) -> Mapping[str, Any]:
    """``event`` if it is shaped as an event Stripe sends, else :class:`MalformedStripeObject`.

    The envelope (:func:`~..gateways.stripe_gateway.stripe_event`) for every type; for a
    handled type also its ``data.object``, read by the same mapper its handler uses.
    """
    event = stripe_event(event)
    route = stripe_events.route(event["type"])
    if route is not None:
        route.reader(event["data"]["object"], where="data.object")
    return event


# Derived from the route table, kept importable under their old names; code reads
# :mod:`~invoicing_plugin.gateways.stripe_events` itself (at call time).

#: Every handled event type -> the gateway mapper that reads (and checks) its ``data.object``.
OBJECT_READERS: Mapping[str, Callable[..., Any]] = stripe_events.object_readers()

#: Event types whose handler's service commits its own transaction (and may call Stripe):
#: their event is claimed before the handler runs, so a duplicate never runs it again.
OWN_TRANSACTION: frozenset[str] = stripe_events.own_transaction_types()

#: Every event type we act on.
HANDLED_EVENT_TYPES: tuple[str, ...] = stripe_events.handled_event_types()
