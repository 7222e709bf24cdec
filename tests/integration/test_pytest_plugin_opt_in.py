"""The emulator's pytest plugin is opt-in for host apps, as the README documents.

A host app that installs the plugin must not get the emulator's fixtures (nor any other
pytest plugin of ours) in its test runs unless it asks: ``pytest_plugins = [...]`` in its
top ``conftest.py``, or ``-p invoicing_plugin.testing.pytest_plugin``. The test installs
the wheel built from this checkout into a fresh virtual environment that shares this
environment's other packages (so what is tested is the package's own metadata, not a
development install's), writes a tiny host test directory with the README's example test,
and runs pytest on it in a subprocess three ways.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SECTION = README[README.index("### The emulator in your pytest suite (opt-in)"):]
CONFTEST = next(b for b in re.findall(r"```python\n(.*?)```", SECTION, re.S) if "pytest_plugins" in b)
HOST_TEST = next(b for b in re.findall(r"```python\n(.*?)```", SECTION, re.S) if "def test_" in b)
OPT_IN_FLAG = re.search(r"`python -m pytest (-p [\w.]+)`", SECTION).group(1).split()


@pytest.fixture(scope="module")
def host_python(tmp_path_factory) -> Path:
    """A virtualenv with the plugin installed from a wheel of this checkout, and this environment's other packages."""
    base = tmp_path_factory.mktemp("host-env")
    wheels = base / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
         str(ROOT)],
        capture_output=True, text=True,
    )
    assert built.returncode == 0, built.stderr
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    here = Path(sysconfig.get_paths()["purelib"])
    for entry in here.iterdir():
        # Everything but this project's own (development) install.
        if "invoicing" in entry.name.lower() or entry.name == "__pycache__":
            continue
        (site / entry.name).symlink_to(entry)
    with zipfile.ZipFile(next(wheels.glob("invoicing_plugin-*.whl"))) as wheel:
        wheel.extractall(site)
    return python


@pytest.fixture
def host_tests(tmp_path) -> Path:
    """A host app's test directory (its own rootdir: an empty pytest.ini) with the README's example test."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_host.py").write_text(HOST_TEST)
    return tmp_path


def _pytest(python: Path, directory: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    return subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=directory, env=env, capture_output=True, text=True, timeout=300)


def test_the_plugin_is_installed_from_this_checkout(host_python, host_tests):
    where = subprocess.run([str(host_python), "-c", "import invoicing_plugin; print(invoicing_plugin.__file__)"],
                           cwd=host_tests, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in where and "site-packages" in where


def test_a_host_suite_does_not_get_the_emulator_fixtures_without_opting_in(host_python, host_tests):
    result = _pytest(host_python, host_tests)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "fixture 'stripe_emulator' not found" in result.stdout
    listed = _pytest(host_python, host_tests, "--fixtures")
    assert "stripe_emulator" not in listed.stdout
    assert "invoicing" not in _pytest(host_python, host_tests, "--trace-config", "--co").stdout


def test_a_host_suite_opts_in_with_p(host_python, host_tests):
    result = _pytest(host_python, host_tests, *OPT_IN_FLAG)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_a_host_suite_opts_in_from_its_conftest(host_python, host_tests):
    (host_tests / "conftest.py").write_text(CONFTEST)

    result = _pytest(host_python, host_tests)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
