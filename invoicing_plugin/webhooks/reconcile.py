"""Reconciliation: find payments whose webhook never arrived, and record them once.

``flask invoicing reconcile`` (run it from cron, e.g. every 15 minutes) does three things:

1. For every invoice still awaiting a Stripe payment (``sent`` / ``processing`` with a
   Checkout Session) it re-reads the session from Stripe and applies the outcome through
   :func:`invoicing_plugin.services.payments.apply_checkout_session` -- the same code
   path as the webhook.
2. It lists the events Stripe failed to deliver (``delivery_success=false``), every page
   of them (the SDK's auto-pagination: https://docs.stripe.com/webhooks/process-undelivered-events)
   within the look-back: the platform account's (what its account endpoint was sent), each
   linked Connect account's (what the Connect endpoint was sent: ``account.updated``...,
   listed with the ``Stripe-Account`` header, https://docs.stripe.com/connect/webhooks) and
   each own-key workspace's account's; it reports them, and with ``--apply`` runs them
   through the webhook handler table (recorded once by event id).
3. It retries payment confirmation emails whose sending failed (first, so a payment
   recorded in this run gets its own first attempt and is retried on the next run).

Several copies may run at once (cron on several machines): each invoice is taken with
``SELECT ... FOR UPDATE SKIP LOCKED`` so a second run skips what the first one is doing,
and a payment already recorded is a no-op in the state machine.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from ..state import get_state
from ..gateways.stripe_gateway import GatewayError, StripeEventRef, StripeGateway
from ..persistence.models import Invoice, StripeConnection, WebhookEvent
from ..services import payments
from ..services.connections import CONNECT, LINKED, connect_available, own_key_gateway
from ..services.uow import retry_on_conflict
from .processing import ProcessResult, process_event

log = logging.getLogger("invoicing_plugin.reconcile")

DEFAULT_LOOKBACK_SECONDS = 3 * 24 * 3600  # Stripe retries a failing delivery for up to three days


@dataclass
class UndeliveredEvent:
    ref: StripeEventRef
    source: str  # "platform" or "workspace <id>"
    recorded_status: str | None  # our WebhookEvent status, None if we never saw it
    result: ProcessResult | None = None


@dataclass
class ReconcileReport:
    checked: int = 0
    recorded: list[tuple[int, str]] = field(default_factory=list)  # (invoice id, what changed)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    undelivered: list[UndeliveredEvent] = field(default_factory=list)
    confirmations_sent: int = 0
    confirmations_failed: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and not any(u.result is not None and not u.result.ok for u in self.undelivered)


@dataclass(frozen=True)
class EventSource:
    """One Stripe account whose undelivered events reconcile reads."""

    gateway: StripeGateway
    scope: str | None  # the own-key workspace its events are confined to
    label: str
    account: str | None = None  # a connected account, read with the platform key


def _event_sources() -> list[EventSource]:
    """Every Stripe account whose events we consume: the platform, its linked Connect
    accounts, and each active own-key workspace's account."""
    state = get_state()
    sources: list[EventSource] = []
    if connect_available():
        platform = state.platform_gateway()
        sources.append(EventSource(platform, None, "platform"))
        linked = state.session.execute(
            select(StripeConnection.workspace_id, StripeConnection.account_id).where(
                StripeConnection.mode == CONNECT,
                StripeConnection.status.in_(sorted(LINKED)),
                StripeConnection.account_id.is_not(None),
            ).order_by(StripeConnection.id)
        ).all()
        for workspace_id, account_id in linked:
            sources.append(EventSource(platform, None, f"workspace {workspace_id}, Connect account {account_id}",
                                       account=account_id))
    connections = state.session.scalars(
        select(StripeConnection).where(
            StripeConnection.mode == "own_key",
            StripeConnection.status == "active",
            StripeConnection.secret_key_encrypted.is_not(None),
        )
    ).all()
    for connection in connections:
        try:
            label = f"workspace {connection.workspace_id}"
            sources.append(EventSource(own_key_gateway(connection), connection.workspace_id, label))
        except Exception as exc:  # one broken workspace must not stop the others
            log.error("cannot read events of workspace %s: %s", connection.workspace_id, exc)
    return sources


def reconcile(*, apply_undelivered: bool = False, lookback_seconds: int = DEFAULT_LOOKBACK_SECONDS,
              limit: int = 1000) -> ReconcileReport:
    state = get_state()
    session = state.session
    report = ReconcileReport()
    # Earlier failures first, so a confirmation that fails in this run is not retried at once.
    report.confirmations_sent, report.confirmations_failed = payments.retry_unsent_confirmations()

    invoice_ids = session.scalars(
        select(Invoice.id)
        .where(Invoice.status.in_(payments.AWAITING_STRIPE), Invoice.checkout_session_id.is_not(None))
        .order_by(Invoice.id)
        .limit(limit)
    ).all()
    session.rollback()
    for invoice_id in invoice_ids:
        report.checked += 1
        try:
            result = retry_on_conflict(
                lambda: payments.sync_invoice(invoice_id, source="reconcile", skip_locked=True))
        except Exception as exc:
            session.rollback()
            log.exception("reconcile of invoice %s failed", invoice_id)
            report.errors.append(f"invoice {invoice_id}: {type(exc).__name__}: {exc}")
            continue
        if result.error:
            report.errors.append(f"invoice {invoice_id}: {result.error}")
        elif result.skipped:
            report.skipped.append((invoice_id, result.skipped))
        elif result.outcome is not None and result.outcome.changed:
            report.recorded.append((invoice_id, result.outcome.note))

    since = int(time.time()) - lookback_seconds
    sources = _event_sources()
    session.rollback()
    for source in sources:
        scope, label = source.scope, source.label
        try:
            refs = source.gateway.list_undelivered_events(created_gte=since, account=source.account)
        except GatewayError as exc:
            report.errors.append(f"{label}: could not list undelivered events: {exc.message}")
            continue
        for ref in reversed(refs):  # oldest first: in the order Stripe created them
            recorded = session.scalar(select(WebhookEvent.status).where(WebhookEvent.event_id == ref.id))
            session.rollback()
            item = UndeliveredEvent(ref=ref, source=label, recorded_status=recorded)
            if apply_undelivered and recorded in (None, "failed", "ignored"):  # see processing._upsert
                item.result = process_event(dict(ref.payload), scope_workspace=scope, source="reconcile")
            report.undelivered.append(item)

    return report
