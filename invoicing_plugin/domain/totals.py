"""What one invoice adds to the revenue analytics, as data.

The analytics page reads day-by-day totals kept up to date as invoices change,
instead of adding up every invoice on each view. This module says what an invoice
in a given state contributes to them; the persistence layer keeps the totals equal
to the sum of every invoice's contribution by applying, on each change, the
difference between the new contribution and the old (:func:`difference`).

Three measures, each summed per day -- the calendar day in the workspace's time zone
(``zone``; UTC when none is given; see :mod:`.calendar`):

* ``paid`` -- per currency: money received, counted on the day each payment was received
  (issue 15: a part paid in March counts in March, the rest paid in April in April). Each
  payment row (``invoicing_payments``) adds its amount and the platform fee actually taken
  from it (``application_fee_minor``; none on a payment by hand) on its own day
  (:func:`payment_contribution`). The invoice adds, on the day of ``paid_at`` (its latest
  payment), one to the count of invoices when its status is revenue (``paid``,
  ``partially_paid``) and its corrections (:func:`contribution`): minus refunds and what a lost
  dispute took back, and, for an invoice whose money is not revenue (fully ``refunded``,
  paid after a void, ...), minus all its payments and fees, so such an invoice counts 0 in
  all. An invoice recorded paid before payment rows existed (``amount_paid_minor`` NULL)
  counts its amount there.
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
from .statuses import AWAITING_MONEY, REVENUE

__all__ = ["MONEY_KEPT", "NO_DUE_DATE", "Figures", "Key", "TotalsDelta", "contribution", "difference",
           "payment_contribution", "utc_day"]

NO_DUE_DATE = date(9999, 12, 31)
"""The ``open`` day of an invoice without a due date (never before today)."""

OPEN_STATUSES = AWAITING_MONEY  # from the status table (domain/statuses.py)

#: Statuses whose payments (less refunds and lost disputes) count as revenue: revenue ones, and
#: one awaiting money after a part was paid (a second part processing). Not: fully refunded,
#: paid after a void or a full credit note (refund due), voided, credited.
MONEY_KEPT: tuple[str, ...] = tuple(dict.fromkeys((*REVENUE, *AWAITING_MONEY)))


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
    #: The platform fees its payment rows carried (``Invoice.fees_taken_minor``, revision 0019).
    fees_taken_minor: int | None = 0

    FIELDS = ("workspace_id", "status", "currency", "amount_minor", "amount_paid_minor", "amount_refunded_minor",
              "application_fee_minor", "created_at", "paid_at", "due_date", "amount_dispute_lost_minor",
              "payment_method", "amount_credited_minor", "prepaid_minor", "fees_taken_minor")


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
    if f.paid_at is not None and f.currency:
        # The payment rows count themselves on their own days (payment_contribution): here the
        # invoice's count and what to take off them -- refunds and lost disputes, or all of it.
        rows_paid, rows_fees = f.amount_paid_minor or 0, f.fees_taken_minor or 0
        if f.status in MONEY_KEPT:
            received = f.amount_paid_minor if f.amount_paid_minor is not None else (f.amount_minor or 0)
            kept = received - (f.amount_refunded_minor or 0) - (f.amount_dispute_lost_minor or 0)
            kept_fees = rows_fees
        else:
            kept = kept_fees = 0
        figures = (1 if f.status in REVENUE else 0, kept - rows_paid, kept_fees - rows_fees)
        if any(figures):
            out[Key(f.workspace_id, "paid", local_day(f.paid_at, zone), currency=f.currency)] = figures
    if f.status in OPEN_STATUSES and f.currency:
        key = Key(f.workspace_id, "open", f.due_date or NO_DUE_DATE, status=f.status, currency=f.currency)
        out[key] = (1, (f.amount_minor or 0) - (f.amount_paid_minor or 0) - (f.amount_credited_minor or 0)
                    - (f.prepaid_minor or 0), 0)
    return out


def payment_contribution(workspace_id: str, currency: str, received_at: datetime, amount_minor: int,
                         fee_minor: int, zone: tzinfo | None = None) -> dict[Key, TotalsDelta]:
    """What one payment row adds: its amount and the platform fee taken from it, on the day it
    was received in ``zone`` (``paid``; no invoice counted: :func:`contribution` counts those)."""
    if not (amount_minor or fee_minor):
        return {}
    return {Key(workspace_id, "paid", local_day(received_at, zone), currency=currency): (0, amount_minor, fee_minor)}


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

