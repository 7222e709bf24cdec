"""The payment confirmation email: sent after the payment's commit, at most once per invoice.

``Invoice.confirmation_sent_at`` is claimed with a conditional ``UPDATE`` so exactly one
process sends it, however many try at once. The functions take an optional ``uow``
(:class:`~.uow.UnitOfWork`: session, host, mailer, clock, settings) and default to the
app's; the email itself is rendered from Jinja templates, which needs the Flask app.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import render_template
from sqlalchemy import select, update

from ..domain.calendar import UTC, local_day
from ..domain.invoice import InvoiceStatus
from ..gateways.mail import MailError, OutgoingEmail
from ..persistence.models import Invoice, InvoiceEvent
from .common import append_audit, unit_of_work
from .payment_outcome import money_text
from .uow import UnitOfWork

log = logging.getLogger("invoicing_plugin.payments")


def _confirmation_email(uow: UnitOfWork, invoice: Invoice) -> OutgoingEmail:
    host = uow.host
    workspace = host.get_workspace(invoice.workspace_id)
    context = {
        "invoice": invoice,
        "workspace_name": workspace.name if workspace else "",
        "amount": money_text(invoice.amount_paid_minor or invoice.amount_minor, invoice.currency),
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


def send_payment_confirmation(invoice_id: int, *, uow: UnitOfWork | None = None) -> bool:
    """Email the client that their payment arrived -- at most once per invoice.

    Runs after the payment's commit. The first caller to set ``confirmation_sent_at``
    sends; everyone else returns ``False``. If SMTP fails the payment stays recorded,
    the claim is released (so ``flask invoicing reconcile`` can retry) and the failure
    is written to the invoice's audit trail. Off when
    ``INVOICING_PAYMENT_CONFIRMATION_EMAIL`` is false.
    """
    uow = uow or unit_of_work()
    if not uow.settings["INVOICING_PAYMENT_CONFIRMATION_EMAIL"]:
        return False
    session = uow.session
    with uow:
        claimed = _claim_confirmation(uow, invoice_id, uow.clock(), expect_unset=True)
        uow.commit()
    if not claimed:
        return False
    invoice = session.get(Invoice, int(invoice_id), populate_existing=True)
    error: str | None = None
    try:
        message = _confirmation_email(uow, invoice)
        uow.mailer.send(message)
    except MailError as exc:
        error = exc.message
    except Exception as exc:  # a template or host error must not lose the claim forever
        log.exception("payment confirmation for invoice %s could not be built", invoice_id)
        error = f"The confirmation email could not be prepared ({type(exc).__name__})."
    with uow:
        invoice = session.get(Invoice, int(invoice_id))
        if error is not None:
            _claim_confirmation(uow, invoice_id, None, expect_unset=False)
            log.warning("payment confirmation for invoice %s not sent: %s", invoice_id, error)
            append_audit(invoice, actor="system", action="payment_confirmation_email", from_status=invoice.status,
                   to_status=invoice.status, detail=error, result="failed", uow=uow)
        else:
            append_audit(invoice, actor="system", action="payment_confirmation_email", from_status=invoice.status,
                   to_status=invoice.status, detail=f"payment confirmation sent to {invoice.client_email}", uow=uow)
        uow.commit()
    return error is None


def retry_unsent_confirmations(limit: int = 200, *, uow: UnitOfWork | None = None) -> tuple[int, int]:
    """Send confirmations whose earlier attempt failed. Returns (sent, still failing)."""
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
        if send_payment_confirmation(invoice_id, uow=uow):
            sent += 1
        else:
            failed += 1
    return sent, failed
