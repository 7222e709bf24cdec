"""The committed lock (requirements/constraints.txt) keeps every machine on the same versions.

``pyproject.toml`` states ranges, as a library's metadata should; the test suite,
the demo and the benchmarks install exact versions from the lock
(``scripts/venv.sh``). These tests fail when the two drift apart -- a dependency
added or narrowed without ``bash scripts/lock.sh`` -- and when the suite runs on
versions other than the locked ones.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "constraints.txt"


def _lines(path: Path) -> list[str]:
    return [
        line.split("#", 1)[0].strip()
        for line in path.read_text().splitlines()
        if line.split("#", 1)[0].strip() and not line.lstrip().startswith("-")
    ]


def _locked() -> dict[str, Requirement]:
    pins: dict[str, Requirement] = {}
    for line in _lines(LOCK):
        requirement = Requirement(line)
        assert len(requirement.specifier) == 1 and next(iter(requirement.specifier)).operator == "==", line
        pins[canonicalize_name(requirement.name)] = requirement
    return pins


def _pinned_version(requirement: Requirement) -> str:
    return next(iter(requirement.specifier)).version


def _declared() -> list[tuple[str, Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = [("dependencies", Requirement(text)) for text in project["project"]["dependencies"]]
    for extra, texts in project["project"].get("optional-dependencies", {}).items():
        declared += [(f"[{extra}]", Requirement(text)) for text in texts]
    declared += [("build-system", Requirement(text)) for text in project["build-system"]["requires"]]
    declared += [("tools.in", Requirement(text)) for text in _lines(ROOT / "requirements" / "tools.in")]
    return declared


def test_every_lock_line_is_an_exact_pin() -> None:
    assert _locked(), "requirements/constraints.txt is empty"


@pytest.mark.parametrize(("where", "requirement"), _declared(), ids=lambda value: str(value))
def test_the_lock_satisfies_pyproject(where: str, requirement: Requirement) -> None:
    pins = _locked()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement} ({where}) is not in requirements/constraints.txt: run bash scripts/lock.sh"
    version = _pinned_version(pins[name])
    assert requirement.specifier.contains(version, prereleases=True), (
        f"requirements/constraints.txt pins {name}=={version}, outside {requirement} ({where}): run bash scripts/lock.sh"
    )


def test_the_suite_runs_on_the_locked_versions() -> None:
    """What the test extra needs is installed, each at exactly the locked version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {canonicalize_name(Requirement(text).name)
              for text in project["dependencies"] + project["optional-dependencies"]["test"]}
    wrong = []
    for name, pin in sorted(_locked().items()):
        if pin.marker is not None and not pin.marker.evaluate():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name in needed:
                wrong.append(f"{name}: not installed (locked {_pinned_version(pin)})")
            continue
        if installed != _pinned_version(pin):
            wrong.append(f"{name}: {installed} installed, {_pinned_version(pin)} locked")
    assert not wrong, "install from the lock (bash scripts/venv.sh test): " + "; ".join(wrong)
