"""The one table the benchmark prints, plus the machine it ran on."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field


@dataclass
class Row:
    what: str  # what was measured
    database: str  # "SQLite 3.x", "PostgreSQL 15.x" or "-"
    figure: str  # the headline number, with its unit
    detail: str  # median/p90, floor, etc.
    target: str
    ok: bool | None  # None: no target, or not measurable
    command: str  # how it was measured: the request or call


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        mark = {True: "ok", False: "MISS", None: "-"}[row.ok]
        progress(f"  {row.what} [{row.database}]: {row.figure} ({row.detail}) target {row.target}: {mark}")

    def note(self, text: str) -> None:
        self.notes.append(text)
        progress(f"  note: {text}")

    def render(self, header: list[str]) -> str:
        lines = [*header, ""]
        lines.append("| Measurement | Database | Figure | Detail | Target | Met | Command |")
        lines.append("|---|---|---|---|---|---|---|")
        for r in self.rows:
            met = {True: "yes", False: "**no**", None: "-"}[r.ok]
            lines.append(f"| {r.what} | {r.database} | {r.figure} | {r.detail} | {r.target} | {met} | `{r.command}` |")
        if self.notes:
            lines.append("")
            lines.extend(f"- {n}" for n in self.notes)
        return "\n".join(lines)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> list[str]:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = "?"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    return [
        f"Machine: {os.cpu_count()} CPUs ({model}), {ram} RAM, {platform.system()} {platform.release()}",
        f"Python {platform.python_version()} ({sys.executable})",
    ]


def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"
