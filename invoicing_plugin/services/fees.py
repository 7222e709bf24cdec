"""Platform fees by plan: the rate for a workspace and the breakdown staff see.

The fee itself is computed by :func:`invoicing_plugin.domain.fees.application_fee`
(integer minor units, rounded half up to the currency's Stripe step, never above
the amount). It is locked on the invoice when the invoice is sent (``fee_bps`` and
``application_fee_minor``), in Connect mode only: a workspace using its own Stripe
key pays no platform fee. A later plan change does not alter sent invoices.

An invoice staff marked paid by hand (bank transfer, cash, cheque) carries no platform
fee: Stripe takes an application fee only from a charge made through it
(:func:`~invoicing_plugin.domain.fees.fee_taken_minor`). Its locked fee stays stored
but is not shown, counted or exported; its payout is the amount received.

A workspace whose plan has no rate in ``INVOICING_PLAN_FEES_BPS`` never gets a
silent 0 %: :func:`plan_fee_bps` raises :class:`UnknownPlan`, so sending it
through Stripe Connect is refused with a message naming the plan and the
setting, while its pages still render (:attr:`FeeBreakdown.problem`). The rates are
read from the ``uow``'s settings (:class:`~.uow.UnitOfWork`), by default the app's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..domain.balance import of_invoice
from ..domain.fees import (
    BPS_PER_WHOLE,
    PAID_THROUGH_STRIPE,
    application_fee,
    fee_of_part,
    net_payout,
    paid_outside_stripe,
)
from ..domain.statuses import AWAITING_MONEY
from ..domain.money import Money
from .common import unit_of_work
from .errors import InvoicingError
from .payment_rows import payments_of
from .uow import UnitOfWork

__all__ = ["FeeBreakdown", "UnknownPlan", "fee_breakdown", "plan_fee_bps"]


class UnknownPlan(InvoicingError, LookupError):
    """The workspace's plan has no rate in ``INVOICING_PLAN_FEES_BPS``; ``message`` names both."""

    def __init__(self, plan) -> None:
        super().__init__(
            f"No platform fee is configured for this workspace's plan {plan!r}: the platform must add it to "
            "INVOICING_PLAN_FEES_BPS before invoices can be sent for online payment through Stripe Connect. "
            "You can send the invoice manually (no payment link) meanwhile.",
            field="method",
        )
        self.plan = plan


def plan_fee_bps(plan: str, *, uow: UnitOfWork | None = None) -> int:
    """The fee rate of ``plan`` in basis points, from ``INVOICING_PLAN_FEES_BPS``.

    Raises :class:`UnknownPlan` (an :class:`InvoicingError` and a ``LookupError``)
    for a plan the setting does not list: never a silent 0 %.
    """
    rates = (uow or unit_of_work()).settings["INVOICING_PLAN_FEES_BPS"]
    try:
        return int(rates[plan])
    except (KeyError, TypeError):  # TypeError: an unhashable plan value from the host
        raise UnknownPlan(plan) from None


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
    #: Why the fee cannot be estimated (the plan has no configured rate), for staff; else ``None``.
    problem: str | None = None
    #: True when staff marked the invoice paid by hand: no fee, and ``payout`` is what was received.
    paid_outside_stripe: bool = False
    #: Deposits, client credit and credit notes taken off the total: no money moves through Stripe.
    deducted: Money | None = None
    #: Money staff recorded by hand (bank transfer, cash, ...) on an invoice that also goes
    #: through Stripe: not part of the Stripe payout.
    by_hand: Money | None = None
    #: What the invoice's Stripe payments brought so far (before the fee).
    through_stripe: Money | None = None

    @property
    def rate_percent(self) -> str:
        """``"3.5%"``, ``"4%"``: the rate as people write it."""
        percent = (Decimal(self.rate_bps) * 100 / BPS_PER_WHOLE).normalize()
        return f"{percent:f}%"


def _received(invoice, uow: UnitOfWork | None) -> tuple[int, int]:
    """(through Stripe, by hand) in minor units: the sums of the invoice's payment rows."""
    if not int(getattr(invoice, "amount_paid_minor", 0) or 0) or getattr(invoice, "id", None) is None:
        return 0, 0
    rows = (uow or unit_of_work()).session
    payments = payments_of(rows, str(invoice.workspace_id), int(invoice.id))
    stripe = sum(p.amount_minor for p in payments if p.method == PAID_THROUGH_STRIPE)
    return stripe, sum(p.amount_minor for p in payments) - stripe


def fee_breakdown(invoice, plan: str | None = None, *, uow: UnitOfWork | None = None) -> FeeBreakdown:
    """The breakdown for ``invoice``: the locked fee once sent, else an estimate at ``plan``'s rate.

    The payout is what Stripe pays out: the invoice's Stripe payments less the fees actually
    taken from them, plus, while money is still awaited, the balance due less its share of
    the fee (what the pay link's Checkout Session asks for and takes,
    :func:`~invoicing_plugin.domain.fees.fee_of_part`). Deposits and credit deducted
    (``deducted``) and money recorded by hand (``by_hand``) never go through Stripe and are
    not in it. An invoice paid wholly by hand shows no fee and the amount received as its
    payout (``paid_outside_stripe``).
    A draft shows the fee it would get if sent now under ``plan`` (Connect mode);
    with no ``plan`` given, a draft shows no fee. A ``plan`` with no configured
    rate gives no fee and a :attr:`~FeeBreakdown.problem` saying so.
    """
    currency = invoice.currency
    gross = Money(int(invoice.amount_minor), currency)
    zero = Money.zero(currency)
    balance = of_invoice(invoice)
    awaited = balance.balance_due_minor if invoice.status == "draft" or invoice.status in AWAITING_MONEY else 0
    if paid_outside_stripe(invoice.payment_method) and not invoice.fees_taken_minor and not awaited:
        received = invoice.amount_paid_minor if invoice.amount_paid_minor is not None else invoice.amount_minor
        return FeeBreakdown(gross, zero, Money(int(received), currency), 0,
                            locked=True, applies=False, paid_outside_stripe=True)
    stripe_minor, by_hand_minor = _received(invoice, uow)
    split = {name: Money(minor, currency) if minor else None for name, minor in (
        ("deducted", balance.prepaid_minor + balance.credited_minor), ("by_hand", by_hand_minor),
        ("through_stripe", stripe_minor))}
    stripe_total = Money(stripe_minor + awaited, currency)

    def payout(fee: Money) -> Money:
        return net_payout(stripe_total, min(fee, stripe_total))

    if invoice.fee_bps is not None and invoice.application_fee_minor is not None:
        # The fees its Stripe payments actually carried (a part's share, none on parts paid
        # by hand), plus the share the awaited balance's Checkout Session would take.
        taken = int(invoice.fees_taken_minor or 0)
        locked = Money(int(invoice.application_fee_minor), currency)
        rest = fee_of_part(locked, awaited, int(invoice.amount_minor), paid_before_minor=balance.received_minor,
                           taken_before_minor=taken) if awaited else zero
        fee = Money(taken, currency) + rest
        applies = invoice.stripe_mode != "own_key"
        return FeeBreakdown(gross, fee, payout(fee), invoice.fee_bps, locked=True, applies=applies, **split)
    if invoice.status == "draft" and plan is not None and invoice.stripe_mode != "own_key":
        try:
            rate = plan_fee_bps(plan, uow=uow)
        except UnknownPlan as exc:
            return FeeBreakdown(gross, zero, stripe_total, 0, locked=False, applies=False, problem=exc.message,
                                **split)
        fee = fee_of_part(application_fee(gross, rate), awaited, gross.minor, paid_before_minor=0,
                          taken_before_minor=0)
        return FeeBreakdown(gross, fee, payout(fee), rate, locked=False, applies=True, **split)
    return FeeBreakdown(gross, zero, stripe_total, 0, locked=invoice.status != "draft", applies=False, **split)
