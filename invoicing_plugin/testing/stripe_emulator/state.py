"""The emulator's in-memory store.

One :class:`EmulatorState` holds every object of every account behind a
single re-entrant lock.  The API, the hosted pages and the control API all
run their work inside ``with state.lock:`` so each request is atomic, the
way a real Stripe request is; webhook delivery happens on other threads and
only touches the store through short locked calls.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import stripe

from .errors import StripeError, resource_missing

_ALPHABET = string.ascii_letters + string.digits

#: API version stamped on events when neither the endpoint nor the account
#: pinned one: the version the installed SDK speaks.
DEFAULT_API_VERSION: str = stripe.api_version


def random_token(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class Clock:
    """Wall clock plus an offset that tests can move forward.

    Only Stripe-visible times (``created``, ``expires_at``...) use it;
    webhook retry timing and signature timestamps stay on real time because
    the receiving application checks signatures against its own clock.
    """

    def __init__(self) -> None:
        self.offset = 0

    def now(self) -> int:
        return int(time.time()) + self.offset

    def advance(self, seconds: int) -> int:
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        self.offset += int(seconds)
        return self.now()

    def skew(self, seconds: int) -> int:
        """Set the clock to wall clock + ``seconds`` (negative: behind the wall clock).

        Stands for a Stripe whose clock differs from the application's (which reads the
        wall clock): ``skew(-300)`` is an app five minutes ahead of Stripe. Unlike
        :meth:`advance` it may move the clock back, so use it before creating objects.
        """
        self.offset = int(seconds)
        return self.now()


@dataclass
class Endpoint:
    """A webhook destination, from the API (``owner`` set) or configuration.

    As on Stripe, an endpoint is **either** an account endpoint (``connect=False``: events
    of the account that owns it) **or** a Connect endpoint (``connect=True``: events of
    its connected accounts, which carry ``account``), each with its own signing secret;
    none receives both kinds (https://docs.stripe.com/connect/webhooks,
    https://docs.stripe.com/api/webhook_endpoints/create, parameter ``connect``).

    ``livemode`` is the endpoint's mode (``None``: configured endpoints, any mode). A
    live endpoint receives live events, a test endpoint test events -- except that a
    *live Connect* endpoint also receives connected accounts' **test** events, and the
    receiver is expected to check ``livemode``
    (https://docs.stripe.com/connect/webhooks: "both live and test webhooks are sent to
    your production webhook URLs").
    """

    id: str
    url: str
    secret: str
    enabled_events: list[str]
    owner: str | None = None  # platform account; None = configured, all accounts
    connect: bool = False
    api_version: str | None = None
    enabled: bool = True
    static: bool = False  # from the emulator's configuration: survives reset()
    livemode: bool | None = None

    def wants(self, event: dict[str, Any], platform_of: Callable[[str], str | None]) -> bool:
        if not self.enabled:
            return False
        if "*" not in self.enabled_events and event["type"] not in self.enabled_events:
            return False
        connected = "account" in event
        if bool(self.connect) != connected:
            return False
        if self.livemode is not None and bool(event.get("livemode")) != self.livemode:
            if not (self.connect and self.livemode):  # test events also reach live Connect endpoints
                return False
        if self.owner is None:
            return True
        if connected:
            return platform_of(event["account"]) == self.owner
        return event["_owner"] == self.owner


@dataclass
class AccountLink:
    token: str
    account: str
    refresh_url: str
    return_url: str
    expires_at: int
    used: bool = False


@dataclass
class Failure:
    """An injected failure for the next matching API requests."""

    remaining: int
    kind: str  # "rate_limit" | "api_error" | "connection_drop" | "connection_drop_after" | "error"
    status: int
    message: str
    path_prefix: str = "/v1/"


@dataclass
class RequestContext:
    """The API request being served, recorded on the events it causes."""

    request_id: str | None = None
    idempotency_key: str | None = None


@dataclass
class EmulatorState:
    lock: threading.RLock = field(default_factory=threading.RLock)
    clock: Clock = field(default_factory=Clock)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)
    platform_by_key: dict[str, str] = field(default_factory=dict)
    parent: dict[str, str] = field(default_factory=dict)  # connected -> platform
    deauthorized: set[str] = field(default_factory=set)
    revoked_keys: set[str] = field(default_factory=set)
    account_links: dict[str, AccountLink] = field(default_factory=dict)
    login_links: dict[str, str] = field(default_factory=dict)  # token -> account
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    event_targets: dict[str, set[str]] = field(default_factory=dict)
    event_delivered: dict[str, set[str]] = field(default_factory=dict)
    # (account, key) -> (request fingerprint, status, body, saved at: emulator clock)
    idempotency: dict[tuple[str, str], tuple[Any, int, Any, int]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    request_log: list[dict[str, Any]] = field(default_factory=list)
    request: RequestContext = field(default_factory=RequestContext)
    on_event: Callable[[dict[str, Any], list[Endpoint]], None] | None = None
    _counter: itertools.count = field(default_factory=itertools.count)

    # ----------------------------------------------------------- lifecycle
    def reset(self) -> None:
        """Forget every object, account, key and endpoint (clock restarts).

        Configured endpoints (``owner is None``) survive a reset: they come
        from the emulator's own configuration (CLI/constructor), not from
        test data.
        """
        with self.lock:
            keep = {k: e for k, e in self.endpoints.items() if e.static}
            self.clock = Clock()
            for name in (
                "objects", "owners", "order", "platform_by_key", "parent", "account_links",
                "login_links", "event_targets", "event_delivered", "idempotency", "request_log",
            ):
                getattr(self, name).clear()
            self.deauthorized.clear()
            self.revoked_keys.clear()
            self.failures.clear()
            self.endpoints = keep
            self.request = RequestContext()

    def now(self) -> int:
        return self.clock.now()

    # ----------------------------------------------------------- identity
    def new_id(self, prefix: str, length: int = 24) -> str:
        return f"{prefix}_{random_token(length)}"

    def is_connected(self, account_id: str) -> bool:
        return account_id in self.parent

    def platform_of(self, account_id: str) -> str | None:
        """The platform a connected account belongs to (or itself)."""
        if account_id in self.parent:
            return self.parent[account_id]
        if self.objects.get(account_id, {}).get("object") == "account":
            return account_id
        return None

    # ----------------------------------------------------------- storage
    def put(self, obj: dict[str, Any], owner: str) -> dict[str, Any]:
        """Store (or replace) an object owned by ``owner``."""
        self.objects[obj["id"]] = obj
        self.owners[obj["id"]] = owner
        self.order.setdefault(obj["id"], next(self._counter))
        return obj

    def get(self, object_id: str, owner: str, kind: str, label: str | None = None,
            param: str = "id") -> dict[str, Any]:
        """Fetch an object of ``kind`` owned by ``owner`` or raise Stripe's 404.

        Another account's object is indistinguishable from a missing one, as
        on Stripe.
        """
        obj = self.objects.get(object_id)
        if obj is None or obj.get("object") != kind or self.owners.get(object_id) != owner:
            raise resource_missing(label or kind.split(".")[-1].replace("_", " "), object_id, param)
        return obj

    def find(self, object_id: str) -> dict[str, Any] | None:
        return self.objects.get(object_id)

    def owned(self, owner: str, kind: str) -> list[dict[str, Any]]:
        """Objects of ``kind`` for ``owner``, newest first (Stripe list order)."""
        items = [
            obj for oid, obj in self.objects.items()
            if obj.get("object") == kind and self.owners.get(oid) == owner
        ]
        items.sort(key=lambda obj: self.order[obj["id"]], reverse=True)
        return items

    # ----------------------------------------------------------- events
    def emit(self, event_type: str, obj: dict[str, Any], account: str,
             previous_attributes: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record an event for ``account`` and hand it to the webhook worker.

        Events of connected accounts carry ``account`` and go only to the
        platform's Connect endpoints (``connect=True``); everything else goes
        only to the account's own (account) endpoints.
        """
        platform = self.objects.get(account, {})
        event: dict[str, Any] = {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": platform.get("_api_version") or DEFAULT_API_VERSION,
            "created": self.now(),
            "data": {"object": public(obj)},
            "livemode": bool(obj.get("livemode", False)),
            "pending_webhooks": 0,
            "request": {
                "id": self.request.request_id,
                "idempotency_key": self.request.idempotency_key,
            },
            "type": event_type,
        }
        if previous_attributes is not None:
            event["data"]["previous_attributes"] = previous_attributes
        if self.is_connected(account):
            event["account"] = account
        event["_owner"] = account
        targets = [e for e in self.endpoints.values() if e.wants(event, self.platform_of)]
        del event["_owner"]
        event["pending_webhooks"] = len(targets)
        self.put(event, account)
        self.event_targets[event["id"]] = {e.id for e in targets}
        self.event_delivered[event["id"]] = set()
        if targets and self.on_event is not None:
            self.on_event(copy.deepcopy(event), targets)
        return event

    def mark_delivered(self, event_id: str, endpoint_id: str) -> None:
        with self.lock:
            delivered = self.event_delivered.get(event_id)
            if delivered is None:
                return
            delivered.add(endpoint_id)
            event = self.objects[event_id]
            event["pending_webhooks"] = len(self.event_targets[event_id] - delivered)

    def delivery_succeeded(self, event_id: str) -> bool:
        targets = self.event_targets.get(event_id, set())
        return targets <= self.event_delivered.get(event_id, set())

    # ----------------------------------------------------------- failures
    def take_failure(self, path: str) -> Failure | None:
        """Consume one injected failure matching ``path``, if any."""
        for failure in self.failures:
            if failure.remaining > 0 and path.startswith(failure.path_prefix):
                failure.remaining -= 1
                if failure.remaining == 0:
                    self.failures.remove(failure)
                return failure
        return None


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """A deep copy without internal ``_``-prefixed bookkeeping keys."""
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}


def require(condition: bool, message: str, **kwargs: Any) -> None:
    if not condition:
        raise StripeError(400, message, **kwargs)
