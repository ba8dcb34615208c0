"""The top lines of a py-spy profile in raw (collapsed) format, per process.

    .venv/bin/python bench/profile_top.py PROFILE.txt [--top 25]

For each process (py-spy --subprocesses names them "process N:"), the
functions with the largest share of its samples: "self" is time spent in
the function itself, "total" time with it anywhere on the stack. Without
``--gil``, py-spy also samples threads blocked in a system call (a select,
a pipe write), which then show as time spent there.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

_PROCESS = re.compile(r"process (\d+):\"(.*?)\";")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    per_process: dict[str, tuple[Counter[str], Counter[str]]] = defaultdict(lambda: (Counter(), Counter()))
    samples: Counter[str] = Counter()
    for line in args.profile.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        # py-spy puts a child's samples under its parent's "process N:" frame, then its own: the last one
        # names it. A command line may hold ";", so process frames are found whole, not by splitting.
        found = list(_PROCESS.finditer(stack))
        process = f"{found[-1].group(1)} {found[-1].group(2)[:60]}" if found else "?"
        frames = [f for f in stack[found[-1].end() if found else 0 :].split(";") if f]
        n = int(count)
        samples[process] += n
        self_counts, total_counts = per_process[process]
        if frames:
            self_counts[_short(frames[-1])] += n
        for frame in {_short(f) for f in frames}:
            total_counts[frame] += n
    grand = sum(samples.values())
    for process, n in samples.most_common():
        self_counts, total_counts = per_process[process]
        print(f"\n== process {process}: {n} samples ({100 * n / grand:.0f}% of all)")
        print(f"{'self %':>7} {'total %':>8}  function (by self time)")
        for name, c in self_counts.most_common(args.top):
            print(f"{100 * c / n:7.1f} {100 * total_counts[name] / n:8.1f}  {name}")
        # By total, without the frames every sample shares (the interpreter, the event loop, threads).
        shown = [(name, c) for name, c in total_counts.most_common() if c < 0.9 * n][: args.top]
        print(f"{'self %':>7} {'total %':>8}  function (by total time, below the common frames)")
        for name, c in shown:
            print(f"{100 * self_counts[name] / n:7.1f} {100 * c / n:8.1f}  {name}")


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)"
    m = re.match(r"(.*?) \((?:.*/)?([^/:]+)(?::\d+)?\)$", frame)
    return f"{m.group(1)} ({m.group(2)})" if m else frame


if __name__ == "__main__":
    main()
