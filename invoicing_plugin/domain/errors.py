"""Errors raised by the domain layer.

Every :class:`DomainError` carries a ``message`` written for the staff member who
caused it: the web layer shows it as-is (next to ``field`` when one is named), so it
must say what is wrong and, where possible, what to do instead. Programming errors
(a float where an int belongs, an unknown enum value) are *not* domain errors; they
raise the usual ``TypeError``/``ValueError`` and should surface as bugs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .invoice import Action, InvoiceStatus

__all__ = [
    "AmountError",
    "CurrencyError",
    "CurrencyMismatch",
    "DomainError",
    "InvalidTransition",
]


class DomainError(Exception):
    """A business rule refused an operation; ``message`` is fit to show to staff."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class AmountError(DomainError):
    """An amount is malformed or outside what Stripe can charge."""


class CurrencyError(DomainError):
    """A currency code is unknown or unsupported."""


class CurrencyMismatch(DomainError):
    """Two amounts in different currencies were combined or compared."""


class InvalidTransition(DomainError):
    """An action is not allowed in the invoice's current status.

    ``status`` and ``action`` are kept so callers can log or branch on them without
    parsing the message.
    """

    def __init__(self, message: str, *, status: InvoiceStatus, action: Action) -> None:
        super().__init__(message)
        self.status = status
        self.action = action
