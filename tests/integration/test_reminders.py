"""Payment reminders (issue 16): the schedule page, ``flask invoicing send-reminders``.

Real parts: host_demo on SQLite and PostgreSQL, the Stripe emulator, the SMTP test
server (``mailbox``). Time is the plugin's clock (``services.uow.system_clock``) frozen
per test.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tests.integration._invoice_helpers import ACTOR, draft, events, freeze_clock, load, send, update
from tests.integration.conftest import connect_workspace, login

EXTERNAL = "https://billing.example.test"
PAGE = "/invoicing/settings/reminders"
DUE = date(2031, 3, 14)
#: Noon UTC on a day.
def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "INVOICING_EXTERNAL_URL": EXTERNAL}


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, noon(DUE - timedelta(days=10)))


def schedule(app, workspace_id, text, enabled=True):
    from invoicing_plugin.services import reminders

    with app.app_context():
        return reminders.save_schedule(workspace_id, ACTOR, enabled=enabled, steps_text=text)


def sent_invoice(app, world, *, method="email", due=DUE, workspace=None, client=None):
    snapshot = draft(app, world, due_date=due, send_method=method, workspace=workspace, client=client)
    send(app, world, snapshot.id, method=method, workspace=workspace)
    return load(app, snapshot.id)


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["invoicing", "send-reminders", *args])
    return result


def reminder_rows(app, invoice_id=None):
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import InvoiceReminder

    with app.app_context():
        stmt = select(InvoiceReminder.step).order_by(InvoiceReminder.step)
        if invoice_id is not None:
            stmt = stmt.where(InvoiceReminder.invoice_id == invoice_id)
        return list(get_state().session.scalars(stmt))


def outbox_reminders(app):
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import OutboxEmail

    with app.app_context():
        return get_state().session.scalar(select(func.count()).select_from(OutboxEmail)
                                          .where(OutboxEmail.kind == "reminder"))


def subject(message) -> str:
    """The subject as written (a long subject with "£" is folded on the wire)."""
    return " ".join(message["Subject"].split())


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


# -- the schedule page ----------------------------------------------------------------------


def test_reminders_are_off_by_default(app, world, connected_workspace, clock, mailbox):
    sent_invoice(app, world)
    mailbox.wait_for(1)
    mailbox.clear()
    clock.now = noon(DUE + timedelta(days=30))
    result = run(app)
    assert result.exit_code == 0, result.output
    assert "Reminders sent: 0." in result.output
    assert mailbox.wait_for(1, timeout=0.5) == []
    with app.app_context():
        from invoicing_plugin.services.reminders import get_schedule

        assert get_schedule(world.acme).enabled is False


def test_staff_edit_the_schedule(app, world, staff_client):
    page = staff_client.get(PAGE)
    assert page.status_code == 200
    assert b"Days relative to the due date" in page.data
    response = staff_client.post(PAGE, data={"enabled": "y", "offsets": "14, -3 0 +7"})
    assert response.status_code in (302, 303)
    with app.app_context():
        from invoicing_plugin.services.reminders import get_schedule

        saved = get_schedule(world.acme)
    assert saved.enabled and saved.steps == (-3, 0, 7, 14)
    assert b'value="-3, 0, 7, 14"' in staff_client.get(PAGE).data
    # and off again, keeping the days
    staff_client.post(PAGE, data={"offsets": "-3, 0, 7, 14"})
    with app.app_context():
        assert get_schedule(world.acme).enabled is False


@pytest.mark.parametrize("offsets, message", [
    ("abc", "is not a whole number of days"),
    ("7, 7", "7 is listed twice"),
    ("400", "400 is out of range"),
    ("-61", "-61 is out of range"),
    ("1.5", "is not a whole number of days"),
    ("", "Give at least one day"),
    (",".join(str(n) for n in range(11)), "At most 10 reminders"),
])
def test_bad_schedules_are_refused_and_nothing_is_saved(app, world, staff_client, offsets, message):
    schedule(app, world.acme, "0, 7")
    response = staff_client.post(PAGE, data={"enabled": "y", "offsets": offsets})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    with app.app_context():
        from invoicing_plugin.services.reminders import get_schedule

        assert get_schedule(world.acme).steps == (0, 7)


def test_the_page_is_for_billing_staff_only(app, world):
    member = login(app.test_client(), world.member_email, world.acme_slug)
    assert member.get(PAGE).status_code == 403
    assert member.post(PAGE, data={"enabled": "y", "offsets": "0"}).status_code == 403
    assert app.test_client().get(PAGE).status_code in (302, 401)
    with app.app_context():
        from invoicing_plugin.services.reminders import get_schedule

        assert get_schedule(world.acme).enabled is False


def test_the_schedule_is_the_workspaces_own(app, world):
    schedule(app, world.acme, "0, 7")
    outsider = login(app.test_client(), world.outsider_email, world.northwind_slug)
    page = outsider.get(PAGE).get_data(as_text=True)
    assert 'value="0, 7"' not in page


# -- send-reminders --------------------------------------------------------------------------


def test_each_step_is_sent_once_with_the_pay_link_and_balance(app, world, connected_workspace, clock, mailbox):
    invoice = sent_invoice(app, world)
    mailbox.wait_for(1)
    mailbox.clear()
    schedule(app, world.acme, "-3, 0, 7")

    clock.now = noon(DUE - timedelta(days=4))
    assert "Reminders sent: 0." in run(app).output

    clock.now = noon(DUE - timedelta(days=3))
    result = run(app)
    assert result.exit_code == 0, result.output
    assert "Reminders sent: 1." in result.output
    [message] = mailbox.wait_for(1)
    assert message["To"] == "Globex Corporation <billing@globex.test>"
    assert " ".join(message["Subject"].split()) == (f"Reminder: invoice {invoice.number} from Acme Security is due in 3 days "
                                  "(£1,250.00 due)")
    body = text_of(message)
    assert f"{EXTERNAL}/invoicing/pay/{invoice.public_token}" in body
    assert "Balance due:  £1,250.00" in body
    html = message.get_body(("html",)).get_content()
    assert f'href="{EXTERNAL}/invoicing/pay/{invoice.public_token}"' in html

    mailbox.clear()
    assert "Reminders sent: 0." in run(app).output  # the same day again: nothing
    clock.now = noon(DUE - timedelta(days=1))
    assert "Reminders sent: 0." in run(app).output

    clock.now = noon(DUE)
    assert "Reminders sent: 1." in run(app).output
    clock.now = noon(DUE + timedelta(days=7))
    assert "Reminders sent: 1." in run(app).output
    clock.now = noon(DUE + timedelta(days=40))
    assert "Reminders sent: 0." in run(app).output
    messages = mailbox.wait_for(2)
    assert sorted(subject(m) for m in messages) == [
        f"Reminder: invoice {invoice.number} from Acme Security is due today (£1,250.00 due)",
        f"Reminder: invoice {invoice.number} from Acme Security was due 7 days ago (£1,250.00 due)"]
    assert reminder_rows(app, invoice.id) == [-3, 0, 7]
    timeline = [e for e in events(app, invoice.id) if e[0] == "reminder"]
    assert [e[4].split(")")[0] for e in timeline] == [
        "Reminder (3 days before the due date", "Reminder (on the due date", "Reminder (7 days after the due date"]
    assert all("£1,250.00 due" in e[4] and e[5] == "system" for e in timeline)


def test_a_missed_run_sends_the_latest_step_only(app, world, connected_workspace, clock, mailbox):
    invoice = sent_invoice(app, world)
    mailbox.wait_for(1)
    mailbox.clear()
    schedule(app, world.acme, "-3, 0, 7, 14")
    clock.now = noon(DUE + timedelta(days=9))  # cron was down since before -3
    assert "Reminders sent: 1." in run(app).output
    [message] = mailbox.wait_for(1)
    assert "was due 9 days ago" in subject(message)
    assert reminder_rows(app, invoice.id) == [7]
    clock.now = noon(DUE + timedelta(days=13))
    assert "Reminders sent: 0." in run(app).output
    clock.now = noon(DUE + timedelta(days=14))
    assert "Reminders sent: 1." in run(app).output
    assert reminder_rows(app, invoice.id) == [7, 14]


def test_a_partly_paid_invoice_is_reminded_of_its_balance(app, world, connected_workspace, clock, mailbox):
    invoice = sent_invoice(app, world)
    update(app, invoice.id, status="partially_paid", amount_paid_minor=50_000, payment_method="bank_transfer")
    mailbox.wait_for(1)
    mailbox.clear()
    schedule(app, world.acme, "0")
    clock.now = noon(DUE)
    assert "Reminders sent: 1." in run(app).output
    [message] = mailbox.wait_for(1)
    assert "(£750.00 due)" in subject(message)
    assert "Balance due:  £750.00" in text_of(message)


@pytest.mark.parametrize("change", [
    {"status": "paid", "amount_paid_minor": 125_000},
    {"status": "voided"},
    {"status": "credited", "amount_credited_minor": 125_000},
    {"status": "refunded", "amount_paid_minor": 125_000, "amount_refunded_minor": 125_000},
    {"status": "processing"},
    {"status": "partially_paid", "amount_paid_minor": 100_000, "amount_credited_minor": 25_000},  # nothing left
    {"online_payment_unavailable": True},
])
def test_no_reminder_for_invoices_that_ask_for_nothing(app, world, connected_workspace, clock, mailbox, change):
    invoice = sent_invoice(app, world)
    update(app, invoice.id, **change)
    mailbox.wait_for(1)
    mailbox.clear()
    schedule(app, world.acme, "0, 7")
    clock.now = noon(DUE + timedelta(days=7))
    assert "Reminders sent: 0." in run(app).output
    assert mailbox.wait_for(1, timeout=0.3) == []
    assert reminder_rows(app) == []


def test_no_reminder_for_a_manual_invoice_or_a_draft(app, world, clock, mailbox):
    manual = sent_invoice(app, world, method="manual")
    drafted = draft(app, world, due_date=DUE)
    schedule(app, world.acme, "0, 7")
    clock.now = noon(DUE + timedelta(days=7))
    assert "Reminders sent: 0." in run(app).output
    assert mailbox.wait_for(1, timeout=0.3) == []
    assert reminder_rows(app) == [] and load(app, drafted.id).status == "draft" and manual.send_method == "manual"


def test_a_stripe_link_invoice_is_reminded_by_email(app, world, connected_workspace, clock, mailbox):
    invoice = sent_invoice(app, world, method="stripe_link")
    schedule(app, world.acme, "0")
    clock.now = noon(DUE)
    assert "Reminders sent: 1." in run(app).output
    [message] = mailbox.wait_for(1)
    assert invoice.public_token in text_of(message)


def test_the_day_is_the_workspaces(app, world, stripe_emulator, clock, mailbox):
    """17:30 on the 13th in Los Angeles is the 14th in UTC: the due-date step waits for LA's 14th."""
    from host_demo import seed
    from host_demo.models import Workspace, db

    with app.app_context():
        db.session.get(Workspace, int(world.acme)).timezone = "America/Los_Angeles"
        db.session.commit()
    connect_workspace(app, stripe_emulator, world.acme)
    invoice = sent_invoice(app, world)
    mailbox.wait_for(1)
    mailbox.clear()
    schedule(app, world.acme, "0")
    clock.now = datetime(2031, 3, 14, 0, 30, tzinfo=timezone.utc)  # 17:30 PDT on the 13th
    assert "Reminders sent: 0." in run(app).output
    clock.now = datetime(2031, 3, 14, 7, 30, tzinfo=timezone.utc)  # 00:30 PDT on the 14th
    assert "Reminders sent: 1." in run(app).output
    assert reminder_rows(app, invoice.id) == [0]
    assert seed  # host_demo's seed is what made the workspace


def test_a_workspace_the_host_gets_wrong_is_left_out_and_named(app, world, connected_workspace, clock, mailbox,
                                                                monkeypatch):
    sent_invoice(app, world)
    schedule(app, world.acme, "0")
    schedule(app, world.northwind, "0")
    from invoicing_plugin.state import get_state

    host = get_state(app).host
    real = host.get_workspace

    def broken(workspace_id):
        if str(workspace_id) == world.northwind:
            raise RuntimeError("host down for northwind")
        return real(workspace_id)

    monkeypatch.setattr(host, "get_workspace", broken)
    clock.now = noon(DUE)
    result = run(app)
    assert result.exit_code == 1
    assert "Reminders sent: 1." in result.output
    assert f"workspace {world.northwind} left out" in result.output


def test_without_an_external_url_the_run_says_so(app, world, connected_workspace, clock):
    sent_invoice(app, world)
    schedule(app, world.acme, "0")
    app.config["INVOICING_EXTERNAL_URL"] = None
    clock.now = noon(DUE)
    result = run(app)
    assert result.exit_code == 1
    assert "INVOICING_EXTERNAL_URL" in result.output
    assert reminder_rows(app) == [] and outbox_reminders(app) == 0


# -- several runs at once ---------------------------------------------------------------------


@pytest.mark.parametrize("row_lock", [True, False], ids=["with-row-lock", "unique-claim-only"])
def test_two_runs_at_once_send_each_step_once(app, world, connected_workspace, clock, mailbox, monkeypatch,
                                              row_lock, db_backend):
    """Two cron runs at the same moment (two threads, two connections): one email per step.

    ``unique-claim-only`` takes away the invoice's row lock (as on SQLite, which has no
    ``FOR UPDATE``): both runs then decide to send the same step, and only the unique
    ``(invoice_id, step)`` row stops the second.
    """
    from invoicing_plugin.services import reminders

    invoices = [sent_invoice(app, world) for _ in range(3)]
    mailbox.wait_for(3)
    mailbox.clear()
    schedule(app, world.acme, "0")
    clock.now = noon(DUE)

    barrier = threading.Barrier(2, timeout=10)
    real_lock = reminders.lock_invoice

    def lock_together(repo, invoice_id):
        if invoice_id == invoices[0].id:
            barrier.wait()  # both runs reach the first invoice at once
        if row_lock:
            return real_lock(repo, invoice_id)
        from invoicing_plugin.persistence.models import Invoice

        return repo.session.scalars(repo.select(Invoice).where(Invoice.id == invoice_id)
                                    .execution_options(populate_existing=True)).one()

    monkeypatch.setattr(reminders, "lock_invoice", lock_together)
    decided = []
    real_step_for = reminders._step_for
    decided_together = threading.Barrier(2, timeout=10)

    def step_for(uow, invoice, *args):
        step = real_step_for(uow, invoice, *args)
        if invoice.id == invoices[0].id:
            decided.append(step)
            if not row_lock:
                decided_together.wait()  # both decided before either inserts its claim
        return step

    monkeypatch.setattr(reminders, "_step_for", step_for)
    reports, errors = [], []

    def cron():
        try:
            with app.app_context():
                reports.append(reminders.send_due_reminders(deliver=False))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=cron) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(reports) == 2  # both runs finished
    if not row_lock:
        assert decided == [0, 0]  # both meant to send it: only the unique claim kept it to one
    elif db_backend == "postgresql":
        assert sorted(decided, key=str) == [0, None]  # the second waited for the lock, then saw it sent
    assert sum(len(r.sent) for r in reports) == 3
    assert outbox_reminders(app) == 3
    for invoice in invoices:
        assert reminder_rows(app, invoice.id) == [0]
        assert [e[0] for e in events(app, invoice.id)].count("reminder") == 1
    monkeypatch.setattr(reminders, "lock_invoice", real_lock)
    monkeypatch.setattr(reminders, "_step_for", real_step_for)
    result = run(app)  # nothing new
    assert "Reminders sent: 0." in result.output
    with app.app_context():
        from invoicing_plugin.services.outbox import deliver_due

        deliver_due()
    assert len(mailbox.wait_for(3)) == 3
    assert mailbox.wait_for(4, timeout=0.5)[3:] == []


def test_without_an_external_url_the_run_stops_up_front_even_when_nothing_is_due(app, world, connected_workspace,
                                                                                   clock, monkeypatch):
    """newuser16 N5: docs/reminders.md -- without INVOICING_EXTERNAL_URL the command stops with
    that message; a cron job must not look healthy until the first reminder day."""
    from invoicing_plugin.services import reminders

    sent_invoice(app, world)
    schedule(app, world.acme, "14")  # nothing due today
    app.config["INVOICING_EXTERNAL_URL"] = None
    looked = []
    monkeypatch.setattr(reminders, "_send_one", lambda *args, **kwargs: looked.append(args))
    result = run(app)
    assert result.exit_code != 0
    assert "INVOICING_EXTERNAL_URL" in result.output and "Reminders sent" not in result.output
    assert looked == [] and reminder_rows(app) == []
