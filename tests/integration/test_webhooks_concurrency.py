"""Concurrent and chaotic deliveries through real HTTP: every payment recorded exactly once.

The app runs on a threaded live live_server; the same signed event is posted from several
threads at the same instant (PostgreSQL: row locks and the unique event id decide), and
the emulator's chaos mode delivers real payments with duplicates, concurrent twins and
delays (hence reordering).
"""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
import requests
from sqlalchemy import func, select

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import InvoiceEvent, WebhookEvent
from tests.conftest import WEBHOOK_SECRET
from tests.integration.webhook_helpers import (
    ENDPOINT,
    event_for,
    invoice_state,
    sent_invoice,
    sign,
    webhook_rows,
)


@pytest.mark.postgresql_only
def test_concurrent_duplicate_deliveries_make_exactly_one_payment(
    app, live_server, world, account, stripe_emulator, mailbox
):
    invoice = sent_invoice(app, world.acme, account)
    stripe_emulator.control.pay_session(invoice.session_id)
    payload = json.dumps(event_for(stripe_emulator, "checkout.session.completed", invoice.session_id))
    threads = 8
    barrier = threading.Barrier(threads)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def deliver():
        with requests.Session() as http:
            barrier.wait()
            response = http.post(live_server.url + ENDPOINT, data=payload,
                                 headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"},
                                 timeout=30)
            with lock:
                answers.append((response.status_code, response.json().get("status")))

    workers = [threading.Thread(target=deliver) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert [code for code, _ in answers] == [200] * threads
    assert Counter(status for _, status in answers) == {"processed": 1, "duplicate": threads - 1}
    state = invoice_state(app, invoice.id)
    assert (state.status, state.payments) == ("paid", 1)
    assert len(webhook_rows(app)) == 1
    assert len(mailbox.wait_for(1)) == 1
    assert len(mailbox.wait_for(2, timeout=1)) == 1


def test_chaos_delivery_records_one_payment_per_invoice(app, live_server, world, account, stripe_emulator, mailbox):
    """Duplicates, concurrent twins and delays from the emulator, end to end over HTTP."""
    control = stripe_emulator.control
    control.add_webhook_endpoint(live_server.url + ENDPOINT, secret=WEBHOOK_SECRET)
    control.set_chaos(True, seed=20261122, duplicate_rate=0.7, concurrent_rate=0.5, delay_rate=0.6, max_delay=0.6)
    invoices = [sent_invoice(app, world.acme, account, amount=10_000 + i * 1_000) for i in range(6)]

    for invoice in invoices[:4]:
        control.pay_session(invoice.session_id)
    for invoice in invoices[4:]:
        control.pay_session(invoice.session_id, "delayed")
    for invoice in invoices[4:]:
        control.settle_async(invoice.session_id, succeeded=True)
    assert control.wait_for_deliveries(timeout=60)

    deliveries = control.deliveries()
    assert any(d["copy"] == 2 for d in deliveries), "chaos should have duplicated some deliveries"
    assert any(d["concurrent"] for d in deliveries), "chaos should have sent some twins at once"
    # Every event was eventually answered 2xx (a 5xx would make Stripe retry).
    assert {d["event_id"] for d in deliveries} == {d["event_id"] for d in deliveries if d["ok"]}
    for invoice in invoices:
        state = invoice_state(app, invoice.id)
        assert (state.status, state.payments) == ("paid", 1), invoice
        assert state.amount_paid_minor == 10_000 + invoices.index(invoice) * 1_000
    with app.app_context():
        session = get_state().session
        paid_transitions = session.scalar(
            select(func.count()).select_from(InvoiceEvent).where(
                InvoiceEvent.to_status == "paid", InvoiceEvent.from_status != "paid"
            )
        )
        by_status = dict(session.execute(select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)).all())
        distinct_events = session.scalar(select(func.count(func.distinct(WebhookEvent.event_id))))
    assert paid_transitions == len(invoices)
    assert "failed" not in by_status
    assert distinct_events == sum(by_status.values())  # one row per event id
    assert len(mailbox.wait_for(len(invoices), timeout=10)) == len(invoices)
    assert len(mailbox.wait_for(len(invoices) + 1, timeout=1)) == len(invoices)
