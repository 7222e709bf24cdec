"""Stripe-shaped API errors.

The SDK picks its exception class from the HTTP status and the error body
(``type``/``code``), so raising :class:`StripeError` with the right status is
what makes ``stripe.InvalidRequestError``, ``stripe.AuthenticationError``,
``stripe.PermissionError``, ``stripe.IdempotencyError`` or
``stripe.RateLimitError`` appear on the caller's side.
"""

from __future__ import annotations

from typing import Any

_DOC_BASE = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    """An error answered with Stripe's ``{"error": {...}}`` body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.extra = extra

    def body(self, request_log_url: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = _DOC_BASE + self.code.replace("_", "-")
        if self.param:
            error["param"] = self.param
        if request_log_url:
            error["request_log_url"] = request_log_url
        error.update(self.extra)
        return {"error": error}


def resource_missing(object_name: str, object_id: str, param: str = "id") -> StripeError:
    """Stripe's 404 for an id that does not exist *for this account*."""
    return StripeError(
        404,
        f"No such {object_name}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def mask_key(key: str) -> str:
    """Mask an API key the way Stripe echoes it in errors (prefix + last 4)."""
    parts = key.split("_")
    if len(parts) >= 3 and parts[0] in ("sk", "rk", "pk"):
        prefix = "_".join(parts[:2]) + "_"
    else:
        prefix = ""
    return f"{prefix}****{key[-4:]}" if len(key) > 4 else "****"
