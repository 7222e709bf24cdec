"""docs/testing-your-host.md is executable (new-user report, item 2).

The page shows ``docs/examples/testing-your-host/conftest.py`` and ``test_invoice_paid.py``
verbatim; this test checks that, then runs them with pytest, in a subprocess, against the
tiny host beside them (``acme.py``, the README's app as a factory) -- after creating its
``migrations/`` as a real host has it (``flask db init``, ``upgrade heads``, ``migrate``).
The subprocess sees what a host's suite sees: no pytest plugin is auto-loaded (a host does
not get this project's), warnings are errors, and the plugin's fixtures come from the
``pytest_plugins`` opt-in alone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "testing-your-host.md"
EXAMPLE = ROOT / "docs" / "examples" / "testing-your-host"


def shown_files() -> dict[str, str]:
    return dict(re.findall(r"<!-- file: (\S+) -->\n```python\n(.*?)```", DOC.read_text(), re.S))


def test_the_page_shows_the_example_files_as_they_are():
    shown = shown_files()
    assert set(shown) == {"conftest.py", "test_invoice_paid.py"}
    for name, text in shown.items():
        assert text == (EXAMPLE / name).read_text(), f"docs/testing-your-host.md shows another {name}"


def test_the_readme_links_the_page():
    assert "docs/testing-your-host.md" in (ROOT / "README.md").read_text()


def test_the_recipe_runs_against_a_tiny_host(tmp_path):
    for module in ("flask_migrate", "aiosmtpd"):
        try:
            __import__(module)
        except ImportError:
            unavailable(f"{module} is required (pip install -c requirements/constraints.txt .[test])")
    host = tmp_path / "acme"
    shutil.copytree(EXAMPLE, host, ignore=shutil.ignore_patterns("__pycache__", "migrations", "*.db"))
    env = {name: value for name, value in os.environ.items() if not name.startswith(("FLASK_", "PYTEST_"))}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
               FLASK_APP="acme", FLASK_SECRET_KEY="k", FLASK_SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'dev.db'}",
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")

    def run(*args: str, timeout: int = 120) -> str:
        result = subprocess.run([sys.executable, "-m", *args], cwd=host, env=env, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    run("flask", "db", "init")
    run("flask", "db", "upgrade", "heads")
    run("flask", "db", "migrate", "-m", "customers")
    out = run("pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
              # Flask-Migrate's own env.py template tries Flask-SQLAlchemy's deprecated get_engine() first.
              "-W", "ignore:'get_engine' is deprecated:DeprecationWarning", timeout=300)
    assert re.search(r"\b1 passed\b", out), out


@pytest.mark.parametrize("name", ["acme.py", "conftest.py", "test_invoice_paid.py"])
def test_the_example_imports_only_public_names(name):
    text = (EXAMPLE / name).read_text()
    private = re.findall(r"from invoicing_plugin\.(?!testing\.app_server|migrations\b)[\w.]+ import", text)
    assert private == []


def test_add_webhook_endpoints_follows_the_apps_prefix_and_secrets(tmp_path, stripe_emulator):
    """The stranger's host mounts the plugin under /billing: the endpoints must say so."""
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    from invoicing_plugin import Invoicing
    from invoicing_plugin.testing.app_server import add_webhook_endpoints
    from invoicing_plugin.testing.fake_host import FakeHost

    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="k", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'h.db'}",
                      INVOICING_URL_PREFIX="/billing",
                      INVOICING_STRIPE_WEBHOOK_SECRET=["whsec_new_account", "whsec_old_account"],
                      INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET="whsec_connect")
    SQLAlchemy(app)
    host = FakeHost()
    host.base_template = "layout.html"
    Invoicing(app, host=host)
    endpoints = add_webhook_endpoints(stripe_emulator, app, "http://127.0.0.1:5999/")
    assert [(e["url"], e["secret"], e["connect"]) for e in endpoints] == [
        ("http://127.0.0.1:5999/billing/webhooks/stripe", "whsec_new_account", False),
        ("http://127.0.0.1:5999/billing/webhooks/stripe", "whsec_connect", True),
    ]
