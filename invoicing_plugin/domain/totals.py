"""What one invoice adds to the revenue analytics, as data.

The analytics page reads day-by-day totals kept up to date as invoices change,
instead of adding up every invoice on each view. This module says what an invoice
in a given state contributes to them; the persistence layer keeps the totals equal
to the sum of every invoice's contribution by applying, on each change, the
difference between the new contribution and the old (:func:`difference`).

Three measures, each summed per day -- the calendar day in the workspace's time zone
(``zone``; UTC when none is given; see :mod:`.calendar`):

* ``paid`` -- per currency, by the day of ``paid_at``: invoices whose status is
  ``paid``; the money received (``amount_paid_minor``, or the invoice amount when
  staff marked it paid by hand) minus refunds and minus what a lost dispute took back
  (``amount_dispute_lost_minor``), and the platform fee taken -- the fee locked at send,
  or 0 for an invoice paid outside Stripe (:func:`.fees.fee_taken_minor`). Fully refunded
  invoices (status ``refunded``) and payments after a void are not revenue.
* ``created`` -- per status, by the day of ``created_at``: how many invoices.
* ``open`` -- per status (``sent``, ``processing``, ``partially_paid``) and currency, by
  ``due_date`` (:data:`NO_DUE_DATE` when there is none): how many and the amount still to
  receive, ``amount_minor - amount_paid_minor - amount_credited_minor`` (the total until a
  part is paid or credited; a refund does not reopen what was received, see :mod:`.balance`).
  "Overdue" is the ``sent`` part with a day before today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo

from .calendar import local_day
from .fees import fee_taken_minor
from .statuses import AWAITING_MONEY, REVENUE

__all__ = ["NO_DUE_DATE", "Figures", "Key", "TotalsDelta", "contribution", "difference", "utc_day"]

NO_DUE_DATE = date(9999, 12, 31)
"""The ``open`` day of an invoice without a due date (never before today)."""

OPEN_STATUSES = AWAITING_MONEY  # from the status table (domain/statuses.py)


@dataclass(frozen=True, order=True)
class Key:
    """One row of the totals: ``(workspace_id, measure, day, status, currency)``.

    ``status`` is empty for ``paid``; ``currency`` is empty for ``created``.
    """

    workspace_id: str
    measure: str  # paid | created | open
    day: date
    status: str = ""
    currency: str = ""


@dataclass(frozen=True)
class Figures:
    """The fields of an invoice the totals depend on (any may be missing on a new row)."""

    workspace_id: str | None
    status: str | None
    currency: str | None
    amount_minor: int | None
    amount_paid_minor: int | None
    amount_refunded_minor: int | None
    application_fee_minor: int | None
    created_at: datetime | None
    paid_at: datetime | None
    due_date: date | None
    amount_dispute_lost_minor: int | None = 0
    #: ``stripe``, or how staff recorded a payment by hand (no platform fee then).
    payment_method: str | None = None
    #: The invoice's credit notes (revision 0014): an open invoice owes this much less.
    amount_credited_minor: int | None = 0

    #: Paid deposits deducted from the invoice (``Invoice.prepaid_minor``): not outstanding.
    prepaid_minor: int | None = 0

    FIELDS = ("workspace_id", "status", "currency", "amount_minor", "amount_paid_minor", "amount_refunded_minor",
              "application_fee_minor", "created_at", "paid_at", "due_date", "amount_dispute_lost_minor",
              "payment_method", "amount_credited_minor", "prepaid_minor")


#: ``(invoices, amount_minor, fee_minor)`` to add to a row.
TotalsDelta = tuple[int, int, int]


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of ``moment`` (a naive value is taken as UTC, as SQLite returns it)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.date()


def contribution(f: Figures, zone: tzinfo | None = None) -> dict[Key, TotalsDelta]:
    """What an invoice in state ``f`` adds to each row of the totals; ``created`` and ``paid``
    count on the day of ``created_at`` / ``paid_at`` in ``zone`` (the workspace's; default UTC)."""
    if not f.workspace_id or not f.status:
        return {}
    out: dict[Key, TotalsDelta] = {}
    if f.created_at is not None:
        out[Key(f.workspace_id, "created", local_day(f.created_at, zone), status=f.status)] = (1, 0, 0)
    if f.status in REVENUE and f.paid_at is not None and f.currency:
        received = f.amount_paid_minor if f.amount_paid_minor is not None else (f.amount_minor or 0)
        revenue = received - (f.amount_refunded_minor or 0) - (f.amount_dispute_lost_minor or 0)
        key = Key(f.workspace_id, "paid", local_day(f.paid_at, zone), currency=f.currency)
        out[key] = (1, revenue, fee_taken_minor(f.application_fee_minor, f.payment_method))
    if f.status in OPEN_STATUSES and f.currency:
        key = Key(f.workspace_id, "open", f.due_date or NO_DUE_DATE, status=f.status, currency=f.currency)
        out[key] = (1, (f.amount_minor or 0) - (f.amount_paid_minor or 0) - (f.amount_credited_minor or 0)
                    - (f.prepaid_minor or 0), 0)
    return out


def difference(before: Figures | None, after: Figures | None, zone: tzinfo | None = None) -> dict[Key, TotalsDelta]:
    """What to add to the totals when an invoice goes from ``before`` to ``after`` (days in ``zone``).

    ``None`` stands for "no invoice" (created, or deleted). Rows that do not change are
    left out, so an edit that touches nothing counted (a description) adds nothing.
    """
    delta: dict[Key, list[int]] = {}
    for sign, figures in ((-1, before), (1, after)):
        if figures is None:
            continue
        for key, values in contribution(figures, zone).items():
            row = delta.setdefault(key, [0, 0, 0])
            for i, value in enumerate(values):
                row[i] += sign * value
    return {key: (n, amount, fee) for key, (n, amount, fee) in delta.items() if n or amount or fee}

