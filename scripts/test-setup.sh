#!/usr/bin/env bash
# Everything the tests need on a fresh Debian machine (the tests: .venv/bin/pytest -q).
#   - Debian's redis-server (the scale-out tests start one) and Chromium with a
#     font that has Arabic (the report page is rendered in it);
#   - the project's venv with its test extras;
#   - pywb in a venv of its own (.venv-pywb): it pins redis 2.10, and shared
#     crawls need redis-py 8.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null || ! command -v chromium >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q redis-server chromium fonts-dejavu-core
fi
python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'
# Bytecode, as an installed package has: an editable install has none, and with
# PYTHONDONTWRITEBYTECODE set every command would compile the project anew at start-up.
.venv/bin/python -m compileall -q crawler spiders pipelines
python3 -m venv .venv-pywb && .venv-pywb/bin/pip install -q pywb==2.10.0
