"""Hosts hear about a change only after it is committed."""

from __future__ import annotations

import pytest

from invoicing_plugin import signals
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import InvoiceTemplate
from invoicing_plugin.services.uow import UnitOfWork


def _template(name: str) -> InvoiceTemplate:
    return InvoiceTemplate(workspace_id="1", name=name, currency="GBP")


def test_signals_are_sent_after_the_commit_with_the_app_as_sender(app):
    seen = []

    def listener(sender, **kwargs):
        # By the time the host hears it, the row is visible in a fresh transaction.
        with get_state().db.engine.connect() as conn:
            count = conn.exec_driver_sql("SELECT COUNT(*) FROM invoicing_templates").scalar()
        seen.append((sender, kwargs["workspace_id"], count))

    with app.app_context(), signals.stripe_connected.connected_to(listener):
        with UnitOfWork(get_state().session) as uow:
            uow.session.add(_template("Retainer"))
            uow.emit(signals.stripe_connected, workspace_id="1", account_id="acct_1", mode="connect")
            assert seen == []
            uow.commit()

    assert seen == [(app, "1", 1)]


def test_leaving_without_commit_rolls_back_and_drops_queued_signals(app):
    seen = []
    with app.app_context(), signals.invoice_voided.connected_to(lambda sender, **kw: seen.append(kw)):
        with pytest.raises(RuntimeError):
            with UnitOfWork(get_state().session) as uow:
                uow.session.add(_template("Never saved"))
                uow.emit(signals.invoice_voided, invoice=None, actor="test")
                raise RuntimeError("use case failed")
        assert get_state().session.query(InvoiceTemplate).count() == 0
    assert seen == []
