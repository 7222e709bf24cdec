"""Outgoing email over SMTP (the standard library's smtplib; no framework needed).

Services build an :class:`OutgoingEmail` (plain text plus HTML alternative) and
hand it to :class:`Mailer`. Every SMTP failure becomes :class:`MailError` with a
message staff can read, so the caller can leave its data unchanged and say why.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Mapping

from ..domain.email import deliverable_address
from ..domain.errors import InvoicingError

# Line breaks and other control characters (C0, DEL, C1, Unicode line/paragraph separators).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str | None) -> str:
    """``text`` for a header's display part (a name, a subject): control characters and
    line breaks folded to one space. Host data (a client's or workspace's name) may hold
    them; a header must not (``email`` refuses CR/LF: the email could never be built)."""
    return " ".join(_CONTROLS.sub(" ", text or "").split())


class MailError(InvoicingError):
    """The mail server refused or could not be reached; ``message`` is fit to show to staff.

    ``permanent``: trying again cannot help (the recipient is not one deliverable
    address); the outbox gives such an email up at once.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str | None = None
    to_name: str | None = None
    reply_to: str | None = None


class Mailer:
    #: The longest one send may take in all, in seconds, however the server dribbles its
    #: answers (``INVOICING_MAIL_TIMEOUT`` bounds each read only). Shorter than half the
    #: outbox's lease (:data:`invoicing_plugin.services.outbox.LEASE`), so a send is over,
    #: and recorded, before another deliverer may claim the same email.
    max_send_seconds: float = 120.0

    def __init__(self, config: Mapping) -> None:
        self.host = config["INVOICING_MAIL_SERVER"]
        self.port = int(config["INVOICING_MAIL_PORT"])
        self.use_tls = bool(config["INVOICING_MAIL_USE_TLS"])
        self.use_ssl = bool(config["INVOICING_MAIL_USE_SSL"])
        self.username = config["INVOICING_MAIL_USERNAME"]
        self.password = config["INVOICING_MAIL_PASSWORD"]
        self.sender = config["INVOICING_MAIL_SENDER"]
        self.timeout = float(config["INVOICING_MAIL_TIMEOUT"])

    @staticmethod
    def recipient(email: OutgoingEmail) -> str:
        """The one address ``email`` goes to; :class:`MailError` (``permanent``) when ``email.to``
        is not exactly one plain address (a list, ``Name <addr>``, line breaks...)."""
        address = deliverable_address(email.to)
        if address is None:
            shown = one_line(str(email.to or ""))[:100]
            raise MailError(f"The recipient {shown!r} is not one e-mail address; the email cannot be delivered.",
                            permanent=True)
        return address

    def build(self, email: OutgoingEmail) -> EmailMessage:
        """The message; raises :class:`MailError` (``permanent``) for a recipient that is not one address.

        Display text (the recipient's name, the subject) is folded to one line (:func:`one_line`);
        a ``reply_to`` that is not one address is left out.
        """
        to = self.recipient(email)
        name = one_line(email.to_name)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = formataddr((name, to)) if name else to
        message["Subject"] = one_line(email.subject)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        reply_to = deliverable_address(email.reply_to) if email.reply_to else None
        if reply_to:
            message["Reply-To"] = reply_to
        message.set_content(email.text)
        if email.html:
            message.add_alternative(email.html, subtype="html")
        return message

    def send(self, email: OutgoingEmail) -> str:
        """Send to the one recipient and return the Message-ID; raise :class:`MailError` on any failure.

        The envelope's recipient is :meth:`recipient` (never addresses read from the
        headers). Once the server has accepted the message (its reply to DATA), the email
        is delivered: a failing QUIT afterwards is ignored, so it is not sent twice. The
        whole exchange is cut off after :attr:`max_send_seconds`.
        """
        message = self.build(email)
        to = self.recipient(email)
        smtp_class = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
        smtp = smtp_class(timeout=self.timeout)  # not connected yet: the deadline covers the greeting too
        expired = threading.Event()

        def cut_off() -> None:
            expired.set()
            sock = getattr(smtp, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked read
                except OSError:
                    pass

        timer = threading.Timer(self.max_send_seconds, cut_off)
        timer.daemon = True
        timer.start()
        try:
            try:
                smtp.connect(self.host, self.port)
                if self.use_tls and not self.use_ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message, to_addrs=[to])
            except (smtplib.SMTPException, OSError, socket.timeout) as exc:
                if expired.is_set():
                    raise MailError(f"The email could not be sent: the mail server did not finish within "
                                    f"{self.max_send_seconds:g} seconds.") from exc
                raise MailError(f"The email could not be sent ({type(exc).__name__}: {exc}).") from exc
            try:  # accepted: delivered, whatever the QUIT says
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
        finally:
            timer.cancel()
            smtp.close()
        return message["Message-ID"]
