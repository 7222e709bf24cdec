"""issue 15 (breaker15 F3): fees of the parts of an invoice, rounded on the running total."""

from __future__ import annotations

import itertools
import random

import pytest

from invoicing_plugin.domain.fees import fee_of_part, fee_share
from invoicing_plugin.domain.money import Money


def _fees(locked: int, total: int, parts: list[int]) -> list[int]:
    paid = taken = 0
    out = []
    for part in parts:
        fee = fee_of_part(Money(locked, "GBP"), part, total, paid_before_minor=paid, taken_before_minor=taken).minor
        out.append(fee)
        paid, taken = paid + part, taken + fee
    return out


def test_the_breakers_example():
    assert _fees(3500, 100_000, [10_100, 89_900]) == [354, 3146]


def test_first_part_is_its_share():
    assert fee_of_part(Money(3500, "GBP"), 10_100, 100_000, paid_before_minor=0, taken_before_minor=0) \
        == fee_share(Money(3500, "GBP"), 10_100, 100_000)


@pytest.mark.parametrize("seed", range(200))
def test_parts_never_add_up_to_more_than_the_locked_fee_and_all_of_it_when_paid(seed):
    rng = random.Random(seed)
    total = rng.randint(50, 10_000_000)
    locked = rng.randint(0, total // 10)
    cuts = sorted(rng.sample(range(1, total), min(rng.randint(0, 6), total - 1)))
    parts = [b - a for a, b in itertools.pairwise([0, *cuts, total])]
    fees = _fees(locked, total, parts)
    assert sum(fees) == locked
    assert all(0 <= fee <= part for fee, part in zip(fees, parts, strict=True))
    running = 0
    for index in range(len(parts)):  # every prefix: at most the share of what was paid
        running += fees[index]
        assert running <= fee_share(Money(locked, "GBP"), sum(parts[:index + 1]), total).minor


def test_never_above_the_amount_nor_negative():
    assert fee_of_part(Money(90, "GBP"), 1, 100, paid_before_minor=98, taken_before_minor=0).minor == 1
    assert fee_of_part(Money(1, "GBP"), 1, 100, paid_before_minor=50, taken_before_minor=5).minor == 0


@pytest.mark.parametrize("bad", [-1, 1.5, "1", None])
def test_bad_running_totals_are_refused(bad):
    with pytest.raises(ValueError):
        fee_of_part(Money(1, "GBP"), 1, 100, paid_before_minor=bad, taken_before_minor=0)
