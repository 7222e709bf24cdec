"""Writes that ride along with a transaction's last statement.

Two kinds of write are never read back by the transaction that makes them: entries
appended to the payment audit trail (:func:`append`), and amounts added to running
totals (:func:`increment`, for the revenue analytics). So instead of a round trip
each, they are queued on the session and written when the transaction ends:

* by default just before the session commits (after its last flush), from a
  ``before_commit`` listener that :func:`install` puts on the host's session: one
  ``INSERT`` per table for appended rows, one ``INSERT ... ON CONFLICT DO UPDATE SET
  n = n + excluded.n`` per table for increments;
* or, earlier, by a caller that has a statement of its own to send: :func:`take`
  hands over the queue and :func:`fold_into` adds it to that statement as
  data-modifying CTEs, which PostgreSQL runs as part of it. The webhook endpoint records
  a Stripe event, its audit entries and its effect on the totals this way, in one
  round trip.

Increments to the same row within a transaction are summed first, and rows are
written in key order: every transaction locks the total rows it changes in the same
order, at the very end, so two of them cannot deadlock over totals and none holds a
total's row lock for longer than its commit.

A transaction that rolls back drops its queue with the rest of its work, and so does a
savepoint (``begin_nested``): each has its own queue, which joins the enclosing one when
the savepoint is released. Only the outermost commit writes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, event, func, insert, select
from sqlalchemy.orm import Session, scoped_session

from .repository import insert_on_conflict

_KEY = "invoicing_pending_writes"


@dataclass
class Queue:
    """What a transaction has queued: appended rows, and sums to add to keyed rows."""

    rows: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)
    #: (table, key column names, key values) -> {amount column: sum}
    increments: dict[tuple[Table, tuple[str, ...], tuple[Any, ...]], dict[str, int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.rows or self.increments)

    def increment_rows(self) -> dict[Table, list[dict[str, Any]]]:
        """Non-zero increments as rows per table, in key order."""
        out: dict[Table, list[dict[str, Any]]] = {}
        for (table, names, values), amounts in sorted(self.increments.items(), key=lambda i: (i[0][0].name, i[0][2])):
            if any(amounts.values()):
                out.setdefault(table, []).append({**dict(zip(names, values)), **amounts})
        return out

    def add(self, slot: tuple, amounts: dict[str, int]) -> None:
        current = self.increments.setdefault(slot, {})
        for name, value in amounts.items():
            current[name] = current.get(name, 0) + value

    def merge(self, other: "Queue") -> None:
        """Add ``other`` (a released savepoint's queue) to this one."""
        self.rows.extend(other.rows)
        for slot, amounts in other.increments.items():
            self.add(slot, amounts)


def _session(session: Session | scoped_session) -> Session:
    return session() if isinstance(session, scoped_session) else session


def _innermost(session: Session):
    """The savepoint in progress, or the transaction."""
    return session.get_nested_transaction() or session.get_transaction()


def _queues(session: Session) -> dict:
    """One queue per open transaction or savepoint, so a savepoint that rolls back drops its own."""
    return session.info.setdefault(_KEY, {})


def _queue(session: Session | scoped_session) -> Queue:
    session = _session(session)
    if not session.in_transaction():
        # Tie the queue to a transaction even before any SQL ran, so a rollback drops it.
        session.begin()
    return _queues(session).setdefault(_innermost(session), Queue())


def append(session: Session | scoped_session, table: Table, row: dict[str, Any]) -> None:
    """Queue ``row`` for ``table``; it commits or rolls back with ``session``'s transaction."""
    _queue(session).rows.append((table, row))


def increment(session: Session | scoped_session, table: Table, key: dict[str, Any], amounts: dict[str, int]) -> None:
    """Add ``amounts`` to the row of ``table`` whose primary key is ``key`` (created at zero)."""
    _queue(session).add((table, tuple(key), tuple(key.values())), amounts)


def take(session: Session | scoped_session) -> Queue:
    """The current transaction's queue (possibly empty); the caller must now write it."""
    session = _session(session)
    queue = _queues(session).pop(_innermost(session), None)
    return queue if queue is not None else Queue()


def write(session: Session | scoped_session, queue: Queue) -> None:
    """Send ``queue``: one statement per table, rows in order."""
    grouped: dict[Table, list[dict[str, Any]]] = {}
    for table, row in queue.rows:
        grouped.setdefault(table, []).append(row)
    for table, values in grouped.items():
        session.execute(insert(table), values)
    dialect = session.get_bind().dialect.name
    for table, values in queue.increment_rows().items():
        names = tuple(values[0])
        if dialect == "postgresql":
            session.execute(_increments_from_arrays(table, names, "increment"), _as_arrays("increment", values))
        else:  # executemany, in order
            session.execute(_upsert(dialect, table, names), values)


@functools.lru_cache(maxsize=64)
def _upsert(dialect: str, table: Table, columns: tuple[str, ...], source: Any = None) -> Any:
    """``INSERT ... ON CONFLICT (primary key) DO UPDATE SET amount = amount + excluded.amount``."""
    keys = [column.name for column in table.primary_key.columns]
    dialect_insert = insert_on_conflict(dialect)
    if dialect_insert is None:  # pragma: no cover - other backends
        raise NotImplementedError(f"increments need INSERT ... ON CONFLICT, which {dialect} lacks")
    stmt = dialect_insert(table)
    if source is not None:
        stmt = stmt.from_select(list(columns), source)
    return stmt.on_conflict_do_update(
        index_elements=keys,
        set_={name: table.c[name] + stmt.excluded[name] for name in columns if name not in keys},
    )


@functools.lru_cache(maxsize=64)
def _increments_from_arrays(table: Table, names: tuple[str, ...], prefix: str) -> Any:
    """The PostgreSQL upsert of any number of rows, sent as one array per column.

    ``INSERT ... SELECT ... FROM unnest(:col1[], :col2[], ...) ORDER BY <key>``: the
    statement is the same whatever the number of rows (compiled, converted and prepared
    once), and the rows are written -- and their locks taken -- in key order.
    """
    from sqlalchemy.dialects.postgresql import ARRAY

    rows = func.unnest(
        *[bindparam(f"{prefix}_{name}", type_=ARRAY(table.c[name].type)) for name in names]
    ).table_valued(*names).render_derived()
    keys = [column.name for column in table.primary_key.columns]
    source = select(*[rows.c[name] for name in names]).order_by(*[rows.c[name] for name in keys])
    return _upsert("postgresql", table, names, source)


def _as_arrays(prefix: str, rows: list[dict[str, Any]]) -> dict[str, list]:
    return {f"{prefix}_{name}": [row[name] for row in rows] for name in rows[0]}


def fold_into(statement: Any, queue: Queue) -> tuple[Any, dict[str, Any]]:
    """``statement`` with ``queue`` as data-modifying CTEs (PostgreSQL), and their parameters.

    Execute the statement with its own parameters plus the returned ones. The combined
    statement is built once per shape (which tables and columns, how many appended
    rows) and reused, so SQLAlchemy compiles it once and finds it in its cache after that.
    """
    params: dict[str, Any] = {}
    row_shape = []
    for i, (table, row) in enumerate(queue.rows):
        row_shape.append((table, tuple(row)))
        params.update({f"append_{i}_{name}": value for name, value in row.items()})
    increment_shape = []
    for j, (table, rows) in enumerate(queue.increment_rows().items()):
        increment_shape.append((table, tuple(rows[0])))
        params.update(_as_arrays(f"increment_{j}", rows))
    return _folded(statement, tuple(row_shape), tuple(increment_shape)), params


@functools.lru_cache(maxsize=64)
def _folded(statement: Any, row_shape: tuple, increment_shape: tuple) -> Any:
    ctes = [
        insert(table).values({name: bindparam(f"append_{i}_{name}") for name in names}).cte(f"append_{i}")
        for i, (table, names) in enumerate(row_shape)
    ]
    ctes += [
        _increments_from_arrays(table, names, f"increment_{j}").cte(f"increment_{j}")
        for j, (table, names) in enumerate(increment_shape)
    ]
    return statement.add_cte(*ctes)


def _before_commit(session: Session) -> None:
    session.flush()  # changes still pending may queue more (see persistence.totals)
    nested = session.get_nested_transaction()
    if nested is not None:
        # A savepoint is released: its queue joins the enclosing transaction's, written at
        # the outermost commit (or dropped with it).
        queue = _queues(session).pop(nested, None)
        if queue:
            _queues(session).setdefault(nested.parent, Queue()).merge(queue)
        return
    queue = take(session)
    if queue:
        write(session, queue)


def _after_transaction_end(session: Session, transaction) -> None:
    # Rolled back (or already written or merged): what it queued goes with it.
    queues = session.info.get(_KEY)
    if queues is not None:
        queues.pop(transaction, None)
        if transaction.parent is None:
            session.info.pop(_KEY, None)


def install(session_target: Any) -> None:
    """Listen on ``session_target`` (a session, ``scoped_session`` or ``Session`` class).

    Idempotent: several apps (or test runs) sharing one session class install once.
    """
    for name, listener in (("before_commit", _before_commit), ("after_transaction_end", _after_transaction_end)):
        if not event.contains(session_target, name, listener):
            event.listen(session_target, name, listener)
