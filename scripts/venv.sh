#!/usr/bin/env bash
# Make .venv (when missing) and install the project with the given extras, every
# package -- pip and the build backend included -- at the version in
# requirements/constraints.txt, so every machine runs the same versions.
# Usage: bash scripts/venv.sh EXTRA[,EXTRA...]     e.g. test, demo, bench
# Refresh the lock after changing dependencies: bash scripts/lock.sh
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:?usage: scripts/venv.sh EXTRA[,EXTRA...]}"
lock=requirements/constraints.txt

python3 -c 'import venv, ensurepip' 2>/dev/null || {
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "Missing Debian package: python3-venv (run as root to install it)" >&2
    exit 1
  fi
}
[ -x .venv/bin/python ] || python3 -m venv .venv

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! {
  .venv/bin/python -m pip install -q --disable-pip-version-check -c "$lock" pip setuptools &&
  .venv/bin/python -m pip install -q --disable-pip-version-check \
      -c "$lock" --build-constraint "$lock" -e ".[$extras]"
} >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
