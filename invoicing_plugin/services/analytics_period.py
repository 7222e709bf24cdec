"""The period an analytics page or export covers: validated, in whole days of the workspace's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from .errors import InvoicingError

MAX_RANGE_DAYS = 366 * 10
"""Longest period the page accepts (ten years)."""

EARLIEST = date(2000, 1, 1)


class RangeError(InvoicingError):
    """A period staff typed cannot be used; ``message`` says why, ``field`` where."""


@dataclass(frozen=True)
class DateRange:
    """Whole days from ``start`` to ``end``, both included, in ``zone`` (the workspace's
    time zone; UTC by default): the same days the kept totals count in."""

    start: date
    end: date
    zone: tzinfo = timezone.utc

    @property
    def start_at(self) -> datetime:
        """The first instant of the period (aware, in ``zone``)."""
        return datetime.combine(self.start, time.min, tzinfo=self.zone)

    @property
    def end_before(self) -> datetime:
        """The first instant after the period (queries use ``< end_before``)."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=self.zone)

    def months(self) -> list[str]:
        """Every month the period touches, as ``"YYYY-MM"``, in order."""
        out, year, month = [], self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out


def default_range(today: date, zone: tzinfo = timezone.utc) -> DateRange:
    """The last twelve months, this one included (``today``: the workspace's, in ``zone``)."""
    year, month = today.year, today.month - 11
    if month < 1:
        year, month = year - 1, month + 12
    return DateRange(date(year, month, 1), today, zone)


def validate_range(start: date | None, end: date | None, today: date, zone: tzinfo = timezone.utc) -> DateRange:
    """The period to report on, in days of ``zone``; missing ends default to :func:`default_range`'s."""
    fallback = default_range(today, zone)
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
    return DateRange(start, end, zone)

