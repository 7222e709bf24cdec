"""The suite's SMTP server: the plugin's own :class:`~invoicing_plugin.testing.mail_sink.MailSink`
(a real aiosmtpd server on loopback), plus a domain whose recipients it refuses."""

from __future__ import annotations

from email.message import EmailMessage

from invoicing_plugin.testing.mail_sink import MailSink


class Mailbox(MailSink):
    """Messages the server accepted, parsed with the modern email policy."""

    #: Recipients at this domain are refused for good (550), like a mailbox that does not exist.
    REFUSED_DOMAIN = "@refused.test"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # aiosmtpd handler hook
        if address.lower().endswith(self.REFUSED_DOMAIN):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """What arrived once there are ``count`` messages, or after ``timeout`` seconds
        (fewer: the tests assert on the list, e.g. that nothing was sent)."""
        try:
            return super().wait_for(count, timeout)
        except AssertionError:
            return self.messages


class SMTPServer:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = self.mailbox.port

    def start(self) -> "SMTPServer":
        self.mailbox.start()
        return self

    def stop(self) -> None:
        self.mailbox.stop()
