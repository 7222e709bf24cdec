"""Web layer: blueprints, forms and templates. Views stay thin: parse, call a service, render."""

from __future__ import annotations

from flask import Flask

from ..webhooks.views import bp as webhooks_bp
from .analytics import bp as analytics_bp
from .connect import bp as connect_bp
from .documents import bp as documents_bp
from .input import install_input_guard, register_converters
from .invoices import bp as invoices_bp
from .outbox import bp as outbox_bp
from .portal import bp as portal_bp
from .public import bp as public_bp
from .settings import bp as settings_bp
from .templating import install_template_helpers
from .webhook_health import bp as webhook_health_bp


def register_web(app: Flask) -> None:
    """Register every blueprint of the plugin under ``INVOICING_URL_PREFIX``."""
    prefix = app.config["INVOICING_URL_PREFIX"]
    register_converters(app)  # before the rules that use it
    pages = (invoices_bp, public_bp, documents_bp, portal_bp, analytics_bp)
    for blueprint in pages:
        app.register_blueprint(blueprint, url_prefix=prefix)
    app.register_blueprint(webhooks_bp, url_prefix=prefix + "/webhooks")
    app.register_blueprint(webhook_health_bp, url_prefix=prefix + "/webhooks")
    app.register_blueprint(connect_bp, url_prefix=prefix + "/connected-apps")
    app.register_blueprint(outbox_bp, url_prefix=prefix + "/emails")
    app.register_blueprint(settings_bp, url_prefix=prefix + "/settings")
    _exempt_from_csrf(app, webhooks_bp)
    # Every page of ours refuses a NUL in its path or query; the webhook endpoint reads only its body.
    install_input_guard(app, frozenset(bp.name for bp in (*pages, webhook_health_bp, connect_bp, outbox_bp, settings_bp)))
    install_template_helpers(app)


def _exempt_from_csrf(app: Flask, blueprint) -> None:
    """The webhook endpoint authenticates by signature, so a host's global CSRF must skip it.

    The host may set up Flask-WTF's ``CSRFProtect`` before or after us, so if it is
    not there yet the exemption is applied on the first request that finds it
    (ahead of CSRFProtect's own check); after that the hook does nothing.
    """
    done = False

    def exempt() -> None:
        nonlocal done
        if not done and (csrf := app.extensions.get("csrf")) is not None:
            csrf.exempt(blueprint)
            done = True

    exempt()
    if not done:
        app.before_request_funcs.setdefault(None, []).insert(0, exempt)
