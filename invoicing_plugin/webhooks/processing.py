"""Handle one verified Stripe event exactly once.

:func:`process_event` is shared by the webhook endpoint, ``flask invoicing reconcile
--apply`` (events Stripe failed to deliver) and the health panel's replay button.

* The event row (``WebhookEvent``, unique ``event_id``) and the event's effect commit in
  **one** transaction; the handler locks the invoice row it changes. The row is written
  once, with its outcome, after the handler: ``INSERT ... ON CONFLICT (event_id) DO
  UPDATE ... WHERE status = 'failed' RETURNING id``. When that returns nothing the id is
  already recorded (a duplicate, or a concurrent twin that committed first): the
  handler's pending changes are rolled back and nothing changes. Concurrent twins queue
  on the invoice row lock, so the second one finds the invoice already paid.
* Checkout-session events on PostgreSQL (:func:`_begin`) take a shorter road: the
  invoice is read without a lock, and its version-guarded update, the audit entries and
  the totals ride in the event's upsert as CTEs that write only when the event's row is
  written; a stale version fails the whole statement (nothing written) and the event is
  processed again from a fresh read. The statement is all or nothing by itself, so it
  runs in autocommit mode, on a Core connection taken beside the session
  (:mod:`~invoicing_plugin.persistence.autocommit`; the session is not committed when
  nothing else was read or written through it): two round trips per paid event.
* Handlers of the event types marked ``own_transaction`` in
  :data:`~invoicing_plugin.gateways.stripe_events.ROUTES` commit (and may call Stripe)
  themselves: for them the event is claimed *before* the handler with the same
  statement, and the outcome written afterwards.
* A handler that raises rolls its effect back; the failure (status ``failed`` and the
  error) is then stored in a separate transaction. A failed row never blocks a later
  delivery, reconcile or replay of the same event id: it is processed again.
* An ``ignored`` row (the event changed nothing, e.g. it reached the platform's
  endpoint but belongs to an own-key workspace) gives way to a later delivery of the
  same id that is ``processed`` (Stripe sends one event id to every subscribed
  endpoint); a ``processed`` row never does.
* Confirmation emails go out after the commit.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from sqlalchemy import bindparam, func, literal_column, null, select, update
from sqlalchemy import insert as insert_core
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm.exc import StaleDataError

from ..state import get_state
from ..gateways import stripe_events
from ..gateways.stripe_gateway import redact_secrets
from ..persistence import appends, autocommit
from ..persistence.models import WebhookEvent, utcnow
from ..persistence.repository import WorkspaceRepository, insert_on_conflict
from ..services import payments
from ..services.errors import InvoicingError
from ..services.uow import UnitOfWork, retry_on_conflict
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


def _upsert(session, event: Mapping[str, Any], *, status: str, workspace_id: str | None,
            invoice_id: int | None, processed_at: datetime | None, note: str | None = None,
            take_over_ignored: bool = False):
    """``INSERT`` the event's row, or take over a *failed* row of the same event id.

    With ``take_over_ignored`` (an outcome already computed by the handler), a row
    recorded as ``ignored`` is taken over too when this delivery was ``processed``:
    Stripe delivers the same event id to every endpoint that subscribes to it
    (https://docs.stripe.com/webhooks#handle-duplicate-events), and a delivery ignored on
    one endpoint (an own-key workspace's event that also reached the platform's
    endpoint) changed nothing, so it must not make the right endpoint's delivery a
    duplicate. A row that was ``processed`` is never taken over.

    Returns the row id, or ``None`` when the event id is already recorded and cannot
    be taken over (a duplicate). One statement: ``INSERT ... ON CONFLICT (event_id) DO
    UPDATE ... WHERE <takeover> RETURNING id``. On PostgreSQL a concurrent twin that
    inserted the same id first makes this statement wait for its transaction, then
    see its outcome; the conditional update re-checks the committed row.
    """
    now = utcnow()
    values = {
        "event_id": str(event["id"]),
        "type": str(event.get("type"))[:96],
        "account_id": event.get("account") if isinstance(event.get("account"), str) else None,
        "workspace_id": workspace_id,
        "invoice_id": invoice_id,
        "livemode": bool(event.get("livemode")),
        "status": status,
        "error": None,
        "note": _note(note),
        "attempts": 1,
        "payload": dict(event),
        "stripe_created": _created(event),
        "received_at": now,
        "processed_at": processed_at,
    }
    lane = autocommit.connection_of(session)
    dialect = (lane if lane is not None else session.get_bind()).dialect
    # SQLite before 3.35 has no RETURNING; other backends have no ON CONFLICT.
    stmt = _upsert_statement(dialect.name, take_over_ignored) if dialect.insert_returning else None
    if stmt is None:  # lock-then-write, same outcome
        return _upsert_portable(session, values, take_over_ignored)
    params = {f"e_{name}": values[name] for name in _BOUND}
    if dialect.name == "postgresql":
        # What the handler queued (the invoice's guarded update, audit entries, changes to
        # the revenue totals) travels in this statement, as CTEs that write only when the
        # event's row was written: one round trip records the event and its whole effect,
        # all or nothing even outside a transaction (see _begin).
        if lane is not None and (session.new or session.dirty or session.deleted):
            raise RuntimeError("ORM changes cannot be written atomically with an event processed in autocommit mode")
        if lane is None:
            session.flush()
        queue = appends.take(session)
        if queue:
            stmt, folded = appends.fold_into(_carrier_statement(take_over_ignored), queue,
                                             only_if=_carrier(take_over_ignored))
            params.update(folded)
            try:
                row = (lane if lane is not None else session.connection()).execute(stmt, params).first()
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) == appends.STALE_SQLSTATE:
                    # A guarded update (the invoice's version moved on): nothing was written.
                    raise StaleDataError("the invoice changed since it was read") from exc
                raise
            appends.check_folded(queue, row)
            return None if row is None else row[0]
    return (lane if lane is not None else session.connection()).execute(stmt, params).scalar()


@functools.cache
def _carrier(take_over_ignored: bool):
    """The PostgreSQL upsert as a CTE, for the rest of an event's effect to ride along with."""
    return _upsert_statement("postgresql", take_over_ignored).cte("event_row")


@functools.cache
def _carrier_statement(take_over_ignored: bool):
    """``WITH event_row AS (<upsert> RETURNING id) SELECT id FROM event_row``."""
    carrier = _carrier(take_over_ignored)
    return select(carrier.c.id)


#: Event types whose handler writes only through queued writes (``persistence.rows`` and
#: ``persistence.appends``): on PostgreSQL they are processed in autocommit mode, where the
#: one statement that records the event and its effect is its own transaction. Any other
#: type runs in an ordinary transaction.
_AUTOCOMMIT_TYPES = frozenset({
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
})


def _begin(session, event_type: str) -> bool:
    """Start the event's unit of work: in autocommit mode when it can be.

    On PostgreSQL, for the types in :data:`_AUTOCOMMIT_TYPES` and when the session has no
    transaction open, a connection of the session's engine is taken in autocommit mode,
    beside the session (:mod:`~invoicing_plugin.persistence.autocommit`; the caller
    returns it with ``autocommit.close_for``): the reads that decide the effect (without
    a row lock; the invoice's version guards the write) and the one statement that writes
    the event and its effect run on it, each its own transaction, so no
    ``BEGIN``/``COMMIT`` round trips, no session transaction to commit, and no lock (a
    revenue-totals row every payment adds to) is held while the client waits. Two
    deliveries of one event, or two events of one invoice, racing: the second one's
    statement finds the event recorded (a duplicate, nothing written) or the invoice's
    version moved on (nothing written, ``StaleDataError``: processed again from a fresh
    read). Returns whether it did.
    """
    if isinstance(session, scoped_session):
        session = session()
    if (event_type in _AUTOCOMMIT_TYPES and not session.in_transaction()
            and session.get_bind().dialect.name == "postgresql"):
        autocommit.open_for(session)
        return True
    return False


def _taken_over(recorded_status, new_status, take_over_ignored: bool, value=lambda text: text):
    """Whether a recorded row of the same event id gives way to this delivery's outcome.

    ``value`` turns each status name into what it is compared as (SQL: an inline literal)."""
    failed = recorded_status == value("failed")
    if not take_over_ignored:
        return failed
    return failed | ((recorded_status == value("ignored")) & (new_status == value("processed")))


#: The columns of the event's row that :func:`_upsert` binds (``error`` and ``attempts``
#: start as ``NULL`` and 1).
_BOUND = ("event_id", "type", "account_id", "workspace_id", "invoice_id", "livemode", "status", "note",
          "payload", "stripe_created", "received_at", "processed_at")


@functools.cache
def _upsert_statement(dialect: str, take_over_ignored: bool):
    """The upsert for ``dialect``, built once per shape (the values are bound per call)."""
    insert = insert_on_conflict(dialect)
    if insert is None:  # pragma: no cover - other backends
        return None
    table = WebhookEvent.__table__
    # Parameters are named e_<column>: a folded UPDATE (see appends.fold_into) would
    # otherwise take a parameter named like one of its own columns into its SET clause.
    # Constants are inline (short statement, few parameters: see appends.fold_into).
    stmt = insert(table).values({
        **{name: bindparam(f"e_{name}", type_=table.c[name].type) for name in _BOUND},
        "error": null(), "attempts": literal_column("1"),
    })
    return stmt.on_conflict_do_update(
        index_elements=[table.c.event_id],
        set_={
            "status": stmt.excluded.status,
            "error": null(),
            "note": stmt.excluded.note,
            "attempts": table.c.attempts + literal_column("1"),
            "workspace_id": func.coalesce(stmt.excluded.workspace_id, table.c.workspace_id),
            "invoice_id": func.coalesce(stmt.excluded.invoice_id, table.c.invoice_id),
            "processed_at": stmt.excluded.processed_at,
        },
        where=_taken_over(table.c.status, stmt.excluded.status, take_over_ignored,
                          value=lambda text: literal_column(f"'{text}'")),
    ).returning(table.c.id)


def _upsert_portable(session, values: dict[str, Any], take_over_ignored: bool):
    """:func:`_upsert` without ``ON CONFLICT ... RETURNING`` (old SQLite, other backends)."""
    table = WebhookEvent.__table__
    existing = session.execute(
        select(table.c.id, table.c.status).where(table.c.event_id == values["event_id"]).with_for_update()
    ).first()
    if existing is None:
        # A concurrent twin fails here on the unique event_id (IntegrityError: a duplicate).
        return session.execute(insert_core(table).values(**values)).inserted_primary_key[0]
    if not _taken_over(existing.status, values["status"], take_over_ignored):
        return None
    session.execute(
        update(table).where(table.c.id == existing.id).values(
            status=values["status"], error=None, note=values["note"], attempts=table.c.attempts + 1,
            workspace_id=func.coalesce(values["workspace_id"], table.c.workspace_id),
            invoice_id=func.coalesce(values["invoice_id"], table.c.invoice_id),
            processed_at=values["processed_at"],
        )
    )
    return existing.id


def _finish(session, row_id: int, *, status: str, workspace_id: str | None, invoice_id: int | None,
            note: str | None = None) -> bool:
    """Write the outcome into a row claimed before a handler that commits on its own."""
    table = WebhookEvent.__table__
    result = session.execute(
        update(table).where(table.c.id == row_id).values(
            status=status, error=None, note=_note(note),
            workspace_id=func.coalesce(workspace_id, table.c.workspace_id),
            invoice_id=func.coalesce(invoice_id, table.c.invoice_id),
            processed_at=utcnow(),
        )
    )
    return result.rowcount == 1


def _note(note: str | None) -> str | None:
    """What handling found out (why an event was ignored), as stored: short, or nothing."""
    if not note:
        return None
    return note if len(note) <= MAX_ERROR_CHARS else note[: MAX_ERROR_CHARS - 1] + "…"


def _describe(exc: BaseException) -> str:
    """The error as stored on the event and shown to staff: short, and never a secret
    (a database error's text can carry the statement's parameters, e.g. a Fernet token)."""
    text = redact_secrets(f"{type(exc).__name__}: {exc}")
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def process_event(
    event: Mapping[str, Any], *, scope_workspace: str | None = None, source: str = "webhook"
) -> ProcessResult:
    """Record ``event`` once and apply it through :data:`~.handlers.HANDLERS`.

    ``event`` must already be verified (signature checked, or fetched from Stripe's API
    with our key). ``scope_workspace`` confines its effect to one workspace. A
    concurrent change to the same invoice (see :func:`retry_on_conflict`) makes the
    event apply again to the fresh row; only repeated conflicts count as a failure.
    """
    try:
        return retry_on_conflict(lambda: _process_once(event, scope_workspace=scope_workspace, source=source))
    except StaleDataError as exc:
        return _failed(event, None, scope_workspace, _describe(exc))


def _process_once(event: Mapping[str, Any], *, scope_workspace: str | None, source: str) -> ProcessResult:
    # The app's collaborators (session, gateways, settings, ...): building them reads no row.
    uow = UnitOfWork.for_app()
    session = uow.session
    event_id = str(event["id"])
    event_type = str(event.get("type"))[:96]
    handler = HANDLERS.get(event_type)
    ctx: EventContext | None = None
    status = "processed"
    lane = False
    try:
        try:
            with uow:
                ctx = EventContext(event=event, source=source, uow=uow, scope_workspace=scope_workspace)
                claimed = None
                route = stripe_events.route(event_type)
                if handler is not None:
                    lane = _begin(session, event_type)
                if handler is not None and route is not None and route.own_transaction:
                    # The service commits (and may call Stripe) itself: claim the event first,
                    # so a duplicate never runs it again.
                    claimed = _upsert(session, event, status="processed", workspace_id=scope_workspace,
                                      invoice_id=None, processed_at=None)
                    if claimed is None:
                        return ProcessResult(event_id, "duplicate", note="already recorded")
                if handler is None:
                    status, ctx.note = "ignored", f"{event_type} is not an event type we act on"
                else:
                    status = handler(ctx)
                workspace_id = ctx.workspace_id or scope_workspace
                if claimed is None:
                    # The common path: the handler's changes are still pending in this
                    # transaction (it locked the invoice row it changes); record the event with
                    # its outcome in one statement, and commit both at once -- or, for an id
                    # already recorded, throw the changes away.
                    if _upsert(session, event, status=status, workspace_id=workspace_id, invoice_id=ctx.invoice_id,
                               processed_at=utcnow(), note=ctx.note, take_over_ignored=True) is None:
                        uow.rollback()
                        return ProcessResult(event_id, "duplicate", note="already recorded")
                elif not _finish(session, claimed, status=status, workspace_id=workspace_id, invoice_id=ctx.invoice_id,
                                 note=ctx.note):
                    # The service rolled the claim back with its own transaction: record again.
                    _upsert(session, event, status=status, workspace_id=workspace_id,
                            invoice_id=ctx.invoice_id, processed_at=utcnow(), note=ctx.note)
                uow.commit()
        finally:
            # Back to the pool before anything else touches the database (storing a
            # failure, looking a duplicate up): one connection per request at a time.
            if lane:
                autocommit.close_for(session)
    except IntegrityError:
        session.rollback()
        if session.scalar(select(WebhookEvent.id).where(WebhookEvent.event_id == event_id)) is not None:
            return ProcessResult(event_id, "duplicate", note="recorded concurrently by another delivery")
        # The effect collided with a row another writer committed meanwhile (the client's
        # return from Checkout recorded the same PaymentIntent's payment row): a lost race,
        # like a version conflict. Processed again from a fresh read, it finds the work done.
        raise StaleDataError("another writer recorded the same effect meanwhile")
    except StaleDataError:
        session.rollback()
        raise
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
            if existing is not None and existing.status not in ("failed", "ignored"):
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


class ReplayRefused(InvoicingError):
    """Only a failed event can be replayed."""


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


def record_ignored(event: Mapping[str, Any], *, workspace_id: str | None, note: str) -> ProcessResult:
    """Record a verified ``event`` as ``ignored`` with ``note`` and act on nothing.

    For events the endpoint acknowledges without handling them (a test-mode event on
    a live endpoint, https://docs.stripe.com/connect/webhooks: "check the livemode
    value"). Same row and rules as :func:`process_event`: a failed row of the same id
    is taken over, anything else recorded makes this a ``duplicate``.
    """
    session = get_state().session
    event_id = str(event["id"])
    try:
        with UnitOfWork(session) as uow:
            if _upsert(session, event, status="ignored", workspace_id=workspace_id, invoice_id=None,
                       processed_at=utcnow(), note=note) is None:
                uow.rollback()
                return ProcessResult(event_id, "duplicate", note="already recorded")
            uow.commit()
    except IntegrityError:
        session.rollback()
        return ProcessResult(event_id, "duplicate", note="recorded concurrently by another delivery")
    return ProcessResult(event_id, "ignored", note=note)
