"""The README is executable: its settings table is current (its host app: test_readme_host.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_settings_table_matches_config():
    result = subprocess.run([sys.executable, "scripts/settings_table.py", "--check"], cwd=ROOT)
    assert result.returncode == 0, "README settings table is stale: run python scripts/settings_table.py"


# The README's host app ("Mount it in your app") is run by test_readme_host.py.
