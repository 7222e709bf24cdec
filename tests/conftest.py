"""Shared fixtures: real parts only.

- Database: every test that uses ``app`` runs twice, on SQLite and on a real
  PostgreSQL server started for the session (``--db`` picks backends).
- Stripe: the project's emulator over HTTP, driven by the real ``stripe`` SDK.
- Email: a real SMTP server (aiosmtpd) on loopback.

With ``CI=true`` a missing PostgreSQL is a failure, never a skip.
"""

from __future__ import annotations

import os

import pytest

from tests.support.live_server import LiveServer
from tests.support.postgres import PostgresServer, PostgresUnavailable
from tests.support.smtp import SMTPServer

# The Stripe emulator's fixtures (stripe_emulator, stripe_emulator_server,
# stripe_emulator_client): opt-in, as for any host app's test suite.
pytest_plugins = ["invoicing_plugin.testing.pytest_plugin"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PLATFORM_KEY = "sk_test_platform0000000000000001"
WEBHOOK_SECRET = "whsec_test_platform_secret_0001"  # the platform's account endpoint
CONNECT_WEBHOOK_SECRET = "whsec_test_connect_secret_0002"  # the platform's Connect endpoint
ENCRYPTION_KEY = "mY0AV2Ev8VoNLy6MeYVb5T_Gy0r1m2PBJ7lTqP3d7lY="


def pytest_addoption(parser):
    parser.addoption(
        "--db",
        default=os.environ.get("INVOICING_TEST_DB", "sqlite,postgresql"),
        help="comma-separated database backends for integration tests: sqlite, postgresql",
    )


def pytest_generate_tests(metafunc):
    if "db_backend" in metafunc.fixturenames:
        backends = [b.strip() for b in metafunc.config.getoption("--db").split(",") if b.strip()]
        keywords = metafunc.definition.keywords
        if "postgresql_only" in keywords:
            backends = ["postgresql"]
        elif "sqlite_only" in keywords:
            backends = ["sqlite"]
        elif "e2e" in keywords or metafunc.definition.path.parent.name == "e2e":
            backends = ["sqlite"]  # the browser tests exercise pages, not the database
        metafunc.parametrize("db_backend", backends, scope="function")


def unavailable(message: str):
    """Fail in CI, skip elsewhere: a missing real part is never silently ignored in CI."""
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server():
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        unavailable(f"PostgreSQL is required: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_database(postgres_server):
    return postgres_server.create_database("invoicing_test")


@pytest.fixture(scope="session")
def smtp_server():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server):
    smtp_server.mailbox.clear()
    return smtp_server.mailbox


@pytest.fixture
def database_url(db_backend, request, tmp_path):
    if db_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    if db_backend == "postgresql":
        return request.getfixturevalue("postgres_database")
    raise ValueError(f"unknown --db backend {db_backend!r}")


@pytest.fixture
def app_config(database_url, stripe_emulator, smtp_server, tmp_path):
    """Config for host_demo with the plugin pointed at the emulator and the SMTP server."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
        "WTF_CSRF_ENABLED": False,
        "DEMO_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast hashes for test users
        "INVOICING_STRIPE_API_KEY": PLATFORM_KEY,
        "INVOICING_STRIPE_API_BASE": stripe_emulator.url,
        "INVOICING_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_WEBHOOK_SECRET,
        "INVOICING_STRIPE_MAX_NETWORK_RETRIES": 0,
        "INVOICING_SECRET_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "INVOICING_MAIL_SERVER": "127.0.0.1",
        "INVOICING_MAIL_PORT": smtp_server.port,
        "INVOICING_MAIL_SENDER": "billing@host.test",
    }


@pytest.fixture
def app(app_config, db_backend):
    """host_demo with the plugin mounted, on a fresh schema; tables emptied afterwards."""
    from host_demo import create_app
    from host_demo.models import db
    from invoicing_plugin.hooks import init_hook

    flask_app = create_app(app_config)
    with flask_app.app_context():
        db.create_all()
        init_hook(flask_app)
    yield flask_app
    with flask_app.app_context():
        db.session.remove()
        if db_backend == "postgresql":
            _truncate_all(db)
        db.engine.dispose()


def _truncate_all(db):
    from sqlalchemy import inspect, text

    from invoicing_plugin.persistence.models import metadata as plugin_metadata

    names = [t.name for t in db.metadata.sorted_tables] + [t.name for t in plugin_metadata.sorted_tables]
    existing = set(inspect(db.engine).get_table_names())
    names = [n for n in names if n in existing]
    if names:
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def client(app):
    """A test client of ``app`` (each request gets its own app context, as in production)."""
    return app.test_client()


@pytest.fixture
def live_server(app):
    """The ``app`` served over real HTTP (for the browser and for webhook deliveries)."""
    server = LiveServer(app).start()
    yield server
    server.stop()
