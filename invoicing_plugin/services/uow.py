"""The unit of work: one transaction per use case, signals only after it commits.

Use cases open a :class:`UnitOfWork`, change rows through the session, queue the
signals they want to send with :meth:`UnitOfWork.emit`, and call
:meth:`UnitOfWork.commit`. Leaving the block without committing (or with an
exception) rolls everything back and drops the queued signals, so a host never
hears about a change that did not happen.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from blinker import Signal
from flask import current_app
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError


class UnitOfWork:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._signals: list[tuple[Signal, dict[str, Any]]] = []
        self._committed = False

    def __enter__(self) -> "UnitOfWork":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._committed:
            self.session.rollback()
            self._signals.clear()

    def emit(self, signal: Signal, **kwargs: Any) -> None:
        self._signals.append((signal, kwargs))

    def commit(self) -> None:
        self.session.commit()
        self._committed = True
        signals, self._signals = self._signals, []
        sender = current_app._get_current_object()
        for signal, kwargs in signals:
            signal.send(sender, **kwargs)

    def rollback(self) -> None:
        self.session.rollback()
        self._signals.clear()


T = TypeVar("T")


def retry_on_conflict(operation: Callable[[], T], *, attempts: int = 3) -> T:
    """Run ``operation`` (a whole unit of work) again if another writer won the race.

    Invoices carry a version number: where rows cannot be locked (SQLite), two
    writers recording the same payment at once -- the webhook and the pay link's
    return -- meet as a version conflict at commit. The loser's transaction is
    rolled back; running it again against the fresh row usually finds the work
    already done. After ``attempts`` conflicts the error propagates.
    """
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except StaleDataError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")
