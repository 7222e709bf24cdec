"""Timing helpers: medians over repeated runs, and ratios measured in the same run.

Shared machines are noisy, so every figure is a median (with its p90) of many
repetitions after warm-up, and a figure compared with a floor is measured
*interleaved* with it (A, B, A, B ... in small batches) so that a noisy second
hits both alike.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable, Mapping


@dataclass(frozen=True)
class Stats:
    n: int
    median_ms: float
    p90_ms: float
    min_ms: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> "Stats":
        if not samples_ns:
            raise ValueError("no samples")
        ordered = sorted(samples_ns)
        p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
        return cls(
            n=len(ordered),
            median_ms=statistics.median(ordered) / 1e6,
            p90_ms=p90 / 1e6,
            min_ms=ordered[0] / 1e6,
        )


def time_call(fn: Callable[[], object]) -> int:
    start = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - start


def measure(fn: Callable[[], object], *, repeat: int, warmup: int = 5) -> Stats:
    """Median and p90 of ``repeat`` calls of ``fn`` after ``warmup`` unmeasured calls."""
    for _ in range(warmup):
        fn()
    return Stats.of([time_call(fn) for _ in range(repeat)])


def interleaved(fns: Mapping[str, Callable[[], object]], *, rounds: int, per_round: int,
                warmup: int = 5) -> dict[str, Stats]:
    """Measure several callables in alternating batches; one :class:`Stats` each.

    Each round runs ``per_round`` calls of every callable in turn (the order
    alternates between rounds), so a slow spell on the machine is shared.
    """
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    samples: dict[str, list[int]] = {name: [] for name in names}
    for round_no in range(rounds):
        order = names if round_no % 2 == 0 else names[::-1]
        for name in order:
            fn = fns[name]
            samples[name].extend(time_call(fn) for _ in range(per_round))
    return {name: Stats.of(values) for name, values in samples.items()}
