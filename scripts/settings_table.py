"""Rewrite the README's settings table from invoicing_plugin/config.py (the single source).

    python scripts/settings_table.py          # rewrite README.md
    python scripts/settings_table.py --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from invoicing_plugin.config import SETTINGS  # noqa: E402

START, END = "<!-- settings-table -->", "<!-- /settings-table -->"


def table() -> str:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, setting in SETTINGS.items():
        rows.append(f"| `{key}` | `{setting.default!r}` | {setting.doc} |")
    return "\n".join(rows)


def render(readme: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    return pattern.sub(f"{START}\n{table()}\n{END}", readme)


if __name__ == "__main__":
    path = ROOT / "README.md"
    current = path.read_text()
    wanted = render(current)
    if "--check" in sys.argv:
        sys.exit(0 if current == wanted else 1)
    path.write_text(wanted)
