"""What is still due on an invoice. Pure: integers in minor units.

The one rule, in one place: the amount due is the invoice total less what was paid
less what credit notes took off (EN 16931's BT-115 "amount due for payment" is the
total with tax, BT-112, less the paid amount, BT-113; a credit note lowers what is owed).
"""

from __future__ import annotations

__all__ = ["amount_due"]


def amount_due(total_minor: int, paid_minor: int, credited_minor: int = 0) -> int:
    """``total - paid - credited``, in minor units (negative: more came in than is owed).

    ``TypeError`` for anything but ``int`` (never a float, never ``None``: pass 0).
    """
    for name, value in (("total_minor", total_minor), ("paid_minor", paid_minor), ("credited_minor", credited_minor)):
        if type(value) is not int:
            raise TypeError(f"{name} must be an int of minor units, not {type(value).__name__}")
    return total_minor - paid_minor - credited_minor
