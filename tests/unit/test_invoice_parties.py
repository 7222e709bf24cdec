"""The parties and dates of a legal invoice, without a database (issue 15, "The parties").

services/parties.py: the buyer's details checked like the seller's (text, lengths, NUL, the
country, the VAT number with the seller's python-stdnum validator), the supply date or
period and payment terms, what sending requires (one list), and what sending stamps.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest

from invoicing_plugin.domain.en16931 import NOT_SUBJECT_TO_VAT, VatCategory, VatRate
from invoicing_plugin.host import HostClient, HostSellerDetails
from invoicing_plugin.services import parties
from invoicing_plugin.services.parties import BuyerInput, check_buyer, check_dates, missing_for_send

GOOD_BUYER = BuyerInput(name="Globex GmbH", address_line1="Unter den Linden 1", city="Berlin", post_code="10117",
                        country="de", vat_id="DE 136 695 976", registration_id="HRB 12345")
SELLER = HostSellerDetails(legal_name="Acme Security Ltd", address_line1="1 Threadneedle Street", city="London",
                           post_code="EC2R 8AH", country="GB", vat_id="GB980780684", payment_terms_days=14)
STANDARD_20 = VatRate(VatCategory.STANDARD, Decimal(20))
REVERSE_CHARGE = VatRate(VatCategory.REVERSE_CHARGE, Decimal(0), "Reverse charge")


def test_a_good_buyer_is_stored_compact_and_upper_case():
    values, errors = check_buyer(GOOD_BUYER)

    assert errors == {}
    assert values == {
        "buyer_name": "Globex GmbH", "buyer_address_line1": "Unter den Linden 1", "buyer_address_line2": None,
        "buyer_city": "Berlin", "buyer_post_code": "10117", "buyer_country": "DE", "buyer_vat_id": "DE136695976",
        "buyer_registration_id": "HRB 12345",
    }


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"name": "  "}, "buyer_name", "legal name"),
    ({"name": "x" * 256}, "buyer_name", "under 255"),
    ({"city": "x" * 101}, "buyer_city", "under 100"),
    ({"post_code": "x" * 33}, "buyer_post_code", "under 32"),
    ({"address_line1": "Main\x00Street"}, "buyer_address_line1", "NUL"),
    ({"registration_id": "\x00"}, "buyer_registration_id", "NUL"),
    ({"country": "XX"}, "buyer_country", "two-letter ISO code"),
    ({"country": "Germany"}, "buyer_country", "two-letter ISO code"),
    ({"country": "D\x00"}, "buyer_country", "NUL"),
    ({"country": "", "vat_id": "DE136695976"}, "buyer_vat_id", "country first"),
    ({"vat_id": "DE136695977"}, "buyer_vat_id", "not a valid DE VAT number"),
    ({"vat_id": "FR40303265045"}, "buyer_vat_id", "client's country"),  # another country's prefix
    ({"vat_id": "x" * 40}, "buyer_vat_id", ""),
    ({"city": 12}, "buyer_city", "as text"),
    ({"name": ["Globex"]}, "buyer_name", "as text"),
])
def test_each_bad_buyer_field_is_named_with_a_message(changes, field, words):
    data = BuyerInput(**{**GOOD_BUYER.__dict__, **changes})

    _, errors = check_buyer(data)

    assert field in errors and words in errors[field]


def test_a_buyer_that_is_not_buyer_input_is_a_programming_error():
    with pytest.raises(TypeError):
        check_buyer({"name": "Globex"})


def test_the_host_client_gives_the_buyer_and_its_legal_name_wins_over_its_name():
    client = HostClient(id="1", name="Globex", email="a@globex.test", legal_name="Globex Corporation Ltd",
                        address_line1="20 Canada Square", city="London", country="GB")
    plain = HostClient(id="2", name="Initech", email="ap@initech.test")

    assert parties.buyer_from_client(client) == BuyerInput(name="Globex Corporation Ltd",
                                                           address_line1="20 Canada Square", city="London",
                                                           country="GB")
    assert parties.buyer_from_client(plain) == BuyerInput(name="Initech")
    # A host written before these fields still builds its clients with three arguments.
    assert (plain.legal_name, plain.vat_id, plain.country) == (None, None, None)


D = date(2030, 3, 1)


@pytest.mark.parametrize(("args", "field", "words"), [
    ((D, D, date(2030, 3, 31), None), "supply_date", "not both"),
    ((None, D, None, None), "supply_end", "both its first and its last day"),
    ((None, None, D, None), "supply_start", "both its first and its last day"),
    ((None, date(2030, 4, 1), D, None), "supply_end", "ends before it starts"),
    ((datetime(2030, 3, 1, tzinfo=timezone.utc), None, None, None), "supply_date", "as a date"),
    (("2030-03-01", None, None, None), "supply_date", "as a date"),
    ((None, None, None, "x" * 501), "payment_terms", "under 500"),
    ((None, None, None, "30 days\x00"), "payment_terms", "NUL"),
    ((None, None, None, 30), "payment_terms", "as text"),
])
def test_bad_dates_and_terms_are_refused(args, field, words):
    _, errors = check_dates(*args)

    assert field in errors and words in errors[field]


def test_a_supply_date_or_a_whole_period_is_fine():
    assert check_dates(D, None, None, "  30 days net ") == (
        {"supply_date": D, "supply_start": None, "supply_end": None, "payment_terms": "30 days net"}, {})
    assert check_dates(None, D, D, "")[1] == {}  # a one-day period: start == end


def _invoice(**columns):
    base = {"status": "draft", "buyer_name": "Globex GmbH", "buyer_address_line1": "Unter den Linden 1",
            "buyer_city": "Berlin", "buyer_country": "DE", "buyer_vat_id": None, "due_date": None}
    return SimpleNamespace(**{**base, **columns})


def test_without_saved_settings_an_invoice_without_vat_needs_nothing():
    """The seeds' simple case: no Invoice settings, no VAT, no buyer address -- it sends."""
    bare = _invoice(buyer_name="Initech", buyer_address_line1=None, buyer_city=None, buyer_country=None)

    assert parties.invoice_vat_rates(bare) == (NOT_SUBJECT_TO_VAT,)
    assert missing_for_send(bare, None, profile_saved=False) == []
    assert missing_for_send(bare, SELLER, profile_saved=False) == []  # a host prefill alone switches nothing on


def test_with_saved_settings_every_gap_is_listed_at_once():
    bare = _invoice(buyer_name=" ", buyer_address_line1=None, buyer_city="Berlin", buyer_country=None)
    seller = HostSellerDetails(legal_name="Acme Security Ltd", country="")

    missing = missing_for_send(bare, seller, profile_saved=True)

    assert missing == [
        "The seller's address is missing: street and city (Invoice settings).",
        "The seller's country is missing (Invoice settings).",
        "The client's legal name is missing (edit the draft).",
        "The client's address is missing: street and city (edit the draft).",
        "The client's country is missing (edit the draft).",
    ]  # the O line carries its note ("Not subject to VAT"): nothing about VAT
    assert missing_for_send(_invoice(), SELLER, profile_saved=True) == []


def test_vat_lines_switch_the_check_on_even_without_settings(monkeypatch):
    monkeypatch.setattr(parties, "invoice_vat_rates", lambda invoice: (STANDARD_20,))

    assert missing_for_send(_invoice(), None, profile_saved=False) == [
        "The seller's details are missing: fill in Invoice settings (legal name, address, country).",
        "The seller's VAT number is missing (Invoice settings).",
    ]
    assert missing_for_send(_invoice(), SELLER, profile_saved=False) == []


def test_reverse_charge_needs_both_vat_numbers(monkeypatch):
    monkeypatch.setattr(parties, "invoice_vat_rates", lambda invoice: (REVERSE_CHARGE,))
    no_vat_seller = HostSellerDetails(**{**SELLER.__dict__, "vat_id": None})

    assert missing_for_send(_invoice(), no_vat_seller, profile_saved=True) == [
        "The seller's VAT number is missing (Invoice settings).",
        "Reverse charge needs the client's VAT number.",
    ]
    assert missing_for_send(_invoice(buyer_vat_id="DE136695976"), SELLER, profile_saved=True) == []


def test_the_refusal_names_every_gap_in_one_message():
    error = parties.InvoiceIncomplete(["A is missing.", "B is missing."])

    assert error.missing == ["A is missing.", "B is missing."]
    assert "(1) A is missing." in error.message and "(2) B is missing." in error.message


def test_send_stamps_the_issue_date_the_due_date_by_terms_and_the_seller():
    invoice = _invoice(seller_snapshot=None, issue_date=None)

    parties.stamp_at_send(invoice, SELLER, date(2030, 3, 1))

    assert (invoice.issue_date, invoice.due_date) == (date(2030, 3, 1), date(2030, 3, 15))
    assert invoice.seller_snapshot["legal_name"] == "Acme Security Ltd"
    assert parties.seller_of(SimpleNamespace(seller_snapshot=invoice.seller_snapshot)) == SELLER


@pytest.mark.parametrize(("seller", "due"), [
    (HostSellerDetails(legal_name="A", payment_terms_days=None), None),
    (HostSellerDetails(legal_name="A", payment_terms_days=-3), None),  # a host's prefill, unchecked
    (HostSellerDetails(legal_name="A", payment_terms_days=True), None),
    (HostSellerDetails(legal_name="A", payment_terms_days="30"), None),
    (None, None),
])
def test_no_due_date_from_missing_or_insane_terms(seller, due):
    invoice = _invoice(seller_snapshot=None, issue_date=None)

    parties.stamp_at_send(invoice, seller, date(2030, 3, 1))

    assert invoice.due_date == due


def test_an_explicit_due_date_is_kept():
    invoice = _invoice(seller_snapshot=None, issue_date=None, due_date=date(2030, 5, 1))

    parties.stamp_at_send(invoice, SELLER, date(2030, 3, 1))

    assert invoice.due_date == date(2030, 5, 1)


def test_a_sent_invoice_prints_its_snapshot_a_draft_and_an_old_invoice_the_live_seller():
    live = HostSellerDetails(legal_name="Acme Renamed Ltd")
    sent = SimpleNamespace(status="sent", seller_snapshot=parties.snapshot_seller(SELLER))
    sent_without_seller = SimpleNamespace(status="sent", seller_snapshot=parties.snapshot_seller(None))
    sent_before_0013 = SimpleNamespace(status="paid", seller_snapshot=None)
    draft = SimpleNamespace(status="draft", seller_snapshot=None)

    assert parties.document_seller(sent, live) == SELLER
    assert parties.document_seller(sent_without_seller, live) is None
    assert parties.document_seller(sent_before_0013, live) == live
    assert parties.document_seller(draft, live) == live


@pytest.mark.parametrize("snapshot", [{"legal_name": 5}, {"trading_name": "x"}, ["Acme"], "Acme"])
def test_a_damaged_snapshot_prints_no_seller_rather_than_crashing(snapshot):
    assert parties.seller_of(SimpleNamespace(seller_snapshot=snapshot)) is None


def test_a_snapshot_ignores_keys_a_newer_version_wrote():
    snapshot = {**parties.snapshot_seller(SELLER), "electronic_address": "0088:123"}

    assert parties.seller_of(SimpleNamespace(seller_snapshot=snapshot)) == SELLER
