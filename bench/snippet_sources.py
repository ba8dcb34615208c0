"""trafilatura's evaluation set, as bench/get_real_pages.py reads it: pages with must-include and must-exclude snippets.

adbar/trafilatura annotates each page of tests/cache and tests/eval with a
few "with" snippets its main text must contain and "without" snippets it must
not (the EVAL_PAGES dict of tests/evaldata.py, moved to tests/evaldata.json in
PR #894, the data its tests/evaluate.py and tests/eval_common.py score;
tests/comparison.py became evaluate.py in PR #606). markusmobius/go-trafilatura
keeps an older copy of the same annotations, as a Go map in
scripts/comparison/data.go, with its pages in test-files/comparison/. Its
annotations are the older ones, so it only adds pages trafilatura's set lacks
(by file name or by bytes), and only where the capture holds the annotated
article (see SnippetSource.check_capture).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from real_sources import Tree, read_json


@dataclass(frozen=True)
class RawSnippetPage:
    file: str  # the file name the annotations give
    url: str
    html: bytes
    with_: tuple[str, ...]
    without: tuple[str, ...]
    html_path: str  # inside the repository, for the origin URL
    annotations_path: str


@dataclass(frozen=True)
class SnippetSource:
    name: str
    repository: str  # owner/name on GitHub
    commit: str
    licence: str
    description: str
    pages: Callable[[Tree], Iterator[RawSnippetPage]]
    # go-trafilatura's extra pages are ones trafilatura's own review (PR #894) dropped; most of those captures
    # are a different page from the annotated one (a consent wall, another article), and a "with" snippet
    # that is nowhere in the page scores every extractor as a miss, so they must show at least one.
    check_capture: bool = False


def _trafilatura_eval(tree: Tree) -> Iterator[RawSnippetPage]:
    annotations = "tests/evaldata.json"
    data = read_json(tree, annotations)
    assert isinstance(data, dict)
    # As tests/eval_common.resolve(): a file under tests/cache wins over one of the same name under tests/eval.
    paths: dict[str, str] = {}
    for path in tree.list("tests/cache/") + tree.list("tests/eval/"):
        paths.setdefault(path.rsplit("/", 1)[1], path)
    for url, item in sorted(data.items(), key=lambda kv: str(kv[1]["file"])):
        html_path = paths.get(item["file"])
        page = tree.read(html_path) if html_path else None
        if html_path is None or page is None:
            print(f"  skip trafilatura_eval {item['file']!r}: absent from the clone")
            continue
        yield RawSnippetPage(item["file"], url, page, tuple(item["with"]), tuple(item["without"]), html_path, annotations)


_GO_STRING = r'"((?:[^"\\\n]|\\.)*)"'
_GO_ENTRY_RE = re.compile(r"^\t" + _GO_STRING + r": \{\n(.*?)^\t\},$", re.M | re.S)
_GO_FIELD_RE = re.compile(r"^\t\t(File|With|Without):\s*(.*),$", re.M)


def _go_string(literal: str) -> str:
    # data.go escapes only \" and \n, which read as in JSON; a Go-only escape (\x, \', octal) raises here
    # rather than come out wrong. strict=False: some strings hold raw tabs.
    return str(json.loads(f'"{literal}"', strict=False))


def _go_trafilatura(tree: Tree) -> Iterator[RawSnippetPage]:
    annotations = "scripts/comparison/data.go"
    source = tree.read(annotations)
    if source is None:
        raise SystemExit(f"{annotations} is missing from the clone")
    for entry in _GO_ENTRY_RE.finditer(source.decode("utf-8")):
        fields = {name: [_go_string(s) for s in re.findall(_GO_STRING, v)] for name, v in _GO_FIELD_RE.findall(entry.group(2))}
        file = fields["File"][0]
        path = f"test-files/comparison/{file}"
        page = tree.read(path)
        if page is None:
            continue  # trafilatura's tests/cache pages are annotated here but not copied; trafilatura's set has them
        url = _go_string(entry.group(1))
        yield RawSnippetPage(file, url, page, tuple(fields.get("With", ())), tuple(fields.get("Without", ())), path, annotations)


def norm(text: str) -> str:
    """Whitespace runs to one space, as tests/eval_common.norm() at the pinned commit, on both sides of a match."""
    return re.sub(r"\s+", " ", text).strip()


def holds_a_with_snippet(page: RawSnippetPage) -> bool:
    """Whether any "with" snippet occurs in the page's markup, entities resolved: the capture is the annotated page."""
    from w3lib.encoding import html_to_unicode

    _, markup = html_to_unicode("text/html", page.html)
    text = norm(html.unescape(markup))
    return any(norm(snippet) in text for snippet in page.with_)


def snippet_page_id(file: str) -> str:
    """A file-system-safe id from the annotated file name; letters of any script stay."""
    return re.sub(r"[^\w.-]+", "_", file.removesuffix(".html")).strip("_.")


SNIPPET_SOURCES: tuple[SnippetSource, ...] = (
    SnippetSource(
        "trafilatura_eval",
        "adbar/trafilatura",
        "e90b0ef51ab026fdb905fb6c5b3c84dd3d784fd5",
        "Apache-2.0",
        "trafilatura's own evaluation set: 990 web pages (news, magazines, blogs, government and company "
        "pages; mostly German and English, some Spanish, French, Polish, one Arabic) under tests/cache and "
        "tests/eval, each with 1-6 must-include and 1-6 must-exclude snippets in tests/evaldata.json "
        "(BBAW collection by Adrien Barbaresi, Lukas Kozmus and Lena Klink; Polish news by tsolewski).",
        _trafilatura_eval,
    ),
    SnippetSource(
        "go_trafilatura_comparison",
        "markusmobius/go-trafilatura",
        "67c3f2a1ca17e9a7b9643239d88d5fe25a36b6ed",
        "Apache-2.0",
        "go-trafilatura's copy of the same set (scripts/comparison/data.go, test-files/comparison/); only its "
        "pages missing from trafilatura's set are taken, and of those only captures holding a 'with' snippet.",
        _go_trafilatura,
        check_capture=True,
    ),
)
