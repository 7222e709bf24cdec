"""A production app without ``INVOICING_SECRET_ENCRYPTION_KEY`` starts; only secrets need the key.

The key encrypts the Stripe secret key and webhook signing secret of workspaces that
connect their own Stripe account. Everything else -- ``flask invoicing generate-key``
(which the error message recommends), ``flask db ...``, the pages -- works without it;
storing or reading such a secret fails with the same clear message, before any call
to Stripe and without storing anything.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from invoicing_plugin.persistence.models import StripeConnection
from tests.conftest import unavailable
from tests.integration.conftest import login
from tests.integration.test_readme_host import ROOT, blocks

REQUIRED = "INVOICING_SECRET_ENCRYPTION_KEY is required in production"
BASE = "/invoicing/connected-apps"


@pytest.fixture
def keyless(app, app_config):
    """host_demo started again on the same database as a production app (not debug, not
    testing) without INVOICING_SECRET_ENCRYPTION_KEY."""
    from host_demo import create_app
    from host_demo.models import db

    config = {name: value for name, value in app_config.items() if name != "INVOICING_SECRET_ENCRYPTION_KEY"}
    started = create_app({**config, "TESTING": False, "DEBUG": False})
    assert not (started.testing or started.debug)
    yield started
    with started.app_context():
        db.session.remove()
        db.engine.dispose()


def test_generate_key_works_without_the_key(keyless):
    result = keyless.test_cli_runner().invoke(args=["invoicing", "generate-key"])
    assert result.exit_code == 0, result.output
    Fernet(result.output.strip())  # a usable key


def test_commands_that_need_no_secret_work_without_the_key(keyless):
    runner = keyless.test_cli_runner()
    for args in (["invoicing", "info"], ["invoicing", "overdue"], ["invoicing", "init-db"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, (args, result.output)


def test_flask_db_works_without_the_key(tmp_path):
    """The README's host (Flask-Migrate) on SQLite, production mode, no key: `flask db` runs."""
    try:
        import flask_migrate  # noqa: F401
    except ImportError:
        unavailable("Flask-Migrate is required (pip install -c requirements/constraints.txt .[test])")
    app_block, glue = blocks("python")
    (tmp_path / "app.py").write_text(app_block + "\n\n" + glue)
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLASK_")}
    env.update(FLASK_APP="app.py", FLASK_SECRET_KEY="k", FLASK_SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'h.db'}",
               PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))

    def flask(*args):
        result = subprocess.run([sys.executable, "-m", "flask", *args], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"flask {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    flask("db", "init")
    flask("db", "upgrade", "heads")
    assert re.search(r"\b0\d{3} \(head\)", flask("db", "current"))  # the plugin's head, recorded


def test_connecting_an_own_key_without_the_key_is_refused_before_calling_stripe(keyless, world, stripe_emulator):
    endpoints_before = set(stripe_emulator.state.endpoints)
    client = login(keyless.test_client(), world.owner_email, world.acme_slug)

    response = client.post(f"{BASE}/stripe/key", data={"secret_key": "sk_test_" + "a1" * 12})

    assert response.status_code == 422  # the form's refusal, as for a key Stripe refuses
    assert REQUIRED in response.text
    assert set(stripe_emulator.state.endpoints) == endpoints_before  # no webhook endpoint registered
    with keyless.app_context():
        from host_demo.models import db

        connection = db.session.scalar(select(StripeConnection).where(StripeConnection.workspace_id == world.acme))
        assert connection is None or connection.secret_key_encrypted is None


def test_a_stored_secret_without_the_key_is_unreadable_and_says_why(app, world, staff_client, keyless, caplog):
    assert staff_client.post(f"{BASE}/stripe/key", data={"secret_key": "sk_test_" + "b2" * 12}).status_code == 302

    with caplog.at_level(logging.WARNING, logger="invoicing_plugin"):
        result = keyless.test_cli_runner().invoke(args=["invoicing", "info"])
        page = login(keyless.test_client(), world.owner_email, world.acme_slug).get(f"{BASE}/")

    assert result.exit_code == 0, result.output
    assert "INVOICING_SECRET_ENCRYPTION_KEY cannot decrypt: 1 workspace(s)" in result.output
    assert f"workspace {world.acme}" in result.output
    assert page.status_code == 200 and 'data-status="key_unreadable"' in page.text
    assert any(REQUIRED in record.getMessage() for record in caplog.records)
