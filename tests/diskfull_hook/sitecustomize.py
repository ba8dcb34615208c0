"""Fills the disk of every process of a test crawl: the crawl process and its worker processes.

On the path (PYTHONPATH) only of the crawls that tests/test_disk_full.py
starts with ARSHIF_TEST_FILL_DISK set; every Python process imports it at
start-up, the forkserver that makes the worker processes included.
"""

import os

if setting := os.environ.get("ARSHIF_TEST_FILL_DISK"):
    from tests.test_disk_full import fill_disk_after

    kind, successes, counter = setting.split(":", 2)
    fill_disk_after(kind, int(successes), counter)
