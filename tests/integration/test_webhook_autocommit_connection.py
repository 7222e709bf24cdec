"""The webhook's hot path runs on a Core connection beside the ORM session (issue 12).

On PostgreSQL a checkout-session event is read and written on an autocommit connection
of the session's engine (``persistence.autocommit``), not on the session's own: the
session begins no transaction and takes no connection for it, and the connection is
back in the pool before anything else (storing a failure) touches the database.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event as sa_event

from invoicing_plugin.extension import get_state
from invoicing_plugin.services import payment_recording
from tests.integration.webhook_helpers import audit, event_for, invoice_state, post_event, webhook_rows


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def no_confirmation_email(app, monkeypatch):
    """The confirmation email is claimed and sent after the event, in a transaction of its own."""
    monkeypatch.setitem(app.config, "INVOICING_PAYMENT_CONFIRMATION_EMAIL", False)


def _paid_event(emulator, invoice) -> dict:
    emulator.control.pay_session(invoice.session_id)
    return event_for(emulator, "checkout.session.completed", invoice.session_id)


class _Watch:
    """Session transactions begun on a connection, and connections checked out at once."""

    def __init__(self, app):
        with app.app_context():
            state = get_state()
            self.engine = state.db.engine
            self.session_class = state.session  # the scoped session (as appends.install listens)
        self.session_begins = 0
        self.out = 0
        self.most_out = 0

    def _after_begin(self, session, transaction, connection):
        self.session_begins += 1

    def _checkout(self, *args):
        self.out += 1
        self.most_out = max(self.most_out, self.out)

    def _checkin(self, *args):
        self.out -= 1

    def __enter__(self):
        sa_event.listen(self.session_class, "after_begin", self._after_begin)
        sa_event.listen(self.engine.pool, "checkout", self._checkout)
        sa_event.listen(self.engine.pool, "checkin", self._checkin)
        return self

    def __exit__(self, *exc):
        sa_event.remove(self.session_class, "after_begin", self._after_begin)
        sa_event.remove(self.engine.pool, "checkout", self._checkout)
        sa_event.remove(self.engine.pool, "checkin", self._checkin)


@pytest.mark.postgresql_only
def test_a_paid_event_uses_one_connection_and_no_session_transaction(
    app, client, invoice, stripe_emulator, no_confirmation_email
):
    event = _paid_event(stripe_emulator, invoice)
    with _Watch(app) as watch:
        response = post_event(client, event)

    assert response.get_json()["status"] == "processed"
    assert watch.session_begins == 0
    assert (watch.most_out, watch.out) == (1, 0)  # one connection, returned
    assert (invoice_state(app, invoice.id).status, len(audit(app, invoice.id, "payment_succeeded"))) == ("paid", 1)

    with _Watch(app) as watch:
        again = post_event(client, event)
    assert again.get_json()["status"] == "duplicate"
    assert (watch.session_begins, watch.most_out, watch.out) == (0, 1, 0)
    assert len(audit(app, invoice.id, "payment_succeeded")) == 1


@pytest.mark.postgresql_only
def test_a_failing_event_returns_its_connection_before_the_failure_is_stored(
    app, client, invoice, stripe_emulator, no_confirmation_email, monkeypatch
):
    event = _paid_event(stripe_emulator, invoice)

    def broken(*args, **kwargs):
        raise RuntimeError("handler broke")

    monkeypatch.setattr(payment_recording, "_apply", broken)
    with _Watch(app) as watch:
        response = post_event(client, event)

    assert response.status_code == 500
    assert (watch.most_out, watch.out) == (1, 0)  # never the autocommit connection and the session's at once
    assert [row.status for row in webhook_rows(app, event["id"])] == ["failed"]
    assert invoice_state(app, invoice.id).status == "sent"
    assert audit(app, invoice.id, "payment_succeeded") == []

    monkeypatch.undo()
    retried = post_event(client, event)  # Stripe's retry
    assert retried.get_json()["status"] == "processed"
    assert invoice_state(app, invoice.id).payments == 1
