"""The text store, atomic publishing and the manifest, with real files and real processes."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import stat
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.store.atomic import publish, publish_staged, stage
from crawler.store.manifest import REQUIRED_KEYS, Manifest, read_manifest
from crawler.store.textstore import store_text


def entry(url: str, sha: str) -> dict[str, object]:
    return {key: None for key in REQUIRED_KEYS} | {"url": url, "sha256": sha, "site": "s"}


def test_text_is_stored_once_under_its_own_hash(tmp_path: Path) -> None:
    first = store_text(tmp_path, "site", "نص\n")
    again = store_text(tmp_path, "site", "نص\n")
    assert first.written and not again.written and first == again.__class__(first.sha256, first.path, True)
    data = (tmp_path / first.path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == first.sha256
    assert first.path == f"text/site/{first.sha256[:2]}/{first.sha256}.txt"


def test_a_crash_mid_write_leaves_no_file_under_the_final_name(tmp_path: Path) -> None:
    target = tmp_path / "ab" / "abc.txt"

    def crash(f: object) -> None:
        f.write(b"half of it")  # type: ignore[attr-defined]
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        publish(target, crash)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_manifest_appends_each_pair_once_and_remembers_across_opens(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    m = Manifest(path, fsync=False)
    assert m.append(entry("u1", "a"))
    assert not m.append(entry("u1", "a"))
    assert m.append(entry("u1", "b"))  # the article changed
    assert m.append(entry("u2", "a"))  # the same text under another URL
    m.close()
    reopened = Manifest(path, fsync=False)
    assert not reopened.append(entry("u1", "b"))
    reopened.close()
    assert [(e["url"], e["sha256"]) for e in read_manifest(path)] == [("u1", "a"), ("u1", "b"), ("u2", "a")]


def test_a_torn_last_line_is_removed_by_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    good = json.dumps(entry("u1", "a"), sort_keys=True) + "\n"
    path.write_text(good + '{"url": "u2", "sha2')
    m = Manifest(path, fsync=False)
    assert m.append(entry("u3", "c"))
    m.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)


def _append_many(path: str, worker: int) -> None:
    m = Manifest(Path(path), fsync=False)
    for i in range(200):
        # every worker offers the same 100 shared pairs and 100 of its own
        m.append(entry(f"shared{i % 100}", "x") if i % 2 else entry(f"own{worker}-{i}", "y"))
    m.close()


def test_processes_appending_to_one_manifest_never_tear_or_repeat_lines(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(path), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    entries = read_manifest(path)
    pairs = [(e["url"], e["sha256"]) for e in entries]
    assert len(pairs) == len(set(pairs)) == 4 * 100 + 50
    assert path.read_bytes().endswith(b"\n")


def test_staged_files_get_their_names_only_when_published_and_never_twice(tmp_path: Path) -> None:
    first, second = tmp_path / "ab" / "one.txt", tmp_path / "cd" / "two.txt"
    staged = [stage(first, lambda f: f.write(b"one"), fsync=False), stage(second, lambda f: f.write(b"two"), fsync=False)]
    assert all(s is not None for s in staged)
    # Written, but not under their names: a crash now leaves temporary files only.
    assert not first.exists() and not second.exists()
    assert publish_staged([s for s in staged if s is not None], sync=True) == [True, True]
    assert first.read_bytes() == b"one" and second.read_bytes() == b"two"
    # The same name again: nothing is staged, and a racing writer's copy is dropped at publication.
    assert stage(first, lambda f: f.write(b"one"), fsync=False) is None
    racing = stage(tmp_path / "ef" / "three.txt", lambda f: f.write(b"3"), fsync=False)
    assert racing is not None
    (tmp_path / "ef" / "three.txt").write_bytes(b"3")
    assert publish_staged([racing], sync=False) == [False]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["one.txt", "three.txt", "two.txt"]


@pytest.mark.parametrize("sync", [True, False])
def test_files_staged_above_their_folders_are_published_into_folders_made_then(tmp_path: Path, sync: bool) -> None:
    # As the crawl stages captures and texts: in the root, above the fan-out folders that do not exist yet.
    paths = [tmp_path / "ab" / "one.txt", tmp_path / "cd" / "two.txt", tmp_path / "ab" / "three.txt"]
    staged = [stage(p, lambda f, p=p: f.write(p.name.encode()), fsync=False, staging=tmp_path) for p in paths]
    assert not (tmp_path / "ab").exists() and not (tmp_path / "cd").exists()
    assert publish_staged([s for s in staged if s is not None], sync=sync) == [True, True, True]
    assert [p.read_bytes() for p in paths] == [b"one.txt", b"two.txt", b"three.txt"]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "ab/one.txt",
        "ab/three.txt",
        "cd/two.txt",
    ]


def test_a_failed_stage_leaves_no_temporary_file(tmp_path: Path) -> None:
    def crash(f: object) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError) as caught:
        stage(tmp_path / "ab" / "x.txt", crash, fsync=False)
    assert caught.value.filename == str(tmp_path / "ab" / "x.txt")
    assert list((tmp_path / "ab").iterdir()) == []


def test_the_manifest_index_is_a_cache_rebuilt_from_the_manifest(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    m = Manifest(path, fsync=False)
    assert m.append_many([entry("u1", "a"), entry("u2", "b"), entry("u1", "a")]) == [True, True, False]
    m.close()
    index = tmp_path / "state" / "manifest-index.sqlite"
    assert index.exists()
    # Lost index: built again from the manifest, and nothing is appended twice.
    for leftover in tmp_path.glob("state/manifest-index.sqlite*"):
        leftover.unlink()
    again = Manifest(path, fsync=False)
    assert ("u1", "a") in again and ("u2", "b") in again and len(again) == 2
    assert not again.append(entry("u2", "b"))
    again.close()
    # A manifest replaced by another file (restored from a backup, say): indexed afresh.
    path.unlink()
    path.write_text(json.dumps(entry("u9", "z"), sort_keys=True) + "\n")
    replaced = Manifest(path, fsync=False)
    assert ("u9", "z") in replaced and ("u1", "a") not in replaced
    assert replaced.append(entry("u1", "a"))
    replaced.close()
    assert [e["url"] for e in read_manifest(path)] == ["u9", "u1"]


def test_the_manifest_reads_lines_other_writers_appended(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    mine, theirs = Manifest(path, fsync=False), Manifest(path, fsync=False)
    assert theirs.append(entry("u1", "a"))
    assert not mine.append(entry("u1", "a"))
    # A line written by a process that keeps no index at all.
    with path.open("a") as f:
        f.write(json.dumps(entry("u2", "b"), sort_keys=True) + "\n")
    assert not mine.append(entry("u2", "b"))
    mine.close()
    theirs.close()
    assert [e["url"] for e in read_manifest(path)] == ["u1", "u2"]


# --- Properties of text naming ----------------------------------------------------------------
#
# A text's name is the SHA-256 of its file, and the manifest's (url, sha256) pairs rest on it:
# one text must always get one name, or an unchanged article reads as updated on every run.

# Arabic letters with hamza and madda (أ إ آ ؤ ئ decompose under NFD into a letter and a
# combining mark), harakat, Latin letters with accents, and the line structure of a text.
_COMPOSABLE = st.sampled_from(list("أإآؤئۀۂۓ" + "ًٌٍَُِّْٰ" + "éèçñÅ" + "ابتثجخ" + " \n"))


@settings(max_examples=200, deadline=None)
@given(st.text(_COMPOSABLE | st.characters(codec="utf-8"), max_size=60))
def test_one_text_always_gets_one_name(text: str) -> None:
    # A fresh directory per example: the first store writes, the second finds the file.
    with tempfile.TemporaryDirectory() as tmp:
        first = store_text(Path(tmp), "site", text, fsync=False)
        again = store_text(Path(tmp), "site", text, fsync=False)
        assert (first.sha256, first.path) == (again.sha256, again.path)
        assert not again.written
        # The name is the hash of the bytes on disk, so anyone can check a file against its name.
        assert hashlib.sha256((Path(tmp) / first.path).read_bytes()).hexdigest() == first.sha256


@settings(max_examples=200, deadline=None)
@given(st.text(_COMPOSABLE, min_size=1, max_size=60))
def test_nfc_and_nfd_forms_of_a_text_get_one_name(text: str) -> None:
    nfc, nfd = unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", text)
    with tempfile.TemporaryDirectory() as tmp:
        from_nfd = store_text(Path(tmp), "site", nfd, fsync=False)
        from_nfc = store_text(Path(tmp), "site", nfc, fsync=False)
        assert from_nfd.sha256 == from_nfc.sha256 and not from_nfc.written
        # Texts are NFC on disk (README, "Texts"), whichever form came in.
        assert (Path(tmp) / from_nfd.path).read_bytes() == nfc.encode("utf-8")


def test_a_decomposed_hamza_is_stored_composed(tmp_path: Path) -> None:
    # The example that matters in practice: "أ" typed or copied as alef + combining hamza above.
    composed, decomposed = "سأل\n", "سا\u0654ل\n"
    assert composed != decomposed and unicodedata.normalize("NFC", decomposed) == composed
    assert store_text(tmp_path, "site", decomposed).sha256 == hashlib.sha256(composed.encode("utf-8")).hexdigest()


def test_published_files_get_the_users_usual_mode_not_mkstemps_private_one(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "ab" / "one.txt"
    assert publish(path, lambda f: f.write(b"one"), fsync=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
