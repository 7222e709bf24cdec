"""issue 15: an invoice's balance -- paid amount (BT-113) and amount due (BT-115) -- in minor units."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from invoicing_plugin.domain import balance
from invoicing_plugin.domain.balance import of_invoice


@pytest.mark.parametrize(("kwargs", "paid", "due", "overpaid"), [
    # Nothing received: the whole total is due.
    (dict(total_minor=10_000), 0, 10_000, 0),
    # Paid in two parts: 4,000 then 6,000.
    (dict(total_minor=10_000, received_minor=4_000), 4_000, 6_000, 0),
    (dict(total_minor=10_000, received_minor=10_000), 10_000, 0, 0),
    # A refund gives money back: no longer paid.
    (dict(total_minor=10_000, received_minor=10_000, refunded_minor=2_500), 7_500, 2_500, 0),
    # A dispute the seller lost: the bank took it back, not paid either.
    (dict(total_minor=10_000, received_minor=10_000, dispute_lost_minor=10_000), 0, 10_000, 0),
    # A credit note reduces what is owed without any money moving.
    (dict(total_minor=10_000, received_minor=4_000, credited_minor=6_000), 4_000, 0, 0),
    # Overpayment: kept as the client's credit, shown.
    (dict(total_minor=10_000, received_minor=12_000), 12_000, -2_000, 2_000),
    (dict(total_minor=10_000, received_minor=4_000, credited_minor=7_000), 4_000, -1_000, 1_000),
], ids=["unpaid", "part", "paid", "refund", "dispute_lost", "credited", "overpaid", "over_credited"])
def test_balance_hand_worked(kwargs, paid, due, overpaid):
    b = balance(**kwargs)
    assert (b.paid_minor, b.due_minor, b.overpaid_minor) == (paid, due, overpaid)
    assert b.balance_due_minor == max(0, due)


@pytest.mark.parametrize("bad", [1.5, "100", None, True])
def test_amounts_are_integer_minor_units(bad):
    with pytest.raises(TypeError):
        balance(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        balance(100, bad)  # type: ignore[arg-type]


def test_negative_amounts_and_refunds_beyond_what_was_received_are_refused():
    with pytest.raises(ValueError):
        balance(100, -1)
    with pytest.raises(ValueError):
        balance(100, 50, refunded_minor=40, dispute_lost_minor=20)


def test_of_invoice_reads_the_cached_columns_and_caps_early_refunds():
    invoice = SimpleNamespace(amount_minor=10_000, amount_paid_minor=None, amount_refunded_minor=3_000,
                              amount_dispute_lost_minor=0)
    # A refund recorded before its payment (events out of order) cannot make "paid" negative.
    assert of_invoice(invoice).paid_minor == 0 and of_invoice(invoice).due_minor == 10_000
    invoice.amount_paid_minor = 10_000
    assert of_invoice(invoice, credited_minor=1_000).due_minor == 2_000


def test_of_invoice_takes_the_invoices_own_credit_notes_unless_told_otherwise():
    """issue 15, credit notes merged with partial payments: every caller of ``of_invoice`` sees
    ``amount_credited_minor`` without passing it (checkout, payment check, mark_paid, snapshot...)."""
    invoice = SimpleNamespace(amount_minor=10_000, amount_paid_minor=2_500, amount_refunded_minor=0,
                              amount_dispute_lost_minor=0, amount_credited_minor=4_000)
    assert (of_invoice(invoice).credited_minor, of_invoice(invoice).due_minor) == (4_000, 3_500)
    assert of_invoice(invoice, credited_minor=1_000).due_minor == 6_500  # "what if" stays possible
    invoice.amount_credited_minor = None  # a row read before the column had its default
    assert of_invoice(invoice).due_minor == 7_500
    # A client's credit kept on a paid invoice is a negative due: shown as the client's credit.
    paid = SimpleNamespace(amount_minor=10_000, amount_paid_minor=10_000, amount_refunded_minor=0,
                           amount_dispute_lost_minor=0, amount_credited_minor=3_000)
    assert (of_invoice(paid).due_minor, of_invoice(paid).overpaid_minor) == (-3_000, 3_000)
def test_deposits_deducted_reduce_the_amount_due_but_not_what_was_paid_on_the_invoice():
    b = balance(150_000, 40_000, prepaid_minor=50_000)
    assert (b.prepaid_minor, b.paid_minor, b.due_minor) == (50_000, 40_000, 60_000)
    assert balance(150_000, 110_000, prepaid_minor=50_000).overpaid_minor == 10_000


def test_prepaid_is_whole_non_negative_minor_units():
    with pytest.raises(TypeError):
        balance(10_000, prepaid_minor=1.5)
    with pytest.raises(ValueError):
        balance(10_000, prepaid_minor=-1)


def test_of_invoice_reads_the_invoices_prepaid_amount():
    row = SimpleNamespace(amount_minor=100_000, amount_paid_minor=None, amount_refunded_minor=0, prepaid_minor=30_000)
    assert of_invoice(row).due_minor == 70_000
    del row.prepaid_minor  # a row read without the column (older callers): nothing deducted
    assert of_invoice(row).due_minor == 100_000
