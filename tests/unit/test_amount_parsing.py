"""What staff type becomes chargeable Money, or a message that says what to fix."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoicing_plugin.domain import (
    CURRENCIES,
    AmountError,
    Money,
    format_decimal_amount,
    parse_amount,
    validate_amount,
)


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1250", "EUR", 125000),
        ("1,250.50", "EUR", 125050),
        (" 12.5 ", "EUR", 1250),
        ("0.50", "USD", 50),
        (".5", "USD", 50),
        ("+7", "USD", 700),
        ("0.30", "GBP", 30),
        ("123,456.78", "USD", 12345678),
        ("1500", "JPY", 1500),
        ("1500.00", "JPY", 1500),
        ("1000", "KRW", 1000),
        ("15000", "VND", 15000),
        ("12.340", "KWD", 12340),
        ("12.34", "KWD", 12340),
        ("0.200", "BHD", 200),
        ("1500", "ISK", 150000),
        ("175", "HUF", 17500),
        ("175.50", "HUF", 17550),
    ],
)
def test_parses_amounts_into_stripe_minor_units(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("", "EUR", "Enter an amount."),
        ("   ", "EUR", "Enter an amount."),
        ("abc", "EUR", "Enter the amount as a number, like 1250.50."),
        ("1e3", "EUR", "Enter the amount as a number, like 1250.50."),
        ("NaN", "EUR", "Enter the amount as a number, like 1250.50."),
        ("inf", "EUR", "Enter the amount as a number, like 1250.50."),
        ("12.3.4", "EUR", "Enter the amount as a number, like 1250.50."),
        ("1,25", "EUR", "Enter the amount as a number, like 1250.50."),
        ("12,34.5", "EUR", "Enter the amount as a number, like 1250.50."),
        ("€12", "EUR", "Enter the amount as a number, like 1250.50."),
        ("1 000", "EUR", "Enter the amount as a number, like 1250.50."),
        ("٣٤", "EUR", "Enter the amount as a number, like 1250.50."),
        (".", "EUR", "Enter the amount as a number, like 1250.50."),
        ("abc", "JPY", "Enter the amount as a number, like 1500."),
        ("12.345", "EUR", "EUR amounts have at most 2 decimal places."),
        ("10.001", "USD", "USD amounts have at most 2 decimal places."),
        ("12.5", "JPY", "JPY has no decimal places: enter a whole amount like 1500."),
        ("1000.5", "KRW", "KRW has no decimal places: enter a whole amount like 1500."),
        ("15000.1", "VND", "VND has no decimal places: enter a whole amount like 1500."),
        ("1500.5", "ISK", "ISK has no decimal places: enter a whole amount like 1500."),
        ("1.2345", "KWD", "KWD amounts have at most 3 decimal places."),
    ],
)
def test_malformed_or_too_precise_input_is_explained(
    text: str, currency: str, message: str
) -> None:
    with pytest.raises(AmountError) as caught:
        parse_amount(text, currency)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("text", "currency"),
    [("-5", "EUR"), ("0", "EUR"), ("0.00", "USD"), ("-1500", "JPY"), ("0", "KWD"), ("-0", "ISK")],
)
def test_negative_or_zero_amounts_are_refused(text: str, currency: str) -> None:
    with pytest.raises(AmountError) as caught:
        parse_amount(text, currency)
    assert caught.value.message == "Amount must be greater than zero."


@pytest.mark.parametrize(
    ("text", "currency", "shown_minimum"),
    [
        ("0.49", "EUR", "€0.50"),
        ("0.49", "USD", "$0.50"),
        ("0.29", "GBP", "£0.30"),
        ("49", "JPY", "¥50"),
        ("999", "KRW", "₩1,000"),
        ("14999", "VND", "₫15,000"),
        ("0.190", "KWD", "KWD0.200"),
        ("0.190", "BHD", "BHD0.200"),
        ("99", "ISK", "ISK100"),
        ("174.99", "HUF", "HUF175.00"),
    ],
)
def test_amounts_below_stripes_minimum_show_the_minimum(
    text: str, currency: str, shown_minimum: str
) -> None:
    with pytest.raises(AmountError) as caught:
        parse_amount(text, currency)
    assert caught.value.message == (
        f"Amount must be at least {shown_minimum}, the least Stripe can charge in {currency}."
    )


@pytest.mark.parametrize(
    ("text", "currency", "shown_maximum"),
    [
        ("1,000,000", "EUR", "€999,999.99"),
        ("100,000,000", "JPY", "¥99,999,999"),
        ("100000000", "KRW", "₩99,999,999"),
        ("100000", "KWD", "KWD99,999.990"),
        ("1000000", "ISK", "ISK999,999"),
        ("1" + "0" * 70, "EUR", "€999,999.99"),
    ],
)
def test_amounts_above_stripes_maximum_show_the_maximum(
    text: str, currency: str, shown_maximum: str
) -> None:
    with pytest.raises(AmountError) as caught:
        parse_amount(text, currency)
    assert caught.value.message == (
        f"Amount must be at most {shown_maximum}, the most Stripe can charge at once."
    )


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("999,999.99", "EUR", 99_999_999),
        ("99999999", "JPY", 99_999_999),
        ("99999.990", "KWD", 99_999_990),
        ("999999", "ISK", 99_999_900),
    ],
)
def test_stripes_maximum_itself_is_accepted(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency).minor == minor


@pytest.mark.parametrize(
    ("text", "currency", "suggestion"),
    [
        ("12.345", "KWD", "enter 12.340 or 12.350"),
        ("0.201", "BHD", "enter 0.200 or 0.210"),
        ("5.124", "KWD", "enter 5.120 or 5.130"),
    ],
)
def test_three_decimal_amounts_must_end_in_zero(text: str, currency: str, suggestion: str) -> None:
    with pytest.raises(AmountError) as caught:
        parse_amount(text, currency)
    assert caught.value.message == (
        f"Stripe only accepts {currency} amounts in steps of 0.010: {suggestion}."
    )


def test_isk_off_step_amount_computed_elsewhere_is_refused() -> None:
    with pytest.raises(AmountError, match="ISK amounts in steps of 1: enter 1500 or 1501"):
        validate_amount(Money(150050, "ISK"))


def test_validate_amount_returns_the_valid_money() -> None:
    money = Money(50, "EUR")
    assert validate_amount(money) is money


def valid_money() -> st.SearchStrategy[Money]:
    """Any amount Stripe would accept, in any currency of the table."""

    def in_currency(code: str) -> st.SearchStrategy[Money]:
        spec = CURRENCIES[code]
        steps = st.integers(spec.min_charge // spec.step, spec.max_charge // spec.step)
        return steps.map(lambda count: Money(count * spec.step, code))

    return st.sampled_from(sorted(CURRENCIES)).flatmap(in_currency)


@given(valid_money())
def test_form_value_parses_back_to_the_same_money(money: Money) -> None:
    assert parse_amount(format_decimal_amount(money), money.currency) == money


@given(valid_money())
def test_every_valid_amount_passes_validation(money: Money) -> None:
    assert validate_amount(money) is money
