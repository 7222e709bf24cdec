"""The built wheel ships everything a host needs: templates, static files, migrations."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_templates_static_files_and_migrations(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path),
         "--build-constraint", str(ROOT / "requirements" / "constraints.txt"), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # The build backend has nothing to warn about (e.g. the deprecated ``license``
    # table, which setuptools stops accepting in 2027).
    warnings = re.findall(r"\b\w+Warning: .*", result.stdout + result.stderr)
    assert not warnings, warnings
    wheel = next(tmp_path.glob("invoicing_plugin-*.whl"))
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    wheel_metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in wheel_metadata.splitlines()

    assert "invoicing_plugin/web/templates/invoicing/layout.html" in names
    assert "invoicing_plugin/web/static/invoicing/invoicing.css" in names
    assert "invoicing_plugin/migrations/env.py" in names
    assert "invoicing_plugin/migrations/script.py.mako" in names
    assert any(n.startswith("invoicing_plugin/migrations/versions/0001_") for n in names)
    assert any(n.startswith("invoicing_plugin/testing/stripe_emulator/templates/") for n in names)
    package = ROOT / "invoicing_plugin"
    templates_in_tree = {
        str(p.relative_to(ROOT))
        for folder in ("web/templates", "web/static", "migrations/versions", "testing/stripe_emulator/templates")
        for p in (package / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert templates_in_tree <= names, sorted(templates_in_tree - names)
    assert not any(n.startswith(("host_demo/", "tests/")) for n in names)
