"""newuser16 N7: the staff invoice page shows the figures the print page shows between the
lines and the amount due: the sum of the lines and the document discount per VAT rate, and
each deposit or client credit deducted (number, day, amount). docs/invoices.md: "The staff
page of an invoice shows the same figures". Both read services.documents.adjustments_of.
"""

from __future__ import annotations

import re

from tests.integration.test_invoice_discount import TWO_RATES, _draft
from tests.integration.test_prepayments import _final, _paid_deposit


def _facts(html: str) -> str:
    """The page's text without tags and with plain spaces and minus signs."""
    text = re.sub(r"<[^>]+>", " ", html).replace("&minus;", "\u2212").replace("&nbsp;", " ").replace("\xa0", " ")
    return re.sub(r"\s+", " ", text)


def test_the_staff_page_shows_the_sum_of_lines_and_the_discount_per_rate(app, world, staff_client):
    invoice = _draft(app, world, lines=TWO_RATES, discount="10.00")
    page = _facts(staff_client.get(f"/invoicing/invoices/{invoice.id}").text)
    assert "Sum of lines £150.00" in page
    assert "Discount (VAT 20 %) \u2212£6.67" in page and "Discount (VAT 5 %) \u2212£3.33" in page
    assert page.index("Sum of lines") < page.index("Discount (VAT 20 %)") < page.index("Without VAT £140.00")


def test_the_staff_page_lists_each_deposit_deducted(app, world, staff_client):
    deposit = _paid_deposit(app, world)
    final = _final(app, world, deduct_deposits=True)
    html = staff_client.get(f"/invoicing/invoices/{final.id}").text
    page = _facts(html)
    paid_on = final.prepayments[0].paid_on.isoformat()
    assert f"Deposit {deposit.number} paid {paid_on} \u2212£300.00" in page
    assert f'data-prepayment="{deposit.number}"' in html


def test_without_discount_or_deduction_no_such_rows(app, world, staff_client):
    invoice = _draft(app, world, lines=TWO_RATES)
    html = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert "Sum of lines" not in html and "data-prepayment" not in html and "Discount (VAT" not in html
