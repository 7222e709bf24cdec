"""Fixtures for the emulator's own tests.

The emulator fixtures come from the project's pytest plugin, which tests/conftest.py
opts into (``pytest_plugins``).
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


class _Silent(WSGIRequestHandler):
    def log(self, *args, **kwargs):
        pass


@dataclass
class Received:
    headers: dict
    body: str

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A real HTTP endpoint recording what the emulator delivers.

    ``fail_first`` makes the first N requests answer 500, to exercise
    retries; ``status`` is the answer afterwards.
    """

    fail_first: int = 0
    status: int = 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            self.received.append(Received(dict(request.headers), request.get_data(as_text=True)))
            failing = len(self.received) <= self.fail_first
        response = Response("nope" if failing else "ok", status=500 if failing else self.status)
        return response(environ, start_response)

    def events(self) -> list[dict]:
        with self.lock:
            return [r.event for r in self.received]


@pytest.fixture
def webhook_receiver():
    receiver = WebhookReceiver()
    server = make_server("127.0.0.1", 0, receiver, threaded=True, request_handler=_Silent)
    receiver.url = f"http://127.0.0.1:{server.server_port}/webhook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def new_key():
    """Factory for fresh secret keys (each one is its own platform account)."""
    return lambda: "sk_test_" + secrets.token_hex(12)


@pytest.fixture
def client(stripe_emulator_client):
    return stripe_emulator_client
