"""What a client may pay through the pay link of an invoice that allows partial payments.

Pure rules on integer minor units (issue 15, "Partial payments and balance due"): staff
may let the client pay part of an invoice, at least ``minimum``; the pay link then asks
the client for an amount from ``min(minimum, balance)`` up to the balance (default: the
balance). Each amount must also be one Stripe can charge in the currency
(:func:`~.money.validate_amount`: its minimum charge, maximum and step).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import AmountError
from .money import Money, format_money, parse_amount

__all__ = ["PartialRange", "partial_range", "choose_amount", "MAX_TYPED"]

#: The longest text read as an amount; anything longer is refused before it is parsed.
MAX_TYPED = 32


@dataclass(frozen=True)
class PartialRange:
    """The amounts a client may choose, in minor units of ``currency``: ``low``..``high``."""

    low_minor: int
    high_minor: int
    currency: str

    @property
    def default_minor(self) -> int:
        """What the form proposes: the whole balance."""
        return self.high_minor


def partial_range(balance_minor: int, minimum_minor: int | None, currency: str) -> PartialRange:
    """The range for a balance due of ``balance_minor`` (> 0) and staff's ``minimum_minor``:
    from the minimum (or the balance, if smaller) to the balance."""
    if type(balance_minor) is not int or balance_minor <= 0:
        raise ValueError(f"nothing is due ({balance_minor!r}): no amount to choose")
    low = balance_minor if minimum_minor is None else min(int(minimum_minor), balance_minor)
    return PartialRange(low, balance_minor, currency)


def choose_amount(text: object, allowed: PartialRange) -> Money:
    """The amount the client typed (``"250.50"``, ``"1,000"``), as :class:`Money` within ``allowed``.

    Raises :class:`~.errors.AmountError` with a message for the client: not text, too long,
    a NUL or other control character, not a number, more decimals than the currency has,
    outside the range, or not an amount Stripe can charge. Never a float: the text is read
    as a Decimal (:func:`~.money.parse_amount`).
    """
    low, high = (format_money(Money(m, allowed.currency)) for m in (allowed.low_minor, allowed.high_minor))
    if not isinstance(text, str):
        raise AmountError("Enter the amount to pay as a number.")
    if len(text) > MAX_TYPED or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise AmountError(f"Enter an amount from {low} to {high}.")
    money = parse_amount(text, allowed.currency)  # Stripe's limits for the currency
    if money.minor > allowed.high_minor:
        raise AmountError(f"That is more than the {high} due: enter an amount from {low} to {high}.")
    if money.minor < allowed.low_minor:
        raise AmountError(f"The least you can pay now is {low}: enter an amount from {low} to {high}.")
    return money
