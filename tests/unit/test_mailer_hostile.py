"""The SMTP mailer against hostile host data and misbehaving servers (issue 14, break).

* Display text (a client's name, a workspace's name in the subject) with CR/LF or other
  control characters: before, ``Mailer.build`` raised ``ValueError`` on every attempt, so the
  email was retried for hours and never delivered. Now the text is folded to one line.
* A recipient that is not exactly one address (``"a@x.test, evil@y.test"``, CR/LF, ``<...>``):
  before, the ``To`` header was used as the envelope and a comma in host data sent the
  invoice (pay link, portal link) to a second address. Now only one plain address is
  accepted, the envelope is that address, and anything else fails for good (``permanent``).
* A server that accepts the message (250 after DATA) and then fails the QUIT: before, this
  raised ``MailError`` and the outbox sent the email again. Accepted means delivered.
* A server that keeps the client waiting (a greeting dripped line by line, so the per-read
  ``INVOICING_MAIL_TIMEOUT`` never fires): before, the send hung past the outbox's lease and a
  second deliverer sent the same email. Now every send has a total deadline
  (:attr:`Mailer.max_send_seconds`, shorter than the lease).
"""

from __future__ import annotations

import email
import email.policy
import time

import pytest

from invoicing_plugin.gateways.mail import Mailer, MailError, OutgoingEmail
from tests.support.rogue_smtp import RogueSMTP

HOSTILE_TEXT = ["Acme\r\nBcc: evil@x.test", "Acme\nLtd", "Acme\rLtd", "Acme\x00Ltd", "Acme\x0bLtd",
                "Acme\u2028Ltd", "Acme\x85Ltd", "A" * 3000]
BAD_ADDRESSES = ["a@b.test, evil@x.test", "a@b.test\r\nBcc: evil@x.test", "a@b.test;evil@x.test",
                 "Eve <evil@x.test>", "<evil@x.test>", "", "   ", "no-at-sign", "a@b.test\x00", "a@@b.test",
                 "x" * 300 + "@b.test"]


def mailer(port: int = 25, **extra) -> Mailer:
    config = {"INVOICING_MAIL_SERVER": "127.0.0.1", "INVOICING_MAIL_PORT": port, "INVOICING_MAIL_USE_TLS": False,
              "INVOICING_MAIL_USE_SSL": False, "INVOICING_MAIL_USERNAME": None, "INVOICING_MAIL_PASSWORD": None,
              "INVOICING_MAIL_SENDER": "billing@host.test", "INVOICING_MAIL_TIMEOUT": 2}
    config.update(extra)
    return Mailer(config)


def _one_line(value: str) -> bool:
    return not any(ch in value for ch in "\r\n\x00")


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_display_text_with_line_breaks_or_controls_is_folded_not_refused(text):
    message = mailer().build(OutgoingEmail(to="client@example.test", to_name=text, subject=f"Invoice from {text}",
                                           text="hello"))
    raw = message.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed.get_all("Bcc") is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["client@example.test"]
    assert _one_line(str(parsed["Subject"])) and str(parsed["Subject"]).startswith("Invoice from A")
    assert _one_line(parsed["To"].addresses[0].display_name)


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_a_recipient_that_is_not_one_plain_address_fails_for_good_before_smtp(address):
    with RogueSMTP("quit_fails") as server:
        with pytest.raises(MailError) as caught:
            mailer(server.port).send(OutgoingEmail(to=address, subject="s", text="t"))
        assert server.connections == 0 and server.accepted == []
    assert caught.value.permanent is True
    assert "address" in caught.value.message


def test_the_envelope_is_the_one_address_even_if_a_header_names_more(mailbox, smtp_server):
    # a display name that looks like an address list stays a display name
    mailer(smtp_server.port).send(OutgoingEmail(to="client@example.test", to_name="Eve, evil@x.test <evil@x.test>",
                                                subject="s", text="t"))
    [message] = mailbox.wait_for(1)
    assert message["X-Envelope-To"] == "client@example.test"


def test_a_message_accepted_before_the_quit_fails_is_delivered():
    with RogueSMTP("quit_fails") as server:
        message_id = mailer(server.port).send(OutgoingEmail(to="client@example.test", subject="s", text="t"))
        assert len(server.accepted) == 1
    assert message_id.startswith("<") and message_id.endswith(">")


def test_a_server_that_never_finishes_its_greeting_is_given_up_at_the_deadline(monkeypatch):
    monkeypatch.setattr(Mailer, "max_send_seconds", 1.0, raising=False)
    with RogueSMTP("drip", drip_every=0.2, drip_for=6) as server:
        started = time.monotonic()
        with pytest.raises(MailError) as caught:
            mailer(server.port).send(OutgoingEmail(to="client@example.test", subject="s", text="t"))
        took = time.monotonic() - started
    assert took < 3, f"the send took {took:.1f}s; its deadline was 1s"
    assert caught.value.permanent is False


def test_the_send_deadline_is_shorter_than_the_outbox_lease():
    from invoicing_plugin.services.outbox import LEASE

    assert 0 < Mailer.max_send_seconds < LEASE.total_seconds() / 2


@pytest.mark.parametrize("value", [0, -1, "10s", "abc", None, True, 61, 900, float("nan"), float("inf")])
def test_a_mail_timeout_that_cannot_work_stops_start_up(value):
    """Before: taken as is; 0 (non-blocking socket) or "10s" failed every send at delivery,
    and a timeout beyond the lease let a hanging connect outlive it."""
    from invoicing_plugin import config

    [message] = config.invalid_values({"INVOICING_MAIL_TIMEOUT": value})
    assert message.startswith("INVOICING_MAIL_TIMEOUT must be")


@pytest.mark.parametrize("value", [10, 2.5, 60])
def test_a_sensible_mail_timeout_starts(value):
    from invoicing_plugin import config

    assert config.invalid_values({"INVOICING_MAIL_TIMEOUT": value}) == []


def test_the_longest_mail_timeout_is_shorter_than_a_whole_send():
    from invoicing_plugin import config

    assert config.MAX_MAIL_TIMEOUT < Mailer.max_send_seconds
