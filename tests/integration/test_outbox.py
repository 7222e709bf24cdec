"""Emails are never lost and never sent for nothing: the outbox (services/outbox.py).

Every email is queued in the transaction of the change that causes it and delivered after
the commit; ``flask invoicing deliver-emails`` (or ``api.deliver_emails()`` from a task)
retries what failed. With the real SMTP server of ``tests/support/smtp.py``.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import OutboxEmail, utcnow
from tests.integration._invoice_helpers import ACTOR, draft, load, update as update_invoice
from tests.integration.conftest import login
from tests.integration.webhook_helpers import event_for, invoice_state, post_event


def _post_send(client, invoice_id, method="email"):
    return client.post(f"/invoicing/invoices/{invoice_id}/send", data={"method": method}, follow_redirects=True)


def outbox_rows(app) -> list[OutboxEmail]:
    with app.app_context():
        session = get_state().session
        rows = list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))
        session.expunge_all()
        return rows


def make_due(app) -> None:
    """Time passes: every waiting email's back-off is over."""
    with app.app_context():
        session = get_state().session
        session.execute(update(OutboxEmail).where(OutboxEmail.status == "pending")
                        .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        session.commit()


def deliver(app):
    return app.test_cli_runner().invoke(args=["invoicing", "deliver-emails"])


@pytest.fixture
def smtp_down(app):
    """Point the plugin at a port where nothing listens; ``smtp_down.up()`` points it back."""
    from tests.support.postgres import free_port

    good = app.config["INVOICING_MAIL_PORT"]
    app.config["INVOICING_MAIL_PORT"] = free_port()

    class Switch:
        @staticmethod
        def up():
            app.config["INVOICING_MAIL_PORT"] = good

    return Switch


# -- never sent for nothing ------------------------------------------------------------------------


def test_a_send_whose_commit_fails_emails_nothing(app, world, connected_workspace, mailbox, monkeypatch):
    """The email is queued, not sent, before the commit: when the commit fails, nobody is emailed
    (before the outbox the client got an invoice that was still a draft)."""
    from invoicing_plugin.services import sending

    invoice = draft(app, world)

    def commit_fails(uow, **kwargs):
        uow.session.flush()
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(sending, "commit_or_conflict", commit_fails)
    with app.test_request_context(), pytest.raises(OperationalError):
        api.send(world.acme, ACTOR, invoice.id, method="email")

    assert mailbox.wait_for(1, timeout=0.5) == []
    assert load(app, invoice.id).status == "draft"
    assert outbox_rows(app) == []
    assert deliver(app).exit_code == 0
    assert mailbox.wait_for(1, timeout=0.5) == []


def test_a_commit_that_fails_in_the_webhook_queues_no_confirmation(app, invoice, stripe_emulator, mailbox,
                                                                    monkeypatch):
    """The payment confirmation rides in the payment's own transaction: rolled back with it."""
    from invoicing_plugin.webhooks import handlers

    stripe_emulator.control.pay_session(invoice.session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id)
    original = handlers.HANDLERS["checkout.session.completed"]

    def fails_after_the_payment(ctx):
        original(ctx)
        raise RuntimeError("the database went away before the commit")

    monkeypatch.setitem(handlers.HANDLERS, "checkout.session.completed", fails_after_the_payment)
    client = app.test_client()
    assert post_event(client, event).status_code == 500
    assert outbox_rows(app) == []
    assert mailbox.wait_for(1, timeout=0.5) == []

    monkeypatch.undo()
    assert post_event(client, event).status_code == 200
    [row] = outbox_rows(app)
    assert (row.kind, row.status, row.attempts, row.invoice_id) == ("payment_confirmation", "sent", 1, invoice.id)
    assert len(mailbox.wait_for(1)) == 1


# -- never lost ------------------------------------------------------------------------------------


def test_an_smtp_server_down_then_up_delivers_the_invoice_email_exactly_once(
        app, staff_client, world, connected_workspace, mailbox, stripe_emulator, smtp_down):
    invoice = draft(app, world)

    page = _post_send(staff_client, invoice.id, "email")

    # The send stands (the invoice is sent, its Checkout Session open); the email waits.
    assert page.status_code == 200
    assert "sent; the email to billing@globex.test could not be delivered yet and waits in the outbox, which retries it" in page.text
    stored = load(app, invoice.id)
    assert (stored.status, stored.number) == ("sent", "INV-0001")
    assert stripe_emulator.control.get_object(stored.checkout_session_id)["status"] == "open"
    [row] = outbox_rows(app)
    assert (row.kind, row.status, row.attempts, row.to_address) == ("invoice", "pending", 1, "billing@globex.test")
    assert "ConnectionRefusedError" in row.last_error and row.next_attempt_at > utcnow()
    assert row.subject == "Invoice INV-0001 from Acme Security: £1,250.00"
    # Staff see it on the invoice page, with the error.
    detail = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert 'data-testid="invoice-emails"' in detail and "ConnectionRefusedError" in detail

    smtp_down.up()
    early = deliver(app)  # its back-off is not over yet: not tried again
    assert early.exit_code == 0 and "Emails delivered: 0" in early.output
    make_due(app)
    first = deliver(app)
    assert first.exit_code == 0, first.output
    assert "Emails delivered: 1" in first.output
    again = deliver(app)
    assert "Emails delivered: 0" in again.output

    [message] = mailbox.wait_for(2, timeout=0.5)
    assert message["Subject"] == "Invoice INV-0001 from Acme Security: £1,250.00"
    assert message["To"] == "Globex Corporation <billing@globex.test>"
    [row] = outbox_rows(app)
    assert (row.status, row.attempts, row.message_id) == ("sent", 2, message["Message-ID"])
    assert row.sent_at is not None


def test_a_payment_recorded_while_smtp_is_down_is_confirmed_once_smtp_is_back(
        app, invoice, stripe_emulator, mailbox, smtp_down):
    stripe_emulator.control.pay_session(invoice.session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id)

    assert post_event(app.test_client(), event).status_code == 200

    state = invoice_state(app, invoice.id)
    assert state.status == "paid" and state.confirmation_sent  # queued with the payment
    [row] = outbox_rows(app)
    assert (row.kind, row.status, row.attempts) == ("payment_confirmation", "pending", 1)
    assert row.subject.startswith("Payment received for invoice")

    smtp_down.up()
    make_due(app)
    with app.app_context():  # what a Celery task runs
        report = api.deliver_emails()
    assert report.sent == [row.id] and report.ok
    with app.app_context():
        assert api.deliver_emails().sent == []
    [message] = mailbox.wait_for(2, timeout=0.5)
    assert message["Subject"] == row.subject


def test_delivery_after_the_commit_can_be_left_to_the_deliverer(app, world, connected_workspace, mailbox):
    """``INVOICING_MAIL_DELIVER_AFTER_COMMIT = False``: the request only queues (a host with Celery)."""
    app.config["INVOICING_MAIL_DELIVER_AFTER_COMMIT"] = False
    invoice = draft(app, world)
    with app.test_request_context():
        api.send(world.acme, ACTOR, invoice.id, method="email")
    assert mailbox.wait_for(1, timeout=0.3) == []
    [row] = outbox_rows(app)
    assert (row.status, row.attempts) == ("pending", 0)
    with app.app_context():
        assert api.deliver_emails().sent == [row.id]
    assert len(mailbox.wait_for(1)) == 1


# -- a poison email --------------------------------------------------------------------------------


def test_an_email_the_server_always_refuses_stops_after_max_attempts_and_shows_its_error(
        app, staff_client, world, connected_workspace, mailbox):
    app.config["INVOICING_MAIL_MAX_ATTEMPTS"] = 3
    invoice = draft(app, world)
    update_invoice(app, invoice.id, client_email="nobody@refused.test")

    page = _post_send(staff_client, invoice.id, "email")  # attempt 1, in the request
    assert "waits in the outbox, which retries it" in page.text and load(app, invoice.id).status == "sent"
    outputs = []
    for _ in range(3):  # attempts 2 and 3, then nothing is left to try
        make_due(app)
        outputs.append(deliver(app))

    assert [r.exit_code for r in outputs] == [1, 1, 0]
    assert "given up after the last attempt" in outputs[1].output
    [row] = outbox_rows(app)
    assert (row.status, row.attempts) == ("failed", 3)
    assert "550" in row.last_error and "No such mailbox here" in row.last_error
    assert mailbox.wait_for(1, timeout=0.3) == []
    # Staff see why, on the invoice and in the outbox.
    detail = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert "No such mailbox here" in detail and 'data-status="failed"' in detail
    page = staff_client.get(f"/invoicing/emails/{row.id}")
    assert page.status_code == 200 and "No such mailbox here" in page.text and "Retry now" in page.text
    failed = staff_client.get("/invoicing/emails/?status=failed").text
    assert f'data-email-id="{row.id}"' in failed

    # "Retry now" gives it one more attempt (refused again: still failed, 4 attempts).
    staff_client.post(f"/invoicing/emails/{row.id}/retry", follow_redirects=True)
    [row] = outbox_rows(app)
    assert (row.status, row.attempts) == ("failed", 4)


# -- other workspaces ------------------------------------------------------------------------------


def test_another_workspaces_email_is_not_found(app, staff_client, world, connected_workspace, mailbox, smtp_down):
    invoice = draft(app, world)
    _post_send(staff_client, invoice.id, "email")
    [row] = outbox_rows(app)

    outsider = login(app.test_client(), world.outsider_email, world.northwind_slug)
    assert outsider.get(f"/invoicing/emails/{row.id}").status_code == 404
    assert outsider.post(f"/invoicing/emails/{row.id}/retry").status_code == 404
    assert f'data-email-id="{row.id}"' not in outsider.get("/invoicing/emails/").text
    assert outbox_rows(app)[0].attempts == 1  # the refused retry changed nothing
    assert f'data-email-id="{row.id}"' in staff_client.get("/invoicing/emails/").text


# -- several deliverers at once --------------------------------------------------------------------


@pytest.mark.postgresql_only
def test_two_concurrent_deliverers_deliver_each_email_once(app, world, mailbox, monkeypatch):
    from invoicing_plugin.gateways.mail import Mailer, OutgoingEmail
    from invoicing_plugin.services import outbox
    from invoicing_plugin.services.uow import UnitOfWork

    count = 12
    with app.app_context():
        uow = UnitOfWork.for_app()
        with uow:
            for n in range(count):
                outbox.enqueue(uow, OutgoingEmail(to=f"client{n}@example.test", subject=f"email {n}", text="hello"),
                               workspace_id=world.acme, kind="invoice")
            uow.commit()

    original = Mailer.send

    def slow_send(self, email):  # long enough for the two runs to overlap
        threading.Event().wait(0.05)
        return original(self, email)

    monkeypatch.setattr(Mailer, "send", slow_send)
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run():
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                reports.append(api.deliver_emails())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    sent = [email_id for report in reports for email_id in report.sent]
    assert sorted(sent) == sorted(row.id for row in outbox_rows(app))  # each once, by one of them
    assert all(report.sent for report in reports)  # both took part
    messages = mailbox.wait_for(count + 1, timeout=1)
    assert sorted(m["Subject"] for m in messages) == sorted(f"email {n}" for n in range(count))
    assert {(row.status, row.attempts) for row in outbox_rows(app)} == {("sent", 1)}


def test_retries_back_off_doubling_up_to_six_hours():
    from invoicing_plugin.services.outbox import MAX_BACKOFF, backoff

    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(9) == timedelta(minutes=256) and backoff(10) == backoff(50) == MAX_BACKOFF == timedelta(hours=6)
