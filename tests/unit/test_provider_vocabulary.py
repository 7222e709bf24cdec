"""Stripe's vocabulary stays beside the gateway (issue 12: the payment-provider port).

The services ask for payments in the port's words (:mod:`invoicing_plugin.services.ports`);
Stripe's request parameters, its PaymentIntent and requirement vocabulary and its SDK live
in ``gateways/`` (:mod:`invoicing_plugin.gateways.stripe_const`). Read with :mod:`ast`:
a string constant or attribute name of Stripe's in ``services/*.py``, or an import of the
``stripe`` SDK there, fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "invoicing_plugin" / "services"

#: Stripe's words: Checkout Session and PaymentIntent parameters, Connect account parameters,
#: PaymentIntent statuses, account requirement lists and disabled reasons.
STRIPE_VOCABULARY = frozenset({
    "payment_intent_data", "line_items", "price_data", "product_data", "unit_amount", "client_reference_id",
    "application_fee_amount", "transfer_data", "{CHECKOUT_SESSION_ID}",
    "?session_id={CHECKOUT_SESSION_ID}", "expand", "capabilities", "card_payments", "account_onboarding",
    "express", "requires_payment_method", "requires_action", "requires_capture", "canceled",
    "currently_due", "past_due", "eventually_due", "requirements.past_due", "requirements.",
    "requirements.pending_verification",
})

#: Known reads of Stripe's vocabulary in services, each with why it is still there.
KNOWN: dict[tuple[str, str], str] = {
    # The webhook path hands services the checked Stripe objects of events (charges, disputes);
    # telling a destination charge's account is the event binding's check, not a request.
    ("payment_binding.py", "transfer_data"): "reads the charge object of a webhook event",
}


def _strings(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value
        elif isinstance(node, ast.Attribute):
            yield node.lineno, node.attr
        elif isinstance(node, ast.keyword) and node.arg:
            yield node.value.lineno, node.arg


def _docstrings(tree: ast.AST) -> set[int]:
    """Ids of docstring nodes (prose may name Stripe's parameters)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def stripe_words(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = _docstrings(tree)
    words = []
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in STRIPE_VOCABULARY:
            words.append((node.lineno, node.value))
        elif isinstance(node, ast.Attribute) and node.attr in STRIPE_VOCABULARY:
            words.append((node.lineno, node.attr))
        elif isinstance(node, ast.keyword) and node.arg in STRIPE_VOCABULARY:
            words.append((node.value.lineno, node.arg))
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "stripe" for a in node.names):
            words.append((node.lineno, "import stripe"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "stripe":
            words.append((node.lineno, f"from {node.module} import"))
    return [(line, word) for line, word in words if (path.name, word) not in KNOWN]


@pytest.mark.parametrize("path", sorted(SERVICES.glob("*.py")), ids=lambda p: p.name)
def test_services_speak_the_port_not_stripe(path):
    found = stripe_words(path)
    assert not found, f"{path.name} uses Stripe's vocabulary (move it to gateways/stripe_const.py): {found}"


def test_the_known_exceptions_are_still_there():
    """A known read that went away is taken off the list."""
    for (name, word), _why in KNOWN.items():
        tree = ast.parse((SERVICES / name).read_text(encoding="utf-8"))
        assert any(w == word for _, w in _strings(tree)), (name, word)


def test_the_scan_finds_stripe_words(tmp_path):
    """The scanner itself: the shapes the old services used are all caught."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import stripe\n"
        "params = {'line_items': [], 'payment_intent_data': {'application_fee_amount': 1}}\n"
        "due = requirements.get('past_due') or requirements.get('currently_due')\n"
        "ok = intent.status in ('requires_payment_method', 'canceled')\n"
        "url = base + '?session_id={CHECKOUT_SESSION_ID}'\n"
        "def f():\n    '''Docstrings may say line_items.'''\n",
        encoding="utf-8",
    )
    words = {word for _, word in stripe_words(sample)}
    assert words == {"import stripe", "line_items", "payment_intent_data", "application_fee_amount", "past_due",
                     "currently_due", "requires_payment_method", "canceled", "?session_id={CHECKOUT_SESSION_ID}"}
