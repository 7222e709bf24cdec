"""The outbox under attack (issue 14, break): Retry now racing a deliverer, an SMTP server
that keeps a deliverer past its lease, recipients and names from host data that are not
what they seem. Each test fails on 47d633c."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.gateways.mail import Mailer, OutgoingEmail
from invoicing_plugin.persistence.models import OutboxEmail, utcnow
from invoicing_plugin.services import outbox
from invoicing_plugin.services.uow import UnitOfWork
from tests.integration._invoice_helpers import draft
from tests.support.postgres import free_port
from tests.support.rogue_smtp import RogueSMTP


def rows(app) -> list[OutboxEmail]:
    with app.app_context():
        session = get_state().session
        found = list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))
        session.expunge_all()
        return found


def queue(app, workspace_id, **fields) -> None:
    fields.setdefault("to", "billing@globex.test")
    fields.setdefault("subject", "Invoice INV-0001")
    fields.setdefault("text", "hello")
    with app.app_context():
        uow = UnitOfWork.for_app()
        with uow:
            outbox.enqueue(uow, OutgoingEmail(**fields), workspace_id=workspace_id, kind="invoice")
            uow.commit()


def test_retry_now_while_a_deliverer_is_sending_does_not_send_it_again(app, staff_client, world,
                                                                        connected_workspace, mailbox):
    """Before: "Retry now" cleared the live claim of a deliverer in the middle of its SMTP
    exchange and delivered the email again at once: the client got it twice."""
    invoice = draft(app, world)
    good_port = app.config["INVOICING_MAIL_PORT"]
    app.config["INVOICING_MAIL_PORT"] = free_port()  # the send's own delivery fails: the email waits
    assert staff_client.post(f"/invoicing/invoices/{invoice.id}/send", data={"method": "email"}).status_code in (302, 303)
    app.config["INVOICING_MAIL_PORT"] = good_port
    [row] = rows(app)
    assert row.status == "pending" and row.attempts == 1
    with app.app_context():  # a deliverer (cron) claims it now and is talking to SMTP
        session = get_state().session
        session.execute(update(OutboxEmail).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        session.commit()
        uow = UnitOfWork.for_app()
        claimed = outbox._claim_next(uow, uow.clock(), 0, None)
        assert claimed and claimed[0].id == row.id
        token = claimed[1]

    page = staff_client.post(f"/invoicing/emails/{row.id}/retry", follow_redirects=True)

    assert page.status_code == 200
    assert "being delivered right now" in page.text
    assert mailbox.wait_for(1, timeout=0.5) == []  # only the deliverer holding the claim sends it
    [after] = rows(app)
    assert (after.claim_token, after.status, after.attempts) == (token, "pending", 1)


def test_an_smtp_server_that_keeps_a_deliverer_past_its_lease_gets_the_email_once(app, world, monkeypatch):
    """Before: a greeting dribbled line by line never tripped the per-read timeout; the lease
    ran out, a second deliverer claimed the email and sent it again (and so on, unbounded)."""
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=2))
    monkeypatch.setattr(Mailer, "max_send_seconds", 0.5, raising=False)
    queue(app, world.acme)
    with RogueSMTP("drip", drip_every=0.2, drip_for=4) as server:
        app.config["INVOICING_MAIL_PORT"] = server.port
        reports = []

        def first():
            with app.app_context():
                reports.append(api.deliver_emails())

        thread = threading.Thread(target=first)
        thread.start()
        time.sleep(2.5)  # the first deliverer's lease is over
        with app.app_context():
            second = api.deliver_emails()
        thread.join(timeout=30)
        assert server.connections == 1
    assert second.sent == [] and second.retrying == []
    [row] = rows(app)
    assert (row.status, row.attempts, row.claimed_until) == ("pending", 1, None)
    assert "did not finish within" in row.last_error


@pytest.mark.parametrize("to", ["billing@globex.test, evil@attacker.test", "billing@globex.test;evil@attacker.test",
                                "Eve <evil@attacker.test>", "billing@globex.test\nBcc: evil@attacker.test"])
def test_a_recipient_from_host_data_that_is_not_one_address_reaches_nobody_and_is_given_up(app, world, mailbox, to):
    """Before: the To header was the envelope: a comma in a client's e-mail address sent the
    invoice (pay and portal links) to a second address; CR/LF failed ten times over hours."""
    queue(app, world.acme, to=to)
    with app.app_context():
        report = api.deliver_emails()
    assert mailbox.wait_for(1, timeout=0.5) == []
    assert report.sent == [] and report.retrying == [] and len(report.gave_up) == 1
    [row] = rows(app)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "not one e-mail address" in row.last_error


def test_names_and_subjects_with_line_breaks_from_host_data_are_delivered_once(app, world, mailbox):
    """Before: ``ValueError: Header values may not contain linefeed...`` on every attempt; the
    invoice email was never delivered."""
    queue(app, world.acme, to_name="Globex\r\nBcc: evil@attacker.test", subject="Invoice from Acme\nSecurity Ltd")
    with app.app_context():
        report = api.deliver_emails()
    assert report.ok and len(report.sent) == 1
    [message] = mailbox.wait_for(1)
    assert message["X-Envelope-To"] == "billing@globex.test"
    assert message["Subject"] == "Invoice from Acme Security Ltd"
    assert message.get_all("Bcc") is None
