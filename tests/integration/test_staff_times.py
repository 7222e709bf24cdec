"""Every date-time staff see is in the workspace's time zone, with its abbreviation (issue 14).

A workspace in Los Angeles, the plugin's clock frozen: 02:54:07 UTC on 30 November 2026 is
18:54 PST on the 29th there (and 00:30 UTC on 15 March 2031 is 17:30 PDT on the 14th). The
invoice page ("Sent", the history), the email outbox pages and the webhook health page show
the Los Angeles time with "PST"/"PDT"; nothing shows a bare time. Pages without a workspace
(and the CLI) stay UTC and say so; the CSV keeps ISO 8601 instants with their offset.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import update

from invoicing_plugin.domain.calendar import format_instant, zone_abbreviation
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import InvoiceEvent, OutboxEmail, WebhookEvent
from tests.integration._invoice_helpers import ACTOR, freeze_clock
from tests.integration.conftest import login

#: 18:54:07 PST on 29 November 2026 in Los Angeles; already the 30th in UTC.
WINTER = datetime(2026, 11, 30, 2, 54, 7, tzinfo=timezone.utc)
#: 17:30 PDT on 14 March 2031 (daylight saving time).
SUMMER = datetime(2031, 3, 15, 0, 30, tzinfo=timezone.utc)
#: A bare "YYYY-MM-DD HH:MM" not followed by a zone (or by seconds and a zone).
BARE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?(?! ?(?:[A-Z]{2,5}|UTC[+-]\d\d)\b)(?!:\d)")


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, WINTER)


@pytest.fixture
def la(app):
    """A Los Angeles workspace with one client, owned by owner@example.com: ``(workspace id, client id)``."""
    from host_demo import seed
    from host_demo.models import db

    with app.app_context():
        owner = seed.create_user("owner@example.com", "Olivia Owner")
        workspace = seed.create_workspace("Firm in LA", plan="pro", slug="la", timezone="America/Los_Angeles")
        seed.add_member(owner, workspace, "owner")
        client = seed.create_client(workspace, "Client in LA", "ap@la.test")
        db.session.commit()
        return str(workspace.id), str(client.id)


def _send(app, la, *, method="manual"):
    from invoicing_plugin import api

    workspace, client = la
    with app.test_request_context():
        draft = api.create_draft(workspace, ACTOR, client_id=client, amount="100.00", currency="GBP",
                                 description="Work", send_method=method)
        return api.send(workspace, ACTOR, draft.id, method=method)


def _set(app, model, where, **values):
    with app.app_context():
        session = get_state().session
        session.execute(update(model).where(where).values(**values))
        session.commit()


def test_the_filter_speaks_the_zone_and_its_abbreviation():
    assert format_instant(WINTER, "America/Los_Angeles") == "2026-11-29 18:54 PST"
    assert format_instant(SUMMER, "America/Los_Angeles") == "2031-03-14 17:30 PDT"
    assert format_instant(WINTER, "America/Los_Angeles", seconds=True) == "2026-11-29 18:54:07 PST"
    assert format_instant(WINTER) == "2026-11-30 02:54 UTC"
    assert format_instant(WINTER.replace(tzinfo=None), "Asia/Tokyo") == "2026-11-30 11:54 JST"  # naive = UTC
    assert format_instant(WINTER, "America/Sao_Paulo") == "2026-11-29 23:54 UTC-03"  # no letters in the database
    assert zone_abbreviation(SUMMER, "Europe/London") == "GMT" and format_instant(None) == "—"


def test_sent_at_and_the_history_are_in_the_workspaces_time(app, la, clock):
    invoice = _send(app, la)
    _set(app, InvoiceEvent, InvoiceEvent.invoice_id == invoice.id, created_at=WINTER)

    html = login(app.test_client(), "owner@example.com", "la").get(f"/invoicing/invoices/{invoice.id}").text

    assert "<dt>Sent</dt><dd>2026-11-29 18:54 PST</dd>" in html  # was "2026-11-30 02:54 UTC"
    history = html[html.index('id="inv-timeline-title"'):]
    assert re.findall(r"<time datetime=\"([^\"]+)\">([^<]+)</time>", history) == [
        ("2026-11-30T02:54:07+00:00", "2026-11-29 18:54 PST")] * 2  # created, sent
    assert not BARE_TIME.search(html), BARE_TIME.search(html)

    clock.now = SUMMER
    summer = _send(app, la)
    html = login(app.test_client(), "owner@example.com", "la").get(f"/invoicing/invoices/{summer.id}").text
    assert "<dt>Sent</dt><dd>2031-03-14 17:30 PDT</dd>" in html


def test_the_email_outbox_pages_are_in_the_workspaces_time(app, la, clock):
    workspace, _ = la
    invoice = _send(app, la)
    with app.app_context():
        session = get_state().session
        email = OutboxEmail(workspace_id=workspace, invoice_id=invoice.id, kind="invoice", to_address="ap@la.test",
                            subject="Invoice", body_text="Hello", status="sent", attempts=1, created_at=WINTER,
                            sent_at=WINTER, last_attempt_at=WINTER, next_attempt_at=WINTER)
        session.add(email)
        session.commit()
        email_id = email.id
    staff = login(app.test_client(), "owner@example.com", "la")

    listing = staff.get("/invoicing/emails/").text
    assert "sent 2026-11-29 18:54 PST" in listing
    detail = staff.get(f"/invoicing/emails/{email_id}").text
    assert "<dt>Queued</dt><dd>2026-11-29 18:54:07 PST</dd>" in detail
    assert "<dt>Sent</dt><dd>2026-11-29 18:54:07 PST</dd>" in detail
    invoice_page = staff.get(f"/invoicing/invoices/{invoice.id}").text  # its "Emails" table
    assert "sent 2026-11-29 18:54 PST" in invoice_page

    _set(app, OutboxEmail, OutboxEmail.id == email_id, status="pending", sent_at=None, next_attempt_at=SUMMER)
    assert "next attempt 2031-03-14 17:30 PDT" in staff.get("/invoicing/emails/").text
    for page in (staff.get("/invoicing/emails/").text, staff.get(f"/invoicing/emails/{email_id}").text):
        assert " UTC" not in page and not BARE_TIME.search(page)


def test_the_webhook_page_is_in_the_workspaces_time(app, la, clock):
    workspace, _ = la
    with app.app_context():
        session = get_state().session
        for n, status in enumerate(("processed", "failed", "ignored")):
            session.add(WebhookEvent(event_id=f"evt_la_{n}", type="checkout.session.completed", workspace_id=workspace,
                                     status=status, payload={}, received_at=WINTER, error="boom" if n == 1 else None))
        session.commit()

    html = login(app.test_client(), "owner@example.com", "la").get("/invoicing/webhooks/").text

    last = html[html.index('data-testid="last-event"'):]
    assert "on 2026-11-29 18:54:07 PST" in last[:400]
    # last event, its kind's "last received", the failure, the ignored one, the three recent ones
    assert html.count("2026-11-29 18:54") == 1 + 1 + 1 + 1 + 3
    assert " UTC" not in html and not BARE_TIME.search(html)


def test_pages_without_a_workspace_stay_utc_and_say_so(app, la, clock):
    with app.test_request_context("/"):
        rendered = app.jinja_env.from_string(
            "{{ at|invoicing_datetime }} / {{ at|invoicing_datetime('America/Los_Angeles') }}").render(at=WINTER)
    assert rendered == "2026-11-30 02:54 UTC / 2026-11-29 18:54 PST"

    workspace, _ = la
    with app.app_context():
        session = get_state().session
        session.add(WebhookEvent(event_id="evt_nobody", type="charge.refunded", workspace_id=None, status="ignored",
                                 payload={}, received_at=WINTER, note="no session of ours"))
        session.commit()
    output = app.test_cli_runner().invoke(args=["invoicing", "ignored-events"]).output
    assert "2026-11-30 02:54:07 UTC evt_nobody" in output


def test_the_csv_keeps_iso_instants_with_their_offset(app, la, clock):
    invoice = _send(app, la)
    staff = login(app.test_client(), "owner@example.com", "la")
    response = staff.get("/invoicing/analytics/invoices.csv?start=2026-11-01&end=2026-11-30")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))
    (row,) = [r for r in rows if r["number"] == invoice.number]
    assert row["sent_at"] == "2026-11-30T02:54:07+00:00"
