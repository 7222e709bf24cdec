"""Money as Stripe counts it: an integer of minor units plus a currency.

All amounts live as ``int`` minor units in *Stripe's* exponent, so what we store is
exactly what we send to Stripe and what its webhooks send back. Floats never appear;
``Decimal`` appears only at the edges (parsing what staff type, formatting).

The one table of currency rules is :data:`CURRENCIES`. It follows Stripe's
"Supported currencies" guide (docs.stripe.com/currencies):

* **Minor units** -- "All API requests expect amount values in the currency's minor
  unit": 1000 charges 10.00 USD.
* **Zero-decimal** (BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF):
  the amount is sent without multiplying, 500 charges ¥500.
* **Three-decimal** (BHD JOD KWD OMR TND): three decimals in the API, but "the least
  significant (last) digit must be 0" -- 5.124 KWD has to become 5120 or 5130.
  Hence ``step = 10``.
* **Special cases**:
  ISK is effectively zero-decimal, yet "to maintain backwards compatibility, you must
  pass in amounts with two decimals" which must be "evenly divisible by 100" (ISK 5 is
  ``500``): ``decimals=0, stripe_exponent=2, step=100``.
  HUF and TWD are zero-decimal *for payouts only*; charges accept two decimals, so for
  invoicing they are ordinary two-decimal currencies.
* **Maximum**: "the amount value supports up to eight digits" -> :data:`MAX_AMOUNT`.
* **Minimum**: Stripe publishes a per-currency minimum charge for a set of currencies
  (``min_charge_published=True``). For the rest Stripe only says the charge must
  convert to at least 0.50 USD, so the table holds our estimate of that, rounded up
  with headroom for exchange-rate moves. Stripe applies the minimum in the *settlement*
  currency, which we cannot know here, so these checks catch the obvious cases and
  Stripe may still refuse an amount just above them.

Babel's CLDR digits are not Stripe's: CLDR gives RSD 0 digits where Stripe charges
two, and ISK's 0 digits say nothing of Stripe's ×100. So formatting takes its
precision from our table, never from Babel.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation
from enum import Enum
from functools import lru_cache, total_ordering, wraps
from types import MappingProxyType
from typing import TypeVar

from babel import Locale
from babel.numbers import NumberPattern, format_currency, get_currency_symbol

from .errors import AmountError, CurrencyError, CurrencyMismatch

__all__ = [
    "CURRENCIES",
    "MAX_AMOUNT",
    "CurrencySpec",
    "Money",
    "format_decimal_amount",
    "format_money",
    "fraction_of",
    "get_currency",
    "check_payment_amount",
    "card_chargeable",
    "parse_amount",
    "parse_payment_amount",
    "parse_refund_amount",
    "percent_of",
    "validate_amount",
]

MAX_AMOUNT = 99_999_999
"""Largest Stripe ``amount`` in minor units ("up to eight digits")."""


@dataclass(frozen=True, slots=True)
class CurrencySpec:
    """How one currency is typed, shown and sent to Stripe.

    ``decimals`` is what a person types and reads; ``stripe_exponent`` is the exponent
    of Stripe's integer ``amount``. They differ only where Stripe keeps a legacy
    representation (ISK: typed as whole krónur, sent ×100). ``step`` and
    ``min_charge`` are in Stripe minor units.
    """

    code: str
    decimals: int
    stripe_exponent: int
    step: int
    min_charge: int
    min_charge_published: bool

    @property
    def minor_per_unit(self) -> int:
        return 10**self.stripe_exponent

    @property
    def max_charge(self) -> int:
        """Largest chargeable amount: :data:`MAX_AMOUNT` rounded down to ``step``."""
        return MAX_AMOUNT - MAX_AMOUNT % self.step


class _Kind(Enum):
    """Stripe's representation families, as ``(decimals, stripe_exponent, step)``."""

    TWO_DECIMAL = (2, 2, 1)
    ZERO_DECIMAL = (0, 0, 1)
    THREE_DECIMAL = (3, 3, 10)
    ZERO_DECIMAL_SENT_AS_TWO = (0, 2, 100)


def _spec(code: str, kind: _Kind, min_charge: str, *, published: bool) -> CurrencySpec:
    """Build a table row; ``min_charge`` is written in major units, as Stripe lists it."""
    decimals, exponent, step = kind.value
    minor = Decimal(min_charge).scaleb(exponent)
    return CurrencySpec(code, decimals, exponent, step, int(minor), published)


def _published(code: str, kind: _Kind, min_charge: str) -> CurrencySpec:
    return _spec(code, kind, min_charge, published=True)


def _estimated(code: str, kind: _Kind, min_charge: str) -> CurrencySpec:
    return _spec(code, kind, min_charge, published=False)


_TWO = _Kind.TWO_DECIMAL
_ZERO = _Kind.ZERO_DECIMAL
_THREE = _Kind.THREE_DECIMAL

CURRENCIES: Mapping[str, CurrencySpec] = MappingProxyType(
    {
        spec.code: spec
        for spec in (
            # Minimums from Stripe's "Minimum and maximum charge amounts" table.
            _published("USD", _TWO, "0.50"),
            _published("AED", _TWO, "2.00"),
            _published("AUD", _TWO, "0.50"),
            _published("BGN", _TWO, "1.00"),
            _published("BRL", _TWO, "0.50"),
            _published("CAD", _TWO, "0.50"),
            _published("CHF", _TWO, "0.50"),
            _published("CZK", _TWO, "15.00"),
            _published("DKK", _TWO, "2.50"),
            _published("EUR", _TWO, "0.50"),
            _published("GBP", _TWO, "0.30"),
            _published("HKD", _TWO, "4.00"),
            _published("HUF", _TWO, "175.00"),
            _published("INR", _TWO, "0.50"),
            _published("JPY", _ZERO, "50"),
            _published("MXN", _TWO, "10.00"),
            _published("MYR", _TWO, "2.00"),
            _published("NOK", _TWO, "3.00"),
            _published("NZD", _TWO, "0.50"),
            _published("PLN", _TWO, "2.00"),
            _published("RON", _TWO, "2.00"),
            _published("SEK", _TWO, "3.00"),
            _published("SGD", _TWO, "0.50"),
            _published("THB", _TWO, "10.00"),
            # Our estimates of 0.50 USD, rounded up with headroom.
            _estimated("CNY", _TWO, "4.00"),
            _estimated("ILS", _TWO, "2.00"),
            _estimated("PHP", _TWO, "30.00"),
            _estimated("RSD", _TWO, "60.00"),
            _estimated("SAR", _TWO, "2.00"),
            _estimated("TWD", _TWO, "20.00"),
            _estimated("ZAR", _TWO, "10.00"),
            _estimated("BIF", _ZERO, "1500"),
            _estimated("CLP", _ZERO, "500"),
            _estimated("DJF", _ZERO, "100"),
            _estimated("GNF", _ZERO, "5000"),
            _estimated("KMF", _ZERO, "250"),
            _estimated("KRW", _ZERO, "1000"),
            _estimated("MGA", _ZERO, "3000"),
            _estimated("PYG", _ZERO, "5000"),
            _estimated("RWF", _ZERO, "1000"),
            _estimated("UGX", _ZERO, "2000"),
            _estimated("VND", _ZERO, "15000"),
            _estimated("VUV", _ZERO, "100"),
            _estimated("XAF", _ZERO, "400"),
            _estimated("XOF", _ZERO, "400"),
            _estimated("XPF", _ZERO, "100"),
            _estimated("BHD", _THREE, "0.200"),
            _estimated("JOD", _THREE, "0.400"),
            _estimated("KWD", _THREE, "0.200"),
            _estimated("OMR", _THREE, "0.200"),
            _estimated("TND", _THREE, "2.000"),
            _estimated("ISK", _Kind.ZERO_DECIMAL_SENT_AS_TWO, "100"),
        )
    }
)


def get_currency(code: str) -> CurrencySpec:
    """Return the spec for an ISO code in any case ("eur", as Stripe sends it, works)."""
    spec = CURRENCIES.get(code.upper()) if isinstance(code, str) else None
    if spec is None:
        raise CurrencyError(f"{code!r} is not a supported currency.")
    return spec


_T = TypeVar("_T")


def _same_currency(op: Callable[[Money, Money], _T]) -> Callable[[Money, object], _T]:
    """Let a binary operator accept only Money of the same currency."""

    @wraps(op)
    def checked(self: Money, other: object) -> _T:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} and {other.currency} amounts.")
        return op(self, other)

    return checked


# Conversion to minor units must be exact: losing a non-zero digit (Inexact) is an
# error, never a rounding; dropping trailing zeros (Rounded alone) is fine. The
# explicit context also shields us from whatever the host set as decimal's default.
_EXACT = Context(prec=60, traps=[Inexact, InvalidOperation])


@total_ordering
@dataclass(frozen=True, slots=True)
class Money:
    """An immutable amount in Stripe minor units; ``Money(1050, "EUR")`` is €10.50.

    Combining or ordering two currencies raises :class:`CurrencyMismatch` instead of
    silently comparing numbers. ``minor`` must be a real ``int``: a float or Decimal
    here means a conversion was skipped somewhere, which is a bug, so it raises
    ``TypeError``.
    """

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.minor) is not int:
            raise TypeError(
                f"Money.minor must be an int of minor units, not {type(self.minor).__name__}"
            )
        object.__setattr__(self, "currency", get_currency(self.currency).code)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, amount: Decimal, currency: str) -> Money:
        """Convert a major-unit Decimal exactly, or raise :class:`AmountError`.

        Precision is checked against ``stripe_exponent`` (ISK 1.50 converts to 150);
        whether Stripe would *accept* the result is :func:`validate_amount`'s job.
        """
        if not isinstance(amount, Decimal):
            raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
        if not amount.is_finite():
            raise ValueError(f"amount must be finite, not {amount}")
        spec = get_currency(currency)
        try:
            minor = amount.quantize(Decimal(1).scaleb(-spec.stripe_exponent), context=_EXACT)
        except Inexact:
            raise AmountError(_too_precise(spec)) from None
        except InvalidOperation:
            raise AmountError(_too_large(spec)) from None
        return cls(int(minor.scaleb(spec.stripe_exponent, context=_EXACT)), spec.code)

    @property
    def spec(self) -> CurrencySpec:
        return CURRENCIES[self.currency]

    def as_decimal(self) -> Decimal:
        """The amount in major units, exact, with ``stripe_exponent`` places."""
        sign, digits, _ = Decimal(self.minor).as_tuple()
        return Decimal((sign, digits, -self.spec.stripe_exponent))

    @_same_currency
    def __add__(self, other: Money) -> Money:
        return Money(self.minor + other.minor, self.currency)

    @_same_currency
    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - other.minor, self.currency)

    @_same_currency
    def __lt__(self, other: Money) -> bool:
        return self.minor < other.minor


# --- Parsing and validating what staff type -------------------------------------------

# Digits with optional thousands commas in the right places, an optional fraction.
# ASCII only: ``\d`` would also accept Arabic-Indic and other digits.
_AMOUNT_PATTERN = re.compile(
    r"(?P<sign>[-+]?)(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.(?P<fraction>[0-9]*))?"
)


def parse_amount(text: str, currency: str) -> Money:
    """Turn what staff typed ("1250", "1,250.50", " 12.5 ") into chargeable Money.

    Only ``.`` is a decimal point and ``,`` a thousands separator, and only in the
    right places: "1,25" is refused rather than guessed as 125 or 1.25. Trailing zeros
    do not count as decimals ("1500.00" is a valid JPY amount). The result has passed
    :func:`validate_amount`.
    """
    return validate_amount(_typed_amount(text, get_currency(currency)))


def _typed_amount(text: str, spec: CurrencySpec) -> Money:
    """What staff typed, read exactly as a Decimal (never a float) into minor units."""
    cleaned = text.strip()
    if not cleaned:
        raise AmountError("Enter an amount.")
    match = _AMOUNT_PATTERN.fullmatch(cleaned)
    if match is None or not (match["whole"] or match["fraction"]):
        raise AmountError(f"Enter the amount as a number, like {_example(spec)}.")
    fraction = match["fraction"] or ""
    if len(fraction.rstrip("0")) > spec.decimals:
        raise AmountError(_too_precise(spec))
    whole = match["whole"].replace(",", "") or "0"
    amount = Decimal(f"{match['sign']}{whole}.{fraction or '0'}")
    return Money.from_decimal(amount, spec.code)


def parse_payment_amount(text: str, currency: str) -> Money:
    """What staff typed as an amount received outside Stripe (issue 15: a payment recorded
    by hand), read as :func:`parse_amount` reads it.

    Cash, a cheque or a bank transfer is not a Stripe charge: Stripe's minimum does not
    apply. The amount must be more than zero, no more than the currency's
    ``max_charge`` (a sanity bound), and a whole number of the currency's steps (its
    smallest coin in the plugin's table), so the paid amount and the balance stay
    amounts the currency can hold.
    """
    spec = get_currency(currency)
    money = _typed_amount(text, spec)
    return check_payment_amount(money)


def check_payment_amount(money: Money) -> Money:
    """The rules of :func:`parse_payment_amount` for an amount already in minor units."""
    spec = money.spec
    if money.minor <= 0:
        raise AmountError("Amount must be greater than zero.")
    if money.minor > spec.max_charge:
        raise AmountError(_too_large(spec))
    if money.minor % spec.step:
        below = money.minor - money.minor % spec.step
        lower, upper = (format_decimal_amount(Money(minor, spec.code)) for minor in (below, below + spec.step))
        raise AmountError(f"{spec.code} amounts come in steps of "
                          f"{format_decimal_amount(Money(spec.step, spec.code))}: enter {lower} or {upper}.")
    return money


def parse_refund_amount(text: str, currency: str) -> Money:
    """What staff typed as an amount to give back, read as :func:`parse_amount` reads it.

    A refund is not a charge: Stripe's minimum charge and amount step do not apply, only
    that it is more than zero (https://docs.stripe.com/api/refunds/create#create_refund-amount:
    a positive integer in the smallest currency unit). Whether it is no more than what is
    left to refund is the caller's to check (and Stripe's).
    """
    spec = get_currency(currency)
    money = _typed_amount(text, spec)
    if money.minor <= 0:
        raise AmountError("Amount must be greater than zero.")
    if money.minor > spec.max_charge:
        raise AmountError(_too_large(spec))
    return money


def card_chargeable(money: Money) -> bool:
    """Whether Stripe can charge ``money`` by card (:func:`validate_amount` accepts it): a
    balance below the currency's minimum charge, or not a whole step, cannot be paid online
    and must be settled another way (marked paid by hand, or credited)."""
    try:
        validate_amount(money)
    except AmountError:
        return False
    return True


def validate_amount(money: Money) -> Money:
    """Apply Stripe's charge rules (positive, maximum, minimum, step) and return ``money``.

    Used on every amount we may ask Stripe to charge, typed or computed (a deposit
    percentage), so both get the same messages.
    """
    spec = money.spec
    if money.minor <= 0:
        raise AmountError("Amount must be greater than zero.")
    if money.minor > spec.max_charge:
        raise AmountError(_too_large(spec))
    if money.minor < spec.min_charge:
        smallest = format_money(Money(spec.min_charge, spec.code))
        raise AmountError(
            f"Amount must be at least {smallest}, the least Stripe can charge in {spec.code}."
        )
    if money.minor % spec.step:
        below = money.minor - money.minor % spec.step
        step, lower, upper = (
            format_decimal_amount(Money(minor, spec.code))
            for minor in (spec.step, below, below + spec.step)
        )
        raise AmountError(
            f"Stripe only accepts {spec.code} amounts in steps of {step}: "
            f"enter {lower} or {upper}."
        )
    return money


def _too_large(spec: CurrencySpec) -> str:
    largest = format_money(Money(spec.max_charge, spec.code))
    return f"Amount must be at most {largest}, the most Stripe can charge at once."


def _too_precise(spec: CurrencySpec) -> str:
    if spec.decimals == 0:
        return f"{spec.code} has no decimal places: enter a whole amount like {_example(spec)}."
    return f"{spec.code} amounts have at most {spec.decimals} decimal places."


def _example(spec: CurrencySpec) -> str:
    """A plausible amount with the currency's decimals: 1500, 1250.50, 1250.500."""
    return f"1250.{'5':0<{spec.decimals}}" if spec.decimals else "1500"


# --- Formatting -----------------------------------------------------------------------


def _display_places(money: Money) -> int:
    """Decimals to show: the currency's own, unless that would hide part of the amount.

    Only amounts off Stripe's step can have digits beyond ``decimals`` (ISK 1,500.50);
    showing them beats rounding money away in silence.
    """
    spec = money.spec
    hidden = 10 ** (spec.stripe_exponent - spec.decimals)
    return spec.decimals if money.minor % hidden == 0 else spec.stripe_exponent


def format_money(money: Money, locale: Locale | str = "en_US") -> str:
    """Format for people with the locale's standard currency pattern ("€10.50", "¥1,500").

    The fraction digits come from our table (see the module docstring), by overriding
    the precision of the locale's pattern and telling Babel not to apply its own.
    """
    parsed, pattern = _currency_pattern(str(locale), _display_places(money), money.currency)
    return format_currency(
        money.as_decimal(), money.currency, format=pattern, locale=parsed, currency_digits=False
    )


@lru_cache(maxsize=512)
def _currency_pattern(locale: str, places: int, currency: str) -> tuple[Locale, NumberPattern]:
    """The locale and its standard currency pattern for ``currency`` with ``places``
    fraction digits.

    Parsing a locale and its pattern costs far more than formatting one amount, and
    both are immutable here (the copy is never handed out), so they are kept. The
    currency's code and symbol are put in the pattern's prefix and suffix once, as
    Babel would put them in every formatted amount (``¤¤`` the code, ``¤`` the symbol):
    then Babel finds no ``¤`` to replace, and does not look the currency's name up in
    the locale's data for each amount. (A pattern with ``¤¤¤``, the plural name, which
    depends on the amount, or a symbol holding ``¤`` is left to Babel.)
    """
    parsed = Locale.parse(locale)
    pattern = copy.copy(parsed.currency_formats["standard"])
    pattern.frac_prec = (places, places)
    symbol = get_currency_symbol(currency, parsed)
    affixes = (*pattern.prefix, *pattern.suffix)
    if "¤" not in symbol and not any("¤¤¤" in affix for affix in affixes):
        code = currency.upper()

        def filled(affix: str) -> str:
            return affix.replace("¤¤", code).replace("¤", symbol)

        pattern.prefix = tuple(filled(affix) for affix in pattern.prefix)
        pattern.suffix = tuple(filled(affix) for affix in pattern.suffix)
    return parsed, pattern


def format_decimal_amount(money: Money) -> str:
    """The plain number for a form field ("1250.50", "1500"); :func:`parse_amount` reads it back."""
    spec = money.spec
    places = _display_places(money)
    sign = "-" if money.minor < 0 else ""
    units, remainder = divmod(abs(money.minor), spec.minor_per_unit)
    if not places:
        return f"{sign}{units}"
    # The digits cut off past ``places`` are zeros, by the choice of ``places``.
    fraction = f"{remainder:0{spec.stripe_exponent}d}"[:places]
    return f"{sign}{units}.{fraction}"


# --- Proportions ----------------------------------------------------------------------


def fraction_of(money: Money, numerator: int, denominator: int) -> Money:
    """``money × numerator / denominator`` in integers, rounded half up to the step.

    "Half up" means halves move away from zero, like ``ROUND_HALF_UP`` and like Stripe's
    own fee rounding. Rounding to ``step`` keeps the result chargeable (ISK in whole
    krónur, three-decimal currencies ending in 0).
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    step = money.spec.step
    quotient, remainder = divmod(abs(money.minor * numerator), denominator * step)
    if 2 * remainder >= denominator * step:
        quotient += 1
    sign = -1 if money.minor * numerator < 0 else 1
    return Money(sign * quotient * step, money.currency)


def percent_of(money: Money, percent: Decimal) -> Money:
    """``percent`` % of ``money`` (``Decimal("12.5")`` is 12.5 %), rounded as in
    :func:`fraction_of`."""
    if not isinstance(percent, Decimal):
        raise TypeError(f"percent must be a Decimal, not {type(percent).__name__}")
    if not percent.is_finite():
        raise ValueError(f"percent must be finite, not {percent}")
    numerator, denominator = percent.as_integer_ratio()
    return fraction_of(money, numerator, denominator * 100)
