"""EN 16931 invoice arithmetic (issue 15): hand-worked examples in the standard's style.

Each example lays out the business terms as the standard's worked examples do, computed
by hand in the comments; the code must reproduce every figure. Amounts are minor units.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoicing_plugin.domain import AmountError, DomainError
from invoicing_plugin.domain.en16931 import (
    MAX_QUANTITY,
    NOT_SUBJECT_TO_VAT,
    DocumentAllowance,
    InvoiceLine,
    LineAllowance,
    Prepayment,
    VatCategory,
    VatRate,
    compute,
    line_net_amount,
    missing_for_vat,
    parse_quantity,
    parse_rate,
    parse_unit_price,
    percent_allowances,
    single_line,
)

D = Decimal
S20 = VatRate(VatCategory.STANDARD, D("20"))
S5 = VatRate(VatCategory.STANDARD, D("5"))
REVERSE = VatRate(VatCategory.REVERSE_CHARGE, D("0"), "Reverse charge")


def line(qty: str, price: str, vat: VatRate = S20, allowance: int | None = None, description: str = "Item"):
    return InvoiceLine(description, D(qty), D(price), vat, "", LineAllowance(allowance) if allowance else None)


# --- Hand-worked examples --------------------------------------------------------------


def test_gbp_invoice_with_two_rates_and_a_document_discount() -> None:
    """UK seller, 20 % and 5 %, a 10 % document discount split per rate, part paid.

    BG-25  BT-129  BT-146   BT-136   BT-131
    L1      7.5    120.00      -     900.00   S 20   (7.5 × 120.00)
    L2      2      450.00    50.00   850.00   S 20   (900.00 − 50.00)
    L3      3       39.99      -     119.97   S  5
    BT-106 = 1869.97
    BG-20: 10 % of 1750.00 = 175.00 (S 20); 10 % of 119.97 = 11.997 → 12.00 (S 5)
    BT-107 = 187.00, BT-109 = 1682.97
    BG-23: S 20: BT-116 1575.00, BT-117 315.00; S 5: BT-116 107.97, BT-117 5.3985 → 5.40
    BT-110 = 320.40, BT-112 = 2003.37, BT-113 = 1000.00, BT-115 = 1003.37
    """
    lines = [
        InvoiceLine("Consulting", D("7.5"), D("120.00"), S20, "hour"),
        InvoiceLine("Training", D("2"), D("450.00"), S20, "day", LineAllowance(5000, "Early booking")),
        InvoiceLine("Child car seat", D("3"), D("39.99"), S5),
    ]
    allowances = percent_allowances("GBP", lines, D("10"), "Loyalty discount")
    assert [(a.amount_minor, a.vat) for a in allowances] == [(17500, S20), (1200, S5)]

    calc = compute("GBP", lines, allowances, payments_minor=[100000])

    assert calc.line_net_minor == (90000, 85000, 11997)
    assert [(b.category, b.rate, b.taxable_amount_minor, b.tax_amount_minor) for b in calc.breakdown] == [
        (VatCategory.STANDARD, D("20"), 157500, 31500),
        (VatCategory.STANDARD, D("5"), 10797, 540),
    ]
    t = calc.totals
    assert (t.sum_of_line_net_minor, t.allowances_minor, t.total_without_vat_minor) == (186997, 18700, 168297)
    assert (t.total_vat_minor, t.total_with_vat_minor) == (32040, 200337)
    assert (t.paid_minor, t.amount_due_minor, t.credit_minor) == (100000, 100337, 0)
    assert missing_for_vat(lines, allowances, seller_vat_id="GB123456789", buyer_vat_id=None) == []


def test_eur_reverse_charge_b2b_invoice() -> None:
    """German seller to a French business: AE, rate 0, no VAT, the note "Reverse charge".

    L1 12 × 85.50 = 1026.00 AE; L2 1 × 1500.00 = 1500.00 AE
    BT-106 = BT-109 = BT-116 = 2526.00; BT-117 = BT-110 = 0; BT-112 = BT-115 = 2526.00
    """
    lines = [line("12", "85.50", REVERSE), line("1", "1500.00", REVERSE)]
    calc = compute("EUR", lines)
    assert calc.line_net_minor == (102600, 150000)
    (group,) = calc.breakdown
    assert (group.category, group.rate, group.taxable_amount_minor, group.tax_amount_minor) == (
        VatCategory.REVERSE_CHARGE, D("0"), 252600, 0)
    assert group.exemption_reason == "Reverse charge"
    assert (calc.totals.total_vat_minor, calc.totals.total_with_vat_minor, calc.totals.amount_due_minor) == (
        0, 252600, 252600)
    assert missing_for_vat(lines, seller_vat_id="DE123456789", buyer_vat_id="FR40303265045") == []


def test_reverse_charge_lists_everything_missing_at_once() -> None:
    """BR-AE-02 (seller's and buyer's VAT ids) and BR-AE-10 (the note) reported together."""
    bare = VatRate(VatCategory.REVERSE_CHARGE, D("0"))
    missing = missing_for_vat([line("1", "100", bare)], seller_vat_id="", buyer_vat_id=None)
    assert [(m.rule, m.term) for m in missing] == [("BR-AE-02", "BT-31"), ("BR-AE-02", "BT-48"), ("BR-AE-10", "BT-120")]
    assert all(m.message for m in missing)


def test_category_rules_for_exempt_zero_and_not_subject() -> None:
    exempt = VatRate(VatCategory.EXEMPT, D("0"))
    zero_with_reason = VatRate(VatCategory.ZERO, D("0"), "Exempt")
    not_subject = VatRate(VatCategory.NOT_SUBJECT, D("0"))
    missing = missing_for_vat(
        [line("1", "1", exempt), line("1", "1", zero_with_reason), line("1", "1", not_subject)],
        seller_vat_id="GB1", buyer_vat_id=None,
    )
    assert [m.rule for m in missing] == ["BR-E-10", "BR-Z-10", "BR-O-10"]
    # Only O needs no seller VAT id; two different reasons in one group are one BG-23 too many.
    assert missing_for_vat([line("1", "1", NOT_SUBJECT_TO_VAT)], seller_vat_id=None, buyer_vat_id=None) == []
    two = [line("1", "1", VatRate("E", D("0"), "Art. 132(1)(i)")), line("1", "1", VatRate("E", D("0"), "Art. 135"))]
    assert [m.rule for m in missing_for_vat(two, seller_vat_id="X", buyer_vat_id=None)] == ["BG-23"]


def test_jpy_invoice_has_no_decimals() -> None:
    """JPY, 10 % and 8 % (Japan's reduced rate).

    L1 3 × 1980 = 5940 (10 %); L2 0.5 × 3333 = 1666.5 → 1667 (8 %)
    VAT 10 %: 594; 8 %: 133.36 → 133; BT-110 = 727; BT-112 = 8334
    """
    lines = [line("3", "1980", VatRate("S", D("10"))), line("0.5", "3333", VatRate("S", D("8")))]
    calc = compute("JPY", lines)
    assert calc.line_net_minor == (5940, 1667)
    assert [b.tax_amount_minor for b in calc.breakdown] == [594, 133]
    assert calc.totals.total_with_vat_minor == 8334
    with pytest.raises(AmountError):
        parse_unit_price("1980.50", "JPY")


def test_isk_rounds_to_whole_kronur_in_stripe_hundredths() -> None:
    """ISK is typed in whole krónur and sent ×100: 1.5 × 333 = 499.5 → 500 kr = 50000."""
    assert line_net_amount(line("1.5", "333", S20), "ISK") == 50000
    assert compute("ISK", [line("1.5", "333", VatRate("S", D("24")))]).totals.total_vat_minor == 12000


# --- Rounding edge cases ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty", "price", "expected_minor", "half_even_minor"),
    [
        ("0.5", "0.05", 3, 2),  # 0.025 → 0.03 (half up), not 0.02 (half even)
        ("1.5", "0.33", 50, 50),  # 0.495 → 0.50
        ("3", "0.335", None, None),  # price has a third decimal: 1.005 → 1.01
        ("0.001", "4.99", 0, 0),  # 0.00499 → 0.00
        ("0.0001", "50.00", 1, 0),  # 0.005 → 0.01 (half up), 0.00 (half even)
    ],
)
def test_line_net_rounds_half_up_to_the_minor_unit(qty, price, expected_minor, half_even_minor) -> None:
    got = line_net_amount(line(qty, price), "GBP")
    if expected_minor is None:
        assert got == 101
        return
    assert got == expected_minor
    with localcontext() as ctx:  # what banker's rounding would have given: the rule matters
        ctx.rounding = ROUND_HALF_EVEN
        assert int((D(qty) * D(price)).quantize(D("0.01")) * 100) == half_even_minor


def test_vat_on_a_half_rounds_up() -> None:
    """BT-116 0.50 at 5 % = 0.025 → BT-117 0.03."""
    assert compute("GBP", [line("1", "0.50", S5)]).totals.total_vat_minor == 3


def test_host_decimal_context_does_not_change_the_result() -> None:
    lines = [line("7.5", "120.00"), line("0.5", "0.05")]
    expected = compute("GBP", lines)
    with localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = ROUND_HALF_EVEN
        assert compute("GBP", lines) == expected


def test_vat_is_rounded_per_group_not_per_line() -> None:
    """Ten lines of 0.12 at 20 %: per line 0.024 → 0.02, ten times 0.20; per group (BR-CO-17)
    1.20 × 20 % = 0.24. The invoice says 0.24."""
    lines = [line("1", "0.12") for _ in range(10)]
    calc = compute("GBP", lines)
    per_line = sum(compute("GBP", [one]).totals.total_vat_minor for one in lines)
    assert per_line == 20
    assert calc.totals.total_vat_minor == 24
    assert calc.breakdown[0].taxable_amount_minor == 120


def test_equal_rates_written_differently_are_one_group() -> None:
    calc = compute("GBP", [line("1", "10", VatRate("S", D("20"))), line("1", "10", VatRate("S", D("20.00")))])
    assert len(calc.breakdown) == 1 and calc.breakdown[0].tax_amount_minor == 400


# --- Paid amount, deposits, overpayment --------------------------------------------------


def test_deposit_and_partial_payment_are_the_paid_amount() -> None:
    """BT-112 1200.00 (1000.00 + 20 %); deposit INV-0007 300.00 deducted; 400.00 paid;
    BT-113 = 700.00, BT-115 = 500.00."""
    deposit = Prepayment(30000, "INV-0007", date(2026, 10, 1))
    calc = compute("GBP", [line("1", "1000.00")], prepayments=[deposit], payments_minor=[40000])
    t = calc.totals
    assert (t.total_with_vat_minor, t.paid_minor, t.amount_due_minor, t.credit_minor) == (120000, 70000, 50000, 0)


def test_overpayment_leaves_a_credit() -> None:
    t = compute("EUR", [line("1", "100.00", REVERSE)], payments_minor=[6000, 5000]).totals
    assert (t.amount_due_minor, t.credit_minor) == (-1000, 1000)


def test_non_positive_payments_and_deposits_are_refused() -> None:
    with pytest.raises(AmountError):
        compute("GBP", [line("1", "1")], payments_minor=[0])
    with pytest.raises(AmountError):
        Prepayment(-1, "INV-1")


# --- Discounts ---------------------------------------------------------------------------


def test_discounts_cannot_exceed_what_they_reduce() -> None:
    with pytest.raises(AmountError):
        line_net_amount(line("1", "10.00", allowance=1001), "GBP")
    with pytest.raises(AmountError):  # more than the 20 % lines
        compute("GBP", [line("1", "10.00"), line("1", "100", S5)], [DocumentAllowance(1001, S20)])
    with pytest.raises(AmountError):  # a rate with no line
        compute("GBP", [line("1", "10.00")], [DocumentAllowance(100, S5)])
    with pytest.raises(AmountError):  # ISK has no fraction of a króna (Stripe's 100 = 1 kr)
        compute("ISK", [line("1", "1000")], [DocumentAllowance(50, S20)])
    with pytest.raises(AmountError):
        DocumentAllowance(0, S20)


def test_an_invoice_needs_a_line() -> None:
    with pytest.raises(DomainError):
        compute("GBP", [])


# --- Compatibility -----------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "currency"), [(125050, "GBP"), (1500, "JPY"), (5120, "KWD")])
def test_amount_and_description_draft_is_one_untaxed_line(amount, currency) -> None:
    one = single_line("Website build", amount, currency)
    assert (one.quantity, one.vat) == (D(1), NOT_SUBJECT_TO_VAT)
    t = compute(currency, [one]).totals
    assert t.sum_of_line_net_minor == t.total_without_vat_minor == t.total_with_vat_minor == amount
    assert t.total_vat_minor == 0
    assert missing_for_vat([one], seller_vat_id=None, buyer_vat_id=None) == []


# --- Parsing what people type -----------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("2", D("2")), ("1.5", D("1.5")), (" 1000 ", D("1000")),
                                                ("0.2500", D("0.25")), ("007", D("7"))])
def test_parse_quantity(text, expected) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(("text", "currency", "expected"), [
    ("150.00", "GBP", D("150.00")), ("1,250.50", "EUR", D("1250.50")), ("0", "GBP", D("0.00")),
    ("1980", "JPY", D("1980")), ("1500.00", "JPY", D("1500")), ("5.125", "KWD", D("5.125")),
])
def test_parse_unit_price(text, currency, expected) -> None:
    got = parse_unit_price(text, currency)
    assert got == expected and got.as_tuple() == expected.as_tuple()


@pytest.mark.parametrize(("text", "expected"), [("20", D("20")), ("5.5", D("5.5")), ("20 %", D("20")),
                                                ("0", D("0")), ("100", D("100"))])
def test_parse_rate(text, expected) -> None:
    assert parse_rate(text) == expected


HOSTILE = ["", "  ", "NaN", "nan", "Infinity", "-Infinity", "inf", "1e9999", "1E3", "-1", "1,25", "1.2.3",
           "0x10", "١٢", "１２", "1_000", "12abc", "--1", ".", "1 000", "\x00", "9" * 5000]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_refused_clearly(text) -> None:
    for parse in (parse_quantity, parse_rate, lambda t: parse_unit_price(t, "GBP")):
        with pytest.raises(DomainError) as caught:
            parse(text)
        assert caught.value.message and caught.value.field in {"quantity", "tax_rate", "unit_price"}


@pytest.mark.parametrize(("text", "field"), [("0", "quantity"), ("1000000.0001", "quantity"), ("1000001", "quantity"),
                                             ("2.12345", "quantity"), ("+1", "quantity"), ("99999999999999999999", "quantity"),
                                             ("100.01", "tax_rate"), ("20.125", "tax_rate"), ("150.001", "unit_price")])
def test_limits(text, field) -> None:
    parse = {"quantity": parse_quantity, "tax_rate": parse_rate, "unit_price": lambda t: parse_unit_price(t, "GBP")}
    with pytest.raises(DomainError) as caught:
        parse[field](text)
    assert caught.value.field == field


def test_huge_quantity_times_huge_price_is_refused_not_overflowed() -> None:
    big = InvoiceLine("x", MAX_QUANTITY, D("99999999999999"), S20)
    with pytest.raises(AmountError):
        compute("GBP", [big])
    with pytest.raises(AmountError):  # 60+ digits of precision
        line_net_amount(InvoiceLine("x", D("0." + "1" * 40), D("0." + "3" * 40), S20), "GBP")


@pytest.mark.parametrize("build", [
    lambda: InvoiceLine("x", 1.5, D("1"), S20),
    lambda: InvoiceLine("x", D("1"), 1.0, S20),
    lambda: InvoiceLine("x", 1, D("1"), S20),
    lambda: VatRate("S", 20.0),
    lambda: LineAllowance(1.0),
    lambda: DocumentAllowance(100.0, S20),
    lambda: Prepayment(10.0, "INV-1"),
    lambda: parse_quantity(1.5),
    lambda: parse_rate(20.0),
    lambda: parse_unit_price(1.5, "GBP"),
    lambda: single_line("x", 100.0, "GBP"),
    lambda: percent_allowances("GBP", [line("1", "1")], 10.0),
    lambda: compute("GBP", [line("1", "1")], payments_minor=[1.0]),
])
def test_floats_are_refused_with_type_error(build) -> None:
    with pytest.raises(TypeError):
        build()


@pytest.mark.parametrize("build", [
    lambda: InvoiceLine("x", D("NaN"), D("1"), S20),
    lambda: InvoiceLine("x", D("1"), D("Infinity"), S20),
    lambda: VatRate("S", D("sNaN")),
])
def test_non_finite_decimals_are_refused(build) -> None:
    with pytest.raises(ValueError):
        build()


@pytest.mark.parametrize("build", [
    lambda: VatRate("S", D("0")),  # BR-S-05
    lambda: VatRate("Z", D("5")),  # BR-Z-05
    lambda: VatRate("AE", D("20")),  # BR-AE-05
    lambda: VatRate("S", D("100.5")),
    lambda: VatRate("S", D("-1")),
    lambda: InvoiceLine("x", D("0"), D("1"), S20),
    lambda: InvoiceLine("x", D("-1"), D("1"), S20),
    lambda: InvoiceLine("x", D("1"), D("-0.01"), S20),
    lambda: LineAllowance(-1),
])
def test_values_outside_the_rules_are_refused(build) -> None:
    with pytest.raises(DomainError):
        build()


def test_everything_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        S20.rate = D("5")  # type: ignore[misc]
    calc = compute("GBP", [line("1", "1")])
    with pytest.raises(dataclasses.FrozenInstanceError):
        calc.totals.amount_due_minor = 0  # type: ignore[misc]


# --- Invariants ----------------------------------------------------------------------------

RATES = [S20, S5, VatRate("Z", D("0")), REVERSE, VatRate("S", D("7.7"))]
lines_strategy = st.lists(
    st.builds(
        lambda q, p, vat: InvoiceLine("x", q, p, vat),
        st.decimals(min_value=D("0.0001"), max_value=D("1000"), places=4),
        st.decimals(min_value=D("0"), max_value=D("100000"), places=3),
        st.sampled_from(RATES),
    ),
    min_size=1,
    max_size=12,
)


@given(lines=lines_strategy, percent=st.decimals(min_value=D("0.01"), max_value=D("100"), places=2),
       currency=st.sampled_from(["GBP", "JPY", "KWD", "ISK"]))
def test_totals_invariants(lines, percent, currency) -> None:
    allowances = percent_allowances(currency, lines, percent)
    calc = compute(currency, lines, allowances)
    t = calc.totals
    assert t.total_with_vat_minor == t.total_without_vat_minor + t.total_vat_minor  # BR-CO-15
    assert sum(b.taxable_amount_minor for b in calc.breakdown) == t.total_without_vat_minor  # BR-S-08 & co
    assert sum(b.tax_amount_minor for b in calc.breakdown) == t.total_vat_minor  # BR-CO-14
    assert t.sum_of_line_net_minor == sum(calc.line_net_minor)  # BR-CO-10
    assert t.amount_due_minor == t.total_with_vat_minor
    for b in calc.breakdown:  # BR-CO-17: exactly the rounded product, within half a unit
        unit = 100 if currency == "ISK" else 1
        exact = D(b.taxable_amount_minor) * b.rate / 100
        assert abs(D(b.tax_amount_minor) - exact) * 2 <= unit
        assert b.taxable_amount_minor >= 0 and b.tax_amount_minor >= 0
