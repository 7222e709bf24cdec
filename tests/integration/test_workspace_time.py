"""Time is the workspace's, through the app on SQLite and PostgreSQL (issue 14).

host_demo workspaces in Los Angeles, Tokyo and Auckland (``HostWorkspace.timezone``); the
plugin's clock (``services.uow.system_clock``, which every unit of work and ``today(zone)``
read) frozen at 17:30 in Los Angeles or 08:00 in Tokyo / Auckland, when the UTC date is
another day. Each use of "today" or of a day is checked on the pages, the API, the CLI,
the payment confirmation email and the analytics (kept totals included).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.integration._invoice_helpers import ACTOR, freeze_clock, load
from tests.integration.conftest import login

#: 17:30 on 14 March 2031 in Los Angeles (PDT): 00:30 UTC on the 15th.
LA_EVENING = datetime(2031, 3, 15, 0, 30, tzinfo=timezone.utc)
#: 08:00 on 15 March 2031 in Tokyo: 23:00 UTC on the 14th.
TOKYO_MORNING = datetime(2031, 3, 14, 23, 0, tzinfo=timezone.utc)
#: 08:00 on 15 March 2031 in Auckland (NZDT): 19:00 UTC on the 14th.
AUCKLAND_MORNING = datetime(2031, 3, 14, 19, 0, tzinfo=timezone.utc)
D14, D15 = date(2031, 3, 14), date(2031, 3, 15)


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, LA_EVENING)


@pytest.fixture
def firms(app):
    """Three workspaces with one client each, owned by owner@example.com: ``{slug: (id, client id)}``."""
    from host_demo import seed
    from host_demo.models import db

    out = {}
    with app.app_context():
        owner = seed.create_user("owner@example.com", "Olivia Owner")
        for slug, zone in (("la", "America/Los_Angeles"), ("tokyo", "Asia/Tokyo"), ("auckland", "Pacific/Auckland")):
            workspace = seed.create_workspace(f"Firm {slug}", plan="pro", slug=slug, timezone=zone)
            seed.add_member(owner, workspace, "owner")
            client = seed.create_client(workspace, f"Client of {slug}", f"ap@{slug}.test")
            out[slug] = (str(workspace.id), str(client.id))
        db.session.commit()
    return out


def staff(app, slug):
    return login(app.test_client(), "owner@example.com", slug)


def sent_invoice(app, firms, slug, due, *, method="manual"):
    from invoicing_plugin import api

    workspace, client = firms[slug]
    with app.test_request_context():
        draft = api.create_draft(workspace, ACTOR, client_id=client, amount="100.00", currency="GBP",
                                 description=f"Work for {slug}", due_date=due, send_method=method)
        return api.send(workspace, ACTOR, draft.id, method=method)


def badge(html: str) -> list[str]:
    return re.findall(r'data-status="([a-z_]+)"', html)


# -- due dates and overdue, at 17:30 in Los Angeles ------------------------------------------


def test_at_1730_in_los_angeles_local_today_is_a_valid_due_date_and_not_overdue(app, firms, clock):
    workspace, client = firms["la"]
    browser = staff(app, "la")
    response = browser.post("/invoicing/invoices/new", data={
        "client_id": client, "amount": "100.00", "currency": "GBP", "description": "Evening work",
        "send_method": "manual", "due_date": D14.isoformat()})
    assert response.status_code in (302, 303), response.text  # was "The due date is in the past"
    invoice_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    assert browser.post(f"/invoicing/invoices/{invoice_id}/send", data={"method": "manual"}).status_code in (302, 303)
    assert load(app, invoice_id).status == "sent"

    detail = browser.get(f"/invoicing/invoices/{invoice_id}").text
    assert "overdue" not in badge(detail) and "sent" in badge(detail)
    listing = browser.get("/invoicing/invoices").text
    assert "Evening work" in listing and "overdue" not in badge(listing)
    assert "Evening work" not in browser.get("/invoicing/invoices?status=overdue").text
    assert "Evening work" in browser.get("/invoicing/invoices?status=sent").text

    public = app.test_client().get(f"/invoicing/pay/{load(app, invoice_id).public_token}")
    assert public.status_code == 200 and "Overdue" not in public.text

    clock.now = LA_EVENING + timedelta(hours=7)  # 00:30 on the 15th in Los Angeles: now it is late
    assert "Evening work" in browser.get("/invoicing/invoices?status=overdue").text


def test_the_portal_counts_overdue_by_the_workspaces_day(app, firms, clock):
    from invoicing_plugin.services.portal import portal_url

    sent_invoice(app, firms, "la", D14)
    workspace, client = firms["la"]
    with app.test_request_context():
        path = portal_url(workspace, client).removeprefix("http://localhost")
        from invoicing_plugin.extension import get_state

        get_state().session.commit()
    html = app.test_client().get(path).text
    assert "past the due date" not in html
    clock.now = LA_EVENING + timedelta(days=1)
    assert "1 invoice is past the due date" in app.test_client().get(path).text


def test_the_overdue_run_uses_each_workspaces_day(app, firms, clock):
    clock.now = TOKYO_MORNING - timedelta(hours=13)  # the 14th everywhere that matters
    la = sent_invoice(app, firms, "la", D14)
    tokyo = sent_invoice(app, firms, "tokyo", D14)
    auckland = sent_invoice(app, firms, "auckland", D14)

    clock.now = LA_EVENING  # the 14th in LA, the 15th in UTC, Tokyo and Auckland
    runner = app.test_cli_runner()
    result = runner.invoke(args=["invoicing", "overdue", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert sorted((r["id"], r["days_overdue"]) for r in rows) == sorted([(tokyo.id, 1), (auckland.id, 1)])
    result = runner.invoke(args=["invoicing", "overdue", "--json", "--workspace", firms["la"][0]])
    assert json.loads(result.output) == []

    clock.now = TOKYO_MORNING  # 08:00 on the 15th in Tokyo; still the 14th in UTC (and LA)
    rows = json.loads(runner.invoke(args=["invoicing", "overdue", "--json", "--flag"]).output)
    assert sorted(r["id"] for r in rows) == sorted([tokyo.id, auckland.id])
    assert la.id not in [r["id"] for r in rows]


# -- mark paid and "paid on", at 08:00 in Tokyo / Auckland --------------------------------------


@pytest.mark.parametrize("slug, morning", [("tokyo", TOKYO_MORNING), ("auckland", AUCKLAND_MORNING)])
def test_east_of_utc_marking_paid_on_local_today_in_the_morning_is_accepted(app, firms, clock, slug, morning):
    clock.now = morning - timedelta(days=1)
    invoice = sent_invoice(app, firms, slug, D15)
    clock.now = morning
    browser = staff(app, slug)

    tomorrow = browser.post(f"/invoicing/invoices/{invoice.id}/mark-paid",
                            data={"method": "cash", "paid_on": (D15 + timedelta(days=1)).isoformat()})
    assert tomorrow.status_code == 422 and "cannot be in the future" in tomorrow.text

    page = browser.post(f"/invoicing/invoices/{invoice.id}/mark-paid",
                        data={"method": "bank_transfer", "paid_on": D15.isoformat()}, follow_redirects=True)
    assert "marked as paid" in page.text  # was "The payment date cannot be in the future."
    stored = load(app, invoice.id)
    assert stored.status == "paid" and stored.paid_at == morning
    assert "on 2031-03-15" in page.text  # the detail's "Paid ... on", the workspace's day
    public = app.test_client().get(f"/invoicing/pay/{stored.public_token}").text
    assert "Payment received on 15 March 2031" in public
    form = browser.get(f"/invoicing/invoices/{invoice.id}").text
    # No UTC day for the payment; instants are the workspace's (sent at 08:00 there, a day before).
    assert "on 2031-03-14" not in form
    assert re.search(r"<dt>Sent</dt><dd>2031-03-14 08:00 (JST|NZDT)</dd>", form)


def test_the_mark_paid_form_defaults_to_the_workspaces_today(app, firms, clock):
    clock.now = TOKYO_MORNING - timedelta(days=1)
    invoice = sent_invoice(app, firms, "tokyo", D15)
    clock.now = TOKYO_MORNING
    html = staff(app, "tokyo").get(f"/invoicing/invoices/{invoice.id}").text
    assert re.search(r'name="paid_on"[^>]*value="2031-03-15"', html) or \
        re.search(r'value="2031-03-15"[^>]*name="paid_on"', html)


def test_the_payment_confirmation_says_the_workspaces_day(app, firms, clock, make_invoice):
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.services.payment_confirmation import queue_unsent_confirmation, send_payment_confirmation
    from invoicing_plugin.services.uow import AppSettings, UnitOfWork
    from invoicing_plugin.testing.fake_mailer import FakeMailer

    workspace, client = firms["la"]
    invoice = make_invoice(workspace_id=workspace, client_id=client, status="paid", paid_at=LA_EVENING,
                           confirmation_sent_at=None)
    mailer = FakeMailer()
    with app.test_request_context():
        state = get_state()
        uow = UnitOfWork(state.session, host=state.host, mailer=mailer, settings=AppSettings(app.config))
        assert queue_unsent_confirmation(invoice.id, uow=uow)  # rendered into the outbox now
        assert send_payment_confirmation(invoice.id, uow=uow)
    [message] = mailer.outbox
    assert "on 14 March 2031" in message.text  # 17:30 on the 14th in LA, not UTC's 15th
    assert "15 March" not in message.text and "15 March" not in message.html


# -- analytics: days and months of the workspace, kept totals included -------------------------


def test_analytics_count_revenue_in_the_workspaces_month_on_both_databases(app, firms, clock, make_invoice):
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import InvoiceTotal
    from invoicing_plugin.services import analytics

    workspace, client = firms["la"]
    march_31_evening = datetime(2031, 4, 1, 3, 0, tzinfo=timezone.utc)  # 20:00 on 31 March in LA
    clock.now = march_31_evening + timedelta(hours=1)
    with app.test_request_context():  # the host's time zones are known inside the app
        invoice = make_invoice(workspace_id=workspace, client_id=client, status="paid", paid_at=march_31_evening,
                               amount_minor=4_200, created_at=march_31_evening - timedelta(hours=1))
        session = get_state().session
        days = {(r.measure, r.day) for r in session.scalars(
            select(InvoiceTotal).where(InvoiceTotal.workspace_id == workspace))}
        session.rollback()
    assert ("paid", date(2031, 3, 31)) in days and ("created", date(2031, 3, 31)) in days

    html = staff(app, "la").get("/invoicing/analytics?start=2031-03-01&end=2031-03-31").text
    assert "£42.00" in html and 'data-month="2031-03" data-minor="4200"' in html
    april = staff(app, "la").get("/invoicing/analytics?start=2031-04-01&end=2031-04-30").text
    assert "£42.00" not in april
    csv = staff(app, "la").get("/invoicing/analytics/invoices.csv?start=2031-03-01&end=2031-03-31").text
    assert invoice.number in csv and '"revenue"' in csv

    runner = app.test_cli_runner()
    result = runner.invoke(args=["invoicing", "totals"])
    assert result.exit_code == 0 and "match the invoices" in result.output, result.output
    result = runner.invoke(args=["invoicing", "totals", "--rebuild"])  # in SQL on PostgreSQL: AT TIME ZONE
    assert result.exit_code == 0, result.output
    with app.app_context():
        session = get_state().session
        assert analytics.totals_drift(workspace) == []
        rebuilt = {(r.measure, r.day) for r in session.scalars(
            select(InvoiceTotal).where(InvoiceTotal.workspace_id == workspace))}
    assert rebuilt == days
