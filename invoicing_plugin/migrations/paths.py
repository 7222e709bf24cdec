"""Where the plugin's migrations live and what they are called (a leaf: no imports of the package)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
VERSIONS_DIR = str(HERE / "versions")
VERSION_TABLE = "invoicing_alembic_version"
#: The branch label of the plugin's history (on its first revision).
BRANCH = "invoicing"
