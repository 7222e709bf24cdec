"""Deposit invoices raised from an approved proposal the client accepted.

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
from ..host import HostSubject
from ..persistence.models import Invoice
from ..persistence.repository import NotFound
from .common import DEPOSIT_KIND, get_workspace, unit_of_work
from .drafts import DraftInput, create_draft
from .errors import InvoicingError, ValidationFailed
from .uow import UnitOfWork
from .views import InvoiceSnapshot


def deposit_refusal(subject: HostSubject | None) -> str | None:
    """Why a deposit invoice cannot be raised for ``subject`` (``None``: it can)."""
    if subject is None:
        return "That proposal was not found in this workspace."
    if subject.kind != "proposal":
        return "Deposit invoices are raised from proposals."
    if not subject.approved:
        return "The proposal has not been approved internally yet."
    if not subject.accepted_by_client:
        return "The client has not accepted the proposal yet."
    if not subject.total_minor or not subject.currency:
        return "The proposal has no total to take a deposit from."
    return None


def existing_deposit(workspace_id: str, proposal_id: str, *, uow: UnitOfWork | None = None) -> Invoice | None:
    """A deposit invoice already raised for the proposal (not voided), if any."""
    repo = (uow or unit_of_work()).repository(workspace_id)
    stmt = (
        repo.select(Invoice)
        .where(
            Invoice.kind == DEPOSIT_KIND,
            Invoice.subject_ref == f"proposal:{proposal_id}",
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
    """Raise a ``deposit`` draft for an approved proposal the client accepted.

    The deposit is ``percent`` % of the proposal total, or a ``fixed`` amount
    (text as typed, or int minor units), in the proposal's currency. A second
    deposit for the same proposal is refused unless ``allow_another`` (so a host
    that raises deposits automatically when a client accepts cannot raise two).
    """
    uow = uow or unit_of_work()
    host = uow.host
    get_workspace(workspace_id, uow)
    subject = host.get_subject(str(workspace_id), "proposal", str(proposal_id))
    if subject is None:
        raise NotFound(f"proposal {proposal_id!r}")
    refusal = deposit_refusal(subject)
    if refusal:
        raise InvoicingError(refusal)
    if not allow_another:
        existing = existing_deposit(workspace_id, subject.id, uow=uow)
        if existing is not None:
            label = existing.number or f"draft #{existing.id}"
            raise InvoicingError(f"A deposit invoice ({label}) already exists for this proposal.")
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

