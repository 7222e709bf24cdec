"""``StripeEmulator``: the emulator as a background HTTP server.

One port serves three WSGI applications chosen by path: ``/v1`` (the API
the ``stripe`` SDK talks to), ``/_emulator`` (the control API) and
everything else (hosted pages).  The server is Werkzeug's threaded server
running in a daemon thread, so a test process can start it in a few
milliseconds and stop it cleanly.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Iterable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .api import ApiApp
from .client import EmulatorControl
from .control import ControlApp
from .pages import PagesApp
from .state import DEFAULT_API_VERSION, EmulatorState, Endpoint, random_token
from .webhooks import DEFAULT_RETRY_SCHEDULE, ChaosConfig, WebhookDispatcher

logger = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """Request logging at DEBUG level instead of one stderr line per call."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        logger.debug("%s - %s", self.address_string(), message % args)


class EmulatorApp:
    """Root WSGI app: route by path prefix."""

    def __init__(self, state: EmulatorState, dispatcher: WebhookDispatcher) -> None:
        self.api = ApiApp(state)
        self.control = ControlApp(state, dispatcher)
        self.pages = PagesApp(state)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/v1/") or path == "/v1":
            return self.api(environ, start_response)
        if path.startswith("/_emulator/"):
            return self.control(environ, start_response)
        return self.pages(environ, start_response)


class StripeEmulator:
    """An offline Stripe stand-in on ``host:port`` (``port=0``: pick a free one).

    >>> emu = StripeEmulator(port=0).start()
    >>> client = emu.stripe_client("sk_test_12345678")
    >>> emu.stop()

    ``webhook_url``/``webhook_secret`` register a *configured* account endpoint that
    receives the events of every account itself (no ``account`` field), and
    ``connect_webhook_url``/``connect_webhook_secret`` a configured *Connect* endpoint
    that receives every connected account's events (they carry ``account``), each
    with its own secret (generated when not given), as Stripe has them
    (https://docs.stripe.com/connect/webhooks). Both are kept across ``reset()``.
    With only ``webhook_url``, connected accounts' events (``account.updated``...)
    reach no one, as on Stripe with one account endpoint.
    ``chaos`` is a :class:`ChaosConfig` or a dict of its fields.
    ``retry_schedule`` lists the waits (seconds) between delivery attempts;
    ``max_attempts`` defaults to one more than its length.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 webhook_url: str | None = None, webhook_secret: str | None = None,
                 connect_webhook_url: str | None = None, connect_webhook_secret: str | None = None,
                 chaos: ChaosConfig | dict | None = None,
                 retry_schedule: Iterable[float] = DEFAULT_RETRY_SCHEDULE,
                 max_attempts: int | None = None, delivery_timeout: float = 5.0) -> None:
        self.host = host
        self.port = port
        self.state = EmulatorState()
        if isinstance(chaos, dict):
            chaos = ChaosConfig.from_dict(chaos)
        self.dispatcher = WebhookDispatcher(self.state, retry_schedule=tuple(retry_schedule),
                                            max_attempts=max_attempts,
                                            timeout=delivery_timeout, chaos=chaos)
        if webhook_url:
            self.add_static_endpoint(webhook_url, webhook_secret, connect=False)
        if connect_webhook_url:
            self.add_static_endpoint(connect_webhook_url, connect_webhook_secret, connect=True)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._control: EmulatorControl | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "StripeEmulator":
        app = EmulatorApp(self.state, self.dispatcher)
        self._server = make_server(self.host, self.port, app, threaded=True,
                                   request_handler=_QuietHandler)
        self.port = self._server.server_port
        self.dispatcher.start()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="stripe-emulator-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.dispatcher.stop()

    def __enter__(self) -> "StripeEmulator":
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # ------------------------------------------------------------ access
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:53211`` (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            self._control = EmulatorControl(self.url)
        return self._control

    def base_addresses(self) -> dict[str, str]:
        """``base_addresses`` for ``stripe.StripeClient``."""
        return {"api": self.url, "connect": self.url, "files": self.url}

    def stripe_client(self, api_key: str, **options: Any):
        """A ``stripe.StripeClient`` pointed at this emulator (no network retries)."""
        import stripe

        options.setdefault("max_network_retries", 0)
        options.setdefault("stripe_version", DEFAULT_API_VERSION)
        return stripe.StripeClient(api_key, base_addresses=self.base_addresses(), **options)

    def add_static_endpoint(self, url: str, secret: str | None = None,
                            connect: bool = False,
                            enabled_events: list[str] | None = None) -> Endpoint:
        """Configured webhook endpoint for all accounts, surviving ``reset()``: an account
        endpoint (``connect=False``) or a Connect endpoint (``connect=True``)."""
        if not isinstance(connect, bool):
            raise TypeError("connect must be True (Connect endpoint) or False (account endpoint)")
        endpoint = Endpoint(id="we_" + random_token(24), url=url,
                            secret=secret or "whsec_" + random_token(32),
                            enabled_events=list(enabled_events or ["*"]), owner=None,
                            connect=connect, static=True)
        with self.state.lock:
            self.state.endpoints[endpoint.id] = endpoint
        return endpoint
