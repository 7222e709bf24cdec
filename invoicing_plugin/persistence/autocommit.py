"""A Core connection in autocommit mode beside the ORM session, for the webhook's hot path.

On PostgreSQL a checkout-session event is read with one ``SELECT`` and written with one
statement that is all or nothing by itself (see :mod:`.appends` ``fold_into``), so it
needs no transaction. Taking the session's own connection in autocommit mode, and
committing the session afterwards, cost about as much Python as one of those statements
(the session's transaction bookkeeping, its pool check-out and check-in, resetting the
isolation level). Instead :func:`open_for` checks a plain ``Connection`` out of the same
engine, in autocommit mode, and hangs it on the session's ``info`` for the code that
reads and writes that event (:func:`connection_of`); :func:`close_for` returns it to the
pool. The session itself then touches no connection unless something else is read
through it (in its own, ordinary transaction).

Statements go through SQLAlchemy's ``Connection.execute``, so engine events
(``before_cursor_execute``), the compiled cache and error wrapping are as for any other
statement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, scoped_session

_KEY = "invoicing_autocommit_connection"
#: Where :mod:`.appends` keeps its queues on ``session.info`` (one is keyed by the connection).
QUEUES_KEY = "invoicing_pending_writes"


def _session(session: Session | scoped_session) -> Session:
    return session() if isinstance(session, scoped_session) else session


def open_for(session: Session | scoped_session) -> Connection:
    """Check a connection of ``session``'s engine out in autocommit mode and attach it to
    ``session`` (until :func:`close_for`)."""
    session = _session(session)
    if _KEY in session.info:
        raise RuntimeError("an autocommit connection is already open for this session")
    connection = session.get_bind().connect()
    try:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
    except BaseException:
        connection.close()
        raise
    session.info[_KEY] = connection
    return connection


def connection_of(session: Session | scoped_session) -> Connection | None:
    """The autocommit connection attached to ``session``, or ``None``."""
    return _session(session).info.get(_KEY)


def reader(session: Session | scoped_session) -> Any:
    """Where to run a read for the current event: the autocommit connection when one is
    attached, else the session (both have ``execute``)."""
    connection = connection_of(session)
    return connection if connection is not None else session


def close_for(session: Session | scoped_session) -> None:
    """Return ``session``'s autocommit connection (if any) to the pool."""
    info = _session(session).info
    connection = info.pop(_KEY, None)
    if connection is not None:
        # Writes queued for it and never sent (the event failed, or was a duplicate) go too.
        info.get(QUEUES_KEY, {}).pop(connection, None)
        connection.close()
