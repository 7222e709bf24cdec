"""docs/webhooks.md's set-up, followed as written, against the emulator with two endpoints.

The test reads the emulator command and the two settings from the docs' "With the
bundled emulator" block, starts the emulator from that command line (only the host and
port of the URLs are this test's), configures the plugin with the documented settings
and runs a Connect onboarding, a payment and a deauthorization: every event must be
delivered on its endpoint (account or Connect, https://docs.stripe.com/connect/webhooks)
and processed, and nothing refused.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import StripeConnection, WebhookRefusal
from invoicing_plugin.services import connections
from invoicing_plugin.testing.stripe_emulator import EmulatorControl
from tests.integration.webhook_helpers import invoice_state, sent_invoice, webhook_rows

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
SECTION = DOCS[DOCS.index("### With the bundled emulator"):DOCS.index("### The events")]
COMMAND = shlex.split(re.search(r"```sh\n(.*?)```", SECTION, re.S).group(1).replace("\\\n", " "))
SETTINGS = dict(re.findall(r"`(INVOICING_STRIPE_[A-Z_]+)=([^`]+)`", SECTION))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def emulator_port() -> int:
    return _free_port()


@pytest.fixture
def app_config(app_config, emulator_port):
    """The documented settings (API base on this test's port)."""
    documented = dict(SETTINGS)
    documented["INVOICING_STRIPE_API_BASE"] = f"http://127.0.0.1:{emulator_port}"
    return {**app_config, **documented}


def test_the_docs_name_both_endpoints_and_both_settings():
    assert set(SETTINGS) == {"INVOICING_STRIPE_API_BASE", "INVOICING_STRIPE_WEBHOOK_SECRET",
                             "INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET"}
    assert SETTINGS["INVOICING_STRIPE_WEBHOOK_SECRET"] != SETTINGS["INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET"]
    assert "--webhook-url" in COMMAND and "--connect-webhook-url" in COMMAND


def test_the_documented_emulator_set_up_delivers_and_processes_both_kinds(app, world, live_server, emulator_port):
    command = [sys.executable if part == "python" else part for part in COMMAND]
    command[command.index("--port") + 1] = str(emulator_port)
    command = [re.sub(r"^http://127\.0\.0\.1:5000", live_server.url, part) for part in command]
    assert command[:3] == [sys.executable, "-m", "invoicing_plugin.testing.stripe_emulator"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("Stripe emulator listening on")
        control = EmulatorControl(f"http://127.0.0.1:{emulator_port}")

        with app.test_request_context():
            connections.start_onboarding(world.acme, actor="test", refresh_url="http://localhost/refresh",
                                         return_url="http://localhost/return")
            account_id = connections.get_connection(world.acme).account_id
        control.complete_onboarding(account_id)
        assert control.wait_for_deliveries(timeout=30)
        with app.app_context():
            status = get_state().session.scalar(
                select(StripeConnection.status).where(StripeConnection.workspace_id == world.acme))
            get_state().session.rollback()
        assert status == "active"  # account.updated arrived on the Connect endpoint

        invoice = sent_invoice(app, world.acme, account_id)
        control.pay_session(invoice.session_id)
        control.deauthorize(account_id)
        assert control.wait_for_deliveries(timeout=30)
        deliveries = control.deliveries()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()

    assert deliveries and {d["status"] for d in deliveries} == {200}, deliveries
    assert invoice_state(app, invoice.id).status == "paid"
    statuses = {row.type: row.status for row in webhook_rows(app)}
    assert statuses["account.updated"] == "processed"
    assert statuses["checkout.session.completed"] == "processed"
    assert statuses["account.application.deauthorized"] == "processed"
    with app.app_context():
        assert get_state().session.scalars(select(WebhookRefusal)).all() == []
