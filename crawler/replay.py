"""Browse the archive in pywb: ``python -m crawler.replay ARCHIVE_DIR --port 8080``.

pywb, Webrecorder's wayback machine, replays the captures through the
archive's own CDXJ indexes (``index/<site>.cdxj``, whose file names are
relative to ARCHIVE_DIR): all this module does is bring those indexes up to
date, write the pywb config that points at them, and run pywb's ``wayback``
on 127.0.0.1. pywb pins redis 2.10, which a shared crawl's redis-py cannot
live beside, so it is installed in a venv of its own (``.venv-pywb``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
COLLECTION = "archive"
_PROJECT = Path(__file__).resolve().parent.parent


def write_config(archive_dir: Path, folder: Path, collection: str = COLLECTION) -> Path:
    """``folder/config.yaml``: one pywb collection over every site of the archive."""
    archive = archive_dir.resolve()
    config = {
        "collections": {
            collection: {
                # A folder: pywb reads every .cdxj in it on each lookup, so a site indexed later shows up.
                "index_paths": f"{archive / 'index'}/",
                # The index's file names are relative to ARCHIVE_DIR.
                "archive_paths": f"{archive}/",
            }
        },
        "framed_replay": True,
    }
    path = folder / "config.yaml"
    # JSON is YAML: no YAML writer needed.
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


def update_indexes(archive_dir: Path) -> list[str]:
    """Every site with captures gets its index up to date (a no-op after a crawl, which keeps it); the sites."""
    from crawler.cdx import captured_sites, update_index

    sites = captured_sites(archive_dir)
    for site in sites:
        try:
            update_index(archive_dir, site)
        except OSError as e:
            # A read-only copy of an archive is still worth browsing, through the index it has.
            print(f"index of site {site} not brought up to date ({e}): replaying what it lists", file=sys.stderr)
    return sites


def find_wayback(given: str | None = None) -> str | None:
    if given:
        return given if shutil.which(given) else None
    beside = _PROJECT / ".venv-pywb" / "bin" / "wayback"
    return str(beside) if beside.is_file() else shutil.which("wayback")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def serve(archive_dir: Path, port: int, wayback: str, collection: str = COLLECTION, ready_timeout: float = 60.0) -> int:
    """Runs wayback until it ends or this process is stopped; prints the collection's URL once it answers."""
    with tempfile.TemporaryDirectory(prefix="arshif-pywb-") as folder:
        write_config(archive_dir, Path(folder), collection)
        # pywb's own output goes to stderr: stdout carries the URL alone, for whoever started us.
        child = subprocess.Popen([wayback, "-d", folder, "-b", HOST, "-p", str(port)], stdout=sys.stderr)
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True
            child.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            if _wait_listening(child, port, ready_timeout):
                print(f"http://{HOST}:{port}/{collection}/", flush=True)
                print(
                    f"replaying {archive_dir}: http://{HOST}:{port}/{collection}/<timestamp>/<url>, "
                    f"every capture of a URL at http://{HOST}:{port}/{collection}/*/<url>; Ctrl-C stops",
                    file=sys.stderr,
                    flush=True,
                )
            code = child.wait()
        except KeyboardInterrupt:
            # Ctrl-C at a terminal reaches wayback too; sent to us alone, it must still stop it.
            stopping = True
            child.terminate()
            code = child.wait()
        return 0 if stopping else code


def _wait_listening(child: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while child.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crawler.replay", description="Browse an archive in pywb, on 127.0.0.1."
    )
    parser.add_argument("archive_dir", metavar="ARCHIVE_DIR", type=Path)
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0 = a free one)")
    parser.add_argument(
        "--collection", default=COLLECTION, help=f"the collection's name in URLs (default {COLLECTION})"
    )
    parser.add_argument(
        "--wayback",
        metavar="PATH",
        help="pywb's wayback (default: .venv-pywb/bin/wayback of the project, else on PATH)",
    )
    opts = parser.parse_args(argv)
    wayback = find_wayback(opts.wayback)
    if wayback is None:
        parser.error(
            "pywb's wayback not found: bash scripts/venv.sh .venv-pywb requirements/pywb.txt "
            "(its own venv: pywb pins redis 2.10), or give --wayback PATH"
        )
    if not update_indexes(opts.archive_dir):
        parser.error(f"{opts.archive_dir}: no captures (no site under {opts.archive_dir / 'warc'})")
    return serve(opts.archive_dir, opts.port or free_port(), wayback, opts.collection)


if __name__ == "__main__":
    sys.exit(main())
