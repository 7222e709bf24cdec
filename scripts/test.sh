#!/usr/bin/env bash
# Run the whole test suite on a fresh Debian machine with Python 3.11.
#  - installs Debian's postgresql and chromium when missing (as root), and what
#    WeasyPrint needs for the PDF invoices (Pango, a font: scripts/pdf_packages.sh),
#  - creates .venv and installs the project with its test extras, every version
#    from requirements/constraints.txt (scripts/venv.sh),
#  - runs pytest: unit, integration (SQLite and PostgreSQL), browser (Chromium).
# With CI=true, a missing PostgreSQL or Chromium fails the run instead of skipping,
# and a missing Pango or font stops it before the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
mapfile -t pdf_missing < <(bash scripts/pdf_packages.sh)
need_apt+=("${pdf_missing[@]}")
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing ${need_apt[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "Missing Debian packages: ${need_apt[*]} (run as root to install them)" >&2
  fi
fi

mapfile -t pdf_missing < <(bash scripts/pdf_packages.sh)
if [ ${#pdf_missing[@]} -gt 0 ]; then
  if [[ "${CI:-}" =~ ^(1|[Tt]rue|TRUE|[Yy]es)$ ]]; then
    echo "PDF invoices need Debian packages that are missing: ${pdf_missing[*]}" >&2
    exit 1
  fi
  echo "Missing Debian packages for PDF invoices: ${pdf_missing[*]} (tests that read a PDF skip, those that only download one fail)" >&2
fi

bash scripts/venv.sh test

export INVOICING_CHROMIUM="${INVOICING_CHROMIUM:-/usr/bin/chromium}"
exec .venv/bin/python -m pytest "$@"
