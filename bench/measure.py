"""Running a command as a user would, and measuring its time and memory."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


_TICK = os.sysconf("SC_CLK_TCK")


def tree_rss(root: int, cpu: dict[int, float] | None = None) -> int:
    """Summed RSS in bytes of a process and all its descendants, from /proc.

    With ``cpu``, also records there each descendant's CPU seconds so far
    (user + system): processes a crawl does not wait for (worker processes
    forked by a forkserver) are counted too.
    """
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            statm = Path(f"/proc/{entry}/statm").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(statm.split()[1]) * _PAGE
        ticks[int(entry)] = int(fields[11]) + int(fields[12])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        if cpu is not None and pid != root and pid in ticks:
            cpu[pid] = ticks[pid] / _TICK
        stack.extend(children.get(pid, []))
    return total


@dataclass
class Run:
    returncode: int
    seconds: float
    peak_tree_rss: int  # bytes: the sampled peak of the summed RSS of the process and its children
    max_rss: int  # bytes: wait4's ru_maxrss, the largest single process among it and the children it reaped
    cpu_seconds: float  # user + system of the process itself
    children_cpu_seconds: float  # user + system of its descendants, as last sampled


def run_measured(command: list[str], *, cwd: Path, log: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``command`` to its end, output to ``log``; its wall time, CPU time and peak memory."""
    env = env if env is not None else {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        peak = 0
        cpu: dict[int, float] = {}
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss(proc.pid, cpu))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
    seconds = time.monotonic() - started
    return Run(
        returncode=os.waitstatus_to_exitcode(status),
        seconds=seconds,
        peak_tree_rss=peak,
        max_rss=usage.ru_maxrss * 1024,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        children_cpu_seconds=sum(cpu.values()),
    )
