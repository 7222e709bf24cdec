"""The toolbox every invoice use case shares: one place for each.

* where the session, repository, host, clock and settings come from:
  :func:`unit_of_work` (the app's :class:`~.uow.UnitOfWork`, built by
  :meth:`~.uow.UnitOfWork.for_app`), :func:`repository`, :func:`get_workspace`;
  every helper here takes an optional ``uow`` and defaults to the app's;
* the invoice row lock: :func:`lock_invoice` (in a workspace, for staff actions) and
  :func:`lock_invoice_by_id` (any workspace, for Stripe news), both ``SELECT ... FOR
  UPDATE`` re-reading the row;
* the conflict rule: :func:`claim` before anything outside the database is done,
  :func:`commit_or_conflict` at the end;
* the audit trail: :func:`record_event` (an ORM row, readable in the same
  transaction), :func:`append_audit` (queued, written with the transaction's last
  statement: the webhook path), :func:`record_failure` (own transaction);
* the fields and choices shared by drafts, templates and sending.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..domain.invoice import Action, InvoiceStatus, transition
from ..host import HostWorkspace
from ..persistence import appends
from ..persistence.models import Invoice, InvoiceEvent
from ..persistence.repository import NotFound, WorkspaceRepository, as_id
from .errors import InvoicingError
from .uow import UnitOfWork, wall_today

log = logging.getLogger("invoicing_plugin.invoices")

#: How an invoice reaches the client, with the label staff see.
SEND_METHODS: dict[str, str] = {
    "email": "Email with a “Pay invoice” button",
    "stripe_link": "Stripe payment link to copy and share",
    "manual": "Manually (no payment link; mark it paid by hand)",
}
ONLINE_METHODS = frozenset({"email", "stripe_link"})

#: Ways staff record a payment received outside Stripe.
MANUAL_PAYMENT_METHODS: dict[str, str] = {
    "bank_transfer": "Bank transfer",
    "cash": "Cash",
    "cheque": "Cheque",
    "other": "Other",
}

DESCRIPTION_MAX = 2000
NOTE_MAX = 1000
DEPOSIT_KIND = "deposit"



def today(zone: Any = None, uow: UnitOfWork | None = None) -> date:
    """Today's date in ``zone`` (by ``uow``'s clock, else the wall clock): the reference for due
    dates, overdue and mark-paid limits.

    ``zone``: a :class:`~invoicing_plugin.host.HostWorkspace` (its time zone), a ``tzinfo``
    or an IANA name; ``None`` is UTC (kept for callers outside the plugin; the plugin's own
    services and views always pass the workspace's -- ``tests/unit/test_no_naive_today.py``).
    See :func:`workspace_today`.
    """
    return uow.today(zone) if uow is not None else wall_today(zone)


def workspace_today(workspace_id: str, uow: UnitOfWork | None = None) -> date:
    """Today's date in the time zone of ``workspace_id`` (by the host; UTC if it does not know it)."""
    return (uow or unit_of_work()).workspace_today(workspace_id)


def unit_of_work() -> UnitOfWork:
    """The current app's unit of work (session, host, gateways, mailer, clock, settings)."""
    return UnitOfWork.for_app()


def repository(workspace_id: str, uow: UnitOfWork | None = None) -> WorkspaceRepository:
    return (uow or unit_of_work()).repository(workspace_id)


def get_workspace(workspace_id: str, uow: UnitOfWork | None = None) -> HostWorkspace:
    """The host's workspace, or NotFound (also for internal workspaces, which do not bill)."""
    workspace = (uow or unit_of_work()).host.get_workspace(str(workspace_id))
    if workspace is None or not workspace.bills_clients:
        raise NotFound(f"workspace {workspace_id!r}")
    return workspace


def record_event(
    repo: WorkspaceRepository,
    invoice: Invoice,
    actor: str,
    action: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    result: str = "ok",
    detail: str | None = None,
) -> InvoiceEvent:
    """Add one audit-trail entry to ``invoice`` (in the caller's transaction)."""
    event = InvoiceEvent(
        invoice=invoice,
        actor=actor or "system",
        action=action,
        from_status=from_status,
        to_status=to_status,
        result=result,
        detail=detail,
    )
    return repo.add(event)



def append_audit(invoice: Invoice, *, actor: str, action: str, from_status: str | None, to_status: str | None,
                 detail: str, result: str = "ok", uow: UnitOfWork | None = None) -> None:
    """Queue one audit-trail entry for ``invoice``, written with the transaction's last statement.

    Unlike :func:`record_event` the row is not an ORM object and cannot be read back in
    the same transaction; the webhook path uses it so the entry rides in the statement
    that records the event. It commits or rolls back with the caller.
    """
    uow = uow or unit_of_work()
    appends.append(
        uow.session, InvoiceEvent.__table__,
        {"invoice_id": invoice.id, "workspace_id": invoice.workspace_id, "created_at": uow.clock(), "actor": actor,
         "action": action, "from_status": from_status, "to_status": to_status, "result": result,
         "detail": detail},
    )


def record_failure(workspace_id: str, invoice_id: int, actor: str, action: str, detail: str, *,
                   bump_attempt: bool = False, uow: UnitOfWork | None = None) -> None:
    """Record a failed attempt in its own transaction (the failed one was rolled back).

    ``bump_attempt`` moves the invoice to the next Checkout attempt, so the next try
    uses a fresh idempotency key (its first session was created, then expired).
    With ``uow`` (possibly still open, rolled back), a :meth:`~.uow.UnitOfWork.fresh`
    one with its collaborators is used.
    """
    try:
        with (uow.fresh() if uow is not None else unit_of_work()) as uow:
            repo = uow.repository(workspace_id)
            invoice = repo.get(Invoice, invoice_id)
            if bump_attempt:
                invoice.checkout_attempt += 1
            record_event(repo, invoice, actor, action, from_status=invoice.status, to_status=invoice.status, result="failed", detail=detail)
            uow.commit()
    except Exception:  # never hide the original error behind a failure to log it
        log.exception("could not record the failed %s of invoice %s", action, invoice_id)


def locked(stmt, *, skip_locked: bool = False):
    """``stmt`` with ``FOR UPDATE``, re-reading the rows it locks."""
    # populate_existing: a row already in the identity map is refreshed with what the
    # lock returns, never left stale from an earlier read in the same session.
    return stmt.with_for_update(skip_locked=skip_locked).execution_options(populate_existing=True)


def lock_invoice(repo: WorkspaceRepository, invoice_id: Any) -> Invoice:
    """The invoice, re-read and row-locked for the rest of the transaction."""
    stmt = locked(repo.select(Invoice).where(Invoice.id == _int_id(invoice_id)))
    invoice = repo.session.scalars(stmt).one_or_none()
    if invoice is None:
        raise NotFound(f"Invoice {invoice_id!r}")
    return invoice


def _int_id(value: Any) -> int:
    key = as_id(value)
    if key is None:  # not a number, or one no invoice can have: never sent to the database
        raise NotFound(f"Invoice {str(value)[:40]!r}")
    return key


def apply_transition(invoice: Invoice, action: Action) -> tuple[str, str]:
    """Move ``invoice`` through the state machine; returns ``(from, to)`` status values."""
    before = InvoiceStatus(invoice.status)
    after = transition(before, action)
    invoice.status = after.value
    return before.value, after.value


def configured_currencies(uow: UnitOfWork | None = None) -> tuple[str, ...]:
    return tuple((uow or unit_of_work()).settings["INVOICING_CURRENCIES"])


#: What the loser of a race for the same invoice hears when the state machine has no better answer.
CHANGED_MEANWHILE = "Someone else changed this invoice at the same time. Reload the page and try again."


def claim(uow: UnitOfWork, invoice: Invoice, workspace_id: str, action: Action) -> None:
    """Write ``invoice``'s change now, before anything outside the database is done.

    Every use case that then calls Stripe or sends mail claims the invoice first:
    the flush's version-checked ``UPDATE`` is where two concurrent requests meet
    on SQLite, which cannot lock the row (on PostgreSQL :func:`lock_invoice`
    already made the second wait). The loser's transaction is rolled back before
    it asked Stripe for anything, and it is told what happened in the state
    machine's words ("This invoice has already been sent."), or
    :data:`CHANGED_MEANWHILE`.
    """
    invoice_pk = invoice.id
    try:
        uow.session.flush()
    except StaleDataError:
        uow.rollback()
        current = uow.repository(workspace_id).get(Invoice, invoice_pk)
        transition(current.status, action)  # InvalidTransition: the other request did it
        raise InvoicingError(CHANGED_MEANWHILE) from None



def commit_or_conflict(uow: UnitOfWork, *, error: type[InvoicingError] = InvoicingError,
                       message: str = CHANGED_MEANWHILE) -> None:
    """Commit ``uow``; if another writer changed the invoice meanwhile (a version
    conflict), roll back and raise ``error(message)`` instead."""
    try:
        uow.commit()
    except StaleDataError:
        uow.rollback()
        raise error(message) from None


def lock_invoice_by_id(invoice_id: int, *, skip_locked: bool = False, uow: UnitOfWork | None = None) -> Invoice | None:
    """The invoice with this id in any workspace, row-locked until the transaction ends
    (``None`` if missing or, with ``skip_locked``, if another transaction holds it)."""
    stmt = locked(select(Invoice).where(Invoice.id == int(invoice_id)), skip_locked=skip_locked)
    return (uow or unit_of_work()).session.scalars(stmt.limit(1)).first()
