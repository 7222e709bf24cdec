"""``flask invoicing ...`` with hostile arguments: a clear usage error, never a traceback.

An operator's typo (or a value pasted from somewhere else) must get click's usage
error (exit status 2) or a one-line error (exit status 1) naming the problem, and
change nothing -- not an exception from deep inside a query: a NUL character, which
PostgreSQL cannot compare with text; a ``--limit`` beyond what SQL ``LIMIT`` takes
(64-bit); a migration revision Alembic does not know. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

HOSTILE = {
    "reconcile --limit 2**63": (["reconcile", "--limit", str(2**63)], "--limit"),
    "reconcile --limit 10**30": (["reconcile", "--limit", str(10**30)], "--limit"),
    "ignored-events --workspace NUL": (["ignored-events", "--workspace", "a\x00b"], "--workspace"),
    "overdue --workspace NUL": (["overdue", "--workspace", "a\x00b"], "--workspace"),
    "overdue --json --workspace NUL": (["overdue", "--json", "--workspace", "\x00"], "--workspace"),
    "totals --workspace NUL": (["totals", "--workspace", "a\x00b"], "--workspace"),
    "totals --rebuild --workspace NUL": (["totals", "--rebuild", "--workspace", "a\x00b"], "--workspace"),
    "db-upgrade unknown revision": (["db-upgrade", "no_such_revision"], "no_such_revision"),
    "db-upgrade NUL revision": (["db-upgrade", "x\x00"], "revision"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_cli_arguments_get_a_clear_error_not_a_traceback(app, world, name):
    args, names = HOSTILE[name]
    result = app.test_cli_runner().invoke(args=["invoicing", *args])

    assert result.exit_code in (1, 2), (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "Error" in result.output and names.lower() in result.output.lower(), result.output


def test_the_same_commands_with_ordinary_arguments_still_run(app, world):
    runner = app.test_cli_runner()
    for args in (["ignored-events", "--workspace", world.acme], ["overdue", "--workspace", world.acme],
                 ["totals", "--workspace", world.acme], ["reconcile", "--limit", "1000000"]):
        result = runner.invoke(args=["invoicing", *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
        assert "Traceback" not in result.output, args
