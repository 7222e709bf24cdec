"""A local mail sink for the demo, so invoice emails can be read without a mail server.

When the demo runs without ``INVOICING_MAIL_SERVER`` configured (and not under
tests), it starts a real SMTP server (aiosmtpd) on loopback, points the plugin's
mail settings at it, and keeps the last messages in memory. ``/outbox`` lists them
so you can open an invoice email and click its Pay Invoice button. This is demo
plumbing only: a real host configures its own SMTP server.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import Blueprint, Flask, abort, render_template
from flask_login import login_required

bp = Blueprint("outbox", __name__, url_prefix="/outbox")


@dataclass(frozen=True)
class StoredMessage:
    id: int
    received_at: datetime
    to: str
    subject: str
    text: str
    links: tuple[str, ...]


class Outbox:
    def __init__(self, size: int = 50) -> None:
        self._messages: deque[StoredMessage] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._next_id = 1

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text_part = message.get_body(preferencelist=("plain",))
        html_part = message.get_body(preferencelist=("html",))
        html = html_part.get_content() if html_part else ""
        links = tuple(dict.fromkeys(re.findall(r'href="(https?://[^"]+)"', html)))
        with self._lock:
            self._messages.appendleft(
                StoredMessage(
                    id=self._next_id,
                    received_at=datetime.now(timezone.utc),
                    to=str(message["To"]),
                    subject=str(message["Subject"]),
                    text=text_part.get_content() if text_part else "",
                    links=links,
                )
            )
            self._next_id += 1
        return "250 Message accepted for delivery"

    def messages(self) -> list[StoredMessage]:
        with self._lock:
            return list(self._messages)


_outbox = Outbox()


def maybe_start_mail_sink(app: Flask) -> None:
    """Start the sink when no mail server is configured (demo runs only)."""
    app.register_blueprint(bp)
    if app.testing or app.config.get("INVOICING_MAIL_SERVER"):
        return
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        app.logger.warning("aiosmtpd is not installed: invoice emails will fail without INVOICING_MAIL_SERVER")
        return
    port = int(os.environ.get("DEMO_SMTP_PORT", "8025"))
    with socket.socket() as probe:
        taken = probe.connect_ex(("127.0.0.1", port)) == 0
    if not taken:
        controller = Controller(_outbox, hostname="127.0.0.1", port=port)
        controller.start()
        app.extensions["host_demo.mail_sink"] = controller
    app.config.update(INVOICING_MAIL_SERVER="127.0.0.1", INVOICING_MAIL_PORT=port, DEMO_OUTBOX=True)
    app.config.setdefault("INVOICING_MAIL_SENDER", "billing@host-demo.local")


@bp.get("/")
@login_required
def index():
    return render_template("outbox.html", messages=_outbox.messages(), message=None)


@bp.get("/<int:message_id>")
@login_required
def show(message_id: int):
    messages = _outbox.messages()
    message = next((m for m in messages if m.id == message_id), None)
    if message is None:
        abort(404)
    return render_template("outbox.html", messages=messages, message=message)
