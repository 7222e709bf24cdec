"""Webhook throughput over real HTTP: gunicorn (2 workers of 4 threads each, the
``gthread`` worker: a webhook spends much of its time waiting on the database, and a
thread waiting releases the CPU to another request) on PostgreSQL, a thread-pool load
generator with keep-alive ``http.client`` connections on loopback,
distinct events plus 10 % duplicates, bounded in count and time. The RSS of the
gunicorn master and workers is sampled from ``/proc`` during the load."""

from __future__ import annotations

import http.client
import os
import random
import socket
import subprocess
import sys
import threading
import time
from itertools import count
from pathlib import Path

from .app import CONNECT_WEBHOOK_SECRET as WEBHOOK_SECRET
from .data import HookInvoice
from .events import checkout_completed, event_id_for, sign
from .inprocess import FLOOR_PATH, WEBHOOK_PATH, _paid_transitions
from .report import Report, Row, progress

ROOT = Path(__file__).resolve().parent.parent
# BENCH_GUNICORN_WORKER="--worker-class sync" compares with one request per worker at a time.
GUNICORN_WORKER = os.environ.get("BENCH_GUNICORN_WORKER", "--worker-class gthread --threads 4").split()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        kids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                            kids.append(int(entry))
                except (OSError, IndexError, ValueError):
                    pass
        return kids


class MemorySampler(threading.Thread):
    """Peak RSS (KiB) of a process tree, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_total = 0
        self.peak_worker = 0
        self.peak_master = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            master = _rss_kib(self.pid)
            workers = [_rss_kib(p) for p in _children(self.pid)]
            self.peak_master = max(self.peak_master, master)
            self.peak_worker = max([self.peak_worker, *workers])
            self.peak_total = max(self.peak_total, master + sum(workers))
            self._halt.wait(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _start_gunicorn(database_url: str, workers: int, log_path: Path) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = dict(os.environ, BENCH_DATABASE_URL=database_url)
    cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers), *GUNICORN_WORKER,
           "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--error-logfile", str(log_path), "benchmarks.app:wsgi_app()"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/login")
            if conn.getresponse().status == 200 and len(_children(proc.pid)) >= workers:
                conn.close()
                # Each worker imports the app lazily on its first request: warm both.
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("gunicorn did not start within 30 s")


def _plan(invoices: list[HookInvoice], duplicate_share: float, seed: int = 8) -> list[tuple[int, bytes, str]]:
    """Signed bodies: one event per invoice, plus duplicates re-delivered soon after (some concurrently)."""
    rng = random.Random(seed)
    bodies = []
    for inv in invoices:
        b = checkout_completed(inv, event_id=event_id_for(inv, "http"))
        bodies.append((inv.id, b, sign(b, WEBHOOK_SECRET)))
    plan = list(bodies)
    for index in sorted(rng.sample(range(len(bodies)), int(len(bodies) * duplicate_share)), reverse=True):
        invoice_id, b, _ = bodies[index]
        # Stripe re-signs a retried delivery with a fresh timestamp.
        position = min(len(plan), index + 1 + rng.randint(0, 12))
        plan.insert(position, (invoice_id, b, sign(b, WEBHOOK_SECRET, int(time.time()) + 1)))
    return plan


def _totals_drift(app, workspace_id: str) -> list:
    """Rows of the workspace's analytics totals that differ from its invoices (none, if exact)."""
    with app.app_context():
        from invoicing_plugin.services.analytics import totals_drift

        return totals_drift(workspace_id)


def _run_load(port: int, plan: list[tuple[int, bytes, str]], *, threads: int, time_cap: float,
              path: str = WEBHOOK_PATH):
    next_index = count()
    results: list[tuple[int, float]] = []  # (status or -1, seconds)
    lock = threading.Lock()
    deadline = time.monotonic() + time_cap

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local = []
        while time.monotonic() < deadline:
            i = next(next_index)
            if i >= len(plan):
                break
            _, body, sig = plan[i]
            t = time.perf_counter()
            try:
                conn.request("POST", path, body=body,
                             headers={"Stripe-Signature": sig, "Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                status = -1
                conn.close()
            local.append((status, time.perf_counter() - t))
        conn.close()
        with lock:
            results.extend(local)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results, time.perf_counter() - started


def throughput(app, database_url: str, invoices: list[HookInvoice], db_label: str, report: Report, *,
               threads: int = 6, time_cap: float = 60.0, workers: int = 2) -> None:
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-gunicorn-{os.getpid()}.log"
    command = (f"gunicorn -w {workers} {' '.join(GUNICORN_WORKER)} benchmarks.app:wsgi_app() "
               f"+ {threads} keep-alive client threads")
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        report.add(Row("Webhook throughput over HTTP", db_label, "n/a", "gunicorn is not installed "
                       "(pip install -e '.[bench]')", "≥ 500 events/s", None, command))
        return
    proc, port = _start_gunicorn(database_url, workers, log_path)
    sampler = MemorySampler(proc.pid)
    try:
        # Probe: a refused or unimplemented endpoint makes the figure meaningless.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        probe = invoices[-1]
        b = checkout_completed(probe, event_id=event_id_for(probe, "probe"))
        conn.request("POST", WEBHOOK_PATH, body=b, headers={"Stripe-Signature": sign(b, WEBHOOK_SECRET)})
        status = conn.getresponse().status
        conn.close()
        if status != 200:
            report.add(Row("Webhook throughput over HTTP", db_label, "n/a", f"route answered {status}",
                           "≥ 500 events/s", None, command))
            return
        load = invoices[:-1]
        # The machine's own ceiling: the same server and client against the floor route
        # (verify the signature, insert one row, commit), distinct events only.
        floor_plan = []
        for inv in load:
            fb = checkout_completed(inv, event_id=event_id_for(inv, "floorhttp"))
            floor_plan.append((inv.id, fb, sign(fb, WEBHOOK_SECRET)))
        progress(f"    floor: sending {len(floor_plan)} events to {FLOOR_PATH} ...")
        floor_results, floor_elapsed = _run_load(port, floor_plan, threads=threads, time_cap=time_cap / 2,
                                                 path=FLOOR_PATH)
        plan = _plan(load, 0.10)
        idle_rss = _rss_kib(proc.pid) + sum(_rss_kib(p) for p in _children(proc.pid))
        sampler.start()
        progress(f"    sending {len(plan)} events ({len(load)} distinct) with {threads} threads ...")
        results, elapsed = _run_load(port, plan, threads=threads, time_cap=time_cap)
        sampler.stop()
    finally:
        proc.terminate()  # first: a gunicorn left running would outlive the benchmark
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if sampler.is_alive():
            sampler.stop()
    sent = len(results)
    errors = sum(1 for s, _ in results if s != 200)
    rate = sent / elapsed if elapsed else 0.0
    latencies = sorted(d for _, d in results)
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else 0
    complete = sent == len(plan)
    # Every request taken from the plan was completed, so plan[:sent] is what was delivered.
    delivered = list(dict.fromkeys(invoice_id for invoice_id, _, _ in plan[:sent]))
    paid = _paid_transitions(app, delivered)
    drifted = _totals_drift(app, load[0].workspace_id)
    ok = rate >= 500 and errors == 0 and complete and paid == len(load) and not drifted
    report.add(Row(
        "Webhook throughput over HTTP (10 % duplicates)", db_label, f"{rate:.0f} events/s",
        f"{sent}/{len(plan)} sent in {elapsed:.1f} s; errors: {errors}; latency p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
        f"invoices with exactly one paid transition: {paid}/{len(delivered)} delivered; "
        f"analytics totals {'exact' if not drifted else f'off in {len(drifted)} rows'}"
        + ("" if complete else f" (time cap {time_cap:.0f} s reached)"),
        "≥ 500 events/s, 0 errors, 1 paid transition each", ok, command,
    ))
    floor_rate = len(floor_results) / floor_elapsed if floor_elapsed else 0.0
    floor_errors = sum(1 for st, _ in floor_results if st != 200)
    report.add(Row(
        "Floor throughput over HTTP (same server and client)", db_label, f"{floor_rate:.0f} events/s",
        f"{len(floor_results)} sent in {floor_elapsed:.1f} s; errors: {floor_errors}; webhook route = "
        f"{rate / floor_rate if floor_rate else 0:.2f}× the floor's rate",
        "(reference)", None, f"POST {FLOOR_PATH}, {command}",
    ))
    report.add(Row(
        "Peak RSS of gunicorn during the load", db_label, f"{sampler.peak_total / 1024:.0f} MiB",
        f"master + {workers} workers; idle before load {idle_rss / 1024:.0f} MiB; peak worker "
        f"{sampler.peak_worker / 1024:.0f} MiB, master {sampler.peak_master / 1024:.0f} MiB",
        "(reported)", None, "VmRSS from /proc/<pid>/status every 50 ms",
    ))
    if errors:
        try:
            report.note(f"gunicorn log tail: {log_path.read_text()[-600:]!r}")
        except OSError:
            pass
