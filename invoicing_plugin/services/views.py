"""Read models: plain, immutable snapshots of invoices for signals and host code.

A snapshot is taken inside the transaction and stays valid after the session
closes, so signal receivers (run after commit) and host code can keep it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ..domain.balance import of_invoice
from ..domain.fees import fees_of_invoice
from ..persistence.models import Invoice
from .payment_rows import PaymentView, payments_of
from .lines import allowances_of


@dataclass(frozen=True)
class InvoiceLineSnapshot:
    """One invoice line (EN 16931 BG-25) as saved. Amounts are integer minor units of the
    invoice's currency; ``quantity`` and ``vat_rate`` (a percent) are exact ``Decimal``.

    ``unit_price_minor`` and ``discount_minor`` are as typed: VAT inclusive when the
    invoice's ``prices_include_tax``; ``net_minor`` (BT-131) is always without VAT.
    ``vat_category`` is the EN 16931 code: ``S``, ``Z``, ``E``, ``AE`` or ``O`` (not subject
    to VAT: an amount-only draft).
    """

    position: int
    description: str
    quantity: Decimal
    unit: str
    unit_price_minor: int
    discount_minor: int
    vat_category: str
    vat_rate: Decimal
    exemption_reason: str | None
    tax_rate_id: int | None
    net_minor: int


@dataclass(frozen=True)
class DiscountSnapshot:
    """The document discount's share at one VAT category and rate (EN 16931 BG-20: amount
    BT-92 in minor units, without VAT; category BT-95; rate BT-96 as a percent)."""

    vat_category: str
    vat_rate: Decimal
    amount_minor: int


@dataclass(frozen=True)
class InvoiceSnapshot:
    """One invoice as it was in the transaction. Amounts are integer minor units.

    ``application_fee_minor`` is the platform fee the invoice carries: the one locked when
    it was sent (``None`` before, 0 for an own-key workspace) until money is received, then
    the fees actually taken from its Stripe payments (the sum of its payment rows' fees: 0
    when all was paid outside Stripe, a part's share when part was paid through Stripe;
    :func:`~invoicing_plugin.domain.fees.fees_of_invoice`).

    The balance (issue 15; :mod:`invoicing_plugin.domain.balance`): ``paid_minor`` is the
    money received and kept (payments less refunds and lost disputes, EN 16931 BT-113),
    ``due_minor`` what is still to pay (BT-115: ``amount_minor - paid_minor`` less credit
    notes), negative for an overpayment kept as the client's credit. ``payments`` lists the
    payments received (:class:`~.payment_rows.PaymentView`, oldest first) when the snapshot
    was taken of an invoice read through the ORM (``api.get_invoice``, what ``mark_paid``
    returns, every signal); a snapshot taken of the webhook's hot-path row carries the
    amounts but an empty ``payments``. The ``invoice_paid`` signal of a Stripe payment
    recorded on the webhook's hot path is sent with the invoice read again once the
    payment is committed (:func:`committed_snapshot`), so it carries lines and payments
    as every other signal does.
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
    lines: tuple[InvoiceLineSnapshot, ...] = ()
    """The invoice's lines in order. Empty for an invoice row inserted without any, and in
    a snapshot taken of the webhook's Core hot-path row (it reads the invoice row alone, no
    lines; the signals it sends are read again through the ORM, :func:`committed_snapshot`)."""
    net_minor: int | None = None
    """Total without VAT (EN 16931 BT-109)."""
    tax_minor: int | None = None
    """Total VAT (BT-110)."""
    prices_include_tax: bool = False
    discount_minor: int = 0
    """The document discount, without VAT (BT-107); 0 for none."""
    discounts: tuple[DiscountSnapshot, ...] = ()
    """``discount_minor`` per VAT category and rate (one allowance each, pro rata to the
    rates' line nets; empty when there is no discount or no lines in the snapshot)."""

    @property
    def total_minor(self) -> int:
        """Total with VAT (BT-112): the same as ``amount_minor``."""
        return self.amount_minor
    paid_minor: int = 0
    due_minor: int = 0
    payments: tuple[PaymentView, ...] = ()
    allow_partial: bool = False
    """Whether the pay link lets the client pay part of the balance (issue 15)."""
    partial_minimum_minor: int | None = None
    """The least part the pay link accepts (``None`` unless ``allow_partial``)."""
    #: The sum of the invoice's credit notes (0 when none); ``due_minor`` has it taken off.
    amount_credited_minor: int = 0
    prepaid_minor: int = 0
    """Paid deposits deducted from this invoice (part of EN 16931 BT-113); ``due_minor`` is
    ``amount_minor - prepaid_minor - paid_minor`` less credit notes."""
    prepayments: tuple["PrepaymentView", ...] = ()
    """The deposits deducted (oldest first), when read through the ORM (as ``payments``)."""

    @classmethod
    def of(cls, invoice: Invoice, *, credited_minor: int | None = None) -> "InvoiceSnapshot":
        balance = of_invoice(invoice, credited_minor=credited_minor)
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
            allow_partial=bool(getattr(invoice, "allow_partial", False)),
            partial_minimum_minor=getattr(invoice, "partial_minimum_minor", None),
            fee_bps=invoice.fee_bps,
            application_fee_minor=(None if invoice.application_fee_minor is None
                                   else fees_of_invoice(invoice.application_fee_minor, invoice.fees_taken_minor,
                                                        invoice.amount_paid_minor, invoice.payment_method)),
            amount_paid_minor=invoice.amount_paid_minor,
            payment_method=invoice.payment_method,
            public_token=invoice.public_token,
            created_at=invoice.created_at,
            sent_at=invoice.sent_at,
            paid_at=invoice.paid_at,
            voided_at=invoice.voided_at,
            lines=tuple(
                InvoiceLineSnapshot(
                    position=line.position, description=line.description, quantity=line.quantity, unit=line.unit,
                    unit_price_minor=line.unit_price_minor, discount_minor=line.discount_minor,
                    vat_category=line.vat_category, vat_rate=line.vat_rate, exemption_reason=line.exemption_reason,
                    tax_rate_id=line.tax_rate_id, net_minor=line.net_minor,
                )
                for line in getattr(invoice, "lines", ())
            ),
            net_minor=invoice.net_minor,
            tax_minor=invoice.tax_minor,
            prices_include_tax=bool(invoice.prices_include_tax),
            paid_minor=balance.paid_minor,
            due_minor=balance.due_minor,
            payments=_payments(invoice),
            discount_minor=int(getattr(invoice, "discount_minor", 0) or 0),
            discounts=tuple(DiscountSnapshot(a.vat.category.value, a.vat.rate, a.amount_minor)
                            for a in allowances_of(invoice)),
            amount_credited_minor=balance.credited_minor,
            prepaid_minor=balance.prepaid_minor,
            prepayments=_prepayments(invoice),
        )


@dataclass(frozen=True)
class PrepaymentView:
    """A paid deposit deducted from an invoice: the deposit invoice's id and number, the day
    it was paid, and the amount deducted (minor units of the invoice's currency)."""

    deposit_invoice_id: int | None
    reference: str
    paid_on: date | None
    amount_minor: int
    currency: str
    #: The credit note whose client credit this is (``None`` for a deposit).
    credit_note_id: int | None = None
    #: ``False`` once the invoice was voided or credited in full (the deposit or credit was freed).
    held: bool = True


def committed_snapshot(session, invoice_id: int) -> InvoiceSnapshot:
    """:meth:`InvoiceSnapshot.of` the invoice as committed, read through the ORM on ``session``
    (lines, payments and prepayments included, as ``api.get_invoice`` gives them). For a
    signal sent after a write made without the ORM (the webhook's hot path); the read's own
    transaction is closed again, so no read lock outlives it."""
    from sqlalchemy.orm import scoped_session

    session = session() if isinstance(session, scoped_session) else session
    began = not session.in_transaction()
    try:
        return InvoiceSnapshot.of(session.get(Invoice, invoice_id, populate_existing=True))
    finally:
        if began:
            session.rollback()


def _prepayments(invoice) -> tuple[PrepaymentView, ...]:
    if not isinstance(invoice, Invoice) or invoice.id is None or not getattr(invoice, "prepaid_minor", 0):
        return ()
    return tuple(PrepaymentView(row.deposit_invoice_id, row.reference, row.paid_on, row.amount_minor, row.currency,
                                row.credit_note_id, row.released_at is None)
                 for row in invoice.prepayments)


def _payments(invoice) -> tuple[PaymentView, ...]:
    """The invoice's payments when it is an ORM instance in a session (see the class docstring)."""
    if not isinstance(invoice, Invoice) or invoice.id is None or not invoice.amount_paid_minor:
        return ()  # nothing received: no query
    from sqlalchemy.orm import object_session

    session = object_session(invoice)
    return payments_of(session, invoice.workspace_id, invoice.id) if session is not None else ()
