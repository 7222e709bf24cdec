"""Payment reminders: the workspace's schedule, and ``flask invoicing send-reminders``.

Schedule: per workspace, off by default (no row); billing staff set it on the Reminders
settings page (:func:`save_schedule`). The steps are days relative to the due date
(:mod:`invoicing_plugin.domain.reminders`).

Sending (:func:`send_due_reminders`, from cron): for each workspace with reminders on, on
the workspace's calendar day (its time zone), each invoice that still asks the client for
money -- ``sent`` or ``partially_paid``, a balance due above zero, a pay link that takes
payment (not sent manually; :func:`~invoicing_plugin.domain.invoice.offers_online_payment`)
-- gets the latest step that is due and not yet sent (never a burst of missed steps, see
:func:`~invoicing_plugin.domain.reminders.step_due`). Paid, voided, credited, refunded,
processing and draft invoices get none.

Each reminder is one transaction: lock the invoice and check it again, insert the
:class:`~invoicing_plugin.persistence.models.InvoiceReminder` row ``(invoice_id, step)``
(unique), queue the email in the outbox and add a ``reminder`` entry to the invoice's
timeline, commit. Two runs at once (cron on two machines): the second's insert violates
the unique constraint (on PostgreSQL it waits for the first's commit, then fails; on
SQLite the database lock serialises them), so it rolls back, its email with it: a step is
sent once, ever. The emails are then delivered by the outbox (:func:`.outbox.deliver_due`,
called at the end of the run unless ``deliver=False``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import render_template
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..domain import reminders as rules
from ..domain.balance import of_invoice
from ..domain.calendar import local_day
from ..domain.invoice import InvoiceStatus, offers_online_payment
from ..gateways.mail import OutgoingEmail
from ..host import HostWorkspace
from ..persistence.models import Invoice, InvoiceReminder, ReminderSchedule
from .checkout import pay_link
from .common import lock_invoice, record_event, unit_of_work
from .email_amounts import email_amounts
from .errors import ValidationFailed
from .links import require_external_url
from .outbox import deliver_due, enqueue
from .uow import UnitOfWork

log = logging.getLogger("invoicing_plugin.reminders")

__all__ = ["ReminderReport", "Schedule", "get_schedule", "reminder_email", "save_schedule", "send_due_reminders",
           "step_label"]

#: The statuses that still ask the client for money.
REMINDED_STATUSES = (InvoiceStatus.SENT.value, InvoiceStatus.PARTIALLY_PAID.value)


@dataclass(frozen=True)
class Schedule:
    """A workspace's reminder schedule: on or off, and its steps (sorted days from the due date)."""

    enabled: bool = False
    steps: tuple[int, ...] = ()

    @property
    def text(self) -> str:
        """The steps as staff type them: ``"-3, 0, 7, 14"``."""
        return ", ".join(str(step) for step in self.steps)


def _steps(stored: str | None) -> tuple[int, ...]:
    try:
        return rules.parse_offsets(stored or "")
    except rules.ScheduleError:  # written only through save_schedule; never trust it blindly
        log.error("reminder schedule %r is not valid; treated as empty", stored)
        return ()


def get_schedule(workspace_id: str, *, uow: UnitOfWork | None = None) -> Schedule:
    """The workspace's schedule; off with no steps when it never saved one."""
    uow = uow or unit_of_work()
    row = uow.repository(workspace_id).find(ReminderSchedule)
    if row is None:
        return Schedule()
    return Schedule(enabled=bool(row.enabled), steps=_steps(row.offsets))


def save_schedule(workspace_id: str, actor: str, *, enabled: bool, steps_text: str,
                  uow: UnitOfWork | None = None) -> Schedule:
    """Validate and save the workspace's schedule; commits.

    Raises :class:`ValidationFailed` (``{"offsets": why}``) and saves nothing for steps
    that are not whole days in range, repeat a day, or are too many
    (:func:`~invoicing_plugin.domain.reminders.parse_offsets`), or when reminders are turned
    on with no step.
    """
    uow = uow or unit_of_work()
    if not isinstance(enabled, bool):
        raise TypeError("enabled must be a bool")
    try:
        steps = rules.parse_offsets(steps_text)
    except rules.ScheduleError as exc:
        raise ValidationFailed({"offsets": exc.message}) from None
    if enabled and not steps:
        raise ValidationFailed({"offsets": "Give at least one day to send reminders on (e.g. -3, 0, 7, 14)."})
    with uow:
        repo = uow.repository(workspace_id)
        row = repo.find(ReminderSchedule)
        if row is None:
            row = repo.add(ReminderSchedule(enabled=enabled, offsets=rules.canonical(steps), updated_by=actor))
        else:
            row.enabled, row.offsets, row.updated_by = enabled, rules.canonical(steps), actor
        uow.commit()
    return Schedule(enabled=enabled, steps=steps)


def step_label(step: int) -> str:
    """``"3 days before the due date"``, ``"on the due date"``, ``"7 days after the due date"``."""
    if step == 0:
        return "on the due date"
    days = abs(step)
    return f"{days} day{'s' if days != 1 else ''} {'before' if step < 0 else 'after'} the due date"


def reminder_email(invoice: Invoice, workspace: HostWorkspace, *, today) -> OutgoingEmail:
    """The reminder: what is still due, when it was due, and the pay link. Needs the Flask app.

    The balance is the one every client email states (:func:`.email_amounts.email_amounts`),
    with the total and what was taken off it when anything was."""
    amounts = email_amounts(invoice, workspace.locale)
    balance = amounts.due
    when = rules.days_text(invoice.due_date, today)
    context = {
        "invoice": invoice,
        "workspace": workspace,
        "balance": balance,
        "amounts": amounts,
        "when": when,
        "overdue": invoice.due_date < today,
        "pay_url": pay_link(invoice),
        "due_date": invoice.due_date.strftime("%-d %B %Y"),
    }
    return OutgoingEmail(
        to=invoice.client_email,
        to_name=invoice.client_name,
        subject=f"Reminder: invoice {invoice.number} from {workspace.name} {when} ({balance} due)",
        text=render_template("invoicing/email/reminder.txt", **context),
        html=render_template("invoicing/email/reminder.html", **context),
    )


@dataclass
class ReminderReport:
    """What a run did: ``sent`` (invoice id, number, step), ``skipped`` workspaces (id, why)."""

    sent: list[tuple[int, str, int]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    delivered: Any = None


def _remindable(invoice: Invoice) -> bool:
    return (invoice.status in REMINDED_STATUSES and invoice.due_date is not None
            and offers_online_payment(invoice) and of_invoice(invoice).due_minor > 0)


def _sent_steps(uow: UnitOfWork, invoice_id: int) -> list[int]:
    return list(uow.session.scalars(select(InvoiceReminder.step).where(InvoiceReminder.invoice_id == invoice_id)))


def _step_for(uow: UnitOfWork, invoice: Invoice, schedule: Schedule, workspace: HostWorkspace, today) -> int | None:
    sent_on = local_day(invoice.sent_at, workspace.zone) if invoice.sent_at else None
    return rules.step_due(schedule.steps, invoice.due_date, today, sent_on=sent_on,
                          already_sent=_sent_steps(uow, invoice.id))


def _send_one(uow: UnitOfWork, workspace: HostWorkspace, schedule: Schedule, invoice_id: int, today,
              report: ReminderReport) -> None:
    """Claim and queue one invoice's due step in one transaction; nothing when another run has it."""
    with uow:
        repo = uow.repository(workspace.id)
        invoice = lock_invoice(repo, invoice_id)  # FOR UPDATE on PostgreSQL: a payment being recorded waits
        if not _remindable(invoice):
            uow.rollback()
            return
        step = _step_for(uow, invoice, schedule, workspace, today)
        if step is None:
            uow.rollback()
            return
        # The claim: flushed first, in this transaction (no savepoint: on SQLite, releasing a
        # savepoint opened outside a transaction would commit the claim on its own).
        uow.session.add(InvoiceReminder(invoice_id=invoice.id, workspace_id=str(workspace.id), step=step,
                                        due_on=invoice.due_date + timedelta(days=step), created_at=uow.clock()))
        try:
            uow.session.flush()
        except IntegrityError:  # another run claimed this step first
            uow.rollback()
            return
        email = reminder_email(invoice, workspace, today=today)
        enqueue(uow, email, workspace_id=str(workspace.id), kind="reminder", invoice_id=invoice.id)
        event = record_event(repo, invoice, "system", "reminder", from_status=invoice.status, to_status=invoice.status,
                             detail=f"Reminder ({step_label(step)}) emailed to {invoice.client_email}: "
                                    f"{email_amounts(invoice, workspace.locale).due} due.")
        event.created_at = uow.clock()
        number = invoice.number or ""
        try:
            uow.commit()
        except IntegrityError:  # the claim lost at commit (SQLite: the other run committed first)
            uow.rollback()
            return
    report.sent.append((invoice_id, number, step))


def send_due_reminders(workspace_id: str | None = None, *, deliver: bool = True,
                       uow: UnitOfWork | None = None) -> ReminderReport:
    """Send every reminder step that is due now (all workspaces, or one); see the module doc.

    A workspace the host does not know (or whose time zone is not an IANA name) is left out
    and listed in ``report.skipped``. Raises :class:`~.errors.InvoicingError` when the pay
    link cannot be built (``INVOICING_EXTERNAL_URL`` unset outside a request): up front,
    before any schedule or invoice is read, whether or not a reminder is due. Call it
    outside a unit of work of your own: each reminder is its own transaction.
    """
    require_external_url()  # a cron job without it fails on its first run, not on the first due day
    uow = uow or unit_of_work()
    report = ReminderReport()
    stmt = select(ReminderSchedule).where(ReminderSchedule.enabled.is_(True)).order_by(ReminderSchedule.id)
    if workspace_id is not None:
        stmt = stmt.where(ReminderSchedule.workspace_id == str(workspace_id))
    rows = [(row.workspace_id, Schedule(True, _steps(row.offsets))) for row in uow.session.scalars(stmt)]
    uow.session.rollback()  # end the read; each reminder below is its own transaction
    for ws_id, schedule in rows:
        if not schedule.steps:
            continue
        try:
            workspace = uow.host.get_workspace(ws_id)
            if workspace is None or not workspace.bills_clients:
                raise LookupError("the host does not know it (or it does not bill clients)")
            today = uow.today(workspace)  # the workspace's calendar day
        except Exception as exc:  # noqa: BLE001 - one host fault must not stop the other workspaces
            why = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            log.error("reminders: workspace %s left out: %s", ws_id, why)
            report.skipped.append((str(ws_id), str(why)))
            continue
        latest_due = today - timedelta(days=min(schedule.steps))  # a due date after this has no step due yet
        ids = list(uow.session.scalars(
            uow.repository(ws_id).select(Invoice, Invoice.id)
            .where(Invoice.status.in_(REMINDED_STATUSES), Invoice.due_date.is_not(None),
                   Invoice.due_date <= latest_due, Invoice.send_method != "manual")
            .order_by(Invoice.due_date, Invoice.id)))
        uow.session.rollback()
        for invoice_id in ids:
            _send_one(uow, workspace, schedule, invoice_id, today, report)
    if deliver and report.sent:
        report.delivered = deliver_due(uow=uow)
    return report
