"""Writes that ride along with a transaction's last statement.

Three kinds of write are never read back by the transaction that makes them: entries
appended to the payment audit trail (:func:`append`), amounts added to running
totals (:func:`increment`, for the revenue analytics), and the change of a row read
with Core on the webhook's hot path (:func:`update`, a compare-and-set on its version;
see :mod:`.rows`). So instead of a round trip each, they are queued on the session and
written when the transaction ends:

* by default just before the session commits (after its last flush), from a
  ``before_commit`` listener that :func:`install` puts on the host's session: one
  ``UPDATE`` per queued update (one that matches no row -- its version moved on --
  raises ``StaleDataError``, as the ORM's version check does), one ``INSERT`` per table
  for appended rows, one ``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`` per
  table for increments;
* or, earlier, by a caller that has a statement of its own to send: :func:`take`
  hands over the queue and :func:`fold_into` adds it to that statement as
  data-modifying CTEs, which PostgreSQL runs as part of it. The webhook endpoint records
  a Stripe event, its audit entries and its effect on the totals this way, in one
  round trip. A folded update reports whether it matched (:func:`check_folded`).

Increments to the same row within a transaction are summed first, and rows are
written in key order: every transaction locks the total rows it changes in the same
order, at the very end, so two of them cannot deadlock over totals and none holds a
total's row lock for longer than its commit.

A transaction that rolls back drops its queue with the rest of its work, and so does a
savepoint (``begin_nested``): each has its own queue, which joins the enclosing one when
the savepoint is released. Only the outermost commit writes. While an autocommit
connection is attached to the session (:mod:`.autocommit`, the webhook's hot path),
writes are queued for that connection instead, for the one statement that records the
event; closing the connection drops whatever was not taken.
"""

from __future__ import annotations

import functools
from datetime import date
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, Table, and_, bindparam, case, event, func, insert, literal_column, select
from sqlalchemy import update as update_statement
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.exc import StaleDataError

from . import autocommit
from .repository import insert_on_conflict

_KEY = autocommit.QUEUES_KEY  # "invoicing_pending_writes" on session.info


@dataclass
class Queue:
    """What a transaction has queued: guarded updates, appended rows, and sums to add to keyed rows."""

    rows: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)
    #: (table, key column names, key values) -> {amount column: sum}
    increments: dict[tuple[Table, tuple[str, ...], tuple[Any, ...]], dict[str, int]] = field(default_factory=dict)
    #: (table, {key column: value}, {guard column: expected value}, {column: new value}), in order
    updates: list[tuple[Table, dict[str, Any], dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rows or self.increments or self.updates)

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
        self.updates.extend(other.updates)
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
    lane = autocommit.connection_of(session)
    if lane is not None:
        # The event processed on an autocommit connection beside the session: its writes
        # belong to the statement that records it, not to a session transaction (none is
        # begun for them); they are dropped with the connection (autocommit.close_for).
        return _queues(session).setdefault(lane, Queue())
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


def update(session: Session | scoped_session, table: Table, key: dict[str, Any], values: dict[str, Any], *,
           expect: dict[str, Any]) -> None:
    """Queue ``UPDATE table SET values WHERE key AND expect``: a compare-and-set.

    ``expect`` (e.g. ``{"version": 3}``) guards against a concurrent writer: when the
    statement matches no row, writing it raises ``StaleDataError`` and the transaction
    must be rolled back (``services.uow.retry_on_conflict`` runs it again). Queued
    updates are written before appended rows and increments, in the order queued.
    """
    _queue(session).updates.append((table, dict(key), dict(expect), dict(values)))


def take(session: Session | scoped_session) -> Queue:
    """The current transaction's queue (possibly empty); the caller must now write it.

    While an autocommit connection is attached to the session
    (:mod:`~invoicing_plugin.persistence.autocommit`, the webhook's hot path), writes are
    queued for that connection instead, and this returns its queue."""
    session = _session(session)
    lane = autocommit.connection_of(session)
    queue = _queues(session).pop(lane if lane is not None else _innermost(session), None)
    return queue if queue is not None else Queue()


def write(session: Session | scoped_session, queue: Queue) -> None:
    """Send ``queue``: each guarded update, then one statement per table, rows in order."""
    for i, (table, key, expect, values) in enumerate(queue.updates):
        stmt = _guarded_update(table, tuple(key), tuple(expect), tuple(values), f"update_{i}")
        result = session.execute(stmt, _update_params(f"update_{i}", key, expect, values))
        if result.rowcount != 1:
            raise StaleDataError(f"UPDATE of {table.name} {key} expected {expect} but matched {result.rowcount} rows")
    grouped: dict[Table, list[dict[str, Any]]] = {}
    for table, row in queue.rows:
        grouped.setdefault(table, []).append(row)
    for table, values in grouped.items():
        session.execute(insert(table), values)
    dialect = session.get_bind().dialect.name
    for table, values in queue.increment_rows().items():
        names = tuple(values[0])
        if dialect == "postgresql":
            session.execute(_increments_from_json(table, names, "increment"), _as_json_rows("increment", values))
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
def _increments_from_json(table: Table, names: tuple[str, ...], prefix: str, only_if: Any = None) -> Any:
    """The PostgreSQL upsert of any number of rows, sent as one JSON array of objects.

    ``INSERT ... SELECT ... FROM json_to_recordset(:rows) AS r(<column> <type>, ...) ORDER
    BY <key>``: the statement is the same whatever the number of rows (compiled, converted
    and prepared once), the rows are written -- and their locks taken -- in key order, and
    the driver adapts one JSON text (``json.dumps``, in C) instead of an array per column
    (which psycopg dumps element by element in Python). Numbers stay exact: JSON numbers
    are read as the columns' integer types.
    """
    from sqlalchemy import JSON, column

    rows = func.json_to_recordset(bindparam(f"{prefix}_rows", type_=JSON)).table_valued(
        *[column(name, table.c[name].type) for name in names]
    ).render_derived(with_types=True)
    keys = [c.name for c in table.primary_key.columns]
    source = select(*[rows.c[name] for name in names]).order_by(*[rows.c[name] for name in keys])
    if only_if is not None:
        source = source.where(_exists(only_if))
    return _upsert("postgresql", table, names, source)


def _exists(carrier: Any) -> Any:
    """``EXISTS (SELECT 1 FROM carrier)``."""
    return select(literal_column("1")).select_from(carrier).exists()


@functools.lru_cache(maxsize=64)
def _guarded_update(table: Table, keys: tuple[str, ...], guards: tuple[str, ...], columns: tuple[str, ...],
                    prefix: str) -> Any:
    """``UPDATE table SET c = :<prefix>s_c ... WHERE k = :<prefix>k_k ... AND g = :<prefix>x_g ...``."""
    where = [table.c[name] == bindparam(f"{prefix}k_{name}") for name in keys]
    where += [table.c[name] == bindparam(f"{prefix}x_{name}") for name in guards]
    return update_statement(table).where(and_(*where)).values(
        {name: bindparam(f"{prefix}s_{name}", type_=table.c[name].type) for name in columns}
    )


def _update_params(prefix: str, key: dict, expect: dict, values: dict) -> dict[str, Any]:
    params = {f"{prefix}k_{name}": value for name, value in key.items()}
    params.update({f"{prefix}x_{name}": value for name, value in expect.items()})
    params.update({f"{prefix}s_{name}": value for name, value in values.items()})
    return params


def _as_json_rows(prefix: str, rows: list[dict[str, Any]]) -> dict[str, list]:
    """``rows`` as the one parameter of :func:`_increments_from_json` (dates as ISO text)."""
    return {f"{prefix}_rows": [{name: value.isoformat() if isinstance(value, date) else value
                                for name, value in row.items()} for row in rows]}


#: The SQLSTATE a statement folded with ``only_if`` fails with when a guarded update
#: matched no row (``division_by_zero``): see :func:`fold_into`.
STALE_SQLSTATE = "22012"


def fold_into(statement: Any, queue: Queue, *, only_if: Any = None) -> tuple[Any, dict[str, Any]]:
    """``statement`` with ``queue`` as data-modifying CTEs (PostgreSQL), and their parameters.

    Execute the statement with its own parameters plus the returned ones. The combined
    statement is built once per shape (which tables and columns, how many appended
    rows) and reused, so SQLAlchemy compiles it once and finds it in its cache after that.
    Its parameters have short names and constants are written inline: psycopg converts
    a statement once and prepares it only while it is at most 4096 characters long with
    at most 50 parameters.

    When the queue holds guarded updates, one more column is added to ``statement`` (to
    its ``RETURNING``, or to its columns when it is a ``SELECT``), how many of them matched
    their row; pass each returned row to :func:`check_folded`.

    ``only_if`` (a CTE of ``statement``, e.g. the ``INSERT ... ON CONFLICT ... RETURNING``
    that records a webhook event) makes the statement all or nothing by itself, so it is
    safe outside a transaction: every queued write happens only when ``only_if`` yields a
    row, and when it does but a guarded update matched no row, the statement fails with
    ``division_by_zero`` (:data:`STALE_SQLSTATE`; PostgreSQL has no ``RAISE`` outside
    PL/pgSQL) and writes nothing. ``statement`` must then select from ``only_if``.
    """
    params: dict[str, Any] = {}
    update_shape = []
    for i, (table, key, expect, values) in enumerate(queue.updates):
        update_shape.append((table, tuple(key), tuple(expect), tuple(values)))
        params.update(_update_params(f"u{i}", key, expect, values))
    row_shape = []
    for i, (table, row) in enumerate(queue.rows):
        row_shape.append((table, tuple(row)))
        params.update({f"a{i}_{name}": value for name, value in row.items()})
    increment_shape = []
    for j, (table, rows) in enumerate(queue.increment_rows().items()):
        increment_shape.append((table, tuple(rows[0])))
        params.update(_as_json_rows(f"i{j}", rows))
    return _folded(statement, tuple(row_shape), tuple(increment_shape), tuple(update_shape), only_if), params


def check_folded(queue: Queue, row: Any) -> None:
    """Raise ``StaleDataError`` unless every guarded update of ``queue`` folded into the
    statement that returned ``row`` matched its row (``row`` is ``None``: nothing to check)."""
    if queue.updates and row is not None and row[-1] != len(queue.updates):
        raise StaleDataError(f"{len(queue.updates) - (row[-1] or 0)} guarded update(s) matched no row")


@functools.lru_cache(maxsize=64)
def _folded(statement: Any, row_shape: tuple, increment_shape: tuple, update_shape: tuple = (),
            only_if: Any = None) -> Any:
    condition = [] if only_if is None else [_exists(only_if)]
    updates = [
        _guarded_update(table, keys, guards, columns, f"u{i}").where(*condition)
        .returning(literal_column("1").label("matched")).cte(f"update_{i}")
        for i, (table, keys, guards, columns) in enumerate(update_shape)
    ]
    ctes = [*updates]
    for i, (table, names) in enumerate(row_shape):
        values = {name: bindparam(f"a{i}_{name}", type_=table.c[name].type) for name in names}
        if only_if is None:
            row = insert(table).values(values)
        else:
            row = insert(table).from_select(list(names), select(*values.values()).where(*condition))
        ctes.append(row.cte(f"append_{i}"))
    ctes += [
        _increments_from_json(table, names, f"i{j}", only_if).cte(f"increment_{j}")
        for j, (table, names) in enumerate(increment_shape)
    ]
    statement = statement.add_cte(*ctes)
    if updates:
        matched = sum((select(func.count()).select_from(cte).scalar_subquery() for cte in updates[1:]),
                      select(func.count()).select_from(updates[0]).scalar_subquery())
        if only_if is None:
            column = matched.label("guarded_updates_matched")
        else:
            # How many matched when all did; otherwise a division by zero fails the whole statement.
            expected = literal_column(str(len(updates)))
            column = (matched // case((matched == expected, literal_column("1")), else_=literal_column("0"))
                      ).label("guarded_updates_matched")
        statement = statement.add_columns(column) if isinstance(statement, Select) else statement.returning(column)
    return statement


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
    queue = _queues(session).pop(_innermost(session), None)  # the transaction's, never an autocommit connection's
    if queue:
        write(session, queue)


def _after_transaction_end(session: Session, transaction) -> None:
    # Rolled back (or already written or merged): what it queued goes with it.
    queues = session.info.get(_KEY)
    if queues is not None:
        queues.pop(transaction, None)
        if transaction.parent is None:
            session.info.pop(_KEY, None)
            lane = autocommit.connection_of(session)
            if lane is not None and lane in queues:  # not the session's: kept for its statement
                session.info[_KEY] = {lane: queues[lane]}


def install(session_target: Any) -> None:
    """Listen on ``session_target`` (a session, ``scoped_session`` or ``Session`` class).

    Idempotent: several apps (or test runs) sharing one session class install once.
    """
    for name, listener in (("before_commit", _before_commit), ("after_transaction_end", _after_transaction_end)):
        if not event.contains(session_target, name, listener):
            event.listen(session_target, name, listener)
