"""Request decoding and validation derived from the installed ``stripe`` SDK.

Stripe's v1 API takes ``application/x-www-form-urlencoded`` bodies (and query
strings) with bracketed keys such as ``line_items[0][price_data][currency]``.
This module turns those pairs into nested dicts/lists and then checks them
against a *schema* built from the SDK's typed request-parameter classes
(``stripe.params.checkout.SessionCreateParams`` and friends).  Deriving the
accepted names from the SDK instead of a hand-kept list means the emulator
follows the SDK version the project pins: a parameter the SDK cannot send is
a parameter the emulator rejects, with Stripe's own ``parameter_unknown``
error.

Beyond names, the values are held to what Stripe's API accepts:

* enumerations: the SDK types an enum parameter as ``Literal[...]|str``; the
  ``Literal`` members are the spec's ``enum`` for the pinned API version and
  the ``|str`` is only the SDK's forward compatibility, so a value outside the
  members is refused (``locale=xx`` -> "Invalid locale: must be one of ...");
* lengths: ``maxLength`` & co. from Stripe's OpenAPI spec, extracted into
  ``spec_constraints.json`` by ``scripts/stripe_spec_constraints.py``;
* empty strings: Stripe reads ``""`` as "unset this parameter" and refuses it
  (``parameter_invalid_empty``) where the spec offers no ``""`` choice -- the
  SDK marks the unsettable ones with ``Literal['']``;
* metadata (https://docs.stripe.com/metadata): at most 50 keys, keys of at
  most 40 characters, string values of at most 500 characters -- the spec
  states none of these for requests, so they are written here from that page;
* e-mail parameters must be e-mail addresses (``email_invalid``,
  https://docs.stripe.com/error-codes#email-invalid).
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ForwardRef, Iterable, Mapping

from .errors import StripeError

# Keys of ``stripe.RequestOptions``: they travel as HTTP headers, never as
# request parameters, so the SDK classes' inherited annotations must not be
# mistaken for API parameters.
_REQUEST_OPTION_KEYS = frozenset(
    {
        "api_key",
        "stripe_version",
        "stripe_account",
        "stripe_context",
        "max_network_retries",
        "idempotency_key",
        "content_type",
        "headers",
    }
)

_KEY_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


# --------------------------------------------------------------------------
# Form decoding
# --------------------------------------------------------------------------


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Decode ``(key, value)`` pairs with bracket syntax into nested data.

    ``a[b][c]=1`` becomes ``{"a": {"b": {"c": "1"}}}``; ``a[0][x]=1`` and
    ``a[]=1`` become lists.  Containers whose keys are exactly ``0..n-1`` are
    turned into lists (this is how the SDK encodes every list); anything
    else stays a dict, so ``metadata[5]=x`` keeps its key.  Conflicting
    shapes (``a=1`` together with ``a[b]=2``) are rejected the way Stripe
    rejects them: with an ``invalid_request_error``.
    """
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        path = _split_key(raw_key)
        _insert(root, path, value, raw_key)
    return _listify(root)


def _split_key(raw_key: str) -> list[str | None]:
    """Split ``a[b][]`` into ``["a", "b", None]`` (``None`` = append)."""
    bracket = raw_key.find("[")
    if bracket <= 0:
        return [raw_key]
    head, rest = raw_key[:bracket], raw_key[bracket:]
    segments: list[str | None] = [head]
    position = 0
    for match in _KEY_SEGMENT.finditer(rest):
        if match.start() != position:
            raise _malformed(raw_key)
        segments.append(match.group(1) or None)
        position = match.end()
    if position != len(rest):
        raise _malformed(raw_key)
    return segments


def _malformed(raw_key: str) -> StripeError:
    return StripeError(400, f"Invalid parameter name: {raw_key}", param=raw_key)


class _Appendable(dict):
    """Marker for containers written with ``[]`` (append) syntax."""


def _insert(node: dict, path: list[str | None], value: str, raw_key: str) -> None:
    for index, segment in enumerate(path):
        last = index == len(path) - 1
        if segment is None:  # ``[]``: next free index
            segment = str(len(node))
        existing = node.get(segment)
        if last:
            if isinstance(existing, dict):
                raise StripeError(
                    400, f"Invalid value for {raw_key}: conflicting parameter shapes.", param=raw_key
                )
            node[segment] = value
            return
        if existing is None:
            existing = node[segment] = {}
        elif not isinstance(existing, dict):
            raise StripeError(
                400, f"Invalid value for {raw_key}: conflicting parameter shapes.", param=raw_key
            )
        node = existing


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    keys = list(converted)
    if keys and all(key.isdigit() for key in keys):
        indices = sorted(int(key) for key in keys)
        if indices == list(range(len(indices))):
            return [converted[str(i)] for i in indices]
    return converted


# --------------------------------------------------------------------------
# Schema built from the SDK's TypedDicts
# --------------------------------------------------------------------------


@dataclass
class Node:
    """What one parameter position accepts.

    The SDK's annotations are unions (``Union[Literal[""], List[str]]``,
    ``Union[int, SomeParamsClass]`` ...); after form decoding a value is only
    ever a ``str``, a ``dict`` or a ``list``, so a node records one possible
    shape per Python type: scalar kinds, object fields, list item node, or
    ``free`` for free-form maps such as ``metadata``.
    """

    scalars: set[str] = field(default_factory=set)  # "str", "int", "bool", "empty", "any"
    enum: set[str] | None = None  # allowed literal strings when only literals are accepted
    fields: dict[str, "Node"] | None = None
    required: frozenset[str] = frozenset()
    item: "Node | None" = None
    free: bool = False
    metadata: bool = False  # a Stripe metadata map (https://docs.stripe.com/metadata)


def _resolve(annotation: Any, module_globals: Mapping[str, Any]) -> Any:
    if isinstance(annotation, str):
        return eval(annotation, dict(module_globals))  # noqa: S307 - SDK-provided annotations
    if isinstance(annotation, ForwardRef):
        return eval(annotation.__forward_arg__, dict(module_globals))  # noqa: S307
    return annotation


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _merge(target: Node, other: Node) -> None:
    target.scalars |= other.scalars
    if other.enum is not None:
        target.enum = (target.enum or set()) | other.enum
    if other.fields is not None:
        target.fields = {**(target.fields or {}), **other.fields}
        target.required = target.required | other.required
    if other.item is not None:
        if target.item is None:
            target.item = Node()
        _merge(target.item, other.item)
    target.free = target.free or other.free
    target.metadata = target.metadata or other.metadata


def _node_for(annotation: Any, module_globals: Mapping[str, Any], seen: tuple = ()) -> Node:
    tp = _resolve(annotation, module_globals)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    node = Node()
    if origin in (typing.Union, types.UnionType):
        subs = [_node_for(arg, module_globals, seen) for arg in args]
        for sub in subs:
            _merge(node, sub)
        # ``Literal['a', 'b']|str``: the SDK widens every enum with ``str`` for
        # forward compatibility; the API itself accepts only the spec's enum
        # members, which are the ``Literal`` ones.  A plain ``str`` without any
        # ``Literal`` besides it stays free text.
        return node
    if origin in (typing.NotRequired, typing.Required):
        return _node_for(args[0], module_globals, seen)
    if origin is typing.Literal:
        values = {str(value) for value in args}
        if values == {""}:
            node.scalars.add("empty")
            return node
        node.scalars.add("str")
        node.enum = values - {""}
        if "" in values:
            node.scalars.add("empty")
        return node
    if origin in (list, typing.List, tuple):
        node.item = _node_for(args[0], module_globals, seen) if args else Node(scalars={"any"})
        return node
    if origin in (dict, typing.Dict) or tp in (dict, typing.Dict) or tp is typing.Any:
        node.free = True
        return node
    if _is_typeddict(tp):
        return _typeddict_node(tp, seen)
    if tp is bool:
        node.scalars.add("bool")
    elif tp is int:
        node.scalars.add("int")
    elif tp is type(None):
        node.scalars.add("empty")
    else:  # str, Decimal, float, datetime, untyped stripe objects ...
        node.scalars.add("str")
    return node


def _typeddict_node(cls: type, seen: tuple = ()) -> Node:
    if cls in seen:  # recursive parameter types: accept anything below
        return Node(free=True)
    module_globals = vars(sys.modules[cls.__module__])
    fields: dict[str, Node] = {}
    for name, annotation in cls.__annotations__.items():
        if name in _REQUEST_OPTION_KEYS:
            continue
        if name == "metadata":
            fields[name] = Node(free=True, scalars={"empty"}, metadata=True)
            continue
        fields[name] = _node_for(annotation, module_globals, seen + (cls,))
    required = frozenset(cls.__required_keys__) - _REQUEST_OPTION_KEYS
    return Node(fields=fields, required=required)


@functools.lru_cache(maxsize=None)
def schema_for(class_path: str) -> Node:
    """Schema for an SDK params class, e.g. ``"checkout.SessionCreateParams"``.

    ``expand`` is always accepted: Stripe takes it on every endpoint.
    """
    module_name, _, class_name = class_path.rpartition(".")
    module = importlib.import_module("stripe.params" + (f".{module_name}" if module_name else ""))
    node = _typeddict_node(getattr(module, class_name))
    node.fields = dict(node.fields or {})
    node.fields.setdefault("expand", Node(item=Node(scalars={"str"})))
    return node


# --------------------------------------------------------------------------
# Validation and coercion
# --------------------------------------------------------------------------


_CONSTRAINTS_FILE = Path(__file__).with_name("spec_constraints.json")

# Parameters Stripe checks as e-mail addresses, per params class (bracket names).
# The spec types them as plain strings; the API reference describes them as
# e-mail addresses and Stripe refuses others with ``email_invalid``.
EMAIL_PARAMS: dict[str, frozenset[str]] = {
    "checkout.SessionCreateParams": frozenset({"customer_email",
                                               "payment_intent_data[receipt_email]"}),
    "AccountCreateParams": frozenset({"email"}),
    "AccountUpdateParams": frozenset({"email"}),
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")

# https://docs.stripe.com/metadata ("Limits"): 50 keys, 40-character keys,
# 500-character values.
METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500


@functools.lru_cache(maxsize=1)
def spec_constraints() -> dict[str, dict[str, dict[str, int]]]:
    """``{params class: {bracket name with [] for items: {"maxLength": n, ...}}}``."""
    with _CONSTRAINTS_FILE.open(encoding="utf-8") as handle:
        return json.load(handle)["constraints"]


@dataclass(frozen=True)
class _Rules:
    limits: Mapping[str, Mapping[str, int]]
    emails: frozenset[str]


def validate(params: dict[str, Any], class_path: str) -> dict[str, Any]:
    """Check ``params`` against the SDK class and coerce ints/bools.

    Raises Stripe's ``parameter_unknown`` / ``parameter_missing`` /
    ``parameter_invalid_integer`` / ``parameter_invalid_empty`` /
    ``email_invalid`` errors and its length, enum and metadata refusals with
    the full bracket name in ``param``, what a caller would see from the real
    API (all ``invalid_request_error``, HTTP 400).
    """
    rules = _Rules(spec_constraints().get(class_path, {}),
                   EMAIL_PARAMS.get(class_path, frozenset()))
    return _check(params, schema_for(class_path), "", rules)


def _name(prefix: str, key: str | int) -> str:
    return f"{prefix}[{key}]" if prefix else str(key)


def _spec_name(name: str) -> str:
    """``line_items[0][price_data]`` -> ``line_items[][price_data]`` (the table's form)."""
    return re.sub(r"\[\d+\]", "[]", name)


def _check(value: Any, node: Node, name: str, rules: _Rules) -> Any:
    if node.metadata:
        return _check_metadata(value, name)
    if node.free:
        if isinstance(value, list):
            return {str(i): v for i, v in enumerate(value)}
        return value
    if isinstance(value, dict):
        if node.fields is None:
            if node.item is not None and not value:
                return []
            raise StripeError(400, f"Invalid {_kind(node)}", param=name)
        return _check_object(value, node, name, rules)
    if isinstance(value, list):
        if node.item is None:
            if node.fields is not None and not value:
                return {}
            raise StripeError(400, f"Invalid {_kind(node)}", param=name)
        _check_count(value, name, rules)
        return [_check(item, node.item, _name(name, i), rules) for i, item in enumerate(value)]
    return _check_scalar(value, node, name, rules)


def _check_metadata(value: Any, name: str) -> Any:
    """Stripe's metadata limits (https://docs.stripe.com/metadata)."""
    if value == "":
        return ""  # unset all keys
    if isinstance(value, list):
        value = {str(i): v for i, v in enumerate(value)}
    if not isinstance(value, dict):
        raise StripeError(400, f"Invalid object: {name} must be a hash of keys to strings",
                          param=name)
    if len(value) > METADATA_MAX_KEYS:
        raise StripeError(
            400, f"Metadata can have up to {METADATA_MAX_KEYS} keys, but you've set "
            f"{len(value)}.", param=name)
    for key, item in value.items():
        if not key or len(key) > METADATA_MAX_KEY_LENGTH:
            raise StripeError(
                400, f"Invalid key: {key!r} must be a string of 1 to "
                f"{METADATA_MAX_KEY_LENGTH} characters", param=name)
        if not isinstance(item, str) or len(item) > METADATA_MAX_VALUE_LENGTH:
            shown = item if isinstance(item, str) else json.dumps(item)
            raise StripeError(
                400, f"Invalid val: {_shorten(shown)} must be a string under "
                f"{METADATA_MAX_VALUE_LENGTH} characters", param=_name(name, key))
    return value


def _shorten(text: str, keep: int = 40) -> str:
    return text if len(text) <= keep else text[:keep] + "..."


def _check_count(value: list, name: str, rules: _Rules) -> None:
    limits = rules.limits.get(_spec_name(name), {})
    if "maxItems" in limits and len(value) > limits["maxItems"]:
        raise StripeError(400, f"Invalid array: {name} must have at most {limits['maxItems']} "
                          "items", param=name)
    if "minItems" in limits and len(value) < limits["minItems"]:
        raise StripeError(400, f"Invalid array: {name} must have at least "
                          f"{limits['minItems']} items", param=name)


def _check_object(value: dict, node: Node, name: str, rules: _Rules) -> dict:
    assert node.fields is not None
    result = {}
    for key, sub in value.items():
        child = node.fields.get(key)
        full = _name(name, key)
        if child is None:
            raise StripeError(
                400, f"Received unknown parameter: {full}", code="parameter_unknown", param=full
            )
        result[key] = _check(sub, child, full, rules)
    for key in sorted(node.required):
        if key not in value:
            full = _name(name, key)
            raise StripeError(
                400, f"Missing required param: {full}.", code="parameter_missing", param=full
            )
    return result


def _kind(node: Node) -> str:
    if node.fields is not None:
        return "object"
    if node.item is not None:
        return "array"
    if "int" in node.scalars:
        return "integer"
    if "bool" in node.scalars:
        return "boolean"
    return "string"


def _check_scalar(value: str, node: Node, name: str, rules: _Rules) -> Any:
    if value == "" and ("empty" in node.scalars or node.fields is not None or node.item is not None):
        return ""
    if value == "":
        # Stripe reads an empty string as "unset"; where the parameter cannot be
        # unset it answers this (https://docs.stripe.com/error-codes#parameter-invalid-empty).
        raise StripeError(
            400, f"You passed an empty string for '{name}'. We assume empty values are an "
            f"attempt to unset a parameter; however '{name}' cannot be unset. You should "
            f"remove '{name}' from your request or supply a non-empty value.",
            code="parameter_invalid_empty", param=name)
    if "str" in node.scalars or "any" in node.scalars:
        if node.enum is not None and not ({"int", "bool"} & node.scalars) and value not in node.enum:
            choices = ", ".join(sorted(node.enum))
            raise StripeError(
                400, f"Invalid {name}: must be one of {choices}", code="parameter_invalid_string",
                param=name,
            )
        limits = rules.limits.get(_spec_name(name), {})
        if "maxLength" in limits and len(value) > limits["maxLength"]:
            raise StripeError(
                400, f"Invalid string: {_shorten(value)}; must be at most {limits['maxLength']} "
                "characters", param=name)
        if "minLength" in limits and len(value) < limits["minLength"]:
            raise StripeError(
                400, f"Invalid string: {_shorten(value)}; must be at least "
                f"{limits['minLength']} characters", param=name)
        if name in rules.emails and not _EMAIL.match(value):
            raise StripeError(400, f"Invalid email address: {value}", code="email_invalid",
                              param=name)
        return value
    if "int" in node.scalars:
        if re.fullmatch(r"-?\d+", value):
            return int(value)
        if "bool" not in node.scalars:
            raise StripeError(
                400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name
            )
    if "bool" in node.scalars:
        if value in ("true", "false"):
            return value == "true"
        raise StripeError(400, f"Invalid boolean: {value}", param=name)
    if node.fields is not None or node.item is not None:
        raise StripeError(400, f"Invalid {_kind(node)}", param=name)
    return value
