import pytest
from flask_migrate import upgrade

from acme import create_app, db
from invoicing_plugin.testing.app_server import add_webhook_endpoints

pytest_plugins = ["invoicing_plugin.testing.pytest_plugin"]


@pytest.fixture
def app(tmp_path, stripe_emulator, app_server, mail_sink):
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test",
        "WTF_CSRF_ENABLED": False,  # the test client posts the plugin's forms
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.db'}",
        # Stripe is the emulator: given to the factory, before init_app reads it.
        "INVOICING_STRIPE_API_BASE": stripe_emulator.url,
        "INVOICING_STRIPE_API_KEY": "sk_test_acme0000000000000001",
        "INVOICING_STRIPE_WEBHOOK_SECRET": "whsec_test_account",
        "INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_test_connect",
        "INVOICING_STRIPE_MAX_NETWORK_RETRIES": 0,
        # Links in emails and Stripe's return pages point at the served app.
        "INVOICING_EXTERNAL_URL": app_server.url,
        # Emails go to a real SMTP server on loopback.
        **mail_sink.config,
    })
    with app.app_context():
        upgrade(revision="heads")  # your tables and the plugin's, as in production
    app_server.serve(app)  # over real HTTP, so the emulator's webhooks reach it
    add_webhook_endpoints(stripe_emulator, app, app_server.url)  # every test: a reset forgets them
    yield app
    with app.app_context():
        db.engine.dispose()
