"""Rows read and written with Core statements, for the webhook's hot path.

The ORM's identity map, attribute instrumentation and flush cost more per event than
the database does (a Stripe event changes one invoice, once). On that path an invoice is
read with one Core ``SELECT ... FOR UPDATE`` into a :class:`TrackedRow` -- a plain object
with one attribute per column, which the same domain and service code reads and changes
as it would an ``Invoice`` -- and :func:`save_invoice` queues what changed as one
*guarded* ``UPDATE`` (``WHERE id = :id AND version = :version``, the ORM's own version
check) plus its change to the revenue totals, through :mod:`.appends`. So the change is
written with the transaction's last statement: on PostgreSQL folded into the statement
that records the webhook event, elsewhere just before the commit.

Nothing here is in the ORM session: an ``Invoice`` of the same row already loaded in the
session is not refreshed until the commit expires it. Use it only where the row is
read and changed by this path alone within the transaction (the webhook handlers).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from sqlalchemy import Table

from ..domain.totals import Figures
from . import appends, totals
from .models import Invoice, utcnow

INVOICES: Table = Invoice.__table__

#: Every column of ``invoicing_invoices``, by attribute name (they are the same).
INVOICE_COLUMNS: tuple[str, ...] = tuple(column.key for column in INVOICES.columns)


class TrackedRow:
    """One row's columns as attributes; :meth:`changes` says which were set to new values.

    Reads and writes like the mapped object (``row.status``, ``row.status = "paid"``), so
    code written against ``Invoice`` runs on it unchanged. Reading a column that was not
    loaded raises ``AttributeError``.
    """

    __slots__ = ("__dict__", "_loaded")

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)
        self._loaded = dict(values)

    @classmethod
    def of(cls, row: Any, names: Iterable[str], prefix: str = "") -> "TrackedRow":
        """The columns ``names`` of a result ``row`` (whose keys are ``prefix + name``)."""
        mapping = row._mapping
        return cls({name: mapping[prefix + name] for name in names})

    def loaded(self, name: str) -> Any:
        """The value of ``name`` as read from the database (or as last saved)."""
        return self._loaded[name]

    def changes(self) -> dict[str, Any]:
        """The columns set to a value other than the one loaded: name -> new value."""
        current = self.__dict__
        return {name: current[name] for name, old in self._loaded.items() if current[name] != old}

    def mark_saved(self) -> None:
        self._loaded = dict(self.__dict__)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<TrackedRow {self.__dict__.get('id')!r}>"


def _figures(values: Mapping[str, Any]) -> Figures:
    return Figures(**{name: values[name] for name in Figures.FIELDS})


def save_invoice(session, invoice: TrackedRow) -> bool:
    """Queue ``invoice``'s changes (if any) as a version-guarded ``UPDATE`` and their
    difference to the revenue totals; both are written with the transaction (see
    :mod:`.appends`: a guarded update that matches no row raises ``StaleDataError``).

    Bumps ``version`` and sets ``updated_at`` as the ORM does. Returns whether anything
    was queued. Call it once the row is changed; calling it again queues only what
    changed since.
    """
    changes = invoice.changes()
    if not changes:
        return False
    version = invoice.loaded("version")
    changes["updated_at"] = invoice.updated_at = utcnow()
    changes["version"] = invoice.version = version + 1
    appends.update(session, INVOICES, {"id": invoice.id}, changes, expect={"version": version})
    before = _figures(invoice._loaded)
    after = _figures(invoice.__dict__)
    if before != after:
        totals.queue_difference(session, before, after)
    invoice.mark_saved()
    return True
