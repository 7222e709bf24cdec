"""Every invoice status, once: its words, its tone and what it means, as one table.

:data:`STATUS_TABLE` has a row per *displayed* status: each :class:`InvoiceStatus`
plus ``overdue``, which is never stored (it is a ``sent`` invoice past its due date,
see :func:`~invoicing_plugin.domain.invoice.display_status`). Every label map, filter
list, badge tone and status set the plugin uses is derived from it below, so adding
a status is one :class:`InvoiceStatus` member and one row here (plus its transitions
in :mod:`~invoicing_plugin.domain.invoice`).

Words, by reader:

* ``staff_label`` -- badges and the list filter on staff pages ("Sent").
* ``client_label`` -- the client portal ("Awaiting payment"); ``None`` for a status
  clients never see (drafts).
* ``document_label`` -- the printable invoice and its PDF, for staff and client alike.
* ``report_label`` -- the analytics page's count per stored status; ``None`` on the
  ``overdue`` row (the counts are per stored status).
* ``phrase`` -- "This invoice is {phrase}." in a refused action's message; ``None`` on
  the ``overdue`` row (refusals name the stored status).

Tones (CSS modifiers ``--tone-<tone>``; the stylesheets have one rule per tone):

* ``tone`` -- staff badges and the printed document: ``ok``, ``danger``, ``info``,
  ``neutral``.
* ``client_tone`` -- the client portal: ``ok``, ``danger``, ``warn``, ``muted``,
  ``info``; ``None`` where ``client_label`` is.

Meaning (flags of a *stored* status; the ``overdue`` row repeats ``sent``'s):

* ``awaiting_money`` -- sent and not settled: the Checkout Session may still turn into
  money, the invoice counts as outstanding in analytics ("open" for the totals).
* ``payable`` -- the client may start paying now (not while a payment is processing).
* ``money_received`` -- a payment was recorded on it (even if refunded since).
* ``revenue`` -- counts as revenue in analytics.
* ``editable`` -- staff may still edit it.

Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

__all__ = [
    "AWAITING_MONEY",
    "CAN_BE_OVERDUE",
    "CLIENT_LABELS",
    "CLIENT_TONES",
    "CLIENT_VISIBLE",
    "DOCUMENT_LABELS",
    "EDITABLE",
    "MONEY_RECEIVED",
    "OVERDUE",
    "PAYABLE",
    "PHRASES",
    "REPORT_LABELS",
    "REVENUE",
    "STAFF_LABELS",
    "STATUS_TABLE",
    "TONES",
    "InvoiceStatus",
    "StatusRow",
    "StatusViews",
    "status_row",
]


class InvoiceStatus(str, Enum):
    DRAFT = "draft"
    SENT = "sent"  # awaiting payment
    PROCESSING = "processing"  # payment started, not settled (e.g. bank debit)
    PAID = "paid"
    VOIDED = "voided"
    PAID_AFTER_VOID = "paid_after_void"  # money arrived after voiding: refund due
    REFUNDED = "refunded"  # fully refunded
    PARTIALLY_PAID = "partially_paid"  # some money received, a balance still due (issue 15)
    CREDITED = "credited"  # closed by a credit note for all of it, before any payment


OVERDUE = "overdue"
"""The displayed status of a ``sent`` invoice past its due date (never stored)."""


@dataclass(frozen=True)
class StatusRow:
    """One displayed status: ``key`` is what pages, filters and CSS use; ``status`` the stored one."""

    key: str
    status: InvoiceStatus
    staff_label: str
    client_label: str | None
    document_label: str
    report_label: str | None
    phrase: str | None
    tone: str
    client_tone: str | None
    awaiting_money: bool = False
    payable: bool = False
    money_received: bool = False
    revenue: bool = False
    editable: bool = False

    @property
    def is_stored(self) -> bool:
        """False for a display-only row (``overdue``)."""
        return self.key == self.status.value


_S = InvoiceStatus

STATUS_TABLE: tuple[StatusRow, ...] = (
    StatusRow("draft", _S.DRAFT, "Draft", None, "Draft", "Drafts", "a draft",
              tone="neutral", client_tone=None, editable=True),
    StatusRow("sent", _S.SENT, "Sent", "Awaiting payment", "Awaiting payment", "Awaiting payment", "awaiting payment",
              tone="info", client_tone="info", awaiting_money=True, payable=True),
    StatusRow(OVERDUE, _S.SENT, "Overdue", "Overdue", "Overdue", None, None,
              tone="danger", client_tone="danger", awaiting_money=True, payable=True),
    StatusRow("processing", _S.PROCESSING, "Processing", "Payment processing", "Payment processing", "Processing",
              "processing a payment", tone="info", client_tone="warn", awaiting_money=True),
    # Partially paid: money came in, a balance is still due. payable: the pay link asks for the
    # balance; awaiting_money: the balance is outstanding (analytics' "open" counts the balance);
    # money_received: a payment is recorded on it; revenue: what was received (and kept) counts
    # as revenue on the day it was received, as any payment does.
    StatusRow("partially_paid", _S.PARTIALLY_PAID, "Partially paid", "Partly paid", "Partially paid",
              "Partially paid", "partially paid", tone="info", client_tone="warn",
              awaiting_money=True, payable=True, money_received=True, revenue=True),
    StatusRow("paid", _S.PAID, "Paid", "Paid", "Paid", "Paid", "paid",
              tone="ok", client_tone="ok", money_received=True, revenue=True),
    StatusRow("voided", _S.VOIDED, "Voided", "Cancelled", "Cancelled", "Voided", "voided",
              tone="danger", client_tone="muted"),
    StatusRow("paid_after_void", _S.PAID_AFTER_VOID, "Paid after void", "Paid — refund on its way",
              "Cancelled (payment received, refund due)", "Paid after void", "voided but was paid (refund due)",
              tone="danger", client_tone="muted", money_received=True),
    StatusRow("refunded", _S.REFUNDED, "Refunded", "Refunded", "Refunded", "Refunded", "refunded",
              tone="neutral", client_tone="muted", money_received=True),
    # Closed by a full credit note before any payment: nothing is due and nothing was
    # received, so it is neither outstanding (awaiting_money) nor revenue; the client still
    # sees it (with its credit note), as a voided invoice.
    StatusRow("credited", _S.CREDITED, "Credited", "Cancelled by credit note", "Credited in full", "Credited",
              "credited in full", tone="neutral", client_tone="muted"),
)
"""Every displayed status, in the order lists and filters show them."""


class StatusViews:
    """Everything derived from a status table: label maps, filters, tones and status sets.

    Built once for :data:`STATUS_TABLE` (the module-level names below); a test builds
    it for a table with an extra row to show a new status needs nothing else here.
    Sets hold status *values* (strings), as the database stores them.
    """

    def __init__(self, table: Iterable[StatusRow]) -> None:
        rows = tuple(table)
        keys = [row.key for row in rows]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate status keys in {keys}")
        self.rows: tuple[StatusRow, ...] = rows
        self.by_key: Mapping[str, StatusRow] = MappingProxyType({row.key: row for row in rows})
        stored = tuple(row for row in rows if row.is_stored)
        self.stored: tuple[StatusRow, ...] = stored
        #: Staff filter choices and badge words, by displayed status.
        self.staff_labels: Mapping[str, str] = MappingProxyType({r.key: r.staff_label for r in rows})
        #: Portal words, by displayed status; statuses clients never see are left out.
        self.client_labels: Mapping[str, str] = MappingProxyType(
            {r.key: r.client_label for r in rows if r.client_label is not None})
        self.document_labels: Mapping[str, str] = MappingProxyType({r.key: r.document_label for r in rows})
        #: ``(status, label)`` of the analytics page's count per stored status.
        self.report_labels: tuple[tuple[str, str], ...] = tuple(
            (r.key, r.report_label) for r in stored if r.report_label is not None)
        self.phrases: Mapping[str, str] = MappingProxyType(
            {r.key: r.phrase for r in stored if r.phrase is not None})
        self.tones: Mapping[str, str] = MappingProxyType({r.key: r.tone for r in rows})
        self.client_tones: Mapping[str, str] = MappingProxyType(
            {r.key: r.client_tone for r in rows if r.client_tone is not None})

        def values(flag: str) -> tuple[str, ...]:
            return tuple(r.key for r in stored if getattr(r, flag))

        self.awaiting_money = values("awaiting_money")
        self.payable = values("payable")
        self.money_received = values("money_received")
        self.revenue = values("revenue")
        self.editable = values("editable")
        self.client_visible = tuple(r.key for r in stored if r.client_label is not None)
        #: Stored statuses that are shown as ``overdue`` once past their due date.
        self.can_be_overdue = tuple(r.status.value for r in rows if r.key == OVERDUE)


_VIEWS = StatusViews(STATUS_TABLE)

#: Sent and not settled: may still turn into money (Checkout), outstanding in analytics.
AWAITING_MONEY: tuple[str, ...] = _VIEWS.awaiting_money
#: The client may start paying now.
PAYABLE: tuple[str, ...] = _VIEWS.payable
#: A payment was recorded on it (refunded since or not).
MONEY_RECEIVED: tuple[str, ...] = _VIEWS.money_received
#: Counts as revenue.
REVENUE: tuple[str, ...] = _VIEWS.revenue
#: Staff may edit it.
EDITABLE: tuple[str, ...] = _VIEWS.editable
#: Shown to the client (portal): everything ever sent to them.
CLIENT_VISIBLE: tuple[str, ...] = _VIEWS.client_visible
#: Shown as ``overdue`` once past the due date.
CAN_BE_OVERDUE: tuple[str, ...] = _VIEWS.can_be_overdue

STAFF_LABELS = _VIEWS.staff_labels
CLIENT_LABELS = _VIEWS.client_labels
DOCUMENT_LABELS = _VIEWS.document_labels
REPORT_LABELS = _VIEWS.report_labels
PHRASES = _VIEWS.phrases
TONES = _VIEWS.tones
CLIENT_TONES = _VIEWS.client_tones


def status_row(key: str) -> StatusRow | None:
    """The row of a displayed status (``"overdue"`` too), or ``None`` for an unknown key."""
    return _VIEWS.by_key.get(key)
