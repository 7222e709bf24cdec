"""Invoice numbers: per workspace, in sequence, no gaps, no duplicates.

A number is taken inside the transaction that sends the invoice:
:func:`take_next_number` locks the workspace's :class:`InvoiceSequence` row
(``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the ``INSERT`` that makes
sure the row exists takes the database write lock, which serializes the same
way). A concurrent send waits for the lock, then reads the value the first one
committed. A send that fails rolls back and gives its number back.

Lock order is always *invoice row, then sequence row*, so two sends never
deadlock.

Credit notes number the same way from their own sequence (``model=CreditNoteSequence``,
``INVOICING_CREDIT_NOTE_PREFIX``): a credit note takes its number while the credited
invoice's row is locked, in the transaction that saves the note.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.invoice import format_invoice_number
from ..persistence.models import CreditNoteSequence, InvoiceSequence
from ..persistence.repository import WorkspaceRepository, insert_on_conflict


Sequence = type[InvoiceSequence] | type[CreditNoteSequence]


def _ensure_sequence_row(session: Session, workspace_id: str, model: Sequence = InvoiceSequence) -> None:
    values = {"workspace_id": workspace_id, "next_value": 1}
    insert = insert_on_conflict(session.get_bind().dialect.name)
    if insert is not None:
        stmt = insert(model).values(**values).on_conflict_do_nothing(index_elements=["workspace_id"])
        session.execute(stmt)
        return
    if session.get(model, workspace_id) is not None:  # pragma: no cover - other backends
        return
    try:  # pragma: no cover - other backends
        with session.begin_nested():
            session.add(model(**values))
    except IntegrityError:  # pragma: no cover - another transaction created it first
        pass


def take_next_number(session: Session, workspace_id: str, prefix: str, *, model: Sequence = InvoiceSequence) -> str:
    """Reserve the workspace's next number of ``model``'s sequence (invoices by default;
    :class:`CreditNoteSequence` for credit notes) in the current transaction."""
    _ensure_sequence_row(session, workspace_id, model)
    repo = WorkspaceRepository(session, workspace_id)
    stmt = repo.select(model).with_for_update().execution_options(populate_existing=True)
    sequence = session.scalars(stmt).one()
    value = sequence.next_value
    sequence.next_value = value + 1
    session.flush()
    return format_invoice_number(prefix, value)


def peek_next_number(session: Session, workspace_id: str, prefix: str) -> str:
    """The number the next send would take (for display only; nothing is reserved)."""
    sequence = WorkspaceRepository(session, workspace_id).find(InvoiceSequence)
    return format_invoice_number(prefix, sequence.next_value if sequence else 1)
