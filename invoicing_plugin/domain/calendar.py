"""Calendar days in a workspace's time zone: what "today" and "the day it was paid" mean.

Instants are stored as aware UTC ``datetime`` values; a *day* (a due date, "paid on",
a day or month of the analytics) is always the calendar day in the workspace's IANA
time zone (:attr:`invoicing_plugin.host.HostWorkspace.timezone`, default ``"UTC"``).
At 17:30 in Los Angeles on 14 March the UTC date is already the 15th; the workspace's
today is the 14th.

Pure: the standard library's :mod:`zoneinfo` only (on systems without a time zone
database, the ``tzdata`` package provides one).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["MAX_OFFSET", "UTC", "UnknownTimeZone", "as_zone", "day_start", "format_instant", "local_day", "local_time",
           "midday", "zone_abbreviation", "zone_name"]

UTC = timezone.utc

class UnknownTimeZone(ValueError):
    """A time zone name that is not an IANA key this system knows (``"America/Los_Angeles"`` is one)."""

    def __init__(self, name: object) -> None:
        self.name = name
        self.message = (
            f"{name!r} is not an IANA time zone name (like 'Europe/London' or 'America/Los_Angeles'); "
            "install the 'tzdata' package if the system has no time zone database."
        )
        super().__init__(self.message)


@lru_cache(maxsize=512)
def _zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZone(name) from None


def as_zone(value: "tzinfo | str | None") -> tzinfo:
    """A ``tzinfo`` from a zone, an IANA name, or ``None`` / ``""`` (UTC).

    Raises :class:`UnknownTimeZone` for a name that is not a known IANA key.
    Anything with a ``zone`` attribute (a :class:`~invoicing_plugin.host.HostWorkspace`)
    gives that zone.
    """
    if value is None or value == "":
        return UTC
    if isinstance(value, tzinfo):
        return value
    zone = getattr(value, "zone", None)
    if isinstance(zone, tzinfo):
        return zone
    if not isinstance(value, str):
        raise UnknownTimeZone(value)
    return _zone(value.strip())


def zone_name(zone: tzinfo) -> str:
    """The IANA key of ``zone`` (``"UTC"`` for UTC), for SQL ``AT TIME ZONE``."""
    if zone is UTC:
        return "UTC"
    key = getattr(zone, "key", None)
    if not key:
        raise UnknownTimeZone(zone)
    return key


def local_day(moment: datetime, zone: "tzinfo | str | None" = None) -> date:
    """The calendar day of ``moment`` in ``zone`` (default UTC).

    A naive ``moment`` is taken as UTC (SQLite returns them so).
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(as_zone(zone)).date()


def local_time(moment: datetime, zone: "tzinfo | str | None" = None) -> datetime:
    """``moment`` as an aware ``datetime`` in ``zone`` (default UTC); a naive ``moment`` is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(as_zone(zone))


def zone_abbreviation(moment: datetime, zone: "tzinfo | str | None" = None) -> str:
    """What the zone is called at ``moment``: ``"PST"`` / ``"PDT"`` in Los Angeles, ``"UTC"``.

    The IANA database's abbreviation (it follows daylight saving time). Zones whose
    abbreviation is only an offset (``"-03"`` in São Paulo) read ``"UTC-03"``.
    """
    name = local_time(moment, zone).tzname() or "UTC"
    return f"UTC{name}" if name[:1] in "+-" else name


def format_instant(moment: "datetime | None", zone: "tzinfo | str | None" = None, *, seconds: bool = False) -> str:
    """An instant as staff read it: ``"2026-11-29 10:54 PST"`` -- the wall-clock time in ``zone``
    (default UTC) with the zone's abbreviation, so no time is ever shown without its zone.

    ``seconds=True`` adds them (``"10:54:07 PST"``). ``None`` gives ``"—"``. A naive
    ``moment`` is taken as UTC (SQLite returns them so).
    """
    if moment is None:
        return "—"
    local = local_time(moment, zone)
    clock = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{clock} {zone_abbreviation(local, local.tzinfo)}"


def day_start(day: date, zone: "tzinfo | str | None" = None) -> datetime:
    """The first instant of ``day`` in ``zone``, as an aware UTC ``datetime``."""
    return datetime.combine(day, time(0), tzinfo=as_zone(zone)).astimezone(UTC)


def midday(day: date, zone: "tzinfo | str | None" = None) -> datetime:
    """Noon of ``day`` in ``zone``, as an aware UTC ``datetime``: an instant that is
    ``day`` in that zone whatever the daylight-saving rules."""
    return datetime.combine(day, time(12), tzinfo=as_zone(zone)).astimezone(UTC)


#: The widest offset from UTC any zone uses (Kiribati is UTC+14, Baker Island UTC-12).
MAX_OFFSET = timedelta(hours=14)
