"""No secret reaches any log, at any level.

Every logger runs at DEBUG into a handler that keeps each record's message, its raw
``msg``/``args``, and the fully formatted text (traceback and stack included), while
a workspace connects its own key (the plugin creates a webhook endpoint: Stripe
answers with the endpoint's signing secret), another onboards through Connect
Express, invoices are sent (Checkout), paid, delivered as webhooks, and the CLI runs.
None of the known secrets -- platform key, own key, both webhook signing secrets,
the encryption key, PaymentIntent client secrets -- may appear in any of it, nor
in the SDK's own console logging (``stripe.log = "debug"`` prints to stderr).

Stripe documents the client secret: "should not be logged, embedded in URLs, or
exposed to anyone other than the customer"
(https://docs.stripe.com/api/payment_intents/object#payment_intent_object-client_secret).
"""

from __future__ import annotations

import logging
import re

import pytest
import stripe
from sqlalchemy import select

from invoicing_plugin.extension import get_state
from invoicing_plugin.gateways import stripe_gateway
from invoicing_plugin.persistence.models import StripeConnection
from tests.conftest import ENCRYPTION_KEY, PLATFORM_KEY, WEBHOOK_SECRET
from tests.integration._invoice_helpers import draft, load, send
from tests.integration.conftest import login
from tests.integration.test_connect import BASE, RETURN_URL, account_id_of, connect, new_key, save_key, submit_onboarding
from tests.integration.webhook_helpers import event_for, post_event


#: The emulator logs the requests it serves, like Stripe's own servers would, and urllib3 logs
#: the test's browser following an onboarding link: not the application's logs.
HARNESS_LOGGERS = ("invoicing_plugin.testing", "urllib3")


class Everything(logging.Handler):
    """Keeps every record as all the text a handler could ever write for it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []
        self.ours: list[str] = []  # without the stand-ins for Stripe's servers and the test's browser
        self._formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        parts = [str(record.msg), repr(record.args)]
        try:
            parts.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a record that cannot format still has msg and args
            pass
        parts.append(self._formatter.format(record))  # adds exc_text and stack_info
        parts.append(record.exc_text or "")
        self.texts.append("\n".join(parts))
        if not record.name.startswith(HARNESS_LOGGERS):
            self.ours.append(self.texts[-1])


@pytest.fixture
def everything(caplog):
    """Root and every logger at DEBUG; a root handler that keeps all records."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="stripe")
    handler = Everything()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@pytest.fixture
def stripe_console_debug(monkeypatch):
    """The SDK's documented console logging (``stripe.log``), turned to debug before the app starts."""
    monkeypatch.setattr(stripe, "log", "debug")


def leaked(texts: list[str], secrets: dict[str, str]) -> dict[str, list[str]]:
    """Which secrets appear (whole, or their random part) in which texts."""
    found: dict[str, list[str]] = {}
    for name, secret in secrets.items():
        tail = re.sub(r"^(?:sk|rk|whsec)_(?:test_|live_)?", "", secret)
        needles = {secret, tail[-16:]}
        hits = [t[:300] for t in texts if any(n in t for n in needles)]
        if hits:
            found[name] = hits
    return found


def test_connect_send_webhook_and_cli_log_no_secret(
    stripe_console_debug, app, world, staff_client, stripe_emulator, mailbox, everything, capfd
):
    capfd.readouterr()  # start from here: what the SDK prints to the console counts too
    secrets: dict[str, str] = {
        "platform key": PLATFORM_KEY, "platform webhook secret": WEBHOOK_SECRET, "encryption key": ENCRYPTION_KEY,
    }

    # 1. acme connects its own key: the plugin creates a webhook endpoint and Stripe returns its secret.
    own_key = new_key()
    secrets["own key"] = own_key
    assert save_key(staff_client, own_key).status_code == 302
    with app.app_context():
        row = get_state().session.scalars(
            select(StripeConnection).where(StripeConnection.workspace_id == world.acme)).one()
        endpoint_id, own_account = row.webhook_endpoint_id, row.account_id
        encrypted = {"encrypted own key": row.secret_key_encrypted,
                     "encrypted endpoint secret": row.webhook_secret_encrypted}
    own_secret = stripe_emulator.state.endpoints[endpoint_id].secret
    assert own_secret.startswith("whsec_")
    secrets["own webhook secret"] = own_secret
    secrets.update(encrypted)

    # 2. northwind connects through Connect Express onboarding.
    northwind = login(app.test_client(), world.outsider_email, world.northwind_slug)
    onboarding = connect(northwind, stripe_emulator)
    bearer = {"onboarding link": onboarding}  # single-use URLs into the connected account
    assert submit_onboarding(onboarding) == RETURN_URL
    assert northwind.get(f"{BASE}/stripe/return").status_code == 302
    assert account_id_of(onboarding)
    dashboard = northwind.post(f"{BASE}/stripe/dashboard")
    assert dashboard.status_code in (302, 303) and "/express/acct_" in dashboard.headers["Location"]
    bearer["express login link"] = dashboard.headers["Location"]

    # 3. Invoices are sent (Checkout Sessions on both routes) and their pay links opened.
    own_invoice = draft(app, world, amount="1000.00", send_method="email")
    send(app, world, own_invoice.id, "email")
    nw_invoice = draft(app, world, amount="500.00", send_method="stripe_link", client=world.northwind_client,
                       workspace=world.northwind)
    send(app, world, nw_invoice.id, "stripe_link", workspace=world.northwind)
    own_stored, nw_stored = load(app, own_invoice.id), load(app, nw_invoice.id)
    assert own_stored.stripe_mode == "own_key" and nw_stored.stripe_mode == "connect"
    for stored in (own_stored, nw_stored):
        assert staff_client.get(f"/invoicing/pay/{stored.public_token}").status_code in (200, 302, 303)

    # 4. Both are paid and the webhooks delivered, each signed with its endpoint's secret.
    own_paid = stripe_emulator.control.pay_session(own_stored.checkout_session_id)["session"]
    nw_paid = stripe_emulator.control.pay_session(nw_stored.checkout_session_id)["session"]
    for paid in (own_paid, nw_paid):
        intent = stripe_emulator.control.get_object(paid["payment_intent"])
        secrets[f"client secret of {intent['id']}"] = intent["client_secret"]
    own_event = event_for(stripe_emulator, "checkout.session.completed", own_paid["id"], key=own_key)
    assert post_event(staff_client, own_event, secret=own_secret).status_code == 200
    nw_event = event_for(stripe_emulator, "checkout.session.completed", nw_paid["id"])
    assert post_event(staff_client, nw_event).status_code == 200
    assert load(app, own_invoice.id).status == "paid" and load(app, nw_invoice.id).status == "paid"
    # A refused delivery (wrong secret) is logged too: still nothing secret in it.
    assert post_event(staff_client, own_event, secret="whsec_wrong").status_code == 400

    # 5. The CLI.
    runner = app.test_cli_runner()
    outputs = []
    for args in (["info"], ["reconcile"], ["reconcile", "--apply"], ["overdue"], ["totals"], ["generate-key"]):
        result = runner.invoke(args=["invoicing", *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.output)
        assert "Traceback" not in result.output
        outputs.append(result.output)
    assert not leaked(outputs[:-1], secrets)  # generate-key prints a *new* key, by design

    # 6. Disconnecting the own key deletes the endpoint.
    assert staff_client.post("/invoicing/connected-apps/stripe/disconnect").status_code in (302, 303)

    assert any(r.name == "stripe" and r.levelno == logging.DEBUG for r in everything.records), \
        "the SDK's debug logging should have been captured"
    assert own_account  # the endpoint was created through the own key
    assert leaked(everything.texts, secrets) == {}
    assert leaked(everything.ours, bearer) == {}
    console = capfd.readouterr()
    assert leaked([console.out, console.err], secrets) == {}


def test_redaction_covers_secret_shapes_in_any_message():
    """The filter on the ``stripe`` logger redacts by shape and by field name, in the formatted message."""
    stripe_gateway.install_log_redaction()
    handler = Everything()
    logger = logging.getLogger("stripe")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        body = ('{\n  "id": "we_1",\n  "secret": "whsec_Abc123xyz",\n  "client_secret": "pi_1_secret_Zz9",\n'
                '  "other": "keep me"\n}')
        logger.debug("message='API response body' body=%r", body)
        logger.debug("auth %s and %s", "sk_live_51HxyzSECRET", "rk_test_51HxyzRESTRICTED")
        logger.info("token gAAAAABnZ2hpamtsbW5vcHFyc3R1dnd4eXo0123456789_-abcdefghijklmnop==")
        logger.debug("post_data=secret=plainvalue&name=x")
        logger.debug("url=https://connect.stripe.com/setup/c/acct_1Mt0CORHFI4mz9Rw/TqckGNUHg2mG")
        logger.debug("client_secret %s", "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41_secret_QXg2AQLdBxJw")
        try:
            raise ValueError("boom whsec_InTraceback1")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    text = "\n".join(handler.texts)
    for secret in ("whsec_Abc123xyz", "pi_1_secret_Zz9", "sk_live_51HxyzSECRET", "rk_test_51HxyzRESTRICTED",
                   "gAAAAABnZ2hpamtsbW5v", "plainvalue", "whsec_InTraceback1", "TqckGNUHg2mG", "QXg2AQLdBxJw"):
        assert secret not in text, secret
    assert "keep me" in text and "we_1" in text and "acct_1Mt0CORHFI4mz9Rw" in text
    assert "test_redaction_covers_secret_shapes_in_any_message" in text  # names are not secrets and "[redacted]" in text
    assert len(logger.filters) == len({id(f) for f in logger.filters})
    stripe_gateway.install_log_redaction()  # idempotent: still one filter
    assert sum(isinstance(f, stripe_gateway.SecretRedactingFilter) for f in logger.filters) == 1


def test_an_error_stored_on_a_webhook_event_carries_no_secret():
    from cryptography.fernet import Fernet

    from invoicing_plugin.webhooks.processing import _describe

    token = Fernet(Fernet.generate_key()).encrypt(b"sk_test_0123456789abcdef").decode()
    error = RuntimeError(f"(psycopg.errors.X) bad value [parameters: {{'secret_key_encrypted': '{token}', "
                         f"'webhook_secret': 'whsec_0123456789abcdef'}}]")

    stored = _describe(error)

    assert token not in stored and token[6:40] not in stored and "whsec_0123456789abcdef" not in stored
    assert stored.startswith("RuntimeError: (psycopg.errors.X) bad value")
