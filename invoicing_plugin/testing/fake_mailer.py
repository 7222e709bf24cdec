"""A mailer that records messages instead of sending them (for fast tests without SMTP).

Same interface as :class:`invoicing_plugin.gateways.mail.Mailer` (it is one): ``build``
gives the real ``EmailMessage`` and ``send`` returns its Message-ID, or raises
:class:`~invoicing_plugin.gateways.mail.MailError` when told to fail. Give it to a
:class:`~invoicing_plugin.services.uow.UnitOfWork` as ``mailer=``::

    mailer = FakeMailer()
    uow = UnitOfWork(session, host=host, mailer=mailer, ...)
    ...
    assert [m.to for m in mailer.outbox] == ["ada@client.test"]
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from ..config import SETTINGS
from ..gateways.mail import Mailer, MailError, OutgoingEmail

__all__ = ["FakeMailer"]


class FakeMailer(Mailer):
    """Records every message it is asked to send.

    ``outbox`` holds the :class:`OutgoingEmail` objects sent, ``messages`` the
    ``EmailMessage`` each became. Set ``fail_with`` to a message to make the next
    sends raise :class:`MailError` (nothing is recorded then).
    """

    def __init__(self, config: Mapping[str, Any] | None = None, *, fail_with: str | None = None) -> None:
        settings = {key: setting.default for key, setting in SETTINGS.items() if key.startswith("INVOICING_MAIL_")}
        settings.update(config or {})
        super().__init__(settings)
        self.outbox: list[OutgoingEmail] = []
        self.messages: list[EmailMessage] = []
        self.fail_with = fail_with

    def send(self, email: OutgoingEmail) -> str:
        if self.fail_with is not None:
            raise MailError(self.fail_with)
        message = self.build(email)
        self.outbox.append(email)
        self.messages.append(message)
        return message["Message-ID"]
