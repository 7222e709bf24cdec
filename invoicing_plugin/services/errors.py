"""Errors raised by the service layer (and so by :mod:`invoicing_plugin.api`).

:class:`InvoicingError` is the root of every refusal fit for staff; it is defined in
:mod:`invoicing_plugin.domain.errors` (so the pure domain can derive from it) and is
the very same class here. Each carries a ``message`` written for the person who
caused it, shown as-is by the web layer. Its subclasses include domain rule
violations (:class:`~invoicing_plugin.domain.errors.DomainError`: ``InvalidTransition``,
``AmountError`` ...), "not found in this workspace"
(:class:`invoicing_plugin.persistence.repository.NotFound`), Stripe and mail failures
(``GatewayError``, ``MailError``) and the ones below.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..domain.errors import InvoicingError

__all__ = ["InvoicingError", "PaidMeanwhile", "ValidationFailed"]


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
