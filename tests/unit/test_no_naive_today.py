"""No naive "today" in the services or the web layer (issue 14, "Time is the workspace's").

A *day* the plugin works with -- "today" for due dates and overdue, the latest payment
date, the day an invoice was paid, an analytics day -- is a calendar day in the
workspace's time zone (``HostWorkspace.timezone``). The UTC date is wrong for everyone
else: at 17:30 in Los Angeles it is already tomorrow. The one way to get today is the
unit of work's clock *with a zone* (``uow.today(workspace)``, ``uow.workspace_today(id)``,
``today(zone)``); an instant becomes a day with ``domain.calendar.local_day(moment, zone)``.

This test reads the source of ``services/`` and ``web/`` (Python and templates) and fails
on the ways a UTC or machine-local day creeps back in. A line that truly means UTC says
so by passing ``UTC`` explicitly (``uow.today(UTC)``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import invoicing_plugin

PACKAGE_DIR = Path(invoicing_plugin.__file__).parent
SCANNED = ("services", "web")

#: pattern -> why it is a naive day.
FORBIDDEN = {
    r"\bdate\.today\(": "date.today() is the machine's local day",
    r"\bdatetime\.(utcnow|today)\(": "a naive 'now'",
    r"\bdatetime\.now\(\s*\)": "datetime.now() without a zone is the machine's local time",
    r"\btoday\(\s*\)": "today() without a zone is UTC's day: pass the workspace (or its zone)",
    r"\b(utcnow|clock|system_clock|now)\(\)\s*\.\s*date\(\)": "the UTC date of now: use uow.today(workspace)",
    r"\.astimezone\(\s*(timezone\.)?(utc|UTC)\s*\)\s*\.\s*(date|strftime)\(": "a UTC day shown as the day",
    r"\w+_at\s*\.\s*date\(\)": "the UTC date of a stored instant: use local_day(value, zone)",
    r"paid_at\s*\.\s*strftime\(": "'paid on' must be the workspace's day: local_day(paid_at, zone)",
}


def _sources() -> list[Path]:
    files = []
    for folder in SCANNED:
        root = PACKAGE_DIR / folder
        files += sorted(root.rglob("*.py")) + sorted(root.rglob("*.html")) + sorted(root.rglob("*.txt"))
    return files


def naive_days(text: str) -> list[tuple[int, str, str]]:
    """``(line number, line, why)`` for every naive day in ``text``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern, why in FORBIDDEN.items():
            if re.search(pattern, line):
                found.append((number, line.strip(), why))
    return found


def test_the_scan_reads_the_services_and_the_views():
    names = {path.name for path in _sources()}
    assert {"closing.py", "drafts.py", "listing.py", "analytics.py", "invoice_detail.html", "pay.html"} <= names


@pytest.mark.parametrize("line", [
    "today = utcnow().date()",
    "day = on or uow.today()",
    "display=display_status(invoice.status, invoice.due_date, today()),",
    "on = on or (uow.today() if uow is not None else system_clock().date())",
    "'paid_on': (invoice.paid_at or uow.clock()).astimezone(timezone.utc).strftime('%d %B %Y'),",
    "if invoice.sent_at and paid_on < invoice.sent_at.date():",
    "{% if invoice.paid_at %} on {{ invoice.paid_at.date().isoformat() }}{% endif %}",
    "Payment received on {{ invoice.paid_at.strftime('%-d %B %Y') }}.",
    "d = date.today()",
    "d = datetime.now()",
])
def test_each_naive_day_the_code_once_had_is_caught(line):
    """The patterns catch the lines the plugin had before the workspace's zone was used."""
    assert naive_days(line), line


@pytest.mark.parametrize("line", [
    "today = uow.today(workspace)",
    "day = on or uow.workspace_today(workspace_id)",
    "latest = uow.today(UTC) + timedelta(days=1)",
    "paid_on=local_day(invoice.paid_at, zone) if invoice.paid_at else None,",
    "return datetime.now(timezone.utc)",
])
def test_zoned_days_pass(line):
    assert not naive_days(line)


def test_no_naive_today_in_services_or_web():
    offenders = [
        f"{path.relative_to(PACKAGE_DIR)}:{number}: {line}  <- {why}"
        for path in _sources()
        for number, line, why in naive_days(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "a day that is not the workspace's:\n" + "\n".join(offenders)
