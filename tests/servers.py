"""Fixture servers as subprocesses on 127.0.0.1: started the same way, their request logs read the same way."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class ServerProcess:
    """`python -m MODULE ARGS`, which prints its URL (port chosen by the OS) and logs every request as a JSON line."""

    def __init__(self, module: str, args: list[str], log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        self.url = self.readline().rstrip("/")
        assert self.url.startswith("http://127.0.0.1:"), f"{module} did not start: {self.url!r}"
        self.port = int(self.url.rsplit(":", 1)[1])

    def readline(self) -> str:
        """The next line the server printed at start."""
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line]

    def requested_paths(self) -> list[str]:
        return [r["path"] for r in self.requests()]

    def clear_log(self) -> None:
        self.log.write_text("")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class RedisServer:
    """A real redis-server (Debian's package) on 127.0.0.1, on a free port, its data in a folder of its own.

    ``appendonly`` keeps every write in the append-only file, fsynced at
    once, so that a server killed and started again has lost nothing: what
    a production Redis for a shared crawl is set up to do (see the README).
    """

    def __init__(self, folder: Path, appendonly: bool = False) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed: apt-get install redis-server (.ci/run does)"
        self.binary = binary
        self.folder = folder
        self.appendonly = appendonly
        folder.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)

    def kill(self) -> None:
        """SIGKILL: the server is gone at once, as in a crash."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
