#!/usr/bin/env bash
# Run host_demo with the plugin on SQLite and the bundled Stripe emulator
# (used automatically because no Stripe key is configured).
# Open http://127.0.0.1:5000 and sign in with a login printed by the seed step.
set -euo pipefail
cd "$(dirname "$0")/.."

# PDF invoices are printed by WeasyPrint, which needs Pango and a font (Debian packages).
mapfile -t pdf_missing < <(bash scripts/pdf_packages.sh)
if [ ${#pdf_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing ${pdf_missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pdf_missing[@]}" >/dev/null
  else
    echo "Missing Debian packages: ${pdf_missing[*]} (run as root to install them; until then PDF downloads answer 503)" >&2
  fi
fi

bash scripts/venv.sh demo   # every version from requirements/constraints.txt

# Demo-only secrets, made once and kept in instance/ (git-ignored).
mkdir -p instance
[ -s instance/demo-secret-key ] || .venv/bin/python -c 'import secrets; print(secrets.token_hex(32))' > instance/demo-secret-key
[ -s instance/demo-encryption-key ] || .venv/bin/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' > instance/demo-encryption-key
export FLASK_SECRET_KEY="$(cat instance/demo-secret-key)"
export FLASK_INVOICING_SECRET_ENCRYPTION_KEY="$(cat instance/demo-encryption-key)"
export FLASK_APP=host_demo
export DEMO_PUBLIC_URL="http://${HOST:-127.0.0.1}:${PORT:-5000}"

.venv/bin/flask init-db
.venv/bin/flask invoicing db-upgrade
.venv/bin/flask seed
exec .venv/bin/flask run --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
