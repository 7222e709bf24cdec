"""The pure domain: money, fees, the invoice lifecycle and its status table.

Imports only the standard library and Babel, so it can be used and tested without
Flask, a database or Stripe.
"""

from .errors import AmountError, CurrencyError, CurrencyMismatch, DomainError, InvalidTransition, InvoicingError
from .fees import BPS_PER_WHOLE, DEFAULT_PLAN_FEE_BPS, application_fee, net_payout
from .invoice import (
    NOOPS,
    TRANSITIONS,
    Action,
    InvoiceStatus,
    allowed_actions,
    deposit_amount,
    display_status,
    format_invoice_number,
    is_editable,
    is_noop,
    is_open_for_payment,
    is_overdue,
    payment_action,
    transition,
)
from .balance import Balance, balance
from .statuses import STATUS_TABLE, StatusRow, status_row
from .money import (
    CURRENCIES,
    MAX_AMOUNT,
    CurrencySpec,
    Money,
    format_decimal_amount,
    format_money,
    fraction_of,
    get_currency,
    parse_amount,
    percent_of,
    validate_amount,
)

__all__ = [
    "BPS_PER_WHOLE",
    "CURRENCIES",
    "DEFAULT_PLAN_FEE_BPS",
    "MAX_AMOUNT",
    "NOOPS",
    "STATUS_TABLE",
    "TRANSITIONS",
    "Action",
    "AmountError",
    "CurrencyError",
    "CurrencyMismatch",
    "CurrencySpec",
    "DomainError",
    "InvalidTransition",
    "InvoiceStatus",
    "InvoicingError",
    "Money",
    "StatusRow",
    "allowed_actions",
    "application_fee",
    "deposit_amount",
    "display_status",
    "format_decimal_amount",
    "format_invoice_number",
    "format_money",
    "fraction_of",
    "get_currency",
    "is_editable",
    "is_noop",
    "is_open_for_payment",
    "is_overdue",
    "net_payout",
    "payment_action",
    "balance",
    "Balance",
    "parse_amount",
    "percent_of",
    "status_row",
    "transition",
    "validate_amount",
]
