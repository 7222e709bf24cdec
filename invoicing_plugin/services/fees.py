"""Platform fees by plan: the rate for a workspace and the breakdown staff see.

The fee itself is computed by :func:`invoicing_plugin.domain.fees.application_fee`
(integer minor units, rounded half up to the currency's Stripe step, never above
the amount). It is locked on the invoice when the invoice is sent (``fee_bps`` and
``application_fee_minor``), in Connect mode only: a workspace using its own Stripe
key pays no platform fee. A later plan change does not alter sent invoices.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask import current_app

from ..domain.fees import BPS_PER_WHOLE, application_fee, net_payout
from ..domain.money import Money

__all__ = ["FeeBreakdown", "fee_breakdown", "plan_fee_bps"]


def plan_fee_bps(plan: str) -> int:
    """The fee rate of ``plan`` in basis points, from ``INVOICING_PLAN_FEES_BPS``."""
    rates = current_app.config["INVOICING_PLAN_FEES_BPS"]
    try:
        return rates[plan]
    except KeyError:
        raise LookupError(
            f"No platform fee is configured for plan {plan!r}: add it to INVOICING_PLAN_FEES_BPS."
        ) from None


@dataclass(frozen=True)
class FeeBreakdown:
    """Gross amount, platform fee and what the workspace receives before Stripe's fee."""

    gross: Money
    fee: Money
    payout: Money
    rate_bps: int
    #: True once the invoice was sent (the fee can no longer change).
    locked: bool
    #: False when no platform fee applies (own Stripe key, or paid outside Stripe).
    applies: bool

    @property
    def rate_percent(self) -> str:
        """``"3.5%"``, ``"4%"``: the rate as people write it."""
        percent = (Decimal(self.rate_bps) * 100 / BPS_PER_WHOLE).normalize()
        return f"{percent:f}%"


def fee_breakdown(invoice, plan: str | None = None) -> FeeBreakdown:
    """The breakdown for ``invoice``: the locked fee once sent, else an estimate at ``plan``'s rate.

    A draft shows the fee it would get if sent now under ``plan`` (Connect mode);
    with no ``plan`` given, a draft shows no fee.
    """
    gross = Money(int(invoice.amount_minor), invoice.currency)
    if invoice.fee_bps is not None and invoice.application_fee_minor is not None:
        fee = Money(int(invoice.application_fee_minor), invoice.currency)
        applies = invoice.stripe_mode != "own_key"
        return FeeBreakdown(gross, fee, net_payout(gross, fee), invoice.fee_bps, locked=True, applies=applies)
    if invoice.status == "draft" and plan is not None and invoice.stripe_mode != "own_key":
        rate = plan_fee_bps(plan)
        fee = application_fee(gross, rate)
        return FeeBreakdown(gross, fee, net_payout(gross, fee), rate, locked=False, applies=True)
    zero = Money.zero(invoice.currency)
    return FeeBreakdown(gross, zero, gross, 0, locked=invoice.status != "draft", applies=False)
