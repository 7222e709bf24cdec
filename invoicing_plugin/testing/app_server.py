"""Serve a Flask app over real HTTP in a thread, for tests the emulator's webhooks must reach.

The Stripe emulator delivers webhooks over HTTP, like Stripe: a test client
(``app.test_client()``) is not enough, the app must listen on a port. :class:`AppServer`
takes a free loopback port when it is built, so its :attr:`~AppServer.url` is known before
the app exists (for ``INVOICING_EXTERNAL_URL`` and the emulator's webhook endpoints), and
serves the app given to :meth:`~AppServer.serve`::

    server = AppServer()
    app = create_app({..., "INVOICING_EXTERNAL_URL": server.url})
    server.serve(app)
    ...
    server.stop()

The pytest plugin has it as the ``app_server`` fixture (stopped after the test), and
:func:`add_webhook_endpoints` tells the emulator where the served app's webhook endpoint is.
"""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from ..config import webhook_secrets

__all__ = ["AppServer", "add_webhook_endpoints"]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-") -> None:  # one line per request is noise in tests
        pass


class AppServer:
    """A threaded Werkzeug server on ``host`` (loopback) and a free port; answers 503 until
    :meth:`serve` gives it an app."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._app = None
        self._server = make_server(host, 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread: threading.Thread | None = None

    def _wsgi(self, environ, start_response):
        app = self._app
        if app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"AppServer.serve(app) has not been called yet"]
        return app(environ, start_response)

    def serve(self, app) -> "AppServer":
        """Serve ``app`` (any WSGI app) from now on; starts the thread the first time."""
        self._app = app
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="AppServer", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()


def add_webhook_endpoints(emulator: Any, app, base_url: str) -> list[dict[str, Any]]:
    """Register ``app``'s webhook endpoint on ``emulator`` as Stripe's two platform endpoints.

    ``base_url`` is where the app is served (``app_server.url``). The endpoint is
    ``{base_url}{INVOICING_URL_PREFIX}/webhooks/stripe``: an *account* endpoint signed with
    the app's ``INVOICING_STRIPE_WEBHOOK_SECRET`` (payments, refunds, disputes) and a
    *Connect* endpoint signed with its ``INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET``
    (connected accounts' ``account.updated``...), the first secret of each while rotating;
    a setting that is not set registers no endpoint of that kind. Returns the endpoints
    as the emulator's control API does (``{"id", "url", "secret", "connect", ...}``). The ``stripe_emulator`` fixture's reset forgets endpoints: call it in each test.
    """
    url = base_url.rstrip("/") + app.config["INVOICING_URL_PREFIX"] + "/webhooks/stripe"
    endpoints = []
    for kind in ("account", "connect"):
        secrets_ = webhook_secrets(app.config, kind)
        if secrets_:
            endpoints.append(emulator.control.add_webhook_endpoint(url, secret=secrets_[0], connect=kind == "connect"))
    return endpoints
