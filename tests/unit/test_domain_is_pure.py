"""The domain imports only the standard library and Babel (cosmicpython's rule)."""

import ast
import sys
from pathlib import Path

import pytest

import invoicing_plugin.domain as domain

DOMAIN_DIR = Path(domain.__file__).parent
ALLOWED_THIRD_PARTY = {"babel"}


def imported_top_level_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


@pytest.mark.parametrize("path", sorted(DOMAIN_DIR.glob("*.py")), ids=lambda path: path.name)
def test_domain_module_imports_no_framework(path: Path) -> None:
    imported = imported_top_level_modules(path.read_text(encoding="utf-8"))
    outside = imported - sys.stdlib_module_names - ALLOWED_THIRD_PARTY - {"__future__"}
    assert outside == set()
