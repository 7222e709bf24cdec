"""The platform's application fee, taken from each Stripe payment.

Rates are in basis points (1 bp = 0.01 %) so that every plan's rate is an integer and
the fee is computed in integers only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .money import Money, fraction_of

__all__ = ["BPS_PER_WHOLE", "DEFAULT_PLAN_FEE_BPS", "PAID_THROUGH_STRIPE", "application_fee", "fee_of_part",
           "fee_share", "fee_taken_minor", "fees_of_invoice", "net_payout", "paid_outside_stripe"]

BPS_PER_WHOLE = 10_000
"""Basis points in 100 %."""

DEFAULT_PLAN_FEE_BPS: Mapping[str, int] = MappingProxyType(
    {"starter": 400, "pro": 350, "team": 200}
)
"""Fee per plan: Starter 4 %, Pro 3.5 %, Team 2 %."""


PAID_THROUGH_STRIPE = "stripe"
"""``Invoice.payment_method`` of a payment made through Stripe Checkout; every other value
(``bank_transfer``, ``cash``, ``cheque``, ``other``) is a payment staff recorded by hand."""


def paid_outside_stripe(payment_method: str | None) -> bool:
    """Whether an invoice's payment was received outside Stripe (marked paid by hand).

    ``None`` (not paid yet, or voided) is not: the fee locked at send still applies to
    the Stripe payment the invoice awaits.
    """
    return payment_method is not None and payment_method != PAID_THROUGH_STRIPE


def fee_taken_minor(locked_fee_minor: int | None, payment_method: str | None) -> int:
    """The platform fee an invoice carries, in minor units: the fee locked when it was sent,
    or 0 when it was paid outside Stripe.

    Stripe collects an application fee only on a charge made through it ("When you collect a
    transaction fee on top of a charge made for your user (using Connect), an Application Fee
    object is created", https://docs.stripe.com/api/application_fees; the fee is the Checkout
    Session's ``payment_intent_data.application_fee_amount``,
    https://docs.stripe.com/connect/destination-charges): a bank transfer, cash or a cheque
    never passes through Stripe, so nothing is taken from it. The locked fee stays on the
    invoice (``Invoice.application_fee_minor``) as the fee a Stripe payment would carry.
    """
    if paid_outside_stripe(payment_method):
        return 0
    return int(locked_fee_minor or 0)


def fees_of_invoice(locked_fee_minor: int | None, fees_taken_minor: int | None, amount_paid_minor: int | None,
                    payment_method: str | None) -> int:
    """The platform fee an invoice carries wherever a fee is shown, summed or exported, in
    minor units: once money was received (``amount_paid_minor`` above 0), the fees actually
    taken from its Stripe payments (``Invoice.fees_taken_minor``, the sum of its payment rows'
    ``application_fee_minor``: 14.00 for 400.00 of a 1,000.00 invoice at 3.5 %, 0 when all was
    paid by hand, whatever the latest payment's method); before, what a Stripe payment of the
    whole would carry (:func:`fee_taken_minor`: the locked fee)."""
    if amount_paid_minor:
        return int(fees_taken_minor or 0)
    return fee_taken_minor(locked_fee_minor, payment_method)


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


def fee_share(locked_fee: Money, amount_minor: int, total_minor: int) -> Money:
    """The part of an invoice's locked fee taken from a payment of ``amount_minor`` of its
    ``total_minor``: ``fee × amount / total``, rounded half up to the currency's step, never
    above the amount (issue 15: a Checkout Session for the balance carries the balance's
    share of the fee). The whole total carries the whole fee; a total of 0 carries none.
    """
    for name, value in (("amount_minor", amount_minor), ("total_minor", total_minor)):
        if type(value) is not int or value < 0:
            raise ValueError(f"{name} must be a non-negative int, not {value!r}")
    if locked_fee.minor < 0:
        raise ValueError(f"the locked fee cannot be negative: {locked_fee}")
    if total_minor == 0 or amount_minor == 0:
        return Money.zero(locked_fee.currency)
    if amount_minor >= total_minor:
        share = locked_fee
    else:
        share = fraction_of(locked_fee, amount_minor, total_minor)
    return min(share, Money(amount_minor, locked_fee.currency))


def fee_of_part(locked_fee: Money, amount_minor: int, total_minor: int, *, paid_before_minor: int,
                taken_before_minor: int) -> Money:
    """The platform fee taken from one Stripe payment of ``amount_minor`` of an invoice of
    ``total_minor`` whose fee locked at send is ``locked_fee``, when payments of any kind
    (through Stripe or by hand) had brought ``paid_before_minor`` and Stripe payments had
    ``taken_before_minor`` of fees.

    Shares are rounded on the running total of what was paid, not part by part: the fee is
    ``fee_share(paid_before + amount) - fee_share(paid_before)``, kept between 0 and the
    amount and never above ``locked - taken_before``. So the shares telescope: the fees of
    the parts add up to at most the locked fee (each rounded half up on its own could
    exceed it, 3.535 + 31.465 -> 3.54 + 31.47 = 35.01 on 35.00), the last part of an invoice
    paid wholly through Stripe takes the locked fee less the fees already taken, and a part
    paid by hand (which carries no fee) leaves its share untaken: a Stripe part after it
    takes its own share only. With nothing paid before it is :func:`fee_share`.
    """
    for name, value in (("paid_before_minor", paid_before_minor), ("taken_before_minor", taken_before_minor)):
        if type(value) is not int or value < 0:
            raise ValueError(f"{name} must be a non-negative int, not {value!r}")
    before = fee_share(locked_fee, min(paid_before_minor, total_minor), total_minor).minor
    after = fee_share(locked_fee, min(paid_before_minor + amount_minor, total_minor), total_minor).minor
    fee = min(after - before, amount_minor, locked_fee.minor - taken_before_minor)
    return Money(max(fee, 0), locked_fee.currency)
