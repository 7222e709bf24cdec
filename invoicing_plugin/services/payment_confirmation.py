"""The payment confirmation email: queued with the payment, delivered after its commit, once.

:func:`queue_payment_confirmation` runs inside the transaction that records the payment:
it renders the email into the outbox (:mod:`.outbox`) and sets
``Invoice.confirmation_sent_at`` (now: *queued* at), so the email exists exactly when the
payment does. :func:`send_payment_confirmation` delivers it after the commit. The
functions take an optional ``uow`` (:class:`~.uow.UnitOfWork`: session, host, mailer,
clock, settings) and default to the app's; rendering needs the Flask app (templates).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import render_template
from sqlalchemy import select, update

from ..domain.calendar import UTC, local_day
from ..domain.invoice import InvoiceStatus
from ..gateways.mail import OutgoingEmail
from ..host import remembered_workspace
from ..persistence.models import Invoice, InvoiceEvent
from .common import append_audit, unit_of_work
from .outbox import deliver_after_commit, enqueue
from .email_amounts import email_amounts
from .uow import UnitOfWork

log = logging.getLogger("invoicing_plugin.payments")


def _confirmation_email(uow: UnitOfWork, invoice: Invoice) -> OutgoingEmail:
    # Remembered for a few minutes (host.remembered_workspace): rendered per payment, on
    # the webhook's hot path, without a host query per event.
    workspace = remembered_workspace(uow.host, invoice.workspace_id)
    context = {
        "invoice": invoice,
        "workspace_name": workspace.name if workspace else "",
        # What was received on the invoice, the figure every client email reads
        # (email_amounts): never the total when deposits or credit were deducted.
        "amount": email_amounts(invoice).paid,
        # The day it was paid in the workspace's time zone (the client's business calendar).
        "paid_on": local_day(invoice.paid_at or uow.clock(), workspace.zone if workspace else UTC).strftime("%d %B %Y"),
    }
    number = invoice.number or f"#{invoice.id}"
    sender_name = f" from {workspace.name}" if workspace else ""
    return OutgoingEmail(
        to=invoice.client_email,
        to_name=invoice.client_name,
        subject=f"Payment received for invoice {number}{sender_name}",
        text=render_template("invoicing/email/payment_confirmation.txt", **context),
        html=render_template("invoicing/email/payment_confirmation.html", **context),
    )


def _claim_confirmation(uow: UnitOfWork, invoice_id: int, value: datetime | None, *, expect_unset: bool) -> bool:
    table = Invoice.__table__
    stmt = update(table).where(table.c.id == int(invoice_id)).values(confirmation_sent_at=value)
    if expect_unset:
        stmt = stmt.where(table.c.confirmation_sent_at.is_(None), table.c.status == InvoiceStatus.PAID.value)
    return uow.session.execute(stmt).rowcount == 1


def _render_or_record(uow: UnitOfWork, invoice: Any) -> OutgoingEmail | None:
    """The confirmation email, or ``None`` (logged, and a failed audit entry queued) when it
    cannot be rendered: a template or host error must never fail the payment's recording;
    ``flask invoicing reconcile`` queues it again later."""
    try:
        return _confirmation_email(uow, invoice)
    except Exception as exc:
        log.exception("payment confirmation for invoice %s could not be built", invoice.id)
        append_audit(invoice, actor="system", action="payment_confirmation_email", from_status=invoice.status,
                     to_status=invoice.status, result="failed", uow=uow,
                     detail=f"The confirmation email could not be prepared ({type(exc).__name__}).")
        return None


def queue_payment_confirmation(uow: UnitOfWork, invoice: Any) -> bool:
    """Queue the confirmation of the just-paid ``invoice`` in ``uow``'s open transaction.

    ``invoice`` is the locked row (an ``Invoice`` or the webhook's ``TrackedRow``); its
    ``confirmation_sent_at`` is set, so it is queued at most once. Returns whether it was
    queued: not when ``INVOICING_PAYMENT_CONFIRMATION_EMAIL`` is false, when already
    queued, or when it cannot be rendered (see :func:`_render_or_record`).
    """
    if not uow.settings.get("INVOICING_PAYMENT_CONFIRMATION_EMAIL", True) or invoice.confirmation_sent_at is not None:
        return False
    email = _render_or_record(uow, invoice)
    if email is None:
        return False
    invoice.confirmation_sent_at = uow.clock()
    enqueue(uow, email, workspace_id=invoice.workspace_id, kind="payment_confirmation", invoice_id=invoice.id)
    return True


def send_payment_confirmation(invoice_id: int, *, uow: UnitOfWork | None = None) -> bool:
    """Deliver the paid invoice's queued confirmation now, after the payment's commit.

    The email was queued with the payment (:func:`queue_payment_confirmation`); this
    delivers the invoice's due emails (:func:`.outbox.deliver_after_commit`: best effort,
    never raises; what fails stays in the outbox for ``flask invoicing deliver-emails``).
    Returns whether an email was delivered now. Off when
    ``INVOICING_PAYMENT_CONFIRMATION_EMAIL`` is false.
    """
    uow = uow or unit_of_work()
    if not uow.settings["INVOICING_PAYMENT_CONFIRMATION_EMAIL"]:
        return False
    report = deliver_after_commit(int(invoice_id), uow=uow)
    return bool(report and report.sent)


def queue_unsent_confirmation(invoice_id: int, *, uow: UnitOfWork | None = None) -> bool:
    """Queue the confirmation of a paid invoice that has none queued, in its own transaction.

    For a paid invoice whose confirmation could not be rendered with the payment, or that
    failed before the outbox existed. ``confirmation_sent_at`` is claimed with a
    conditional ``UPDATE``, so of several callers only one queues it. Returns whether it
    was queued (``False``: already queued, not paid, or still cannot be rendered -- a
    failed audit entry says so).
    """
    uow = uow or unit_of_work()
    session = uow.session
    queued = False
    with uow:
        if _claim_confirmation(uow, invoice_id, uow.clock(), expect_unset=True):
            invoice = session.get(Invoice, int(invoice_id), populate_existing=True)
            email = _render_or_record(uow, invoice)
            if email is None:
                _claim_confirmation(uow, invoice_id, None, expect_unset=False)
            else:
                enqueue(uow, email, workspace_id=invoice.workspace_id, kind="payment_confirmation",
                        invoice_id=invoice.id)
                queued = True
        uow.commit()
    return queued


def retry_unsent_confirmations(limit: int = 200, *, uow: UnitOfWork | None = None) -> tuple[int, int]:
    """Queue (and try to deliver) confirmations that could not be queued before: paid
    invoices without a queued confirmation whose earlier attempt failed (before the
    outbox: the SMTP failure; now: the rendering). Returns (sent, not sent now); what
    was queued but not sent is retried by ``flask invoicing deliver-emails``."""
    uow = uow or unit_of_work()
    if not uow.settings["INVOICING_PAYMENT_CONFIRMATION_EMAIL"]:
        return 0, 0
    session = uow.session
    failed_ids = select(InvoiceEvent.invoice_id).where(
        InvoiceEvent.action == "payment_confirmation_email", InvoiceEvent.result == "failed"
    )
    ids = list(
        session.scalars(
            select(Invoice.id)
            .where(Invoice.status == InvoiceStatus.PAID.value, Invoice.confirmation_sent_at.is_(None),
                   Invoice.id.in_(failed_ids))
            .order_by(Invoice.id)
            .limit(limit)
        )
    )
    session.rollback()
    sent = failed = 0
    for invoice_id in ids:
        if queue_unsent_confirmation(invoice_id, uow=uow) and send_payment_confirmation(invoice_id, uow=uow):
            sent += 1
        else:
            failed += 1
    return sent, failed
