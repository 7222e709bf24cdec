"""The invoice state machine: every allowed, harmless and forbidden (status, action)."""

from itertools import product

import pytest

from invoicing_plugin.domain import (
    NOOPS,
    TRANSITIONS,
    Action,
    InvalidTransition,
    InvoiceStatus,
    allowed_actions,
    is_noop,
    transition,
)

S, A = InvoiceStatus, Action

EXPECTED_TRANSITIONS = {
    (S.DRAFT, A.SEND): S.SENT,
    (S.SENT, A.PAYMENT_STARTED): S.PROCESSING,
    (S.SENT, A.PAYMENT_SUCCEEDED): S.PAID,
    (S.SENT, A.MARK_PAID): S.PAID,
    (S.SENT, A.VOID): S.VOIDED,
    (S.PROCESSING, A.PAYMENT_SUCCEEDED): S.PAID,
    (S.PROCESSING, A.PAYMENT_FAILED): S.SENT,
    (S.VOIDED, A.PAYMENT_SUCCEEDED): S.PAID_AFTER_VOID,
    (S.PAID, A.REFUND_FULL): S.REFUNDED,
    (S.PAID_AFTER_VOID, A.REFUND_FULL): S.REFUNDED,
    # issue 13 fault 6: a full refund that failed puts the invoice back where it was.
    (S.REFUNDED, A.REFUND_FAILED): S.PAID,
    (S.REFUNDED, A.REFUND_FAILED_AFTER_VOID): S.PAID_AFTER_VOID,
    # issue 15: partial payments. A payment that leaves a balance is the "part" action.
    (S.SENT, A.PART_PAYMENT_SUCCEEDED): S.PARTIALLY_PAID,
    (S.SENT, A.MARK_PART_PAID): S.PARTIALLY_PAID,
    (S.PROCESSING, A.PART_PAYMENT_SUCCEEDED): S.PARTIALLY_PAID,
    (S.PROCESSING, A.PAYMENT_FAILED_PART): S.PARTIALLY_PAID,
    (S.PARTIALLY_PAID, A.PAYMENT_STARTED): S.PROCESSING,
    (S.PARTIALLY_PAID, A.PAYMENT_SUCCEEDED): S.PAID,
    (S.PARTIALLY_PAID, A.PART_PAYMENT_SUCCEEDED): S.PARTIALLY_PAID,
    (S.PARTIALLY_PAID, A.MARK_PAID): S.PAID,
    (S.PARTIALLY_PAID, A.MARK_PART_PAID): S.PARTIALLY_PAID,
    (S.PARTIALLY_PAID, A.REFUND_FULL): S.REFUNDED,
    (S.VOIDED, A.PART_PAYMENT_SUCCEEDED): S.PAID_AFTER_VOID,
    (S.REFUNDED, A.REFUND_FAILED_PART): S.PARTIALLY_PAID,
    # issue 15: a credit note for all that is due closes an unpaid invoice; money that still
    # arrives on an old session is real and is to be refunded, as after a void.
    (S.SENT, A.CREDIT_FULL): S.CREDITED,
    (S.CREDITED, A.PAYMENT_SUCCEEDED): S.PAID_AFTER_VOID,
    # issue 15, credit notes meet partial payments: a credit note for the whole balance of a
    # partly paid invoice settles it (paid: money for part, the rest credited).
    (S.PARTIALLY_PAID, A.CREDIT_FULL): S.PAID,
    (S.CREDITED, A.PART_PAYMENT_SUCCEEDED): S.PAID_AFTER_VOID,
}
FORBIDDEN = [pair for pair in product(InvoiceStatus, Action) if pair not in TRANSITIONS]


def pair_id(pair: tuple[InvoiceStatus, Action]) -> str:
    status, action = pair
    return f"{status.value}+{action.value}"


def enum_id(value: object) -> str | None:
    """Readable test ids: an enum's value; pytest's default for anything else."""
    return getattr(value, "value", None)


def test_transition_table_is_exactly_the_reviewed_one() -> None:
    assert dict(TRANSITIONS) == EXPECTED_TRANSITIONS


@pytest.mark.parametrize(
    ("pair", "target"),
    EXPECTED_TRANSITIONS.items(),
    ids=[pair_id(pair) for pair in EXPECTED_TRANSITIONS],
)
def test_allowed_transition(pair: tuple[InvoiceStatus, Action], target: InvoiceStatus) -> None:
    status, action = pair
    assert transition(status, action) is target
    assert action in allowed_actions(status)


@pytest.mark.parametrize("pair", FORBIDDEN, ids=[pair_id(pair) for pair in FORBIDDEN])
def test_forbidden_transition_is_refused_with_a_message(
    pair: tuple[InvoiceStatus, Action],
) -> None:
    status, action = pair
    table_before = dict(TRANSITIONS)
    with pytest.raises(InvalidTransition) as caught:
        transition(status, action)
    assert caught.value.message.strip()
    assert (caught.value.status, caught.value.action) == (status, action)
    assert action not in allowed_actions(status)
    assert dict(TRANSITIONS) == table_before


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        (S.PAID, A.VOID, "A paid invoice cannot be voided: refund it instead."),
        (S.DRAFT, A.VOID, "A draft invoice cannot be voided: delete it instead."),
        (S.PAID, A.SEND, "Only draft invoices can be sent. This invoice is paid."),
        (
            S.SENT,
            A.REFUND_FULL,
            "Only a paid invoice can be refunded. This invoice is awaiting payment.",
        ),
        (
            S.PROCESSING,
            A.VOID,
            "An invoice cannot be voided while a payment is processing: "
            "wait until it succeeds or fails.",
        ),
        (
            S.PARTIALLY_PAID,
            A.VOID,
            "A partly paid invoice cannot be voided: money was received on it. Refund the payments, "
            "or credit the balance, instead.",
        ),
        (
            S.PROCESSING,
            A.MARK_PAID,
            "An invoice cannot be marked as paid while a payment is processing: "
            "wait until it succeeds or fails.",
        ),
    ],
)
def test_refusals_tell_staff_why(status: InvoiceStatus, action: Action, message: str) -> None:
    with pytest.raises(InvalidTransition) as caught:
        transition(status, action)
    assert caught.value.message == message


EXPECTED_NOOPS = {
    (S.SENT, A.PAYMENT_FAILED),
    (S.PROCESSING, A.PAYMENT_STARTED),
    (S.PAID, A.PAYMENT_STARTED),
    (S.PAID, A.PAYMENT_SUCCEEDED),
    (S.PAID, A.PAYMENT_FAILED),
    (S.PAID_AFTER_VOID, A.PAYMENT_STARTED),
    (S.PAID_AFTER_VOID, A.PAYMENT_SUCCEEDED),
    (S.PAID_AFTER_VOID, A.PAYMENT_FAILED),
    (S.REFUNDED, A.PAYMENT_STARTED),
    (S.REFUNDED, A.PAYMENT_SUCCEEDED),
    (S.REFUNDED, A.PAYMENT_FAILED),
    (S.REFUNDED, A.REFUND_FULL),
    (S.VOIDED, A.PAYMENT_STARTED),
    (S.VOIDED, A.PAYMENT_FAILED),
    (S.VOIDED, A.VOID),
    (S.PARTIALLY_PAID, A.PAYMENT_FAILED),
    (S.PAID, A.PART_PAYMENT_SUCCEEDED),
    (S.PAID_AFTER_VOID, A.PART_PAYMENT_SUCCEEDED),
    (S.REFUNDED, A.PART_PAYMENT_SUCCEEDED),
    (S.CREDITED, A.PAYMENT_STARTED),
    (S.CREDITED, A.PAYMENT_FAILED),
}


def test_noop_set_is_exactly_the_reviewed_one() -> None:
    assert NOOPS == EXPECTED_NOOPS


def test_a_noop_is_never_also_a_transition() -> None:
    assert NOOPS.isdisjoint(TRANSITIONS)


NOOP_PAIRS = sorted(EXPECTED_NOOPS)


@pytest.mark.parametrize("pair", NOOP_PAIRS, ids=[pair_id(pair) for pair in NOOP_PAIRS])
def test_noop_is_harmless_but_still_strictly_refused(pair: tuple[InvoiceStatus, Action]) -> None:
    status, action = pair
    assert is_noop(status, action)
    with pytest.raises(InvalidTransition):
        transition(status, action)


@pytest.mark.parametrize(
    ("status", "action"),
    [(S.PAID, A.VOID), (S.PAID, A.MARK_PAID), (S.SENT, A.SEND), (S.DRAFT, A.PAYMENT_SUCCEEDED)],
    ids=enum_id,
)
def test_staff_mistakes_are_not_silently_ignored(status: InvoiceStatus, action: Action) -> None:
    assert not is_noop(status, action)


def test_webhook_replay_in_any_order_ends_paid() -> None:
    """Events for one async payment, redelivered and reordered, settle on PAID."""
    events = [A.PAYMENT_STARTED, A.PAYMENT_SUCCEEDED, A.PAYMENT_STARTED, A.PAYMENT_SUCCEEDED]
    status = S.SENT
    for action in events:
        status = status if is_noop(status, action) else transition(status, action)
    assert status is S.PAID


def test_plain_strings_from_the_database_are_accepted() -> None:
    assert transition("sent", "void") is S.VOIDED  # type: ignore[arg-type]
    assert is_noop("paid", "payment_succeeded")  # type: ignore[arg-type]


def test_unknown_status_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        transition("archived", A.SEND)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        (S.DRAFT, {A.SEND}),
        (S.SENT, {A.PAYMENT_STARTED, A.PAYMENT_SUCCEEDED, A.MARK_PAID, A.VOID, A.PART_PAYMENT_SUCCEEDED,
                  A.MARK_PART_PAID, A.CREDIT_FULL}),
        (S.PROCESSING, {A.PAYMENT_SUCCEEDED, A.PAYMENT_FAILED, A.PART_PAYMENT_SUCCEEDED, A.PAYMENT_FAILED_PART}),
        (S.PAID, {A.REFUND_FULL}),
        (S.VOIDED, {A.PAYMENT_SUCCEEDED, A.PART_PAYMENT_SUCCEEDED}),
        (S.PAID_AFTER_VOID, {A.REFUND_FULL}),
        (S.REFUNDED, {A.REFUND_FAILED, A.REFUND_FAILED_AFTER_VOID, A.REFUND_FAILED_PART}),
        # issue 15: no VOID (money was received on it: refund or credit instead).
        (S.PARTIALLY_PAID, {A.PAYMENT_STARTED, A.PAYMENT_SUCCEEDED, A.PART_PAYMENT_SUCCEEDED, A.MARK_PAID,
                            A.MARK_PART_PAID, A.REFUND_FULL, A.CREDIT_FULL}),
        (S.CREDITED, {A.PAYMENT_SUCCEEDED, A.PART_PAYMENT_SUCCEEDED}),
    ],
    ids=enum_id,
)
def test_allowed_actions_per_status(status: InvoiceStatus, actions: set[Action]) -> None:
    assert allowed_actions(status) == actions


def test_status_and_action_values_are_stable_for_the_database() -> None:
    assert [status.value for status in InvoiceStatus] == [
        "draft", "sent", "processing", "paid", "voided", "paid_after_void", "refunded", "partially_paid", "credited"
    ]
    assert [action.value for action in Action] == [
        "send", "payment_started", "payment_succeeded", "payment_failed",
        "mark_paid", "void", "refund_full", "refund_failed", "refund_failed_after_void",
        "part_payment_succeeded", "mark_part_paid", "payment_failed_part", "refund_failed_part", "credit_full",
    ]  # fmt: skip


def test_two_part_payments_settle_on_paid() -> None:
    """issue 15: a payment that leaves a balance keeps the invoice partially paid; the last one pays it."""
    from invoicing_plugin.domain import payment_action

    status = S.SENT
    for action, due_after in ((A.PAYMENT_SUCCEEDED, 6_000), (A.MARK_PAID, 1_000), (A.PAYMENT_SUCCEEDED, 0)):
        status = transition(status, payment_action(action, due_after))
    assert status is S.PAID


@pytest.mark.parametrize(("action", "due_after", "expected"), [
    (A.PAYMENT_SUCCEEDED, 1, A.PART_PAYMENT_SUCCEEDED),
    (A.PAYMENT_SUCCEEDED, 0, A.PAYMENT_SUCCEEDED),
    (A.PAYMENT_SUCCEEDED, -500, A.PAYMENT_SUCCEEDED),  # an overpayment settles it too
    (A.MARK_PAID, 1, A.MARK_PART_PAID),
    (A.MARK_PAID, 0, A.MARK_PAID),
], ids=str)
def test_payment_action_follows_the_balance_after_the_payment(action, due_after, expected) -> None:
    from invoicing_plugin.domain import payment_action

    assert payment_action(action, due_after) is expected


def test_payment_action_refuses_what_is_not_a_payment_or_not_minor_units() -> None:
    from invoicing_plugin.domain import payment_action

    with pytest.raises(ValueError):
        payment_action(A.VOID, 0)
    with pytest.raises(TypeError):
        payment_action(A.MARK_PAID, 1.5)  # type: ignore[arg-type]


def test_a_failed_delayed_payment_on_a_partly_paid_invoice_goes_back_to_partially_paid() -> None:
    status = transition(S.PARTIALLY_PAID, A.PAYMENT_STARTED)
    assert status is S.PROCESSING
    assert transition(status, A.PAYMENT_FAILED_PART) is S.PARTIALLY_PAID
