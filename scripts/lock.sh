#!/usr/bin/env bash
# Refresh requirements/constraints.txt from pyproject.toml (every extra) and
# requirements/tools.in (pip, setuptools), for CPython 3.11 on any platform.
# The package's own dependencies stay ranges; the lock pins what the test suite,
# the demo and the benchmarks install (scripts/venv.sh). Run after changing a
# dependency, then run the suite: tests/unit/test_lock.py checks the lock
# satisfies pyproject.toml and that the suite runs on the locked versions.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
tool=$(mktemp -d)
trap 'rm -rf "$tool"' EXIT
python3 -m venv "$tool"
"$tool/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
"$tool/bin/uv" pip compile pyproject.toml requirements/tools.in --all-extras --universal \
  --python-version 3.11 --custom-compile-command "bash scripts/lock.sh" --quiet -o requirements/constraints.txt "$@"
echo "requirements/constraints.txt refreshed; now run: bash scripts/test.sh"
