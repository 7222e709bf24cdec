"""The analytics CSV export: one row per invoice of the period, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime, timezone

from sqlalchemy import and_, or_

from ..domain.fees import fees_of_invoice, paid_outside_stripe
from ..domain.invoice import InvoiceStatus, display_status
from ..domain.money import Money, format_decimal_amount
from ..domain.statuses import AWAITING_MONEY
from ..persistence.models import Invoice
from ..persistence.repository import WorkspaceRepository
from .analytics_period import DateRange

_PAID = InvoiceStatus.PAID.value
_OUTSTANDING = AWAITING_MONEY  # from the status table


CSV_COLUMNS = (
    "number", "status", "counted_as", "client", "client_email", "description", "engagement",
    "currency", "amount", "amount_minor", "amount_paid", "amount_paid_minor",
    "amount_refunded", "amount_refunded_minor", "platform_fee", "platform_fee_minor", "fee_bps",
    "created_at", "sent_at", "due_date", "paid_at",
)

#: What a spreadsheet takes as the start of a formula (OWASP, "CSV Injection",
#: https://owasp.org/www-community/attacks/CSV_Injection: ``= + - @``, tab, carriage return;
#: ASVS 5.0 V1.2.10 adds NUL). Compared after NFKC, so full-width ``＝ ＋ － ＠`` and the
#: small/superscript forms count; U+2212 MINUS SIGN and other dashes count as ``-``.
_FORMULA_CHARS = frozenset("=+-@\u2212")
#: Blank letters that render as nothing but are not in a Z*/C* category.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _invisible(char: str) -> bool:
    """Whitespace, control, format (zero-width, bidi), unassigned and private-use characters,
    combining marks without a base, and blank letters: what a reader or a trim step skips."""
    category = unicodedata.category(char)
    return category[0] in "ZC" or category in ("Mn", "Me") or char in _BLANK_LETTERS


def _starts_formula(text: str) -> bool:
    if text[:1] and unicodedata.category(text[0]) == "Cc":
        return True  # tab, CR, LF, NUL...: OWASP and ASVS prefix these whatever follows
    folded = unicodedata.normalize("NFKC", text)
    for char in folded:
        if not _invisible(char):
            return char in _FORMULA_CHARS or unicodedata.category(char) == "Pd"
    return False


def csv_safe(text: str | None) -> str:
    """Text from users or the host, made safe to open in a spreadsheet.

    A cell whose first visible character -- after Unicode NFKC normalisation and after
    skipping leading whitespace, control and invisible characters -- starts a formula
    (``= + - @`` and their full-width or dash look-alikes), or that begins with a
    control character (tab, CR, LF, NUL), gets a ``'`` in front, as OWASP recommends for
    CSV injection. The text itself is kept: the result is ``text`` or ``"'" + text``.
    Numbers the plugin writes (amounts, minor units, fee bps, dates) do not go through
    here, so a spreadsheet still reads them as numbers.
    """
    text = text or ""
    return "'" + text if _starts_formula(text) else text


def csv_filename(period: DateRange) -> str:
    return f"invoices-{period.start.isoformat()}-to-{period.end.isoformat()}.csv"


def export_rows(repo: WorkspaceRepository, period: DateRange, today: date):
    """The invoices behind the figures: paid in the period, outstanding now, or
    created in the period. Streamed from the database in batches."""
    paid_in_period = and_(
        Invoice.status == _PAID, Invoice.paid_at >= period.start_at, Invoice.paid_at < period.end_before
    )
    created = and_(Invoice.created_at >= period.start_at, Invoice.created_at < period.end_before)
    stmt = (
        repo.select(Invoice)
        .where(or_(paid_in_period, Invoice.status.in_(_OUTSTANDING), created))
        .order_by(Invoice.created_at, Invoice.id)
        .execution_options(yield_per=500)
    )
    return repo.session.scalars(stmt)


def export_csv(repo: WorkspaceRepository, period: DateRange, today: date) -> Iterator[str]:
    """The CSV as chunks of text (header first). Amounts appear twice: as a decimal
    string with the currency's decimals ("1250.50", "1500") and as integer minor units."""
    buffer = io.StringIO()
    # Every field quoted: a spreadsheet that splits on ";" (its locale's list separator)
    # or on tabs cannot cut a text cell in two and start a new cell with a formula
    # (OWASP CSV Injection: mind the field separator, not only the first character).
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)

    def flush() -> str:
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return chunk

    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + flush()  # BOM: spreadsheet apps then read UTF-8 names correctly
    for count, invoice in enumerate(export_rows(repo, period, today), start=1):
        writer.writerow(_csv_row(invoice, period, today))
        if count % 200 == 0:
            yield flush()
    yield flush()


def _csv_row(invoice: Invoice, period: DateRange, today: date) -> list[str]:
    currency = invoice.currency

    def money(minor: int | None) -> tuple[str, str]:
        if minor is None:
            return "", ""
        return format_decimal_amount(Money(int(minor), currency)), str(int(minor))

    status = display_status(invoice.status, invoice.due_date, today)
    paid_in_period = (
        invoice.status == _PAID and invoice.paid_at is not None
        and period.start_at <= invoice.paid_at < period.end_before
    )
    if paid_in_period:
        counted = "revenue"
    elif status == "overdue":
        counted = "overdue"
    elif invoice.status in _OUTSTANDING:
        counted = "outstanding"
    else:
        counted = ""
    received = invoice.amount_paid_minor
    if received is None and invoice.status == _PAID:
        received = invoice.amount_minor
    return [
        csv_safe(invoice.number or ""),
        status,
        counted,
        csv_safe(invoice.client_name),
        csv_safe(invoice.client_email),
        csv_safe(invoice.description),
        csv_safe(invoice.subject_title),
        currency,
        *money(invoice.amount_minor),
        *money(received),
        *money(invoice.amount_refunded_minor or 0),
        # The fees taken from its Stripe payments, whatever the latest payment's method
        # (domain.fees.fees_of_invoice); none on money received outside Stripe only.
        *money(None if invoice.application_fee_minor is None
               else fees_of_invoice(invoice.application_fee_minor, invoice.fees_taken_minor,
                                    invoice.amount_paid_minor, invoice.payment_method)),
        "" if invoice.fee_bps is None else str(0 if _all_by_hand(invoice) else invoice.fee_bps),
        _iso(invoice.created_at),
        _iso(invoice.sent_at),
        invoice.due_date.isoformat() if invoice.due_date else "",
        _iso(invoice.paid_at),
    ]


def _all_by_hand(invoice: Invoice) -> bool:
    """Paid, and never through Stripe: no platform fee rate applied."""
    return paid_outside_stripe(invoice.payment_method) and invoice.payment_intent_id is None


def _iso(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds") if value else ""
