"""Time is the workspace's (issue 14): every "today" and every day is the workspace's calendar day.

At 17:30 in Los Angeles on 14 March the UTC date is already the 15th; at 08:00 in Tokyo
or Auckland on 15 March it is still the 14th. Each use of a day is tested at those two
instants with workspaces in those zones (``HostWorkspace.timezone``), against the unit of
work's frozen clock: due dates, overdue (labels, list filters, the overdue run), mark-paid
limits and the day a payment is recorded on, "paid on" on the document, the portal, the
analytics period and the kept totals (incremental and rebuilt). The integration tests
(``tests/integration/test_workspace_time.py``) run the same through the app on both databases.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from invoicing_plugin.domain.calendar import UnknownTimeZone, local_day, midday
from invoicing_plugin.host import HostClient, HostWorkspace
from invoicing_plugin.persistence import totals
from invoicing_plugin.persistence.models import Invoice, InvoiceEvent, InvoiceTotal, Payment
from invoicing_plugin.persistence.repository import WorkspaceRepository
from invoicing_plugin.services import analytics, closing, documents, drafts, listing, portal, sending
from invoicing_plugin.services.drafts import DraftInput
from invoicing_plugin.services.errors import ValidationFailed
from invoicing_plugin.services.listing import InvoiceQuery

LA, TOKYO, AUCKLAND = "40", "41", "42"
ZONES = {LA: "America/Los_Angeles", TOKYO: "Asia/Tokyo", AUCKLAND: "Pacific/Auckland"}

#: 17:30 on Friday 14 March 2031 in Los Angeles (PDT, UTC-7): 00:30 UTC on the 15th.
LA_EVENING = datetime(2031, 3, 15, 0, 30, tzinfo=timezone.utc)
#: 08:00 on Saturday 15 March 2031 in Tokyo (UTC+9): 23:00 UTC on the 14th.
TOKYO_MORNING = datetime(2031, 3, 14, 23, 0, tzinfo=timezone.utc)
#: 08:00 on 15 March 2031 in Auckland (NZDT, UTC+13): 19:00 UTC on the 14th.
AUCKLAND_MORNING = datetime(2031, 3, 14, 19, 0, tzinfo=timezone.utc)

D14, D15 = date(2031, 3, 14), date(2031, 3, 15)


@pytest.fixture(autouse=True)
def zoned_workspaces(host):
    for workspace_id, zone in ZONES.items():
        host.add_workspace(HostWorkspace(id=workspace_id, name=f"Firm {zone}", plan="pro", timezone=zone))
        host.add_client(workspace_id, HostClient(id="c1", name="Client", email="client@example.test"))


def at(clock, moment: datetime) -> None:
    clock.now = moment


def draft(uow, workspace, due, **extra):
    data = DraftInput(client_id="c1", amount=10_000, currency="EUR", description="Work", due_date=due,
                      send_method="manual", **extra)
    return drafts.create_draft(workspace, "user:7", data, uow=uow)


def sent(uow, workspace, due):
    return sending.send_invoice(workspace, "user:7", draft(uow, workspace, due).id, uow=uow).invoice


# -- the calendar and the host contract ----------------------------------------------------


def test_the_instants_are_the_days_the_tests_say():
    assert (local_day(LA_EVENING, "America/Los_Angeles"), local_day(LA_EVENING)) == (D14, D15)
    assert (local_day(TOKYO_MORNING, "Asia/Tokyo"), local_day(TOKYO_MORNING)) == (D15, D14)
    assert (local_day(AUCKLAND_MORNING, "Pacific/Auckland"), local_day(AUCKLAND_MORNING)) == (D15, D14)


def test_host_workspace_defaults_to_utc_and_refuses_an_unknown_zone():
    assert HostWorkspace("1", "Acme").timezone == "UTC"
    assert HostWorkspace("1", "Acme").zone == timezone.utc
    assert HostWorkspace("1", "Acme", timezone=None).zone == timezone.utc  # an empty host column
    assert str(HostWorkspace("1", "Acme", timezone="Asia/Tokyo").zone) == "Asia/Tokyo"
    for bad in ("Mars/Olympus_Mons", "PST8PDT/../../etc", "GMT+25", 7):
        with pytest.raises(UnknownTimeZone) as info:
            HostWorkspace("1", "Acme", timezone=bad)
        assert "IANA time zone" in info.value.message
    assert issubclass(UnknownTimeZone, ValueError)


def test_the_unit_of_work_gives_today_in_a_zone(uow, clock):
    at(clock, LA_EVENING)
    assert uow.today() == D15  # UTC, said by passing nothing
    assert uow.workspace_today(LA) == D14
    assert uow.today(uow.host.get_workspace(TOKYO)) == local_day(LA_EVENING, "Asia/Tokyo")
    assert uow.workspace_today("no-such-workspace") == D15  # unknown to the host: UTC


# -- due dates -------------------------------------------------------------------------------


def test_at_1730_in_los_angeles_a_due_date_of_local_today_is_accepted_and_sent(uow, clock):
    at(clock, LA_EVENING)
    invoice = sent(uow, LA, D14)
    assert (invoice.status, invoice.due_date) == ("sent", D14)
    with pytest.raises(ValidationFailed) as info:
        draft(uow, LA, D14 - timedelta(days=1))
    assert "due_date" in info.value.errors


def test_at_0800_in_tokyo_the_utc_date_is_already_past(uow, clock):
    at(clock, TOKYO_MORNING)
    with pytest.raises(ValidationFailed) as info:
        draft(uow, TOKYO, D14)  # today in UTC, yesterday in Tokyo
    assert "past" in info.value.errors["due_date"]
    assert draft(uow, TOKYO, D15).due_date == D15


def test_a_draft_due_local_today_can_still_be_sent_in_the_evening(uow, clock):
    at(clock, LA_EVENING - timedelta(hours=3))  # 14:30 in LA, the 14th everywhere
    invoice = draft(uow, LA, D14)
    at(clock, LA_EVENING)  # 17:30 in LA, the 15th in UTC
    assert sending.send_invoice(LA, "user:7", invoice.id, uow=uow).invoice.status == "sent"


# -- overdue ---------------------------------------------------------------------------------


def test_overdue_is_by_the_workspaces_calendar_in_lists_and_the_overdue_run(uow, clock, session):
    at(clock, LA_EVENING - timedelta(hours=3))
    la_today = sent(uow, LA, D14)
    at(clock, TOKYO_MORNING - timedelta(hours=13))  # 19:00 in Tokyo, 23:00 in Auckland, on the 14th
    tokyo_yesterday = sent(uow, TOKYO, D14)
    auckland_yesterday = sent(uow, AUCKLAND, D14)

    at(clock, LA_EVENING)  # 17:30 LA on the 14th; in Tokyo/Auckland it is the 15th
    def ids(workspace, status):
        return [i.id for i in listing.list_invoices(workspace, InvoiceQuery(status=status), uow=uow).items]

    assert ids(LA, "overdue") == [] and ids(LA, "sent") == [la_today.id]
    assert ids(TOKYO, "overdue") == [tokyo_yesterday.id] and ids(TOKYO, "sent") == []
    assert [i.id for i in listing.overdue_invoices(uow=uow)] == [tokyo_yesterday.id, auckland_yesterday.id]
    assert [i.id for i in listing.overdue_invoices(LA, uow=uow)] == []
    assert [i.id for i in listing.overdue_invoices(AUCKLAND, uow=uow)] == [auckland_yesterday.id]

    at(clock, TOKYO_MORNING)  # 08:00 Tokyo on the 15th: still the 14th in UTC, and 16:00 the 14th in LA
    assert [i.id for i in listing.overdue_invoices(uow=uow)] == [tokyo_yesterday.id, auckland_yesterday.id]
    invoice = session.get(Invoice, tokyo_yesterday.id)
    assert listing.flag_overdue(invoice, uow=uow)
    session.rollback()
    event = session.scalars(select(InvoiceEvent).filter_by(invoice_id=invoice.id, action="overdue")).one()
    assert event.detail == "Overdue by 1 day (due 2031-03-14)."


def test_the_portal_and_the_document_label_overdue_by_the_workspaces_day(uow, clock, session):
    at(clock, LA_EVENING - timedelta(hours=3))
    invoice = sent(uow, LA, D14)
    at(clock, LA_EVENING)
    workspace = uow.host.get_workspace(LA)
    owner = portal.PortalOwner(workspace=workspace, client_id="c1", client_name="Client", token="t")
    loaded = portal.load_portal(owner, uow=uow)
    assert loaded.overdue_count == 0 and loaded.today == D14
    assert [i.status_key for g in loaded.groups for i in g.invoices] == ["sent"]
    row = session.get(Invoice, invoice.id)
    assert documents.build_document(row, workspace, uow=uow).status == "sent"
    at(clock, LA_EVENING + timedelta(days=1))
    assert documents.build_document(row, workspace, uow=uow).status == "overdue"


# -- mark paid -------------------------------------------------------------------------------


def test_east_of_utc_marking_paid_today_in_the_morning_is_accepted(uow, clock, session):
    at(clock, TOKYO_MORNING - timedelta(days=2))
    invoice = sent(uow, TOKYO, D15)
    at(clock, TOKYO_MORNING)
    paid = closing.mark_paid(TOKYO, "user:7", invoice.id, method="bank_transfer", paid_on=D15, uow=uow)
    assert paid.status == "paid" and paid.paid_at == TOKYO_MORNING  # today: the instant itself
    assert local_day(paid.paid_at, "Asia/Tokyo") == D15
    assert documents.build_document(session.get(Invoice, invoice.id), uow.host.get_workspace(TOKYO),
                                    uow=uow).paid_on == D15


def test_auckland_morning_accepts_today_and_refuses_tomorrow(uow, clock):
    at(clock, AUCKLAND_MORNING - timedelta(days=2))
    first, second = sent(uow, AUCKLAND, D15), sent(uow, AUCKLAND, D15)
    at(clock, AUCKLAND_MORNING)
    assert closing.mark_paid(AUCKLAND, "user:7", first.id, method="cash", uow=uow).paid_at == AUCKLAND_MORNING
    with pytest.raises(ValidationFailed) as info:
        closing.mark_paid(AUCKLAND, "user:7", second.id, method="cash", paid_on=D15 + timedelta(days=1), uow=uow)
    assert "future" in info.value.errors["paid_on"]


def test_west_of_utc_the_utc_date_is_the_future(uow, clock):
    at(clock, LA_EVENING - timedelta(hours=3))
    invoice = sent(uow, LA, D14)
    at(clock, LA_EVENING)
    with pytest.raises(ValidationFailed) as info:
        closing.mark_paid(LA, "user:7", invoice.id, method="cash", paid_on=D15, uow=uow)
    assert "future" in info.value.errors["paid_on"]


def test_an_earlier_payment_day_is_noon_of_that_day_in_the_workspaces_zone(uow, clock):
    at(clock, TOKYO_MORNING - timedelta(days=3))
    invoice = sent(uow, TOKYO, D15)
    at(clock, TOKYO_MORNING)
    paid = closing.mark_paid(TOKYO, "user:7", invoice.id, method="cheque", paid_on=D14, uow=uow)
    assert paid.paid_at == midday(D14, "Asia/Tokyo") == datetime(2031, 3, 14, 3, 0, tzinfo=timezone.utc)
    assert local_day(paid.paid_at, "Asia/Tokyo") == D14


def test_a_payment_cannot_be_dated_before_the_local_day_it_was_sent(uow, clock):
    at(clock, TOKYO_MORNING)  # sent at 08:00 on the 15th in Tokyo (the 14th in UTC)
    invoice = sent(uow, TOKYO, D15)
    with pytest.raises(ValidationFailed) as info:
        closing.mark_paid(TOKYO, "user:7", invoice.id, method="cash", paid_on=D14, uow=uow)
    assert "2031-03-15" in info.value.errors["paid_on"]


# -- analytics: kept totals and the period, by the workspace's days -----------------------------


def _paid(session, workspace, paid_at, amount=10_000, created_at=None):
    invoice = Invoice(workspace_id=workspace, client_id="c1", client_name="Client", client_email="c@example.test",
                      amount_minor=amount, currency="EUR", description="Work", status="paid", number=None,
                      sent_at=paid_at, paid_at=paid_at, amount_paid_minor=amount,
                      created_at=created_at or paid_at - timedelta(hours=1))
    session.add(invoice)
    session.flush()
    session.add(Payment(invoice_id=invoice.id, workspace_id=workspace, amount_minor=amount, currency="EUR",
                        method="cash", received_at=paid_at))  # money received is a payment row (issue 15)
    return invoice


def test_kept_totals_count_the_workspaces_day_and_month(uow, session, clock):
    # 20:00 on 31 March in Los Angeles is 03:00 UTC on 1 April: March revenue for the workspace.
    march_31_evening = datetime(2031, 4, 1, 3, 0, tzinfo=timezone.utc)
    with uow:
        _paid(session, LA, march_31_evening, amount=7_000)
        _paid(session, TOKYO, TOKYO_MORNING, amount=3_000)  # the 15th in Tokyo
        uow.commit()
    days = {(row.workspace_id, row.measure, row.day) for row in session.scalars(select(InvoiceTotal))}
    assert (LA, "paid", date(2031, 3, 31)) in days and (LA, "created", date(2031, 3, 31)) in days
    assert (TOKYO, "paid", D15) in days and (TOKYO, "created", D15) in days

    at(clock, march_31_evening)
    today = uow.workspace_today(LA)
    assert today == date(2031, 3, 31)
    period = analytics.default_range(today, uow.zone(LA))
    report = analytics.revenue_report(WorkspaceRepository(session, LA), period, today)
    [eur] = report.currencies
    assert {m.month: m.revenue.minor for m in eur.months if m.invoices} == {"2031-03": 7_000}
    march = analytics.validate_range(date(2031, 3, 1), date(2031, 3, 31), today, uow.zone(LA))
    assert analytics.revenue_report(WorkspaceRepository(session, LA), march, today).currencies[0].revenue.minor == 7_000
    assert march.end_before == datetime(2031, 4, 1, 7, 0, tzinfo=timezone.utc)  # midnight in LA (PDT)
    rows = list(analytics.export_rows(WorkspaceRepository(session, LA), march, today))
    assert len(rows) == 1  # the CSV uses the same local period


def test_rebuild_and_drift_use_each_workspaces_zone(uow, session):
    with uow:
        _paid(session, LA, LA_EVENING)
        _paid(session, TOKYO, TOKYO_MORNING)
        _paid(session, AUCKLAND, AUCKLAND_MORNING)
        uow.commit()
    assert analytics.totals_drift(uow=uow) == []
    kept = sorted((r.workspace_id, r.measure, r.day) for r in session.scalars(select(InvoiceTotal)))
    assert analytics.rebuild_totals(uow=uow) == len(kept)
    assert sorted((r.workspace_id, r.measure, r.day) for r in session.scalars(select(InvoiceTotal))) == kept
    assert (LA, "paid", D14) in kept and (TOKYO, "paid", D15) in kept and (AUCKLAND, "paid", D15) in kept
    assert analytics.rebuild_totals(LA, uow=uow) == 2
    assert analytics.totals_drift(uow=uow) == []


def test_totals_kept_in_utc_before_the_upgrade_show_as_drift_until_rebuilt(uow, session):
    """The upgrade note: totals kept per UTC day (before time zones) differ for a non-UTC
    workspace; ``flask invoicing totals`` lists them and ``--rebuild`` fixes them."""
    totals.use_zones(session, None)  # as before: no zones known, every day is UTC's
    with session.begin():
        _paid(session, LA, LA_EVENING)
    session.info.pop("invoicing_zone_cache", None)
    assert {r.day for r in session.scalars(select(InvoiceTotal).where(InvoiceTotal.measure == "paid"))} == {D15}
    assert analytics.totals_drift(uow=uow) != []  # the unit of work knows LA's zone now
    analytics.rebuild_totals(uow=uow)
    assert {r.day for r in session.scalars(select(InvoiceTotal).where(InvoiceTotal.measure == "paid"))} == {D14}
    assert analytics.totals_drift(uow=uow) == []


def test_the_totals_remember_a_workspaces_zone_for_a_while_and_checks_ask_afresh(uow, host, clock):
    """The webhook's hot path must not ask the host for every event; "today" checks must not be stale."""
    from invoicing_plugin.host import workspace_zone

    calls = []
    original = host.get_workspace

    def counting(workspace_id):
        calls.append(workspace_id)
        return original(workspace_id)

    host.get_workspace = counting
    assert str(workspace_zone(host, LA)) == "America/Los_Angeles"
    assert str(workspace_zone(host, LA)) == "America/Los_Angeles"
    assert calls == [LA]
    host.add_workspace(HostWorkspace(id=LA, name="Moved", timezone="Europe/London"))
    assert str(workspace_zone(host, LA)) == "America/Los_Angeles"  # remembered
    assert str(workspace_zone(host, LA, max_age=0)) == "Europe/London"  # asked now, and remembered
    at(clock, LA_EVENING)
    assert uow.workspace_today(LA) == D15  # London: the 15th already
    assert str(workspace_zone(host, LA)) == "Europe/London"


def test_a_templates_due_date_counts_from_the_workspaces_today(uow, clock):
    from invoicing_plugin.services import templates

    template = templates.create_template(TOKYO, "user:7", templates.TemplateInput(
        name="Monthly", description="Retainer", amount="100", currency="EUR", due_in_days=14, send_method="manual"),
        uow=uow)
    at(clock, TOKYO_MORNING)  # the 15th in Tokyo, the 14th in UTC
    assert templates.draft_defaults(template, uow=uow)["due_date"] == D15 + timedelta(days=14)
