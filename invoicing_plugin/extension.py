"""The Flask extension: ``Invoicing(app, host=...)`` or ``invoicing.init_app(app, host=...)``.

The top of the package: it builds the per-app state, registers the pages, the CLI
and the session hooks, and no other module imports it back (they read the state
from :mod:`invoicing_plugin.state`). ``get_state`` and ``InvoicingState`` stay
importable from here for compatibility.
"""

from __future__ import annotations

import logging
from typing import Any
from weakref import WeakKeyDictionary

from flask import Flask, current_app, has_app_context

from . import config as config_module
from .cli import invoicing_cli
from .crypto import MissingKeyBox, SecretBox, SecretBoxError
from .domain.calendar import UTC
from .domain.errors import DomainError
from .domain.money import get_currency
from .gateways.stripe_gateway import GatewayRegistry
from .hooks import init_hook
from .host import InvoicingHost, workspace_zone
from .persistence import appends, totals
from .state import READ_AT_INIT, InvoicingState, get_state
from .web import register_web

__all__ = ["Invoicing", "InvoicingState", "get_state"]

log = logging.getLogger("invoicing_plugin")

_HOST_METHODS = (
    "current_workspace",
    "current_user",
    "can_manage_billing",
    "get_workspace",
    "get_client",
    "list_clients",
    "get_subject",
    "list_subjects",
)


class Invoicing:
    """Invoicing with Stripe payments for a host Flask app.

    ``host`` implements :class:`invoicing_plugin.host.InvoicingHost`. ``db`` is the
    host's Flask-SQLAlchemy instance (found in ``app.extensions`` when omitted).
    Other keyword options set config defaults by their lower-case name without the
    prefix: ``Invoicing(app, host=h, url_prefix="/billing")`` equals
    ``app.config.setdefault("INVOICING_URL_PREFIX", "/billing")``. Every setting is
    listed in :mod:`invoicing_plugin.config`.
    """

    def __init__(self, app: Flask | None = None, *, host: InvoicingHost | None = None, db: Any = None, **options: Any):
        self._host = host
        self._db = db
        self._options = options
        self._states: WeakKeyDictionary[Flask, InvoicingState] = WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, host: InvoicingHost | None = None, db: Any = None) -> None:
        if "invoicing" in app.extensions:
            raise RuntimeError(
                "Invoicing is already registered on this app. Call init_app once per app, "
                "or create one Invoicing() per app."
            )
        host = host or self._host
        _check_host(host)
        db = db or self._db or app.extensions.get("sqlalchemy")
        if db is None:
            raise RuntimeError("Invoicing needs Flask-SQLAlchemy: call db.init_app(app) before Invoicing.init_app(app).")

        for name, value in self._options.items():
            key = f"INVOICING_{name.upper()}"
            if key not in config_module.SETTINGS:
                raise TypeError(f"Invoicing() got an unknown option {name!r}")
            app.config.setdefault(key, value)
        config_module.apply_defaults(app.config)
        _check_config(app)

        state = InvoicingState(
            host=host,
            db=db,
            secret_box=_secret_box(app),
            gateways=GatewayRegistry(
                api_base=app.config["INVOICING_STRIPE_API_BASE"],
                timeout=app.config["INVOICING_STRIPE_TIMEOUT"],
                max_network_retries=app.config["INVOICING_STRIPE_MAX_NETWORK_RETRIES"],
            ),
            read_at_init={key: app.config[key] for key in READ_AT_INIT},
        )
        self._states[app] = state
        app.extensions["invoicing"] = self
        appends.install(db.session)
        totals.install(db.session)
        totals.set_default_zones(_zone_of_current_app)

        register_web(app)
        app.cli.add_command(invoicing_cli)

        if app.config["INVOICING_CREATE_TABLES"]:
            with app.app_context():
                init_hook(app)

    def state(self, app: Flask | None = None) -> InvoicingState:
        app = app or current_app._get_current_object()
        try:
            return self._states[app]
        except KeyError:
            raise RuntimeError("Invoicing is not initialised on this app.") from None


def _zone_of_current_app(workspace_id: str):
    """The time zone of ``workspace_id`` by the current app's host, for the kept totals of a
    session no unit of work has told (the webhook's, a host's own writes); UTC if unknown."""
    if not has_app_context():
        return UTC
    try:
        return workspace_zone(get_state().host, str(workspace_id))
    except Exception:  # noqa: BLE001 - never fail a write over it; `flask invoicing totals` reports drift
        log.exception("could not ask the host for workspace %s's time zone; counting its day in UTC", workspace_id)
        return UTC


def _check_host(host: Any) -> None:
    if host is None:
        raise TypeError("Invoicing needs a host: Invoicing(app, host=MyHost()). See invoicing_plugin.host.")
    missing = [name for name in _HOST_METHODS if not callable(getattr(host, name, None))]
    if not isinstance(getattr(host, "base_template", None), str):
        missing.append("base_template")
    if missing:
        raise TypeError(f"{type(host).__name__} does not implement the host contract; missing: {', '.join(missing)}")


def _check_config(app: Flask) -> None:
    unknown = config_module.unknown_keys(app.config)
    if unknown:
        raise ValueError(f"Unknown invoicing settings: {'; '.join(unknown)}")
    invalid = config_module.invalid_values(app.config)
    if invalid:
        raise ValueError(f"Invalid invoicing settings: {'; '.join(invalid)}")
    try:
        currencies = tuple(get_currency(code).code for code in app.config["INVOICING_CURRENCIES"])
        default = get_currency(app.config["INVOICING_DEFAULT_CURRENCY"]).code
    except DomainError as exc:
        raise ValueError(f"INVOICING_CURRENCIES: {exc.message}") from None
    if default not in currencies:
        raise ValueError("INVOICING_DEFAULT_CURRENCY must be one of INVOICING_CURRENCIES")
    app.config["INVOICING_CURRENCIES"] = currencies
    app.config["INVOICING_DEFAULT_CURRENCY"] = default
    prefix = app.config["INVOICING_URL_PREFIX"]
    if not prefix.startswith("/") or prefix.endswith("/"):
        raise ValueError("INVOICING_URL_PREFIX must start with '/' and not end with one, e.g. '/invoicing'")
    config_module.check_webhook_secrets(app.config)
    _warn_missing_webhook_secrets(app.config)
    _warn_links_from_host_header(app)
    for plan, bps in app.config["INVOICING_PLAN_FEES_BPS"].items():
        if not isinstance(bps, int) or isinstance(bps, bool) or not 0 <= bps <= 10_000:
            raise ValueError(f"INVOICING_PLAN_FEES_BPS[{plan!r}] must be whole basis points between 0 and 10000")


def _warn_links_from_host_header(app: Flask) -> None:
    """Without ``INVOICING_EXTERNAL_URL``, the links emailed to clients (pay, portal) are built
    from the request's ``Host`` header. Flask checks that header only against
    ``TRUSTED_HOSTS`` (or ``SERVER_NAME``); with neither, any host name a request carries ends
    up in emails. Say so when a production app (not debug, not testing) serves its first
    request -- not at start-up, which every ``flask ...`` command goes through."""
    config = app.config
    if config.get("INVOICING_EXTERNAL_URL") or config.get("TRUSTED_HOSTS") or config.get("SERVER_NAME"):
        return
    if app.debug or app.testing:
        return
    _warn_on_first_request(
        app, "INVOICING_EXTERNAL_URL is not set, nor Flask's TRUSTED_HOSTS or SERVER_NAME: links emailed to "
             "clients are built from each request's Host header, which anyone can set. Set "
             "INVOICING_EXTERNAL_URL=https://your.public.address (README, Configuration)")


def _warn_missing_webhook_secrets(config) -> None:
    """With a platform key, both platform endpoints are needed (docs/webhooks.md, Set-up):
    say at start-up which kind of event would be refused, before Stripe disables the endpoint."""
    if not config.get("INVOICING_STRIPE_API_KEY"):
        return  # own-key workspaces only: their endpoints carry their own secrets
    for kind, setting, events in (
        ("account", "INVOICING_STRIPE_WEBHOOK_SECRET", "payments, refunds and disputes"),
        ("connect", "INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET", "connected accounts' updates and deauthorizations"),
    ):
        if not config_module.webhook_secrets(config, kind):
            log.warning("%s is not set: Stripe's events of the %s endpoint (%s) will be refused until it is "
                        "(see docs/webhooks.md, Set-up)", setting, kind, events)


MISSING_KEY_WARNING = (
    "INVOICING_SECRET_ENCRYPTION_KEY is not set: workspaces cannot connect their own Stripe key, "
    "and stored Stripe secrets cannot be read, until it is set. Make one with "
    "`flask invoicing generate-key`.")


def _warn_on_first_request(app: Flask, message: str) -> None:
    """Log ``message`` once, when the app serves its first request -- not at start-up, where
    every ``flask ...`` command loads the app: ``flask invoicing generate-key``, the very
    command that makes the missing key, prints only the key."""
    warned: list[bool] = []

    @app.before_request
    def _invoicing_startup_warning() -> None:
        if not warned:
            warned.append(True)
            log.warning(message)


def _secret_box(app: Flask) -> SecretBox | MissingKeyBox:
    """The app's secret box. A key that is set must be a Fernet key (start-up stops otherwise);
    a production app without one still starts, and needs it only when a Stripe secret is
    stored or read (:class:`~invoicing_plugin.crypto.MissingKeyBox`)."""
    key = app.config["INVOICING_SECRET_ENCRYPTION_KEY"]
    if not key and not (app.debug or app.testing):
        _warn_on_first_request(app, MISSING_KEY_WARNING)
        return MissingKeyBox()
    if not key:
        _warn_on_first_request(app, "INVOICING_SECRET_ENCRYPTION_KEY is not set; deriving one from SECRET_KEY "
                                    "(debug and testing mode only)")
    try:
        return SecretBox.from_config(key, fallback_secret=app.config.get("SECRET_KEY"))
    except SecretBoxError as exc:
        raise RuntimeError(str(exc)) from None
