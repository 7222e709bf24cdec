"""Webhook delivery: signing, retries, and chaos.

Events are delivered by a background worker so that API calls return at
once, as on Stripe.  Each (event, endpoint) pair becomes a *delivery*; a
delivery not answered with a 2xx is retried on a configurable schedule
until it succeeds or runs out of attempts.  The signature is Stripe's
scheme (``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">``)
so the receiving application verifies it with ``stripe.Webhook``.

Chaos mode reproduces what real webhook consumers must survive: the same
event delivered twice (sometimes at the very same moment, from two
threads), deliveries delayed and therefore reordered.  All chaos decisions
come from one ``random.Random(seed)``, drawn in event order, so a seed
replays the same plan.
"""

from __future__ import annotations

import copy
import heapq
import hmac
import itertools
import json
import random
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from .state import EmulatorState, Endpoint

DEFAULT_RETRY_SCHEDULE = (0.2, 0.5, 1.0, 2.0)
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``payload``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class ChaosConfig:
    """How deliveries are disturbed; rates are probabilities in [0, 1]."""

    enabled: bool = False
    seed: int | None = None
    duplicate_rate: float = 0.5
    concurrent_rate: float = 0.5  # share of duplicates sent at the same moment
    delay_rate: float = 0.5
    max_delay: float = 1.0

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "ChaosConfig":
        data = dict(data or {})
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        if "enabled" not in known:
            known["enabled"] = bool(data)
        return cls(**known)


@dataclass
class Delivery:
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    secret: str
    payload: str
    attempt: int = 1
    copy: int = 1  # 2 for a chaos duplicate
    delay: float = 0.0
    barrier: threading.Barrier | None = field(default=None, repr=False)


class WebhookDispatcher:
    """Background delivery queue with retries and optional chaos."""

    def __init__(self, state: EmulatorState, retry_schedule=DEFAULT_RETRY_SCHEDULE,
                 max_attempts: int | None = None, timeout: float = 5.0,
                 chaos: ChaosConfig | None = None, workers: int = 8) -> None:
        self.state = state
        self.retry_schedule = tuple(float(s) for s in retry_schedule)
        self.max_attempts = max_attempts or len(self.retry_schedule) + 1
        self.timeout = timeout
        self.default_chaos = chaos or ChaosConfig()
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._inflight = 0
        self._log: list[dict[str, Any]] = []
        self._stopping = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emu-webhook")
        self._thread = threading.Thread(target=self._run, name="emu-webhook-scheduler", daemon=True)
        self.set_chaos(self.default_chaos)
        state.on_event = self.enqueue

    # ------------------------------------------------------------ control
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def reset(self) -> None:
        with self._cond:
            self._heap.clear()
            self._log.clear()
            self._cond.notify_all()
        self.set_chaos(self.default_chaos)

    def set_chaos(self, chaos: ChaosConfig) -> None:
        with self._cond:
            self.chaos = chaos
            self._rng = random.Random(chaos.seed)

    def log(self) -> list[dict[str, Any]]:
        with self._cond:
            return copy.deepcopy(self._log)

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._inflight

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued, scheduled for retry, or in flight."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._heap and self._inflight == 0, timeout)

    # ------------------------------------------------------------ enqueue
    def enqueue(self, event: dict[str, Any], endpoints: list[Endpoint]) -> None:
        """Plan the deliveries of ``event`` (called with the state lock held)."""
        with self._cond:
            for endpoint in endpoints:
                body = dict(event)
                body["api_version"] = endpoint.api_version or event["api_version"]
                payload = json.dumps(body, indent=2)
                base = Delivery(event["id"], event["type"], endpoint.id, endpoint.url,
                                endpoint.secret, payload)
                for delivery in self._plan(base):
                    self._push(delivery, delivery.delay)
            self._cond.notify_all()

    def _plan(self, delivery: Delivery) -> list[Delivery]:
        chaos = self.chaos
        if not chaos.enabled:
            return [delivery]
        rng = self._rng
        if rng.random() < chaos.delay_rate:
            delivery.delay = round(rng.uniform(0, chaos.max_delay), 3)
        if rng.random() >= chaos.duplicate_rate:
            return [delivery]
        twin = copy.copy(delivery)
        twin.copy = 2
        if rng.random() < chaos.concurrent_rate:
            delivery.barrier = twin.barrier = threading.Barrier(2, timeout=5)
        else:
            twin.delay = round(delivery.delay + rng.uniform(0, chaos.max_delay), 3)
        return [delivery, twin]

    def _push(self, delivery: Delivery, delay: float) -> None:
        heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), delivery))

    # ------------------------------------------------------------ worker
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        break
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopping:
                    return
                due = []
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
                self._inflight += len(due)
            for delivery in due:
                self._pool.submit(self._attempt, delivery)

    def _attempt(self, delivery: Delivery) -> None:
        status, error = None, None
        try:
            if delivery.barrier is not None:
                try:
                    delivery.barrier.wait()
                except threading.BrokenBarrierError:
                    pass
            status, error = self._post(delivery)
        finally:
            ok = status is not None and 200 <= status < 300
            if ok:
                self.state.mark_delivered(delivery.event_id, delivery.endpoint_id)
            with self._cond:
                self._record(delivery, status, error, ok)
                if not ok and delivery.attempt < self.max_attempts and not self._stopping:
                    wait = self.retry_schedule[min(delivery.attempt - 1,
                                                   len(self.retry_schedule) - 1)]
                    retry = copy.copy(delivery)
                    retry.attempt += 1
                    retry.barrier = None
                    self._push(retry, wait)
                self._inflight -= 1
                self._cond.notify_all()

    def _post(self, delivery: Delivery) -> tuple[int | None, str | None]:
        request = urllib.request.Request(
            delivery.url,
            data=delivery.payload.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "Stripe-Signature": sign(delivery.payload, delivery.secret),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
                return response.status, None
        except urllib.error.HTTPError as exc:
            exc.read()
            exc.close()
            return exc.code, None
        except (OSError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _record(self, delivery: Delivery, status: int | None, error: str | None, ok: bool) -> None:
        entry = {
            "event_id": delivery.event_id, "event_type": delivery.event_type,
            "endpoint_id": delivery.endpoint_id, "url": delivery.url,
            "attempt": delivery.attempt, "copy": delivery.copy, "delay": delivery.delay,
        }
        entry.update(status=status, error=error, ok=ok, at=time.time(),
                     concurrent=delivery.barrier is not None)
        self._log.append(entry)
