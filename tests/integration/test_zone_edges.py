"""Workspace time zones at their edges: DST days of 23 and 25 hours, +14 and -11, and names
Python's zoneinfo knows beside the IANA areas. The kept totals (counted as invoices change,
in Python) must equal the rebuild (in SQL with AT TIME ZONE on PostgreSQL) on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

EDGES = [
    # zone, instant paid (UTC): just after local midnight on a DST day, or across a month end
    ("America/Los_Angeles", datetime(2031, 3, 9, 8, 30, tzinfo=timezone.utc)),   # 00:30 PST on the 23-hour day
    ("America/Los_Angeles", datetime(2031, 11, 2, 7, 30, tzinfo=timezone.utc)),  # 00:30 PDT on the 25-hour day
    ("America/Los_Angeles", datetime(2031, 11, 2, 9, 30, tzinfo=timezone.utc)),  # 01:30 PST, the second 01:30
    ("America/Los_Angeles", datetime(2031, 4, 1, 6, 59, tzinfo=timezone.utc)),   # 23:59 on 31 March, month end
    ("Pacific/Kiritimati", datetime(2031, 5, 31, 10, 0, tzinfo=timezone.utc)),   # 00:00 on 1 June (+14)
    ("Pacific/Pago_Pago", datetime(2031, 6, 1, 10, 59, tzinfo=timezone.utc)),    # 23:59 on 31 May (-11)
    ("America/Santiago", datetime(2031, 9, 7, 4, 0, tzinfo=timezone.utc)),       # DST starts at midnight
    ("Asia/Kathmandu", datetime(2031, 12, 31, 18, 15, tzinfo=timezone.utc)),     # +05:45, new year
    ("Etc/GMT-14", datetime(2031, 12, 31, 10, 0, tzinfo=timezone.utc)),
    ("Etc/UTC", datetime(2031, 12, 31, 23, 59, tzinfo=timezone.utc)),
]


@pytest.mark.parametrize("zone, paid_at", EDGES, ids=lambda v: str(v))
def test_kept_totals_equal_the_rebuild_at_zone_edges(app, make_invoice, zone, paid_at):
    from host_demo import seed
    from host_demo.models import db
    from invoicing_plugin.services import analytics

    with app.app_context():
        workspace = seed.create_workspace("Edge", plan="pro", slug="edge", timezone=zone)
        client = seed.create_client(workspace, "Client", "ap@edge.test")
        db.session.commit()
        ws, cl = str(workspace.id), str(client.id)
    with app.test_request_context():
        make_invoice(workspace_id=ws, client_id=cl, status="paid", paid_at=paid_at, amount_minor=1_234,
                     created_at=paid_at - timedelta(minutes=1))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["invoicing", "totals"])
    assert result.exit_code == 0 and "match the invoices" in result.output, result.output
    result = runner.invoke(args=["invoicing", "totals", "--rebuild"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert analytics.totals_drift(ws) == []
