"""Deposit invoices raised from a subject the client accepted (a proposal, or any kind the host allows).

Which subjects take deposits is the host's to say (``HostSubject.accepts_deposit``;
by default: proposals approved internally); the plugin then also requires that the
client accepted the subject and that it has a total. The deposit is linked to the
subject (``subject_ref``), like every invoice raised from it.

Errors: :class:`~invoicing_plugin.services.errors.ValidationFailed` (bad input,
per field), :class:`~invoicing_plugin.services.errors.InvoicingError`,
:class:`~invoicing_plugin.domain.InvalidTransition` (the state machine refused),
:class:`~invoicing_plugin.persistence.repository.NotFound` (not in this workspace).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from ..domain.errors import AmountError, DomainError
from ..domain.invoice import InvoiceStatus, deposit_amount
from ..domain.money import Money, parse_amount, validate_amount
from ..host import HostSubject, parse_subject_ref
from ..persistence import locks
from ..persistence.models import Invoice
from ..persistence.repository import NotFound
from .common import DEPOSIT_KIND, get_workspace, unit_of_work
from .drafts import DraftInput, create_draft
from .errors import InvoicingError, ValidationFailed
from .text import check_text
from .uow import UnitOfWork
from .views import InvoiceSnapshot


def deposit_refusal(subject: HostSubject | None) -> str | None:
    """Why a deposit invoice cannot be raised for ``subject`` (``None``: it can).

    The one check of deposit eligibility, for every kind of subject: the host lets it
    take deposits (:attr:`HostSubject.takes_deposits`), the client accepted it, and it
    has a total in a currency.
    """
    if subject is None:
        return "That proposal, engagement or project was not found in this workspace."
    kind = subject.kind
    if not subject.takes_deposits:
        if subject.accepts_deposit is None and kind == "proposal":
            return "The proposal has not been approved internally yet."
        return f"This {kind} does not take deposit invoices."
    if not subject.accepted_by_client:
        return f"The client has not accepted the {kind} yet."
    if not subject.total_minor or not subject.currency:
        return f"The {kind} has no total to take a deposit from."
    return None


def deposit_offered(subject: HostSubject | None) -> bool:
    """Whether staff pages should mention deposits for ``subject`` at all: it takes
    deposits, or it is a proposal under the default rule (the page then says why not yet)."""
    if subject is None:
        return False
    return subject.takes_deposits or (subject.accepts_deposit is None and subject.kind == "proposal")


def can_take_deposit(subject: HostSubject | None) -> bool:
    """Whether a deposit invoice can be raised from ``subject`` now."""
    return subject is not None and deposit_refusal(subject) is None


def existing_deposit(workspace_id: str, subject: HostSubject | str, *, uow: UnitOfWork | None = None) -> Invoice | None:
    """A deposit invoice already raised for the subject (not voided), if any.

    ``subject``: the :class:`HostSubject`, or a proposal's id (text), as before.
    """
    ref = subject.ref if isinstance(subject, HostSubject) else f"proposal:{subject}"
    repo = (uow or unit_of_work()).repository(workspace_id)
    stmt = (
        repo.select(Invoice)
        .where(
            Invoice.kind == DEPOSIT_KIND,
            Invoice.subject_ref == ref,
            Invoice.status != InvoiceStatus.VOIDED.value,
        )
        .order_by(Invoice.id)
        .limit(1)
    )
    return repo.session.scalars(stmt).first()


def parse_percent(text: str | Decimal | int) -> Decimal:
    if isinstance(text, Decimal):
        return text
    if isinstance(text, int) and not isinstance(text, bool):
        return Decimal(text)
    cleaned = str(text or "").strip().rstrip("%").strip()
    if not cleaned:
        raise AmountError("Enter the deposit percentage, like 30.", field="percent")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise AmountError("Enter the deposit percentage as a number, like 30 or 12.5.", field="percent") from None
    if not value.is_finite():
        raise AmountError("Enter the deposit percentage as a number, like 30 or 12.5.", field="percent")
    return value


def create_deposit_from_proposal(
    workspace_id: str,
    actor: str,
    proposal_id: str,
    *,
    percent: str | Decimal | int | None = None,
    fixed: str | int | None = None,
    due_date: date | None = None,
    send_method: str = "email",
    description: str | None = None,
    allow_another: bool = False,
    uow: UnitOfWork | None = None,
) -> InvoiceSnapshot:
    """:func:`create_deposit` for the proposal ``proposal_id``."""
    return create_deposit(
        workspace_id, actor, f"proposal:{proposal_id}", percent=percent, fixed=fixed, due_date=due_date,
        send_method=send_method, description=description, allow_another=allow_another, uow=uow,
    )


def create_deposit(
    workspace_id: str,
    actor: str,
    subject_ref: str,
    *,
    percent: str | Decimal | int | None = None,
    fixed: str | int | None = None,
    due_date: date | None = None,
    send_method: str = "email",
    description: str | None = None,
    allow_another: bool = False,
    uow: UnitOfWork | None = None,
) -> InvoiceSnapshot:
    """Raise a ``deposit`` draft for the subject ``subject_ref`` (``"engagement:12"``).

    The subject must take deposits (see :func:`deposit_refusal`: the host allows it,
    the client accepted it, it has a total). The deposit is ``percent`` % of the
    subject's total, or a ``fixed`` amount (text as typed, or int minor units), in the
    subject's currency. A second deposit for the same subject is refused unless
    ``allow_another`` (so a host that raises deposits automatically when a client
    accepts cannot raise two), also when two requests raise it at the same moment (the
    check and the insert run under a lock on the subject, PostgreSQL; SQLite has no such
    lock). :class:`NotFound` when the workspace does not bill or
    the reference names nothing of this workspace (malformed references included).
    """
    errors: dict[str, str] = {}
    check_text(errors, "subject_ref", subject_ref, "proposal, engagement or project reference")
    check_text(errors, "description", description, "description")
    if errors:  # before the host is asked anything
        raise ValidationFailed(errors)
    uow = uow or unit_of_work()
    host = uow.host
    get_workspace(workspace_id, uow)
    parsed = parse_subject_ref(subject_ref if isinstance(subject_ref, str) else None)
    subject = host.get_subject(str(workspace_id), *parsed) if parsed else None
    if subject is None:
        kind, _, subject_id = str(subject_ref).partition(":")
        raise NotFound(f"{kind} {subject_id!r}" if parsed else f"subject {str(subject_ref)[:100]!r}")
    refusal = deposit_refusal(subject)
    if refusal:
        raise InvoicingError(refusal)
    # The check below and the insert (create_draft, same transaction) must not interleave
    # with another request's for the same subject: two at once made two deposits.
    locks.hold(uow.session, "deposit", str(workspace_id), subject.ref)
    if not allow_another:
        existing = existing_deposit(workspace_id, subject, uow=uow)
        if existing is not None:
            label = existing.number or f"draft #{existing.id}"
            raise InvoicingError(f"A deposit invoice ({label}) already exists for this {subject.kind}.")
    total = Money(int(subject.total_minor), subject.currency)
    try:
        if (percent is None) == (fixed is None or fixed == ""):
            raise AmountError("Choose either a deposit percentage or a fixed deposit amount.", field="percent")
        if percent is not None:
            pct = parse_percent(percent)
            deposit = deposit_amount(total, percent=pct)
            what = f"{pct.normalize():f}% deposit"
        else:
            fixed_money = validate_amount(Money(fixed, total.currency)) if isinstance(fixed, int) else parse_amount(str(fixed), total.currency)
            deposit = deposit_amount(total, fixed=fixed_money)
            what = "Deposit"
    except DomainError as exc:
        raise ValidationFailed({exc.field or "percent": exc.message}) from None
    text = (description or "").strip() or f"{what} for {subject.title}"
    data = DraftInput(
        client_id=str(subject.client_id or ""),
        amount=deposit.minor,
        currency=deposit.currency,
        description=text,
        due_date=due_date,
        subject_ref=subject.ref,
        send_method=send_method,
    )
    return create_draft(workspace_id, actor, data, kind=DEPOSIT_KIND, uow=uow)

