"""Scrapyd deployment: scrapyd-deploy builds an egg from scrapy.cfg, and the project runs from that zip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def test_scrapyd_deploy_builds_an_egg_that_lists_the_spiders(tmp_path: Path) -> None:
    # Built from a copy of the tracked files: `setup.py clean -a` must not touch the work tree.
    project = tmp_path / "project"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        if (REPO / name).is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, project / name)
    egg = tmp_path / "arshif.egg"
    deploy = Path(sys.executable).with_name("scrapyd-deploy")
    built = subprocess.run([str(deploy), "--build-egg", str(egg)], cwd=project, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]

    with zipfile.ZipFile(egg) as z:
        names = set(z.namelist())
        assert "settings = crawler.settings" in z.read("EGG-INFO/entry_points.txt").decode()
    assert {"crawler/settings.py", "spiders/news.py", "pipelines/text.py", "crawler/sites/syria_tv.toml"} <= names

    # As Scrapyd runs it: the egg first on the path, the settings module named, no scrapy.cfg around.
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    env.update(PYTHONPATH=str(egg), SCRAPY_SETTINGS_MODULE="crawler.settings")
    listed = subprocess.run(
        [sys.executable, "-c", "import crawler, sys; print(crawler.__file__, file=sys.stderr); "
         "from scrapy.cmdline import execute; execute(['scrapy', 'list'])"],
        cwd=elsewhere, env=env, capture_output=True, text=True,
    )
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert str(egg) in listed.stderr  # the project came from the egg, not from the work tree
    assert set(listed.stdout.split()) == {"news", "syria_tv", "ittihad_press", "demo"}
