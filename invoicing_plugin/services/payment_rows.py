"""The payments an invoice received: writing one, reading them back (issue 15).

Every payment -- a Stripe Checkout payment, or one staff record by hand -- is one row of
``invoicing_payments`` (:class:`~invoicing_plugin.persistence.models.Payment`), written by
:func:`record_payment` in the caller's transaction together with the change of the
invoice's cached sum ``Invoice.amount_paid_minor``: both commit or neither does.

In an ordinary transaction the row is inserted at once (so the transaction can read it
back: the snapshot a use case returns lists it). On the webhook's hot path on PostgreSQL,
where the event is written by one autocommit statement (:mod:`~invoicing_plugin.persistence.autocommit`),
the row is *queued* instead (:func:`invoicing_plugin.persistence.appends.append`) and
folded into that statement with the invoice's guarded ``UPDATE``: all or nothing. A Stripe payment is one row per
PaymentIntent: ``payment_intent_id`` is unique, so a second insert for the same intent
(two deliveries racing) fails the whole transaction and the event is retried, finding the
row (:func:`intent_recorded`) and changing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from ..domain.fees import fee_of_part
from ..domain.money import Money
from ..persistence import appends, autocommit, totals
from ..persistence.models import PAYMENT_METHODS, Payment

PAYMENTS = Payment.__table__


@dataclass(frozen=True)
class PaymentView:
    """One payment as pages, documents and snapshots show it. Amounts in minor units."""

    id: int
    amount_minor: int
    currency: str
    method: str
    received_at: datetime
    payment_intent_id: str | None
    checkout_session_id: str | None
    stripe_fee_minor: int | None
    application_fee_minor: int | None
    note: str | None
    recorded_by: str | None


def record_payment(session: Any, invoice: Any, *, amount_minor: int, method: str, received_at: datetime,
                   now: datetime, payment_intent_id: str | None = None, checkout_session_id: str | None = None,
                   stripe_fee_minor: int | None = None, application_fee_minor: int | None = None,
                   note: str | None = None, recorded_by: str | None = None) -> None:
    """Queue a payment row for ``invoice`` (an ``Invoice`` or a ``TrackedRow``), add it to
    ``invoice.amount_paid_minor`` and its platform fee to ``invoice.fees_taken_minor``, and
    count it in the analytics' kept totals on the day it was received (its amount and that
    fee, :func:`~invoicing_plugin.persistence.totals.queue_payment`); all are written by the
    caller's transaction on ``session``.

    ``amount_minor`` is a positive ``int`` in the invoice's currency; ``method`` one of
    :data:`~invoicing_plugin.persistence.models.PAYMENT_METHODS`. Validating what staff typed
    is the caller's job; these are programming errors (``ValueError``).
    """
    if type(amount_minor) is not int or amount_minor <= 0:
        raise ValueError(f"a payment's amount must be a positive int of minor units, not {amount_minor!r}")
    if method not in PAYMENT_METHODS:
        raise ValueError(f"unknown payment method {method!r}")
    row = {
        "invoice_id": invoice.id, "workspace_id": str(invoice.workspace_id), "amount_minor": amount_minor,
        "currency": invoice.currency, "method": method, "received_at": received_at,
        "payment_intent_id": payment_intent_id, "checkout_session_id": checkout_session_id,
        "stripe_fee_minor": stripe_fee_minor, "application_fee_minor": application_fee_minor,
        "note": note, "recorded_by": recorded_by, "created_at": now,
    }
    if autocommit.connection_of(session) is not None:
        appends.append(session, PAYMENTS, row)  # folded into the event's one statement
    else:
        session.execute(insert(PAYMENTS).values(row))
    invoice.amount_paid_minor = int(invoice.amount_paid_minor or 0) + amount_minor
    if application_fee_minor:
        invoice.fees_taken_minor = int(invoice.fees_taken_minor or 0) + int(application_fee_minor)
    totals.queue_payment(session, str(invoice.workspace_id), invoice.currency, received_at, amount_minor,
                         int(application_fee_minor or 0))


def part_fee(invoice: Any, amount_minor: int) -> int | None:
    """The platform fee a Stripe payment of ``amount_minor`` on ``invoice`` carries (minor
    units; ``None`` when the invoice has no locked fee): its share of the fee locked at send
    rounded on the running total of what was paid, never above the locked fee less the fees
    already taken (:func:`~invoicing_plugin.domain.fees.fee_of_part`). Reads only the invoice
    row (``amount_paid_minor``, ``fees_taken_minor``): no query, also on the webhook's hot path.
    The same rule when the Checkout Session is made and when its payment is recorded."""
    if invoice.application_fee_minor is None:
        return None
    return fee_of_part(Money(int(invoice.application_fee_minor), invoice.currency), amount_minor,
                       int(invoice.amount_minor), paid_before_minor=int(invoice.amount_paid_minor or 0),
                       taken_before_minor=int(invoice.fees_taken_minor or 0)).minor


def intent_recorded(session: Any, payment_intent_id: str) -> bool:
    """Whether a payment row for ``payment_intent_id`` exists (read where the current event
    reads: the webhook's autocommit connection, else ``session``)."""
    stmt = select(PAYMENTS.c.id).where(PAYMENTS.c.payment_intent_id == payment_intent_id).limit(1)
    return autocommit.reader(session).execute(stmt).first() is not None


def session_recorded(session: Any, checkout_session_id: str | None) -> bool:
    """Whether the payment of Checkout Session ``checkout_session_id`` is already a payment row.

    The one rule for "the client paid meanwhile": a session Stripe reports ``complete``
    counts as news only while its payment is *not* recorded. A recorded one paid a part
    (or the whole) earlier and is spent; staff actions (mark paid, void, credit note,
    disconnect) and the pay link go ahead past it (:func:`checkout_state`)."""
    if not checkout_session_id:
        return False
    stmt = select(PAYMENTS.c.id).where(PAYMENTS.c.checkout_session_id == checkout_session_id).limit(1)
    return autocommit.reader(session).execute(stmt).first() is not None


#: :func:`checkout_state`: the session is complete and its payment already a payment row.
SPENT = "spent"


def checkout_state(session: Any, checkout_session_id: str | None, stripe_status: str) -> str:
    """Stripe's status of the invoice's Checkout Session, as staff actions read it:
    ``complete`` only when the client paid through it and that payment is not recorded yet
    (:func:`session_recorded`); a complete session already recorded is :data:`SPENT`
    (nothing new: the action goes ahead); otherwise Stripe's status unchanged."""
    if stripe_status == "complete" and session_recorded(session, checkout_session_id):
        return SPENT
    return stripe_status


def intent_amount(session: Any, payment_intent_id: str | None) -> int | None:
    """What the Stripe payment ``payment_intent_id`` brought (its row's ``amount_minor``),
    ``None`` when no row holds it."""
    if not payment_intent_id:
        return None
    stmt = select(PAYMENTS.c.amount_minor).where(PAYMENTS.c.payment_intent_id == payment_intent_id).limit(1)
    return autocommit.reader(session).execute(stmt).scalar()


def latest_stripe_intent(session: Any, invoice_id: int) -> str | None:
    """The PaymentIntent of the invoice's latest Stripe payment (``None``: none)."""
    stmt = (select(PAYMENTS.c.payment_intent_id)
            .where(PAYMENTS.c.invoice_id == invoice_id, PAYMENTS.c.payment_intent_id.is_not(None))
            .order_by(PAYMENTS.c.id.desc()).limit(1))
    return autocommit.reader(session).execute(stmt).scalar()


def payments_of(session: Any, workspace_id: str, invoice_id: int) -> tuple[PaymentView, ...]:
    """The invoice's payments, oldest first (by when received, then as recorded)."""
    stmt = (select(PAYMENTS).where(PAYMENTS.c.workspace_id == str(workspace_id), PAYMENTS.c.invoice_id == invoice_id)
            .order_by(PAYMENTS.c.received_at, PAYMENTS.c.id))
    return tuple(
        PaymentView(id=row.id, amount_minor=row.amount_minor, currency=row.currency, method=row.method,
                    received_at=_aware(row.received_at), payment_intent_id=row.payment_intent_id,
                    checkout_session_id=row.checkout_session_id, stripe_fee_minor=row.stripe_fee_minor,
                    application_fee_minor=row.application_fee_minor, note=row.note, recorded_by=row.recorded_by)
        for row in session.execute(stmt)
    )


def _aware(moment: datetime) -> datetime:
    # UTCDateTime already returns aware values; kept for rows read by hand-built statements.
    from datetime import timezone

    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
