"""Figures measured in one process with Flask's test client: webhook per event against
its floor, the staff invoice list, the analytics page, a plugin page against a host
page, and ``init_app``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from itertools import count

from .app import CONNECT_WEBHOOK_SECRET as WEBHOOK_SECRET
from .data import BenchWorkspace, HookInvoice
from .events import checkout_completed, event_id_for, sign
from .report import Report, Row, ms, progress
from .timing import Stats, interleaved, measure

WEBHOOK_PATH = "/invoicing/webhooks/stripe"
FLOOR_PATH = "/bench/floor"


def signed_in_client(app, ws: BenchWorkspace):
    """A test client signed in as ``ws``'s owner with ``ws`` current (as after /login and /w/<slug>)."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(ws.user_id)
        session["_fresh"] = True
        session["workspace_id"] = int(ws.id)
    return client


def url_for_endpoint(app, endpoint: str, **values) -> str | None:
    from flask import url_for
    from werkzeug.routing import BuildError

    with app.test_request_context():
        try:
            return url_for(endpoint, **values)
        except BuildError:
            return None


# ------------------------------------------------------------------------------ webhooks


@dataclass
class WebhookFigures:
    route: Stats
    floor: Stats
    errors: int


def webhook_per_event(app, invoices: list[HookInvoice], db_label: str, report: Report, *,
                      rounds: int, per_round: int, warmup: int) -> None:
    """Signed ``checkout.session.completed`` through the real route, against the floor."""
    client = app.test_client()
    needed = warmup + rounds * per_round
    if len(invoices) < needed + 2:
        raise RuntimeError(f"need {needed + 2} hook invoices, have {len(invoices)}")

    def probe(path: str, inv: HookInvoice, tag: str):
        body = checkout_completed(inv, event_id=event_id_for(inv, tag))
        return client.post(path, data=body, headers={"Stripe-Signature": sign(body, WEBHOOK_SECRET),
                                                     "Content-Type": "application/json"})

    response = probe(WEBHOOK_PATH, invoices[-1], "probe")
    # Round trips to the database per request (after a first request warmed everything up).
    route_trips = _round_trips(app, lambda: probe(WEBHOOK_PATH, invoices[-2], "probe"))
    floor_trips = _round_trips(app, lambda: probe(FLOOR_PATH, invoices[-2], "probe-floor"))
    if response.status_code != 200:
        report.add(Row("Webhook per event vs floor", db_label, "n/a", f"route answered {response.status_code}",
                       "≤ 2.0× floor", None, f"POST {WEBHOOK_PATH}"))
        return

    # Bodies are built and signed up front (signing is the sender's cost, not ours).
    route_bodies = []
    for inv in invoices[:needed]:
        b = checkout_completed(inv, event_id=event_id_for(inv))
        route_bodies.append((b, sign(b, WEBHOOK_SECRET)))
    floor_bodies = []
    for inv in invoices[:needed]:
        b = checkout_completed(inv, event_id=event_id_for(inv, "floor"))
        floor_bodies.append((b, sign(b, WEBHOOK_SECRET)))
    route_iter, floor_iter = iter(route_bodies), iter(floor_bodies)
    statuses: dict[str, list[int]] = {"route": [], "floor": []}

    def post(path, it, key):
        b, sig = next(it)
        r = client.post(path, data=b, headers={"Stripe-Signature": sig, "Content-Type": "application/json"})
        statuses[key].append(r.status_code)

    figures = interleaved(
        {"floor": lambda: post(FLOOR_PATH, floor_iter, "floor"), "route": lambda: post(WEBHOOK_PATH, route_iter, "route")},
        rounds=rounds, per_round=per_round, warmup=warmup,
    )
    errors = sum(1 for codes in statuses.values() for c in codes if c != 200)
    paid = _paid_transitions(app, [inv.id for inv in invoices[:needed]])
    route, floor = figures["route"], figures["floor"]
    ratio = route.median_ms / floor.median_ms
    report.add(Row(
        "Webhook per event (checkout.session.completed → paid)", db_label, f"{ratio:.2f}× floor",
        f"route p50 {ms(route.median_ms)}, p90 {ms(route.p90_ms)}; floor p50 {ms(floor.median_ms)}, "
        f"p90 {ms(floor.p90_ms)}; n={route.n}; non-200: {errors}; invoices paid once: {paid}/{needed}; "
        f"database round trips per event: route {route_trips}, floor {floor_trips}",
        "≤ 2.0× floor", ratio <= 2.0 and errors == 0 and paid == needed,
        f"POST {WEBHOOK_PATH} vs POST {FLOOR_PATH} (test client, interleaved)",
    ))


def _round_trips(app, send) -> int:
    """Statements ``send()`` makes the database answer: BEGIN, each statement, COMMIT.

    A connection in autocommit mode sends no BEGIN, COMMIT or ROLLBACK (each statement is
    its own transaction), so those are counted only on connections that are not.
    """
    from sqlalchemy import event

    from host_demo.models import db

    with app.app_context():
        engine = db.engine
    seen = [0]

    def one(*args, **kwargs):
        seen[0] += 1

    def transaction_command(conn, *args, **kwargs):
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            seen[0] += 1

    hooks = [(engine, "begin", transaction_command), (engine, "before_cursor_execute", one),
             (engine, "commit", transaction_command), (engine, "rollback", transaction_command)]
    for target, name, listener in hooks:
        event.listen(target, name, listener)
    try:
        send()
    finally:
        for target, name, listener in hooks:
            event.remove(target, name, listener)
    return seen[0]


def _paid_transitions(app, invoice_ids: list[int]) -> int:
    """How many of ``invoice_ids`` are paid with exactly one ``payment_succeeded`` audit event."""
    from sqlalchemy import func, select

    from host_demo.models import db
    from invoicing_plugin.persistence.models import Invoice, InvoiceEvent

    with app.app_context():
        counts = dict(db.session.execute(
            select(InvoiceEvent.invoice_id, func.count())
            .where(InvoiceEvent.action == "payment_succeeded", InvoiceEvent.invoice_id.in_(invoice_ids))
            .group_by(InvoiceEvent.invoice_id)
        ).all())
        paid = set(db.session.scalars(
            select(Invoice.id).where(Invoice.id.in_(invoice_ids), Invoice.status == "paid")
        ).all())
        db.session.remove()
    return sum(1 for i in invoice_ids if counts.get(i) == 1 and i in paid)


# ------------------------------------------------------------------------------ pages

_ROW = re.compile(rb"<tr[ >]")


def _get_ok(client, url: str) -> bytes:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return response.data


def deep_page_url(app, client, first_url: str, ws: BenchWorkspace) -> str | None:
    """The list page that starts 90 % of the way down the workspace's invoices (newest first).

    The list pages with a keyset cursor (``?after=<invoice id>``, the "Next" link):
    the cursor for that depth is the id of the invoice at that position, found once
    here. Numbered pages (``?page=N``) go straight to the page number.
    """
    from sqlalchemy import select

    from host_demo.models import db
    from invoicing_plugin.persistence.models import Invoice

    html = _get_ok(client, first_url).decode()
    links = [l.replace("&amp;", "&") for l in re.findall(r'href="([^"]*\binvoices\?[^"]*)"', html)]
    depth = int(ws.invoices * 0.9)
    if any("after=" in l for l in links):
        with app.app_context():
            anchor = db.session.scalar(
                select(Invoice.id).where(Invoice.workspace_id == ws.id)
                .order_by(Invoice.created_at.desc(), Invoice.id.desc()).offset(depth).limit(1)
            )
            db.session.remove()
        return f"{first_url}?after={anchor}"
    page_links = [l for l in links if "page=" in l]
    if page_links:
        size = max(1, len(_ROW.findall(html.encode())) - 1)
        return re.sub(r"page=\d+", f"page={max(2, depth // size)}", page_links[0])
    return None


def amount_page_url(app, client, first_url: str, ws: BenchWorkspace, rows: int) -> str:
    """The page 90 % deep of the list sorted by amount, highest first.

    With a keyset cursor (the sorted first page links ``?after=``) the cursor is the
    id of the invoice at that position in that order; with numbered pages, the number.
    """
    from sqlalchemy import select

    from host_demo.models import db
    from invoicing_plugin.persistence.models import Invoice

    sorted_url = f"{first_url}?sort=amount_desc"
    depth = int(ws.invoices * 0.9)
    if "after=" in _get_ok(client, sorted_url).decode():
        with app.app_context():
            anchor = db.session.scalar(
                select(Invoice.id).where(Invoice.workspace_id == ws.id)
                .order_by(Invoice.amount_minor.desc(), Invoice.id.desc()).offset(depth).limit(1)
            )
            db.session.remove()
        return f"{sorted_url}&after={anchor}"
    return f"{sorted_url}&page={max(2, depth // max(rows, 1))}"


def invoice_list(app, workspaces: dict[str, BenchWorkspace], db_label: str, report: Report, *,
                 repeat: int, warmup: int) -> dict[str, float]:
    url = url_for_endpoint(app, "invoicing.invoice_list")
    first: dict[str, Stats] = {}
    deep: dict[str, Stats] = {}
    by_amount: dict[str, Stats] = {}
    paths: dict[str, str] = {}
    for key in ("1k", "100k"):
        ws = workspaces[key]
        client = signed_in_client(app, ws)
        rows = len(_ROW.findall(_get_ok(client, url))) - 1
        first[key] = measure(lambda: _get_ok(client, url), repeat=repeat, warmup=warmup)
        deep_url = deep_page_url(app, client, url, ws)
        if deep_url:
            deep[key] = measure(lambda: _get_ok(client, deep_url), repeat=repeat, warmup=warmup)
            paths["deep"] = deep_url.split("?", 1)[1]
        by_amount_url = amount_page_url(app, client, url, ws, rows)
        by_amount[key] = measure(lambda: _get_ok(client, by_amount_url), repeat=max(5, repeat // 4), warmup=2)
        paths["amount"] = by_amount_url.split("?", 1)[1]
        progress(f"    list {key}: {rows} rows, first p50 {ms(first[key].median_ms)}"
                 + (f", deep ({deep_url}) p50 {ms(deep[key].median_ms)}" if deep_url else ", no paging found")
                 + f", by amount ({by_amount_url}) p50 {ms(by_amount[key].median_ms)}")
    for label, figures, path in (("first page (newest first)", first, ""),
                                 ("page 90 % deep (newest first, keyset cursor)", deep, paths.get("deep", "")),
                                 ("page 90 % deep (sorted by amount, highest first)", by_amount, paths.get("amount", ""))):
        if "100k" not in figures:
            report.add(Row(f"Staff invoice list, {label}", db_label, "n/a", "the list has no numbered pages",
                           "p50 ≤ 25 ms at 100k, ≤ 1.5× 1k", None, f"GET {url}"))
            continue
        big, small = figures["100k"], figures["1k"]
        ratio = big.median_ms / small.median_ms
        report.add(Row(
            f"Staff invoice list, {label}, {workspaces['100k'].invoices:,} invoices", db_label, f"p50 {ms(big.median_ms)}",
            f"p90 {ms(big.p90_ms)}; 1k: p50 {ms(small.median_ms)}, p90 {ms(small.p90_ms)}; "
            f"100k/1k {ratio:.2f}×; n={big.n}",
            "p50 ≤ 25 ms, ≤ 1.5× 1k", big.median_ms <= 25 and ratio <= 1.5, f"GET {url}?{path}" if path else f"GET {url}",
        ))
    return {k: v.median_ms for k, v in first.items()}


def analytics(app, ws: BenchWorkspace, db_label: str, report: Report, *, repeat: int, warmup: int,
              label: str) -> None:
    url = None
    for endpoint in ("invoicing_analytics.dashboard", "invoicing_analytics.revenue", "invoicing_analytics.analytics", "invoicing.analytics",
                     "invoicing_analytics.index", "invoicing.revenue_analytics"):
        url = url_for_endpoint(app, endpoint)
        if url:
            break
    if url is None:
        url = next((r.rule for r in app.url_map.iter_rules() if "analytics" in r.rule and "GET" in r.methods
                    and not r.arguments), None)
    if url is None:
        report.add(Row(f"Revenue analytics, {label}", db_label, "n/a", "no analytics page is registered yet",
                       "≤ 150 ms", None, "GET /invoicing/analytics"))
        return
    client = signed_in_client(app, ws)
    stats = measure(lambda: _get_ok(client, url), repeat=repeat, warmup=warmup)
    report.add(Row(f"Revenue analytics, {label}", db_label, f"p50 {ms(stats.median_ms)}",
                   f"p90 {ms(stats.p90_ms)}; n={stats.n}", "≤ 150 ms", stats.median_ms <= 150, f"GET {url}"))


def plugin_vs_host_page(app, ws: BenchWorkspace, db_label: str, report: Report, *, rounds: int, per_round: int,
                        warmup: int) -> None:
    url = url_for_endpoint(app, "invoicing.invoice_list")
    client = signed_in_client(app, ws)
    rows = len(_ROW.findall(_get_ok(client, url))) - 1
    host_url = f"/bench/host-page?rows={rows}"
    _get_ok(client, host_url)
    figures = interleaved({"host": lambda: _get_ok(client, host_url), "plugin": lambda: _get_ok(client, url)},
                          rounds=rounds, per_round=per_round, warmup=warmup)
    plugin, host = figures["plugin"], figures["host"]
    ratio = plugin.median_ms / host.median_ms
    report.add(Row(
        "Plugin page vs bare host page", db_label, f"{ratio:.2f}× host",
        f"plugin p50 {ms(plugin.median_ms)} (p90 {ms(plugin.p90_ms)}), host p50 {ms(host.median_ms)} "
        f"(p90 {ms(host.p90_ms)}); {rows} rows each, 3-level templates; n={plugin.n}",
        "≤ 2×", ratio <= 2.0, f"GET {url} vs GET {host_url} (1k workspace, interleaved)",
    ))


# ------------------------------------------------------------------------------ init_app

_COLD = r"""
import time
from flask import Flask
import flask_sqlalchemy, flask_login, flask_wtf
t = time.perf_counter_ns()
from invoicing_plugin import Invoicing
print(time.perf_counter_ns() - t)
from host_demo.host import DemoHost
from host_demo.models import db
app = Flask("cold")
app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="x", INVOICING_SECRET_ENCRYPTION_KEY=%r)
db.init_app(app)
t = time.perf_counter_ns()
Invoicing(app, host=DemoHost())
print(time.perf_counter_ns() - t)
"""


def init_app(report: Report, *, repeat: int, cold_runs: int) -> None:
    from flask import Flask

    from host_demo.host import DemoHost
    from host_demo.models import db
    from invoicing_plugin import Invoicing

    from .app import ENCRYPTION_KEY

    names = count()

    def once():
        app = Flask(f"warm{next(names)}")
        app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="x", INVOICING_SECRET_ENCRYPTION_KEY=ENCRYPTION_KEY)
        db.init_app(app)
        Invoicing(app, host=DemoHost())

    # Only the Invoicing(...) call is timed.
    def timed():
        import time

        app = Flask(f"warm{next(names)}")
        app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="x", INVOICING_SECRET_ENCRYPTION_KEY=ENCRYPTION_KEY)
        db.init_app(app)
        t = time.perf_counter_ns()
        Invoicing(app, host=DemoHost())
        return time.perf_counter_ns() - t

    for _ in range(5):
        once()
    warm = Stats.of([timed() for _ in range(repeat)])
    imports: list[int] = []

    def cold_run(env=None) -> int:
        out = subprocess.run([sys.executable, "-c", _COLD % ENCRYPTION_KEY], capture_output=True, text=True, check=True,
                             env=env)
        import_ns, init_ns = (int(line) for line in out.stdout.strip().splitlines()[-2:])
        imports.append(import_ns)
        return init_ns

    cold = Stats.of([cold_run() for _ in range(cold_runs)])
    imported = Stats.of(imports)
    # The same with bytecode already compiled, as after `pip install` (which writes .pyc
    # files); the figure above compiles every module first if PYTHONDONTWRITEBYTECODE is set.
    with tempfile.TemporaryDirectory(prefix="invoicing-pyc-") as prefix:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = prefix
        cold_run(env)
        compiled = Stats.of([cold_run(env) for _ in range(cold_runs)])
    no_pyc = "no bytecode cache (PYTHONDONTWRITEBYTECODE)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "bytecode as found"
    report.add(Row(
        "import invoicing_plugin (after flask and its extensions)", "- (no query)",
        f"cold p50 {ms(imported.median_ms)}",
        f"fresh process, the whole plugin incl. its pages and the stripe SDK; {no_pyc}; n={imported.n}",
        "(reported)", None, "from invoicing_plugin import Invoicing",
    ))
    report.add(Row(
        "init_app (Invoicing(app, host=...))", "- (no query)", f"cold p50 {ms(cold.median_ms)}",
        f"cold = first call in a fresh process, after the import above; {no_pyc}, n={cold.n}; "
        f"cold with compiled bytecode p50 {ms(compiled.median_ms)}; warm p50 {ms(warm.median_ms)}, "
        f"p90 {ms(warm.p90_ms)}, n={warm.n}",
        "≤ 50 ms", cold.median_ms <= 50, "Invoicing(app, host=DemoHost())",
    ))
