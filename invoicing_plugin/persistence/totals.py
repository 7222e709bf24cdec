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

Days are calendar days in each workspace's time zone (``HostWorkspace.timezone``): the
``created`` and ``paid`` rows of an invoice paid at 01:30 UTC on the 15th by a workspace in
Los Angeles count on the 14th. The zone of a workspace comes from the resolver the unit of
work registers on the session (:func:`use_zones`), else the one the extension installs for
the current app (:func:`set_default_zones`), else UTC; it is asked once per workspace and
transaction (and both resolvers remember the host's answer for a few minutes:
``host.workspace_zone``). Totals kept before a workspace's zone was known (or changed) count its days
in the old zone: ``flask invoicing totals`` reports the difference and ``--rebuild`` fixes
it (see docs/portal-and-analytics.md, "Time zones").

Changes made with Core ``UPDATE``/``INSERT`` statements on ``invoicing_invoices`` are
not seen. The plugin's one such path (the webhook's, ``persistence.rows``) queues its
difference itself with :func:`queue_difference`; a host that writes invoices around the
ORM must run :func:`rebuild`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, tzinfo
from typing import Any

from sqlalchemy import and_, case, delete, event, func, insert, inspect, literal, literal_column, select, text, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import LoaderCallableStatus, Session
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Date

from ..domain.calendar import UTC, zone_name
from ..domain.statuses import REVENUE
from ..domain.totals import (MONEY_KEPT, NO_DUE_DATE, OPEN_STATUSES, Figures, Key, contribution, difference,
                             payment_contribution)
from . import appends
from .models import CreditNote, Invoice, InvoiceTotal, Payment, Prepayment

__all__ = ["AMOUNTS", "TABLE", "cached_sums_drift", "drift", "install", "local_date", "queue_difference",
           "queue_payment", "rebuild", "set_default_zones", "use_zones", "utc_date", "zone_of"]

NO_VALUE = LoaderCallableStatus.NO_VALUE

TABLE = InvoiceTotal.__table__
AMOUNTS = ("invoices", "amount_minor", "fee_minor")


# --- Whose day: each workspace's time zone ----------------------------------------------

ZoneResolver = Callable[[str], tzinfo]
_RESOLVER = "invoicing_zone_resolver"
_CACHE = "invoicing_zone_cache"
_default_resolver: ZoneResolver | None = None


def use_zones(session: Any, resolver: ZoneResolver | None) -> None:
    """Count ``session``'s days in the zones ``resolver(workspace_id)`` gives (the unit of work's host)."""
    info = session.info
    if info.get(_RESOLVER) is not resolver:
        info[_RESOLVER] = resolver
        info.pop(_CACHE, None)


def set_default_zones(resolver: ZoneResolver | None) -> None:
    """The resolver for sessions without one of their own (the extension's: the current app's host)."""
    global _default_resolver
    _default_resolver = resolver


def zone_of(session: Any, workspace_id: str | None) -> tzinfo:
    """The time zone ``workspace_id``'s days are counted in, asked once per transaction."""
    if not workspace_id:
        return UTC
    info = session.info
    cache = info.setdefault(_CACHE, {})
    zone = cache.get(workspace_id)
    if zone is None:
        resolver = info.get(_RESOLVER) or _default_resolver
        zone = cache[workspace_id] = resolver(str(workspace_id)) if resolver is not None else UTC
    return zone


def _forget_zones(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction: the next one asks again
        session.info.pop(_CACHE, None)


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


def _before_flush(session: Session, flush_context, instances) -> None:
    # Ask for the zones now, while the session may still run queries freely (the host's
    # lookup may read its own tables through the same session).
    for collection in (session.new, session.dirty, session.deleted):
        for instance in collection:
            if isinstance(instance, (Invoice, Payment)) and instance.workspace_id:
                zone_of(session, instance.workspace_id)


def _after_flush(session: Session, flush_context) -> None:
    for instance in session.new:
        if isinstance(instance, Invoice):
            after = _figures(instance, before=False)
            _queue(session, difference(None, after, zone_of(session, after.workspace_id)))
        elif isinstance(instance, Payment):  # a payment row added through the ORM (rows are never changed)
            queue_payment(session, str(instance.workspace_id), instance.currency, instance.received_at,
                          int(instance.amount_minor), int(instance.application_fee_minor or 0))
    for instance in session.dirty:
        if isinstance(instance, Invoice):
            before, after = _figures(instance, before=True), _figures(instance, before=False)
            _queue(session, difference(before, after, zone_of(session, after.workspace_id or before.workspace_id)))
    for instance in session.deleted:
        if isinstance(instance, Invoice):
            before = _figures(instance, before=True, deleted=True)
            _queue(session, difference(before, None, zone_of(session, before.workspace_id)))


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
    workspace_id = (after or before).workspace_id if (after or before) is not None else None
    _queue(session, difference(before, after, zone_of(session, workspace_id)))


def queue_payment(session: Session, workspace_id: str, currency: str, received_at, amount_minor: int,
                  fee_minor: int) -> None:
    """Count one payment row (written with Core, which the flush listener does not see) on the
    day it was received, in the workspace's zone (:func:`domain.totals.payment_contribution`)."""
    _queue(session, payment_contribution(workspace_id, currency, received_at, amount_minor, fee_minor,
                                         zone_of(session, workspace_id)))


def install(session_target: Any) -> None:
    """Listen on ``session_target`` (as :func:`persistence.appends.install`); idempotent."""
    if not event.contains(session_target, "after_flush", _after_flush):
        event.listen(session_target, "before_flush", _before_flush)
        event.listen(session_target, "after_flush", _after_flush)
        event.listen(session_target, "after_transaction_end", _forget_zones)


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


_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")


def local_date(column, zone: tzinfo):
    """The calendar day of a timestamp column in ``zone``, in SQL.

    PostgreSQL: ``(col AT TIME ZONE '<IANA name>')::date`` (its own copy of the IANA
    database). Other databases have no time zones: UTC only (:func:`utc_date`); for
    another zone the rebuild computes the days in Python instead.
    """
    name = zone_name(zone)
    if name == "UTC":
        return utc_date(column)
    if not _ZONE_NAME.fullmatch(name):  # pragma: no cover - IANA keys are plain; never quote anything else
        raise ValueError(f"unexpected time zone name {name!r}")
    return _zoned_date(column, literal_column(f"'{name}'"))


class _zoned_date(FunctionElement):
    type = Date()
    inherit_cache = True
    name = "invoicing_zoned_date"


@compiles(_zoned_date, "postgresql")
def _zoned_date_postgresql(element, compiler, **kw):
    column, zone = element.clauses
    return "CAST((%s AT TIME ZONE %s) AS DATE)" % (compiler.process(column, **kw), compiler.process(zone, **kw))


def _contributions(workspace_ids: list[str] | None, zone: tzinfo = UTC):
    """Every invoice's contribution (of ``workspace_ids``, or all), summed per row of the
    totals with days in ``zone``, as one SELECT."""
    i = Invoice.__table__.c
    scope = [i.workspace_id.in_(workspace_ids)] if workspace_ids is not None else []
    p = Payment.__table__.c
    # The invoice's corrections to its payment rows (domain.totals.contribution): what it keeps
    # (received less refunds and lost disputes, fees taken) less what its rows count.
    received = func.coalesce(i.amount_paid_minor, i.amount_minor)
    kept_status = i.status.in_(MONEY_KEPT)
    kept = case((kept_status, received - func.coalesce(i.amount_refunded_minor, 0)
                 - func.coalesce(i.amount_dispute_lost_minor, 0)), else_=0)
    kept_fees = case((kept_status, func.coalesce(i.fees_taken_minor, 0)), else_=0)
    created_day, paid_day = local_date(i.created_at, zone), local_date(i.paid_at, zone)
    created = (
        select(i.workspace_id, literal("created").label("measure"), created_day.label("day"),
               i.status.label("status"), literal("").label("currency"), func.count().label("invoices"),
               literal(0).label("amount_minor"), literal(0).label("fee_minor"))
        .where(i.created_at.isnot(None), *scope)
        .group_by(i.workspace_id, created_day, i.status)
    )
    corrections = (
        select(i.workspace_id.label("workspace_id"), paid_day.label("day"), i.currency.label("currency"),
               case((i.status.in_(REVENUE), 1), else_=0).label("invoices"),
               (kept - func.coalesce(i.amount_paid_minor, 0)).label("amount_minor"),
               (kept_fees - func.coalesce(i.fees_taken_minor, 0)).label("fee_minor"))
        .where(i.paid_at.isnot(None), *scope)
    )
    # Each payment row on the day it was received, with the fee taken from it: from the rows
    # themselves, not from the invoices' cached sums (cached_sums_drift checks those).
    payment_scope = [p.workspace_id.in_(workspace_ids)] if workspace_ids is not None else []
    received_day = local_date(p.received_at, zone)
    payments = (
        select(p.workspace_id, received_day, p.currency, literal(0), p.amount_minor,
               func.coalesce(p.application_fee_minor, 0))
        .where(*payment_scope)
    )
    both = union_all(corrections, payments).subquery()
    paid = (
        select(both.c.workspace_id, literal("paid"), both.c.day, literal(""), both.c.currency,
               func.sum(both.c.invoices), func.sum(both.c.amount_minor), func.sum(both.c.fee_minor))
        .group_by(both.c.workspace_id, both.c.day, both.c.currency)
    )
    due = func.coalesce(i.due_date, literal(NO_DUE_DATE, Date()))
    open_ = (
        select(i.workspace_id, literal("open"), due, i.status, i.currency, func.count(),
               func.sum(func.coalesce(i.amount_minor, 0) - func.coalesce(i.amount_paid_minor, 0)
                        - func.coalesce(i.amount_credited_minor, 0)
                        - func.coalesce(i.prepaid_minor, 0)), literal(0))
        .where(i.status.in_(OPEN_STATUSES), *scope)
        .group_by(i.workspace_id, due, i.status, i.currency)
    )
    return union_all(created, paid, open_)


_LOCK_INVOICES = text("LOCK TABLE invoicing_invoices IN SHARE ROW EXCLUSIVE MODE")
_COLUMNS = ["workspace_id", "measure", "day", "status", "currency", *AMOUNTS]
_TOTALS = tuple[int, int, int]


def _by_zone(session: Session, workspace_id: str | None) -> list[tuple[tzinfo, list[str] | None]]:
    """The workspaces to compute, grouped by time zone: ``[(zone, ids), ...]``.

    ``ids`` is ``None`` for "every workspace" when no workspace has a zone other than UTC
    (or no resolver is known): one statement, as before time zones."""
    if workspace_id is not None:
        return [(zone_of(session, workspace_id), [workspace_id])]
    ids = sorted({str(w) for w in session.scalars(select(Invoice.__table__.c.workspace_id).distinct())})
    groups: dict[str, tuple[tzinfo, list[str]]] = {}
    for ws in ids:
        zone = zone_of(session, ws)
        groups.setdefault(zone_name(zone), (zone, []))[1].append(ws)
    if set(groups) <= {"UTC"}:
        return [(UTC, None)]
    return list(groups.values())


def _in_sql(session: Session, zone: tzinfo) -> bool:
    return zone is UTC or zone_name(zone) == "UTC" or session.get_bind().dialect.name == "postgresql"


def _computed_in_python(session: Session, workspace_ids: list[str] | None, zone: tzinfo) -> dict[Key, _TOTALS]:
    """The same sums as :func:`_contributions`, from :func:`domain.totals.contribution` (any database)."""
    i = Invoice.__table__.c
    stmt = select(*(i[name] for name in Figures.FIELDS))
    if workspace_ids is not None:
        stmt = stmt.where(i.workspace_id.in_(workspace_ids))
    sums: dict[Key, list[int]] = {}
    for row in session.execute(stmt.execution_options(yield_per=2000)):
        _add(sums, contribution(Figures(**row._asdict()), zone))
    p = Payment.__table__.c
    payments = select(p.workspace_id, p.currency, p.received_at, p.amount_minor, p.application_fee_minor)
    if workspace_ids is not None:
        payments = payments.where(p.workspace_id.in_(workspace_ids))
    for row in session.execute(payments.execution_options(yield_per=2000)):
        _add(sums, payment_contribution(str(row.workspace_id), row.currency, row.received_at, int(row.amount_minor),
                                        int(row.application_fee_minor or 0), zone))
    return {key: (n, amount, fee) for key, (n, amount, fee) in sums.items()}


def _add(sums: dict[Key, list[int]], delta: dict[Key, tuple[int, int, int]]) -> None:
    for key, values in delta.items():
        acc = sums.setdefault(key, [0, 0, 0])
        for n, value in enumerate(values):
            acc[n] += value


def _computed(session: Session, workspace_id: str | None) -> dict[Key, _TOTALS]:
    out: dict[Key, _TOTALS] = {}
    for zone, ids in _by_zone(session, workspace_id):
        if _in_sql(session, zone):
            for row in session.execute(_contributions(ids, zone)):
                out[_key(row)] = (int(row.invoices), int(row.amount_minor or 0), int(row.fee_minor or 0))
        else:
            out.update(_computed_in_python(session, ids, zone))
    return out


def rebuild(session: Session, workspace_id: str | None = None) -> int:
    """Recompute the totals (of one workspace, or all) from the invoices; returns the row count.

    Days are counted in each workspace's time zone (:func:`zone_of`). Runs in the caller's
    transaction. On PostgreSQL it takes a ``SHARE ROW EXCLUSIVE`` lock on the invoices
    first, so no invoice changes between the delete and the insert, and sums in SQL; on
    other databases a workspace outside UTC is summed in Python (no time zones in SQLite).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_INVOICES)
    scope = [TABLE.c.workspace_id == workspace_id] if workspace_id is not None else []
    session.execute(delete(TABLE).where(*scope))
    for zone, ids in _by_zone(session, workspace_id):
        if _in_sql(session, zone):
            session.execute(insert(TABLE).from_select(_COLUMNS, _contributions(ids, zone)))
            continue
        rows = [
            {"workspace_id": key.workspace_id, "measure": key.measure, "day": key.day, "status": key.status,
             "currency": key.currency, "invoices": n, "amount_minor": amount, "fee_minor": fee}
            for key, (n, amount, fee) in _computed_in_python(session, ids, zone).items()
        ]
        for start in range(0, len(rows), 1000):
            session.execute(insert(TABLE), rows[start:start + 1000])
    return session.scalar(select(func.count()).select_from(TABLE).where(*scope)) or 0


def drift(session: Session, workspace_id: str | None = None) -> list[tuple[Key, tuple[int, int, int], tuple[int, int, int]]]:
    """Rows where the kept totals differ from a fresh computation: ``(key, kept, computed)``."""
    scope = [TABLE.c.workspace_id == workspace_id] if workspace_id is not None else []
    kept = {
        _key(row): (row.invoices, row.amount_minor, row.fee_minor)
        for row in session.execute(select(TABLE).where(*scope))
    }
    computed = _computed(session, workspace_id)
    zero = (0, 0, 0)
    return sorted(
        (key, kept.get(key, zero), computed.get(key, zero))
        for key in kept.keys() | computed.keys()
        if kept.get(key, zero) != computed.get(key, zero)
    )


def _key(row) -> Key:
    day = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day)[:10])
    return Key(str(row.workspace_id), row.measure, day, row.status or "", row.currency or "")


#: Each invoice's cached sums and the rows they sum: ``(column, table, summed column)``.
_CACHED_SUMS = (
    ("amount_paid_minor", Payment.__table__, "amount_minor"),
    ("fees_taken_minor", Payment.__table__, "application_fee_minor"),
    ("amount_credited_minor", CreditNote.__table__, "amount_minor"),
    ("prepaid_minor", Prepayment.__table__, "amount_minor"),
)


def cached_sums_drift(session: Session, workspace_id: str | None = None) -> list[tuple[int, str, int, int]]:
    """Invoices whose cached sums differ from their rows: ``(invoice_id, column, cached, rows)``.

    ``amount_paid_minor`` and ``fees_taken_minor`` sum the invoice's payment rows (amount, fee
    taken), ``amount_credited_minor`` its credit notes, ``prepaid_minor`` its prepayments (the
    deposits deducted). A NULL ``amount_paid_minor`` without payment rows (an invoice recorded
    before payment rows existed) is not a difference. ``flask invoicing totals`` reports them.
    """
    i = Invoice.__table__.c
    scope = [i.workspace_id == workspace_id] if workspace_id is not None else []
    out = []
    for column, table, summed in _CACHED_SUMS:
        rows = (select(func.coalesce(func.sum(table.c[summed]), 0)).where(table.c.invoice_id == i.id)
                .scalar_subquery())
        cached = func.coalesce(i[column], 0)
        stmt = select(i.id, cached, rows).where(cached != rows, *scope).order_by(i.id)
        out.extend((int(row[0]), column, int(row[1]), int(row[2])) for row in session.execute(stmt))
    return sorted(out)
