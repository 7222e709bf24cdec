"""A workspace whose plan has no rate in ``INVOICING_PLAN_FEES_BPS``.

The rule: never a silent 0 % fee. Sending for online payment where a platform fee
applies (Stripe Connect) is refused with a message naming the plan and the setting,
and nothing changes; a manual send, and an own-key workspace (no platform fee), still
work; every page renders and the fee panel says what is missing.

acme is on the Pro plan; the tests configure fees for the other plans only (the
operator removed or renamed a plan in the setting).
"""

from __future__ import annotations

import pytest

from invoicing_plugin import api
from invoicing_plugin.services.errors import InvoicingError
from invoicing_plugin.services.fees import fee_breakdown
from tests.integration._invoice_helpers import ACTOR, draft, load

FEES_WITHOUT_PRO = {"starter": 400, "team": 200}


@pytest.fixture
def pro_not_configured(app):
    app.config["INVOICING_PLAN_FEES_BPS"] = dict(FEES_WITHOUT_PRO)


def _checkout_requests(stripe_emulator):
    return [r for r in stripe_emulator.control.requests() if r["path"].startswith("/v1/checkout/sessions")]


@pytest.mark.parametrize("method", ["stripe_link", "email"])
def test_sending_online_is_refused_naming_the_plan_and_the_setting(
    app, world, connected_workspace, pro_not_configured, stripe_emulator, mailbox, method
):
    invoice = draft(app, world, send_method=method)
    with app.test_request_context(), pytest.raises(InvoicingError) as refused:
        api.send(world.acme, ACTOR, invoice.id, method=method)
    assert "'pro'" in refused.value.message and "INVOICING_PLAN_FEES_BPS" in refused.value.message

    stored = load(app, invoice.id)
    assert (stored.status, stored.number, stored.fee_bps, stored.application_fee_minor) == ("draft", None, None, None)
    assert (stored.stripe_mode, stored.checkout_session_id) == (None, None)
    assert _checkout_requests(stripe_emulator) == []  # Stripe was not asked
    assert mailbox.wait_for(1, timeout=0.3) == []

    with app.test_request_context():  # a manual send needs no fee
        sent = api.send(world.acme, ACTOR, invoice.id, method="manual")
    assert (sent.status, sent.number, sent.fee_bps) == ("sent", "INV-0001", None)


def test_pages_render_and_say_what_is_missing(app, world, staff_client, connected_workspace, pro_not_configured,
                                             stripe_emulator):
    invoice = draft(app, world, send_method="stripe_link")

    page = staff_client.get(f"/invoicing/invoices/{invoice.id}")
    assert page.status_code == 200
    assert "'pro'" in page.text or "&#39;pro&#39;" in page.text
    assert "INVOICING_PLAN_FEES_BPS" in page.text and 'data-notice="fee-unknown"' in page.text
    assert 'data-fee="platform">Not configured<' in page.text
    assert staff_client.get("/invoicing/invoices").status_code == 200
    assert staff_client.get("/invoicing/invoices?status=draft").status_code == 200

    page = staff_client.post(f"/invoicing/invoices/{invoice.id}/send", data={"method": "stripe_link"},
                             follow_redirects=True)
    assert page.status_code == 200 and "INVOICING_PLAN_FEES_BPS" in page.text
    assert load(app, invoice.id).status == "draft" and _checkout_requests(stripe_emulator) == []


def test_an_own_key_workspace_sends_online_with_no_fee_whatever_its_plan(app, world, pro_not_configured,
                                                                         stripe_emulator):
    from invoicing_plugin.services import connections

    key = "sk_test_unknownplan0000000001"
    with app.test_request_context():
        connections.connect_own_key(world.acme, actor="test", secret_key=key,
                                    webhook_url="http://localhost/invoicing/webhooks/stripe")
    invoice = draft(app, world, send_method="stripe_link")
    with app.test_request_context():
        sent = api.send(world.acme, ACTOR, invoice.id, method="stripe_link")
    assert (sent.status, sent.fee_bps, sent.application_fee_minor) == ("sent", 0, 0)


def test_the_fee_breakdown_of_a_draft_reports_the_missing_rate_instead_of_raising(app, pro_not_configured):
    from invoicing_plugin.persistence.models import Invoice

    with app.app_context():
        breakdown = fee_breakdown(Invoice(status="draft", amount_minor=10000, currency="GBP"), plan="pro")
    assert not breakdown.applies and breakdown.fee.minor == 0 and breakdown.payout.minor == 10000
    assert "INVOICING_PLAN_FEES_BPS" in breakdown.problem and "'pro'" in breakdown.problem
