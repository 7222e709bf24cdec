"""Every route of the app, walked with hostile input: nothing answers 5xx.

The walker reads ``app.url_map`` (the plugin's routes and host_demo's), so a new
route is walked as soon as it exists. Each URL variable is replaced by hostile
values (ids beyond PostgreSQL's ``integer`` and SQLite's 64-bit range, negative
numbers, NUL bytes, 10,000 characters, non-ASCII, wrong types); each GET route is
also asked with hostile query parameters, and each POST route gets hostile form
fields -- as billing staff and anonymously, on SQLite and on PostgreSQL. Every
route also gets repeated query parameters, hostile request headers and the methods
it does not serve; every POST route also gets the bodies a browser's form never
sends but anyone can: file parts in a multipart body and JSON bodies (Flask-WTF reads
both into a form's fields).

A route with a URL variable the walker has no valid value for fails the test
(``VALID`` below must learn it): routes are never skipped silently.
"""

from __future__ import annotations

import io
import re
from urllib.parse import quote, urlencode

import pytest
from werkzeug.datastructures import MultiDict

from tests.integration._invoice_helpers import draft, send
from tests.integration.conftest import login

HUGE_IDS = [str(2**31), str(2**63), str(10**30)]
HOSTILE = HUGE_IDS + ["-1", "\x00", "1\x00", "x" * 10_000, "é✓中文", "abc"]
QUERY_PARAMS = [
    "after", "before", "template", "page", "status", "q", "client", "clients", "sort", "subject",
    "cancelled", "session_id", "start", "end", "next", "method",
]
FORM_FIELDS = [
    "description", "name", "reason", "note", "amount", "currency", "client_id", "subject_ref", "due_date",
    "send_method", "method", "paid_on", "secret_key", "percent", "fixed", "basis", "due_in_days",
    "allow_another", "email", "password", "title", "total", "approved",
]
FORM_VALUES = ["\x00", "a\x00b", "x" * 10_000, "é✓中文", str(2**63), "-1"]
#: Request headers a client controls, at odd values (one request carries them all).
HOSTILE_HEADERS = {
    "Accept-Language": "x" * 5_000 + ";q=abc, zz-ZZ-@@;q=2, é",
    "Accept": "application/json;q=x, */*",
    "Cookie": "session=\x01garbage; invoicing=%00; =; a=" + "b" * 4_000,
    "If-Modified-Since": "garbage",
    "If-None-Match": '"x", W/',
    "Range": "bytes=99999999999999999999-",
    "Referer": "javascript:alert(1)",
    "X-Forwarded-For": "\x00, ::1",
    "X-Requested-With": "XMLHttpRequest",
}
OTHER_METHODS = ["PUT", "DELETE", "PATCH", "TRACE"]
#: Host headers a client controls (links are built from them when INVOICING_EXTERNAL_URL is unset).
HOSTILE_HOSTS = [
    {"Host": "evil.test:99999", "X-Forwarded-Host": "evil.test", "X-Forwarded-Proto": "javascript"},
    {"Host": "[::1", "X-Forwarded-For": "x"},
    {"Host": "é✓.test"},
    {"Host": "a" * 3_000},
]


def _odd_bodies() -> list[dict]:
    """POST bodies other than a browser's form: ``client.open`` keyword arguments."""
    return [
        # every field a file part (Flask-WTF puts request.files into the form's data)
        {"data": {field: (io.BytesIO(b"x\x00y"), "a.txt") for field in FORM_FIELDS},
         "content_type": "multipart/form-data"},
        # JSON bodies (Flask-WTF reads a JSON object into the form's data)
        {"json": {field: [1, {"a": None}] for field in FORM_FIELDS}},
        {"json": {field: 2**70 for field in FORM_FIELDS}},
        {"json": [1, 2]},
        {"json": "text"},
        {"data": b"{not json", "content_type": "application/json"},
        {"data": b"\xff\xfe%%%=&&==", "content_type": "application/x-www-form-urlencoded"},
    ]


def _repeated(names) -> str:
    """A query string with each parameter twice or more, at different values."""
    return urlencode([(name, value) for name in names for value in ("1", "abc", "")])


_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@pytest.fixture
def walk_world(app, world, connected_workspace, stripe_emulator):
    """Real objects for every URL variable, so query and form hostility reach the views."""
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import Invoice
    from invoicing_plugin.services import portal
    from invoicing_plugin.services import templates as template_service
    from host_demo.models import Proposal

    sent = draft(app, world, description="Sent for the walk", send_method="stripe_link")
    send(app, world, sent.id, method="stripe_link")
    kept_draft = draft(app, world, description="Draft for the walk")
    with app.test_request_context():
        template = template_service.create_template(
            world.acme, "user:test", template_service.TemplateInput(name="Walk template", description="x")
        )
        access = portal.ensure_portal_access(world.acme, world.client_a)
        from invoicing_plugin.services import tax_rates

        tax_rate = tax_rates.create_tax_rate(world.acme, "user:test", tax_rates.TaxRateInput(
            name="Walk rate", rate="20", category="S"))
        get_state().session.commit()
        public_token = get_state().session.get(Invoice, sent.id).public_token
        accept_token = get_state().session.get(Proposal, int(world.proposal_pending)).accept_token
        values = {
            "invoice_id": str(sent.id),
            "template_id": str(template.id),
            "rate_id": str(tax_rate.id),
            "proposal_id": world.proposal_accepted,
            "public_token": public_token,
            "event_pk": "1",
            "slug": world.acme_slug,
            "client_id": world.client_a,
            "engagement_id": world.engagement,
            ("invoicing.subject_deposit", "kind"): "proposal",
            ("invoicing.subject_deposit", "subject_id"): world.proposal_accepted,
            "message_id": "1",
            "filename": "invoicing/invoicing.css",
            # ``token`` means different things on different routes:
            ("invoicing_public.pay", "token"): public_token,
            ("invoicing_public.pay_success", "token"): public_token,
            ("invoicing_portal.portal", "token"): access.token,
            ("invoicing_portal.invoice_page", "token"): access.token,
            ("invoicing_portal.invoice_pdf", "token"): access.token,
            ("main.accept_proposal", "token"): accept_token,
        }
    values["draft_id"] = str(kept_draft.id)
    credited = draft(app, world, description="Credited for the walk", send_method="manual")
    send(app, world, credited.id, method="manual")
    with app.test_request_context():
        from invoicing_plugin import api

        note = api.create_credit_note(world.acme, "user:test", credited.id, amount="10", reason="Walk")
    values["credit_note_id"] = str(note.id)
    values[("invoicing_public.credit_note", "token")] = note.public_token
    values[("invoicing_public.credit_note_pdf", "token")] = note.public_token
    emailed = draft(app, world, description="Emailed for the walk")
    send(app, world, emailed.id, method="email")
    with app.app_context():
        from invoicing_plugin.persistence.models import OutboxEmail

        values["email_id"] = str(get_state().session.query(OutboxEmail.id).filter_by(invoice_id=emailed.id).scalar())
        get_state().session.rollback()
    return values


def _value(valid: dict, endpoint: str, name: str) -> str:
    if (endpoint, name) in valid:
        return valid[(endpoint, name)]
    if name in valid:
        return valid[name]
    pytest.fail(
        f"route {endpoint} has a URL variable {name!r} the hostile walker cannot fill: add a valid value to "
        "walk_world() in tests/integration/test_hostile_routes.py",
        pytrace=False,
    )


def _path(rule, valid: dict, hostile: tuple[str, str] | None = None) -> str:
    """The rule's path with valid values, or with ``hostile = (variable, value)`` in one place."""

    def fill(match):
        name = match.group(1)
        text = hostile[1] if hostile and hostile[0] == name else _value(valid, rule.endpoint, name)
        return quote(text, safe="")

    return _VARIABLE.sub(fill, rule.rule)


def _methods(rule) -> list[str]:
    methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    unknown = set(methods) - {"GET", "POST"}
    assert not unknown, f"{rule.endpoint}: the walker does not know how to send {unknown}"
    return methods


def _ask(client, method: str, url: str, failures: list, **kwargs) -> None:
    try:
        response = client.open(url, method=method, **kwargs)
    except Exception as exc:  # noqa: BLE001 - an exception escaping a view is a 500
        failures.append(f"{method} {url[:160]!r} raised {type(exc).__name__}: {str(exc)[:200]}")
        return
    if response.status_code >= 500:
        failures.append(f"{method} {url[:160]!r} answered {response.status_code}")
    response.close()


def _walk(app, client, valid: dict) -> list[str]:
    failures: list[str] = []
    rules = sorted(app.url_map.iter_rules(), key=lambda r: ("POST" in (r.methods or ()), r.rule))
    for rule in rules:
        names = sorted(set(_VARIABLE.findall(rule.rule)))
        for method in _methods(rule):
            base = _path(rule, valid)
            for name in names:
                for value in HOSTILE:
                    _ask(client, method, _path(rule, valid, (name, value)), failures)
            if method == "GET":  # every parameter at once (test_hostile_input.py asks them one by one)
                for value in HOSTILE:
                    _ask(client, "GET", base + "?" + urlencode({param: value for param in QUERY_PARAMS}), failures)
                _ask(client, "GET", base + "?" + _repeated(QUERY_PARAMS), failures)
                _ask(client, "GET", base, failures, headers=HOSTILE_HEADERS)
                for headers in HOSTILE_HOSTS:
                    _ask(client, "GET", base, failures, headers=headers)
            else:
                for value in FORM_VALUES:
                    _ask(client, "POST", base, failures, data={field: value for field in FORM_FIELDS})
                _ask(client, "POST", base + "?" + _repeated(QUERY_PARAMS), failures,
                     data=MultiDict([(field, value) for field in FORM_FIELDS for value in ("1", "x", "")]))
                for body in _odd_bodies():
                    _ask(client, "POST", base, failures, **body)
        for method in OTHER_METHODS:
            _ask(client, method, _path(rule, valid), failures)
    return failures


def test_no_route_answers_5xx_to_hostile_input_as_staff(app, world, walk_world):
    client = login(app.test_client(), world.owner_email, world.acme_slug)
    failures = _walk(app, client, walk_world)
    assert not failures, f"{len(failures)} requests failed:\n" + "\n".join(failures[:80])


def test_no_route_answers_5xx_to_hostile_input_anonymously(app, world, walk_world):
    failures = _walk(app, app.test_client(), walk_world)
    assert not failures, f"{len(failures)} requests failed:\n" + "\n".join(failures[:80])


def test_the_walker_refuses_a_route_it_cannot_fill(app, world, walk_world):
    """A new route with an unknown variable fails the walk instead of being skipped."""
    app.add_url_rule("/walk-check/<int:unheard_of>", "walk_check", lambda unheard_of: "")
    with pytest.raises(pytest.fail.Exception, match="unheard_of"):
        _walk(app, app.test_client(), walk_world)


#: URL variables that name a workspace's own rows (or the host's, for the workspace).
SCOPED = {"invoice_id", "draft_id", "template_id", "email_id", "proposal_id", "engagement_id", "subject_id",
          "client_id"}


def test_another_workspaces_ids_answer_404_on_every_staff_route(app, world, walk_world):
    """Billing staff of northwind, on every plugin route with acme's real ids (GET and POST):
    never a page or a change, always 404 (ids of another workspace do not exist here)."""
    client = login(app.test_client(), world.outsider_email, world.northwind_slug)
    wrong, checked = [], set()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        names = set(_VARIABLE.findall(rule.rule))
        if not rule.endpoint.startswith("invoicing") or not names or not names & SCOPED or names - SCOPED - {"kind"}:
            continue
        for method in _methods(rule):
            url = _path(rule, walk_world)
            response = client.open(url, method=method, data={field: "1" for field in FORM_FIELDS})
            checked.add(rule.endpoint)
            if response.status_code != 404:
                wrong.append(f"{method} {url} answered {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert {"invoicing_outbox.detail", "invoicing_outbox.retry", "invoicing.subject_deposit"} <= checked, checked
