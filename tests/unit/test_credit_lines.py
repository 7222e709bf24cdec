"""Hand-worked examples of a credit note for chosen lines (domain/credit_lines.py, issue 15).

Each example is worked by hand in the comments, in the style of EN 16931's examples: line
net = quantity × price rounded half up to the cent; a credited part of a line is its net
pro rata to the quantity, rounded half up, the last part taking what is left; VAT per rate
on the credited taxable amount, rounded once, half up, as the invoice's own VAT is.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from invoicing_plugin.domain.credit_lines import StoredLine, credit_lines
from invoicing_plugin.domain.en16931 import DocumentAllowance, InvoiceLine, VatCategory, VatRate, compute
from invoicing_plugin.domain.errors import DomainError

S20 = VatRate(VatCategory.STANDARD, D("20"))
S5 = VatRate(VatCategory.STANDARD, D("5"))
Z = VatRate(VatCategory.ZERO, D("0"))


def _after(line: StoredLine, credit) -> StoredLine:
    """The line once ``credit`` is saved (what the next note reads)."""
    piece = next(p for p in credit.lines if p.key == line.key)
    return StoredLine(line.key, line.quantity, line.net_minor, line.vat, line.credited_quantity + piece.quantity,
                      line.credited_net_minor + piece.net_minor)


def test_one_of_three_hours_at_33_33_with_20_percent_vat():
    # Invoice: 3 h × £33.33 = £99.99 net; VAT 20 % of 99.99 = 19.998 -> £20.00; total £119.99.
    invoice = compute("GBP", [InvoiceLine("Consulting", D("3"), D("33.33"), S20)])
    assert (invoice.totals.total_without_vat_minor, invoice.totals.total_vat_minor) == (9_999, 2_000)
    line = StoredLine(1, D("3"), 9_999, S20)
    # Credit 1 h: net 99.99 × 1/3 = 33.33; VAT 20 % of 33.33 = 6.666 -> 6.67; total 40.00.
    first = credit_lines("GBP", [line], {1: D("1")})
    assert (first.lines[0].net_minor, first.net_minor, first.tax_minor, first.total_minor) == (3_333, 3_333, 667, 4_000)
    [group] = first.breakdown
    assert (group.category, group.rate, group.taxable_amount_minor, group.tax_amount_minor) == (
        VatCategory.STANDARD, D("20"), 3_333, 667)
    # Credit 1 h more: cumulative net 99.99 × 2/3 = 66.66, so 33.33; cumulative VAT
    # 20 % of 66.66 = 13.332 -> 13.33, less the 6.67 credited: 6.66; total 39.99.
    line = _after(line, first)
    second = credit_lines("GBP", [line], {1: D("1")})
    assert (second.net_minor, second.tax_minor, second.total_minor) == (3_333, 666, 3_999)
    # The last hour takes what is left: 99.99 - 66.66 = 33.33; VAT 20.00 - 13.33 = 6.67.
    line = _after(line, second)
    third = credit_lines("GBP", [line], {1: D("1")})
    assert (third.net_minor, third.tax_minor, third.total_minor) == (3_333, 667, 4_000)
    # The three notes credit the invoice exactly: £119.99, never a penny more.
    assert first.total_minor + second.total_minor + third.total_minor == invoice.totals.total_with_vat_minor


def test_half_a_day_of_a_line_next_to_a_zero_rated_line():
    # Invoice: 1 day × £150.00 at 20 % and 2 × £80.00 zero rated.
    lines = [StoredLine(1, D("1"), 15_000, S20), StoredLine(2, D("2"), 16_000, Z)]
    # Credit 0.5 day: net 150.00 × 0.5 = 75.00; VAT 20 % of 75.00 = 15.00; total 90.00.
    # Only the 20 % rate appears in the note's breakdown.
    note = credit_lines("GBP", lines, {1: D("0.5")})
    assert (note.net_minor, note.tax_minor, note.total_minor) == (7_500, 1_500, 9_000)
    assert [(b.category, b.taxable_amount_minor, b.tax_amount_minor) for b in note.breakdown] == [
        (VatCategory.STANDARD, 7_500, 1_500)]
    # Both lines: 1 of the zero-rated units is 80.00 at 0 %.
    both = credit_lines("GBP", lines, {1: D("0.5"), 2: D("1")})
    assert (both.net_minor, both.tax_minor, both.total_minor) == (15_500, 1_500, 17_000)


def test_a_line_discount_rounds_the_pieces_and_they_add_up_to_the_line():
    # Invoice line: 3 × £10.00 less a £0.01 discount = £29.99; VAT 20 % of 29.99 = 5.998 -> £6.00.
    line = StoredLine(1, D("3"), 2_999, S20)
    # 1 of 3: 29.99 / 3 = 9.99666.. -> 10.00; VAT 2.00.
    first = credit_lines("GBP", [line], {1: D("1")})
    assert (first.net_minor, first.tax_minor) == (1_000, 200)
    # 2 of 3 cumulative: 59.98 / 3 = 19.99333.. -> 19.99, so 9.99; VAT of 19.99 = 3.998 -> 4.00, less 2.00: 2.00.
    line = _after(line, first)
    second = credit_lines("GBP", [line], {1: D("1")})
    assert (second.net_minor, second.tax_minor) == (999, 200)
    # The last: 29.99 - 19.99 = 10.00; VAT 6.00 - 4.00 = 2.00. In all 29.99 + 6.00, the invoice's.
    line = _after(line, second)
    third = credit_lines("GBP", [line], {1: D("1")})
    assert (third.net_minor, third.tax_minor) == (1_000, 200)
    assert sum(n.total_minor for n in (first, second, third)) == 2_999 + 600


def test_a_document_discount_is_credited_in_proportion():
    # Invoice: 4 × £25.00 at 20 % (100.00) and 1 × £50.00 at 5 %, document discount £15.00
    # shared pro rata: £10.00 off the 20 % rate, £5.00 off the 5 % rate. Taxable: 90.00 and 45.00.
    lines = [StoredLine(1, D("4"), 10_000, S20), StoredLine(2, D("1"), 5_000, S5)]
    allowances = [DocumentAllowance(1_000, S20), DocumentAllowance(500, S5)]
    # Credit 1 of the 4 units: line net 25.00; taxable = 90.00 × 25/100 = 22.50; VAT 4.50; total 27.00.
    note = credit_lines("GBP", lines, {1: D("1")}, allowances)
    assert note.lines[0].net_minor == 2_500
    assert (note.net_minor, note.tax_minor, note.total_minor) == (2_250, 450, 2_700)
    # Everything at once: exactly the invoice (90.00 + 18.00 + 45.00 + 2.25 = 155.25).
    everything = credit_lines("GBP", lines, {1: D("4"), 2: D("1")}, allowances)
    assert (everything.net_minor, everything.tax_minor, everything.total_minor) == (13_500, 2_025, 15_525)


def test_zero_decimal_currencies_round_to_the_yen():
    # 3 × ¥1,000 at 10 %: net 3,000, VAT 300. 1 unit: 1,000 net, VAT 100.
    rate = VatRate(VatCategory.STANDARD, D("10"))
    note = credit_lines("JPY", [StoredLine(1, D("3"), 3_000, rate)], {1: D("1")})
    assert (note.net_minor, note.tax_minor) == (1_000, 100)
    # 0.3333 of 1 unit priced ¥1,000: 333.3 -> 333, VAT 33.3 -> 33.
    note = credit_lines("JPY", [StoredLine(1, D("1"), 1_000, rate)], {1: D("0.3333")})
    assert (note.net_minor, note.tax_minor) == (333, 33)


@pytest.mark.parametrize("chosen, field", [
    ({1: D("3.5")}, "quantity"),  # more than the line
    ({1: D("0")}, "quantity"),
    ({1: D("-1")}, "quantity"),
    ({9: D("1")}, "lines"),  # not a line of the invoice
    ({}, "lines"),
])
def test_more_than_is_left_and_nonsense_are_refused(chosen, field):
    with pytest.raises(DomainError) as refused:
        credit_lines("GBP", [StoredLine(1, D("3"), 9_999, S20)], chosen)
    assert refused.value.field == field


def test_what_earlier_notes_took_is_not_left():
    line = StoredLine(1, D("3"), 9_999, S20, credited_quantity=D("2.5"), credited_net_minor=8_333)
    with pytest.raises(DomainError, match="At most 0.5"):
        credit_lines("GBP", [line], {1: D("1")})
    assert credit_lines("GBP", [line], {1: D("0.5")}).net_minor == 9_999 - 8_333
