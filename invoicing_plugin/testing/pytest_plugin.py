"""pytest plugin: an offline Stripe emulator for any test suite.

Opt-in: installing ``invoicing-plugin`` does not load it into anyone's test runs.
Opt in from the ``conftest.py`` at the top of your tests::

    pytest_plugins = ["invoicing_plugin.testing.pytest_plugin"]

or for one run: ``python -m pytest -p invoicing_plugin.testing.pytest_plugin``.
It imports nothing heavy at collection time: the emulator (Werkzeug, Jinja, the
stripe SDK's parameter classes) is only imported when a test asks for a fixture.

Fixtures
--------
``stripe_emulator_server`` (session)
    A running :class:`~invoicing_plugin.testing.stripe_emulator.StripeEmulator`
    on a free loopback port, shared by the whole session and stopped at the end.
``stripe_emulator`` (function)
    The same emulator, reset before the test: no accounts, objects, events,
    API-registered webhook endpoints, injected failures or chaos survive from
    a previous test, and the clock restarts.  Use ``stripe_emulator.url``,
    ``stripe_emulator.control`` and ``stripe_emulator.stripe_client(key)``.
``stripe_emulator_client`` (function)
    A ``stripe.StripeClient`` for a fresh random ``sk_test_`` key (hence a
    fresh platform account) pointed at the reset emulator, with
    ``max_network_retries=0``.
``app_server`` (function)
    An :class:`~invoicing_plugin.testing.app_server.AppServer`: a free loopback port
    taken now (``app_server.url``, for ``INVOICING_EXTERNAL_URL`` and the webhook
    endpoints) and ``app_server.serve(app)`` to serve your app over real HTTP in a
    thread, so the emulator's webhooks reach it. Stopped after the test.
``mail_sink_server`` (session) / ``mail_sink`` (function)
    A :class:`~invoicing_plugin.testing.mail_sink.MailSink`: a real SMTP server on
    loopback (needs ``aiosmtpd``), emptied before each test. ``mail_sink.config`` is the
    ``INVOICING_MAIL_*`` settings that send the plugin's emails there;
    ``mail_sink.wait_for(n)`` returns the messages (``email.message.EmailMessage``).

And one function, :func:`invoicing_plugin.testing.app_server.add_webhook_endpoints`, that
registers your app's two webhook endpoints on the emulator. Call it in every test (from your ``app`` fixture): the
``stripe_emulator`` fixture's reset forgets endpoints. The whole recipe, with an ``app``
fixture from your factory and an end-to-end test, is docs/testing-your-host.md.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    import stripe

    from invoicing_plugin.testing.app_server import AppServer
    from invoicing_plugin.testing.mail_sink import MailSink
    from invoicing_plugin.testing.stripe_emulator import StripeEmulator


@pytest.fixture(scope="session")
def stripe_emulator_server() -> Iterator["StripeEmulator"]:
    """One emulator for the test session (not reset between tests)."""
    from invoicing_plugin.testing.stripe_emulator import StripeEmulator

    emulator = StripeEmulator(host="127.0.0.1", port=0).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def stripe_emulator(stripe_emulator_server: "StripeEmulator") -> "StripeEmulator":
    """The session emulator, reset to an empty world for this test."""
    stripe_emulator_server.control.reset()
    return stripe_emulator_server


@pytest.fixture
def stripe_emulator_client(stripe_emulator: "StripeEmulator") -> "stripe.StripeClient":
    """A StripeClient for a new platform account on the emulator."""
    return stripe_emulator.stripe_client("sk_test_" + secrets.token_hex(12))


@pytest.fixture
def app_server() -> Iterator["AppServer"]:
    """A threaded HTTP server on a free loopback port for your app; ``.url`` now, ``.serve(app)`` later."""
    from invoicing_plugin.testing.app_server import AppServer

    server = AppServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mail_sink_server() -> Iterator["MailSink"]:
    """One SMTP sink for the test session (not emptied between tests). Needs aiosmtpd."""
    from invoicing_plugin.testing.mail_sink import MailSink

    sink = MailSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def mail_sink(mail_sink_server: "MailSink") -> "MailSink":
    """The session's SMTP sink, emptied for this test; give ``mail_sink.config`` to your app."""
    mail_sink_server.clear()
    return mail_sink_server

