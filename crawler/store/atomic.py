"""Files that appear whole or not at all.

Every archive file is content-named, so a name that already exists already
holds the right bytes: files are published with ``os.link``, which fails
instead of overwriting, and a concurrent writer of the same name (another
thread, another crawler process) simply finds it there.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, NoReturn


def publish(path: Path, write: Callable[[BinaryIO], None], *, fsync: bool = True) -> bool:
    """Create ``path`` from what ``write`` writes; False if it already existed.

    The bytes go to a temporary file in the same folder (same filesystem, so
    the link is atomic), are flushed to disk, then linked to the final name.
    A crash at any point leaves at most a stray ``.tmp-*`` file, never a
    partial file under the final name; a failed write (a full disk) removes
    its temporary file and raises an ``OSError`` that names ``path``.
    """
    if path.exists():
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    except OSError as e:
        _raise_naming(e, path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            return False
        return True
    except OSError as e:
        # os.write and fsync say ENOSPC without a file name; the one being written is what the user needs.
        _raise_naming(e, path)
    finally:
        os.unlink(tmp_name)


def _raise_naming(error: OSError, path: Path) -> NoReturn:
    if error.filename is not None and not Path(error.filename).name.startswith(".tmp-"):
        raise error
    raise type(error)(error.errno, error.strerror or str(error), str(path)) from error


def publish_bytes(path: Path, data: bytes, *, fsync: bool = True) -> bool:
    return publish(path, lambda f: f.write(data), fsync=fsync)


def sweep_temporary(*folders: Path) -> int:
    """Remove the ``.tmp-*`` files a killed run left in these folders; only safe under the site's crawl lock."""
    removed = 0
    for folder in folders:
        for stray in folder.rglob(".tmp-*") if folder.is_dir() else ():
            stray.unlink(missing_ok=True)
            removed += 1
    return removed


def hashed_path(root: Path, digest: str, suffix: str) -> Path:
    """``root/ab/abcdef....suffix``: two hex digits of fan-out keep folders small."""
    return root / digest[:2] / f"{digest}{suffix}"
