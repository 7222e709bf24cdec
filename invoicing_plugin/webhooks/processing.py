"""Handle one verified Stripe event exactly once.

:func:`process_event` is shared by the webhook endpoint, ``flask invoicing reconcile
--apply`` (events Stripe failed to deliver) and the health panel's replay button.

* The event row (``WebhookEvent``, unique ``event_id``) and the event's effect commit in
  **one** transaction; the handler locks the invoice row it changes. A duplicate
  delivery finds the row (or loses the race on the unique index: ``IntegrityError``)
  and changes nothing.
* A handler that raises rolls its effect back; the failure (status ``failed`` and the
  error) is then stored in a separate transaction. A failed row never blocks a later
  delivery, reconcile or replay of the same event id: it is processed again.
* Confirmation emails go out after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extension import get_state
from ..persistence.models import WebhookEvent, utcnow
from ..persistence.repository import WorkspaceRepository
from ..services import payments
from ..services.uow import UnitOfWork
from .handlers import HANDLERS, EventContext

log = logging.getLogger("invoicing_plugin.webhooks")

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class ProcessResult:
    event_id: str
    status: str  # processed | ignored | duplicate | failed
    note: str = ""
    error: str | None = None
    invoice_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def _created(event: Mapping[str, Any]) -> datetime | None:
    created = event.get("created")
    if isinstance(created, int) and not isinstance(created, bool):
        return datetime.fromtimestamp(created, tz=timezone.utc)
    return None


def _claim(session, event: Mapping[str, Any]) -> WebhookEvent | None:
    """This transaction's row for the event, or ``None`` when it was already handled."""
    stmt = (
        select(WebhookEvent)
        .where(WebhookEvent.event_id == event["id"])
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    existing = session.scalars(stmt).first()
    if existing is not None:
        if existing.status != "failed":
            return None
        existing.attempts += 1
        return existing
    record = WebhookEvent(
        event_id=event["id"],
        type=str(event.get("type"))[:96],
        account_id=event.get("account") if isinstance(event.get("account"), str) else None,
        livemode=bool(event.get("livemode")),
        payload=dict(event),
        stripe_created=_created(event),
        received_at=utcnow(),
        status="processed",
        attempts=1,
    )
    session.add(record)
    session.flush()  # a concurrent twin waits here, then fails on the unique event_id
    return record


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def process_event(
    event: Mapping[str, Any], *, scope_workspace: str | None = None, source: str = "webhook"
) -> ProcessResult:
    """Record ``event`` once and apply it through :data:`~.handlers.HANDLERS`.

    ``event`` must already be verified (signature checked, or fetched from Stripe's API
    with our key). ``scope_workspace`` confines its effect to one workspace.
    """
    state = get_state()
    session = state.session
    event_id = str(event["id"])
    ctx: EventContext | None = None
    status = "processed"
    try:
        with UnitOfWork(session) as uow:
            record = _claim(session, event)
            if record is None:
                return ProcessResult(event_id, "duplicate", note="already recorded")
            ctx = EventContext(event=event, source=source, uow=uow, scope_workspace=scope_workspace)
            handler = HANDLERS.get(record.type)
            if handler is None:
                status, ctx.note = "ignored", f"{record.type} is not an event type we act on"
            else:
                status = handler(ctx)
            if record not in session:
                # A service the handler called ended the transaction itself (committed or
                # rolled back): make sure the event is still recorded exactly once.
                record = _claim(session, event) or session.scalars(
                    select(WebhookEvent).where(WebhookEvent.event_id == event_id)
                ).one()
            record.status = status
            record.error = None
            record.workspace_id = ctx.workspace_id or scope_workspace or record.workspace_id
            record.invoice_id = ctx.invoice_id or record.invoice_id
            record.processed_at = utcnow()
            uow.commit()
    except IntegrityError:
        session.rollback()
        if session.scalar(select(WebhookEvent.id).where(WebhookEvent.event_id == event_id)) is not None:
            return ProcessResult(event_id, "duplicate", note="recorded concurrently by another delivery")
        return _failed(event, ctx, scope_workspace, "IntegrityError while recording the event")
    except Exception as exc:  # the handler failed: roll back its effect, keep the error
        session.rollback()
        log.exception("Stripe event %s (%s) failed", event_id, event.get("type"))
        return _failed(event, ctx, scope_workspace, _describe(exc))

    invoice_id = ctx.invoice_id if ctx else None
    for confirm_id in ctx.confirm_invoice_ids if ctx else ():
        try:
            payments.send_payment_confirmation(confirm_id)
        except Exception:  # the payment is recorded; the email problem is logged, not raised
            session.rollback()
            log.exception("payment confirmation for invoice %s failed", confirm_id)
    return ProcessResult(event_id, status, note=ctx.note if ctx else "", invoice_id=invoice_id)


def _failed(
    event: Mapping[str, Any], ctx: EventContext | None, scope_workspace: str | None, error: str
) -> ProcessResult:
    """Store the failure in its own transaction (the effect was rolled back)."""
    session = get_state().session
    event_id = str(event["id"])
    workspace_id = (ctx.workspace_id if ctx else None) or scope_workspace
    invoice_id = ctx.invoice_id if ctx else None
    try:
        with UnitOfWork(session) as uow:
            existing = session.scalars(
                select(WebhookEvent)
                .where(WebhookEvent.event_id == event_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).first()
            if existing is not None and existing.status != "failed":
                # Processed meanwhile by a concurrent delivery (or the effect committed and a
                # signal receiver raised afterwards): nothing was lost.
                return ProcessResult(event_id, existing.status, note="processed by another delivery")
            if existing is None:
                existing = WebhookEvent(
                    event_id=event_id,
                    type=str(event.get("type"))[:96],
                    account_id=event.get("account") if isinstance(event.get("account"), str) else None,
                    livemode=bool(event.get("livemode")),
                    payload=dict(event),
                    stripe_created=_created(event),
                    received_at=utcnow(),
                    attempts=1,
                )
                session.add(existing)
            else:
                existing.attempts += 1
            existing.status = "failed"
            existing.error = error
            existing.workspace_id = workspace_id or existing.workspace_id
            existing.invoice_id = invoice_id or existing.invoice_id
            existing.processed_at = None
            uow.commit()
    except Exception:
        session.rollback()
        log.exception("could not store the failure of Stripe event %s", event_id)
    return ProcessResult(event_id, "failed", error=error, invoice_id=invoice_id)


class ReplayRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def replay_event(workspace_id: str, webhook_event_pk: int) -> ProcessResult:
    """Run a stored failed event of ``workspace_id`` through the handler table again.

    Raises :class:`~invoicing_plugin.persistence.repository.NotFound` for another
    workspace's event and :class:`ReplayRefused` for one that did not fail.
    """
    session = get_state().session
    record = WorkspaceRepository(session, workspace_id).get(WebhookEvent, webhook_event_pk)
    if record.status != "failed":
        raise ReplayRefused("Only a failed event can be replayed; this one was already handled.")
    payload = dict(record.payload)
    session.rollback()
    return process_event(payload, scope_workspace=str(workspace_id), source="replay")
