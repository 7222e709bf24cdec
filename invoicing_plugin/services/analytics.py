"""Revenue analytics for billing staff: figures aggregated in the database.

What the figures mean (also in docs/portal-and-analytics.md):

* **Paid revenue**: invoices whose status is ``paid``, counted in the month of
  ``paid_at`` (UTC), money received (``amount_paid_minor``, or the invoice amount
  when staff marked it paid by hand) minus partial refunds. Fully refunded
  invoices are not revenue.
* **Platform fees**: the application fees locked on those same invoices.
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

import csv
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import String, and_, case, func, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from ..domain.invoice import InvoiceStatus, display_status
from ..domain.money import Money, format_decimal_amount
from ..domain.statuses import AWAITING_MONEY
from ..state import get_state
from ..persistence import totals
from ..persistence.models import Invoice, InvoiceTotal
from ..persistence.repository import WorkspaceRepository
from .errors import InvoicingError
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

MAX_RANGE_DAYS = 366 * 10
"""Longest period the page accepts (ten years)."""

EARLIEST = date(2000, 1, 1)
_PAID = InvoiceStatus.PAID.value
_OUTSTANDING = AWAITING_MONEY  # from the status table


# --- The period -----------------------------------------------------------------------------


class RangeError(InvoicingError):
    """A period staff typed cannot be used; ``message`` says why, ``field`` where."""


@dataclass(frozen=True)
class DateRange:
    """Whole days from ``start`` to ``end``, both included, in UTC."""

    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=timezone.utc)

    @property
    def end_before(self) -> datetime:
        """The first instant after the period (queries use ``< end_before``)."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=timezone.utc)

    def months(self) -> list[str]:
        """Every month the period touches, as ``"YYYY-MM"``, in order."""
        out, year, month = [], self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out


def default_range(today: date) -> DateRange:
    """The last twelve months, this one included."""
    year, month = today.year, today.month - 11
    if month < 1:
        year, month = year - 1, month + 12
    return DateRange(date(year, month, 1), today)


def validate_range(start: date | None, end: date | None, today: date) -> DateRange:
    """The period to report on; missing ends default to :func:`default_range`'s."""
    fallback = default_range(today)
    start = start or (fallback.start if end is None else date(end.year, 1, 1))
    end = end or max(today, start)
    if start < EARLIEST:
        raise RangeError(f"Choose a start date on or after {EARLIEST:%d %B %Y}.", field="start")
    if end > date(today.year + 1, 12, 31):
        raise RangeError("Choose an end date no later than the end of next year.", field="end")
    if start > end:
        raise RangeError("The start date must be on or before the end date.", field="start")
    if (end - start).days > MAX_RANGE_DAYS:
        raise RangeError("Choose a period of at most ten years.", field="start")
    return DateRange(start, end)


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


def rebuild_totals(workspace_id: str | None = None) -> int:
    """Recompute the kept totals (of one workspace, or all) from the invoices and commit.

    For invoices written around the plugin (a bulk ``COPY``, a fix made in ``psql``);
    returns how many total rows there are now.
    """
    session = get_state().session
    with UnitOfWork(session) as uow:
        rows = totals.rebuild(session, workspace_id)
        uow.commit()
    return rows


def totals_drift(workspace_id: str | None = None) -> list:
    """Where the kept totals differ from the invoices: ``[(key, kept, computed), ...]``."""
    session = get_state().session
    try:
        return totals.drift(session, workspace_id)
    finally:
        session.rollback()


# --- CSV export ---------------------------------------------------------------------------------

CSV_COLUMNS = (
    "number", "status", "counted_as", "client", "client_email", "description", "engagement",
    "currency", "amount", "amount_minor", "amount_paid", "amount_paid_minor",
    "amount_refunded", "amount_refunded_minor", "platform_fee", "platform_fee_minor", "fee_bps",
    "created_at", "sent_at", "due_date", "paid_at",
)

#: What a spreadsheet takes as the start of a formula (OWASP, "CSV Injection",
#: https://owasp.org/www-community/attacks/CSV_Injection: ``= + - @``, tab, carriage return;
#: ASVS 5.0 V1.2.10 adds NUL). Compared after NFKC, so full-width ``＝ ＋ － ＠`` and the
#: small/superscript forms count; U+2212 MINUS SIGN and other dashes count as ``-``.
_FORMULA_CHARS = frozenset("=+-@\u2212")
#: Blank letters that render as nothing but are not in a Z*/C* category.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _invisible(char: str) -> bool:
    """Whitespace, control, format (zero-width, bidi), unassigned and private-use characters,
    combining marks without a base, and blank letters: what a reader or a trim step skips."""
    category = unicodedata.category(char)
    return category[0] in "ZC" or category in ("Mn", "Me") or char in _BLANK_LETTERS


def _starts_formula(text: str) -> bool:
    if text[:1] and unicodedata.category(text[0]) == "Cc":
        return True  # tab, CR, LF, NUL...: OWASP and ASVS prefix these whatever follows
    folded = unicodedata.normalize("NFKC", text)
    for char in folded:
        if not _invisible(char):
            return char in _FORMULA_CHARS or unicodedata.category(char) == "Pd"
    return False


def csv_safe(text: str | None) -> str:
    """Text from users or the host, made safe to open in a spreadsheet.

    A cell whose first visible character -- after Unicode NFKC normalisation and after
    skipping leading whitespace, control and invisible characters -- starts a formula
    (``= + - @`` and their full-width or dash look-alikes), or that begins with a
    control character (tab, CR, LF, NUL), gets a ``'`` in front, as OWASP recommends for
    CSV injection. The text itself is kept: the result is ``text`` or ``"'" + text``.
    Numbers the plugin writes (amounts, minor units, fee bps, dates) do not go through
    here, so a spreadsheet still reads them as numbers.
    """
    text = text or ""
    return "'" + text if _starts_formula(text) else text


def csv_filename(period: DateRange) -> str:
    return f"invoices-{period.start.isoformat()}-to-{period.end.isoformat()}.csv"


def export_rows(repo: WorkspaceRepository, period: DateRange, today: date):
    """The invoices behind the figures: paid in the period, outstanding now, or
    created in the period. Streamed from the database in batches."""
    paid_in_period = and_(
        Invoice.status == _PAID, Invoice.paid_at >= period.start_at, Invoice.paid_at < period.end_before
    )
    created = and_(Invoice.created_at >= period.start_at, Invoice.created_at < period.end_before)
    stmt = (
        repo.select(Invoice)
        .where(or_(paid_in_period, Invoice.status.in_(_OUTSTANDING), created))
        .order_by(Invoice.created_at, Invoice.id)
        .execution_options(yield_per=500)
    )
    return repo.session.scalars(stmt)


def export_csv(repo: WorkspaceRepository, period: DateRange, today: date) -> Iterator[str]:
    """The CSV as chunks of text (header first). Amounts appear twice: as a decimal
    string with the currency's decimals ("1250.50", "1500") and as integer minor units."""
    buffer = io.StringIO()
    # Every field quoted: a spreadsheet that splits on ";" (its locale's list separator)
    # or on tabs cannot cut a text cell in two and start a new cell with a formula
    # (OWASP CSV Injection: mind the field separator, not only the first character).
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)

    def flush() -> str:
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return chunk

    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + flush()  # BOM: spreadsheet apps then read UTF-8 names correctly
    for count, invoice in enumerate(export_rows(repo, period, today), start=1):
        writer.writerow(_csv_row(invoice, period, today))
        if count % 200 == 0:
            yield flush()
    yield flush()


def _csv_row(invoice: Invoice, period: DateRange, today: date) -> list[str]:
    currency = invoice.currency

    def money(minor: int | None) -> tuple[str, str]:
        if minor is None:
            return "", ""
        return format_decimal_amount(Money(int(minor), currency)), str(int(minor))

    status = display_status(invoice.status, invoice.due_date, today)
    paid_in_period = (
        invoice.status == _PAID and invoice.paid_at is not None
        and period.start_at <= invoice.paid_at < period.end_before
    )
    if paid_in_period:
        counted = "revenue"
    elif status == "overdue":
        counted = "overdue"
    elif invoice.status in _OUTSTANDING:
        counted = "outstanding"
    else:
        counted = ""
    received = invoice.amount_paid_minor
    if received is None and invoice.status == _PAID:
        received = invoice.amount_minor
    return [
        csv_safe(invoice.number or ""),
        status,
        counted,
        csv_safe(invoice.client_name),
        csv_safe(invoice.client_email),
        csv_safe(invoice.description),
        csv_safe(invoice.subject_title),
        currency,
        *money(invoice.amount_minor),
        *money(received),
        *money(invoice.amount_refunded_minor or 0),
        *money(invoice.application_fee_minor),
        "" if invoice.fee_bps is None else str(invoice.fee_bps),
        _iso(invoice.created_at),
        _iso(invoice.sent_at),
        invoice.due_date.isoformat() if invoice.due_date else "",
        _iso(invoice.paid_at),
    ]


def _iso(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds") if value else ""
