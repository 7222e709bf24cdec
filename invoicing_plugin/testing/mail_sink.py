"""A real SMTP server on loopback that keeps the messages it receives (for host tests).

Needs ``aiosmtpd`` (``pip install aiosmtpd``; it is not a dependency of the plugin).
Point the plugin at it with :attr:`MailSink.config`::

    sink = MailSink().start()
    app = create_app({..., **sink.config})   # INVOICING_MAIL_SERVER / INVOICING_MAIL_PORT
    ...
    [message] = sink.wait_for(1)             # email.message.EmailMessage
    sink.stop()

The pytest plugin (:mod:`invoicing_plugin.testing.pytest_plugin`) has it as the
``mail_sink`` fixture. For a sink to read by eye while you develop, aiosmtpd's own
command prints every message: ``python -m aiosmtpd -n -l 127.0.0.1:8025``.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage
from typing import Any

__all__ = ["MailSink"]


class MailSink:
    """An SMTP server (aiosmtpd) on ``host``:``port`` (0: a free port) keeping what it accepts.

    ``messages`` are parsed with the modern email policy (``message.get_body(("html",))``),
    each with an ``X-Envelope-To`` header naming its SMTP recipients.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        try:
            from aiosmtpd.controller import Controller
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("MailSink (the mail_sink fixture) needs aiosmtpd: pip install aiosmtpd") from None
        if port == 0:
            with socket.socket() as probe:
                probe.bind((host, 0))
                port = probe.getsockname()[1]
        self.host = host
        self.port = port
        self._messages: list[EmailMessage] = []
        self._lock = threading.Condition()
        self._controller = Controller(self, hostname=host, port=port)

    @property
    def config(self) -> dict[str, Any]:
        """The plugin's settings that send its email here (no TLS, no login)."""
        return {"INVOICING_MAIL_SERVER": self.host, "INVOICING_MAIL_PORT": self.port,
                "INVOICING_MAIL_USE_TLS": False, "INVOICING_MAIL_USE_SSL": False}

    def start(self) -> "MailSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self._lock:
            self._messages.append(message)
            self._lock.notify_all()
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        """Every message received since the last :meth:`clear`, oldest first."""
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages once there are ``count`` of them; raises ``AssertionError`` after
        ``timeout`` seconds with fewer (naming what did arrive)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    subjects = [str(m["Subject"]) for m in self._messages]
                    raise AssertionError(f"expected {count} email(s) within {timeout}s, got {subjects}")
                self._lock.wait(remaining)
            return list(self._messages)
