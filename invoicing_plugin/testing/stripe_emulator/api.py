"""The ``/v1`` API: authentication, idempotency, validation and routes.

Every request goes through the same pipeline, in Stripe's order:
injected failures, API key, ``Stripe-Account``, parameter decoding and
SDK-derived validation, idempotency replay, then the route.  The whole
pipeline runs under the state lock, which makes requests atomic and the
idempotency check race-free.
"""

from __future__ import annotations

import copy

import json
import logging
import re
import socket
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import resources
from .errors import StripeError, mask_key, resource_missing
from .params import decode_form, schema_for, validate
from .state import DEFAULT_API_VERSION, EmulatorState, Endpoint, public, random_token

logger = logging.getLogger(__name__)

API_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$")

#: Stripe may prune an idempotency key once it is 24 hours old
#: (https://docs.stripe.com/api/idempotent_requests); the emulator does, on its own clock.
IDEMPOTENCY_KEY_LIFETIME = 24 * 60 * 60

#: ``GET /v1/events`` lists "events going back up to 30 days"
#: (https://docs.stripe.com/api/events/list).
EVENT_RETENTION = 30 * 24 * 60 * 60


@dataclass
class Ctx:
    """What a route needs to know about the caller."""

    state: EmulatorState
    platform: str  # account of the API key
    actor: str  # account the request acts as (Stripe-Account or platform)
    base_url: str
    method: str
    path: str


# ---------------------------------------------------------------------- helpers


def paginate(ctx: Ctx, items: list[dict[str, Any]], params: dict[str, Any],
             transform: Callable[[dict], dict] | None = None) -> dict[str, Any]:
    """Stripe's cursor pagination over ``items`` (already newest first).

    https://docs.stripe.com/api/pagination: ``limit`` 1 to 100 (default 10);
    ``starting_after`` / ``ending_before`` are object ids that "define your place in
    the list" -- the place of that object, also when a filter no longer selects it
    (e.g. an event delivered between two pages of ``delivery_success=false``); an id
    the caller cannot see is ``resource_missing``.
    """
    limit = params.get("limit", 10)
    if not 1 <= limit <= 100:
        raise StripeError(400, "Invalid limit: must be between 1 and 100", param="limit")
    place = _places(ctx, items)
    if params.get("starting_after"):
        position = _cursor_position(ctx, items, place, params["starting_after"], "starting_after")
        items = [item for item in items if place(item["id"]) < position]
    elif params.get("ending_before"):
        position = _cursor_position(ctx, items, place, params["ending_before"], "ending_before")
        items = [item for item in items if place(item["id"]) > position][-limit:]
    page = items[:limit]
    transform = transform or public
    return {"object": "list", "data": [transform(item) for item in page],
            "has_more": len(items) > limit, "url": ctx.path}


def _places(ctx: Ctx, items: list[dict[str, Any]]) -> Callable[[str], int]:
    """Where an id stands in the list (larger: newer): stored objects by creation order;
    a list kept inside another object (line items) by its own order."""
    if all(item["id"] in ctx.state.order for item in items):
        return lambda object_id: ctx.state.order[object_id]
    count = len(items)
    index = {item["id"]: count - i for i, item in enumerate(items)}
    return lambda object_id: index[object_id]


def _cursor_position(ctx: Ctx, items: list[dict[str, Any]], place: Callable[[str], int],
                     cursor: str, param: str) -> int:
    if any(item["id"] == cursor for item in items):
        return place(cursor)
    obj = ctx.state.objects.get(cursor)
    kinds = {item.get("object") for item in items}
    if (obj is not None and cursor in ctx.state.order and ctx.state.owners.get(cursor) == ctx.actor
            and (not kinds or obj.get("object") in kinds)):
        return ctx.state.order[cursor]  # an object the filters leave out: its place still counts
    raise resource_missing("object", cursor, param)


def created_filter(value: Any) -> Callable[[int], bool]:
    """``created=<ts>`` or ``created[gte]=<ts>`` style range filters."""
    if isinstance(value, int):
        return lambda created: created == value
    checks = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
    bounds = [(checks[op], bound) for op, bound in (value or {}).items()]
    return lambda created: all(check(created, bound) for check, bound in bounds)


def expand(state: EmulatorState, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """Replace id fields named in ``expand`` with the objects they point to."""
    for path in paths:
        _expand_path(state, obj, path.split("."), path)
    return obj


def _expand_path(state: EmulatorState, obj: Any, parts: list[str], full: str) -> None:
    # https://docs.stripe.com/api/expanding_objects: a path may end on an
    # expanded list (``line_items``) and may go through a list's ``data``.
    if not parts or not isinstance(obj, dict):
        return
    if obj.get("object") == "list" and parts[0] == "data":
        for item in obj["data"]:
            _expand_path(state, item, parts[1:], full)
        return
    head = parts[0]
    if head == "line_items" and obj.get("object") == "checkout.session":
        source = state.objects[obj["id"]]
        obj["line_items"] = _line_item_list(source, f"/v1/checkout/sessions/{obj['id']}/line_items")
    elif head == "refunds" and obj.get("object") == "charge":
        # https://docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand
        obj["refunds"] = copy.deepcopy(state.objects[obj["id"]]["_refunds"])
    elif head not in obj:
        raise StripeError(400, f"This property cannot be expanded ({full}).", param="expand")
    value = obj[head]
    if isinstance(value, str) and value in state.objects:
        obj[head] = value = public(state.objects[value])
    _expand_path(state, value, parts[1:], full)


def _line_item_list(session: dict[str, Any], url: str) -> dict[str, Any]:
    data = [public(item) for item in session["_line_items"]]
    return {"object": "list", "data": data, "has_more": False, "url": url}


# ---------------------------------------------------------------------- routes

ROUTES: list[tuple[str, str, str, str]] = []  # (method, rule, endpoint, params class)
HANDLERS: dict[str, Callable[..., Any]] = {}


def route(method: str, rule: str, params_class: str):
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES.append((method, rule, func.__name__, params_class))
        HANDLERS[func.__name__] = func
        return func
    return register


@route("GET", "/v1/account", "AccountRetrieveCurrentParams")
def retrieve_current_account(ctx: Ctx, params: dict) -> dict:
    return public(ctx.state.objects[ctx.actor])


@route("POST", "/v1/accounts", "AccountCreateParams")
def create_account(ctx: Ctx, params: dict) -> dict:
    if ctx.actor != ctx.platform:
        raise StripeError(403, "Connected accounts cannot create other accounts.",
                          type="invalid_request_error", code="platform_api_key_expired")
    return public(resources.create_account(ctx.state, ctx.platform, params))


@route("GET", "/v1/accounts", "AccountListParams")
def list_accounts(ctx: Ctx, params: dict) -> dict:
    accounts = [a for a in ctx.state.owned(ctx.actor, "account") if a["id"] != ctx.actor]
    accounts = [a for a in accounts if created_filter(params.get("created"))(a["created"])]
    return paginate(ctx, accounts, params)


@route("GET", "/v1/accounts/<account_id>", "AccountRetrieveParams")
def retrieve_account(ctx: Ctx, params: dict, account_id: str) -> dict:
    return public(resources.get_account(ctx.state, ctx.actor, account_id))


@route("POST", "/v1/accounts/<account_id>", "AccountUpdateParams")
def update_account(ctx: Ctx, params: dict, account_id: str) -> dict:
    return public(resources.update_account(ctx.state, ctx.actor, account_id, params))


@route("POST", "/v1/accounts/<account_id>/login_links", "AccountLoginLinkCreateParams")
def create_login_link(ctx: Ctx, params: dict, account_id: str) -> dict:
    return resources.create_login_link(ctx.state, ctx.actor, account_id, ctx.base_url)


@route("POST", "/v1/account_links", "AccountLinkCreateParams")
def create_account_link(ctx: Ctx, params: dict) -> dict:
    return resources.create_account_link(ctx.state, ctx.actor, params, ctx.base_url)


@route("POST", "/v1/checkout/sessions", "checkout.SessionCreateParams")
def create_checkout_session(ctx: Ctx, params: dict) -> dict:
    return public(resources.create_checkout_session(ctx.state, ctx.actor, params, ctx.base_url))


@route("GET", "/v1/checkout/sessions", "checkout.SessionListParams")
def list_checkout_sessions(ctx: Ctx, params: dict) -> dict:
    sessions = ctx.state.owned(ctx.actor, "checkout.session")
    for field in ("payment_intent", "status", "customer", "client_reference_id"):
        if field in params:
            sessions = [s for s in sessions if s.get(field) == params[field]]
    if "created" in params:
        sessions = [s for s in sessions if created_filter(params["created"])(s["created"])]
    return paginate(ctx, sessions, params)


@route("GET", "/v1/checkout/sessions/<session_id>", "checkout.SessionRetrieveParams")
def retrieve_checkout_session(ctx: Ctx, params: dict, session_id: str) -> dict:
    return public(resources.get_session(ctx.state, ctx.actor, session_id))


@route("POST", "/v1/checkout/sessions/<session_id>/expire", "checkout.SessionExpireParams")
def expire_checkout_session(ctx: Ctx, params: dict, session_id: str) -> dict:
    session = resources.get_session(ctx.state, ctx.actor, session_id)
    return public(resources.expire_session(ctx.state, session))


@route("GET", "/v1/checkout/sessions/<session_id>/line_items",
       "checkout.SessionLineItemListParams")
def list_session_line_items(ctx: Ctx, params: dict, session_id: str) -> dict:
    session = resources.get_session(ctx.state, ctx.actor, session_id)
    return paginate(ctx, session["_line_items"], params)


@route("GET", "/v1/payment_intents/<intent_id>", "PaymentIntentRetrieveParams")
def retrieve_payment_intent(ctx: Ctx, params: dict, intent_id: str) -> dict:
    return public(ctx.state.get(intent_id, ctx.actor, "payment_intent"))


@route("GET", "/v1/charges/<charge_id>", "ChargeRetrieveParams")
def retrieve_charge(ctx: Ctx, params: dict, charge_id: str) -> dict:
    return public(ctx.state.get(charge_id, ctx.actor, "charge"))


@route("POST", "/v1/refunds", "RefundCreateParams")
def create_refund(ctx: Ctx, params: dict) -> dict:
    return public(resources.create_refund(ctx.state, ctx.actor, params))


@route("GET", "/v1/refunds/<refund_id>", "RefundRetrieveParams")
def retrieve_refund(ctx: Ctx, params: dict, refund_id: str) -> dict:
    return public(ctx.state.get(refund_id, ctx.actor, "refund"))


@route("GET", "/v1/application_fees/<fee_id>", "ApplicationFeeRetrieveParams")
def retrieve_application_fee(ctx: Ctx, params: dict, fee_id: str) -> dict:
    """An application fee, once a refund touched it (https://docs.stripe.com/api/application_fees/object)."""
    return public(ctx.state.get(fee_id, ctx.actor, "application_fee"))


@route("GET", "/v1/disputes/<dispute_id>", "DisputeRetrieveParams")
def retrieve_dispute(ctx: Ctx, params: dict, dispute_id: str) -> dict:
    return public(ctx.state.get(dispute_id, ctx.actor, "dispute"))


@route("GET", "/v1/events", "EventListParams")
def list_events(ctx: Ctx, params: dict) -> dict:
    """``GET /v1/events`` (https://docs.stripe.com/api/events/list): the caller's account's
    events, newest first, "going back up to 30 days"; with ``Stripe-Account`` a connected
    account's own events (those carry ``account``: https://docs.stripe.com/connect/webhooks),
    which the platform's list never includes. ``delivery_success=false``: events still
    pending or failed at one of the endpoints they were sent to
    (https://docs.stripe.com/webhooks/process-undelivered-events)."""
    state = ctx.state
    oldest = state.now() - EVENT_RETENTION
    events = [e for e in state.owned(ctx.actor, "event") if e["created"] >= oldest]
    if "type" in params:
        pattern = re.compile("^" + re.escape(params["type"]).replace(r"\*", ".*") + "$")
        events = [e for e in events if pattern.match(e["type"])]
    if "types" in params:
        events = [e for e in events if e["type"] in params["types"]]
    if "created" in params:
        events = [e for e in events if created_filter(params["created"])(e["created"])]
    if "delivery_success" in params:
        wanted = params["delivery_success"]
        events = [e for e in events if state.delivery_succeeded(e["id"]) == wanted]
    return paginate(ctx, events, params)


@route("GET", "/v1/events/<event_id>", "EventRetrieveParams")
def retrieve_event(ctx: Ctx, params: dict, event_id: str) -> dict:
    return public(ctx.state.get(event_id, ctx.actor, "event"))


@route("POST", "/v1/webhook_endpoints", "WebhookEndpointCreateParams")
def create_webhook_endpoint(ctx: Ctx, params: dict) -> dict:
    _check_url(params["url"])
    endpoint = Endpoint(
        id=ctx.state.new_id("we"), url=params["url"], secret="whsec_" + random_token(32),
        enabled_events=list(params["enabled_events"]), owner=ctx.actor,
        connect=bool(params.get("connect", False)), api_version=params.get("api_version"),
        livemode=bool(ctx.state.objects[ctx.actor].get("livemode", False)),
    )
    ctx.state.endpoints[endpoint.id] = endpoint
    obj = resources.webhook_endpoint_object(ctx.state, endpoint, params.get("description"),
                                            resources._merge_metadata({}, params.get("metadata")))
    ctx.state.put(obj, ctx.actor)
    return {**public(obj), "secret": endpoint.secret}


@route("GET", "/v1/webhook_endpoints", "WebhookEndpointListParams")
def list_webhook_endpoints(ctx: Ctx, params: dict) -> dict:
    return paginate(ctx, ctx.state.owned(ctx.actor, "webhook_endpoint"), params)


@route("GET", "/v1/webhook_endpoints/<endpoint_id>", "WebhookEndpointRetrieveParams")
def retrieve_webhook_endpoint(ctx: Ctx, params: dict, endpoint_id: str) -> dict:
    return public(ctx.state.get(endpoint_id, ctx.actor, "webhook_endpoint"))


@route("POST", "/v1/webhook_endpoints/<endpoint_id>", "WebhookEndpointUpdateParams")
def update_webhook_endpoint(ctx: Ctx, params: dict, endpoint_id: str) -> dict:
    obj = ctx.state.get(endpoint_id, ctx.actor, "webhook_endpoint")
    endpoint = ctx.state.endpoints[endpoint_id]
    if "url" in params:
        _check_url(params["url"])
        endpoint.url = obj["url"] = params["url"]
    if "enabled_events" in params:
        endpoint.enabled_events = obj["enabled_events"] = list(params["enabled_events"])
    if "disabled" in params:
        endpoint.enabled = not params["disabled"]
        obj["status"] = "disabled" if params["disabled"] else "enabled"
    if "description" in params:
        obj["description"] = params["description"] or None
    if "metadata" in params:
        obj["metadata"] = resources._merge_metadata(obj["metadata"], params["metadata"])
    return public(obj)


@route("DELETE", "/v1/webhook_endpoints/<endpoint_id>", "WebhookEndpointDeleteParams")
def delete_webhook_endpoint(ctx: Ctx, params: dict, endpoint_id: str) -> dict:
    ctx.state.get(endpoint_id, ctx.actor, "webhook_endpoint")
    del ctx.state.objects[endpoint_id]
    ctx.state.endpoints.pop(endpoint_id, None)
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2}(?:\.[a-z]+)?)((?:;\s*[a-z0-9_]+=v\d+)*)$")


def known_api_versions() -> frozenset[str]:
    """API versions Stripe's spec lists (the ``api_version`` enum of webhook endpoints)."""
    enum = schema_for("WebhookEndpointCreateParams").fields["api_version"].enum or set()
    return frozenset(enum | {DEFAULT_API_VERSION})


def check_stripe_version(header: str | None) -> None:
    """Refuse a ``Stripe-Version`` header that names no API version, as Stripe does.

    https://docs.stripe.com/api/versioning: the header takes a version such as
    ``2026-10-28.endive`` (optionally followed by ``; <beta>=v<n>`` flags);
    anything else, or a version that does not exist, is answered 400
    ``Invalid Stripe API version: <value>``.
    """
    if header is None:
        return
    match = _VERSION.match(header.strip())
    if match is None or match.group(1) not in known_api_versions():
        raise StripeError(400, f"Invalid Stripe API version: {header}")


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StripeError(400, f"Invalid URL: {url}", code="url_invalid", param="url")


URL_MAP = Map([Rule(rule, methods=[method], endpoint=(name, cls))
               for method, rule, name, cls in ROUTES])


# ---------------------------------------------------------------------- pipeline


class ApiApp:
    """WSGI application for ``/v1``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        request_id = "req_" + random_token(14)
        with self.state.lock:
            failure = self.state.take_failure(request.path)
        if failure is not None and failure.kind == "connection_drop_after":
            self._process(request, request_id)  # done (and kept for an idempotent retry); the answer is lost
            return self._injected(request, failure, request_id)
        if failure is not None:
            return self._injected(request, failure, request_id)
        status, body, headers = self._process(request, request_id)
        response = Response(json.dumps(body, indent=2), status=status,
                            mimetype="application/json")
        response.headers["Request-Id"] = request_id
        response.headers["Stripe-Version"] = request.headers.get("Stripe-Version",
                                                                 DEFAULT_API_VERSION)
        for key, value in headers.items():
            response.headers[key] = value
        return response

    def _injected(self, request: Request, failure, request_id: str) -> Response:
        if failure.kind in ("connection_drop", "connection_drop_after"):
            sock = request.environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            return Response(b"", status=500)
        error_type = {"rate_limit": "invalid_request_error", "api_error": "api_error"}.get(
            failure.kind, "api_error")
        code = "rate_limit" if failure.kind == "rate_limit" else None
        error = StripeError(failure.status, failure.message, type=error_type, code=code)
        response = Response(json.dumps(error.body()), status=failure.status,
                            mimetype="application/json")
        response.headers["Request-Id"] = request_id
        return response

    def _process(self, request: Request, request_id: str) -> tuple[int, Any, dict[str, str]]:
        headers: dict[str, str] = {}
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        with self.state.lock:
            try:
                ctx = self._context(request)
                check_stripe_version(request.headers.get("Stripe-Version"))
                (name, params_class), args = self._match(request)
                params = self._params(request)
                resources.expire_due_sessions(self.state)
                if idempotency_key and request.method in ("POST", "DELETE"):
                    replay = self._replay(ctx, idempotency_key, params)
                    if replay is not None:
                        headers["Idempotent-Replayed"] = "true"
                        return replay[0], replay[1], headers
                params = validate(params, params_class)
            except StripeError as exc:
                return exc.status, exc.body(), headers
            status, body = self._run(ctx, name, params, args, request_id, idempotency_key)
            if idempotency_key and request.method in ("POST", "DELETE"):
                fingerprint = (request.method, request.path, self._params(request))
                self.state.idempotency[(ctx.actor, idempotency_key)] = (fingerprint, status, body,
                                                                         self.state.now())
            self._log(request, ctx, status, idempotency_key)
            return status, body, headers

    def _run(self, ctx: Ctx, name: str, params: dict, args: dict, request_id: str,
             idempotency_key: str | None) -> tuple[int, Any]:
        self.state.request.request_id = request_id
        self.state.request.idempotency_key = idempotency_key
        try:
            body = HANDLERS[name](ctx, params, **args)
            if params.get("expand") and isinstance(body, dict):
                body = expand(self.state, body, params["expand"])
            return 200, body
        except StripeError as exc:
            return exc.status, exc.body()
        except Exception:  # pragma: no cover - emulator bug: answer like Stripe would
            logger.exception("stripe emulator: unhandled error in %s", name)
            return 500, StripeError(500, "An unknown error occurred", type="api_error").body()
        finally:
            self.state.request.request_id = None
            self.state.request.idempotency_key = None

    def _context(self, request: Request) -> Ctx:
        key = self._api_key(request)
        platform = resources.platform_for_key(self.state, key)["id"]
        actor = platform
        stripe_account = request.headers.get("Stripe-Account")
        if stripe_account and stripe_account != platform:
            if (self.state.parent.get(stripe_account) != platform
                    or stripe_account in self.state.deauthorized):
                raise StripeError(
                    403,
                    f"The provided key '{mask_key(key)}' does not have access to account "
                    f"'{stripe_account}' (or that account does not exist). Application access "
                    "may have been revoked.",
                    type="invalid_request_error", code="account_invalid")
            actor = stripe_account
        return Ctx(self.state, platform, actor, request.host_url, request.method, request.path)

    def _api_key(self, request: Request) -> str:
        auth = request.authorization
        key = None
        if auth is not None:
            key = auth.token if auth.type == "bearer" else auth.username
        if not key:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
                type="invalid_request_error")
        if not API_KEY.match(key) or key in self.state.revoked_keys:
            raise StripeError(401, f"Invalid API Key provided: {mask_key(key)}",
                              type="invalid_request_error", code="api_key_invalid")
        return key

    def _match(self, request: Request):
        adapter = URL_MAP.bind_to_environ(request.environ)
        try:
            return adapter.match()
        except (NotFound, MethodNotAllowed):
            raise StripeError(
                404,
                f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            ) from None

    def _params(self, request: Request) -> dict[str, Any]:
        pairs = list(request.args.items(multi=True))
        if request.method == "POST":
            pairs += list(request.form.items(multi=True))
        return decode_form(pairs)

    def _replay(self, ctx: Ctx, key: str, params: dict) -> tuple[int, Any] | None:
        cached = self.state.idempotency.get((ctx.actor, key))
        if cached is None:
            return None
        fingerprint, status, body, saved_at = cached
        if self.state.now() - saved_at >= IDEMPOTENCY_KEY_LIFETIME:
            # "keys ... at least 24 hours old" may be pruned; a reused key is then a new request
            # (https://docs.stripe.com/api/idempotent_requests). The emulator prunes at 24 h.
            del self.state.idempotency[(ctx.actor, key)]
            return None
        if fingerprint != (ctx.method, ctx.path, params):
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type="idempotency_error")
        return status, body

    def _log(self, request: Request, ctx: Ctx, status: int, key: str | None) -> None:
        self.state.request_log.append({
            "method": request.method, "path": request.path, "status": status,
            "account": ctx.actor, "platform": ctx.platform, "idempotency_key": key,
        })
