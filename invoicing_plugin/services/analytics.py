"""Revenue analytics for billing staff: figures aggregated in the database.

What the figures mean (also in docs/portal-and-analytics.md):

* **Paid revenue**: invoices whose status is ``paid``, counted in the month of
  ``paid_at`` (UTC), money received (``amount_paid_minor``, or the invoice amount
  when staff marked it paid by hand) minus partial refunds. Fully refunded
  invoices are not revenue.
* **Platform fees**: the application fees locked on those same invoices, for the ones paid
  through Stripe (none on an invoice marked paid by hand: ``domain.fees.fee_taken_minor``).
* **Outstanding now**: ``sent`` + ``processing`` invoices today, whatever the period.
* **Overdue now**: ``sent`` invoices whose due date has passed.
* **Invoices by status**: invoices created in the period, by their current status.

Amounts in different currencies are never added together: every figure is per
currency. The page does not add up invoices: it reads ``invoicing_invoice_totals``,
per-day sums kept in step with every invoice change in the same transaction
(:mod:`invoicing_plugin.domain.totals` says what each invoice counts for,
:mod:`invoicing_plugin.persistence.totals` keeps the table exact). Three grouped reads
of at most a few thousand rows each, whatever the number of invoices:

* paid revenue: ``measure = 'paid'`` rows of the period, by currency and month;
* outstanding and overdue: every ``measure = 'open'`` row (one per due day, status
  and currency); overdue is the ``sent`` part due before today;
* counts by status: ``measure = 'created'`` rows of the period, by status.

The CSV export still reads the invoices themselves.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import String, and_, case, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from ..domain.invoice import InvoiceStatus
from ..domain.money import Money
from ..domain.statuses import AWAITING_MONEY
from ..persistence import totals
from ..persistence.models import InvoiceTotal
from ..persistence.repository import WorkspaceRepository
from .analytics_export import CSV_COLUMNS, csv_filename, csv_safe, export_csv, export_rows  # noqa: F401
from .analytics_period import EARLIEST, MAX_RANGE_DAYS, DateRange, RangeError, default_range, validate_range  # noqa: F401
from .common import unit_of_work
from .uow import UnitOfWork

__all__ = [
    "MAX_RANGE_DAYS",
    "CurrencySummary",
    "DateRange",
    "MonthlyRevenue",
    "RangeError",
    "RevenueReport",
    "csv_filename",
    "default_range",
    "export_csv",
    "month_of_day",
    "rebuild_totals",
    "revenue_report",
    "totals_drift",
    "validate_range",
]


_PAID = InvoiceStatus.PAID.value
_OUTSTANDING = AWAITING_MONEY  # from the status table



# --- Month buckets on every database ---------------------------------------------------------


class month_of_day(FunctionElement):
    """The calendar month of a ``DATE`` column as ``"YYYY-MM"`` text, for ``GROUP BY``.

    SQLite: ``strftime('%Y-%m', col)``; PostgreSQL: ``to_char(col, 'YYYY-MM')``.
    """

    type = String()
    inherit_cache = True
    name = "invoicing_month_of_day"


@compiles(month_of_day)
def _month_of_day_default(element, compiler, **kw):
    (column,) = element.clauses
    return "strftime('%%Y-%%m', %s)" % compiler.process(column, **kw)


@compiles(month_of_day, "postgresql")
def _month_of_day_postgresql(element, compiler, **kw):
    (column,) = element.clauses
    return "to_char(%s, 'YYYY-MM')" % compiler.process(column, **kw)


def month_key(value) -> str:
    """``"YYYY-MM"`` from what :class:`month_of_day` returned (or from a date)."""
    if isinstance(value, (date, datetime)):
        return f"{value.year:04d}-{value.month:02d}"
    return str(value)[:7]


# --- The report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthlyRevenue:
    month: str  # "YYYY-MM"
    invoices: int
    revenue: Money
    fees: Money


@dataclass
class CurrencySummary:
    currency: str
    revenue: Money
    fees: Money
    paid_count: int = 0
    outstanding: Money | None = None
    outstanding_count: int = 0
    overdue: Money | None = None
    overdue_count: int = 0
    months: list[MonthlyRevenue] = field(default_factory=list)

    @property
    def has_revenue(self) -> bool:
        return self.paid_count > 0


@dataclass(frozen=True)
class RevenueReport:
    period: DateRange
    today: date
    currencies: list[CurrencySummary]
    #: Invoices created in the period, by current status (``draft``, ``sent``, ...).
    status_counts: dict[str, int]

    @property
    def is_empty(self) -> bool:
        return not self.currencies and not any(self.status_counts.values())


def revenue_report(repo: WorkspaceRepository, period: DateRange, today: date) -> RevenueReport:
    """Every figure of the analytics page, from the kept totals (three small range reads)."""
    session = repo.session
    t = InvoiceTotal
    in_period = and_(t.day >= period.start, t.day <= period.end)
    revenue_rows = session.execute(
        repo.select(t, t.currency, month_of_day(t.day).label("month"), func.sum(t.invoices).label("invoices"),
                    func.sum(t.amount_minor).label("revenue"), func.sum(t.fee_minor).label("fees"))
        .where(t.measure == "paid", in_period)
        .group_by(t.currency, month_of_day(t.day))
    ).all()

    # Overdue: awaiting payment (not processing) with a due day before today.
    is_overdue = and_(t.status == InvoiceStatus.SENT.value, t.day < today)
    outstanding_rows = session.execute(
        repo.select(t, t.currency, func.sum(t.invoices).label("invoices"), func.sum(t.amount_minor).label("amount"),
                    func.sum(case((is_overdue, t.invoices), else_=0)).label("overdue_invoices"),
                    func.sum(case((is_overdue, t.amount_minor), else_=0)).label("overdue_amount"))
        .where(t.measure == "open")
        .group_by(t.currency)
    ).all()

    status_rows = session.execute(
        repo.select(t, t.status, func.sum(t.invoices).label("invoices"))
        .where(t.measure == "created", in_period)
        .group_by(t.status)
    ).all()

    summaries: dict[str, CurrencySummary] = {}

    def summary(currency: str) -> CurrencySummary:
        if currency not in summaries:
            zero = Money.zero(currency)
            summaries[currency] = CurrencySummary(currency, revenue=zero, fees=zero, outstanding=zero, overdue=zero)
        return summaries[currency]

    by_month: dict[str, dict[str, MonthlyRevenue]] = {}
    for row in revenue_rows:
        if not row.invoices:
            continue  # every invoice of the month was refunded or changed since: no row
        s = summary(row.currency)
        revenue, fees = Money(int(row.revenue or 0), row.currency), Money(int(row.fees or 0), row.currency)
        s.revenue += revenue
        s.fees += fees
        s.paid_count += int(row.invoices)
        key = month_key(row.month)
        by_month.setdefault(row.currency, {})[key] = MonthlyRevenue(key, int(row.invoices), revenue, fees)
    for row in outstanding_rows:
        if not row.invoices:
            continue
        s = summary(row.currency)
        s.outstanding += Money(int(row.amount or 0), row.currency)
        s.outstanding_count += int(row.invoices)
        s.overdue += Money(int(row.overdue_amount or 0), row.currency)
        s.overdue_count += int(row.overdue_invoices or 0)

    months = period.months()
    for currency, s in summaries.items():
        found = by_month.get(currency, {})
        zero = Money.zero(currency)
        s.months = [found.get(m, MonthlyRevenue(m, 0, zero, zero)) for m in months]

    counts = {status.value: 0 for status in InvoiceStatus}
    for row in status_rows:
        counts[row.status] = counts.get(row.status, 0) + int(row.invoices)
    ordered = sorted(summaries.values(), key=lambda s: (-s.paid_count, -s.outstanding_count, s.currency))
    return RevenueReport(period, today, ordered, counts)


# --- Keeping the totals honest ------------------------------------------------------------------


def rebuild_totals(workspace_id: str | None = None, *, uow: UnitOfWork | None = None) -> int:
    """Recompute the kept totals (of one workspace, or all) from the invoices and commit.

    For invoices written around the plugin (a bulk ``COPY``, a fix made in ``psql``);
    returns how many total rows there are now.
    """
    uow = uow or unit_of_work()
    with uow:
        rows = totals.rebuild(uow.session, workspace_id)
        uow.commit()
    return rows


def totals_drift(workspace_id: str | None = None, *, uow: UnitOfWork | None = None) -> list:
    """Where the kept totals differ from the invoices: ``[(key, kept, computed), ...]``.

    Days are each workspace's (its time zone, by the unit of work's host). Read-only: the
    transaction is rolled back."""
    uow = uow or unit_of_work()
    with uow:  # rolled back on leaving (nothing is committed)
        return totals.drift(uow.session, workspace_id)


def cached_sums_drift(workspace_id: str | None = None, *, uow: UnitOfWork | None = None) -> list:
    """Invoices whose cached sums (``amount_paid_minor``, ``fees_taken_minor``,
    ``amount_credited_minor``, ``prepaid_minor``) differ from the rows they sum (payments,
    credit notes, prepayments): ``[(invoice_id, column, cached, rows), ...]``. Read-only."""
    uow = uow or unit_of_work()
    with uow:  # rolled back on leaving (nothing is committed)
        return totals.cached_sums_drift(uow.session, workspace_id)
