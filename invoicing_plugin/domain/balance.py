"""An invoice's balance: what was paid, and what is still due (EN 16931 BT-113 / BT-115).

Pure arithmetic on integer minor units (no floats, no currencies mixed: the caller passes
amounts of the invoice's own currency).

* ``received`` -- the sum of the payments recorded on the invoice (Stripe and by hand), the
  sum of ``invoicing_payments.amount_minor`` (cached as ``Invoice.amount_paid_minor``).
* ``paid`` -- what the seller *kept*: ``received - refunded - dispute_lost``. A refund gives
  money back to the client, so it is no longer paid; a dispute the seller lost is money the
  client's bank took back, so it is not paid either. (A dispute that is still open, or won,
  changes nothing.) This is EN 16931's *paid amount* (BT-113).
* ``credited`` -- what credit notes took off the invoice (``Invoice.amount_credited_minor``,
  the sum of its credit notes; :func:`of_invoice` reads it). A credit note reduces what the
  client owes without any money moving; one settled by a refund also shows as ``refunded``
  once Stripe reports the refund, one kept as the client's credit leaves ``due`` negative
  (the client's credit on this invoice).
* ``prepaid`` -- paid deposit invoices deducted from this invoice (prepayments, cached as
  ``Invoice.prepaid_minor``). EN 16931 counts them in BT-113 with the payments; here they
  are kept apart so ``paid`` stays the money received on *this* invoice.
* ``due`` -- ``total - prepaid - paid - credited`` (BT-115, *amount due for payment*). Negative when
  more was paid than the invoice asks: an **overpayment**, kept as the client's credit on
  the invoice and shown (``overpaid``), never silently dropped.

What the balance does **not** decide: the status. A refund on a paid invoice makes ``due``
positive again, but the invoice stays ``paid`` (a refund is the seller's decision to hand
money back, not a new debt; the full refund makes it ``refunded``). Only payments move an
invoice between ``sent``, ``partially_paid`` and ``paid`` (see
:func:`~invoicing_plugin.domain.invoice.payment_action`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Balance", "balance", "of_invoice"]


def _minor(name: str, value: object) -> int:
    if type(value) is not int:
        raise TypeError(f"{name} must be an int (minor units), not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} cannot be negative: {value}")
    return value


@dataclass(frozen=True)
class Balance:
    """An invoice's balance in minor units (see the module's docstring for each term)."""

    total_minor: int
    received_minor: int
    refunded_minor: int
    dispute_lost_minor: int
    credited_minor: int
    prepaid_minor: int = 0

    @property
    def paid_minor(self) -> int:
        """Money received and kept: received less refunds and lost disputes (BT-113)."""
        return self.received_minor - self.refunded_minor - self.dispute_lost_minor

    @property
    def due_minor(self) -> int:
        """Total less deposits deducted, paid and credited (BT-115); negative for an overpayment."""
        return self.total_minor - self.prepaid_minor - self.paid_minor - self.credited_minor

    @property
    def overpaid_minor(self) -> int:
        """How much more than owed was paid (kept as the client's credit); 0 if none."""
        return max(0, -self.due_minor)

    @property
    def balance_due_minor(self) -> int:
        """What the client still has to pay: ``due_minor``, never below 0."""
        return max(0, self.due_minor)


def balance(total_minor: int, received_minor: int = 0, *, refunded_minor: int = 0, dispute_lost_minor: int = 0,
            credited_minor: int = 0, prepaid_minor: int = 0) -> Balance:
    """The balance of an invoice of ``total_minor`` (``Invoice.amount_minor``, tax included).

    Every amount is a non-negative ``int`` of minor units in the invoice's currency;
    anything else raises ``TypeError`` / ``ValueError``. ``refunded_minor +
    dispute_lost_minor`` above ``received_minor`` is refused (``ValueError``): nothing can
    be given back that was not received.

    >>> b = balance(10_000, 4_000)
    >>> b.paid_minor, b.due_minor
    (4000, 6000)
    >>> balance(10_000, 12_000).overpaid_minor
    2000
    """
    values = {name: _minor(name, value) for name, value in (
        ("total_minor", total_minor), ("received_minor", received_minor), ("refunded_minor", refunded_minor),
        ("dispute_lost_minor", dispute_lost_minor), ("credited_minor", credited_minor),
        ("prepaid_minor", prepaid_minor))}
    if values["refunded_minor"] + values["dispute_lost_minor"] > values["received_minor"]:
        raise ValueError(
            f"refunds ({refunded_minor}) and lost disputes ({dispute_lost_minor}) exceed what was received "
            f"({received_minor})")
    return Balance(**values)


def of_invoice(invoice, *, credited_minor: int | None = None) -> Balance:
    """The balance of an ``Invoice`` (or anything with its money columns: a snapshot, a
    :class:`~invoicing_plugin.persistence.rows.TrackedRow`). A refund or lost dispute
    recorded before its payment (events out of order) is capped at what was received.

    ``credited_minor`` defaults to the invoice's own ``amount_credited_minor`` (its credit
    notes; 0 for an object without the column), so every caller -- checkout, the payment
    check, ``mark_paid``, the totals, the portal, the documents, the snapshot -- sees the
    credit notes. Pass it only to ask "what if" (a credit note about to be made)."""
    if credited_minor is None:
        credited_minor = int(getattr(invoice, "amount_credited_minor", 0) or 0)
    received = int(invoice.amount_paid_minor or 0)
    refunded = min(int(invoice.amount_refunded_minor or 0), received)
    lost = min(int(getattr(invoice, "amount_dispute_lost_minor", 0) or 0), received - refunded)
    return balance(int(invoice.amount_minor), received, refunded_minor=refunded, dispute_lost_minor=lost,
                   credited_minor=credited_minor, prepaid_minor=int(getattr(invoice, "prepaid_minor", 0) or 0))
