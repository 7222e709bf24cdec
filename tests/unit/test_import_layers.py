"""The import graph of ``invoicing_plugin`` has layers and no cycle (issue 12).

The graph is read from the source with :mod:`ast`, never by importing it:

* a node is a module of the package (``a/b.py`` is ``a.b``, ``a/__init__.py`` is ``a``);
  Alembic's ``migrations/env.py`` and ``migrations/versions/*`` are run by Alembic from
  their paths, not imported, and are left out;
* an edge is an import of another module of the package. ``from X import n`` is an
  edge to ``X.n`` when that is a submodule (Python then imports the submodule) and
  to ``X`` otherwise (the name comes from the package's ``__init__``); relative
  imports are resolved the way Python does. The ancestors of a module (its
  packages' ``__init__``) are not edges: Python runs them before the module itself
  in every case, so they cannot form a cycle of partly initialised modules;
* *top-of-module* imports are those that run when the module is imported: module
  level, including inside ``if``/``try``/``with`` blocks and class bodies, but not
  inside ``if TYPE_CHECKING:`` (never run) nor inside functions;
* an import inside a function is *hidden*: it runs on the first call. Each one
  must either avoid a real cycle (hoisting it to the top would close a cycle in the
  top-of-module graph) or be listed in :data:`DELIBERATELY_LAZY` with its reason.

The layers: the domain imports only the domain (its third-party rule is in
``test_domain_is_pure.py``); services never import the web layer, the webhooks or
the extension (nor the package root, which re-exports the extension); the per-app
state (``invoicing_plugin.state``) is a leaf; nothing imports the extension, which
is the top, except the package root's re-export.

``python tests/unit/test_import_layers.py`` prints the figures (cycles, hidden imports).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "invoicing_plugin"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / PACKAGE
NOT_IMPORTED = ("migrations/env.py", "migrations/versions/")

#: Imports kept inside functions on purpose, not to dodge a cycle: (module, imported module) -> why.
DELIBERATELY_LAZY: dict[tuple[str, str], str] = {
    # The report's queries and the SVG charts load when the analytics page is first asked
    # for, not when the app starts (most processes never render a chart); see web/analytics.py.
    ("invoicing_plugin.web.analytics", "invoicing_plugin.services.analytics"): "analytics page loads on first use",
    ("invoicing_plugin.web.analytics", "invoicing_plugin.web.charts"): "charts load on first use",
    ("invoicing_plugin.cli", "invoicing_plugin.services.analytics"): "analytics loads on first use",
    # Alembic is imported only by the commands that migrate.
    ("invoicing_plugin.cli", "invoicing_plugin.migrations"): "Alembic loads only for db-upgrade",
    # The pytest plugin is loaded by every pytest run of a host; the emulator (an HTTP server)
    # only when a test asks for it.
    ("invoicing_plugin.testing.pytest_plugin", "invoicing_plugin.testing.stripe_emulator"): "emulator on request",
    ("invoicing_plugin.testing.pytest_plugin", "invoicing_plugin.testing.app_server"): "HTTP server on request",
    ("invoicing_plugin.testing.pytest_plugin", "invoicing_plugin.testing.mail_sink"): "SMTP sink (aiosmtpd) on request",
}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    top: bool  # runs when the module is imported (False: inside a function)


def module_names() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR).as_posix()
        if relative.startswith(NOT_IMPORTED) or relative in NOT_IMPORTED:
            continue
        parts = [PACKAGE, *path.relative_to(PACKAGE_DIR).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(body: list[ast.stmt], top: bool):
    """Every import statement under ``body`` with whether it runs at import time."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, top
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _import_nodes(node.orelse, top)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _import_nodes(node.body, False)
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    yield from _import_nodes([c for c in children if isinstance(c, ast.AST)], top)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports(modules: dict[str, Path] | None = None) -> list[Import]:
    modules = modules if modules is not None else module_names()
    found = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, top in _import_nodes(tree.body, True):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve(module, is_package, node)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
                ]
            for target in dict.fromkeys(targets):
                if target in modules and target != module:
                    found.append(Import(module, target, node.lineno, top))
    return found


def graph(edges: list[Import]) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for edge in edges:
        result.setdefault(edge.source, set()).add(edge.target)
    return result


def cycles(adjacency: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    nodes = sorted(set(adjacency) | {t for targets in adjacency.values() for t in targets})

    for root in nodes:
        if root in index:
            continue
        # Iterative DFS: (node, iterator over its successors).
        work = [(root, iter(sorted(adjacency.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(adjacency.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return sorted(components, key=len, reverse=True)


def reaches(adjacency: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        for successor in adjacency.get(node, ()):
            if successor not in seen:
                seen.add(successor)
                todo.append(successor)
    return False


def _in(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


SERVICES = f"{PACKAGE}.services"
FORBIDDEN_FOR_SERVICES = (f"{PACKAGE}.web", f"{PACKAGE}.webhooks", f"{PACKAGE}.extension")

#: Temporary allowances for services -> webhooks edges that only moving code between
#: service modules can remove (issue 12, the services split). Empty: none is needed.
TEMPORARILY_ALLOWED: set[tuple[str, str]] = set()


@pytest.fixture(scope="module")
def all_imports() -> list[Import]:
    return imports()


def test_the_graph_is_read(all_imports):
    """The reader sees the package (a guard against a test that passes on an empty graph)."""
    modules = module_names()
    assert f"{PACKAGE}.extension" in modules and f"{PACKAGE}.services.invoices" in modules
    top = graph([i for i in all_imports if i.top])
    assert f"{PACKAGE}.domain.invoice" in top[f"{PACKAGE}.services.closing"]


def test_no_cycle_among_top_of_module_imports(all_imports):
    found = cycles(graph([i for i in all_imports if i.top]))
    assert found == [], f"import cycles (top-of-module imports): {found}"


def test_services_do_not_import_web_webhooks_or_the_extension(all_imports):
    bad = sorted(
        f"{i.source}:{i.line} imports {i.target}"
        for i in all_imports
        if _in(i.source, SERVICES)
        and (_in(i.target, *FORBIDDEN_FOR_SERVICES) or i.target == PACKAGE)
        and (i.source, i.target) not in TEMPORARILY_ALLOWED
    )
    assert bad == []


def test_the_domain_imports_only_the_domain(all_imports):
    bad = sorted(f"{i.source}:{i.line} imports {i.target}" for i in all_imports
                 if _in(i.source, f"{PACKAGE}.domain") and not _in(i.target, f"{PACKAGE}.domain"))
    assert bad == []


def test_the_state_module_is_a_leaf(all_imports):
    """Per-app state is read by everyone, so it imports nothing of the package at run time."""
    bad = sorted(f"{i.target} (line {i.line})" for i in all_imports if i.source == f"{PACKAGE}.state")
    assert bad == []


def test_nothing_imports_the_extension_back(all_imports):
    """The extension is the top: only the package root re-exports it."""
    bad = sorted(f"{i.source}:{i.line}" for i in all_imports
                 if i.target == f"{PACKAGE}.extension" and i.source != PACKAGE)
    assert bad == []


def test_the_package_root_does_not_import_the_pages(all_imports):
    bad = sorted(i.target for i in all_imports if i.source == PACKAGE and _in(i.target, f"{PACKAGE}.web"))
    assert bad == []


def test_every_hidden_import_avoids_a_cycle_or_is_deliberately_lazy(all_imports):
    """An import inside a function that could sit at the top without closing a cycle belongs at the top."""
    top = graph([i for i in all_imports if i.top])
    hoistable = sorted(
        f"{i.source}:{i.line} imports {i.target}"
        for i in all_imports
        if not i.top
        and i.target not in top.get(i.source, ())
        and (i.source, i.target) not in DELIBERATELY_LAZY
        and not reaches(top, i.target, i.source)
    )
    # An import already made at the top of the same module is a plain duplicate.
    duplicates = sorted(f"{i.source}:{i.line} imports {i.target}" for i in all_imports
                        if not i.top and i.target in top.get(i.source, ()))
    assert hoistable == [] and duplicates == []


def test_the_lazy_list_is_current(all_imports):
    hidden = {(i.source, i.target) for i in all_imports if not i.top}
    assert set(DELIBERATELY_LAZY) <= hidden


#: The one place in the services that reads the app's plugin state and config: the unit of
#: work's factory (:meth:`invoicing_plugin.services.uow.UnitOfWork.for_app`).
APP_STATE_READER = f"{SERVICES}.uow"

#: Services still reading the app's state or config themselves (issue 12), with why.
READS_APP_STATE_FOR_NOW: dict[str, str] = {
    # Absolute links are built with the app's URL map (url_for) and INVOICING_EXTERNAL_URL:
    # they need the Flask app whatever the unit of work carries.
    f"{SERVICES}.links": "builds URLs with the app's url_map",
}


def app_state_reads(path: Path) -> list[str]:
    """Where a module calls or imports ``get_state`` or reads ``current_app.config`` (``line: what``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Name) and node.id == "get_state":
            found.append(f"{node.lineno}: get_state")
        elif isinstance(node, ast.Attribute) and node.attr == "get_state":
            found.append(f"{node.lineno}: .get_state")
        elif isinstance(node, ast.ImportFrom) and any(a.name == "get_state" for a in node.names):
            found.append(f"{node.lineno}: imports get_state")
        elif (isinstance(node, ast.Attribute) and node.attr == "config"
              and isinstance(node.value, ast.Name) and node.value.id == "current_app"):
            found.append(f"{node.lineno}: current_app.config")
    return found


def test_use_cases_get_state_and_settings_from_the_unit_of_work():
    """Only the unit of work's factory reads get_state() / current_app.config in services."""
    bad = {
        module: reads
        for module, path in module_names().items()
        if _in(module, SERVICES) and module != APP_STATE_READER and module not in READS_APP_STATE_FOR_NOW
        and (reads := app_state_reads(path))
    }
    assert bad == {}


def test_the_app_state_reader_check_sees_reads():
    """A guard against a check that passes because it sees nothing."""
    assert app_state_reads(module_names()[APP_STATE_READER])


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def report() -> None:  # pragma: no cover - a measuring aid
    edges = imports()
    top = graph([i for i in edges if i.top])
    every = graph(edges)
    hidden = [i for i in edges if not i.top]
    print("modules:", len(module_names()))
    print("cycles among top-of-module imports:", [len(c) for c in cycles(top)])
    for component in cycles(top):
        print("   ", component)
    print("cycles counting imports inside functions too:", [len(c) for c in cycles(every)])
    print("imports of the package inside functions:", len(hidden))
    for i in hidden:
        why = DELIBERATELY_LAZY.get((i.source, i.target)) or (
            "avoids a cycle" if reaches(top, i.target, i.source) else "hoistable")
        print(f"    {i.source}:{i.line} -> {i.target}  [{why}]")
    importing_extension = sorted({i.source for i in edges if i.target == f"{PACKAGE}.extension"})
    print("modules importing the extension:", len(importing_extension), importing_extension)


if __name__ == "__main__":  # pragma: no cover
    report()
