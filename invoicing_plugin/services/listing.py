"""Reading invoices: one invoice, its audit trail, the filtered and sorted list, overdue ones.

Every function takes an optional ``uow`` (:class:`~.uow.UnitOfWork`: session, clock,
settings, host) and defaults to the app's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Mapping, Sequence

from sqlalchemy import and_, or_, select, tuple_

from ..domain.calendar import UTC
from ..domain.invoice import InvoiceStatus
from ..domain.statuses import STAFF_LABELS
from ..persistence.models import Invoice, InvoiceEvent
from ..persistence.repository import MAX_ID, WorkspaceRepository, as_id
from .common import record_event, unit_of_work
from .payment_rows import payments_of
from .uow import UnitOfWork
from .views import InvoiceSnapshot

log = logging.getLogger("invoicing_plugin")


def get_invoice(workspace_id: str, invoice_id: Any, *, uow: UnitOfWork | None = None) -> Invoice:
    """The invoice in this workspace, or NotFound (another workspace's id included)."""
    return (uow or unit_of_work()).repository(workspace_id).get(Invoice, invoice_id)


def get_snapshot(workspace_id: str, invoice_id: Any, *, uow: UnitOfWork | None = None) -> InvoiceSnapshot:
    return InvoiceSnapshot.of(get_invoice(workspace_id, invoice_id, uow=uow))


def invoice_payments(workspace_id: str, invoice_id: int, *, uow: UnitOfWork | None = None):
    """The invoice's payments (:class:`~.payment_rows.PaymentView`, oldest first), this workspace's only."""
    return payments_of((uow or unit_of_work()).session, str(workspace_id), invoice_id)


def invoice_events(workspace_id: str, invoice_id: int, *, uow: UnitOfWork | None = None) -> list[InvoiceEvent]:
    repo = (uow or unit_of_work()).repository(workspace_id)
    return repo.list(InvoiceEvent, InvoiceEvent.invoice_id == invoice_id, order_by=InvoiceEvent.id)


#: Filters by *displayed* status (``overdue`` is a sent invoice past its due date), from the status table.
STATUS_FILTERS: Mapping[str, str] = STAFF_LABELS
SORTS: dict[str, str] = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "due": "Due date",
    "amount_desc": "Amount (highest first)",
    "amount_asc": "Amount (lowest first)",
}
@dataclass(frozen=True)
class _Segment:
    """A run of the list in one sort order: the rows matching ``condition``
    (all rows if ``None``), ordered by ``columns`` (the last one is the id), all
    ascending or all descending, so one composite index serves it both ways."""

    columns: tuple
    descending: bool = False
    condition: Any = None
    holds: Any = None  # does an anchor row (with the sort columns) belong here?


#: Every sort is a keyset order ending in the id, walked from a cursor (the id of
#: the invoice a page continues from) with an index ``(workspace_id, [status,]
#: <sort column>, id)``: no page counts or skips rows, however deep it is. Due
#: dates are optional: invoices without one come after the dated ones, by id.
_SORT_SEGMENTS: dict[str, tuple[_Segment, ...]] = {
    "newest": (_Segment((Invoice.created_at, Invoice.id), descending=True),),
    "oldest": (_Segment((Invoice.created_at, Invoice.id)),),
    "due": (
        _Segment((Invoice.due_date, Invoice.id), condition=Invoice.due_date.is_not(None),
                 holds=lambda anchor: anchor.due_date is not None),
        _Segment((Invoice.id,), condition=Invoice.due_date.is_(None), holds=lambda anchor: anchor.due_date is None),
    ),
    "amount_desc": (_Segment((Invoice.amount_minor, Invoice.id), descending=True),),
    "amount_asc": (_Segment((Invoice.amount_minor, Invoice.id)),),
}


@dataclass
class InvoiceQuery:
    """A list request. ``after`` (an invoice id) continues the list, in any sort,
    from that invoice; ``before`` gives the page that ends just before it
    (keyset pagination). ``page`` (a page number, read only without a cursor) is
    kept for :func:`invoicing_plugin.api.list_invoices` callers; it skips rows
    with ``OFFSET``, which grows with the depth."""

    status: str | None = None
    client_id: str | None = None
    sort: str = "newest"
    page: int = 1
    after: int | None = None
    page_size: int | None = None
    before: int | None = None


@dataclass
class InvoicePage:
    items: list[Invoice]
    query: InvoiceQuery
    has_next: bool
    next_after: int | None = None
    next_page: int | None = None
    prev_page: int | None = None
    is_first: bool = True
    filters: dict[str, str] = field(default_factory=dict)
    #: The cursor of the previous page (``?before=<id>``), when there is one.
    prev_before: int | None = None


def _key(columns: tuple):
    return tuple_(*columns) if len(columns) > 1 else columns[0]


def _bound(segment: _Segment, anchor) -> tuple:
    return tuple(getattr(anchor, column.key) for column in segment.columns)


def _walk(repo: WorkspaceRepository, stmt, segments, start: int, anchor, *, backwards: bool, limit: int) -> list[Invoice]:
    """Up to ``limit`` rows from ``segments[start]`` onwards (towards the start of
    the list if ``backwards``), strictly beyond ``anchor`` when it is given."""
    rows: list[Invoice] = []
    order = range(start, -1, -1) if backwards else range(start, len(segments))
    for index in order:
        segment = segments[index]
        descending = segment.descending != backwards
        part = stmt if segment.condition is None else stmt.where(segment.condition)
        if anchor is not None and index == start:
            key, bound = _key(segment.columns), _bound(segment, anchor)
            bound = tuple_(*bound) if len(bound) > 1 else bound[0]
            part = part.where(key < bound if descending else key > bound)
        part = part.order_by(*(c.desc() if descending else c.asc() for c in segment.columns))
        rows += repo.session.scalars(part.limit(limit - len(rows)))
        if len(rows) >= limit:
            break
    return rows


def _segment_of(segments, anchor) -> int:
    return next((i for i, s in enumerate(segments) if s.holds is None or s.holds(anchor)), 0)


def list_invoices(workspace_id: str, query: InvoiceQuery | None = None, *, on: date | None = None,
                  uow: UnitOfWork | None = None) -> InvoicePage:
    """One page of the workspace's invoices, filtered and sorted.

    Fast at any depth in every sort: a page continues from a cursor (the id of
    the last invoice of the previous page, or the first of the next one) along
    an index ``(workspace_id, [status,] <sort column>, id)``, and no page ever
    counts the whole table (one extra row tells whether there is another page).
    A cursor that names no invoice of this workspace gives the first page.
    """
    uow = uow or unit_of_work()
    query = query or InvoiceQuery()
    if query.sort not in SORTS:
        query.sort = "newest"
    if query.status and query.status not in STATUS_FILTERS:
        query.status = None
    size = query.page_size or int(uow.settings["INVOICING_PAGE_SIZE"])
    size = max(1, min(size, 500))
    repo = uow.repository(workspace_id)
    stmt = repo.select(Invoice)
    day = on or uow.workspace_today(workspace_id)  # "overdue" by the workspace's calendar
    if query.status == "overdue":
        stmt = stmt.where(Invoice.status == "sent", Invoice.due_date < day)
    elif query.status == "sent":
        stmt = stmt.where(Invoice.status == "sent", (Invoice.due_date.is_(None)) | (Invoice.due_date >= day))
    elif query.status:
        stmt = stmt.where(Invoice.status == query.status)
    if query.client_id:
        stmt = stmt.where(Invoice.client_id == str(query.client_id))

    segments = _SORT_SEGMENTS[query.sort]
    if query.status == "sent" and query.sort == "due":
        # Said as a range on the dated segment, "not overdue" walks the index from
        # today instead of filtering out every overdue invoice first.
        dated, undated = segments
        segments = (replace(dated, condition=and_(dated.condition, Invoice.due_date >= day)), undated)
    page = InvoicePage(items=[], query=query, has_next=False)
    cursor = _int_or_none(query.before) or _int_or_none(query.after)
    anchor = None
    if cursor is not None:
        anchor = repo.session.execute(
            repo.select(Invoice, Invoice.id, Invoice.created_at, Invoice.amount_minor, Invoice.due_date)
            .where(Invoice.id == cursor)
        ).first()
    if anchor is None and cursor is None and (query.page or 1) > 1:
        return _offset_page(repo, stmt, segments, query, size)

    backwards = anchor is not None and _int_or_none(query.before) is not None
    start = _segment_of(segments, anchor) if anchor is not None else 0
    rows = _walk(repo, stmt, segments, start, anchor, backwards=backwards, limit=size + 1)
    if backwards and not rows:  # nothing before the cursor (any more): the first page
        backwards, anchor, start = False, None, 0
        rows = _walk(repo, stmt, segments, start, anchor, backwards=False, limit=size + 1)
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
        page.has_next = True  # the anchor itself comes next
        page.is_first = not more
    else:
        page.has_next = more
        page.is_first = anchor is None
    page.items = rows
    if page.has_next and rows:
        page.next_after = rows[-1].id
    if not page.is_first and rows:
        page.prev_before = rows[0].id
    return page


def _int_or_none(value: Any) -> int | None:
    """A cursor as an invoice id, or ``None`` (no cursor) for anything that cannot be one."""
    return as_id(value) if value is not None else None


def _offset_page(repo: WorkspaceRepository, stmt, segments, query: InvoiceQuery, size: int) -> InvoicePage:
    """Page ``query.page`` by number (``OFFSET``): only for API callers that ask for it."""
    # Beyond MAX_ID pages the OFFSET would not fit the database's integers; such a page is empty anyway.
    number = min(max(1, int(query.page or 1)), MAX_ID)
    if query.sort == "due":  # the two segments in one order: dated first, then undated
        order = (Invoice.due_date.is_(None), Invoice.due_date, Invoice.id)
    else:
        segment = segments[0]
        order = tuple(c.desc() if segment.descending else c.asc() for c in segment.columns)
    rows = list(repo.session.scalars(stmt.order_by(*order).offset((number - 1) * size).limit(size + 1)))
    page = InvoicePage(items=rows[:size], query=query, has_next=len(rows) > size, is_first=number == 1)
    page.next_page = number + 1 if page.has_next else None
    page.prev_page = number - 1 if number > 1 else None
    if page.has_next and page.items:
        page.next_after = page.items[-1].id
    return page


def overdue_invoices(workspace_id: str | None = None, *, on: date | None = None, limit: int | None = None,
                     uow: UnitOfWork | None = None,
                     skipped: list[tuple[str, str]] | None = None) -> list[Invoice]:
    """Sent invoices past their due date, oldest due first (all workspaces unless one is given).

    "Past" is by each workspace's own calendar (its time zone's today), unless ``on`` fixes
    the day for every workspace. Across workspaces the candidates are those due before
    tomorrow in UTC (no zone is further ahead); their workspaces are grouped by their
    today -- at most three different days at any instant -- into one query.

    Across workspaces, one whose day cannot be known (the host fails for it, or gives a
    time zone that is not an IANA name) is left out and logged, and ``(workspace_id,
    why)`` is added to ``skipped``: one host fault does not stop the run for every other
    workspace. For ``workspace_id`` given, the error propagates.
    """
    uow = uow or unit_of_work()
    session = uow.session
    sent = Invoice.status == InvoiceStatus.SENT.value
    if workspace_id is not None:
        day = on or uow.workspace_today(workspace_id)
        stmt = uow.repository(workspace_id).select(Invoice).where(sent, Invoice.due_date < day)
    elif on is not None:
        stmt = select(Invoice).where(sent, Invoice.due_date < on)
    else:
        latest = uow.today(UTC) + timedelta(days=1)  # UTC's tomorrow: no workspace's today is later
        workspaces = session.scalars(select(Invoice.workspace_id).where(sent, Invoice.due_date < latest).distinct())
        by_day: dict[date, list[str]] = {}
        for ws in workspaces:
            try:
                day = uow.workspace_today(ws)
            except Exception as exc:  # noqa: BLE001 - the host's fault for this workspace only
                why = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                log.error("overdue: workspace %s left out, its day is unknown: %s", ws, why)
                if skipped is not None:
                    skipped.append((str(ws), str(why)))
                continue
            by_day.setdefault(day, []).append(ws)
        if not by_day:
            return []
        stmt = select(Invoice).where(sent, or_(*(
            and_(Invoice.workspace_id.in_(ids), Invoice.due_date < day) for day, ids in sorted(by_day.items())
        )))
    stmt = stmt.order_by(Invoice.due_date, Invoice.id)
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def flag_overdue(invoice: Invoice, *, on: date | None = None, uow: UnitOfWork | None = None) -> bool:
    """Record an ``overdue`` audit event on ``invoice`` once; returns whether it was new."""
    uow = uow or unit_of_work()
    repo = uow.repository(invoice.workspace_id)
    already = repo.find(InvoiceEvent, invoice_id=invoice.id, action="overdue")
    if already is not None:
        return False
    with uow:
        days = ((on or uow.workspace_today(invoice.workspace_id)) - invoice.due_date).days
        record_event(repo, invoice, "system", "overdue", from_status=invoice.status, to_status=invoice.status,
                     detail=f"Overdue by {days} day{'s' if days != 1 else ''} (due {invoice.due_date.isoformat()}).")
        uow.commit()
    return True


def clients_for(workspace_id: str, *, uow: UnitOfWork | None = None) -> Sequence:
    return (uow or unit_of_work()).host.list_clients(str(workspace_id))
