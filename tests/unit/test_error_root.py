"""One error root: every refusal fit for staff is an ``InvoicingError`` with a ``message``.

The root lives in the pure domain (``domain/errors.py``); ``services.errors.InvoicingError``
and ``api.InvoicingError`` are the same class. This file finds every exception class the
package defines (importing every module), and asserts that each one is either a
staff-facing refusal -- derived from the root, with a non-empty ``message`` when built
the way the code builds it -- or listed in :data:`EXEMPT` with the reason. A new
exception class fails here until it is put in one of the two tables.

It also reads the source: every ``raise`` of a refusal passes a message that is not
empty, and no view catches two refusals side by side (``except (A, B)``): views catch
the root once.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
import stripe

import invoicing_plugin
from invoicing_plugin.domain.errors import InvoicingError

PACKAGE_DIR = Path(invoicing_plugin.__file__).parent
REPO_DIR = PACKAGE_DIR.parent

#: Packages not imported by the walk: Alembic's ``env.py`` runs a migration when imported.
NOT_IMPORTED = ("invoicing_plugin.migrations",)

#: Exception classes that are deliberately NOT refusals for staff, and why.
def _country_error():
    from invoicing_plugin.domain.country import CountryError, country_code

    try:
        country_code("UK")
    except CountryError as exc:
        return exc
    raise AssertionError("'UK' is not an ISO 3166-1 code")


def _schedule_error():
    from invoicing_plugin.domain.reminders import ScheduleError, parse_offsets

    try:
        parse_offsets("7, 7")
    except ScheduleError as exc:
        return exc
    raise AssertionError("a day listed twice is refused")


EXEMPT = {
    "invoicing_plugin.services.pdf.PdfUnavailable": (
        "an installation fault (WeasyPrint or Pango missing), not a refusal of what staff asked: the PDF views "
        "answer 503 with 'use Print instead' and the print page keeps working"
    ),
    "invoicing_plugin.webhooks.verification.WebhookRejected": (
        "the HTTP answer to Stripe (its ``status`` is the response code and its message the body Stripe's "
        "dashboard shows), never shown to staff; a staff view catching the root must not swallow it"
    ),
    "invoicing_plugin.crypto.SecretBoxError": (
        "a configuration/programming fault inside the secret box: at start-up it becomes a RuntimeError, when "
        "decrypting it is caught and reported as 'the stored key cannot be read' (KEY_UNREADABLE_MESSAGE)"
    ),
    "invoicing_plugin.crypto.MissingEncryptionKey": (
        "a SecretBoxError of a production app without INVOICING_SECRET_ENCRYPTION_KEY: decrypting, it is caught "
        "and reported as unreadable (and logged with its message); connecting an own key is refused first with a "
        "ConnectionRefused carrying the same message (MISSING_KEY_MESSAGE)"
    ),
    "invoicing_plugin.testing.stripe_emulator.errors.StripeError": (
        "the emulator's model of Stripe's API error (the plugin sees it only as the SDK's exception)"
    ),
    "invoicing_plugin.testing.stripe_emulator.resources.PaymentDeclined": (
        "inside the emulator: a test card's decline, answered as a Stripe card_error"
    ),
    "invoicing_plugin.testing.stripe_emulator.client.EmulatorControlError": (
        "test tooling: the emulator's control API refused a test's request"
    ),
    "invoicing_plugin.domain.calendar.UnknownTimeZone": (
        "the host's programming error (a HostWorkspace built with a time zone that is not an IANA name): a "
        "ValueError raised in the host's own code when it builds the workspace, never a refusal staff can fix"
    ),
    "invoicing_plugin.state.SettingChangedAfterInit": (
        "the host's programming error (an INVOICING_* setting that init_app reads once, changed in app.config "
        "afterwards): a RuntimeError that stops the request before Stripe is called, never a refusal staff can fix"
    ),
}


def _invoice_incomplete(missing):
    from invoicing_plugin.services.parties import InvoiceIncomplete

    return InvoiceIncomplete(missing)


def _samples() -> dict[str, list[BaseException]]:
    """Each staff-facing class, built as the code builds it (same arguments, real texts)."""
    from invoicing_plugin.domain import errors as domain
    from invoicing_plugin.domain.invoice import Action, InvoiceStatus
    from invoicing_plugin.gateways import stripe_gateway
    from invoicing_plugin.gateways.mail import MailError
    from invoicing_plugin.persistence.repository import NotFound
    from invoicing_plugin.services import analytics, connections, errors, fees
    from invoicing_plugin.services import einvoice as _einvoice
    from invoicing_plugin.services.refunding import RefundUnanswered
    from invoicing_plugin.webhooks.processing import ReplayRefused

    # Stripe's errors with no text at all still become a GatewayError with a message.
    extra_args = {stripe.CardError: (None, None), stripe.InvalidRequestError: (None,)}
    translated = [
        stripe_gateway._translate(cls("", *extra_args.get(cls, ())))
        for cls, _kind, _fallback in [*stripe_gateway._ERROR_KINDS, (stripe.APIError, "api", "")]
    ]
    return {
        "invoicing_plugin.domain.errors.InvoicingError": [
            errors.InvoicingError("The invoice was not sent (it is still a draft): Could not reach Stripe.")
        ],
        "invoicing_plugin.domain.errors.DomainError": [domain.DomainError("Enter an amount.", field="amount")],
        "invoicing_plugin.domain.errors.AmountError": [domain.AmountError("The amount must be more than zero.")],
        "invoicing_plugin.domain.errors.CurrencyError": [domain.CurrencyError("Unknown currency 'XYZ'.")],
        "invoicing_plugin.domain.errors.CurrencyMismatch": [domain.CurrencyMismatch("Cannot add EUR to USD.")],
        "invoicing_plugin.domain.country.CountryError": [_country_error()],
        "invoicing_plugin.domain.reminders.ScheduleError": [_schedule_error()],
        "invoicing_plugin.services.einvoice.NotAnInvoiceYet": [
            _einvoice.NotAnInvoiceYet("A draft has no e-invoice yet: send it first.")
        ],
        "invoicing_plugin.domain.errors.InvalidTransition": [
            domain.InvalidTransition("A paid invoice cannot be voided.", status=InvoiceStatus.PAID, action=Action.VOID)
        ],
        "invoicing_plugin.services.errors.ValidationFailed": [
            errors.ValidationFailed({"amount": "Enter an amount.", "due_date": "Choose a due date."}),
            errors.ValidationFailed({}),
        ],
        "invoicing_plugin.services.errors.PaidMeanwhile": [
            errors.PaidMeanwhile("The client paid meanwhile; the invoice is now paid.", status="paid")
        ],
        "invoicing_plugin.services.fees.UnknownPlan": [fees.UnknownPlan("gold"), fees.UnknownPlan(None)],
        "invoicing_plugin.services.parties.InvoiceIncomplete": [
            _invoice_incomplete(["The seller's address is missing: street and city (Invoice settings).",
                                 "Reverse charge needs the client's VAT number."])
        ],
        "invoicing_plugin.services.analytics_period.RangeError": [
            analytics.RangeError("The start date must be on or before the end date.", field="start")
        ],
        "invoicing_plugin.services.connection_routes.ConnectionRefused": [
            connections.ConnectionRefused("Stripe is not connected to this workspace.")
        ],
        "invoicing_plugin.services.connection_routes.KeyUnavailable": [
            connections.KeyUnavailable(connections.KEY_UNREADABLE_MESSAGE, kind=connections.KEY_UNREADABLE),
            connections.KeyUnavailable("This workspace's own Stripe key is no longer stored.", kind="auth"),
        ],
        "invoicing_plugin.persistence.repository.NotFound": [
            NotFound("Invoice 42"), NotFound("pay link"), NotFound("workspace 'acme'"),
        ],
        "invoicing_plugin.gateways.stripe_objects.GatewayError": [
            stripe_gateway.GatewayError("No Stripe API key is configured.", kind="auth"), *translated
        ],
        "invoicing_plugin.gateways.stripe_objects.MalformedStripeObject": [
            stripe_gateway.MalformedStripeObject("data.object.amount_total must be an integer")
        ],
        "invoicing_plugin.gateways.mail.MailError": [
            MailError("The email could not be sent (SMTPServerDisconnected: gone). Nothing was changed; try again.")
        ],
        "invoicing_plugin.services.refunding.RefundUnanswered": [
            RefundUnanswered("Stripe did not answer, so the refund may or may not have been made. Send the same "
                             "refund again: Stripe makes it at most once.")
        ],
        "invoicing_plugin.webhooks.processing.ReplayRefused": [
            ReplayRefused("Only a failed event can be replayed; this one was already handled.")
        ],
    }


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def defined_exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the package (imported to find them)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(invoicing_plugin.__path__, "invoicing_plugin."):
        if info.name.startswith(NOT_IMPORTED):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found[_qualified(obj)] = obj
    return found


CLASSES = defined_exception_classes()
SAMPLES = _samples()


def test_every_exception_class_is_a_refusal_or_exempt_with_a_reason():
    unaccounted = set(CLASSES) - set(SAMPLES) - set(EXEMPT)
    assert not unaccounted, f"put each in SAMPLES (a refusal for staff) or EXEMPT (with why): {sorted(unaccounted)}"
    stale = (set(SAMPLES) | set(EXEMPT)) - set(CLASSES)
    assert not stale, f"no longer defined: {sorted(stale)}"
    assert not set(SAMPLES) & set(EXEMPT)
    assert len(CLASSES) >= 20  # the walk did import the package


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_refusal_derives_from_the_root_and_carries_a_message(name):
    cls = CLASSES[name]
    assert issubclass(cls, InvoicingError)
    for error in SAMPLES[name]:
        assert type(error) is cls
        assert isinstance(error, InvoicingError)
        assert isinstance(error.message, str) and error.message.strip(), error
        assert error.field is None or (isinstance(error.field, str) and error.field)
        assert str(error).strip()


@pytest.mark.parametrize("name", sorted(EXEMPT))
def test_exempt_classes_stay_outside_the_root(name):
    """A staff view that catches the root must not swallow these (nor flash them)."""
    assert not issubclass(CLASSES[name], InvoicingError)


def test_the_root_is_one_class_under_every_name_it_is_exported_as():
    from invoicing_plugin import api, domain
    from invoicing_plugin.services import errors

    assert api.InvoicingError is errors.InvoicingError is domain.InvoicingError is InvoicingError
    for name in ("DomainError", "InvalidTransition", "NotFound", "PaidMeanwhile", "ValidationFailed"):
        assert issubclass(getattr(api, name), api.InvoicingError), name


def test_existing_attributes_and_behaviour_are_kept():
    from invoicing_plugin.api import NotFound
    from invoicing_plugin.domain.invoice import Action, InvoiceStatus
    from invoicing_plugin.domain.errors import InvalidTransition
    from invoicing_plugin.gateways.stripe_gateway import GatewayError, MalformedStripeObject
    from invoicing_plugin.services.connections import KeyUnavailable
    from invoicing_plugin.services.fees import UnknownPlan
    from invoicing_plugin.webhooks.verification import WebhookRejected

    missing = NotFound("Invoice 42")
    assert isinstance(missing, LookupError)
    assert str(missing) == "Invoice 42" and missing.args == ("Invoice 42",) and missing.what == "Invoice 42"
    assert missing.message == "Invoice 42 was not found." and missing.field is None
    assert NotFound("pay link").message == "Pay link was not found."
    gateway = GatewayError("Stripe is down.", kind="network", code="x", param="amount")
    assert (gateway.message, gateway.kind, gateway.code, gateway.param, gateway.retryable, gateway.field) == (
        "Stripe is down.", "network", "x", "amount", True, None
    )
    assert not GatewayError("no", kind="auth").retryable
    assert MalformedStripeObject("id must be a string").kind == "malformed"
    assert not KeyUnavailable("unreadable", kind="key_unreadable").retryable
    assert isinstance(UnknownPlan("gold"), LookupError) and UnknownPlan("gold").field == "method"
    refused = InvalidTransition("no", status=InvoiceStatus.PAID, action=Action.VOID)
    assert (refused.status, refused.action) == (InvoiceStatus.PAID, Action.VOID)
    rejected = WebhookRejected("bad signature", status=400)
    assert (rejected.message, rejected.status) == ("bad signature", 400)


# --------------------------------------------------------------------- the source


def _source_files(*roots: Path):
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


REFUSAL_NAMES = {cls.__name__ for name, cls in CLASSES.items() if name in SAMPLES}


def test_every_raise_of_a_refusal_passes_a_message():
    """``raise SomeRefusal()`` or ``raise SomeRefusal("")`` would reach staff as an empty flash."""
    bad = []
    for path, tree in _source_files(PACKAGE_DIR):
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            if _name(node.exc.func) not in REFUSAL_NAMES:
                continue
            call = node.exc
            first = call.args[0] if call.args else None
            empty_literal = isinstance(first, ast.Constant) and not str(first.value).strip()
            if first is None or empty_literal:
                bad.append(f"{path.relative_to(REPO_DIR)}:{node.lineno}")
    assert not bad


def test_views_catch_the_root_once_not_refusals_in_pairs():
    """``except (InvoicingError, DomainError)`` is how a wrong guess once turned a flash into a 500."""
    pairs = []
    for path, tree in _source_files(PACKAGE_DIR / "web", PACKAGE_DIR / "webhooks", REPO_DIR / "host_demo"):
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Tuple):
                caught = {_name(element) for element in node.type.elts} & REFUSAL_NAMES
                if len(caught) >= 2:
                    pairs.append(f"{path.relative_to(REPO_DIR)}:{node.lineno} {sorted(caught)}")
    assert not pairs


def test_a_view_catching_the_root_lets_not_found_through_first():
    """NotFound is a refusal too, but a staff page answers it with the host's 404 page:
    every ``except InvoicingError`` in the views comes after ``except NotFound: raise``."""
    missing = []
    for path, tree in _source_files(PACKAGE_DIR / "web", REPO_DIR / "host_demo"):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try):
                continue
            seen_not_found = False
            for handler in node.handlers:
                name = _name(handler.type) if handler.type is not None else None
                if name == "NotFound":
                    seen_not_found = len(handler.body) == 1 and isinstance(handler.body[0], ast.Raise)
                if name == "InvoicingError" and not seen_not_found:
                    missing.append(f"{path.relative_to(REPO_DIR)}:{handler.lineno}")
    assert not missing
