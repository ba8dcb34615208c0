#!/usr/bin/env bash
# Writes the lock: every package the set-up installs, direct and transitive, with
# its exact version and the hashes of its files, in requirements/*.txt.
#   bash scripts/lock.sh                         re-resolves, keeping each locked version that still fits
#   bash scripts/lock.sh --upgrade               moves every package to the newest version that fits
#   bash scripts/lock.sh --upgrade-package lxml  moves that one (and what it needs) only
# pyproject.toml pins the direct dependencies: to move one of them, change its pin there first.
# Then run the tests on the new lock (bash scripts/test-setup.sh && .venv/bin/pytest -q)
# and commit requirements/ together with pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-lock
.venv-lock/bin/pip install -q --require-hashes -r requirements/uv.txt
compile() {
    .venv-lock/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
        --custom-compile-command "bash scripts/lock.sh" "$@"
}
# The widest set first: the others are constrained to its versions, so that a package
# has one version in every venv of the project and a venv may be set up over another.
compile pyproject.toml requirements/installer.in --extra test --extra bench -o requirements/bench.txt "$@"
compile pyproject.toml requirements/installer.in --extra test -c requirements/bench.txt -o requirements/test.txt "$@"
compile pyproject.toml requirements/installer.in -c requirements/bench.txt -o requirements/main.txt "$@"
compile requirements/installer.in -c requirements/bench.txt -o requirements/installer.txt "$@"
compile requirements/pywb.in requirements/installer.in -c requirements/installer.txt -o requirements/pywb.txt "$@"
compile requirements/uv.in -o requirements/uv.txt "$@"
