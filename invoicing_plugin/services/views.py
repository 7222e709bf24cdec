"""Read models: plain, immutable snapshots of invoices for signals and host code.

A snapshot is taken inside the transaction and stays valid after the session
closes, so signal receivers (run after commit) and host code can keep it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ..domain.fees import fee_taken_minor
from ..persistence.models import Invoice


@dataclass(frozen=True)
class InvoiceSnapshot:
    """One invoice as it was in the transaction. Amounts are integer minor units.

    ``application_fee_minor`` is the platform fee the invoice carries: the one locked when
    it was sent (``None`` before, 0 for an own-key workspace), or 0 once it was paid outside
    Stripe (``payment_method`` other than ``"stripe"``: no application fee is taken there).
    """

    id: int
    workspace_id: str
    number: str | None
    kind: str
    status: str
    client_id: str
    client_name: str
    client_email: str
    subject_ref: str | None
    amount_minor: int
    currency: str
    description: str
    due_date: date | None
    send_method: str
    fee_bps: int | None
    application_fee_minor: int | None
    amount_paid_minor: int | None
    payment_method: str | None
    public_token: str
    created_at: datetime | None
    sent_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    #: The sum of the invoice's credit notes (0 when none).
    amount_credited_minor: int = 0

    @classmethod
    def of(cls, invoice: Invoice) -> "InvoiceSnapshot":
        return cls(
            id=invoice.id,
            workspace_id=invoice.workspace_id,
            number=invoice.number,
            kind=invoice.kind,
            status=invoice.status,
            client_id=invoice.client_id,
            client_name=invoice.client_name,
            client_email=invoice.client_email,
            subject_ref=invoice.subject_ref,
            amount_minor=invoice.amount_minor,
            currency=invoice.currency,
            description=invoice.description,
            due_date=invoice.due_date,
            send_method=invoice.send_method,
            fee_bps=invoice.fee_bps,
            application_fee_minor=(None if invoice.application_fee_minor is None
                                   else fee_taken_minor(invoice.application_fee_minor, invoice.payment_method)),
            amount_paid_minor=invoice.amount_paid_minor,
            payment_method=invoice.payment_method,
            public_token=invoice.public_token,
            created_at=invoice.created_at,
            sent_at=invoice.sent_at,
            paid_at=invoice.paid_at,
            voided_at=invoice.voided_at,
            amount_credited_minor=int(invoice.amount_credited_minor or 0),
        )
