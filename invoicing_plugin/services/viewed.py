""""Viewed": the first time the client opens an invoice's pay link or its portal page.

:func:`record_view` sets ``invoicing_invoices.viewed_at`` once, with one conditional
``UPDATE ... WHERE viewed_at IS NULL``: of two first opens at once only one matches, and
only that one adds the timeline entry "Viewed by the client". The invoice's version is
not bumped (staff editing it at that moment are not refused) and ``updated_at`` is kept.

Staff do not count: the web layer does not call it when the signed-in user can manage
billing in the invoice's workspace (:func:`is_staff_of`). Drafts are never shown to
clients, so they are never viewed.
"""

from __future__ import annotations

import logging

from sqlalchemy import update

from ..persistence.models import Invoice, InvoiceEvent
from .common import unit_of_work
from .uow import UnitOfWork

log = logging.getLogger("invoicing_plugin.viewed")

__all__ = ["is_staff_of", "record_view"]

INVOICES = Invoice.__table__


def is_staff_of(workspace_id: str, *, uow: UnitOfWork | None = None) -> bool:
    """Whether the signed-in user (by the host) can manage billing in ``workspace_id``."""
    host = (uow or unit_of_work()).host
    user = host.current_user()
    if user is None:
        return False
    workspace = host.get_workspace(str(workspace_id))
    return workspace is not None and bool(host.can_manage_billing(user, workspace))


def record_view(invoice: Invoice, via: str, *, uow: UnitOfWork | None = None) -> bool:
    """Record the client's first view of ``invoice`` (``via``: "pay link" or "portal"); commits.

    Returns whether this call was the first (``False``: already viewed, or a draft).
    Call it in its own transaction, before the page's own work.
    """
    uow = uow or unit_of_work()
    if invoice.viewed_at is not None or invoice.status == "draft":
        return False
    with uow:
        now = uow.clock()
        first = uow.session.execute(
            update(INVOICES)
            .where(INVOICES.c.id == invoice.id, INVOICES.c.viewed_at.is_(None), INVOICES.c.status != "draft")
            .values(viewed_at=now, updated_at=INVOICES.c.updated_at)
        ).rowcount == 1
        if not first:
            uow.rollback()
            return False
        uow.session.add(InvoiceEvent(invoice_id=invoice.id, workspace_id=invoice.workspace_id, created_at=now,
                                     actor="client", action="viewed", from_status=invoice.status,
                                     to_status=invoice.status, detail=f"Viewed by the client ({via})."))
        uow.commit()
    uow.session.expire(invoice, ["viewed_at"])
    return True
