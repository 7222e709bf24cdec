"""``python -m benchmarks``: build the data, measure, print one table.

Options::

    --quick               a small-scale smoke run (seconds, figures not comparable)
    --only NAMES          comma-separated subset: init,webhook,list,pages,analytics,throughput
    --backends NAMES      sqlite,postgresql (default both)

Progress goes to stderr, the table (Markdown) to stdout.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # tests.support.postgres lives beside the package
    sys.path.insert(0, str(ROOT))

from . import data, http_load, inprocess  # noqa: E402
from .app import make_app  # noqa: E402
from .report import Report, machine, progress  # noqa: E402

ALL = ("init", "webhook", "list", "pages", "analytics", "throughput")

FULL = {
    "sizes": {"1k": 1_000, "100k": 100_000, "1m": 1_000_000, "hooks": 700, "load": 4_000},
    "webhook": {"rounds": 10, "per_round": 60, "warmup": 20},
    "list": {"repeat": 100, "warmup": 10},
    "pages": {"rounds": 10, "per_round": 30, "warmup": 10},
    "analytics": {"repeat": 30, "warmup": 3},
    "init": {"repeat": 30, "cold_runs": 5},
}
QUICK = {
    "sizes": {"1k": 100, "100k": 2_000, "1m": 10_000, "hooks": 120, "load": 600},
    "webhook": {"rounds": 4, "per_round": 20, "warmup": 5},
    "list": {"repeat": 15, "warmup": 3},
    "pages": {"rounds": 4, "per_round": 10, "warmup": 3},
    "analytics": {"repeat": 5, "warmup": 1},
    "init": {"repeat": 10, "cold_runs": 2},
}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, few repetitions (smoke test)")
    parser.add_argument("--only", default=",".join(ALL), help=f"subset of {','.join(ALL)}")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite,postgresql")
    args = parser.parse_args(argv)
    args.only = {x.strip() for x in args.only.split(",") if x.strip()}
    unknown = args.only - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    return args


def run_backend(backend: str, args, plan: dict, report: Report, tmp: Path) -> None:
    server = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'bench.sqlite'}"
        db_label = f"SQLite {sqlite3.sqlite_version} (file)"
        sizes = {k: v for k, v in plan["sizes"].items() if k in ("1k", "100k", "hooks")}
    else:
        from tests.support.postgres import PostgresServer, PostgresUnavailable

        try:
            server = PostgresServer.start()
        except PostgresUnavailable as exc:
            report.note(f"PostgreSQL figures skipped: {exc}")
            return
        url = server.create_database("invoicing_bench")
        sizes = dict(plan["sizes"])
        if "throughput" not in args.only:
            sizes.pop("load")
        if "analytics" not in args.only:
            sizes.pop("1m")
    try:
        progress(f"[{backend}] building data: {', '.join(f'{k}={v:,}' for k, v in sizes.items())}")
        app = make_app(url)
        if server is not None:
            from sqlalchemy import text

            from host_demo.models import db

            with app.app_context():
                db_label = "PostgreSQL " + db.session.execute(text("SHOW server_version")).scalar().split()[0]
                db.session.remove()
        data.create_schema(app)
        workspaces = data.create_workspaces(app, sizes, hook_keys=("hooks", "load"))
        data.load_invoices(app, backend, workspaces)
        total = sum(sizes.values())
        report.note(f"{db_label}: {total:,} invoices in the table ({', '.join(f'{k}: {v:,}' for k, v in sizes.items())})")

        if "webhook" in args.only:
            progress(f"[{backend}] webhook per event vs floor")
            inprocess.webhook_per_event(app, data.hook_invoices(app, workspaces["hooks"]), db_label, report,
                                        **plan["webhook"])
        if "list" in args.only:
            progress(f"[{backend}] staff invoice list")
            inprocess.invoice_list(app, workspaces, db_label, report, **plan["list"])
        if "pages" in args.only:
            progress(f"[{backend}] plugin page vs host page")
            inprocess.plugin_vs_host_page(app, workspaces["1k"], db_label, report, **plan["pages"])
        if "analytics" in args.only and "1m" in workspaces:
            progress(f"[{backend}] revenue analytics")
            inprocess.analytics(app, workspaces["1m"], db_label, report, label=f"{sizes['1m']:,} invoices",
                                **plan["analytics"])
            inprocess.analytics(app, workspaces["100k"], db_label, report, label=f"{sizes['100k']:,} invoices",
                                **plan["analytics"])
        if "throughput" in args.only and "load" in workspaces:
            progress(f"[{backend}] webhook throughput over HTTP")
            http_load.throughput(app, url, data.hook_invoices(app, workspaces["load"]), db_label, report)
        from host_demo.models import db

        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        if server is not None:
            server.stop()


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.ERROR)
    plan = QUICK if args.quick else FULL
    report = Report()
    started = time.perf_counter()
    if "init" in args.only:
        progress("[-] init_app")
        inprocess.init_app(report, **plan["init"])
    with tempfile.TemporaryDirectory(prefix="invoicing-bench-") as tmp:
        for backend in args.backends:
            run_backend(backend, args, plan, report, Path(tmp))
    command = "python -m benchmarks " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    header = [
        f"# invoicing_plugin benchmarks{' (QUICK: small data, not comparable)' if args.quick else ''}",
        "",
        *[f"- {line}" for line in machine()],
        f"- Command: `{command.strip()}`; total time {time.perf_counter() - started:.0f} s",
        "- Medians (p50) and p90 over repeated runs after warm-up; ratios are measured interleaved in the same run.",
        f"- Targets met: {sum(r.ok is True for r in report.rows)} of {sum(r.ok is not None for r in report.rows)}"
        " (a miss is reported with its figure, never hidden; the exit status is 0 unless the run itself failed).",
    ]
    print(report.render(header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
