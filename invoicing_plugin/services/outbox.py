"""The email outbox: every email is queued with the change that causes it, and delivered after.

Why: an email sent inside the request before the commit is sent for nothing when the
commit then fails; an email sent after the commit is lost when SMTP fails. So:

1. :func:`enqueue` (inside the use case's unit of work) stores the rendered email --
   recipient, subject, text and HTML -- as an :class:`OutboxEmail` row written with the
   transaction's last statement (:mod:`~invoicing_plugin.persistence.appends`; on the
   webhook's hot path it rides in the statement that records the event). A rollback
   drops it with everything else: nothing is sent for a change that did not happen.
2. After the commit, the request delivers what it queued (:func:`deliver_after_commit`,
   best effort: a failure is stored on the row, logged, and never fails the request;
   ``INVOICING_MAIL_DELIVER_AFTER_COMMIT = False`` leaves it to the next run below).
3. :func:`deliver_due` -- ``flask invoicing deliver-emails`` from cron, or
   :func:`invoicing_plugin.api.deliver_emails` from a task queue -- delivers every row
   that is due: new ones, and failed attempts once their back-off has passed
   (1, 2, 4 ... minutes, at most :data:`MAX_BACKOFF` apart). After
   ``INVOICING_MAIL_MAX_ATTEMPTS`` failed attempts a row is ``failed`` and stays so (its
   ``last_error`` is shown to staff, who may retry it: :func:`retry_now`).

Several deliverers may run at once (cron on several machines, a request and a task):
each row is *claimed* before it is sent -- picked with ``SELECT ... FOR UPDATE SKIP
LOCKED`` on PostgreSQL (a row another deliverer is claiming is skipped, not waited for)
and taken with a conditional ``UPDATE`` that sets a lease (``claimed_until``) only while
no live lease is held (the guard that also serialises SQLite). The claim commits before
SMTP is spoken to, so no transaction is held open during the send. A deliverer that dies
between the send and recording it leaves the lease to expire (:data:`LEASE`); the email
is then sent again: delivery is at least once, exactly once unless a process dies in
that window.

Delivery needs no request, no template and no host: the email was rendered when queued.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from ..gateways.mail import MailError, OutgoingEmail
from ..persistence import appends
from ..persistence.models import OutboxEmail
from ..persistence.repository import WorkspaceRepository
from .errors import InvoicingError
from .uow import UnitOfWork

log = logging.getLogger("invoicing_plugin.outbox")

__all__ = [
    "DeliveryReport",
    "KINDS",
    "LEASE",
    "MAX_BACKOFF",
    "backoff",
    "deliver_after_commit",
    "deliver_due",
    "emails_of_invoice",
    "enqueue",
    "get_email",
    "list_emails",
    "retry_now",
]

OUTBOX = OutboxEmail.__table__

#: What each kind of email is, for staff pages.
KINDS = {"invoice": "Invoice email", "payment_confirmation": "Payment confirmation", "reminder": "Payment reminder"}

#: How long a claim keeps other deliverers off a row (longer than any SMTP exchange).
LEASE = timedelta(minutes=10)

#: The longest wait between two attempts.
MAX_BACKOFF = timedelta(hours=6)

#: The longest error text stored (SMTP servers can be verbose).
MAX_ERROR = 2000


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 1, 2, 4 ... minutes, capped at :data:`MAX_BACKOFF`."""
    return min(timedelta(minutes=2 ** min(max(attempts - 1, 0), 20)), MAX_BACKOFF)


def enqueue(uow: UnitOfWork, email: OutgoingEmail, *, workspace_id: str, kind: str,
            invoice_id: int | None = None) -> None:
    """Queue ``email`` in ``uow``'s open transaction; it is written (or dropped) with it.

    The row is not an ORM object (it is written with the transaction's last statement,
    see :mod:`~invoicing_plugin.persistence.appends`), so it cannot be read back before
    the commit. ``kind`` is one of :data:`KINDS`.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}")
    now = uow.clock()
    appends.append(uow.session, OUTBOX, {
        "workspace_id": str(workspace_id), "invoice_id": invoice_id, "kind": kind,
        "to_address": email.to, "to_name": email.to_name, "reply_to": email.reply_to,
        "subject": email.subject, "body_text": email.text, "body_html": email.html,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
    })


@dataclass
class DeliveryReport:
    """What one delivery run did: ids sent, ids that failed this time (to retry), ids given up."""

    sent: list[int] = field(default_factory=list)
    retrying: list[tuple[int, str]] = field(default_factory=list)  # (id, error)
    gave_up: list[tuple[int, str]] = field(default_factory=list)  # (id, error)

    @property
    def ok(self) -> bool:
        return not self.retrying and not self.gave_up


def _due(now: datetime):
    return (OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at <= now,
            or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now))


def _claim_next(uow: UnitOfWork, now: datetime, after_id: int, invoice_id: int | None) -> tuple[Any, str] | None | bool:
    """Claim the next due row (by id, above ``after_id``): ``(row, token)``, ``None`` when
    none is left, ``False`` when another deliverer took the one picked (try the next)."""
    session = uow.session
    stmt = select(OUTBOX).where(*_due(now), OUTBOX.c.id > after_id).order_by(OUTBOX.c.id).limit(1)
    if invoice_id is not None:
        stmt = stmt.where(OUTBOX.c.invoice_id == int(invoice_id))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    with uow:
        row = session.execute(stmt).first()
        if row is None:
            uow.commit()
            return None
        token = secrets.token_hex(16)
        taken = session.execute(
            update(OUTBOX).where(OUTBOX.c.id == row.id, *_due(now))
            .values(claimed_until=now + LEASE, claim_token=token)
        ).rowcount == 1
        uow.commit()
    return (row, token) if taken else False


def _email_of(row: Any) -> OutgoingEmail:
    return OutgoingEmail(to=row.to_address, to_name=row.to_name, reply_to=row.reply_to, subject=row.subject,
                         text=row.body_text, html=row.body_html)


def _record(uow: UnitOfWork, row: Any, token: str, *, message_id: str | None, error: str | None,
            report: DeliveryReport, permanent: bool = False) -> None:
    now = uow.clock()
    attempts = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_attempt_at": now, "claimed_until": None,
                              "claim_token": None}
    if error is None:
        values.update(status="sent", sent_at=now, message_id=(message_id or "")[:255] or None)
        report.sent.append(row.id)
    else:
        error = error[:MAX_ERROR]
        values["last_error"] = error
        if permanent or attempts >= int(uow.settings.get("INVOICING_MAIL_MAX_ATTEMPTS", 10)):
            values["status"] = "failed"
            report.gave_up.append((row.id, error))
            log.error("email %s (%s to %s) given up after %s attempts: %s", row.id, row.kind, row.to_address,
                      attempts, error)
        else:
            values["next_attempt_at"] = now + backoff(attempts)
            report.retrying.append((row.id, error))
            log.warning("email %s (%s to %s) not delivered (attempt %s), retried later: %s", row.id, row.kind,
                        row.to_address, attempts, error)
    with uow:
        # Only the holder of the claim records: a deliverer whose lease ran out (and whose
        # row another one took meanwhile) leaves the row to the newer claim.
        uow.session.execute(update(OUTBOX).where(OUTBOX.c.id == row.id, OUTBOX.c.claim_token == token).values(values))
        uow.commit()


def deliver_due(*, limit: int = 100, invoice_id: int | None = None, uow: UnitOfWork | None = None) -> DeliveryReport:
    """Deliver up to ``limit`` due emails (oldest first), each claimed first; see the module doc.

    ``invoice_id`` restricts the run to one invoice's emails. Each claim and each result
    is its own transaction: call it outside a unit of work of your own. SMTP failures
    never raise: they are stored on the row and listed in the report.
    """
    uow = uow or UnitOfWork.for_app()
    report = DeliveryReport()
    after_id = 0
    for _ in range(max(int(limit), 0)):
        claimed = _claim_next(uow, uow.clock(), after_id, invoice_id)
        if claimed is None:
            break
        if claimed is False:
            continue  # another deliverer took it between our pick and our claim; its lease keeps us off
        row, token = claimed
        after_id = row.id
        message_id = error = None
        permanent = False
        try:
            message_id = uow.mailer.send(_email_of(row))
        except MailError as exc:
            error = exc.message
            permanent = bool(getattr(exc, "permanent", False))  # e.g. not one address: given up at once
        except Exception as exc:  # a broken mailer must not leave the row claimed until the lease ends
            log.exception("email %s could not be delivered", row.id)
            error = f"{type(exc).__name__}: {exc}"
        _record(uow, row, token, message_id=message_id, error=error, report=report, permanent=permanent)
    return report


def deliver_after_commit(invoice_id: int, *, uow: UnitOfWork | None = None) -> DeliveryReport | None:
    """Deliver ``invoice_id``'s due emails now, after the commit that queued them; never raises.

    Off (returns ``None``) when ``INVOICING_MAIL_DELIVER_AFTER_COMMIT`` is false. Whatever
    fails stays in the outbox for :func:`deliver_due`.
    """
    try:
        uow = uow or UnitOfWork.for_app()
        if not uow.settings.get("INVOICING_MAIL_DELIVER_AFTER_COMMIT", True):
            return None
        return deliver_due(invoice_id=invoice_id, uow=uow)
    except Exception:  # the change is committed; the email waits in the outbox
        log.exception("delivering the emails of invoice %s after the commit failed; left in the outbox", invoice_id)
        try:
            if uow is not None:
                uow.session.rollback()
        except Exception:  # pragma: no cover - the session itself is broken
            pass
        return None


# -- what staff see ---------------------------------------------------------------------------


def emails_of_invoice(workspace_id: str, invoice_id: int, *, uow: UnitOfWork | None = None) -> list[OutboxEmail]:
    """The invoice's emails, oldest first (its workspace's only)."""
    uow = uow or UnitOfWork.for_app()
    return list(uow.session.scalars(
        select(OutboxEmail).where(OutboxEmail.workspace_id == str(workspace_id),
                                  OutboxEmail.invoice_id == int(invoice_id)).order_by(OutboxEmail.id)
    ))


def list_emails(workspace_id: str, *, status: str | None = None, limit: int = 200,
                uow: UnitOfWork | None = None) -> list[OutboxEmail]:
    """The workspace's emails, newest first, optionally of one ``status``."""
    uow = uow or UnitOfWork.for_app()
    stmt = select(OutboxEmail).where(OutboxEmail.workspace_id == str(workspace_id))
    if status:
        stmt = stmt.where(OutboxEmail.status == status)
    return list(uow.session.scalars(stmt.order_by(OutboxEmail.id.desc()).limit(limit)))


def get_email(workspace_id: str, email_id: Any, *, uow: UnitOfWork | None = None) -> OutboxEmail:
    """One email of the workspace; :class:`NotFound` for another workspace's (or no) id."""
    uow = uow or UnitOfWork.for_app()
    return WorkspaceRepository(uow.session, str(workspace_id)).get(OutboxEmail, email_id)


def retry_now(workspace_id: str, email_id: Any, *, uow: UnitOfWork | None = None) -> OutboxEmail:
    """Make a pending or failed email of the workspace due now (a failed one gets one more attempt).

    Raises :class:`NotFound` for another workspace's id and :class:`InvoicingError` for
    one already sent or being delivered right now (claimed by a deliverer whose lease
    has not run out: making it due again would send it twice). The change is one
    conditional ``UPDATE`` (status not sent, no live claim), so a deliverer recording
    "sent" at the same moment wins. Commits; the next delivery run (or the caller)
    delivers it.
    """
    uow = uow or UnitOfWork.for_app()
    with uow:
        email = get_email(workspace_id, email_id, uow=uow)
        if email.status == "sent":
            raise InvoicingError("This email was already sent.")
        now = uow.clock()
        changed = uow.session.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == email.id, OUTBOX.c.workspace_id == str(workspace_id),
                   OUTBOX.c.status.in_(("pending", "failed")),
                   or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now))
            .values(status="pending", next_attempt_at=now, claimed_until=None, claim_token=None)
        ).rowcount == 1
        if not changed:
            uow.session.rollback()
            raise InvoicingError("This email is being delivered right now (or was just sent); "
                                 "reload the page to see how it went.")
        uow.commit()
    return get_email(workspace_id, email_id, uow=uow)

