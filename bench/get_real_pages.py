"""Build bench/data/: public web pages with expected text or dates written by others, for bench/extraction_quality.py
and bench/date_accuracy.py.

    .venv/bin/python bench/get_real_pages.py                            # from GitHub, needs internet
    .venv/bin/python bench/get_real_pages.py --mirror-root ~/git-mirrors  # from local bare clones

Each source is a public GitHub repository read at a pinned commit, so every
run gives the same pages. By default the script fetches that one commit from
GitHub into bench/data/.repos/ (a shallow bare clone). With --mirror-root DIR
it reads instead from DIR, a local directory of bare git clones named
owner+name (DIR/owner+name, or DIR/owner+name/repo); the pinned commit must
be in that clone.

It writes, per page, bench/data/<source>/<id>.html (the page's bytes as the
source stores them; gzip, where the source gzips, is undone) and <id>.json
({id, source, url, language, language_from, expected, published, licence,
repository, commit, origin_html, origin_expected}; published is the
publication day the source gives, YYYY-MM-DD, or null), plus
bench/data/SOURCES.md with each set's origin and licence.

Date-only sets (DATE_SOURCES: a publication day, no expected text) go to
bench/data/date_only/<source>/ in the same form, with expected "" and
origin_expected the file that gives the day.

trafilatura's snippet-annotated evaluation set (bench/snippet_sources.py) goes
to bench/data/trafilatura_eval/<id>.html (raw bytes) and <id>.json ({id,
source, file, url, language, language_from, with, without, licence,
repository, commit, origin_html, origin_annotations}); language is what the
page's markup declares (<html lang>, else a content-language or og:locale
meta), "und" when it declares nothing.

bench/data/ is in .gitignore: the pages belong to their publishers and the
annotations to the repositories' authors, so none of it is committed here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_sources import DATE_SOURCES, DATES_DIR, SOURCES, RawPage, Source, markup_language, page_language  # noqa: E402
from snippet_pages import SNIPPET_DIR  # noqa: E402
from snippet_sources import SNIPPET_SOURCES, RawSnippetPage, SnippetSource, holds_a_with_snippet, snippet_page_id  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


class GitTree:
    """Files of one commit of a bare git repository, read without a work tree."""

    def __init__(self, git_dir: Path, commit: str) -> None:
        self.git_dir, self.commit = git_dir, commit
        if self._git("cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode != 0:
            raise SystemExit(f"{git_dir}: commit {commit} is not there; fetch it or use another clone")

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", "--git-dir", str(self.git_dir), *args], capture_output=True, check=check)

    def list(self, folder: str) -> list[str]:
        # -z: without it git quotes and octal-escapes non-ASCII names ("bummfilm.de.\303\274ber.html").
        out = self._git("ls-tree", "-r", "-z", "--name-only", self.commit, "--", folder).stdout
        return [name for name in out.decode("utf-8").split("\0") if name]

    def read(self, path: str) -> bytes | None:
        """None when the blob is absent (a local snapshot may leave out its largest files)."""
        done = self._git("show", f"{self.commit}:{path}", check=False)
        return done.stdout if done.returncode == 0 else None


def open_repo(source: Source | SnippetSource, mirror_root: Path | None) -> GitTree:
    owner_name = source.repository.replace("/", "+")
    if mirror_root is not None:
        for candidate in (mirror_root / owner_name / "repo", mirror_root / owner_name):
            if (candidate / "objects").is_dir():
                return GitTree(candidate, source.commit)
        raise SystemExit(f"no bare clone of {source.repository} under {mirror_root}")
    clone = DATA / ".repos" / f"{owner_name}.git"
    if not (clone / "objects").is_dir():
        subprocess.run(["git", "init", "--quiet", "--bare", str(clone)], check=True)
    # GitHub serves any commit by its id; depth 1 fetches only the tree we read.
    url = f"https://github.com/{source.repository}.git"
    subprocess.run(["git", "--git-dir", str(clone), "fetch", "--quiet", "--depth", "1", url, source.commit], check=True)
    return GitTree(clone, source.commit)


def write_source(source: Source, tree: GitTree, seen: dict[str, str], folder: Path) -> tuple[Counter[str], int]:
    """Writes the source's pages; returns pages per language and how many have a date. `seen` maps page hashes to ids."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    languages: Counter[str] = Counter()
    dated = 0
    for page in source.pages(tree):
        digest = hashlib.sha256(page.html).hexdigest()
        if digest in seen:  # the same capture in two sets would count twice
            print(f"  skip {source.name}/{page.id}: same HTML as {seen[digest]}")
            continue
        seen[digest] = f"{source.name}/{page.id}"
        language, language_from = page_language(page)
        (folder / f"{page.id}.html").write_bytes(page.html)
        record = _record(source, page, language, language_from)
        (folder / f"{page.id}.json").write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        languages[language] += 1
        dated += page.published is not None
    return languages, dated


def _record(source: Source, page: RawPage, language: str, language_from: str) -> dict[str, str | None]:
    at = f"https://github.com/{source.repository}/blob/{source.commit}/"
    return {
        "id": page.id,
        "source": source.name,
        "url": page.url,
        "language": language,
        "language_from": language_from,
        "expected": page.expected,
        "published": page.published,
        "licence": source.licence,
        "repository": source.repository,
        "commit": source.commit,
        "origin_html": at + page.html_path,
        "origin_expected": at + page.expected_path,
    }


def write_snippet_sets(mirror_root: Path | None) -> dict[str, Counter[str]]:
    """Writes every snippet source into one folder; returns pages per language per source."""
    folder = DATA / SNIPPET_DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    seen_files: dict[str, str] = {}
    seen_bytes: dict[str, str] = {}  # go-trafilatura renamed some files (dashes, quotes) but kept their bytes
    counts: dict[str, Counter[str]] = {}
    for source in SNIPPET_SOURCES:
        counts[source.name] = Counter()
        twins = 0
        for page in source.pages(open_repo(source, mirror_root)):
            digest = hashlib.sha256(page.html).hexdigest()
            if seen_files.get(page.file) or seen_bytes.get(digest):
                twins += 1
                continue
            if source.check_capture and not holds_a_with_snippet(page):
                print(f"  skip {source.name} {page.file!r}: no 'with' snippet anywhere in the page")
                continue
            page_id = snippet_page_id(page.file)
            if (folder / f"{page_id}.json").exists():
                raise SystemExit(f"{source.name} {page.file!r}: id {page_id} already taken; change snippet_page_id")
            seen_files[page.file] = seen_bytes[digest] = f"{source.name}/{page_id}"
            language, language_from = markup_language(page.html) or ("und", "no lang attribute or language meta")
            (folder / f"{page_id}.html").write_bytes(page.html)
            record = _snippet_record(source, page, page_id, language, language_from)
            (folder / f"{page_id}.json").write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            counts[source.name][language] += 1
        if twins:
            print(f"  {source.name}: {twins} pages already taken from an earlier source (same file name or bytes)")
    return counts


def _snippet_record(
    source: SnippetSource, page: RawSnippetPage, page_id: str, language: str, language_from: str
) -> dict[str, object]:
    at = f"https://github.com/{source.repository}/blob/{source.commit}/"
    return {
        "id": page_id,
        "source": source.name,
        "file": page.file,
        "url": page.url,
        "language": language,
        "language_from": language_from,
        "with": list(page.with_),
        "without": list(page.without),
        "licence": source.licence,
        "repository": source.repository,
        "commit": source.commit,
        "origin_html": at + page.html_path,
        "origin_annotations": at + page.annotations_path,
    }


def write_sources_md(counts: dict[str, Counter[str]], dated: dict[str, int]) -> None:
    lines = ["# Real pages for bench/extraction_quality.py and bench/date_accuracy.py", ""]
    lines += ["Built by bench/get_real_pages.py; not committed.", ""]
    for source in SOURCES + DATE_SOURCES:
        per_language = ", ".join(f"{lang} {n}" for lang, n in sorted(counts[source.name].items()))
        heading = f"## {source.name} (date-only set, in {DATES_DIR}/)" if source in DATE_SOURCES else f"## {source.name}"
        lines += [
            heading,
            "",
            f"- repository: https://github.com/{source.repository} at commit {source.commit}",
            f"- licence: {source.licence} (the repository's LICENSE file; publishers keep their rights to the pages)",
            f"- pages: {sum(counts[source.name].values())} ({per_language}); with a known publication day: {dated[source.name]}",
            f"- {source.description}",
            "",
        ]
    for snippet_source in SNIPPET_SOURCES:
        per_language = ", ".join(f"{lang} {n}" for lang, n in sorted(counts[snippet_source.name].items()))
        lines += [
            f"## {snippet_source.name} (snippet set, in {SNIPPET_DIR}/)",
            "",
            "- scored apart from the sets above, as trafilatura's tests/evaluate.py scores it: must-include and "
            "must-exclude snippets, found by whitespace-normalised substring match",
            f"- repository: https://github.com/{snippet_source.repository} at commit {snippet_source.commit}",
            f"- licence: {snippet_source.licence} (the repository's LICENSE file; publishers keep their rights to the pages)",
            f"- pages: {sum(counts[snippet_source.name].values())} ({per_language})",
            f"- {snippet_source.description}",
            "",
        ]
    lines += ["## Considered and left out", ""] + [f"- {note}" for note in LEFT_OUT] + [""]
    (DATA / "SOURCES.md").write_text("\n".join(lines), encoding="utf-8")


# Sets looked at for Arabic (or other) pages with full expected text, and why each is not used.
LEFT_OUT = (
    "goose3/goose3 tests/data/content/test_cnn_arabic: the same CNN Arabic page as newspaper4k's, "
    "but its expected text is the first 149 characters only (goose3's tests compare a prefix).",
    "codelucas/newspaper tests/data/html/arabic_article.html + text/arabic.txt: the same page and the "
    "same expected text as newspaper4k's copy, so it would count twice.",
    "adbar/trafilatura tests/eval and markusmobius/go-trafilatura test-files/comparison (including the "
    "Arabic assabah.com.tn page): only must-include / must-exclude snippets, no full expected text, so "
    "not in the token score; they are the snippet set above.",
    "mozilla/readability test-pages (and its ports): no Arabic page; rtl-1..4 are Latin lorem ipsum.",
    "Murrough-Foley/web-content-extraction-benchmark (WCXB): LLM-drafted, human-reviewed text; no Arabic page.",
    "ispras/news-page-dataset: has Arabic news pages, but its data is on an external server, not on GitHub.",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--mirror-root",
        type=Path,
        help="a local directory of bare git clones named owner+name, read instead of GitHub",
    )
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    seen: dict[str, str] = {}
    counts: dict[str, Counter[str]] = {}
    dated: dict[str, int] = {}
    for source in SOURCES + DATE_SOURCES:
        tree = open_repo(source, args.mirror_root)
        folder = DATA / DATES_DIR / source.name if source in DATE_SOURCES else DATA / source.name
        counts[source.name], dated[source.name] = write_source(source, tree, seen, folder)
        total = sum(counts[source.name].values())
        print(
            f"{source.name}: {total} pages {dict(sorted(counts[source.name].items()))}, {dated[source.name]} dated "
            f"({source.repository}@{source.commit[:10]})"
        )
    for name, languages in write_snippet_sets(args.mirror_root).items():
        counts[name] = languages
        print(f"{SNIPPET_DIR}/ from {name}: {sum(languages.values())} pages {dict(sorted(languages.items()))}")
    write_sources_md(counts, dated)
    print(f"wrote {DATA} and {DATA / 'SOURCES.md'}")


if __name__ == "__main__":
    main()
