"""Rules around the lifecycle: overdue, editing, paying, numbering, deposits."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoicing_plugin.domain import (
    AmountError,
    CurrencyMismatch,
    InvoiceStatus,
    Money,
    deposit_amount,
    display_status,
    format_invoice_number,
    is_editable,
    is_open_for_payment,
    is_overdue,
    validate_amount,
)

S = InvoiceStatus
DUE = date(2024, 3, 31)


@pytest.mark.parametrize(
    ("status", "due_date", "today", "overdue"),
    [
        pytest.param(S.SENT, DUE, date(2024, 4, 1), True, id="sent-day-after-due"),
        pytest.param(S.SENT, DUE, DUE, False, id="sent-on-due-date"),
        pytest.param(S.SENT, DUE, date(2024, 3, 1), False, id="sent-before-due"),
        pytest.param(S.SENT, None, date(2030, 1, 1), False, id="sent-without-due-date"),
        pytest.param(S.PROCESSING, DUE, date(2024, 4, 1), False, id="processing-is-paid-late"),
        pytest.param(S.DRAFT, DUE, date(2024, 4, 1), False, id="draft"),
        pytest.param(S.PAID, DUE, date(2024, 4, 1), False, id="paid"),
        pytest.param(S.VOIDED, DUE, date(2024, 4, 1), False, id="voided"),
    ],
)
def test_only_sent_invoices_past_their_due_date_are_overdue(
    status: InvoiceStatus, due_date: date | None, today: date, overdue: bool
) -> None:
    assert is_overdue(status, due_date, today) is overdue
    assert display_status(status, due_date, today) == ("overdue" if overdue else status.value)


@pytest.mark.parametrize("status", list(InvoiceStatus), ids=lambda status: status.value)
def test_only_drafts_are_editable_and_only_sent_invoices_take_payment(
    status: InvoiceStatus,
) -> None:
    assert is_editable(status) is (status is S.DRAFT)
    # issue 15: a partially paid invoice takes payment of its balance.
    assert is_open_for_payment(status) is (status in (S.SENT, S.PARTIALLY_PAID))


@pytest.mark.parametrize(
    ("prefix", "sequence", "width", "number"),
    [
        ("INV", 1, 4, "INV-0001"),
        ("INV-", 1, 4, "INV-0001"),
        ("ACME", 42, 6, "ACME-000042"),
        ("INV", 12345, 4, "INV-12345"),
        ("", 7, 4, "0007"),
        (" INV ", 3, 4, "INV-0003"),
    ],
)
def test_invoice_numbers_are_padded_and_never_truncated(
    prefix: str, sequence: int, width: int, number: str
) -> None:
    assert format_invoice_number(prefix, sequence, width) == number


@pytest.mark.parametrize(("sequence", "width"), [(0, 4), (-1, 4), (True, 4), (1, 0)])
def test_invoice_number_needs_a_positive_sequence(sequence: int, width: int) -> None:
    with pytest.raises(ValueError):
        format_invoice_number("INV", sequence, width)


@pytest.mark.parametrize(
    ("total", "percent", "deposit"),
    [
        (Money(100000, "EUR"), "30", Money(30000, "EUR")),
        (Money(100000, "EUR"), "100", Money(100000, "EUR")),
        (Money(10001, "EUR"), "50", Money(5001, "EUR")),  # 50.005 rounds half up
        (Money(3333, "USD"), "33.3", Money(1110, "USD")),  # 1109.889
        (Money(1501, "JPY"), "50", Money(751, "JPY")),  # 750.5
        (Money(150000, "ISK"), "33", Money(49500, "ISK")),  # 495 krónur exactly
        (Money(150100, "ISK"), "50", Money(75100, "ISK")),  # 750.5 krónur -> 751
        (Money(12340, "KWD"), "25", Money(3090, "KWD")),  # 3.085 -> 3.090
    ],
    ids=str,
)
def test_percentage_deposit_rounds_half_up_to_the_step(
    total: Money, percent: str, deposit: Money
) -> None:
    assert deposit_amount(total, percent=Decimal(percent)) == deposit


def test_fixed_deposit_is_taken_as_is() -> None:
    assert deposit_amount(Money(100000, "EUR"), fixed=Money(2500, "EUR")) == Money(2500, "EUR")


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({}, None, "Choose either a deposit percentage or a fixed deposit amount."),
        (
            {"percent": Decimal(10), "fixed": Money(100, "EUR")},
            None,
            "Choose either a deposit percentage or a fixed deposit amount.",
        ),
        (
            {"percent": Decimal(0)},
            "percent",
            "The deposit percentage must be more than 0 and at most 100.",
        ),
        (
            {"percent": Decimal("100.01")},
            "percent",
            "The deposit percentage must be more than 0 and at most 100.",
        ),
        (
            {"percent": Decimal("NaN")},
            "percent",
            "The deposit percentage must be more than 0 and at most 100.",
        ),
        (
            {"percent": Decimal("0.01")},
            "percent",
            "Deposit: Amount must be at least €0.50, the least Stripe can charge in EUR.",
        ),
        (
            {"fixed": Money(100001, "EUR")},
            "fixed",
            "The deposit cannot be more than the invoice total of €1,000.00.",
        ),
        ({"fixed": Money(0, "EUR")}, "fixed", "Deposit: Amount must be greater than zero."),
        (
            {"percent": Decimal("0.0001")},
            "percent",
            "0.0001% of €1,000.00 rounds to nothing: choose a larger percentage.",
        ),
    ],
    ids=[
        "neither",
        "both",
        "zero-percent",
        "over-100",
        "nan",
        "below-minimum",
        "over-total",
        "zero",
        "rounds-to-zero",
    ],
)
def test_invalid_deposits_are_explained(kwargs: dict, field: str | None, message: str) -> None:
    with pytest.raises(AmountError) as caught:
        deposit_amount(Money(100000, "EUR"), **kwargs)
    assert (caught.value.field, caught.value.message) == (field, message)


def test_fixed_deposit_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatch) as caught:
        deposit_amount(Money(100000, "EUR"), fixed=Money(100, "USD"))
    assert caught.value.field == "fixed"


def test_percentage_must_be_a_decimal_not_a_float() -> None:
    with pytest.raises(TypeError):
        deposit_amount(Money(100000, "EUR"), percent=30.0)  # type: ignore[arg-type]


@given(
    units=st.integers(min_value=1, max_value=999_999),
    percent=st.decimals(min_value=Decimal("0.01"), max_value=100, places=2),
)
def test_percentage_deposit_never_exceeds_the_total_and_is_chargeable(
    units: int, percent: Decimal
) -> None:
    total = Money(units * 100, "EUR")
    try:
        deposit = deposit_amount(total, percent=percent)
    except AmountError as error:
        assert total.minor * percent / 100 < 50, error.message
    else:
        assert deposit <= total
        assert validate_amount(deposit) is deposit
