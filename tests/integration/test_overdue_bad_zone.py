"""A host that gives one workspace a time zone that is not an IANA name (issue 14, break).

Before (47d633c): ``flask invoicing overdue`` (cron) stopped with an ``UnknownTimeZone``
traceback before listing anything: one workspace's bad zone hid every other workspace's
overdue invoices and flagged none. Now the workspace is left out and named on stderr
(exit status 1), the others are listed and flagged; ``--workspace <bad>`` is a clean
error, not a traceback.
"""

from __future__ import annotations

import json
from datetime import date

import pytest


@pytest.fixture
def two_firms(app, make_invoice, request, monkeypatch):
    from host_demo import host as demo_host
    from host_demo import seed
    from invoicing_plugin import HostWorkspace
    from host_demo.models import db

    with app.app_context():
        good = seed.create_workspace("Good", plan="pro", slug="good", timezone="Europe/London")
        bad = seed.create_workspace("Bad", plan="pro", slug="bad", timezone="UTC")
        db.session.commit()
        ids = str(good.id), str(bad.id)
    # The host's own data went wrong after the fact: its answer for "Bad" carries the zone
    # (given in the host's answer, not stored, since PostgreSQL text cannot hold a NUL).
    original = demo_host._host_workspace

    def answer(workspace):
        if str(workspace.id) == ids[1]:  # built as the host builds it, with the bad zone
            return HostWorkspace(id=str(workspace.id), name=workspace.name, mode=workspace.mode,
                                 plan=workspace.plan, country=workspace.country, timezone=request.param)
        return original(workspace)

    monkeypatch.setattr(demo_host, "_host_workspace", answer)
    with app.test_request_context():
        make_invoice(workspace_id=ids[0], status="sent", number="GOOD-1", due_date=date(2020, 1, 1))
        make_invoice(workspace_id=ids[1], status="sent", number="BAD-1", due_date=date(2020, 1, 1))
    return ids


ZONES = ["Mars/Olympus", "../../etc/passwd", "UTC\x00", "America/Los_Angeles; DROP TABLE x", "Europe/" + "x" * 50]


@pytest.mark.parametrize("two_firms", ZONES, indirect=True, ids=range(len(ZONES)))
def test_one_workspace_with_a_bad_zone_does_not_stop_the_overdue_run(app, two_firms):
    good, bad = two_firms
    runner = app.test_cli_runner()

    result = runner.invoke(args=["invoicing", "overdue", "--flag", "--json"])

    assert result.exit_code == 1 and not isinstance(result.exception, (ValueError, LookupError)), result.exception
    listed = json.loads(result.stdout)
    assert [(r["number"], r["flagged"]) for r in listed] == [("GOOD-1", True)]
    assert f"workspace {bad} left out" in result.stderr and "IANA" in result.stderr

    single = runner.invoke(args=["invoicing", "overdue", "--workspace", bad])
    assert single.exit_code == 1 and isinstance(single.exception, SystemExit)
    assert "IANA" in single.output
