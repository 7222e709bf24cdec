"""Payment reminder schedules: which step is due for an invoice on a given day.

A schedule is a list of *steps*, each a whole number of days relative to the due date:
``-3`` is three days before it, ``0`` the due date itself, ``7`` a week after. Steps are
kept sorted, without duplicates, between :data:`MIN_OFFSET` and :data:`MAX_OFFSET`, at
most :data:`MAX_STEPS` of them; stored as canonical text (``"-3,0,7,14"``).

The rule for what to send (:func:`step_due`): on a day ``today`` (the workspace's
calendar day), the step due is the *latest* step whose day (due date + offset) has come
and which falls after the day the invoice was sent (the invoice email itself was the
notice then). It is sent only if no step at or after it was sent already. So a run that
was missed for days (cron down) sends one reminder -- the latest due -- never a burst of
the ones it missed; the earlier ones are skipped for good.

Pure: no database, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from .errors import DomainError

__all__ = ["MAX_OFFSET", "MAX_STEPS", "MIN_OFFSET", "ScheduleError", "canonical", "days_text", "parse_offsets",
           "step_due"]

#: The earliest step: 60 days before the due date.
MIN_OFFSET = -60
#: The latest step: a year after the due date.
MAX_OFFSET = 365
#: At most this many steps.
MAX_STEPS = 10

_ITEM = re.compile(r"[+-]?[0-9]{1,6}")


class ScheduleError(DomainError):
    """A schedule that is not a list of whole days in range, without duplicates; ``message`` says
    why and ``field`` is ``"offsets"`` (the settings form's field)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="offsets")


def parse_offsets(text: str) -> tuple[int, ...]:
    """The steps typed as ``"-3, 0, 7, 14"`` (commas and/or spaces; ``+7`` allowed), sorted.

    Raises :class:`ScheduleError` for anything that is not a whole number, a number out of
    range, a step given twice, or more than :data:`MAX_STEPS` steps. Empty text gives ``()``.
    """
    if not isinstance(text, str):
        raise ScheduleError("Type the reminder days as numbers separated by commas.")
    items = [item for item in re.split(r"[,\s;]+", text.replace("\u2212", "-").strip()) if item]
    steps: list[int] = []
    for item in items:
        if not _ITEM.fullmatch(item):
            shown = item if len(item) <= 20 and item.isprintable() else item[:20].encode("unicode_escape").decode()
            raise ScheduleError(f"“{shown}” is not a whole number of days (use e.g. -3, 0, 7, 14).")
        value = int(item)
        if not MIN_OFFSET <= value <= MAX_OFFSET:
            raise ScheduleError(f"{value} is out of range: a step is between {MIN_OFFSET} "
                                f"({-MIN_OFFSET} days before the due date) and {MAX_OFFSET} days after it.")
        if value in steps:
            raise ScheduleError(f"{value} is listed twice: each day can be a step once.")
        steps.append(value)
    if len(steps) > MAX_STEPS:
        raise ScheduleError(f"At most {MAX_STEPS} reminders per invoice ({len(steps)} given).")
    return tuple(sorted(steps))


def canonical(steps: Iterable[int]) -> str:
    """The stored text of ``steps``: sorted, comma-separated (``"-3,0,7,14"``)."""
    return ",".join(str(int(step)) for step in sorted(set(steps)))


def step_due(steps: Iterable[int], due_date: date, today: date, *, sent_on: date | None = None,
             already_sent: Iterable[int] = ()) -> int | None:
    """The step to send for an invoice due on ``due_date``, on the day ``today``, or ``None``.

    The latest step whose day (``due_date + step``) is ``today`` or before, and after
    ``sent_on`` (the day the invoice was sent, if known); ``None`` when there is none or
    when that step -- or a later one -- was sent already (``already_sent``).
    """
    candidates = [step for step in steps
                  if due_date + timedelta(days=step) <= today
                  and (sent_on is None or due_date + timedelta(days=step) > sent_on)]
    if not candidates:
        return None
    latest = max(candidates)
    sent = list(already_sent)
    if sent and max(sent) >= latest:
        return None
    return latest


def days_text(due_date: date, today: date) -> str:
    """``"is due in 3 days"``, ``"is due today"``, ``"was due 7 days ago"`` for the email."""
    days = (due_date - today).days
    if days > 0:
        return f"is due in {days} day{'s' if days != 1 else ''}"
    if days == 0:
        return "is due today"
    return f"was due {-days} day{'s' if days != -1 else ''} ago"
