"""Fixture servers as subprocesses on 127.0.0.1: started the same way, their request logs read the same way."""

from __future__ import annotations

import json
import subprocess
import sys
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
