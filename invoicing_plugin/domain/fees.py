"""The platform's application fee, taken from each Stripe payment.

Rates are in basis points (1 bp = 0.01 %) so that every plan's rate is an integer and
the fee is computed in integers only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .money import Money, fraction_of

__all__ = ["BPS_PER_WHOLE", "DEFAULT_PLAN_FEE_BPS", "application_fee", "net_payout"]

BPS_PER_WHOLE = 10_000
"""Basis points in 100 %."""

DEFAULT_PLAN_FEE_BPS: Mapping[str, int] = MappingProxyType(
    {"starter": 400, "pro": 350, "team": 200}
)
"""Fee per plan: Starter 4 %, Pro 3.5 %, Team 2 %."""


def application_fee(amount: Money, rate_bps: int) -> Money:
    """The platform fee on ``amount`` at ``rate_bps`` basis points.

    ``amount × rate_bps / 10 000``, rounded half up (halves away from zero) to the
    currency's Stripe step: to the cent for EUR, to the yen for JPY, to whole krónur
    for ISK, to 0.010 for three-decimal currencies. Half up matches how Stripe rounds
    its own fees, and rounding to the step keeps the fee a valid Stripe
    ``application_fee_amount``. The fee is zero for rate 0, never negative, and never
    above ``amount`` (rounding up to the step could otherwise exceed an amount that is
    itself off-step).
    """
    if type(rate_bps) is not int or not 0 <= rate_bps <= BPS_PER_WHOLE:
        raise ValueError(f"rate_bps must be an int from 0 to {BPS_PER_WHOLE}, not {rate_bps!r}")
    if amount.minor < 0:
        raise ValueError(f"cannot take a fee on a negative amount: {amount}")
    return min(fraction_of(amount, rate_bps, BPS_PER_WHOLE), amount)


def net_payout(amount: Money, fee: Money) -> Money:
    """What the merchant keeps after the platform fee, before Stripe's processing fee."""
    if not Money.zero(amount.currency) <= fee <= amount:
        raise ValueError(f"fee {fee} must be between zero and the amount {amount}")
    return amount - fee
