"""Outgoing email over SMTP (the standard library's smtplib; no framework needed).

Services build an :class:`OutgoingEmail` (plain text plus HTML alternative) and
hand it to :class:`Mailer`. Every SMTP failure becomes :class:`MailError` with a
message staff can read, so the caller can leave its data unchanged and say why.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Mapping

from ..domain.errors import InvoicingError


class MailError(InvoicingError):
    """The mail server refused or could not be reached; ``message`` is fit to show to staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str | None = None
    to_name: str | None = None
    reply_to: str | None = None


class Mailer:
    def __init__(self, config: Mapping) -> None:
        self.host = config["INVOICING_MAIL_SERVER"]
        self.port = int(config["INVOICING_MAIL_PORT"])
        self.use_tls = bool(config["INVOICING_MAIL_USE_TLS"])
        self.use_ssl = bool(config["INVOICING_MAIL_USE_SSL"])
        self.username = config["INVOICING_MAIL_USERNAME"]
        self.password = config["INVOICING_MAIL_PASSWORD"]
        self.sender = config["INVOICING_MAIL_SENDER"]
        self.timeout = float(config["INVOICING_MAIL_TIMEOUT"])

    def build(self, email: OutgoingEmail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = formataddr((email.to_name, email.to)) if email.to_name else email.to
        message["Subject"] = email.subject
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        if email.reply_to:
            message["Reply-To"] = email.reply_to
        message.set_content(email.text)
        if email.html:
            message.add_alternative(email.html, subtype="html")
        return message

    def send(self, email: OutgoingEmail) -> str:
        """Send and return the Message-ID; raise :class:`MailError` on any failure."""
        message = self.build(email)
        try:
            smtp_class = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
            with smtp_class(self.host, self.port, timeout=self.timeout) as smtp:
                if self.use_tls and not self.use_ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            raise MailError(f"The email could not be sent ({type(exc).__name__}: {exc}).") from exc
        return message["Message-ID"]
