"""The README's "Mount it in your app" section, followed literally, gives a working host.

Its code blocks are written to a fresh directory as ``app.py`` and
``templates/layout.html``; its shell block's ``flask ...`` lines are run in order, as
commands in a subprocess (``python -m flask``: Flask-Migrate configures logging for the
whole process), against an empty database of the suite's PostgreSQL server. Only the
values of the ``export`` lines are the test's own (database, the emulator's keys).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, inspect, text

from invoicing_plugin.migrations import VERSIONS_DIR
from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
GLUE_LIMIT = 40


def mount_section() -> str:
    start = README.index("## Mount it in your app")
    return README[start:README.index("\n## ", start + 1)]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", mount_section(), re.S)


def code_lines(source: str) -> list[str]:
    return [line for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_the_glue_is_at_most_40_lines():
    """The second Python block is everything the host adds: contract, init, migrations."""
    app_block, glue = blocks("python")
    assert "class Host(InvoicingHost)" in glue and "configure_flask_migrate(migrate)" in glue
    assert "invoicing_plugin" not in app_block  # the first block is the host's own app
    count = len(code_lines(glue))
    assert count <= GLUE_LIMIT
    assert f"{count} lines of glue" in mount_section()  # the README states the count it has


@pytest.fixture
def readme_host(tmp_path, postgres_server, stripe_emulator):
    """The README's app.py and layout in a fresh directory, its environment, and a runner."""
    try:
        import flask_migrate  # noqa: F401  (the test extra installs it)
    except ImportError:
        unavailable("Flask-Migrate is required (pip install -c requirements/constraints.txt .[test])")
    app_block, glue = blocks("python")
    (tmp_path / "app.py").write_text(app_block + "\n\n" + glue)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "layout.html").write_text(blocks("html")[0])
    database_url = postgres_server.create_database("readme_host")

    ours = {
        "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
        "FLASK_INVOICING_STRIPE_API_KEY": "sk_test_readme000000000001",
        "FLASK_INVOICING_STRIPE_WEBHOOK_SECRET": "whsec_readme_account",
        "FLASK_INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_readme_connect",
        "FLASK_INVOICING_STRIPE_API_BASE": stripe_emulator.url,
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    # As the suite: a warning in these commands fails the test -- except the one of Flask-Migrate's
    # own env.py template (it tries Flask-SQLAlchemy's deprecated get_engine() first).
    env["PYTHONWARNINGS"] = "error,ignore:'get_engine' is deprecated:DeprecationWarning"
    shell = blocks("sh")[1]
    for name, value in re.findall(r"(FLASK_[A-Z_]+)=(\S+)", shell):
        if name != "FLASK_INVOICING_SECRET_ENCRYPTION_KEY":  # set from `flask invoicing generate-key`, below
            env[name] = ours.get(name, value)
    assert set(ours) - {"FLASK_INVOICING_STRIPE_API_BASE"} <= set(env)  # the README sets what we override

    def flask(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "flask", *args], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"flask {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    engine = create_engine(database_url)
    yield tmp_path, env, flask, engine, shell
    engine.dispose()


def test_readme_host_migrates_an_empty_postgresql_database_to_both_heads(readme_host, monkeypatch):
    tmp_path, env, flask, engine, shell = readme_host
    commands = [line.split("#")[0].split() for line in shell.splitlines() if line.startswith("flask ")]
    assert [c[:3] for c in commands if c[1] == "db"] == [
        ["flask", "db", "init"], ["flask", "db", "upgrade"], ["flask", "db", "migrate"],
        ["flask", "db", "upgrade"], ["flask", "db", "check"],
    ]

    outputs = {}
    for command in commands:
        if command[1] == "run":
            continue
        if command[1:3] == ["invoicing", "generate-key"]:
            assert "FLASK_INVOICING_SECRET_ENCRYPTION_KEY" not in env  # before the key exists, as the README says
            key = flask(*command[1:]).stdout.strip()
            Fernet(key)  # a real key
            env["FLASK_INVOICING_SECRET_ENCRYPTION_KEY"] = key
            continue
        outputs[" ".join(command[1:3])] = flask(*[part.strip('"') for part in command[1:]])

    assert "No new upgrade operations detected" in outputs["db check"].stdout + outputs["db check"].stderr
    host_versions = sorted((tmp_path / "migrations" / "versions").glob("*.py"))
    assert len(host_versions) == 1  # the host's revision, in the host's directory
    first = host_versions[0].read_text()
    assert "down_revision = None" in first  # its own history, beside the plugin's
    assert "create_table('customer'" in first and "invoicing_" not in first
    with engine.connect() as connection:
        heads = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    plugin_head = sorted(p.name for p in Path(VERSIONS_DIR).glob("0*.py"))[-1][:4]
    assert plugin_head in heads and len(heads) == 2
    tables = set(inspect(engine).get_table_names())
    assert {"customer", "invoicing_invoices", "alembic_version"} <= tables

    # No change, no revision (what Flask-Migrate does without the plugin's hook).
    nothing = flask("db", "migrate", "-m", "nothing")
    assert "No changes in schema detected" in nothing.stdout + nothing.stderr
    assert sorted((tmp_path / "migrations" / "versions").glob("*.py")) == host_versions

    # A later revision of the host: no flag, lands after the host's own head.
    app_py = tmp_path / "app.py"
    app_py.write_text(app_py.read_text().replace(
        "    email = db.Column(db.String(200), nullable=False)\n",
        "    email = db.Column(db.String(200), nullable=False)\n    phone = db.Column(db.String(40))\n", 1))
    flask("db", "migrate", "-m", "customer phone")
    flask("db", "upgrade", "heads")
    check = flask("db", "check")
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    second = [p for p in (tmp_path / "migrations" / "versions").glob("*.py") if p not in host_versions]
    assert len(second) == 1
    first_id = re.search(r"^revision = '(\w+)'", first, re.M).group(1)
    assert f"down_revision = '{first_id}'" in second[0].read_text()
    assert "phone" in [c["name"] for c in inspect(engine).get_columns("customer")]
    # A hand-written revision goes on the host's history too.
    flask("db", "revision", "-m", "by hand")
    third = [p for p in (tmp_path / "migrations" / "versions").glob("*.py") if p not in host_versions + second]
    second_id = re.search(r"^revision = '(\w+)'", second[0].read_text(), re.M).group(1)
    assert len(third) == 1 and f"down_revision = '{second_id}'" in third[0].read_text()

    # The app itself: the plugin's pages list the host's own customers.
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO customer (name, email) VALUES ('Globex', 'billing@globex.test')"))
    for name, value in env.items():
        if name.startswith("FLASK_") and name != "FLASK_APP":
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # Flask's root path for a module it cannot import: templates/ here
    namespace = {"__name__": "readme_app"}
    exec(compile(app_py.read_text(), str(app_py), "exec"), namespace)
    app = namespace["app"]
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        client = app.test_client()
        assert client.get("/invoicing/invoices").status_code == 200
        page = client.get("/invoicing/invoices/new")
        assert page.status_code == 200 and b"Globex" in page.data and b"\xc2\xb7 Acme" in page.data
    finally:
        with app.app_context():
            namespace["db"].engine.dispose()


def test_a_host_that_ran_db_upgrade_moves_to_flask_migrate_as_the_upgrade_note_says(tmp_path):
    """README, Migrations: `flask invoicing db-upgrade` once more, `flask db stamp invoicing@head`,
    then plain Flask-Migrate -- nothing of the plugin runs twice. On SQLite, without the key."""
    app_block, glue = blocks("python")
    (tmp_path / "app.py").write_text(app_block + "\n\n" + glue)
    assert "`flask db stamp invoicing@head`" in README
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    env.update(FLASK_APP="app.py", FLASK_SECRET_KEY="k", FLASK_SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'h.db'}",
               PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
               PYTHONWARNINGS="error,ignore:'get_engine' is deprecated:DeprecationWarning")

    def flask(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "flask", *args], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"flask {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    flask("invoicing", "db-upgrade")
    flask("db", "init")
    flask("db", "stamp", "invoicing@head")
    assert "Running upgrade" not in flask("db", "upgrade", "heads")  # the plugin's tables are there already
    flask("db", "migrate", "-m", "customers")
    assert "Running upgrade  -> " in flask("db", "upgrade", "heads")  # the host's first revision only
    assert "No new upgrade operations detected" in flask("db", "check")
