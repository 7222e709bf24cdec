"""The plugin's per-app state and :func:`get_state`, its accessor.

A leaf, like Flask-Security-Too's ``proxies.py``: every layer (services, web,
webhooks, CLI) reads the state from here, and this module imports nothing of the
package at run time (the types below are for type checkers only), so reading the
state never pulls the extension, the pages or the services in. The extension
(:mod:`invoicing_plugin.extension`) builds the state in ``init_app`` and keeps it;
:func:`get_state` finds it through ``app.extensions["invoicing"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:
    from .crypto import MissingKeyBox, SecretBox
    from .services.ports import PaymentProvider, PaymentProviders
    from .host import InvoicingHost

__all__ = ["READ_AT_INIT", "InvoicingState", "SettingChangedAfterInit", "get_state"]

#: The settings ``init_app`` builds something from (URL rules, the Stripe clients, the
#: secret box, the tables), read there once. Changing one of them in ``app.config``
#: afterwards would be silently ignored -- an app pointed at the emulator too late
#: would talk to ``api.stripe.com`` -- so :func:`get_state` refuses to go on instead.
READ_AT_INIT: tuple[str, ...] = (
    "INVOICING_URL_PREFIX",
    "INVOICING_STRIPE_API_BASE",
    "INVOICING_STRIPE_TIMEOUT",
    "INVOICING_STRIPE_MAX_NETWORK_RETRIES",
    "INVOICING_SECRET_ENCRYPTION_KEY",
)


class SettingChangedAfterInit(RuntimeError):
    """A setting of :data:`READ_AT_INIT` was changed in ``app.config`` after ``init_app``."""


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
    #: The values of :data:`READ_AT_INIT` that ``init_app`` used.
    read_at_init: dict[str, Any] = field(default_factory=dict)

    def check_unchanged(self, config: Any) -> None:
        """Raise :class:`SettingChangedAfterInit` when ``config`` no longer holds the values
        of :data:`READ_AT_INIT` that ``init_app`` used (a few dict look-ups)."""
        for key, value in self.read_at_init.items():
            if config.get(key) != value:
                raise SettingChangedAfterInit(
                    f"{key} was changed after Invoicing.init_app(app), which had already read it "
                    f"({value!r}, now {config.get(key)!r}); the change would be ignored. Set every "
                    "INVOICING_* setting before init_app: in the config your app factory receives "
                    "(create_app({...})), or before Invoicing(app, ...).")

    @property
    def session(self):
        return self.db.session

    def platform_gateway(self) -> PaymentProvider:
        """The gateway for the platform key (Connect). Raises GatewayError when none is set."""
        return self.gateways.for_key(current_app.config["INVOICING_STRIPE_API_KEY"])


def get_state(app: Flask | None = None) -> InvoicingState:
    """The plugin's per-app state for ``app`` (default: the current app).

    Raises ``RuntimeError`` when ``Invoicing`` is not initialised on the app, and
    :class:`SettingChangedAfterInit` (a ``RuntimeError``) when a setting ``init_app``
    read once (:data:`READ_AT_INIT`) was changed in ``app.config`` since.
    """
    app = app or current_app._get_current_object()
    extension = app.extensions.get("invoicing")
    if extension is None:
        raise RuntimeError("Invoicing is not initialised on this app.")
    state = extension.state(app)
    state.check_unchanged(app.config)
    return state
