"""The unit of work without the app: signals only after the commit, one transaction per block, reuse."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from invoicing_plugin import signals
from invoicing_plugin.domain.errors import InvalidTransition
from invoicing_plugin.gateways.mail import MailError, OutgoingEmail
from invoicing_plugin.persistence.models import InvoiceTemplate
from invoicing_plugin.services import closing, drafts, sending, templates
from invoicing_plugin.services.drafts import DraftInput
from invoicing_plugin.services.errors import ValidationFailed
from invoicing_plugin.services.uow import UnitOfWork
from invoicing_plugin.testing.fake_mailer import FakeMailer

from .conftest import ACME, TODAY, counts


def draft_input(**overrides) -> DraftInput:
    values = dict(client_id="10", amount=1000, currency="EUR", description="Work",
                  due_date=TODAY + timedelta(days=7), send_method="manual")
    values.update(overrides)
    return DraftInput(**values)


@pytest.fixture
def timeline(session):
    """What happened, in order: ``commit`` (the database committed) and each signal heard."""
    seen: list = []
    event.listen(session, "after_commit", lambda s: seen.append("commit"))
    return seen


def listen(signal, seen, sender_seen):
    def listener(sender, **kwargs):
        sender_seen.append(sender)
        seen.append(signal.name)
    return signal.connected_to(listener)


def test_every_use_case_signal_is_sent_after_its_commit_with_the_sender(uow, timeline, sender):
    senders: list = []
    with listen(signals.invoice_created, timeline, senders), listen(signals.invoice_sent, timeline, senders), \
            listen(signals.invoice_paid, timeline, senders):
        created = drafts.create_draft(ACME, "user:7", draft_input(), uow=uow)
        sending.send_invoice(ACME, "user:7", created.id, uow=uow)
        closing.mark_paid(ACME, "user:7", created.id, method="cash", uow=uow)

    assert timeline == ["commit", "invoicing.invoice-created", "commit", "invoicing.invoice-sent",
                        "commit", "invoicing.invoice-paid"]
    assert senders == [sender] * 3


def test_a_refused_use_case_sends_no_signal(uow, timeline):
    senders: list = []
    created = drafts.create_draft(ACME, "user:7", draft_input(), uow=uow)
    timeline.clear()
    with listen(signals.invoice_voided, timeline, senders), listen(signals.invoice_created, timeline, senders):
        with pytest.raises(InvalidTransition):
            closing.void_invoice(ACME, "user:7", created.id, uow=uow)
        with pytest.raises(ValidationFailed):
            drafts.create_draft(ACME, "user:7", draft_input(amount="x"), uow=uow)
    assert timeline == []


def test_leaving_a_block_without_commit_rolls_back_and_drops_the_signals(uow, session, timeline):
    senders: list = []
    with listen(signals.invoice_voided, timeline, senders):
        with pytest.raises(RuntimeError, match="use case failed"):
            with uow:
                session.add(InvoiceTemplate(workspace_id=ACME, name="Never saved", currency="EUR"))
                uow.emit(signals.invoice_voided, invoice=None, actor="test")
                raise RuntimeError("use case failed")
        # The same unit of work, entered again, starts clean: the dropped signal stays dropped.
        with uow:
            session.add(InvoiceTemplate(workspace_id=ACME, name="Saved", currency="EUR"))
            uow.commit()
    assert timeline == ["commit"]
    assert [t.name for t in session.query(InvoiceTemplate)] == ["Saved"]


def test_a_committed_block_does_not_leak_into_the_next_one(uow, session):
    with uow:
        session.add(InvoiceTemplate(workspace_id=ACME, name="First", currency="EUR"))
        uow.commit()
    with uow:  # not committed this time: must roll back although the previous block committed
        session.add(InvoiceTemplate(workspace_id=ACME, name="Second", currency="EUR"))
    assert [t.name for t in session.query(InvoiceTemplate)] == ["First"]


def test_an_open_unit_of_work_cannot_be_entered_again_but_fresh_gives_another(uow, session):
    with uow:
        with pytest.raises(RuntimeError, match="already open"):
            with uow:
                pass
        other = uow.fresh()
        assert (other.session, other.host, other.mailer, other.clock, other.settings) == (
            uow.session, uow.host, uow.mailer, uow.clock, uow.settings)
        with other:
            session.add(InvoiceTemplate(workspace_id=ACME, name="Own transaction", currency="EUR"))
            other.commit()
    assert counts(session).invoices == 0
    assert [t.name for t in session.query(InvoiceTemplate)] == ["Own transaction"]


def test_a_collaborator_that_was_not_given_is_a_clear_error(session):
    bare = UnitOfWork(session)
    for name in ("host", "gateways", "mailer", "secret_box"):
        with pytest.raises(RuntimeError, match=f"without a {name}"):
            getattr(bare, name)
    assert bare.today() == bare.clock().date()


def test_templates_through_the_unit_of_work(uow, session, clock):
    made = templates.create_template(ACME, "user:7", templates.TemplateInput(
        name="Retainer", amount="1,000", due_in_days=30), uow=uow)
    assert (made.currency, made.amount_minor) == (uow.settings["INVOICING_DEFAULT_CURRENCY"], 100000)
    with pytest.raises(ValidationFailed) as refused:
        templates.create_template(ACME, "user:7", templates.TemplateInput(name="Retainer"), uow=uow)
    assert set(refused.value.errors) == {"name"}
    assert templates.draft_defaults(made, uow=uow)["due_date"] == clock.today() + timedelta(days=30)
    templates.delete_template(ACME, "user:7", made.id, uow=uow)
    assert templates.list_templates(ACME, uow=uow) == []


def test_the_fake_mailer_records_real_messages_or_fails_like_the_real_one():
    mailer = FakeMailer({"INVOICING_MAIL_SENDER": "billing@host.test"})
    email = OutgoingEmail(to="ada@client.test", to_name="Ada", subject="Invoice", text="Hello", html="<p>Hello</p>")
    message_id = mailer.send(email)
    assert mailer.outbox == [email]
    assert mailer.messages[0]["Message-ID"] == message_id and mailer.messages[0]["From"] == "billing@host.test"
    assert mailer.messages[0]["To"] == "Ada <ada@client.test>"
    mailer.fail_with = "SMTP is down"
    with pytest.raises(MailError, match="SMTP is down"):
        mailer.send(email)
    assert len(mailer.outbox) == 1
