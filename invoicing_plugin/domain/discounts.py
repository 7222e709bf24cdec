"""A document discount shared among the invoice's VAT rates (EN 16931 BG-20).

EN 16931 gives every document level allowance (BG-20) one VAT category and rate
(BT-95/BT-96, BR-32/BR-33 with the reason BT-97), because the allowance lowers the
taxable amount (BT-116) of that rate's group. A discount "off the whole invoice" on an
invoice with lines at several rates is therefore written as **one allowance per (category,
rate) group, pro rata to the groups' line nets** -- the common practice (and what the
standard's own examples do) -- by :func:`prorate`:

1. work in the currency's unit (0.01 GBP/EUR, 1 JPY, 1 ISK);
2. each group's exact share = discount × group net / sum of the line nets (BT-106);
3. each group first gets its share rounded **down** to the unit;
4. the units still missing (fewer than the number of groups) go one each to the groups
   with the largest remainders cut off in step 3; a tie goes to the group with the larger
   net, then to the group that appears first on the invoice.

So the allowances add up to the discount exactly, no group's allowance exceeds its net
(a share is at most the net, and a unit is added only to a share that was cut), and a
group whose share rounds to nothing gets no allowance. Hand-worked (GBP): lines of
100.00 at 20 % and 50.00 at 5 %, a discount of 10.00: shares 6.6666… and 3.3333… →
6.66 and 3.33, one penny missing, the larger remainder (0.0066…) is the 20 % group's:
6.67 and 3.33.

Pure: the standard library and :mod:`.money` / :mod:`.en16931` only.
"""

from __future__ import annotations

from collections.abc import Sequence

from .en16931 import DocumentAllowance, VatRate
from .errors import AmountError
from .money import get_currency

__all__ = ["DISCOUNT_REASON", "prorate"]

DISCOUNT_REASON = "Discount"
"""BT-97, the allowance reason the plugin gives its document discount (BR-33)."""


def prorate(currency: str, groups: Sequence[tuple[VatRate, int]], amount_minor: int,
            reason: str = DISCOUNT_REASON) -> tuple[DocumentAllowance, ...]:
    """``amount_minor`` off the invoice as one :class:`~.en16931.DocumentAllowance` per
    (category, rate) group, pro rata to each group's line net (the rule above).

    ``groups``: ``(vat, net_minor)`` of each line in invoice order (lines at the same
    category and rate are summed into one group). ``amount_minor`` is an ``int`` of minor
    units, ≥ 0, in whole units of the currency and at most the sum of the nets; else
    :class:`AmountError` (field ``discount``). 0 gives no allowance."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError("amount_minor must be an int of minor units")
    spec = get_currency(currency)
    unit = 10 ** (spec.stripe_exponent - spec.decimals)
    if amount_minor < 0:
        raise AmountError("A discount cannot be negative.", field="discount")
    if amount_minor % unit:
        raise AmountError(f"{spec.code} discounts are in whole units of the currency.", field="discount")
    nets: dict[tuple, list] = {}
    for vat, net in groups:
        nets.setdefault(vat.key, [vat, 0])[1] += int(net)
    total = sum(net for _, net in nets.values())
    if amount_minor > total:
        raise AmountError("The discount is more than the lines' total without VAT.", field="discount")
    if amount_minor == 0:
        return ()
    units = amount_minor // unit
    shares = []  # [order, vat, net, floor units, remainder numerator]
    for order, (vat, net) in enumerate(nets.values()):
        whole, remainder = divmod(units * net, total)  # exact: integers only
        shares.append([order, vat, net, whole, remainder])
    missing = units - sum(share[3] for share in shares)
    for share in sorted(shares, key=lambda s: (-s[4], -s[2], s[0]))[:missing]:
        share[3] += 1
    return tuple(DocumentAllowance(share[3] * unit, share[1], reason) for share in shares if share[3] > 0)
