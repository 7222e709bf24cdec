"""Statements compiled once and sent with ``exec_driver_sql``, for the webhook's hot path.

``Connection.execute(statement)`` finds the compiled form in SQLAlchemy's cache on every
call: it hashes the statement's cache key (for the webhook's folded statement, a deep
tree of CTEs), builds the parameter dictionary and looks up each parameter's bind
processor. A statement that is built once per shape and run thousands of times can do
all of that once: :func:`execute` keeps the SQL text, the default parameter values and
the bind processors of ``statement`` for the connection's dialect, and per call only
applies the processors to the given values. The statement still goes through the
engine (``before_cursor_execute`` and friends fire, the driver prepares it as before).

Only for statements whose results are read by position and need no result processing
(a ``RETURNING id``, counts): the result's columns carry no SQLAlchemy types.
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy.engine import Connection, CursorResult

_KEY = "_invoicing_precompiled"


class _Compiled:
    __slots__ = ("sql", "defaults", "processors")

    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.positiontup is not None or dialect.paramstyle not in ("pyformat", "named"):
            raise NotImplementedError(f"precompiled statements need named parameters ({dialect.paramstyle})")
        self.sql = compiled.string
        self.defaults = {name: value for name, value in compiled.construct_params(_check=False).items()
                         if value is not None}
        self.processors = {name: processor for name, processor in compiled._bind_processors.items()
                           if processor is not None}


def _compiled(statement: Any, dialect: Any) -> _Compiled:
    cache = statement.__dict__.setdefault(_KEY, {})
    found = cache.get(dialect)
    if found is None:
        found = cache[dialect] = _Compiled(statement, dialect)
    return found


def execute(connection: Connection, statement: Any, params: Mapping[str, Any]) -> CursorResult:
    """Run ``statement`` (built once and reused) with ``params`` on ``connection``."""
    compiled = _compiled(statement, connection.dialect)
    values = {**compiled.defaults, **params}
    for name, processor in compiled.processors.items():
        if name in values:
            values[name] = processor(values[name])
    return connection.exec_driver_sql(compiled.sql, values)
