"""Append-only rows that ride along with a transaction's last write.

The payment audit trail is append-only and never read back by the transaction that
writes it. So instead of a round trip of its own, each entry is queued on the
session (:func:`append`) and written when the transaction ends:

* by default just before the session commits (one ``INSERT`` per table, every queued
  row in it), from a ``before_commit`` listener that :func:`install` puts on the
  host's session;
* or, earlier, by a caller that has a statement of its own to send: :func:`take`
  hands over the queued rows and :func:`fold_into` adds them to that statement as
  data-modifying CTEs, which PostgreSQL runs as part of it. The webhook endpoint records
  a Stripe event and its audit entries this way, in one round trip.

A transaction that rolls back drops its queued rows with the rest of its work. Rows
queued inside a savepoint (``begin_nested``) that then rolls back are *not* dropped;
nothing queues rows inside one.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table, bindparam, event, insert
from sqlalchemy.orm import Session, scoped_session

_KEY = "invoicing_pending_appends"

Pending = list[tuple[Table, dict[str, Any]]]


def append(session: Session | scoped_session, table: Table, row: dict[str, Any]) -> None:
    """Queue ``row`` for ``table``; it commits or rolls back with ``session``'s transaction."""
    if isinstance(session, scoped_session):
        session = session()
    if not session.in_transaction():
        # Tie the row to a transaction even before any SQL ran, so a rollback drops it.
        session.begin()
    session.info.setdefault(_KEY, []).append((table, row))


def take(session: Session) -> Pending:
    """The queued rows, in the order they were appended; the caller must now write them."""
    return session.info.pop(_KEY, None) or []


def write(session: Session, rows: Pending) -> None:
    """``INSERT`` ``rows``: one (executemany) statement per table, in append order."""
    grouped: dict[Table, list[dict[str, Any]]] = {}
    for table, row in rows:
        grouped.setdefault(table, []).append(row)
    for table, values in grouped.items():
        session.execute(insert(table), values)


def fold_into(statement: Any, rows: Pending) -> tuple[Any, dict[str, Any]]:
    """``statement`` with ``rows`` as data-modifying CTEs (PostgreSQL), and their parameters.

    Execute the statement with its own parameters plus the returned ones. The combined
    statement is built once per shape (which tables, which columns) and reused, so
    SQLAlchemy compiles it once and finds it in its cache after that.
    """
    shape = tuple((table, tuple(row)) for table, row in rows)
    params = {f"append_{i}_{key}": value for i, (_, row) in enumerate(rows) for key, value in row.items()}
    return _folded(statement, shape), params


@functools.lru_cache(maxsize=64)
def _folded(statement: Any, shape: tuple[tuple[Table, tuple[str, ...]], ...]) -> Any:
    ctes = [
        insert(table).values({key: bindparam(f"append_{i}_{key}") for key in keys}).cte(f"append_{i}")
        for i, (table, keys) in enumerate(shape)
    ]
    return statement.add_cte(*ctes)


def _before_commit(session: Session) -> None:
    rows = take(session)
    if rows:
        write(session, rows)


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction: committed or rolled back
        session.info.pop(_KEY, None)


def install(session_target: Any) -> None:
    """Listen on ``session_target`` (a session, ``scoped_session`` or ``Session`` class).

    Idempotent: several apps (or test runs) sharing one session class install once.
    """
    for name, listener in (("before_commit", _before_commit), ("after_transaction_end", _after_transaction_end)):
        if not event.contains(session_target, name, listener):
            event.listen(session_target, name, listener)
