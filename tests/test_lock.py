"""The lock: what the set-up installs is exactly what requirements/*.txt holds, and that holds what pyproject.toml asks for."""

from __future__ import annotations

import json
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
LOCKS = REPO / "requirements"
# The project's own venv may be set up from any of these (the demo, the tests, the benchmarks).
MAIN_VENV_LOCKS = ("main.txt", "test.txt", "bench.txt", "installer.txt")


def locked(name: str) -> dict[str, str]:
    """The lock file's packages that apply to this interpreter and platform: name -> version."""
    entries: dict[str, str] = {}
    text = (LOCKS / name).read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, _, hashes = line.partition(" --hash=")
        assert hashes, f"{name}: {line.split()[0]} has no hash"
        spec, _, marker = requirement.partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        package, _, version = spec.strip().partition("==")
        assert version, f"{name}: {spec!r} is not pinned to one version"
        entries[canonicalize_name(package)] = version
    return entries


def installed(python: Path | None = None) -> dict[str, str]:
    """Every distribution of a venv (this interpreter's by default): name -> version."""
    if python is None:
        return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    listing = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m, json; "
         "print(json.dumps([[d.metadata['Name'], d.version] for d in m.distributions()]))"],
        capture_output=True, text=True, check=True,
    ).stdout
    return {canonicalize_name(name): version for name, version in json.loads(listing)}


def test_every_package_of_the_venv_is_locked_at_the_version_installed() -> None:
    lock: dict[str, str] = {}
    for name in MAIN_VENV_LOCKS:
        lock.update(locked(name))
    venv = installed()
    venv.pop("arshif")  # the project itself, installed editable from the working tree
    assert "scrapy" in venv and "lxml" in venv and "pip" in venv
    assert {n: v for n, v in venv.items() if lock.get(n) != v} == {}


def test_every_package_of_the_pywb_venv_is_locked_at_the_version_installed() -> None:
    python = REPO / ".venv-pywb" / "bin" / "python"
    if not python.exists():
        pytest.skip("no .venv-pywb: bash scripts/venv.sh .venv-pywb requirements/pywb.txt")
    venv, lock = installed(python), locked("pywb.txt")
    assert "pywb" in venv
    assert {n: v for n, v in venv.items() if lock.get(n) != v} == {}


def test_a_package_has_one_version_in_every_lock_of_the_project_venv() -> None:
    seen: dict[str, dict[str, str]] = {}
    for name in MAIN_VENV_LOCKS:
        for package, version in locked(name).items():
            seen.setdefault(package, {})[name] = version
    assert {p: files for p, files in seen.items() if len(set(files.values())) > 1} == {}


def test_the_lock_holds_what_pyproject_asks_for_in_a_version_it_allows() -> None:
    """A dependency added or moved in pyproject.toml without running scripts/lock.sh fails here."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    asked = {
        "main.txt": project["dependencies"],
        "test.txt": project["dependencies"] + project["optional-dependencies"]["test"],
        "bench.txt": project["dependencies"] + project["optional-dependencies"]["bench"],
    }
    wrong = []
    for name, requirements in asked.items():
        lock = locked(name)
        for text in requirements:
            requirement = Requirement(text)
            version = lock.get(canonicalize_name(requirement.name))
            if version is None or not requirement.specifier.contains(version, prereleases=True):
                wrong.append(f"{name}: {text} (locked: {version})")
    assert wrong == []

