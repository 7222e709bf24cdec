"""``EmulatorControl``: a small HTTP client for the ``/_emulator`` control API.

It only uses :mod:`urllib`, so it is cheap to import (the pytest plugin
uses it) and works against an emulator in this process or in another one
(``python -m invoicing_plugin.testing.stripe_emulator``).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class EmulatorControlError(RuntimeError):
    """A control call was refused; ``body`` is the emulator's JSON answer."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("error", {}).get("message") if isinstance(body, dict) else body
        super().__init__(f"{status}: {message}")
        self.status = status
        self.body = body


class EmulatorControl:
    """Drive an emulator: clock, payments, onboarding, webhooks, failures."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict | None = None,
              timeout: float | None = None) -> Any:
        data = json.dumps(body or {}).encode() if method != "GET" else None
        request = urllib.request.Request(
            f"{self.url}/_emulator{path}", data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                raw = exc.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode(errors="replace")
            raise EmulatorControlError(exc.code, payload) from None

    # ------------------------------------------------------------ world
    def reset(self) -> None:
        """Forget all accounts, objects, events, API endpoints and failures."""
        self._call("POST", "/reset")

    def now(self) -> int:
        """The emulator clock (unix seconds)."""
        return self._call("GET", "/clock")["now"]

    def advance_clock(self, seconds: int) -> int:
        """Move the clock forward (expiring sessions and links); returns the new time."""
        return self._call("POST", "/clock/advance", {"seconds": seconds})["now"]

    def skew_clock(self, seconds: int) -> int:
        """Set the clock to wall clock + ``seconds``; negative puts Stripe *behind* the app.

        For tests of clock skew between the application (wall clock) and Stripe:
        ``skew_clock(-300)`` is an app five minutes ahead of Stripe, ``skew_clock(300)`` one
        five minutes behind. It may move the clock back; call it before creating objects.
        """
        return self._call("POST", "/clock/skew", {"seconds": seconds})["now"]

    def get_object(self, object_id: str) -> dict[str, Any]:
        """Any stored object by id, regardless of account (debugging aid)."""
        return self._call("GET", f"/objects/{object_id}")

    def requests(self) -> list[dict[str, Any]]:
        """API requests served so far: method, path, status, account, idempotency key."""
        return self._call("GET", "/requests")

    # ------------------------------------------------------------ payments & accounts
    def pay_session(self, session_id: str, outcome: str = "succeeded",
                    card_number: str | None = None) -> dict[str, Any]:
        """Pay like the hosted page: ``succeeded``, ``declined`` or ``delayed``.

        Returns ``{"session": {...}, "declined": None | {"code", "decline_code", "message"}}``.
        """
        body: dict[str, Any] = {"outcome": outcome}
        if card_number:
            body["card_number"] = card_number
        return self._call("POST", f"/checkout/sessions/{session_id}/pay", body)

    def settle_async(self, session_id: str, succeeded: bool = True) -> dict[str, Any]:
        """Settle a delayed payment (emits checkout.session.async_payment_*)."""
        return self._call("POST", f"/checkout/sessions/{session_id}/settle",
                          {"succeeded": succeeded})

    def complete_onboarding(self, account_id: str, restricted: bool = False) -> dict[str, Any]:
        """What the hosted onboarding buttons do (emits account.updated)."""
        return self._call("POST", f"/accounts/{account_id}/onboarding",
                          {"restricted": restricted})

    def deauthorize(self, account_id: str) -> dict[str, Any]:
        """The connected account disconnects the platform; returns the event."""
        return self._call("POST", f"/accounts/{account_id}/deauthorize")

    def trigger(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Cause an event without its own API, e.g. ``trigger("charge.dispute.created", charge=...)``.

        ``trigger("charge.dispute.closed", dispute=..., status="won" | "lost")`` closes a
        dispute; ``trigger("refund.failed", refund=..., failure_reason=...)`` makes a refund
        fail (the card network returned it).
        """
        return self._call("POST", "/trigger", {"type": event_type, **fields})

    # ------------------------------------------------------------ keys & failures
    def revoke_key(self, key: str) -> None:
        """Make ``key`` fail authentication from now on (like rolling it)."""
        self._call("POST", "/keys/revoke", {"key": key})

    def fail_next_requests(self, count: int = 1, error: str = "api_error",
                           status: int | None = None, message: str | None = None,
                           path_prefix: str = "/v1/") -> None:
        """Make the next ``count`` API requests fail.

        ``error``: ``"rate_limit"`` (429), ``"api_error"`` (500),
        ``"connection_drop"`` (socket closed without an answer, nothing done),
        ``"connection_drop_after"`` (the request is carried out, then the socket is closed
        without an answer: https://docs.stripe.com/error-low-level#idempotency), or any other
        name together with an explicit ``status``.
        """
        body: dict[str, Any] = {"count": count, "error": error, "path_prefix": path_prefix}
        if status is not None:
            body["status"] = status
        if message is not None:
            body["message"] = message
        self._call("POST", "/failures", body)

    # ------------------------------------------------------------ webhooks
    def add_webhook_endpoint(self, url: str, secret: str | None = None,
                             connect: bool = False, enabled_events: list[str] | None = None,
                             account: str | None = None,
                             api_version: str | None = None,
                             livemode: bool | None = None) -> dict[str, Any]:
        """Register a delivery target outside the API.

        As on Stripe, an endpoint is one kind or the other: ``connect=False`` (the
        default) is an *account* endpoint, receiving the events of accounts themselves
        (no ``account`` field); ``connect=True`` is a *Connect* endpoint, receiving only
        connected-account events (which carry ``account``). Register one of each, with
        its own secret, to receive both (https://docs.stripe.com/connect/webhooks).
        ``account`` limits it to one platform account (default: all). ``livemode``:
        the endpoint's mode (default ``None``: any); a live Connect endpoint also
        receives connected accounts' test events, as on Stripe. Returns
        ``{"id", "url", "secret", ...}``; a secret is generated if omitted.
        """
        return self._call("POST", "/webhook_endpoints", {
            "url": url, "secret": secret, "connect": connect,
            "enabled_events": enabled_events or ["*"], "account": account,
            "api_version": api_version, "livemode": livemode})

    def remove_webhook_endpoint(self, endpoint_id: str) -> None:
        self._call("DELETE", f"/webhook_endpoints/{endpoint_id}")

    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery attempt so far (event, endpoint, attempt, status, copy, delay)."""
        return self._call("GET", "/deliveries")

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Block until no delivery is queued, in flight or awaiting retry.

        Returns ``False`` if still busy after ``timeout`` seconds.
        """
        return self._call("POST", "/deliveries/wait", {"timeout": timeout},
                          timeout=timeout + 10)["idle"]

    def set_chaos(self, enabled: bool = True, seed: int | None = None,
                  duplicate_rate: float = 0.5, concurrent_rate: float = 0.5,
                  delay_rate: float = 0.5, max_delay: float = 1.0) -> None:
        """Turn chaos on/off: duplicated, concurrent, delayed (reordered) deliveries."""
        self._call("POST", "/chaos", {
            "enabled": enabled, "seed": seed, "duplicate_rate": duplicate_rate,
            "concurrent_rate": concurrent_rate, "delay_rate": delay_rate,
            "max_delay": max_delay})
