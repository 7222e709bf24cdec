"""host_demo: a small workspace app that mounts the invoicing plugin.

It is the reference for host developers: it uses only the plugin's public API
(``Invoicing``, the host contract in ``invoicing_plugin.host`` and the template
helpers). Run it with::

    export FLASK_DEBUG=1    # or set FLASK_INVOICING_SECRET_ENCRYPTION_KEY: the plugin
                            # refuses to start a non-debug app without one
    flask --app host_demo seed              # host tables + demo data (idempotent)
    flask --app host_demo invoicing init-db # the plugin's tables
    flask --app host_demo run

Configuration: defaults below, then ``FLASK_*`` environment variables
(``FLASK_SECRET_KEY``, ``FLASK_SQLALCHEMY_DATABASE_URI``,
``FLASK_INVOICING_STRIPE_API_KEY`` ...), then the ``config`` argument.
"""

from __future__ import annotations

import os

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from invoicing_plugin import Invoicing

from . import auth, cli, tenancy, views
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

    Invoicing(app, host=DemoHost())
    _maybe_start_stripe_emulator(app)
    return app


def _maybe_start_stripe_emulator(app: Flask) -> None:
    """Hook: point the demo at the bundled Stripe emulator when no real key is set.

    Does nothing yet. It will only act when ``INVOICING_STRIPE_API_KEY`` is not
    configured and the app is not TESTING.
    """
    if app.config.get("INVOICING_STRIPE_API_KEY") or app.testing:
        return
