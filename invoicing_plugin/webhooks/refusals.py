"""Refused webhook deliveries, counted; which kinds of event have arrived.

Stripe retries a delivery answered 4xx and, after repeated failures, disables the
endpoint (https://docs.stripe.com/webhooks, "Retry behavior" / disabled endpoints). A
refusal records nothing about the event, so without a count the health page would say
"0 failed" while Stripe gives up on the endpoint. :func:`record_refusal` counts each
refusal in ``invoicing_webhook_refusals`` -- one row per day, endpoint kind, reason and
scope, so forged requests add to a count, never rows -- and keeps the event's id and
type only when a configured secret verified the signature. Nothing of a body whose
signature did not verify is stored.

:func:`arrivals` says, per handled event type, when one last arrived (or that none
ever did), grouped by the endpoint kind Stripe delivers it to
(https://docs.stripe.com/connect/webhooks): ``checkout.session.*`` and ``charge.*`` of
destination charges on the platform's *account* endpoint, ``account.*`` of connected
accounts on its *Connect* endpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..gateways import stripe_events
from ..gateways.stripe_gateway import is_stripe_id
from ..persistence.models import WebhookEvent, WebhookRefusal, utcnow
from ..persistence.repository import insert_on_conflict
from ..state import get_state

log = logging.getLogger("invoicing_plugin.webhooks")

#: What each refusal reason means, as shown on the health page and by ``flask invoicing info``.
REASONS: dict[str, str] = {
    "too_large": "body larger than INVOICING_STRIPE_WEBHOOK_MAX_BYTES",
    "header": "Stripe-Signature header that Stripe does not send",
    "not_json": "body that is not UTF-8 JSON",
    "not_event": "body that is not a Stripe event",
    "wrong_endpoint": "an account event sent to the Connect URL",
    "no_secret": "no signing secret configured for this endpoint",
    "no_signature": "no Stripe-Signature header",
    "signature": "signature matches no configured secret",
    "stale": "signature older than INVOICING_STRIPE_WEBHOOK_TOLERANCE",
    "malformed": "signed, but not an event Stripe sends",
}

ENDPOINT_KINDS = ("account", "connect")
MAX_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class Refusal:
    """Why a delivery was refused, for the count. ``event_id``/``event_type`` only when
    ``signed`` (a configured secret verified the signature)."""

    reason: str
    endpoint: str = "account"
    status: int = 400
    signed: bool = False
    scope: str | None = None  # the own-key workspace whose secret verified it
    event_id: str | None = None
    event_type: str | None = None


def record_refusal(refusal: Refusal, message: str) -> None:
    """Count ``refusal`` (in its own transaction). Never raises: a database problem is
    logged and the delivery is still refused."""
    session = get_state().session
    now = utcnow()
    signed = refusal.signed
    event_id = refusal.event_id if signed and is_stripe_id(refusal.event_id) else None
    event_type = refusal.event_type[:96] if signed and isinstance(refusal.event_type, str) else None
    if event_type is not None and ("\x00" in event_type or not event_type.isprintable()):
        event_type = None
    values: dict[str, Any] = {
        "day": now.date(), "endpoint": refusal.endpoint if refusal.endpoint in ENDPOINT_KINDS else "account",
        "reason": refusal.reason[:32], "scope": (refusal.scope or "")[:64], "signed": signed, "count": 1,
        "first_at": now, "last_at": now, "last_status": int(refusal.status),
        "last_message": message[:MAX_MESSAGE_CHARS], "last_event_id": event_id, "last_event_type": event_type,
    }
    table = WebhookRefusal.__table__
    try:
        session.rollback()  # nothing of the refused request is pending; start clean
        insert = insert_on_conflict(session.get_bind().dialect.name)
        if insert is not None:
            stmt = insert(table).values(**values)
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c.day, table.c.endpoint, table.c.reason, table.c.scope],
                set_={
                    "count": table.c.count + 1, "last_at": stmt.excluded.last_at,
                    "last_status": stmt.excluded.last_status, "last_message": stmt.excluded.last_message,
                    "signed": table.c.signed | stmt.excluded.signed,
                    "last_event_id": func.coalesce(stmt.excluded.last_event_id, table.c.last_event_id),
                    "last_event_type": func.coalesce(stmt.excluded.last_event_type, table.c.last_event_type),
                },
            )
            session.execute(stmt)
        else:  # pragma: no cover - backends without INSERT ... ON CONFLICT
            _record_portable(session, table, values)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.exception("could not count a refused Stripe webhook delivery (%s)", refusal.reason)


def _record_portable(session, table, values: dict[str, Any]) -> None:  # pragma: no cover
    key = [table.c.day == values["day"], table.c.endpoint == values["endpoint"],
           table.c.reason == values["reason"], table.c.scope == values["scope"]]
    changed = session.execute(update(table).where(*key).values(
        count=table.c.count + 1, last_at=values["last_at"], last_status=values["last_status"],
        last_message=values["last_message"],
        last_event_id=func.coalesce(values["last_event_id"], table.c.last_event_id),
        last_event_type=func.coalesce(values["last_event_type"], table.c.last_event_type),
    )).rowcount
    if not changed:
        try:
            with session.begin_nested():
                session.execute(table.insert().values(**values))
        except IntegrityError:
            session.execute(update(table).where(*key).values(count=table.c.count + 1))


@dataclass(frozen=True)
class RefusalSummary:
    endpoint: str
    reason: str
    scope: str
    count: int
    last_at: datetime
    last_status: int
    last_message: str | None
    signed: bool
    last_event_id: str | None
    last_event_type: str | None

    @property
    def meaning(self) -> str:
        return REASONS.get(self.reason, self.reason)


def refusals(*, since: datetime, scope: str | None = None, platform: bool = True) -> list[RefusalSummary]:
    """Refusals since ``since`` per (endpoint kind, reason, scope), most frequent first.

    ``scope``: only that own-key workspace's; with ``platform`` also the platform
    endpoints' (scope ``""``). ``scope=None`` and ``platform=True``: everything.
    """
    table = WebhookRefusal
    stmt = select(
        table.endpoint, table.reason, table.scope, func.sum(table.count), func.max(table.last_at),
    ).where(table.day >= since.date()).group_by(table.endpoint, table.reason, table.scope)
    if scope is not None:
        scopes = [str(scope), ""] if platform else [str(scope)]
        stmt = stmt.where(table.scope.in_(scopes))
    elif not platform:
        stmt = stmt.where(table.scope != "")
    session = get_state().session
    summaries = []
    for endpoint, reason, row_scope, count, last_at in session.execute(stmt).all():
        last = session.scalars(
            select(table).where(table.endpoint == endpoint, table.reason == reason, table.scope == row_scope,
                                table.day >= since.date())
            .order_by(table.last_at.desc()).limit(1)
        ).first()
        summaries.append(RefusalSummary(
            endpoint=endpoint, reason=reason, scope=row_scope, count=int(count), last_at=last_at,
            last_status=last.last_status, last_message=last.last_message, signed=last.signed,
            last_event_id=last.last_event_id, last_event_type=last.last_event_type,
        ))
    summaries.sort(key=lambda s: (-s.count, s.endpoint, s.reason))
    return summaries


@dataclass(frozen=True)
class Arrival:
    """One handled event type: the endpoint kind Stripe delivers it to, and when one last
    arrived (``None``: never, in the window)."""

    type: str
    endpoint: str
    last_received_at: datetime | None
    count: int


def arrivals(*, since: datetime | None = None, workspace_id: str | None = None,
             own_key: bool = False) -> list[Arrival]:
    """Per handled event type (table order), its endpoint kind and last arrival.

    ``workspace_id``: only that workspace's recorded events (else every event recorded).
    ``own_key``: the workspace receives through the endpoint on its own account, which
    is subscribed only to the types marked ``own_key`` (the Connect types are left out).
    """
    stmt = select(WebhookEvent.type, func.max(WebhookEvent.received_at), func.count()).group_by(WebhookEvent.type)
    if since is not None:
        stmt = stmt.where(WebhookEvent.received_at >= since)
    if workspace_id is not None:
        stmt = stmt.where(WebhookEvent.workspace_id == str(workspace_id))
    seen = {event_type: (last, count) for event_type, last, count in get_state().session.execute(stmt).all()}
    result = []
    for event_type, row in stripe_events.ROUTES.items():
        if own_key and not row.own_key:
            continue
        last, count = seen.get(event_type, (None, 0))
        result.append(Arrival(event_type, "account" if own_key else row.endpoint, last, int(count)))
    return result


def window(days: int = 7) -> datetime:
    return utcnow() - timedelta(days=days)
