"""Keeping ``invoicing_invoice_totals`` equal to the sum of every invoice's contribution.

:mod:`invoicing_plugin.domain.totals` says what one invoice contributes. Here:

* :func:`install` listens to the host session's flushes. For every invoice inserted,
  changed or deleted it queues the difference between its new and old contribution
  (:func:`persistence.appends.increment`), written when the transaction commits, in
  it. The columns involved are mapped with ``active_history`` so the old value is
  known even when an attribute is set without being read first.
* :func:`rebuild` recomputes the totals from the invoices in SQL (the same definition
  as the domain's, as ``GROUP BY`` queries), for rows written around the ORM: a bulk
  ``COPY``, a data fix in ``psql``, or an install older than the table (migration 0004
  calls it).
* :func:`drift` compares the two and lists the rows that differ (``flask invoicing
  totals`` reports them).

Changes made with Core ``UPDATE``/``INSERT`` statements on ``invoicing_invoices`` are
not seen. The plugin's one such path (the webhook's, ``persistence.rows``) queues its
difference itself with :func:`queue_difference`; a host that writes invoices around the
ORM must run :func:`rebuild`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, event, func, insert, inspect, literal, select, text, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import LoaderCallableStatus, Session
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Date

from ..domain.statuses import REVENUE
from ..domain.totals import NO_DUE_DATE, OPEN_STATUSES, Figures, Key, difference
from . import appends
from .models import Invoice, InvoiceTotal

__all__ = ["AMOUNTS", "TABLE", "drift", "install", "queue_difference", "rebuild", "utc_date"]

NO_VALUE = LoaderCallableStatus.NO_VALUE

TABLE = InvoiceTotal.__table__
AMOUNTS = ("invoices", "amount_minor", "fee_minor")


# --- Incremental: from the session's flushes --------------------------------------------


def _figures(instance: Invoice, *, before: bool, deleted: bool = False) -> Figures:
    """The invoice's counted fields now, or (``before``) as they were when loaded.

    Reads the instance state directly (``committed_state`` holds the loaded value of each
    attribute changed since): this runs on every flush of every invoice.
    """
    state = inspect(instance)
    current, original = state.dict, state.committed_state
    values = {}
    for name in Figures.FIELDS:
        if name not in current and not deleted:
            getattr(instance, name)  # not loaded (so unchanged): load it
        value = current.get(name)
        if before and name in original:
            value = original[name]
            if value is NO_VALUE:  # pragma: no cover - active_history always loads the old value
                raise RuntimeError(f"the previous value of Invoice.{name} was not loaded")
        values[name] = value
    return Figures(**values)


def _after_flush(session: Session, flush_context) -> None:
    for instance in session.new:
        if isinstance(instance, Invoice):
            _queue(session, difference(None, _figures(instance, before=False)))
    for instance in session.dirty:
        if isinstance(instance, Invoice):
            _queue(session, difference(_figures(instance, before=True), _figures(instance, before=False)))
    for instance in session.deleted:
        if isinstance(instance, Invoice):
            _queue(session, difference(_figures(instance, before=True, deleted=True), None))


def _queue(session: Session, delta: dict[Key, tuple[int, int, int]]) -> None:
    for key, (invoices, amount, fee) in delta.items():
        appends.increment(
            session, TABLE,
            {"workspace_id": key.workspace_id, "measure": key.measure, "day": key.day, "status": key.status,
             "currency": key.currency},
            {"invoices": invoices, "amount_minor": amount, "fee_minor": fee},
        )


def queue_difference(session: Session, before: Figures | None, after: Figures | None) -> None:
    """Queue the change of one invoice from ``before`` to ``after`` (``None``: no invoice),
    for an invoice written without the ORM (``persistence.rows``), which the flush
    listener does not see."""
    _queue(session, difference(before, after))


def install(session_target: Any) -> None:
    """Listen on ``session_target`` (as :func:`persistence.appends.install`); idempotent."""
    if not event.contains(session_target, "after_flush", _after_flush):
        event.listen(session_target, "after_flush", _after_flush)


# --- From scratch: the same definition in SQL ------------------------------------------


class utc_date(FunctionElement):
    """The UTC calendar day of a timestamp column: ``date(col)`` on SQLite (stored as
    UTC text), ``(col AT TIME ZONE 'UTC')::date`` on PostgreSQL."""

    type = Date()
    inherit_cache = True
    name = "invoicing_utc_date"


@compiles(utc_date)
def _utc_date_default(element, compiler, **kw):
    (column,) = element.clauses
    return "date(%s)" % compiler.process(column, **kw)


@compiles(utc_date, "postgresql")
def _utc_date_postgresql(element, compiler, **kw):
    (column,) = element.clauses
    return "CAST((%s AT TIME ZONE 'UTC') AS DATE)" % compiler.process(column, **kw)


def _contributions(workspace_id: str | None):
    """Every invoice's contribution, summed per row of the totals, as one SELECT."""
    i = Invoice.__table__.c
    scope = [i.workspace_id == workspace_id] if workspace_id is not None else []
    received = (func.coalesce(i.amount_paid_minor, i.amount_minor) - func.coalesce(i.amount_refunded_minor, 0)
                - func.coalesce(i.amount_dispute_lost_minor, 0))
    created = (
        select(i.workspace_id, literal("created").label("measure"), utc_date(i.created_at).label("day"),
               i.status.label("status"), literal("").label("currency"), func.count().label("invoices"),
               literal(0).label("amount_minor"), literal(0).label("fee_minor"))
        .where(i.created_at.isnot(None), *scope)
        .group_by(i.workspace_id, utc_date(i.created_at), i.status)
    )
    paid = (
        select(i.workspace_id, literal("paid"), utc_date(i.paid_at), literal(""), i.currency, func.count(),
               func.sum(received), func.sum(func.coalesce(i.application_fee_minor, 0)))
        .where(i.status.in_(REVENUE), i.paid_at.isnot(None), *scope)
        .group_by(i.workspace_id, utc_date(i.paid_at), i.currency)
    )
    due = func.coalesce(i.due_date, literal(NO_DUE_DATE, Date()))
    open_ = (
        select(i.workspace_id, literal("open"), due, i.status, i.currency, func.count(),
               func.sum(func.coalesce(i.amount_minor, 0)), literal(0))
        .where(i.status.in_(OPEN_STATUSES), *scope)
        .group_by(i.workspace_id, due, i.status, i.currency)
    )
    return union_all(created, paid, open_)


_LOCK_INVOICES = text("LOCK TABLE invoicing_invoices IN SHARE ROW EXCLUSIVE MODE")


def rebuild(session: Session, workspace_id: str | None = None) -> int:
    """Recompute the totals (of one workspace, or all) from the invoices; returns the row count.

    Runs in the caller's transaction. On PostgreSQL it takes a ``SHARE ROW EXCLUSIVE``
    lock on the invoices first, so no invoice changes between the delete and the insert.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_INVOICES)
    scope = [TABLE.c.workspace_id == workspace_id] if workspace_id is not None else []
    session.execute(delete(TABLE).where(*scope))
    columns = ["workspace_id", "measure", "day", "status", "currency", *AMOUNTS]
    session.execute(insert(TABLE).from_select(columns, _contributions(workspace_id)))
    return session.scalar(select(func.count()).select_from(TABLE).where(*scope)) or 0


def drift(session: Session, workspace_id: str | None = None) -> list[tuple[Key, tuple[int, int, int], tuple[int, int, int]]]:
    """Rows where the kept totals differ from a fresh computation: ``(key, kept, computed)``."""
    scope = [TABLE.c.workspace_id == workspace_id] if workspace_id is not None else []
    kept = {
        _key(row): (row.invoices, row.amount_minor, row.fee_minor)
        for row in session.execute(select(TABLE).where(*scope))
    }
    computed = {
        _key(row): (int(row.invoices), int(row.amount_minor or 0), int(row.fee_minor or 0))
        for row in session.execute(_contributions(workspace_id))
    }
    zero = (0, 0, 0)
    return sorted(
        (key, kept.get(key, zero), computed.get(key, zero))
        for key in kept.keys() | computed.keys()
        if kept.get(key, zero) != computed.get(key, zero)
    )


def _key(row) -> Key:
    day = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day)[:10])
    return Key(str(row.workspace_id), row.measure, day, row.status or "", row.currency or "")

