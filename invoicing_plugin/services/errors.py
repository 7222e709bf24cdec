"""Errors raised by the service layer (and so by :mod:`invoicing_plugin.api`).

Each carries a ``message`` written for the person who caused it, shown as-is by
the web layer. Domain rule violations raise :class:`invoicing_plugin.domain.DomainError`
(``InvalidTransition``, ``AmountError`` ...), which also carry ``.message``;
"not found in this workspace" raises
:class:`invoicing_plugin.persistence.repository.NotFound`.
"""

from __future__ import annotations

from collections.abc import Mapping


class InvoicingError(Exception):
    """A use case refused or failed; nothing was changed. ``message`` is fit to show."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(InvoicingError):
    """Input was invalid. ``errors`` maps each field name to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        first = next(iter(self.errors.items()), (None, "The input is not valid."))
        super().__init__("; ".join(self.errors.values()) or first[1], field=first[0])


class PaidMeanwhile(InvoicingError):
    """Void or mark-paid was refused because Stripe says the client has already paid.

    The payment was applied (the invoice is now paid or processing); ``status``
    is the invoice's status afterwards.
    """

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message)
        self.status = status
