"""The README is executable: its settings table is current and its minimal host app runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from jinja2 import ChoiceLoader, DictLoader

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_settings_table_matches_config():
    result = subprocess.run([sys.executable, "scripts/settings_table.py", "--check"], cwd=ROOT)
    assert result.returncode == 0, "README settings table is stale: run python scripts/settings_table.py"


def test_minimal_host_app_from_the_readme_mounts_the_plugin(tmp_path, stripe_emulator):
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    source = next(block for block in blocks if "class MyHost" in block)
    # Same code, with a throwaway database and the emulator instead of Stripe.
    source = source.replace('"sqlite:///host.db"', repr(f"sqlite:///{tmp_path / 'host.db'}"))
    source = source.replace('"sk_test_..."', '"sk_test_readme000000000001"')
    source = source.replace('INVOICING_SECRET_ENCRYPTION_KEY="...",', "")
    source = source.replace(
        "invoicing = Invoicing(app, host=MyHost())",
        f"app.config.update(TESTING=True, INVOICING_STRIPE_API_BASE={stripe_emulator.url!r})\n"
        "invoicing = Invoicing(app, host=MyHost())",
    )
    namespace: dict = {"__name__": "readme_host"}
    exec(compile(source, "README.md", "exec"), namespace)
    app = namespace["app"]
    app.jinja_loader = ChoiceLoader(
        [DictLoader({"layout.html": "<title>{% block title %}{% endblock %}</title>{% block content %}{% endblock %}"}),
         app.jinja_loader]
    )

    response = app.test_client().get("/invoicing/invoices")

    assert response.status_code == 200
    assert b"Invoices" in response.data
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()
