"""Running a command as a user would, and measuring its time and memory."""

from __future__ import annotations

import compileall
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


_TICK = os.sysconf("SC_CLK_TCK")


# The sampler shares the machine with what it measures: it reads the few /proc files of the
# measured processes often, and walks all of /proc for new descendants only once a second.
_SAMPLE_S = 0.1
_RESCAN_S = 1.0


def descendants(root: int) -> list[int]:
    """A process and all its descendants, from one walk of /proc (forkserver workers included)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ")".
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def tree_rss(pids: list[int], root: int, cpu: dict[int, float]) -> int:
    """Summed RSS in bytes of these processes; records in ``cpu`` each descendant's CPU seconds so far.

    Processes a crawl does not wait for (worker processes forked by a
    forkserver) are counted too: wait4 would not report their CPU.
    """
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            statm = Path(f"/proc/{pid}/statm").read_text()
        except OSError:
            continue  # ended since the last walk
        total += int(statm.split()[1]) * _PAGE
        if pid != root:
            fields = stat[stat.rindex(")") + 2 :].split()
            cpu[pid] = (int(fields[11]) + int(fields[12])) / _TICK
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
            pids: list[int] = []
            walked = 0.0
            while not done.is_set():
                if time.monotonic() - walked >= _RESCAN_S:
                    pids, walked = descendants(proc.pid), time.monotonic()
                peak = max(peak, tree_rss(pids, proc.pid, cpu))
                time.sleep(_SAMPLE_S)

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


def compile_project(root: Path) -> None:
    """Bytecode for the project's modules, as an installed package has.

    An editable install has none, and with PYTHONDONTWRITEBYTECODE set (as
    on some machines) every command would compile them anew at start-up:
    a third of a second of each crawl, in the crawl process and again in
    the forkserver.
    """
    for package in ("crawler", "spiders", "pipelines", "bench"):
        compileall.compile_dir(root / package, quiet=1)
