"""Prices typed with VAT included ("gross"): the line nets that reproduce what was typed.

Pure: the standard library, :mod:`.money` and :mod:`.en16931` only. EN 16931 carries
net prices and net line amounts (BT-146, BT-131) and computes VAT on each rate's net
total (:func:`.en16931.compute`). A workspace whose staff type prices *with* VAT needs
the nets first; :func:`net_lines` finds them so that the invoice's total with VAT is the
total the person typed. The rule (also in ``docs/invoices.md``):

1. Each line's **gross amount** is quantity × typed (VAT-inclusive) unit price, rounded
   half up to the currency's unit, minus the typed line discount -- the very rule of
   :func:`.en16931.line_net_amount`, applied to the gross figures.
2. Per VAT category and rate, the **typed total** T is the sum of those gross amounts.
   The group's net N is T × 100 / (100 + rate) rounded half up to the unit; if
   N + VAT(N) (VAT by :func:`.en16931.compute`'s rule) is not T, N − 1 and then N + 1 are
   tried, and the first that gives T exactly is taken. Then the invoice's VAT and total
   come out of :func:`.en16931.compute` as usual and equal what was typed.
   Rarely no net gives T (at 20 %, a typed total of 0.03 GBP: 0.02 + 0.00 VAT = 0.02,
   0.03 + 0.01 = 0.04); then N stays the rounded quotient and the total differs from
   the typed one by one unit of the currency (never more).
3. N is shared among the group's lines: each line's net is its gross amount × 100 /
   (100 + rate) rounded half up, and the difference to N (a unit or two) is added to
   (or taken from) the line with the largest gross amount, the first such line.

Lines at rate 0 (Z, E, AE, O) have net = gross.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Context, Decimal

from .en16931 import InvoiceLine, compute, line_net_amount
from .errors import AmountError
from .money import Money, get_currency

__all__ = ["net_lines"]

_DIVIDE = Context(prec=60, rounding=ROUND_HALF_UP)


def _unit_minor(currency: str) -> int:
    spec = get_currency(currency)
    return 10 ** (spec.stripe_exponent - spec.decimals)


def _net_of(gross_minor: int, rate: Decimal, currency: str) -> int:
    """``gross_minor`` × 100 / (100 + rate), rounded half up to the currency's unit."""
    unit = _unit_minor(currency)
    quotient = _DIVIDE.divide(Decimal(gross_minor) * 100, (Decimal(100) + rate) * unit)
    return int(quotient.quantize(Decimal(1), context=_DIVIDE)) * unit


def _with_vat(net_minor: int, line: InvoiceLine, currency: str) -> int:
    """The total with VAT of one net amount at ``line``'s VAT rate (en16931's rounding)."""
    price = Money(net_minor, currency).as_decimal()
    return compute(currency, [InvoiceLine("net", Decimal(1), price, line.vat)]).totals.total_with_vat_minor


def net_lines(currency: str, lines: Sequence[InvoiceLine]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(gross, net)``: each line's gross amount and its net amount (BT-131), in minor units.

    ``lines`` carry the *typed* VAT-inclusive unit price as ``net_price`` and the typed
    discount as their allowance; the result's nets are what the invoice stores and
    passes on to :func:`.en16931.compute` (as a quantity-1 line each).
    """
    gross = tuple(line_net_amount(line, currency) for line in lines)
    nets = [0] * len(lines)
    groups: dict = {}
    for index, line in enumerate(lines):
        groups.setdefault(line.vat.key, []).append(index)
    for members in groups.values():
        first = lines[members[0]]
        rate = first.vat.rate
        if rate == 0:
            for index in members:
                nets[index] = gross[index]
            continue
        target = sum(gross[index] for index in members)
        unit = _unit_minor(currency)
        rounded = _net_of(target, rate, currency)
        group_net = rounded
        for candidate in (rounded, rounded - unit, rounded + unit):
            if candidate >= 0 and _with_vat(candidate, first, currency) == target:
                group_net = candidate
                break
        for index in members:
            nets[index] = _net_of(gross[index], rate, currency)
        largest = max(members, key=lambda index: (gross[index], -index))
        nets[largest] += group_net - sum(nets[index] for index in members)
        if nets[largest] < 0:  # cannot happen for sane input; refuse rather than store a negative net
            raise AmountError("These prices cannot be split into net amounts; check the discounts.", field="lines")
    return gross, tuple(nets)
