#!/usr/bin/env bash
# Everything the tests need on a fresh Debian machine (the tests: .venv/bin/pytest -q).
#   - Debian's redis-server (the scale-out tests start one) and Chromium with a
#     font that has Arabic (the report page is rendered in it);
#   - the project's venv with its test extras;
#   - pywb in a venv of its own (.venv-pywb): it pins redis 2.10, and shared
#     crawls need redis-py 8.
# Both venvs come from the lock (scripts/venv.sh), so that a fresh machine runs the
# tests on the packages they passed with.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null || ! command -v chromium >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q redis-server chromium fonts-dejavu-core
fi
bash scripts/venv.sh .venv requirements/test.txt --project
bash scripts/venv.sh .venv-pywb requirements/pywb.txt
