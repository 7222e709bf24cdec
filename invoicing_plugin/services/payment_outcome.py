"""What applying Stripe news did to an invoice, and the small helpers every payment path shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..domain.invoice import InvoiceStatus
from ..domain.money import Money, format_money
from ..persistence.models import Invoice

#: ``Invoice.attention`` codes, most important first wins (a dispute outranks the rest).
ATTENTION_RANK: Mapping[str, int] = {
    "disputed": 50,
    "dispute_lost": 50,  # the client's bank took the money back
    "refund_failed": 45,  # a refund came back: the client got nothing
    "refund_due": 40,  # paid after void: the money must go back
    "amount_mismatch": 30,
    "duplicate_payment": 30,
    "unexpected_payment": 20,
}


@dataclass
class PaymentOutcome:
    """What applying one piece of Stripe news did to an invoice."""

    invoice_id: int | None = None
    workspace_id: str | None = None
    status: str | None = None  # the invoice's status afterwards
    changed: bool = False  # anything written
    note: str = ""
    confirm: bool = False  # a payment confirmation email is due after the commit
    flags: list[str] = field(default_factory=list)

    ignored: bool = False  # the event changes no invoice (``note`` says why)

    @classmethod
    def unmatched(cls, note: str, *, workspace_id: str | None = None,
                  invoice_id: int | None = None) -> "PaymentOutcome":
        """An event that changes nothing. ``workspace_id`` / ``invoice_id``: whose session it
        named (a refused event is shown to that workspace), when one of ours."""
        return cls(invoice_id=invoice_id, workspace_id=workspace_id, note=note, ignored=True)


# ---------------------------------------------------------------------------- lookups


def actor_for(source: str) -> str:
    return "stripe" if source in ("webhook", "replay") else "system"


def flag(invoice: Invoice, code: str, detail: str) -> None:
    """Ask staff to look at ``invoice``: the most important reason is shown, every detail kept."""
    current = invoice.attention
    if current is None or ATTENTION_RANK.get(code, 0) >= ATTENTION_RANK.get(current, 0):
        invoice.attention = code
    line = f"{code}: {detail}"
    existing = invoice.attention_detail or ""
    if line not in existing.splitlines():
        invoice.attention_detail = f"{existing}\n{line}".strip()


def unflag(invoice: Invoice, code: str) -> None:
    """Drop ``code``'s details; the most important remaining reason (if any) is shown."""
    lines = [line for line in (invoice.attention_detail or "").splitlines() if not line.startswith(f"{code}: ")]
    invoice.attention_detail = "\n".join(lines) or None
    codes = [line.split(": ", 1)[0] for line in lines]
    invoice.attention = max(codes, key=lambda c: ATTENTION_RANK.get(c, 0), default=None) if codes else None


def money_text(minor: int | None, currency: str | None) -> str:
    if minor is None or not currency:
        return "an unknown amount"
    try:
        return format_money(Money(int(minor), currency))
    except Exception:  # an exotic currency we do not know must not break recording
        return f"{minor} {currency} (minor units)"


def set_status(invoice: Invoice, new: InvoiceStatus) -> None:
    invoice.status = new.value


def outcome_of(invoice: Invoice, **kwargs) -> PaymentOutcome:
    return PaymentOutcome(invoice_id=invoice.id, workspace_id=invoice.workspace_id, status=invoice.status, **kwargs)


