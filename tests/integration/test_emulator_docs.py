"""The emulator's documentation names only fixtures that exist and webhook paths that answer.

Read from the docstrings (``pydoc invoicing_plugin.testing.stripe_emulator``, the pytest
plugin's) and the README's opt-in section, not restated here.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from werkzeug.exceptions import MethodNotAllowed, NotFound

import invoicing_plugin.testing.pytest_plugin as pytest_plugin
import invoicing_plugin.testing.stripe_emulator as emulator
from invoicing_plugin import Invoicing
from invoicing_plugin.testing.fake_host import FakeHost

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
README_PYTEST = README[README.index("### The emulator in your pytest suite (opt-in)"):]


class Host(FakeHost):
    base_template = "layout.html"


def _fixtures_defined() -> set[str]:
    source = Path(pytest_plugin.__file__).read_text()
    return set(re.findall(r"@pytest\.fixture[^\n]*\ndef (\w+)\(", source))


def _fixture_names(text: str) -> set[str]:
    return set(re.findall(r"``?(stripe_emulator\w*)``?", text))


def test_the_docs_name_exactly_the_fixtures_the_plugin_defines():
    defined = _fixtures_defined()
    emulator_fixtures = {"stripe_emulator_server", "stripe_emulator", "stripe_emulator_client"}
    assert defined == emulator_fixtures | {"app_server", "mail_sink_server", "mail_sink"}
    pytest_section = emulator.__doc__[emulator.__doc__.index("With pytest"):emulator.__doc__.index("What it emulates")]
    assert _fixture_names(pytest_section) == emulator_fixtures
    assert _fixture_names(pytest_plugin.__doc__) == emulator_fixtures
    assert _fixture_names(README_PYTEST) == emulator_fixtures
    # The host-testing fixtures, wherever they are named, exist.
    testing_doc = (ROOT / "docs" / "testing-your-host.md").read_text()
    for text in (pytest_section, pytest_plugin.__doc__, README_PYTEST, testing_doc):
        assert set(re.findall(r"`(app_server|mail_sink\w*)`", text)) <= defined
    assert {"app_server", "mail_sink", "mail_sink_server"} <= set(re.findall(r"`(app_server|mail_sink\w*)`",
                                                                              pytest_plugin.__doc__ + testing_doc))


@pytest.mark.parametrize("text", [emulator.__doc__, pytest_plugin.__doc__, README_PYTEST],
                         ids=["emulator", "pytest_plugin", "README"])
def test_the_docs_say_the_plugin_is_opt_in(text):
    assert 'pytest_plugins = ["invoicing_plugin.testing.pytest_plugin"]' in text
    assert "-p invoicing_plugin.testing.pytest_plugin" in text
    assert "pytest11" not in text and "entry point" not in text


def _app(tmp_path, **config) -> Flask:
    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="k",
                      SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}", **config)
    SQLAlchemy(app)
    Invoicing(app, host=Host())
    return app


def _post_endpoint(app: Flask, path: str) -> str | None:
    try:
        endpoint, _ = app.url_map.bind("127.0.0.1:5000").match(path, method="POST")
    except (NotFound, MethodNotAllowed):
        return None
    return endpoint


def test_the_documented_webhook_urls_are_the_webhook_endpoint(tmp_path):
    urls = re.findall(r"http://127\.0\.0\.1:5000(/\S+?)(?=[\s`,)])", emulator.__doc__)
    default_paths = [u for u in urls if u.startswith("/invoicing/")]
    billing_paths = [u for u in urls if u.startswith("/billing/")]
    assert default_paths and billing_paths and len(default_paths) + len(billing_paths) == len(urls)

    default = _app(tmp_path)
    for path in default_paths:
        assert _post_endpoint(default, path) in ("invoicing_webhooks.stripe_webhook",
                                                 "invoicing_webhooks.stripe_connect_webhook"), path
    billing = _app(tmp_path, INVOICING_URL_PREFIX="/billing")
    for path in billing_paths:
        assert _post_endpoint(billing, path) == "invoicing_webhooks.stripe_webhook", path
    # ... and, as the docstring says, the default path answers 404 under another prefix.
    assert all(_post_endpoint(billing, path) is None for path in default_paths)
