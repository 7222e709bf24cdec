"""Offline Stripe emulator for tests, demos and host applications.

Nothing here is imported by production code: it is a stand-in for
``api.stripe.com`` that the real ``stripe`` SDK talks to, so an application
using ``invoicing_plugin`` can exercise its whole payment flow — Connect
onboarding, Checkout, refunds, disputes, signed webhooks — with no network
and no Stripe account.

Starting it
-----------

In Python (tests)::

    from invoicing_plugin.testing.stripe_emulator import StripeEmulator

    emu = StripeEmulator(host="127.0.0.1", port=0).start()   # port 0: any free port
    client = emu.stripe_client("sk_test_anything123")         # a stripe.StripeClient
    # ... or build it yourself:
    # stripe.StripeClient(key, base_addresses={"api": emu.url, "connect": emu.url,
    #                     "files": emu.url}, max_network_retries=0)
    emu.stop()

From a shell (demo app, manual testing, another process)::

    python -m invoicing_plugin.testing.stripe_emulator --port 12111 \\
        --webhook-url http://127.0.0.1:5000/invoicing/webhooks/stripe \\
        --webhook-secret whsec_demo_account_secret \\
        --connect-webhook-url http://127.0.0.1:5000/invoicing/webhooks/stripe \\
        --connect-webhook-secret whsec_demo_connect_secret [--chaos --chaos-seed 7]

The webhook URLs are the plugin's endpoint, ``{INVOICING_URL_PREFIX}/webhooks/stripe``
(``/invoicing`` is the default prefix: a host that mounts the plugin under ``/billing``
gives ``http://127.0.0.1:5000/billing/webhooks/stripe``, and ``/invoicing/...`` answers
404 there). It binds to loopback by default and prints its URL.  Point the application's
Stripe API base at that URL, use any key shaped like a Stripe secret key
(``sk_test_`` + 8 or more letters/digits) and the given webhook secrets.
As on Stripe, ``--webhook-url`` is an *account* endpoint (the accounts' own
events: Checkout, charges, refunds, disputes of destination charges) and
``--connect-webhook-url`` a *Connect* endpoint (connected accounts' events,
which carry ``account``: ``account.updated``, ``account.application.deauthorized``),
each with its own signing secret (https://docs.stripe.com/connect/webhooks).
``--forward-to`` / ``--forward-connect-to`` are accepted as aliases, after
``stripe listen``; unlike ``stripe listen`` (one secret for the session, Connect
events forwarded to ``--forward-to`` when ``--forward-connect-to`` is absent),
without ``--connect-webhook-url`` Connect events reach no one, as with a
Dashboard set-up that has only an account endpoint.

With pytest
-----------

The pytest plugin :mod:`invoicing_plugin.testing.pytest_plugin` is opt-in: put
``pytest_plugins = ["invoicing_plugin.testing.pytest_plugin"]`` in the ``conftest.py``
at the top of your tests (or run ``python -m pytest -p invoicing_plugin.testing.pytest_plugin``).
It provides these emulator fixtures:

* ``stripe_emulator_server`` (session scope): one running emulator for the
  whole test session;
* ``stripe_emulator`` (function scope): the same emulator, reset before each
  test (all accounts, objects, events, API-created webhook endpoints,
  injected failures and chaos are forgotten; the clock restarts);
* ``stripe_emulator_client``: a ``stripe.StripeClient`` for a fresh random test key
  (so a fresh platform account) pointed at the emulator;

and, for testing a host app end to end, ``app_server`` (your app served over HTTP in a
thread, so webhooks reach it) and ``mail_sink`` (an SMTP server that keeps the emails).
Register your app's webhook endpoints in every test (the reset forgets them) with
``invoicing_plugin.testing.app_server.add_webhook_endpoints``; docs/testing-your-host.md
is the whole recipe.

What it emulates
----------------

* Accounts (``/v1/accounts``, ``/v1/account``), Account Links and Login
  Links for Express Connect; each secret key is its own platform account,
  created on first use; ``Stripe-Account`` acts as a connected account of
  that platform.
* Checkout Sessions (payment mode, ``price_data`` line items, destination
  charges through ``payment_intent_data``), Payment Intents, Charges,
  Refunds, Disputes, Events and Webhook Endpoints.
* Stripe's request rules: unknown parameters are rejected with
  ``parameter_unknown`` using names derived from the installed SDK's typed
  parameter classes; required parameters; idempotency keys (replay with
  ``Idempotent-Replayed: true``, mismatch -> ``IdempotencyError``);
  currency rules (minimum charge, zero-decimal and three-decimal
  currencies, ISK, maximum amount); objects of other accounts answer 404.
* Hosted pages on the same port: Checkout (``session.url``; card 4242 4242
  4242 4242 pays, 4000 0000 0000 0002 is declined, "Bank transfer
  (delayed)" completes unpaid until settled), Connect onboarding (account
  link ``url``) and a fake Express dashboard (login link ``url``).
* Webhooks signed like Stripe's (verify with ``stripe.Webhook.construct_event``),
  delivered by a background worker with retries on non-2xx answers, and a
  chaos mode (seeded) that duplicates, delays and reorders deliveries.

Driving it from tests
---------------------

``emu.control`` (or ``EmulatorControl(url)`` for an emulator running in
another process) talks to the ``/_emulator/`` control API::

    ctl = emu.control
    ctl.pay_session(session.id)                       # or outcome="declined"/"delayed"
    ctl.settle_async(session.id, succeeded=True)
    ctl.complete_onboarding(account.id, restricted=False)
    ctl.deauthorize(account.id)
    ctl.trigger("charge.dispute.created", charge=charge_id)
    ctl.advance_clock(25 * 3600)                      # expires open sessions
    ctl.skew_clock(-300)                              # Stripe 5 min behind the app's clock
    ctl.add_webhook_endpoint(url, secret="whsec_...")                # account endpoint
    ctl.add_webhook_endpoint(url, secret="whsec_...", connect=True)  # Connect endpoint
    ctl.add_webhook_endpoint(url, connect=True, livemode=True)       # also gets test events
    ctl.wait_for_deliveries(timeout=10)               # deterministic webhook tests
    ctl.deliveries()                                  # every attempt, with status
    ctl.set_chaos(seed=7, duplicate_rate=1.0)
    ctl.fail_next_requests(1, error="rate_limit")     # or "api_error", "connection_drop", "connection_drop_after"
    ctl.revoke_key("sk_test_...")
    ctl.reset(); ctl.now()

A typical host-app test: create the invoice through the app (which creates
a Checkout Session on the emulator), pay it with ``ctl.pay_session`` or by
following ``session.url`` with a browser, call ``ctl.wait_for_deliveries()``
and assert the app processed ``checkout.session.completed``.

Known differences from Stripe
-----------------------------

Where the emulator knowingly differs from Stripe (each is a place a test could agree
with the plugin where Stripe would not):

* Only the endpoints above exist (others answer Stripe's "Unrecognized request URL"
  404); ``mode`` must be ``payment`` and line items must use ``price_data``.
* Parameters the SDK accepts but the emulator does not model are accepted and ignored
  (their names, enum values, lengths and metadata limits are still checked, see
  ``params``); rules that tie parameters together (e.g. ``success_url`` with
  ``ui_mode=embedded_page``) are not checked; ``expand`` depth (Stripe: four levels) and
  which fields are expandable beyond "the field exists" are not checked.
* String lengths come from Stripe's OpenAPI spec as published for API version
  2023-08-16 (the newest copy within reach; ``spec_constraints.json`` names it), so a
  limit Stripe changed since, or a parameter added since, is not held; enums come from
  the installed SDK's types for the pinned version and are enforced even where the spec
  marks a parameter ``x-stripeBypassValidation`` (``locale``, ``payment_method_types``).
* The e-mail address rule (one ``@``, a dotted domain, no spaces) and the messages for
  over-long strings and an unknown ``country`` are the emulator's; Stripe's exact rule
  and wording are not documented. Whitespace-only strings are accepted.
* Balances, payouts and Stripe's cross-border rules are not simulated: a destination
  charge to an account in another region is accepted (Stripe needs ``on_behalf_of`` or
  refuses it); transfers exist only as far as refunds reverse them.
* Where Stripe's documentation is silent about refunds and disputes the emulator makes a
  choice: a failed refund lowers the charge's ``amount_refunded``; ``charge.refunded``
  events carry the charge's ``refunds`` list; ``reverse_transfer`` /
  ``refund_application_fee`` on a charge without a transfer or fee are refused; the
  dispute fee is 15.00 in every currency.
* The endpoints configured at start (``--webhook-url``, ``--connect-webhook-url``)
  receive the events of *every* account (Connect: every connected account) in the
  emulator, own-key workspaces' accounts included; on Stripe a platform endpoint gets
  only its own account's events.
* Idempotent replays and refused requests are not written to the request log.
* ``livemode`` follows the key prefix but nothing else differs between modes.
* Webhook signatures use real time (so receivers' tolerance checks pass) while
  ``created`` and expiry use the emulator clock; response objects carry the emulator's
  field set, not every field of the pinned version; event payloads are not reshaped for
  older ``api_version`` values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import EmulatorControl, EmulatorControlError
    from .server import StripeEmulator
    from .webhooks import ChaosConfig

__all__ = ["ChaosConfig", "EmulatorControl", "EmulatorControlError", "StripeEmulator"]

_EXPORTS = {
    "StripeEmulator": ".server",
    "EmulatorControl": ".client",
    "EmulatorControlError": ".client",
    "ChaosConfig": ".webhooks",
}


def __getattr__(name: str) -> Any:
    """Import lazily: ``EmulatorControl`` should not pull in Werkzeug/Jinja."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module, __name__), name)
