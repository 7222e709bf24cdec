"""Revenue analytics on a known data set: per currency, per month, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timezone

import pytest

from invoicing_plugin.domain.money import Money
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.repository import WorkspaceRepository
from invoicing_plugin.services import analytics
from tests.integration.conftest import login

TODAY = date(2025, 4, 15)
PERIOD = analytics.DateRange(date(2025, 1, 1), date(2025, 3, 31))
QUERY = "start=2025-01-01&end=2025-03-31"


def at(year, month, day, hour=12, minute=0, second=0):
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


@pytest.fixture
def dataset(world, make_invoice):
    """acme's invoices for Q1 2025 plus everything that must stay out of the figures."""
    ws, client = world.acme, world.client_a

    def paid(number, amount, currency, paid_at, **extra):
        return make_invoice(workspace_id=ws, client_id=client, number=number, status="paid", amount_minor=amount,
                            currency=currency, paid_at=paid_at, created_at=paid_at, **extra)

    made = {
        "gbp_jan": paid("A-1", 10000, "GBP", at(2025, 1, 15), application_fee_minor=350, fee_bps=350),
        # Last second of January in UTC: January on every database, whatever its session time zone.
        "gbp_jan_refund": paid("A-2", 20000, "GBP", at(2025, 1, 31, 23, 59, 59), application_fee_minor=700,
                               fee_bps=350, amount_refunded_minor=5000),
        "gbp_mar": paid("A-3", 5000, "GBP", at(2025, 3, 1, 0, 0, 0)),
        "eur_feb": paid("A-4", 30000, "EUR", at(2025, 2, 10), application_fee_minor=1050, fee_bps=350,
                        client_name="=HYPERLINK(\"http://evil\")"),
        # Marked paid by hand: no amount_paid_minor, no fee.
        "jpy_feb": paid("A-5", 1500, "JPY", at(2025, 2, 11), amount_paid_minor=None),
        "before": paid("A-6", 99999, "GBP", at(2024, 12, 31, 23, 59, 59)),
        "after": paid("A-7", 7777, "GBP", at(2025, 4, 1, 0, 0, 0)),
        "refunded": make_invoice(workspace_id=ws, client_id=client, number="A-8", status="refunded",
                                 amount_minor=4000, paid_at=at(2025, 1, 20), created_at=at(2025, 1, 5)),
        "overdue": make_invoice(workspace_id=ws, client_id=client, number="A-9", status="sent", amount_minor=12000,
                                due_date=date(2025, 4, 1), created_at=at(2025, 3, 2), client_name="+cmd|' /C calc'!A0"),
        "eur_sent": make_invoice(workspace_id=ws, client_id=client, number="A-10", status="sent", amount_minor=8000,
                                 currency="EUR", due_date=date(2025, 5, 1), created_at=at(2024, 11, 1)),
        "eur_processing": make_invoice(workspace_id=ws, client_id=client, number="A-11", status="processing",
                                       amount_minor=2000, currency="EUR", due_date=date(2025, 3, 1),
                                       created_at=at(2025, 2, 1)),
        "draft": make_invoice(workspace_id=ws, client_id=client, status="draft", amount_minor=100,
                              created_at=at(2025, 3, 3), client_name="@SUM(1+1)"),
        "other_workspace": make_invoice(workspace_id=world.northwind, client_id=world.northwind_client,
                                        number="N-1", status="paid", amount_minor=55555,
                                        paid_at=at(2025, 1, 10), created_at=at(2025, 1, 1)),
    }
    return made


def report(app, workspace_id, period=PERIOD, today=TODAY, time_zone=None):
    with app.app_context():
        session = get_state().session
        if time_zone and session.get_bind().dialect.name == "postgresql":
            from sqlalchemy import text

            session.execute(text(f"SET TIME ZONE '{time_zone}'"))
        return analytics.revenue_report(WorkspaceRepository(session, workspace_id), period, today)


def test_paid_revenue_per_currency_and_month(app, world, dataset):
    result = report(app, world.acme, time_zone="Pacific/Auckland")
    by_currency = {s.currency: s for s in result.currencies}

    assert sorted(by_currency) == ["EUR", "GBP", "JPY"]
    gbp, eur, jpy = by_currency["GBP"], by_currency["EUR"], by_currency["JPY"]
    # 100.00 + (200.00 - 50.00 refunded) + 50.00; the refunded invoice and the ones outside the period are out.
    assert (gbp.revenue, gbp.fees, gbp.paid_count) == (Money(30000, "GBP"), Money(1050, "GBP"), 3)
    assert [(m.month, m.invoices, m.revenue.minor) for m in gbp.months] == [
        ("2025-01", 2, 25000), ("2025-02", 0, 0), ("2025-03", 1, 5000)
    ]
    assert (eur.revenue, eur.fees) == (Money(30000, "EUR"), Money(1050, "EUR"))
    assert [m.revenue.minor for m in eur.months] == [0, 30000, 0]
    assert (jpy.revenue, jpy.fees, jpy.paid_count) == (Money(1500, "JPY"), Money(0, "JPY"), 1)


def test_outstanding_and_overdue_are_per_currency(app, world, dataset):
    by_currency = {s.currency: s for s in report(app, world.acme).currencies}

    gbp, eur = by_currency["GBP"], by_currency["EUR"]
    assert (gbp.outstanding, gbp.outstanding_count) == (Money(12000, "GBP"), 1)
    assert (gbp.overdue, gbp.overdue_count) == (Money(12000, "GBP"), 1)
    # Processing is outstanding but never overdue: the client has paid, the bank is settling.
    assert (eur.outstanding, eur.outstanding_count) == (Money(10000, "EUR"), 2)
    assert (eur.overdue, eur.overdue_count) == (Money(0, "EUR"), 0)


def test_counts_by_status_are_for_invoices_created_in_the_period(app, world, dataset):
    counts = report(app, world.acme).status_counts

    assert counts == {"draft": 1, "sent": 1, "processing": 1, "paid": 5, "voided": 0, "paid_after_void": 0,
                      "refunded": 1, "partially_paid": 0, "credited": 0}


def test_another_workspace_sees_only_its_own_figures(app, world, dataset):
    result = report(app, world.northwind)

    assert [(s.currency, s.revenue.minor) for s in result.currencies] == [("GBP", 55555)]


def test_empty_workspace_has_an_empty_report(app, world):
    result = report(app, world.acme)
    assert result.is_empty and result.currencies == []


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (date(2025, 3, 1), date(2025, 1, 1), "start date must be on or before the end date"),
        (date(1999, 1, 1), date(2025, 1, 1), "on or after"),
        (date(2005, 1, 1), date(2025, 1, 1), "at most ten years"),
        (date(2025, 1, 1), date(2030, 1, 1), "no later than the end of next year"),
    ],
)
def test_invalid_periods_are_refused_with_a_reason(start, end, message):
    with pytest.raises(analytics.RangeError, match=message):
        analytics.validate_range(start, end, TODAY)


def test_default_period_is_the_last_twelve_months():
    assert analytics.validate_range(None, None, TODAY) == analytics.DateRange(date(2024, 5, 1), TODAY)
    assert analytics.default_range(date(2025, 12, 31)).start == date(2025, 1, 1)


# --- The page ------------------------------------------------------------------------------


def test_page_shows_each_currency_separately_with_a_chart(app, world, dataset, staff_client):
    response = staff_client.get(f"/invoicing/analytics?{QUERY}")

    assert response.status_code == 200
    html = response.text
    for amount in ("£300.00", "€300.00", "¥1,500", "£10.50", "€10.50", "£120.00", "€100.00"):
        assert amount in html, amount
    assert "£600.00" not in html and "600.00" not in html  # GBP and EUR never added together
    charts = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(charts) == 3
    gbp_chart = next(c for c in charts if "in GBP" in c)
    assert re.search(r'role="img" aria-labelledby="inv-chart-title-\d+ inv-chart-desc-\d+"', gbp_chart)
    assert "<title" in gbp_chart and "<desc" in gbp_chart and "Month of payment" in gbp_chart
    assert re.findall(r'data-month="([\d-]+)" data-minor="(\d+)"', gbp_chart) == [
        ("2025-01", "25000"), ("2025-02", "0"), ("2025-03", "5000")
    ]
    assert 'href="/invoicing/analytics/invoices.csv?start=2025-01-01&amp;end=2025-03-31"' in html


def test_page_appears_in_the_plugin_navigation(app, world, staff_client):
    html = staff_client.get("/invoicing/analytics").text
    assert re.search(r'href="/invoicing/analytics"[^>]*>\s*Revenue', html)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2025-13-01", "Enter the start date as YYYY-MM-DD"),
        ("end=yesterday", "Enter the end date as YYYY-MM-DD"),
        ("start=2025-03-01&end=2025-01-01", "The start date must be on or before the end date."),
    ],
)
def test_bad_periods_get_a_clear_message_not_an_error_page(app, world, staff_client, query, message):
    response = staff_client.get(f"/invoicing/analytics?{query}")

    assert response.status_code == 400
    assert message in response.text
    assert "Showing the last 12 months instead." in response.text
    assert staff_client.get(f"/invoicing/analytics/invoices.csv?{query}").status_code == 400


def test_only_billing_staff_see_revenue(app, world):
    member = login(app.test_client(), world.member_email, world.acme_slug)
    assert member.get("/invoicing/analytics").status_code == 403
    assert member.get("/invoicing/analytics/invoices.csv").status_code == 403
    owner_in_internal = login(app.test_client(), world.owner_email, world.internal_slug)
    assert owner_in_internal.get("/invoicing/analytics").status_code == 404


# --- CSV ---------------------------------------------------------------------------------------


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_csv_lists_the_invoices_behind_the_figures(app, world, dataset, staff_client):
    response = staff_client.get(f"/invoicing/analytics/invoices.csv?{QUERY}")

    assert 'filename="invoices-2025-01-01-to-2025-03-31.csv"' in response.headers["Content-Disposition"]
    rows = {row["number"] or "(draft)": row for row in read_csv(response)}
    # Paid in the period, outstanding now, or created in the period; never another workspace's.
    assert sorted(rows) == sorted(["A-1", "A-2", "A-3", "A-4", "A-5", "A-8", "A-9", "A-10", "A-11", "(draft)"])
    a2 = rows["A-2"]
    assert (a2["counted_as"], a2["currency"], a2["amount"], a2["amount_minor"]) == ("revenue", "GBP", "200.00", "20000")
    assert (a2["amount_refunded"], a2["amount_refunded_minor"], a2["platform_fee"], a2["fee_bps"]) == (
        "50.00", "5000", "7.00", "350")
    assert a2["paid_at"] == "2025-01-31T23:59:59+00:00"
    assert (rows["A-5"]["amount"], rows["A-5"]["amount_paid"], rows["A-5"]["amount_paid_minor"]) == (
        "1500", "1500", "1500")  # JPY: no decimals; marked paid by hand counts the invoice amount
    assert rows["A-9"]["counted_as"] == "overdue" and rows["A-9"]["status"] == "overdue"
    assert rows["A-11"]["counted_as"] == "outstanding"
    assert rows["A-8"]["counted_as"] == ""


def test_csv_cannot_inject_spreadsheet_formulas(app, world, dataset, staff_client):
    rows = {row["number"] or "(draft)": row for row in read_csv(
        staff_client.get(f"/invoicing/analytics/invoices.csv?{QUERY}"))}

    assert rows["A-4"]["client"] == "'=HYPERLINK(\"http://evil\")"
    assert rows["A-9"]["client"] == "'+cmd|' /C calc'!A0"
    assert rows["(draft)"]["client"] == "'@SUM(1+1)"
    assert analytics.csv_safe("-2+3") == "'-2+3" and analytics.csv_safe("Acme") == "Acme"


HOSTILE = [
    "  =HYPERLINK(\"http://evil\")",  # leading spaces
    "\u00a0+cmd|' /C calc'!A0",  # no-break space
    "\u3000@SUM(1+1)",  # ideographic space
    "\u200b\ufeff-2+3",  # zero-width space, BOM
    "\uff1dHYPERLINK(\"http://evil\")",  # full-width ＝
    "\uff0b1+1", "\uff0d1+1", "\uff20SUM(A1)",  # full-width ＋ － ＠
    "\t=1+1", "\r\n=1+1",  # tab, CR/LF
    "\u2212 1+1",  # MINUS SIGN
]


def test_csv_neutralises_formulas_behind_whitespace_and_look_alikes(app, world, staff_client, make_invoice):
    """Every text cell from users or the host, whatever Unicode comes first (OWASP CSV Injection)."""
    for index, hostile in enumerate(HOSTILE, start=1):
        make_invoice(workspace_id=world.acme, client_id=world.client_a, number=f"H-{index}", status="sent",
                     amount_minor=1000 * index, created_at=at(2025, 2, index), due_date=date(2025, 5, 1),
                     client_name=hostile, description=hostile, subject_title=hostile)
    make_invoice(workspace_id=world.acme, client_id=world.client_a, number="H-semicolon", status="sent",
                 created_at=at(2025, 3, 1), due_date=date(2025, 5, 1), client_name="Acme;=1+1")
    response = staff_client.get(f"/invoicing/analytics/invoices.csv?{QUERY}")
    raw = response.get_data(as_text=True)
    rows = {row["number"]: row for row in read_csv(response)}

    for index, hostile in enumerate(HOSTILE, start=1):
        row = rows[f"H-{index}"]
        for column in ("client", "description", "engagement"):
            assert row[column] == "'" + hostile, (column, hostile)  # neutralised, otherwise unchanged
        # Numbers the plugin writes stay numbers.
        assert (row["amount_minor"], row["amount"]) == (str(1000 * index), f"{10 * index}.00")
    # Every field is quoted, so a spreadsheet splitting on ";" (its locale's list separator)
    # cannot cut "Acme;=1+1" in two and start a cell with "=".
    assert raw.removeprefix("\ufeff").startswith('"number","status","counted_as","client",')
    assert rows["H-semicolon"]["client"] == "Acme;=1+1" and ',"Acme;=1+1",' in raw


def test_month_expression_compiles_per_dialect():
    from sqlalchemy.dialects import postgresql, sqlite

    from invoicing_plugin.persistence.models import InvoiceTotal

    expression = analytics.month_of_day(InvoiceTotal.day)
    assert "strftime('%Y-%m', invoicing_invoice_totals.day)" in str(expression.compile(dialect=sqlite.dialect()))
    assert "to_char(invoicing_invoice_totals.day, 'YYYY-MM')" in str(expression.compile(dialect=postgresql.dialect()))


def test_overdue_starts_the_day_after_the_due_date(app, world, make_invoice):
    ws, client = world.acme, world.client_a
    make_invoice(workspace_id=ws, client_id=client, status="sent", amount_minor=100, due_date=TODAY)
    make_invoice(workspace_id=ws, client_id=client, status="sent", amount_minor=20, due_date=date(2025, 4, 14))
    make_invoice(workspace_id=ws, client_id=client, status="processing", amount_minor=3, due_date=date(2025, 1, 1))

    (gbp,) = report(app, ws).currencies

    assert (gbp.outstanding.minor, gbp.outstanding_count) == (123, 3)
    assert (gbp.overdue.minor, gbp.overdue_count) == (20, 1)


def test_every_status_is_counted(app, world, make_invoice):
    from invoicing_plugin.domain.invoice import InvoiceStatus

    for status in InvoiceStatus:
        make_invoice(workspace_id=world.acme, client_id=world.client_a, status=status.value,
                     created_at=at(2025, 2, 1))

    counts = report(app, world.acme).status_counts

    assert counts == {status.value: 1 for status in InvoiceStatus}


# --- Query plans: each figure is one range of the totals' primary key ------------------------


def _explained_report_queries(app, workspace_id):
    """Run the report, then EXPLAIN each statement it sent, with full scans and bitmap scans
    switched off so the plan shows whether the query *can* use its index (on a table this
    small the planner would otherwise rightly prefer reading the whole table)."""
    from sqlalchemy import event

    with app.app_context():
        session = get_state().session
        connection = session.connection()
        sent = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            sent.append((statement, parameters))

        event.listen(connection, "before_cursor_execute", capture)
        try:
            analytics.revenue_report(WorkspaceRepository(session, workspace_id), PERIOD, TODAY)
        finally:
            event.remove(connection, "before_cursor_execute", capture)
        postgresql = connection.dialect.name == "postgresql"
        if postgresql:
            connection.exec_driver_sql("ANALYZE invoicing_invoice_totals")
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        plans = []
        for statement, parameters in sent:
            prefix = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
            rows = connection.exec_driver_sql(prefix + statement, parameters).all()
            plans.append((statement, "\n".join(str(row[-1]) for row in rows)))
        session.rollback()
    return plans


def test_each_figure_reads_one_index_range(app, world, dataset):
    """The page reads only the kept totals, each figure one range of their primary key
    ``(workspace_id, measure, day, ...)``: never the invoices."""
    plans = _explained_report_queries(app, world.acme)
    postgresql = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")

    assert len(plans) == 3
    assert not any("invoicing_invoices" in sql for sql, _ in plans)
    (_, paid), (_, open_), (_, by_status) = plans
    if postgresql:
        for plan, bounded in ((paid, True), (open_, False), (by_status, True)):
            assert "Index Scan using pk_invoicing_invoice_totals" in plan, plan
            condition = r"Index Cond: .*workspace_id.*measure.*"
            assert re.search(condition + (r"day >= .*day <= " if bounded else ""), plan), plan
    else:
        for plan, bounded in ((paid, True), (open_, False), (by_status, True)):
            expected = "(workspace_id=? AND measure=? AND day>? AND day<?)" if bounded else \
                "(workspace_id=? AND measure=?)"
            assert f"sqlite_autoindex_invoicing_invoice_totals_1 {expected}" in plan, plan

# --- flask invoicing totals ----------------------------------------------------------------


def test_the_totals_command_checks_then_rebuilds_after_a_change_made_around_the_plugin(app, world, dataset):
    from sqlalchemy import update

    from invoicing_plugin.persistence.models import Invoice, Payment

    runner = app.test_cli_runner()
    checked = runner.invoke(args=["invoicing", "totals"])
    assert checked.exit_code == 0, checked.output
    assert "match the invoices" in checked.output

    with app.app_context():  # a data fix in psql of the cached sum alone: its payment row says otherwise
        session = get_state().session
        session.execute(update(Invoice).where(Invoice.id == dataset["gbp_jan"].id).values(amount_paid_minor=1))
        session.commit()
    cached = runner.invoke(args=["invoicing", "totals", "--workspace", world.acme])
    assert cached.exit_code == 1
    assert f"invoice {dataset['gbp_jan'].id} amount_paid_minor: cached 1, its rows sum to 10000" in cached.output

    with app.app_context():  # ... and of the payment row (issue 15: the totals count the payment rows)
        session = get_state().session
        session.execute(update(Payment).where(Payment.invoice_id == dataset["gbp_jan"].id).values(amount_minor=1))
        session.commit()
    drifted = runner.invoke(args=["invoicing", "totals", "--workspace", world.acme])
    assert drifted.exit_code == 1
    assert f"{world.acme} paid 2025-01-" in drifted.output and "GBP" in drifted.output
    assert "1 total row(s) differ" in drifted.output

    rebuilt = runner.invoke(args=["invoicing", "totals", "--rebuild", "--workspace", world.acme])
    assert rebuilt.exit_code == 0 and "Rebuilt the analytics totals of workspace" in rebuilt.output
    assert runner.invoke(args=["invoicing", "totals"]).exit_code == 0
    (gbp,) = [c for c in report(app, world.acme).currencies if c.currency == "GBP"]
    assert gbp.months[0].revenue.minor == 1 + (20000 - 5000)  # A-1 now says 1 was received, A-2 as before
