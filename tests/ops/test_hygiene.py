"""Reproducible installs: every dependency is pinned by constraints.txt within pyproject's bounds."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, version = line.partition("==")
        assert version, f"constraints.txt: {line!r} is not an exact pin"
        pins[_canonical(name)] = Version(version)
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]


def test_every_declared_dependency_is_pinned_within_its_bounds() -> None:
    pins = _pins()
    for requirement in _declared():
        name = _canonical(requirement.name)
        assert name in pins, f"{name} is declared but constraints.txt does not pin it"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} breaks {requirement}"
    assert "positionbot" not in pins


def test_trading_libraries_have_an_upper_bound_on_their_major() -> None:
    bounded = {_canonical(r.name): r.specifier for r in _declared()}
    for name in ("ccxt", "python-telegram-bot"):
        assert any(spec.operator == "<" for spec in bounded[name]), f"{name} has no upper bound"


def test_ci_and_readme_install_with_the_constraints() -> None:
    assert "-c constraints.txt" in (ROOT / ".ci" / "run").read_text()
    assert "pip install -c constraints.txt -e '.[dev]'" in (ROOT / "README.md").read_text()


def test_lock_files_other_than_the_database_lock_can_be_committed() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "*.lock" not in ignored and "*.db.lock" in ignored
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_version_flag_prints_the_installed_version() -> None:
    done = subprocess.run([sys.executable, "-m", "positionbot", "--version"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert re.fullmatch(r"positionbot \d+\.\d+\.\d+\S*\n", done.stdout), done.stdout
