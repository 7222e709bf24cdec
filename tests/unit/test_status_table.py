"""The status table (domain/statuses.py): every status has a row, and every view is derived from it.

The expected sets and maps below are spelled out on purpose: they are what the code used
before the table existed (commit 6bb59cc), so a row that changes one of them fails here.
"""

from dataclasses import fields, replace
from datetime import date

import pytest

from invoicing_plugin.domain import statuses
from invoicing_plugin.domain.invoice import InvoiceStatus, display_status, is_editable, is_open_for_payment, is_overdue
from invoicing_plugin.domain.statuses import OVERDUE, STATUS_TABLE, StatusRow, StatusViews

STAFF_TONES = {"ok", "danger", "info", "neutral"}
CLIENT_TONES = {"ok", "danger", "warn", "muted", "info"}
FLAGS = ("awaiting_money", "payable", "money_received", "revenue", "editable")


def test_every_invoice_status_has_exactly_one_stored_row_and_overdue_is_the_only_other():
    stored = [row.key for row in STATUS_TABLE if row.is_stored]
    assert sorted(stored) == sorted(status.value for status in InvoiceStatus)
    assert len(stored) == len(set(stored))
    assert [row.key for row in STATUS_TABLE if not row.is_stored] == [OVERDUE]


@pytest.mark.parametrize("row", STATUS_TABLE, ids=lambda row: row.key)
def test_every_row_has_its_words_and_a_known_tone(row: StatusRow):
    for name in ("key", "staff_label", "document_label", "tone"):
        assert isinstance(getattr(row, name), str) and getattr(row, name).strip(), name
    assert row.tone in STAFF_TONES
    # Only drafts are hidden from clients; a hidden status has neither words nor tone for them.
    if row.status is InvoiceStatus.DRAFT:
        assert row.client_label is None and row.client_tone is None
    else:
        assert row.client_label and row.client_label.strip()
        assert row.client_tone in CLIENT_TONES
    # Stored rows name themselves in reports and refusals; the display-only row does not.
    if row.is_stored:
        assert row.report_label and row.report_label.strip()
        assert row.phrase and row.phrase.strip()
    else:
        assert row.report_label is None and row.phrase is None


def test_the_overdue_row_means_what_sent_means():
    sent, overdue = statuses.status_row("sent"), statuses.status_row(OVERDUE)
    assert overdue.status is InvoiceStatus.SENT
    assert {f: getattr(overdue, f) for f in FLAGS} == {f: getattr(sent, f) for f in FLAGS}


def test_the_derived_status_sets_are_the_ones_the_code_used_before():
    # payments.AWAITING_STRIPE, domain.totals.OPEN_STATUSES, analytics._OUTSTANDING, sending's pay-link return.
    assert statuses.AWAITING_MONEY == ("sent", "processing", "partially_paid")
    # domain.invoice._OPEN_FOR_PAYMENT, the document's pay link, connections._open_invoice_clause.
    assert statuses.PAYABLE == ("sent", "partially_paid")
    # payments: "already paid" when a second payment arrives.
    assert statuses.MONEY_RECEIVED == ("partially_paid", "paid", "paid_after_void", "refunded")
    # domain.totals and the totals rebuild: revenue.
    assert statuses.REVENUE == ("partially_paid", "paid")
    assert statuses.EDITABLE == ("draft",)
    # portal._VISIBLE.
    assert statuses.CLIENT_VISIBLE == ("sent", "processing", "partially_paid", "paid", "voided", "paid_after_void",
                                       "refunded", "credited")
    assert statuses.CAN_BE_OVERDUE == ("sent",)


def test_the_old_names_are_the_derived_views():
    from invoicing_plugin.domain import totals
    from invoicing_plugin.services import analytics, documents, invoices, payments, portal

    assert payments.AWAITING_STRIPE == totals.OPEN_STATUSES == analytics._OUTSTANDING == (
        "sent", "processing", "partially_paid")
    assert portal._VISIBLE == statuses.CLIENT_VISIBLE
    assert dict(invoices.STATUS_FILTERS) == {
        "draft": "Draft", "sent": "Sent", "overdue": "Overdue", "processing": "Processing",
        "partially_paid": "Partially paid", "paid": "Paid",
        "voided": "Voided", "paid_after_void": "Paid after void", "refunded": "Refunded", "credited": "Credited",
    }
    assert list(invoices.STATUS_FILTERS) == ["draft", "sent", "overdue", "processing", "partially_paid", "paid",
                                             "voided", "paid_after_void", "refunded", "credited"]
    assert dict(portal.CLIENT_STATUS_LABELS) == {
        "sent": "Awaiting payment", "overdue": "Overdue", "processing": "Payment processing", "paid": "Paid",
        "voided": "Cancelled", "paid_after_void": "Paid — refund on its way", "refunded": "Refunded",
        "partially_paid": "Partly paid", "credited": "Cancelled by credit note",
    }
    assert dict(documents.DOCUMENT_STATUS) == {
        "draft": "Draft", "sent": "Awaiting payment", "overdue": "Overdue", "processing": "Payment processing",
        "paid": "Paid", "voided": "Cancelled", "paid_after_void": "Cancelled (payment received, refund due)",
        "refunded": "Refunded", "partially_paid": "Partially paid", "credited": "Credited in full",
    }
    # The analytics page's counts (a template literal before).
    assert statuses.REPORT_LABELS == (
        ("draft", "Drafts"), ("sent", "Awaiting payment"), ("processing", "Processing"),
        ("partially_paid", "Partially paid"), ("paid", "Paid"),
        ("voided", "Voided"), ("paid_after_void", "Paid after void"), ("refunded", "Refunded"),
        ("credited", "Credited"),
    )


def test_the_tones_reproduce_the_colours_the_stylesheets_gave_each_status():
    # invoicing.css / document.css / the PDF: paid green; overdue, voided, paid after void red;
    # sent and processing accent on staff badges; draft and refunded plain.
    assert dict(statuses.TONES) == {
        "draft": "neutral", "sent": "info", "overdue": "danger", "processing": "info", "paid": "ok",
        "voided": "danger", "paid_after_void": "danger", "refunded": "neutral", "partially_paid": "info",
        "credited": "neutral",
    }
    # portal.css: paid green, overdue red, processing amber, the closed ones grey, sent plain.
    assert dict(statuses.CLIENT_TONES) == {
        "sent": "info", "overdue": "danger", "processing": "warn", "paid": "ok", "voided": "muted",
        "paid_after_void": "muted", "refunded": "muted", "partially_paid": "warn", "credited": "muted",
    }


def test_the_refusal_phrases_are_the_ones_before():
    assert dict(statuses.PHRASES) == {
        "draft": "a draft", "sent": "awaiting payment", "processing": "processing a payment", "paid": "paid",
        "voided": "voided", "paid_after_void": "voided but was paid (refund due)", "refunded": "refunded",
        "partially_paid": "partially paid", "credited": "credited in full",
    }


@pytest.mark.parametrize("status", list(InvoiceStatus), ids=lambda status: status.value)
def test_the_lifecycle_predicates_follow_the_table(status):
    day, late = date(2026, 1, 10), date(2026, 1, 11)
    assert is_open_for_payment(status) == (status.value in statuses.PAYABLE)
    assert is_editable(status) == (status.value in statuses.EDITABLE)
    assert is_overdue(status, day, late) == (status.value in statuses.CAN_BE_OVERDUE)
    assert display_status(status, day, late) == (OVERDUE if status is InvoiceStatus.SENT else status.value)


def test_adding_a_status_is_one_row():
    """A row for a new status shows up in every view without any other edit.

    ``StatusViews`` is what builds the module's label maps, filters, tones and sets;
    a new stored status needs a ``StatusRow`` whose ``status`` has that value, so an
    ``InvoiceStatus`` look-alike stands in for the new enum member here.
    """
    new_status = type("FakeStatus", (), {"value": "partially_paid"})()
    row = StatusRow("partially_paid", new_status, "Partially paid", "Partly paid", "Partially paid",
                    "Partially paid", "partially paid", tone="info", client_tone="warn",
                    awaiting_money=True, payable=True, money_received=True)
    # (issue 15 made partially_paid a real status: the table without it stands for "before".)
    before = tuple(r for r in STATUS_TABLE if r.key != "partially_paid")
    paid_at = next(i for i, r in enumerate(before) if r.key == "paid")
    views = StatusViews(before[:paid_at] + (row,) + before[paid_at:])

    assert views.staff_labels["partially_paid"] == "Partially paid"
    assert list(views.staff_labels).index("partially_paid") == list(views.staff_labels).index("paid") - 1
    assert views.client_labels["partially_paid"] == "Partly paid"
    assert views.document_labels["partially_paid"] == "Partially paid"
    assert ("partially_paid", "Partially paid") in views.report_labels
    assert views.phrases["partially_paid"] == "partially paid"
    assert views.tones["partially_paid"] == "info" and views.client_tones["partially_paid"] == "warn"
    assert views.awaiting_money == ("sent", "processing", "partially_paid")
    assert views.payable == ("sent", "partially_paid")
    assert views.money_received == ("partially_paid", "paid", "paid_after_void", "refunded")
    assert views.revenue == ("paid",)
    assert "partially_paid" in views.client_visible
    # The rest of the table is untouched.
    base = StatusViews(before)
    assert {k: v for k, v in views.staff_labels.items() if k != "partially_paid"} == dict(base.staff_labels)


def test_a_key_cannot_have_two_rows():
    with pytest.raises(ValueError, match="duplicate"):
        StatusViews(STATUS_TABLE + (replace(STATUS_TABLE[0], staff_label="Again"),))


def test_a_row_is_frozen():
    with pytest.raises(AttributeError):
        STATUS_TABLE[0].tone = "ok"  # type: ignore[misc]
    assert {f.name for f in fields(StatusRow)} >= {"staff_label", "client_label", "document_label", "tone"}
