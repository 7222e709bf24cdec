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
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
import types
import typing
from dataclasses import dataclass, field
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


def _node_for(annotation: Any, module_globals: Mapping[str, Any], seen: tuple = ()) -> Node:
    tp = _resolve(annotation, module_globals)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    node = Node()
    if origin in (typing.Union, types.UnionType):
        subs = [_node_for(arg, module_globals, seen) for arg in args]
        for sub in subs:
            _merge(node, sub)
        if any("str" in sub.scalars and sub.enum is None for sub in subs):
            node.enum = None  # a plain string is accepted too
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
            fields[name] = Node(free=True, scalars={"empty"})
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


def validate(params: dict[str, Any], class_path: str) -> dict[str, Any]:
    """Check ``params`` against the SDK class and coerce ints/bools.

    Raises Stripe's ``parameter_unknown`` / ``parameter_missing`` /
    ``parameter_invalid_integer`` errors with the full bracket name in
    ``param``, exactly what a caller would see from the real API.
    """
    return _check(params, schema_for(class_path), "")


def _name(prefix: str, key: str | int) -> str:
    return f"{prefix}[{key}]" if prefix else str(key)


def _check(value: Any, node: Node, name: str) -> Any:
    if node.free:
        if isinstance(value, list):
            return {str(i): v for i, v in enumerate(value)}
        return value
    if isinstance(value, dict):
        if node.fields is None:
            if node.item is not None and not value:
                return []
            raise StripeError(400, f"Invalid {_kind(node)}", param=name)
        return _check_object(value, node, name)
    if isinstance(value, list):
        if node.item is None:
            if node.fields is not None and not value:
                return {}
            raise StripeError(400, f"Invalid {_kind(node)}", param=name)
        return [_check(item, node.item, _name(name, i)) for i, item in enumerate(value)]
    return _check_scalar(value, node, name)


def _check_object(value: dict, node: Node, name: str) -> dict:
    assert node.fields is not None
    result = {}
    for key, sub in value.items():
        child = node.fields.get(key)
        full = _name(name, key)
        if child is None:
            raise StripeError(
                400, f"Received unknown parameter: {full}", code="parameter_unknown", param=full
            )
        result[key] = _check(sub, child, full)
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


def _check_scalar(value: str, node: Node, name: str) -> Any:
    if value == "" and ("empty" in node.scalars or node.fields is not None or node.item is not None):
        return ""
    if "str" in node.scalars or "any" in node.scalars:
        if node.enum is not None and not ({"int", "bool"} & node.scalars) and value not in node.enum:
            choices = ", ".join(sorted(node.enum))
            raise StripeError(
                400, f"Invalid {name}: must be one of {choices}", code="parameter_invalid_string",
                param=name,
            )
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
