"""The currency table agrees with Stripe's currency guide and with itself."""

import pytest

from invoicing_plugin.domain import CURRENCIES, MAX_AMOUNT, CurrencyError, get_currency

STRIPE_ZERO_DECIMAL = "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()
STRIPE_THREE_DECIMAL = "BHD JOD KWD OMR TND".split()
COMMON_TWO_DECIMAL = (
    "USD EUR GBP CAD AUD NZD CHF SEK NOK DKK PLN CZK HUF TWD MXN BRL SGD HKD INR ZAR AED".split()
)
# Stripe's "Minimum and maximum charge amounts" table, in Stripe minor units.
STRIPE_PUBLISHED_MINIMUMS = {
    "USD": 50, "AED": 200, "AUD": 50, "BGN": 100, "BRL": 50, "CAD": 50, "CHF": 50,
    "CZK": 1500, "DKK": 250, "EUR": 50, "GBP": 30, "HKD": 400, "HUF": 17500, "INR": 50,
    "JPY": 50, "MXN": 1000, "MYR": 200, "NOK": 300, "NZD": 50, "PLN": 200, "RON": 200,
    "SEK": 300, "SGD": 50, "THB": 1000,
}  # fmt: skip


@pytest.mark.parametrize("code", STRIPE_ZERO_DECIMAL)
def test_zero_decimal_currencies_are_sent_to_stripe_unmultiplied(code: str) -> None:
    spec = get_currency(code)
    assert (spec.decimals, spec.stripe_exponent, spec.step, spec.minor_per_unit) == (0, 0, 1, 1)


@pytest.mark.parametrize("code", STRIPE_THREE_DECIMAL)
def test_three_decimal_currencies_must_end_in_zero(code: str) -> None:
    spec = get_currency(code)
    assert (spec.decimals, spec.stripe_exponent, spec.step) == (3, 3, 10)


@pytest.mark.parametrize("code", COMMON_TWO_DECIMAL)
def test_two_decimal_currencies_including_huf_and_twd_charges(code: str) -> None:
    spec = get_currency(code)
    assert (spec.decimals, spec.stripe_exponent, spec.step) == (2, 2, 1)


def test_isk_is_typed_whole_but_sent_times_100_in_whole_kronur() -> None:
    spec = get_currency("ISK")
    assert (spec.decimals, spec.stripe_exponent, spec.step) == (0, 2, 100)
    assert spec.minor_per_unit == 100


@pytest.mark.parametrize(("code", "minimum"), STRIPE_PUBLISHED_MINIMUMS.items())
def test_published_minimum_charge_matches_stripe(code: str, minimum: int) -> None:
    spec = get_currency(code)
    assert spec.min_charge == minimum
    assert spec.min_charge_published


def test_only_stripes_published_minimums_are_flagged_as_published() -> None:
    published = {code for code, spec in CURRENCIES.items() if spec.min_charge_published}
    assert published == set(STRIPE_PUBLISHED_MINIMUMS)


@pytest.mark.parametrize("spec", CURRENCIES.values(), ids=lambda spec: spec.code)
def test_every_minimum_is_chargeable(spec) -> None:
    assert spec.code.isupper() and len(spec.code) == 3
    assert 0 < spec.min_charge <= spec.max_charge <= MAX_AMOUNT
    assert spec.min_charge % spec.step == 0
    assert spec.max_charge % spec.step == 0


def test_max_amount_is_stripes_eight_digits() -> None:
    assert MAX_AMOUNT == 99_999_999


@pytest.mark.parametrize("code", ["eur", "Eur", "EUR"])
def test_currency_lookup_ignores_case(code: str) -> None:
    assert get_currency(code).code == "EUR"


@pytest.mark.parametrize("code", ["", "XYZ", "EURO", None])
def test_unknown_currency_is_refused_with_a_message(code) -> None:
    with pytest.raises(CurrencyError) as caught:
        get_currency(code)
    assert "not a supported currency" in caught.value.message


def test_currency_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        CURRENCIES["EUR"] = CURRENCIES["USD"]  # type: ignore[index]
