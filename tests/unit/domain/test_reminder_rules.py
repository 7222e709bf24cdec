"""The reminder schedule's rules (domain/reminders.py): parsing and which step is due."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from invoicing_plugin.domain.reminders import (
    MAX_OFFSET,
    MAX_STEPS,
    MIN_OFFSET,
    ScheduleError,
    canonical,
    days_text,
    parse_offsets,
    step_due,
)

DUE = date(2031, 3, 14)


@pytest.mark.parametrize("text, steps", [
    ("-3, 0, 7, 14", (-3, 0, 7, 14)),
    ("14 7 0 -3", (-3, 0, 7, 14)),
    ("+7;0", (0, 7)),
    ("\u22123,0", (-3, 0)),  # a typographic minus, as some keyboards type it
    ("", ()),
    ("  ,, ", ()),
    (f"{MIN_OFFSET},{MAX_OFFSET}", (MIN_OFFSET, MAX_OFFSET)),
])
def test_steps_are_parsed_and_sorted(text, steps):
    assert parse_offsets(text) == steps
    assert canonical(steps) == ",".join(map(str, steps))


@pytest.mark.parametrize("text, words", [
    ("1.5", "not a whole number"),
    ("abc", "not a whole number"),
    ("7d", "not a whole number"),
    ("1e3", "not a whole number"),
    ("--3", "not a whole number"),
    ("0x10", "not a whole number"),
    ("\u0663", "not a whole number"),  # Arabic-Indic three: int() takes it, the rule does not
    (str(MAX_OFFSET + 1), "out of range"),
    (str(MIN_OFFSET - 1), "out of range"),
    ("9" * 40, "not a whole number"),
    ("7, 7", "listed twice"),
    ("0, +0", "listed twice"),
    (",".join(str(n) for n in range(MAX_STEPS + 1)), f"At most {MAX_STEPS}"),
])
def test_bad_steps_are_refused_with_the_reason(text, words):
    with pytest.raises(ScheduleError) as caught:
        parse_offsets(text)
    assert words in caught.value.message


def test_a_non_text_value_is_refused():
    with pytest.raises(ScheduleError):
        parse_offsets(None)  # type: ignore[arg-type]


def test_nothing_is_due_before_the_first_step():
    assert step_due((-3, 0, 7), DUE, DUE - timedelta(days=4)) is None


def test_each_step_is_due_on_its_day():
    assert step_due((-3, 0, 7), DUE, DUE - timedelta(days=3)) == -3
    assert step_due((-3, 0, 7), DUE, DUE, already_sent=[-3]) == 0
    assert step_due((-3, 0, 7), DUE, DUE + timedelta(days=7), already_sent=[-3, 0]) == 7


def test_a_step_already_sent_is_not_due_again():
    assert step_due((-3, 0, 7), DUE, DUE, already_sent=[0]) is None
    assert step_due((-3, 0, 7), DUE, DUE + timedelta(days=30), already_sent=[7]) is None


def test_missed_days_give_the_latest_step_only_and_never_an_earlier_one_later():
    late = DUE + timedelta(days=8)
    assert step_due((-3, 0, 7, 14), DUE, late) == 7  # not -3, 0 and 7 at once
    assert step_due((-3, 0, 7, 14), DUE, late + timedelta(days=1), already_sent=[7]) is None
    # A step added to the schedule later, earlier than one sent, never goes out.
    assert step_due((-3, 0, 3, 7, 14), DUE, late, already_sent=[7]) is None


def test_steps_on_or_before_the_day_the_invoice_was_sent_are_not_reminders():
    # Sent on the due date: the -3 and 0 steps would repeat the invoice email.
    assert step_due((-3, 0, 7), DUE, DUE, sent_on=DUE) is None
    assert step_due((-3, 0, 7), DUE, DUE + timedelta(days=7), sent_on=DUE) == 7
    assert step_due((-3, 0), DUE, DUE, sent_on=DUE - timedelta(days=1)) == 0


def test_days_text():
    assert days_text(DUE, DUE - timedelta(days=3)) == "is due in 3 days"
    assert days_text(DUE, DUE - timedelta(days=1)) == "is due in 1 day"
    assert days_text(DUE, DUE) == "is due today"
    assert days_text(DUE, DUE + timedelta(days=1)) == "was due 1 day ago"
    assert days_text(DUE, DUE + timedelta(days=7)) == "was due 7 days ago"
