"""``flask invoicing reconcile`` and the pay link's re-check: payments whose webhook never came.

The command runs through Flask's CLI runner against the emulator: its payments are
real, only the webhook is missing (no endpoint registered, or an endpoint answering
500 until Stripe gives up).
"""

from __future__ import annotations

import threading

import pytest

from invoicing_plugin.extension import get_state
from invoicing_plugin.services import payments
from invoicing_plugin.webhooks import handlers
from invoicing_plugin.webhooks.reconcile import reconcile
from tests.conftest import WEBHOOK_SECRET
from tests.integration.webhook_helpers import (
    ENDPOINT,
    audit,
    invoice_state,
    post_event,
    event_for,
    sent_invoice,
    webhook_rows,
)
from tests.support.live_server import LiveServer


def run(app, *args):
    return app.test_cli_runner().invoke(args=["invoicing", "reconcile", *args])


def test_reconcile_records_a_payment_whose_webhook_never_arrived(app, invoice, stripe_emulator, mailbox):
    stripe_emulator.control.pay_session(invoice.session_id)  # no endpoint registered: nothing delivered
    assert invoice_state(app, invoice.id).status == "sent"

    result = run(app)

    assert result.exit_code == 0, result.output
    assert f"invoice {invoice.id}: recorded" in result.output
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor, state.payments) == ("paid", 50_000, 1)
    (entry,) = audit(app, invoice.id, "payment_succeeded")
    assert entry.actor == "system" and "[reconcile]" in entry.detail
    assert len(mailbox.wait_for(1)) == 1

    again = run(app)
    assert again.exit_code == 0
    assert "recorded" not in again.output
    assert invoice_state(app, invoice.id).payments == 1
    assert len(mailbox.wait_for(2, timeout=0.5)) == 1


def test_a_late_webhook_after_reconcile_changes_nothing(app, invoice, stripe_emulator, mailbox):
    stripe_emulator.control.pay_session(invoice.session_id)
    run(app)
    event = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id)

    response = post_event(app.test_client(), event)

    assert response.status_code == 200
    assert invoice_state(app, invoice.id).payments == 1
    assert len(mailbox.wait_for(2, timeout=0.5)) == 1


def test_reconcile_settles_delayed_payments_both_ways(app, world, account, stripe_emulator):
    succeeded = sent_invoice(app, world.acme, account)
    failed = sent_invoice(app, world.acme, account)
    pending = sent_invoice(app, world.acme, account)
    for inv in (succeeded, failed, pending):
        stripe_emulator.control.pay_session(inv.session_id, "delayed")
    run(app)
    assert {invoice_state(app, i.id).status for i in (succeeded, failed, pending)} == {"processing"}

    stripe_emulator.control.settle_async(succeeded.session_id, succeeded=True)
    stripe_emulator.control.settle_async(failed.session_id, succeeded=False)
    assert run(app).exit_code == 0

    assert invoice_state(app, succeeded.id).status == "paid"
    assert (invoice_state(app, failed.id).status, invoice_state(app, failed.id).checkout_session_id) == ("sent", None)
    assert invoice_state(app, pending.id).status == "processing"


def test_reconcile_forgets_expired_sessions(app, invoice, stripe_emulator):
    stripe_emulator.control.trigger("checkout.session.expired", session=invoice.session_id)
    run(app)
    state = invoice_state(app, invoice.id)
    assert (state.status, state.checkout_session_id) == ("sent", None)


def test_pay_link_return_sees_paid_at_once(app, invoice, stripe_emulator, mailbox):
    """``sync_invoice_from_stripe`` is what the pay link's success return calls."""
    stripe_emulator.control.pay_session(invoice.session_id)
    with app.test_request_context():
        assert payments.sync_invoice_from_stripe(invoice.id) == "paid"
        assert payments.sync_invoice_from_stripe(invoice.id) == "paid"
    assert invoice_state(app, invoice.id).payments == 1
    (entry,) = audit(app, invoice.id, "payment_succeeded")
    assert "[return]" in entry.detail
    assert len(mailbox.wait_for(1)) == 1


def test_pay_link_return_during_a_stripe_outage_leaves_the_invoice_as_it_is(app, invoice, stripe_emulator):
    stripe_emulator.control.pay_session(invoice.session_id)
    stripe_emulator.control.fail_next_requests(1, "api_error")
    with app.test_request_context():
        assert payments.sync_invoice_from_stripe(invoice.id) == "sent"
    assert invoice_state(app, invoice.id).status == "sent"
    assert run(app).exit_code == 0
    assert invoice_state(app, invoice.id).status == "paid"


def test_reconcile_reports_errors_and_exits_nonzero(app, invoice, stripe_emulator):
    stripe_emulator.control.fail_next_requests(5, "api_error")
    result = run(app)
    assert result.exit_code == 1
    assert f"invoice {invoice.id}" in result.output
    assert invoice_state(app, invoice.id).status == "sent"


def test_undelivered_events_are_reported_and_applied_once(app, invoice, stripe_emulator, monkeypatch, mailbox):
    """Endpoint answering 500 until Stripe gives up -> reconcile --apply records the event once."""
    server = LiveServer(app).start()
    try:
        stripe_emulator.control.add_webhook_endpoint(server.url + ENDPOINT, secret=WEBHOOK_SECRET,
                                                     enabled_events=["checkout.session.completed"])

        def broken(ctx):
            raise RuntimeError("database maintenance")

        monkeypatch.setitem(handlers.HANDLERS, "checkout.session.completed", broken)
        stripe_emulator.control.pay_session(invoice.session_id)
        assert stripe_emulator.control.wait_for_deliveries(timeout=30)
        assert {d["status"] for d in stripe_emulator.control.deliveries()} == {500}
        monkeypatch.undo()
    finally:
        server.stop()
    (row,) = webhook_rows(app)
    assert row.status == "failed" and "database maintenance" in row.error
    assert row.attempts == len(stripe_emulator.control.deliveries())  # every retry was recorded
    failed_attempts = row.attempts
    # Don't let the session re-check record it first: this test is about the event path.
    with app.app_context():
        invoice_row = get_state().session.get(payments.Invoice, invoice.id)
        invoice_row.checkout_session_id = None
        get_state().session.commit()

    report_only = run(app)
    assert report_only.exit_code == 0, report_only.output
    assert "1 undelivered event(s)" in report_only.output
    assert f"{row.event_id} checkout.session.completed" in report_only.output
    assert "recorded here as failed" in report_only.output
    assert invoice_state(app, invoice.id).status == "sent"

    applied = run(app, "--apply")
    assert applied.exit_code == 0, applied.output
    assert "-> processed" in applied.output
    state = invoice_state(app, invoice.id)
    assert (state.status, state.payments) == ("paid", 1)
    (row,) = webhook_rows(app)
    assert (row.status, row.attempts, row.error) == ("processed", failed_attempts + 1, None)

    third = run(app, "--apply")  # still undelivered at Stripe, already recorded here: not re-run
    assert "recorded here as processed" in third.output
    assert invoice_state(app, invoice.id).payments == 1
    assert len(mailbox.wait_for(2, timeout=0.5)) == 1


def test_reconcile_queues_confirmations_that_could_not_be_prepared(app, invoice, stripe_emulator, mailbox,
                                                                     monkeypatch):
    """A confirmation that could not be rendered with the payment (a template or host error:
    the payment is recorded all the same) is queued and delivered by the next reconcile run.
    (An SMTP failure is the outbox's to retry: tests/integration/test_outbox.py.)"""
    from invoicing_plugin.services import payment_confirmation

    def broken(uow, invoice):
        raise RuntimeError("the host's workspace lookup failed")

    monkeypatch.setattr(payment_confirmation, "_confirmation_email", broken)
    stripe_emulator.control.pay_session(invoice.session_id)
    run(app)
    assert invoice_state(app, invoice.id).status == "paid"
    assert not invoice_state(app, invoice.id).confirmation_sent
    assert [e.result for e in audit(app, invoice.id, "payment_confirmation_email")] == ["failed"]

    monkeypatch.undo()
    result = run(app)

    assert "Payment confirmations: 1 sent" in result.output
    assert invoice_state(app, invoice.id).confirmation_sent
    assert len(mailbox.wait_for(1)) == 1
    run(app)
    assert len(mailbox.wait_for(2, timeout=0.5)) == 1


@pytest.mark.postgresql_only
def test_two_concurrent_reconcile_runs_record_one_payment(app, world, account, stripe_emulator, mailbox):
    invoices = [sent_invoice(app, world.acme, account) for _ in range(4)]
    for inv in invoices:
        stripe_emulator.control.pay_session(inv.session_id)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run_once():
        try:
            with app.app_context():
                barrier.wait()
                report = reconcile()
                assert report.ok, report.errors
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    for inv in invoices:
        state = invoice_state(app, inv.id)
        assert (state.status, state.payments) == ("paid", 1)
    assert len(mailbox.wait_for(len(invoices))) == len(invoices)
    assert len(mailbox.wait_for(len(invoices) + 1, timeout=1)) == len(invoices)
