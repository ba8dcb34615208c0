"""Progress of a long command: a bar with items/s on a terminal, a log line now and then otherwise.

One place for it, so that rebuild, export, wacz, index and report show
progress the same way: a person at a terminal sees tqdm's bar; a scheduled
job's log gets a line every LOGSTATS_INTERVAL seconds.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)


@contextmanager
def progress(desc: str, unit: str, every: float = 60.0, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """Yields update(n): n more items done."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        # No monitor thread: some commands fork worker processes, which wants a process with one thread.
        tqdm.monitor_interval = 0
        bar = tqdm(unit=f" {unit}", desc=desc, total=total, file=sys.stderr)
        try:
            yield bar.update
        finally:
            bar.close()
        return
    start = last = time.monotonic()
    count = 0

    def tick(n: int) -> None:
        nonlocal last, count
        count += n
        now = time.monotonic()
        if now - last >= every:
            logger.info("%s: %d %s, %.0f %s/s", desc, count, unit, count / (now - start), unit)
            last = now

    yield tick
