"""Errors raised by the domain layer, and the root of every refusal fit for staff.

:class:`InvoicingError` is the one root: every refusal the plugin raises for a person
to read -- a business rule (:class:`DomainError`), a use case that refused
(``services.errors``), "not found in this workspace"
(``persistence.repository.NotFound``), Stripe or the mail server failing
(``gateways``) -- derives from it, so a caller catches it once and shows
``message`` (next to ``field`` when one is named). It lives here, in the pure
domain, so every layer can derive from it without importing upwards.

Each ``message`` is written for the staff member who caused it: it must say what is
wrong and, where possible, what to do instead. Programming errors (a float where an
int belongs, an unknown enum value) are *not* refusals; they raise the usual
``TypeError``/``ValueError`` and should surface as bugs.
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
    "InvoicingError",
]


class InvoicingError(Exception):
    """A refusal or failure fit to show to staff; nothing was changed.

    ``message`` says what is wrong (``str(error)`` is the same text, except for
    ``NotFound``, whose ``str()`` stays the name of what was looked up); ``field``
    names the form field it concerns, or is ``None``.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class DomainError(InvoicingError):
    """A business rule refused an operation; ``message`` is fit to show to staff."""


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
