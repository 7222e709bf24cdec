"""The plugin's tables, all prefixed ``invoicing_``.

The models use their own declarative base and ``MetaData`` so the plugin never
touches host tables, yet they live in the host's database and are queried through
the host's Flask-SQLAlchemy session (``db.session``). Alembic migrations in
``invoicing_plugin/migrations`` describe exactly this metadata (a test checks it).

Money columns are integers in Stripe's minor units (``*_minor``); there are no
float columns. Workspace and client ids are strings so hosts with integer or UUID
keys work alike.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.types import TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import JSON

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_token() -> str:
    """An unguessable URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def new_nonce() -> str:
    """A random id (128 bits, 32 hex characters) that makes a row's idempotency keys unique.

    Stripe keeps idempotency keys per account for at least 24 hours
    (https://docs.stripe.com/api/idempotent_requests); database ids alone repeat across
    installations sharing a platform key, and after a database reset.
    """
    return secrets.token_hex(16)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on every backend.

    SQLite has no time zones: values are stored as UTC and come back as aware UTC
    datetimes. (A plain ``DateTime`` subclass is not enough: SQLite's dialect swaps
    it for its own type, so its result processor never ran.)
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if isinstance(value, datetime):
            value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if isinstance(value, datetime):
            value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return value


class DecimalText(TypeDecorator):
    """An exact :class:`~decimal.Decimal` stored as text in canonical form (revision 0011).

    Quantities (BT-129) and VAT rates (BT-119/BT-152) must come back exactly as saved on
    every backend. SQLAlchemy's ``Numeric`` is exact on PostgreSQL but SQLite keeps it as
    a float (and SQLAlchemy warns, which the test suite turns into an error), so the value
    is kept as the plain decimal text instead: no exponent, no trailing zeros ("1.5",
    "20", "0.25"), at most ``length`` characters. Binding a ``float`` (or anything but a
    finite ``Decimal``) raises ``TypeError``/``ValueError``: floats never reach a column.
    Equality in SQL works on the canonical text; ordering does not (none is needed).
    """

    impl = String(32)
    cache_ok = True

    @staticmethod
    def canonical(value: Decimal) -> str:
        if not isinstance(value, Decimal):
            raise TypeError(f"expected a Decimal, not {type(value).__name__}")
        if not value.is_finite():
            raise ValueError(f"not a finite decimal: {value}")
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text

    def process_bind_param(self, value, dialect):
        return None if value is None else self.canonical(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a decimal in the database: {value!r}") from None


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {datetime: UTCDateTime(), int: Integer, str: String(255), dict: JSON, date: Date}


class StripeConnection(Base):
    """How one workspace takes payments: a Connect Express account or its own secret key.

    One row per workspace (unique), so two admins connecting at once cannot both
    create an account. Disconnecting keeps the row (with who and when) but clears
    the link; reconnecting bumps ``attempt`` so the idempotency key changes.
    ``idempotency_nonce`` (random, fixed for the row, revision 0006) makes the key unique
    to this installation: ``invoicing-connect-<workspace>-<nonce>-<attempt>``.
    """

    __tablename__ = "invoicing_stripe_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), unique=True)
    mode: Mapped[str] = mapped_column(String(16), default="connect")  # connect | own_key
    status: Mapped[str] = mapped_column(String(24), default="not_connected")
    account_id: Mapped[str | None] = mapped_column(String(64), index=True)
    attempt: Mapped[int] = mapped_column(default=0)
    idempotency_nonce: Mapped[str] = mapped_column(String(32), default=new_nonce)
    charges_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    payouts_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    details_submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    requirements: Mapped[dict | None] = mapped_column(JSON)
    disabled_reason: Mapped[str | None] = mapped_column(String(128))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    secret_key_encrypted: Mapped[str | None] = mapped_column(Text)
    secret_key_hint: Mapped[str | None] = mapped_column(String(32))  # e.g. "sk_test_…a1b2"
    webhook_endpoint_id: Mapped[str | None] = mapped_column(String(64))
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    connected_by: Mapped[str | None] = mapped_column(String(255))
    connected_at: Mapped[datetime | None]
    disconnected_by: Mapped[str | None] = mapped_column(String(255))
    disconnected_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InvoiceSequence(Base):
    """Next invoice number per workspace; the row is locked while a number is taken."""

    __tablename__ = "invoicing_sequences"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_value: Mapped[int] = mapped_column(default=1)


class CreditNoteSequence(Base):
    """Next credit note number per workspace (revision 0014): its own gap-free sequence,
    locked while a number is taken exactly as :class:`InvoiceSequence` is."""

    __tablename__ = "invoicing_credit_note_sequences"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_value: Mapped[int] = mapped_column(default=1)


class InvoiceTemplate(Base):
    """A workspace-defined preset for new invoices."""

    __tablename__ = "invoicing_templates"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    due_in_days: Mapped[int | None]
    send_method: Mapped[str] = mapped_column(String(16), default="email")
    # The lines a draft from this template starts with (revision 0011): a list of dicts of
    # typed text, the shape of ``DraftInput.lines`` (description, quantity, unit,
    # unit_price, discount, tax_rate or tax_rate_id); ``None``: the template's amount only.
    lines: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _amount_default(context) -> int:
    """An invoice inserted without its totals (no lines: one line without VAT) has net = amount."""
    return context.get_current_parameters()["amount_minor"]


class Invoice(Base):
    __tablename__ = "invoicing_invoices"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number"),
        # Staff list: newest first within a workspace, optionally by status.
        Index("ix_invoicing_invoices_ws_created", "workspace_id", "created_at", "id"),
        Index("ix_invoicing_invoices_ws_status_created", "workspace_id", "status", "created_at", "id"),
        Index("ix_invoicing_invoices_ws_client", "workspace_id", "client_id"),
        # Staff list sorted by amount or due date, walked by keyset cursor (revision 0002).
        Index("ix_invoicing_invoices_ws_amount", "workspace_id", "amount_minor", "id"),
        Index("ix_invoicing_invoices_ws_status_amount", "workspace_id", "status", "amount_minor", "id"),
        Index("ix_invoicing_invoices_ws_due", "workspace_id", "due_date", "id"),
        Index("ix_invoicing_invoices_ws_status_due", "workspace_id", "status", "due_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # active_history on the columns the revenue totals depend on: changing one loads the old
    # value first, so the totals can take the old contribution away (persistence/totals.py).
    workspace_id: Mapped[str] = mapped_column(String(64), active_history=True)
    number: Mapped[str | None] = mapped_column(String(40))
    public_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    kind: Mapped[str] = mapped_column(String(16), default="standard")  # standard | deposit
    status: Mapped[str] = mapped_column(String(24), default="draft", active_history=True)

    client_id: Mapped[str] = mapped_column(String(64))
    client_name: Mapped[str] = mapped_column(String(255))
    client_email: Mapped[str] = mapped_column(String(320))
    subject_ref: Mapped[str | None] = mapped_column(String(140), index=True)  # "proposal:42"
    subject_title: Mapped[str | None] = mapped_column(String(255))

    # The parties and dates of a legal invoice (revision 0013; EN 16931 terms in brackets).
    # Buyer (BG-7): copied from the host's client when the draft is created, editable on the
    # draft, frozen at send. Invoices from before 0013 have only buyer_name (= client_name).
    buyer_name: Mapped[str | None] = mapped_column(String(255))  # BT-44, the legal name
    buyer_address_line1: Mapped[str | None] = mapped_column(String(200))  # BT-50
    buyer_address_line2: Mapped[str | None] = mapped_column(String(200))  # BT-51
    buyer_city: Mapped[str | None] = mapped_column(String(100))  # BT-52
    buyer_post_code: Mapped[str | None] = mapped_column(String(32))  # BT-53
    buyer_country: Mapped[str | None] = mapped_column(String(2))  # BT-55, ISO 3166-1 alpha-2
    buyer_vat_id: Mapped[str | None] = mapped_column(String(32))  # BT-48, compact with prefix
    buyer_registration_id: Mapped[str | None] = mapped_column(String(64))  # BT-47
    # The seller (BG-4) as it was when the invoice was sent: HostSellerDetails' fields as a
    # JSON object, None for drafts (they print the live details) and for invoices sent
    # before 0013 (they print the live details, as they always did).
    seller_snapshot: Mapped[dict | None] = mapped_column(JSON)
    issue_date: Mapped[date | None] = mapped_column(Date)  # BT-2: the send day in the workspace's zone
    supply_date: Mapped[date | None] = mapped_column(Date)  # BT-72
    supply_start: Mapped[date | None] = mapped_column(Date)  # BT-73
    supply_end: Mapped[date | None] = mapped_column(Date)  # BT-74
    payment_terms: Mapped[str | None] = mapped_column(Text)  # BT-20, free text

    # The total with VAT (EN 16931 BT-112); the amount a client is asked to pay.
    amount_minor: Mapped[int] = mapped_column(BigInteger, active_history=True)
    # Total without VAT (BT-109) and total VAT (BT-110), computed from the lines by
    # domain/en16931.py (revision 0011): amount_minor == net_minor + tax_minor.
    net_minor: Mapped[int] = mapped_column(BigInteger, default=_amount_default)
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # Whether the lines' unit prices and discounts were typed with VAT included (the
    # workspace's setting when the draft was saved); the line nets are always without VAT.
    prices_include_tax: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # The document discount (EN 16931 BT-107, without VAT; revision 0015): taken off the lines'
    # net before VAT, shared among the VAT rates pro rata (services/lines.py, domain/discounts.py).
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    currency: Mapped[str] = mapped_column(String(3), active_history=True)
    description: Mapped[str] = mapped_column(Text)
    due_date: Mapped[date | None] = mapped_column(active_history=True)
    send_method: Mapped[str] = mapped_column(String(16), default="email")  # stripe_link | email | manual

    # Whether the pay link lets the client pay part of the balance, and the least part
    # (minor units) it accepts (revision 0016; services/paylink.py, domain/partial_pay.py).
    allow_partial: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    partial_minimum_minor: Mapped[int | None] = mapped_column(BigInteger)

    # Fee locked when sent (a later plan change does not alter sent invoices).
    fee_bps: Mapped[int | None]
    application_fee_minor: Mapped[int | None] = mapped_column(BigInteger, active_history=True)

    # Stripe: which account the charge lands on, the current Checkout Session and what was paid.
    stripe_mode: Mapped[str | None] = mapped_column(String(16))  # connect | own_key
    stripe_account_id: Mapped[str | None] = mapped_column(String(64))
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), index=True)
    checkout_url: Mapped[str | None] = mapped_column(Text)
    checkout_expires_at: Mapped[datetime | None]
    checkout_attempt: Mapped[int] = mapped_column(default=0)
    # Random, fixed for the invoice (revision 0006): with the attempt, the Checkout Session's
    # idempotency key, unique to this installation (services/idempotency.py).
    idempotency_nonce: Mapped[str] = mapped_column(String(32), default=new_nonce)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    amount_paid_minor: Mapped[int | None] = mapped_column(BigInteger, active_history=True)
    amount_refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0, active_history=True)
    # Taken back by the client's bank: a dispute closed as lost (revision 0008). Not revenue.
    amount_dispute_lost_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0",
                                                           active_history=True)
    # The sum of the invoice's credit notes (revision 0014), kept with each one in its
    # transaction: the amount due is the total less payments less this (domain/balance.py).
    amount_credited_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0",
                                                       active_history=True)
    # Paid deposits deducted from this invoice (revision 0017): the sum of its
    # invoicing_prepayments rows, part of EN 16931's paid amount BT-113 (domain/balance.py).
    prepaid_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", active_history=True)
    # The platform fees taken from the invoice's Stripe payments (revision 0019): the sum of
    # its invoicing_payments rows' application_fee_minor, kept with each row in its transaction
    # (services/payment_rows.py). What the analytics count and a part's fee is bounded by:
    # the parts' fees never add up to more than application_fee_minor (domain/fees.fee_of_part).
    fees_taken_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", active_history=True)
    stripe_fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    # stripe | bank_transfer | cash | ...; counted by the revenue totals (no platform fee outside Stripe).
    payment_method: Mapped[str | None] = mapped_column(String(32), active_history=True)
    payment_note: Mapped[str | None] = mapped_column(Text)
    # Something staff must look at: amount mismatch, dispute, paid after void (refund it) ...
    attention: Mapped[str | None] = mapped_column(String(64))
    attention_detail: Mapped[str | None] = mapped_column(Text)
    online_payment_unavailable: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmation_sent_at: Mapped[datetime | None]

    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, active_history=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None] = mapped_column(active_history=True)
    voided_at: Mapped[datetime | None]
    # The first time the client opened the pay link or the portal page of the invoice
    # (revision 0020; set once, by a conditional UPDATE: services/viewed.py).
    viewed_at: Mapped[datetime | None]

    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    events: Mapped[list["InvoiceEvent"]] = relationship(
        back_populates="invoice", order_by="InvoiceEvent.id", cascade="all, delete-orphan", lazy="select"
    )
    lines: Mapped[list["InvoiceLine"]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan", lazy="select"
    )
    prepayments: Mapped[list["Prepayment"]] = relationship(
        foreign_keys="Prepayment.invoice_id", order_by="Prepayment.id", cascade="all, delete-orphan",
        lazy="select",
    )


class InvoiceLine(Base):
    """One line of an invoice (EN 16931 BG-25), revision 0011.

    ``quantity`` BT-129 (exact :class:`~decimal.Decimal`), ``unit`` BT-130 (free text),
    ``unit_price_minor`` the unit price in minor units of the invoice's currency (BT-146 when
    the invoice's prices are net; the VAT-inclusive price typed when
    ``Invoice.prices_include_tax``), ``discount_minor`` the line allowance (BT-136, same
    basis), ``vat_category`` BT-151 (S, Z, E, AE, O), ``vat_rate`` BT-152 (percent,
    Decimal), ``exemption_reason`` BT-120, ``tax_rate_id`` the workspace rate it came from
    (informational: archiving the rate does not change the line), and ``net_minor`` BT-131
    as computed when the line was saved. Lines belong to the invoice and go with it.
    """

    __tablename__ = "invoicing_invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoicing_invoices.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(DecimalText())
    unit: Mapped[str] = mapped_column(String(32), default="")
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    vat_category: Mapped[str] = mapped_column(String(2))
    vat_rate: Mapped[Decimal] = mapped_column(DecimalText())
    exemption_reason: Mapped[str | None] = mapped_column(Text)
    tax_rate_id: Mapped[int | None] = mapped_column(Integer)
    net_minor: Mapped[int] = mapped_column(BigInteger)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class TaxRate(Base):
    """A workspace's VAT rate for its invoice lines (revision 0011), kept by billing staff.

    ``rate`` a percent (exact Decimal: 20, 5.5), ``category`` an EN 16931 VAT category
    code (S standard, Z zero, E exempt, AE reverse charge), ``note`` the exemption reason or
    reverse-charge legal note printed in the VAT breakdown (BT-120; required for E and AE).
    At most one rate per workspace is the default (``is_default``; enforced by the
    service). Archived rates stay for the lines that used them but are not offered again.
    """

    __tablename__ = "invoicing_tax_rates"
    __table_args__ = (Index("ix_invoicing_tax_rates_ws", "workspace_id", "archived", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    rate: Mapped[Decimal] = mapped_column(DecimalText())
    category: Mapped[str] = mapped_column(String(2))
    note: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CheckoutSessionRecord(Base):
    """Every Checkout Session the plugin created, and for which invoice (revision 0005).

    Written in the same transaction as the invoice change that created the session (send,
    pay-link renewal), and never deleted while the invoice exists: a payment on an *older*
    session of an invoice (after a renewal, a re-send or a void) is still bound to it.
    Stripe news changes an invoice only through a row here -- the session id, or the
    session's PaymentIntent -- never through metadata alone. ``payment_intent_id`` is
    noted the first time a charge or dispute names an intent we do not know yet: Stripe
    is asked which Checkout Session created it (revision 0005 filled it for existing
    invoices).

    ``stripe_mode`` / ``account_id`` are where the money goes: ``connect`` with the
    workspace's connected account as the destination charge's
    ``transfer_data.destination``, or ``own_key`` with the workspace's own account.
    """

    __tablename__ = "invoicing_checkout_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(String(255), unique=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoicing_invoices.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    stripe_mode: Mapped[str] = mapped_column(String(16))  # connect | own_key
    account_id: Mapped[str | None] = mapped_column(String(64))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # What the session asks the client to pay (minor units, the invoice's currency; revision
    # 0012): the invoice's balance when it was created. A payment is accepted only for this
    # amount. Sessions older than 0012 were all for the invoice's total (filled from it).
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


#: How a payment was received: through Stripe Checkout, or recorded by hand
#: (services.common.MANUAL_PAYMENT_METHODS).
PAYMENT_METHODS = ("stripe", "bank_transfer", "cash", "cheque", "other")


class Payment(Base):
    """One payment received on an invoice (revision 0012): through Stripe, or recorded by hand.

    ``Invoice.amount_paid_minor`` is the sum of an invoice's rows here, updated in the same
    transaction as each row is written (:mod:`invoicing_plugin.services.payment_rows`). A
    Stripe payment is one row per PaymentIntent (``payment_intent_id`` is unique): a replayed
    or second event for the same intent finds the row and adds nothing. ``received_at`` is
    when the money came (Stripe: when the plugin learnt the payment succeeded; by hand: the
    day staff entered, at noon in the workspace's zone unless it is today). Fees are for Stripe
    payments only (``stripe_fee_minor`` is Stripe's processing fee when known,
    ``application_fee_minor`` the platform's share taken from this payment). Amounts are
    minor units of ``currency`` (the invoice's). Rows are never updated nor deleted while the
    invoice exists: a refund is recorded on the invoice, not by removing its payment.
    """

    __tablename__ = "invoicing_payments"
    __table_args__ = (
        Index("ix_invoicing_payments_ws_received", "workspace_id", "received_at"),
        # One row per PaymentIntent; manual payments have none (NULLs never conflict).
        UniqueConstraint("payment_intent_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoicing_invoices.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(32))  # PAYMENT_METHODS
    received_at: Mapped[datetime]
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    checkout_session_id: Mapped[str | None] = mapped_column(String(255))
    stripe_fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    application_fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Prepayment(Base):
    """Earlier money deducted from a later invoice (revision 0017; EN 16931 BT-113): a paid
    deposit invoice (``deposit_invoice_id``) or the client's credit kept from a credit note
    (``credit_note_id``, revision 0018); exactly one of the two is set.

    A deposit or a credit is deducted once at a time: ``holds_deposit_id`` /
    ``holds_credit_note_id`` repeat the id while the row holds it and are unique (the
    database says so, also when two requests deduct it at the same moment); they become
    NULL (and ``released_at`` is set) when the invoice that deducted it is voided or
    credited in full, which frees the deposit or credit for a later invoice while the row
    stays as the record of what the cancelled invoice showed (revision 0018). The row goes
    with the invoice it is deducted from (deleting that draft frees the deposit).
    ``amount_minor`` is what is deducted (a deposit: paid less refunds and lost disputes;
    a credit: the credit note's amount), in ``currency`` (the invoice's); ``reference`` the
    deposit's or credit note's number, ``paid_on`` the day it was paid (a credit: the day
    the credit note was made) in the workspace's zone.
    """

    __tablename__ = "invoicing_prepayments"
    __table_args__ = (UniqueConstraint("holds_deposit_id"), UniqueConstraint("holds_credit_note_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoicing_invoices.id", ondelete="CASCADE"), index=True)
    deposit_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoicing_invoices.id", ondelete="RESTRICT"))
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("invoicing_credit_notes.id", ondelete="RESTRICT"))
    holds_deposit_id: Mapped[int | None] = mapped_column(Integer)
    holds_credit_note_id: Mapped[int | None] = mapped_column(Integer)
    released_at: Mapped[datetime | None]
    workspace_id: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(40))
    paid_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def kind(self) -> str:
        """``"deposit"`` or ``"credit"`` (the client's credit from a credit note)."""
        return "credit" if self.credit_note_id is not None else "deposit"


class InvoiceEvent(Base):
    """Audit trail: who did what to an invoice, when, and with what result."""

    __tablename__ = "invoicing_invoice_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoicing_invoices.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))  # "user:7 Ada Lovelace", "stripe", "system"
    action: Mapped[str] = mapped_column(String(48))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    result: Mapped[str] = mapped_column(String(16), default="ok")  # ok | failed
    detail: Mapped[str | None] = mapped_column(Text)

    invoice: Mapped[Invoice] = relationship(back_populates="events")


class InvoiceTotal(Base):
    """Revenue analytics, kept up to date: per workspace, measure, day, status and currency,
    how many invoices and what amount (see :mod:`invoicing_plugin.domain.totals`).

    Written only by :mod:`invoicing_plugin.persistence.totals`, in the same transaction
    as the invoice changes it reflects; ``flask invoicing totals --rebuild`` recomputes
    it from the invoices (after a bulk load that bypassed the ORM).
    """

    __tablename__ = "invoicing_invoice_totals"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    measure: Mapped[str] = mapped_column(String(16), primary_key=True)  # paid | created | open
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(24), primary_key=True, default="")
    currency: Mapped[str] = mapped_column(String(3), primary_key=True, default="")
    invoices: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class WebhookEvent(Base):
    """Every verified Stripe event, recorded once (unique ``event_id``).

    The row and the event's effect commit in one transaction, so a duplicate
    delivery finds the row and changes nothing. ``payload`` is kept so staff can
    replay an event whose handler failed.
    """

    __tablename__ = "invoicing_webhook_events"
    __table_args__ = (Index("ix_invoicing_webhook_events_ws_received", "workspace_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(96))
    account_id: Mapped[str | None] = mapped_column(String(64))
    workspace_id: Mapped[str | None] = mapped_column(String(64))
    invoice_id: Mapped[int | None] = mapped_column(Integer, index=True)
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="processed")  # processed | ignored | failed
    error: Mapped[str | None] = mapped_column(Text)
    # What handling found out, e.g. why an event was ignored (revision 0005).
    note: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=1)
    payload: Mapped[dict] = mapped_column(JSON)
    stripe_created: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


class WebhookRefusal(Base):
    """Deliveries the webhook endpoint refused (400/413), counted -- never their bodies.

    One row per day, endpoint kind (``account`` / ``connect``: which secrets the delivery
    was checked against), reason and scope (``""``: the platform's endpoints; otherwise
    the own-key workspace whose secret verified it), so a flood of forged requests adds
    to a count instead of adding rows. ``signed`` is true when a configured secret
    verified the signature (a signed but unusable event, e.g. a shape Stripe does not
    send); only then are the last event's id and type kept. A refusal of a body whose
    signature did not verify keeps nothing of the body (revision 0007).
    """

    __tablename__ = "invoicing_webhook_refusals"
    __table_args__ = (UniqueConstraint("day", "endpoint", "reason", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    endpoint: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(64), default="")
    signed: Mapped[bool] = mapped_column(Boolean, default=False)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status: Mapped[int] = mapped_column(Integer, default=400)
    last_message: Mapped[str | None] = mapped_column(Text)
    last_event_id: Mapped[str | None] = mapped_column(String(255))
    last_event_type: Mapped[str | None] = mapped_column(String(96))


class ClientPortalAccess(Base):
    """The unguessable per-client portal link."""

    __tablename__ = "invoicing_client_portals"
    __table_args__ = (UniqueConstraint("workspace_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]



class OutboxEmail(Base):
    """An email the plugin owes someone: rendered when the change that causes it is made,
    delivered after that change commits (revision 0009).

    Written in the same transaction as the change (an invoice sent by email, a payment
    recorded): a transaction that rolls back leaves no row, so nothing is sent for a
    change that did not happen; a row that exists is delivered, however the SMTP server
    behaves meanwhile (see :mod:`invoicing_plugin.services.outbox`). Subject, bodies and
    recipient are stored as they were rendered, so delivering needs no request, template
    or host call.

    ``status``: ``pending`` (to deliver at ``next_attempt_at``), ``sent`` (``sent_at``,
    ``message_id``) or ``failed`` (gave up after ``INVOICING_MAIL_MAX_ATTEMPTS``;
    ``last_error`` says why). ``claimed_until`` is a deliverer's lease on the row (several
    deliverers may run at once); ``claim_token`` says whose.
    """

    __tablename__ = "invoicing_outbox_emails"
    __table_args__ = (
        Index("ix_invoicing_outbox_emails_due", "status", "next_attempt_at", "id"),
        Index("ix_invoicing_outbox_emails_ws_created", "workspace_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    invoice_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(32))  # invoice | payment_confirmation
    to_address: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str | None] = mapped_column(String(255))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SellerProfile(Base):
    """The workspace's seller details for its invoices (revision 0010), one row per workspace.

    EN 16931's *Seller* (BG-4): ``legal_name`` (BT-27), ``trading_name`` (BT-28), the
    postal address (BG-5: ``address_line1``/``address_line2`` BT-35/36, ``city`` BT-37,
    ``post_code`` BT-38, ``country`` BT-40, an ISO 3166-1 alpha-2 code), ``vat_id`` (BT-31,
    stored compact with its country prefix, e.g. ``GB980780684``), ``registration_id``
    (BT-30) and the contact (BG-6: ``contact_name``, ``contact_phone``, ``contact_email``);
    plus ``payment_terms_days`` (default days until an invoice is due) and ``footer`` (a
    note printed at the foot of every invoice). Written only by the "Invoice settings" page
    (:mod:`invoicing_plugin.services.seller`), which validates every field first.
    """

    __tablename__ = "invoicing_seller_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    trading_name: Mapped[str | None] = mapped_column(String(200))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    post_code: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(2))
    vat_id: Mapped[str | None] = mapped_column(String(32))
    registration_id: Mapped[str | None] = mapped_column(String(64))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(64))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    payment_terms_days: Mapped[int | None] = mapped_column(Integer)
    footer: Mapped[str | None] = mapped_column(Text)
    # Whether staff type line prices with VAT included (revision 0011; set on the Tax rates page).
    prices_include_tax: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    updated_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CreditNote(Base):
    """A credit note correcting a sent invoice (revision 0014).

    ``number`` comes from the workspace's own gap-free sequence (:class:`CreditNoteSequence`,
    ``INVOICING_CREDIT_NOTE_PREFIX``, ``CN-0001``), taken in the transaction that saves the
    note. ``amount_minor`` is what is credited, tax included, in ``currency`` (always the
    invoice's). ``settlement``: ``reduces_due`` (made before payment: the invoice's amount due
    is lower), ``refund`` (after payment: the money goes back through Stripe, ``refund_id``)
    or ``client_credit`` (after payment: kept as the client's credit, ``client_id``).
    ``public_token`` opens the printable document. Never edited or deleted once saved.
    """

    __tablename__ = "invoicing_credit_notes"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number"),
        Index("ix_invoicing_credit_notes_ws_invoice", "workspace_id", "invoice_id", "id"),
        Index("ix_invoicing_credit_notes_ws_client", "workspace_id", "client_id", "settlement"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(40))
    public_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoicing_invoices.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    settlement: Mapped[str] = mapped_column(String(16))  # reduces_due | refund | client_credit
    refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A note for chosen invoice lines (revision 0018): its total without VAT and its VAT
    # (amount_minor == net_minor + tax_minor) and its VAT breakdown, a list of
    # {"category", "rate", "taxable_minor", "tax_minor", "exemption_reason"} (rate as text).
    # NULL for a note for an amount.
    net_minor: Mapped[int | None] = mapped_column(BigInteger)
    tax_minor: Mapped[int | None] = mapped_column(BigInteger)
    vat_breakdown: Mapped[list | None] = mapped_column(JSON)

    invoice: Mapped[Invoice] = relationship()
    lines: Mapped[list["CreditNoteLine"]] = relationship(
        order_by="CreditNoteLine.position", cascade="all, delete-orphan", lazy="select")


class CreditNoteLine(Base):
    """One credited invoice line of a credit note (revision 0018; EN 16931 BG-25 of a 381).

    ``invoice_line_id`` the line credited, ``quantity`` how much of it (Decimal, at most what
    earlier notes left), the line's ``description``, ``unit``, ``unit_price_minor``, VAT
    category and rate copied from it, and ``net_minor`` the credited net (BT-131): the
    line's net pro rata to the quantity, rounded half up, such that the notes of a whole
    line add up to its net exactly (services/credit_lines.py).
    """

    __tablename__ = "invoicing_credit_note_lines"
    __table_args__ = (UniqueConstraint("credit_note_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("invoicing_credit_notes.id", ondelete="CASCADE"),
                                                index=True)
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoicing_invoice_lines.id", ondelete="CASCADE"),
                                                 index=True)
    workspace_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(DecimalText())
    unit: Mapped[str] = mapped_column(String(32), default="")
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    vat_category: Mapped[str] = mapped_column(String(2))
    vat_rate: Mapped[Decimal] = mapped_column(DecimalText())
    exemption_reason: Mapped[str | None] = mapped_column(Text)
    net_minor: Mapped[int] = mapped_column(BigInteger)


class ReminderSchedule(Base):
    """A workspace's payment reminder schedule (revision 0020), one row per workspace.

    ``offsets``: the steps, days relative to the due date, as canonical text -- ascending,
    comma-separated, no duplicates (``"-3,0,7,14"``: 3 days before, on the day, 7 and 14
    days after; :mod:`invoicing_plugin.domain.reminders`). ``enabled`` False (or no row):
    no reminders, the default. Written only by the Reminders settings page.
    """

    __tablename__ = "invoicing_reminder_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    offsets: Mapped[str] = mapped_column(String(200), default="")
    updated_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InvoiceReminder(Base):
    """One reminder step sent for an invoice (revision 0020): the claim that it was sent.

    Unique ``(invoice_id, step)``: the row is inserted in the transaction that queues the
    reminder email in the outbox, so of two ``send-reminders`` runs at once only one can
    commit a step (the other's insert violates the constraint and rolls its email back).
    ``step`` is the schedule's offset in days; ``due_on`` the workspace's day it fell due.
    """

    __tablename__ = "invoicing_invoice_reminders"
    __table_args__ = (UniqueConstraint("invoice_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoicing_invoices.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = mapped_column(String(64))
    step: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
