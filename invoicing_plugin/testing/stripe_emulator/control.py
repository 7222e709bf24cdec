"""The control API under ``/_emulator/``: what tests use to drive the world.

Stripe has test helpers for a few of these (test clocks, triggering
events); the emulator needs more (paying a session without a browser,
making requests fail, chaos), and they all live here as small JSON
endpoints so :class:`~.client.EmulatorControl` works against an in-process
emulator and a separately started one alike.  There is no authentication:
the emulator binds to loopback by default.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import resources
from .errors import StripeError
from .state import EmulatorState, Endpoint, Failure, public, random_token
from .webhooks import ChaosConfig, WebhookDispatcher

FAILURES = {
    "rate_limit": (429, "Too many requests hit the API too quickly."),
    "api_error": (500, "An unknown error occurred"),
    "connection_drop": (0, "connection dropped"),
    # The request is carried out, then the answer is lost: "a network error ... the request
    # may have succeeded" -- retry with the same idempotency key
    # (https://docs.stripe.com/error-low-level#idempotency).
    "connection_drop_after": (0, "connection dropped after the request was carried out"),
}

RULES: list[tuple[str, str, str]] = []


def control(method: str, rule: str):
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        RULES.append((method, rule, func.__name__))
        return func
    return register


class ControlApp:
    """WSGI application for ``/_emulator``."""

    def __init__(self, state: EmulatorState, dispatcher: WebhookDispatcher) -> None:
        self.state = state
        self.dispatcher = dispatcher
        self.url_map = Map([Rule(rule, methods=[method], endpoint=name)
                            for method, rule, name in RULES])

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            name, args = self.url_map.bind_to_environ(environ).match()
            body = request.get_json(silent=True) or {}
            result = getattr(self, name)(body, **args)
            response = Response(json.dumps(result), mimetype="application/json")
        except (NotFound, MethodNotAllowed):
            response = Response(json.dumps({"error": {"message": "unknown control call"}}),
                                status=404, mimetype="application/json")
        except StripeError as exc:
            response = Response(json.dumps(exc.body()), status=exc.status,
                                mimetype="application/json")
        except (KeyError, TypeError, ValueError) as exc:
            response = Response(json.dumps({"error": {"message": f"bad control call: {exc}"}}),
                                status=400, mimetype="application/json")
        return response(environ, start_response)

    def _session(self, session_id: str) -> dict:
        session = self.state.objects.get(session_id)
        if session is None or session.get("object") != "checkout.session":
            raise StripeError(404, f"No such checkout.session: '{session_id}'",
                              code="resource_missing", param="session")
        return session

    # ------------------------------------------------------------ world
    @control("POST", "/_emulator/reset")
    def reset(self, body: dict) -> dict:
        self.state.reset()
        self.dispatcher.reset()
        return {"ok": True}

    @control("GET", "/_emulator/clock")
    def clock(self, body: dict) -> dict:
        return {"now": self.state.now()}

    @control("POST", "/_emulator/clock/advance")
    def advance_clock(self, body: dict) -> dict:
        with self.state.lock:
            now = self.state.clock.advance(int(body["seconds"]))
            resources.expire_due_sessions(self.state)
        return {"now": now}

    @control("POST", "/_emulator/clock/skew")
    def skew_clock(self, body: dict) -> dict:
        """Put the clock ``seconds`` ahead of (or, negative, behind) the wall clock."""
        seconds = body["seconds"]
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise ValueError("seconds must be an integer")
        with self.state.lock:
            now = self.state.clock.skew(seconds)
            resources.expire_due_sessions(self.state)
        return {"now": now}

    @control("GET", "/_emulator/objects/<object_id>")
    def get_object(self, body: dict, object_id: str) -> dict:
        with self.state.lock:
            obj = self.state.objects.get(object_id)
            if obj is None:
                raise StripeError(404, f"No such object: '{object_id}'", code="resource_missing")
            return public(obj)

    @control("GET", "/_emulator/requests")
    def requests(self, body: dict) -> list:
        with self.state.lock:
            return list(self.state.request_log)

    # ------------------------------------------------------------ payments
    @control("POST", "/_emulator/checkout/sessions/<session_id>/pay")
    def pay_session(self, body: dict, session_id: str) -> dict:
        with self.state.lock:
            resources.expire_due_sessions(self.state)
            session = self._session(session_id)
            try:
                resources.pay_session(self.state, session, body.get("outcome", "succeeded"),
                                      card_number=body.get("card_number",
                                                           resources.SUCCESS_CARD))
            except resources.PaymentDeclined as declined:
                return {"session": public(session), "declined": {
                    "code": declined.code, "decline_code": declined.decline_code,
                    "message": declined.message}}
            return {"session": public(session), "declined": None}

    @control("POST", "/_emulator/checkout/sessions/<session_id>/settle")
    def settle_async(self, body: dict, session_id: str) -> dict:
        with self.state.lock:
            session = self._session(session_id)
            resources.settle_async(self.state, session, bool(body.get("succeeded", True)))
            return public(session)

    @control("POST", "/_emulator/accounts/<account_id>/onboarding")
    def complete_onboarding(self, body: dict, account_id: str) -> dict:
        with self.state.lock:
            account = resources.finish_onboarding(self.state, account_id,
                                                  restricted=bool(body.get("restricted")))
            return public(account)

    @control("POST", "/_emulator/accounts/<account_id>/deauthorize")
    def deauthorize(self, body: dict, account_id: str) -> dict:
        with self.state.lock:
            return public(resources.deauthorize(self.state, account_id))

    @control("POST", "/_emulator/trigger")
    def trigger(self, body: dict) -> dict:
        """Cause an event that has no API of its own (disputes, etc.)."""
        event_type = body["type"]
        with self.state.lock:
            if event_type == "charge.dispute.created":
                dispute = resources.create_dispute(self.state, body["charge"],
                                                   body.get("reason", "fraudulent"))
                return public(dispute)
            if event_type == "charge.dispute.closed":
                return public(resources.close_dispute(self.state, body["dispute"],
                                                      body.get("status", "won")))
            if event_type == "refund.failed":
                return public(resources.fail_refund(
                    self.state, body["refund"],
                    body.get("failure_reason", "expired_or_canceled_card")))
            if event_type == "account.application.deauthorized":
                return public(resources.deauthorize(self.state, body["account"]))
            if event_type == "account.updated":
                return public(resources.finish_onboarding(
                    self.state, body["account"], restricted=bool(body.get("restricted"))))
            if event_type == "checkout.session.expired":
                return public(resources.expire_session(self.state,
                                                       self._session(body["session"])))
        raise StripeError(400, f"Cannot trigger {event_type!r}: supported are "
                               "charge.dispute.created, charge.dispute.closed (status won or "
                               "lost), refund.failed, account.updated, "
                               "account.application.deauthorized, checkout.session.expired.",
                          param="type")

    # ------------------------------------------------------------ keys & failures
    @control("POST", "/_emulator/keys/revoke")
    def revoke_key(self, body: dict) -> dict:
        with self.state.lock:
            self.state.revoked_keys.add(body["key"])
        return {"ok": True}

    @control("POST", "/_emulator/failures")
    def fail_next_requests(self, body: dict) -> dict:
        kind = body.get("error", "api_error")
        status, message = FAILURES.get(kind, (int(body.get("status", 500)), "Injected failure"))
        failure = Failure(remaining=int(body.get("count", 1)), kind=kind,
                          status=int(body.get("status", status)),
                          message=body.get("message", message),
                          path_prefix=body.get("path_prefix", "/v1/"))
        with self.state.lock:
            self.state.failures.append(failure)
        return {"ok": True}

    # ------------------------------------------------------------ webhooks
    @control("POST", "/_emulator/webhook_endpoints")
    def add_webhook_endpoint(self, body: dict) -> dict:
        """Register an account endpoint (``connect`` false, the default, as in Stripe's API)
        or a Connect endpoint (``connect`` true) -- never one for both kinds
        (https://docs.stripe.com/connect/webhooks). ``livemode`` (optional): the endpoint's
        mode; a live Connect endpoint also receives connected accounts' test events."""
        connect = body.get("connect", False)
        livemode = body.get("livemode")
        if not isinstance(connect, bool):
            raise StripeError(400, "connect must be true (a Connect endpoint: events of connected "
                                   "accounts) or false (an account endpoint: the account's own events). "
                                   "A Stripe endpoint is one or the other; register one of each.",
                              param="connect")
        if livemode is not None and not isinstance(livemode, bool):
            raise StripeError(400, "livemode must be true, false or null.", param="livemode")
        endpoint = Endpoint(
            id="we_" + random_token(24), url=body["url"],
            secret=body.get("secret") or "whsec_" + random_token(32),
            enabled_events=list(body.get("enabled_events") or ["*"]),
            owner=body.get("account"), connect=connect,
            api_version=body.get("api_version"), livemode=livemode,
        )
        with self.state.lock:
            self.state.endpoints[endpoint.id] = endpoint
        return {"id": endpoint.id, "url": endpoint.url, "secret": endpoint.secret,
                "connect": endpoint.connect, "livemode": endpoint.livemode,
                "enabled_events": endpoint.enabled_events}

    @control("DELETE", "/_emulator/webhook_endpoints/<endpoint_id>")
    def remove_webhook_endpoint(self, body: dict, endpoint_id: str) -> dict:
        with self.state.lock:
            self.state.endpoints.pop(endpoint_id, None)
        return {"ok": True}

    @control("GET", "/_emulator/deliveries")
    def deliveries(self, body: dict) -> list:
        return self.dispatcher.log()

    @control("POST", "/_emulator/deliveries/wait")
    def wait_for_deliveries(self, body: dict) -> dict:
        idle = self.dispatcher.wait_idle(float(body.get("timeout", 10)))
        return {"idle": idle, "pending": self.dispatcher.pending()}

    @control("POST", "/_emulator/chaos")
    def set_chaos(self, body: dict) -> dict:
        chaos = ChaosConfig.from_dict(body)
        self.dispatcher.set_chaos(chaos)
        return {"enabled": chaos.enabled, "seed": chaos.seed}
