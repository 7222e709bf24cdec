"""domain.email.stripe_email: which client addresses go to Stripe as customer_email."""

from __future__ import annotations

import pytest

from invoicing_plugin.domain.email import stripe_email


@pytest.mark.parametrize("address,expected", [
    ("ap@hooli.test", "ap@hooli.test"),
    ("  ap@hooli.test\n", "ap@hooli.test"),
    ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
    ("billing@intranet", None),
    ("billing at hooli.test", None),
    ("two@at@hooli.test", None),
    ("@hooli.test", None),
    ("ap@.test", None),
    ("ap@hooli.", None),
    ("", None),
    (None, None),
    ("a" * 250 + "@x.io", None),
])
def test_stripe_email(address, expected):
    assert stripe_email(address) == expected
