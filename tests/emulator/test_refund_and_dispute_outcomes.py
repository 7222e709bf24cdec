"""Refunds of destination charges, failed refunds and dispute outcomes, as Stripe documents them.

* Refunds: https://docs.stripe.com/api/refunds/create, and for destination charges
  https://docs.stripe.com/connect/destination-charges#issuing-refunds (``reverse_transfer``,
  ``refund_application_fee``: proportional to the amount refunded).
* Failed refunds: https://docs.stripe.com/refunds#failed-refunds and the Refund object's
  ``status`` / ``failure_reason`` (https://docs.stripe.com/api/refunds/object).
* Disputes: https://docs.stripe.com/disputes/how-disputes-work, the Dispute object's
  ``status`` (https://docs.stripe.com/api/disputes/object) and the event types
  (https://docs.stripe.com/api/events/types).
"""

from __future__ import annotations

import pytest
import stripe

from invoicing_plugin.testing.stripe_emulator.client import EmulatorControlError

from tests.emulator.helpers import express_account, session_params


def _destination_charge(client, control, amount=10_000, fee=1_000):
    seller = express_account(client, control)
    session = client.v1.checkout.sessions.create(session_params(amount=amount, payment_intent_data={
        "application_fee_amount": fee, "transfer_data": {"destination": seller.id}}))
    control.pay_session(session.id)
    intent = client.v1.payment_intents.retrieve(client.v1.checkout.sessions.retrieve(session.id).payment_intent)
    return client.v1.charges.retrieve(intent.latest_charge)


def _plain_charge(client, control, amount=10_000):
    session = client.v1.checkout.sessions.create(session_params(amount=amount))
    control.pay_session(session.id)
    intent = client.v1.payment_intents.retrieve(client.v1.checkout.sessions.retrieve(session.id).payment_intent)
    return client.v1.charges.retrieve(intent.latest_charge)


def test_a_destination_charge_refund_reverses_the_transfer_and_the_fee_in_proportion(client, stripe_emulator):
    charge = _destination_charge(client, stripe_emulator.control)
    refund = client.v1.refunds.create({
        "charge": charge.id, "amount": 2_500, "reverse_transfer": True, "refund_application_fee": True,
        "reason": "requested_by_customer", "metadata": {"note": "wrong scope"}})
    assert (refund.amount, refund.reason, refund.metadata.to_dict()) == (2_500, "requested_by_customer",
                                                                          {"note": "wrong scope"})
    reversal = stripe_emulator.control.get_object(refund.transfer_reversal)
    # A quarter of the charge: a quarter of the 9,000 transferred comes back.
    assert (reversal["object"], reversal["amount"], reversal["transfer"]) == ("transfer_reversal", 2_250,
                                                                             charge.transfer)
    fee = client.v1.application_fees.retrieve(charge.application_fee)
    assert (fee.amount, fee.amount_refunded, fee.refunded) == (1_000, 250, False)
    rest = client.v1.refunds.create({"charge": charge.id, "reverse_transfer": True, "refund_application_fee": True})
    assert rest.amount == 7_500
    assert stripe_emulator.control.get_object(rest.transfer_reversal)["amount"] == 6_750
    fee = client.v1.application_fees.retrieve(charge.application_fee)
    assert (fee.amount_refunded, fee.refunded) == (1_000, True)


def test_without_the_connect_flags_the_connected_account_keeps_the_money(client, stripe_emulator):
    charge = _destination_charge(client, stripe_emulator.control)
    refund = client.v1.refunds.create({"charge": charge.id, "amount": 2_500})
    assert refund.transfer_reversal is None
    with pytest.raises(stripe.InvalidRequestError):  # never refunded: no fee refund was made
        client.v1.application_fees.retrieve(charge.application_fee)


def test_the_connect_flags_on_a_charge_without_transfer_or_fee_are_refused(client, stripe_emulator):
    charge = _plain_charge(client, stripe_emulator.control)
    for flag in ("reverse_transfer", "refund_application_fee"):
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.refunds.create({"charge": charge.id, "amount": 100, flag: True})
        assert info.value.param == flag
    assert client.v1.charges.retrieve(charge.id).amount_refunded == 0


def test_a_refund_reason_outside_stripes_enum_is_refused(client, stripe_emulator):
    charge = _plain_charge(client, stripe_emulator.control)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create({"charge": charge.id, "reason": "changed_mind"})
    assert info.value.param == "reason"


def test_a_failed_refund_returns_the_amount_to_the_charge_and_says_why(client, stripe_emulator):
    charge = _plain_charge(client, stripe_emulator.control)
    refund = client.v1.refunds.create({"charge": charge.id, "amount": 4_000})
    failed = stripe_emulator.control.trigger("refund.failed", refund=refund.id, failure_reason="lost_or_stolen_card")
    assert (failed["status"], failed["failure_reason"]) == ("failed", "lost_or_stolen_card")
    assert failed["failure_balance_transaction"].startswith("txn_")
    refund = client.v1.refunds.retrieve(refund.id)
    assert refund.status == "failed"
    charge = client.v1.charges.retrieve(charge.id)
    assert (charge.amount_refunded, charge.refunded) == (0, False)
    types = [e.type for e in client.v1.events.list({"limit": 3}).data]
    assert types == ["refund.failed", "refund.updated", "charge.refund.updated"]
    (event,) = client.v1.events.list({"type": "charge.refund.updated"}).data
    assert event.data.object.id == refund.id and event.data.previous_attributes.status == "succeeded"
    with pytest.raises(EmulatorControlError):  # only once
        stripe_emulator.control.trigger("refund.failed", refund=refund.id)


@pytest.mark.parametrize("status", ["won", "lost"])
def test_a_dispute_closes_won_or_lost_with_stripes_events(client, stripe_emulator, status):
    charge = _plain_charge(client, stripe_emulator.control)
    dispute = stripe_emulator.control.trigger("charge.dispute.created", charge=charge.id)
    assert dispute["status"] == "needs_response"
    (withdrawal,) = dispute["balance_transactions"]
    assert withdrawal["amount"] == -10_000
    closed = stripe_emulator.control.trigger("charge.dispute.closed", dispute=dispute["id"], status=status)
    assert closed["status"] == status
    assert client.v1.disputes.retrieve(dispute["id"]).status == status
    types = [e.type for e in reversed(client.v1.events.list({"type": "charge.dispute.*"}).data)]
    expected = ["charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed"]
    if status == "won":
        expected.append("charge.dispute.funds_reinstated")
        assert [t["amount"] for t in closed["balance_transactions"]] == [-10_000, 10_000]
    assert types == expected
    with pytest.raises(EmulatorControlError):
        stripe_emulator.control.trigger("charge.dispute.closed", dispute=dispute["id"], status="won")


def test_a_charged_back_charge_cannot_be_refunded(client, stripe_emulator):
    """https://docs.stripe.com/error-codes#charge-disputed"""
    charge = _plain_charge(client, stripe_emulator.control)
    stripe_emulator.control.trigger("charge.dispute.created", charge=charge.id)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create({"charge": charge.id})
    assert info.value.code == "charge_disputed"


def test_a_charge_lists_its_refunds_only_when_expanded(client, stripe_emulator):
    """From API version 2022-11-15 on, "The Charges object no longer auto-expands refunds"
    (https://docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand): neither
    the retrieved charge nor the ``charge.refunded`` event's snapshot carries ``refunds``;
    ``expand[]=refunds`` does."""
    charge = _plain_charge(client, stripe_emulator.control)
    refund = client.v1.refunds.create({"charge": charge.id, "amount": 1_000})
    assert "refunds" not in client.v1.charges.retrieve(charge.id).to_dict()
    expanded = client.v1.charges.retrieve(charge.id, {"expand": ["refunds"]})
    assert [(r.id, r.amount, r.status) for r in expanded.refunds.data] == [(refund.id, 1_000, "succeeded")]
    (event,) = [e for e in client.v1.events.list({"type": "charge.refunded"}).data
                if e.data.object.id == charge.id]
    assert event.data.object.amount_refunded == 1_000 and "refunds" not in event.data.object.to_dict()
