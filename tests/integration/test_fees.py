"""Platform fees by plan: the rate, the rounding, the lock at send time, the breakdown staff see."""

from __future__ import annotations

import re

import pytest

from invoicing_plugin.domain.money import Money
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import Invoice
from invoicing_plugin.services.fees import fee_breakdown, plan_fee_bps


@pytest.mark.parametrize(
    ("plan", "bps"), [("starter", 400), ("pro", 350), ("team", 200)]
)
def test_each_plan_has_its_published_rate(app, plan, bps):
    with app.app_context():
        assert plan_fee_bps(plan) == bps


def test_plan_rates_come_from_config(app):
    app.config["INVOICING_PLAN_FEES_BPS"] = {"starter": 500, "pro": 350, "team": 125}
    with app.app_context():
        assert plan_fee_bps("team") == 125
        with pytest.raises(LookupError, match="INVOICING_PLAN_FEES_BPS"):
            plan_fee_bps("enterprise")


@pytest.mark.parametrize(
    ("amount_minor", "currency", "plan", "fee_minor"),
    [
        (125050, "GBP", "pro", 4377),  # 1,250.50 × 3.5 % = 43.7675 -> 43.77 (half up)
        (1000, "EUR", "starter", 40),  # 10.00 × 4 % = 0.40 exactly
        (1025, "USD", "team", 21),  # 10.25 × 2 % = 0.205 -> 0.21 (half up, not banker's 0.20)
        (1500, "JPY", "pro", 53),  # zero-decimal: ¥52.5 -> ¥53
        (1490, "JPY", "team", 30),  # ¥29.8 -> ¥30
        (150000, "ISK", "pro", 5300),  # ISK 1,500 -> fee ISK 52.5 -> whole krónur: 53 (sent ×100)
        (12340, "KWD", "pro", 430),  # 12.340 KWD -> 0.4319 -> three-decimal step 0.010: 0.430
        (50, "GBP", "starter", 2),  # 0.50 × 4 % = 0.02
    ],
)
def test_fee_is_rounded_half_up_to_the_currencys_step(app, amount_minor, currency, plan, fee_minor):
    draft = Invoice(status="draft", amount_minor=amount_minor, currency=currency)
    with app.app_context():
        breakdown = fee_breakdown(draft, plan=plan)
    assert breakdown.fee == Money(fee_minor, currency)
    assert breakdown.payout == Money(amount_minor - fee_minor, currency)
    assert not breakdown.locked and breakdown.applies


def test_fee_is_never_above_the_amount(app):
    app.config["INVOICING_PLAN_FEES_BPS"] = {"starter": 10_000, "pro": 350, "team": 200}
    draft = Invoice(status="draft", amount_minor=1, currency="JPY")
    with app.app_context():
        breakdown = fee_breakdown(draft, plan="starter")
    assert breakdown.fee == Money(1, "JPY") and breakdown.payout == Money(0, "JPY")


def test_breakdown_of_a_sent_invoice_uses_the_locked_fee_not_the_plan(app):
    sent = Invoice(status="sent", amount_minor=10000, currency="EUR", fee_bps=400, application_fee_minor=400,
                   stripe_mode="connect")
    with app.app_context():
        breakdown = fee_breakdown(sent, plan="team")
    assert (breakdown.rate_bps, breakdown.fee.minor, breakdown.payout.minor, breakdown.locked) == (400, 400, 9600, True)
    assert breakdown.rate_percent == "4%"


def test_own_key_invoices_show_no_platform_fee(app):
    sent = Invoice(status="sent", amount_minor=10000, currency="EUR", fee_bps=0, application_fee_minor=0,
                   stripe_mode="own_key")
    with app.app_context():
        breakdown = fee_breakdown(sent)
    assert not breakdown.applies and breakdown.payout == Money(10000, "EUR")


def _set_plan(app, workspace_id: str, plan: str) -> None:
    from host_demo.models import Workspace, db

    with app.app_context():
        db.session.get(Workspace, int(workspace_id)).plan = plan
        db.session.commit()


def _send_new_invoice(app, world, amount: str) -> Invoice:
    from invoicing_plugin import api

    with app.test_request_context():
        draft = api.create_draft(world.acme, "test", client_id=world.client_a, amount=amount, currency="GBP",
                                 description="Penetration test", send_method="stripe_link")
        sent = api.send(world.acme, "test", draft.id, method="stripe_link")
        return get_state().session.get(Invoice, sent.id)


def test_fee_is_locked_when_sent_and_a_plan_change_does_not_alter_it(app, world, connected_workspace,
                                                                     stripe_emulator):
    # acme is on Pro (3.5 %).
    first = _send_new_invoice(app, world, "1,250.50")
    assert (first.fee_bps, first.application_fee_minor) == (350, 4377)
    # What Stripe is asked to take: pay the session and read the PaymentIntent.
    paid = stripe_emulator.control.pay_session(first.checkout_session_id)["session"]
    intent = stripe_emulator.control.get_object(paid["payment_intent"])
    assert intent["application_fee_amount"] == 4377

    _set_plan(app, world.acme, "team")  # 2 %

    with app.app_context():
        reloaded = get_state().session.get(Invoice, first.id)
        assert (reloaded.fee_bps, reloaded.application_fee_minor) == (350, 4377)
    second = _send_new_invoice(app, world, "1,250.50")
    assert (second.fee_bps, second.application_fee_minor) == (200, 2501)  # 25.01 (25.010 exactly)


def test_invoice_page_shows_gross_fee_and_expected_payout(app, world, staff_client, make_invoice):
    invoice = make_invoice(workspace_id=world.acme, client_id=world.client_a, amount_minor=125050,
                           fee_bps=350, application_fee_minor=4377, stripe_mode="connect")

    html = staff_client.get(f"/invoicing/invoices/{invoice.id}").text

    fees = dict(re.findall(r'data-fee="(\w+)">([^<]+)<', html))
    assert fees["gross"] == "£1,250.50"
    assert fees["platform"].endswith("£43.77")
    assert fees["payout"] == "£1,206.73"
    assert "Platform fee (3.5%)" in html
    assert "Stripe&#39;s own processing fee is not included" in html or "Stripe's own processing fee is not included" in html


def test_draft_page_shows_the_fee_the_current_plan_would_take(app, world, staff_client, make_invoice):
    draft = make_invoice(workspace_id=world.acme, client_id=world.client_a, status="draft", amount_minor=10000)

    html = staff_client.get(f"/invoicing/invoices/{draft.id}").text

    assert "Platform fee (3.5%)" in html  # acme is on Pro
    assert "fixed when the invoice is sent" in html
