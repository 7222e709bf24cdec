"""host_demo: a small workspace app that mounts the invoicing plugin.

It is the reference for host developers: it uses only the plugin's public API
(``Invoicing``, the host contract in ``invoicing_plugin.host`` and the template
helpers). Run it with::

    export FLASK_DEBUG=1    # or set FLASK_INVOICING_SECRET_ENCRYPTION_KEY: a non-debug app
                            # without one cannot store own Stripe keys
    flask --app host_demo seed              # host tables + demo data (idempotent)
    flask --app host_demo invoicing init-db # the plugin's tables
    flask --app host_demo run

Configuration: defaults below, then ``FLASK_*`` environment variables
(``FLASK_SECRET_KEY``, ``FLASK_SQLALCHEMY_DATABASE_URI``,
``FLASK_INVOICING_STRIPE_API_KEY`` ...), then the ``config`` argument.
"""

from __future__ import annotations

import os

from flask import Flask, abort, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from invoicing_plugin import Invoicing

from . import auth, cli, outbox, tenancy, views
from .host import DemoHost
from .models import db

csrf = CSRFProtect()


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    default_db = "sqlite:///" + os.path.join(app.instance_path, "host_demo.sqlite")
    app.config.from_mapping(
        SECRET_KEY="dev-only-secret-key-change-me",
        SQLALCHEMY_DATABASE_URI=default_db,
    )
    app.config.from_prefixed_env()  # FLASK_* environment variables
    if config:
        app.config.update(config)
    if app.config["SQLALCHEMY_DATABASE_URI"] == default_db:
        os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    app.url_map.converters["id"] = DatabaseId  # before the rules that use it
    app.before_request(_refuse_nul)
    auth.login_manager.init_app(app)
    csrf.init_app(app)  # global; the plugin exempts its own webhook endpoint
    tenancy.init_app(app)

    app.register_blueprint(auth.bp)
    app.register_blueprint(views.main)
    app.register_blueprint(views.workspace)
    cli.register_commands(app)

    @app.context_processor
    def current_workspace_context():
        return {"current_membership": tenancy.current_membership()}

    _external_url_from_demo_public_url(app)
    _maybe_start_stripe_emulator(app)
    outbox.maybe_start_mail_sink(app)
    Invoicing(app, host=DemoHost())
    return app


class DatabaseId(IntegerConverter):
    """``<id:...>``: an id our ``integer`` columns can hold; any other number is a 404, not a database error."""

    def __init__(self, map) -> None:
        super().__init__(map, min=1, max=2**31 - 1)


#: The demo's own blueprints (the plugin guards its pages itself).
_OWN_BLUEPRINTS = {"main", "workspace", "auth", "outbox"}


def _refuse_nul() -> None:
    """400 for a NUL character in the path, query or form of the demo's pages.

    PostgreSQL cannot store or compare text containing NUL; refusing it here keeps
    such input from failing inside a query as a 500.
    """
    if request.blueprint not in _OWN_BLUEPRINTS:
        return
    texts = [request.path, *request.args.keys(), *request.args.values(), *request.form.keys(), *request.form.values()]
    if any("\x00" in text for text in texts):
        abort(400, description="The request contains a NUL character (%00), which this site does not accept.")


DEMO_STRIPE_KEY = "sk_test_hostdemo0platform"
DEMO_WEBHOOK_SECRET = "whsec_hostdemo_local_emulator"  # the emulator's account endpoint
DEMO_CONNECT_WEBHOOK_SECRET = "whsec_hostdemo_local_emulator_connect"  # its Connect endpoint


def _external_url_from_demo_public_url(app: Flask) -> None:
    """``DEMO_PUBLIC_URL`` (exported by scripts/demo.sh and the README's "CLI against the
    demo") is the demo's public address: use it as ``INVOICING_EXTERNAL_URL`` unless that is
    set (``FLASK_INVOICING_EXTERNAL_URL`` or the ``config`` argument), so the CLI can build
    the links it emails (``flask invoicing send-reminders``) as the server does."""
    public_url = os.environ.get("DEMO_PUBLIC_URL", "").strip().rstrip("/")
    if public_url and not app.config.get("INVOICING_EXTERNAL_URL"):
        app.config["INVOICING_EXTERNAL_URL"] = public_url


def _maybe_start_stripe_emulator(app: Flask) -> None:
    """Point the demo at the bundled Stripe emulator when no Stripe key is configured.

    Runs before the plugin is mounted, so the plugin simply sees a Stripe key, an
    API base and the two webhook secrets, as it would with real Stripe. The emulator
    listens on ``DEMO_STRIPE_EMULATOR_PORT`` (default 12111) and delivers signed
    webhooks to ``DEMO_PUBLIC_URL`` (default http://127.0.0.1:5000) from two
    endpoints, as docs/webhooks.md sets them up: an account endpoint and a Connect
    endpoint on the same URL, each with its own secret. If that port
    is already taken (another demo process, e.g. ``flask seed`` next to ``flask
    run``), the running emulator is reused. Its state lives in memory: restarting
    the demo forgets Stripe-side objects.
    """
    if app.config.get("INVOICING_STRIPE_API_KEY") or app.testing:
        return
    import socket

    port = int(os.environ.get("DEMO_STRIPE_EMULATOR_PORT", "12111"))
    public_url = os.environ.get("DEMO_PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")
    prefix = app.config.get("INVOICING_URL_PREFIX", "/invoicing")
    with socket.socket() as probe:
        already_running = probe.connect_ex(("127.0.0.1", port)) == 0
    if not already_running:
        from invoicing_plugin.testing.stripe_emulator import StripeEmulator

        emulator = StripeEmulator(
            host="127.0.0.1",
            port=port,
            webhook_url=f"{public_url}{prefix}/webhooks/stripe",
            webhook_secret=DEMO_WEBHOOK_SECRET,
            connect_webhook_url=f"{public_url}{prefix}/webhooks/stripe",
            connect_webhook_secret=DEMO_CONNECT_WEBHOOK_SECRET,
        )
        emulator.start()
        app.extensions["host_demo.stripe_emulator"] = emulator
        app.logger.warning("No Stripe key configured: using the bundled Stripe emulator at %s", emulator.url)
    app.config.update(
        INVOICING_STRIPE_API_KEY=DEMO_STRIPE_KEY,
        INVOICING_STRIPE_API_BASE=f"http://127.0.0.1:{port}",
        INVOICING_STRIPE_WEBHOOK_SECRET=DEMO_WEBHOOK_SECRET,
        INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET=DEMO_CONNECT_WEBHOOK_SECRET,
    )
