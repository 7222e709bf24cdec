"""The amounts every client email states, from one place (newuser16 N3).

The invoice email, the reminder and the payment confirmation all say how much: each reads
it here, from the invoice's balance (:func:`~invoicing_plugin.domain.balance.of_invoice`),
so an email never names the total while the pay link asks for the balance. ``due`` is
what the pay link asks for (BT-115: total less deposits and client credit deducted, credit
notes and payments); when anything was deducted the email also shows the total and each
deduction, as the printed invoice does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.balance import of_invoice
from ..domain.money import Money, format_money

__all__ = ["EmailAmounts", "email_amounts"]


@dataclass(frozen=True)
class EmailAmounts:
    """Formatted amounts for a client email (text, in the invoice's currency)."""

    #: The invoice's total with VAT (BT-112).
    total: str
    #: What is still to pay, never below 0: what the pay link asks for.
    due: str
    due_minor: int
    #: What was received on the invoice itself (payments, not deductions); for a
    #: confirmation sent before any payment row exists, what the payment was asked for.
    paid: str
    #: ``(label, "−£300.00")`` for each deposit, client credit, credit notes and earlier
    #: payments taken off the total; empty when the total is what is due.
    deductions: tuple[tuple[str, str], ...] = ()


def email_amounts(invoice, locale: str | None = None) -> EmailAmounts:
    """The amounts of ``invoice`` (an ``Invoice`` or anything with its money columns) for an email."""
    currency = invoice.currency
    balance = of_invoice(invoice)

    def text(minor: int) -> str:
        money = Money(int(minor), currency)
        return format_money(money, locale) if locale else format_money(money)

    deductions: list[tuple[str, str]] = []
    for row in getattr(invoice, "prepayments", None) or ():
        kind = "Client credit from credit note" if getattr(row, "credit_note_id", None) else "Deposit"
        deductions.append((f"{kind} {row.reference}", "\u2212" + text(row.amount_minor)))
    listed = sum(int(row.amount_minor) for row in getattr(invoice, "prepayments", None) or ())
    if balance.prepaid_minor > listed:  # a caller without the rows: the deducted sum in one line
        deductions.append(("Deposits and credit deducted", "\u2212" + text(balance.prepaid_minor - listed)))
    if balance.credited_minor:
        deductions.append(("Credit notes", "\u2212" + text(balance.credited_minor)))
    if balance.paid_minor > 0:
        deductions.append(("Already paid", "\u2212" + text(balance.paid_minor)))
    asked = balance.total_minor - balance.prepaid_minor - balance.credited_minor
    return EmailAmounts(total=text(balance.total_minor), due=text(balance.balance_due_minor),
                        due_minor=balance.balance_due_minor,
                        paid=text(balance.received_minor or max(asked, 0)), deductions=tuple(deductions))
