"""The plugin's per-app state and :func:`get_state`, its accessor.

A leaf, like Flask-Security-Too's ``proxies.py``: every layer (services, web,
webhooks, CLI) reads the state from here, and this module imports nothing of the
package at run time (the types below are for type checkers only), so reading the
state never pulls the extension, the pages or the services in. The extension
(:mod:`invoicing_plugin.extension`) builds the state in ``init_app`` and keeps it;
:func:`get_state` finds it through ``app.extensions["invoicing"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:
    from .crypto import MissingKeyBox, SecretBox
    from .services.ports import PaymentProvider, PaymentProviders
    from .host import InvoicingHost

__all__ = ["InvoicingState", "get_state"]


@dataclass
class InvoicingState:
    """Everything the plugin keeps per app. Reach it with :func:`get_state`.

    ``gateways`` is the payment provider (:class:`~invoicing_plugin.services.ports.PaymentProviders`:
    the Stripe gateway registry in production, a fake in fast tests).
    """

    host: InvoicingHost
    db: Any  # the host's flask_sqlalchemy.SQLAlchemy
    secret_box: SecretBox | MissingKeyBox  # MissingKeyBox: production app without a key
    gateways: PaymentProviders

    @property
    def session(self):
        return self.db.session

    def platform_gateway(self) -> PaymentProvider:
        """The gateway for the platform key (Connect). Raises GatewayError when none is set."""
        return self.gateways.for_key(current_app.config["INVOICING_STRIPE_API_KEY"])


def get_state(app: Flask | None = None) -> InvoicingState:
    """The plugin's per-app state for ``app`` (default: the current app).

    Raises ``RuntimeError`` when ``Invoicing`` is not initialised on the app.
    """
    app = app or current_app._get_current_object()
    extension = app.extensions.get("invoicing")
    if extension is None:
        raise RuntimeError("Invoicing is not initialised on this app.")
    return extension.state(app)
