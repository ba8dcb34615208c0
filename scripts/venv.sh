#!/usr/bin/env bash
# Makes a venv, or brings one up to date, from the lock (requirements/*.txt, written by
# scripts/lock.sh): exact versions, each file checked against its hash.
#   bash scripts/venv.sh DIR LOCK             the packages of LOCK
#   bash scripts/venv.sh DIR LOCK --project   and this project, editable
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$1 lock=$2
python3 -m venv "$venv"
# The locked pip and setuptools first, so that the locked pip installs the rest:
# the pip a Python ships may be years older (23.2 ignores normalised extras such as
# lxml's html-clean, and says so once per package that asks for it).
"$venv/bin/pip" install -q --require-hashes -r requirements/installer.txt
"$venv/bin/pip" install -q --require-hashes -r "$lock"
if [ "${3:-}" = --project ]; then
    # Its dependencies are all in the lock. The project's three top-level packages
    # sit in the working folder on purpose, which setuptools' editable install
    # notes at length on every install: that note is silenced, nothing else.
    PYTHONWARNINGS="ignore::UserWarning:setuptools.command.editable_wheel" \
        "$venv/bin/pip" install -q --no-deps --no-build-isolation -e .
    # Bytecode, as an installed package has: an editable install has none, and with
    # PYTHONDONTWRITEBYTECODE set every command would compile the project anew at start-up.
    "$venv/bin/python" -m compileall -q crawler spiders pipelines
fi
