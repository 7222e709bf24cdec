"""``flask invoicing generate-key`` prints the key and nothing else (new-user report, item 8).

The stranger ran it, as the README says, before any key existed, and got a warning on
standard error that the key was missing ("...fails until it is", which read as cut off)
next to the key they were making. The warning now comes with the app's first request,
where it is news, and says what to do.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from cryptography.fernet import Fernet

from invoicing_plugin import Invoicing
from invoicing_plugin.extension import MISSING_KEY_WARNING
from tests.integration.test_extension import TinyHost
from tests.integration.test_readme_host import ROOT, blocks


def test_generate_key_without_a_key_prints_only_the_key(tmp_path):
    """The README's host, production mode, no key: stdout is one Fernet key, stderr is empty."""
    app_block, glue = blocks("python")
    (tmp_path / "app.py").write_text(app_block + "\n\n" + glue)
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLASK_")}
    env.update(FLASK_APP="app.py", FLASK_SECRET_KEY="k", FLASK_SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'h.db'}",
               FLASK_INVOICING_STRIPE_API_KEY="sk_test_genkey00000000001",
               FLASK_INVOICING_STRIPE_WEBHOOK_SECRET="whsec_a", FLASK_INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET="whsec_c",
               PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    result = subprocess.run([sys.executable, "-m", "flask", "invoicing", "generate-key"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    Fernet(lines[0])  # a usable key, and only that


def test_the_missing_key_warning_comes_once_with_the_first_request(tmp_path, caplog):
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    app = Flask(__name__)
    app.config.update(SECRET_KEY="k", INVOICING_EXTERNAL_URL="https://billing.example.com",
                      SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'w.db'}")
    SQLAlchemy(app)
    assert not (app.debug or app.testing)
    with caplog.at_level(logging.WARNING, logger="invoicing_plugin"):
        Invoicing(app, host=TinyHost())
        assert [r.getMessage() for r in caplog.records if r.name == "invoicing_plugin"] == []  # not at start-up
        client = app.test_client()
        client.get("/nowhere")
        client.get("/nowhere")
    said = [r.getMessage() for r in caplog.records if r.name == "invoicing_plugin"]
    assert said == [MISSING_KEY_WARNING]
    assert "until it is set" in MISSING_KEY_WARNING and "flask invoicing generate-key" in MISSING_KEY_WARNING
