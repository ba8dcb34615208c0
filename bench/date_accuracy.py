"""Publication dates: ours against htmldate, on every public page whose publication day is known.

    bash scripts/venv.sh .venv requirements/bench.txt --project
    .venv/bin/python bench/get_real_pages.py     # once: builds bench/data/ (see its docstring)
    .venv/bin/python bench/date_accuracy.py [--rows]

Ours is ``extract_document(url, "text/html", html).published`` (no site
rules, as bench/real_quality.py calls it); a NoDocument has no date.
htmldate is ``find_date(html, original_date=True, extensive_search=True)``, the
call htmldate's own evaluation makes (no URL given), and "htmldate fast" the
same with ``extensive_search=False``. Both get the page's bytes. Only the day
(YYYY-MM-DD) is compared, in the time zone the page writes it.

Per set and over all public pages, for each method: pages; accuracy, pages
with the right day over pages; right; wrong, a date on another day; missing,
no date. Arabic public pages (language ar in the page's markup) are counted
apart too; they are also in the public figures. Then, per set, the pages where
ours and htmldate agree on a day the set does not give (a hint that the set's
day is another date of the page), why ours gave no date, and milliseconds per
page: means of the extract calls only, and ours does the whole extraction
(text and all), not only the date. Each method has its own pass over the
pages, after htmldate's caches are emptied, so that no method warms the
caches of another. Accuracy is deterministic: one round is enough.

Data (bench/data/SOURCES.md; publishers keep their rights to the pages):
- article_extraction_dataset: AndyTheFactory/article-extraction-dataset,
  Apache-2.0: 2023 news articles, "date" hand-entered by the dataset's author
  (most agree with the page's markup; a few give an updated date or another year).
- htmldate_eval: adbar/htmldate tests/, Apache-2.0: the set htmldate was built
  and tuned on, so it favours htmldate.
- Apart, never in the public figures: our own fixture pages, written in this
  project (crawler/demosite, articles.toml's published), with the boilerplate
  rules bench/extraction_quality.py part 1 gives ours.
--rows prints every public page where ours is not right.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from extraction_quality import DEMOSITE, INDEX  # noqa: E402
from extraction_quality import ours as ours_on_fixture  # noqa: E402
from htmldate import find_date  # noqa: E402
from htmldate.meta import reset_caches  # noqa: E402
from real_sources import DATES_DIR  # noqa: E402

from crawler.extract.document import NoDocument, extract_document  # noqa: E402

DATA = BENCH / "data"
FAVOURS_HTMLDATE = {"htmldate_eval"}
HTMLDATE_VERSION = importlib.metadata.version("htmldate")


@dataclass
class Page:
    source: str
    id: str
    url: str
    language: str
    html: bytes
    known: str  # YYYY-MM-DD
    found: dict[str, str | None] = field(default_factory=dict)  # method -> day
    why: dict[str, str] = field(default_factory=dict)  # method -> why it has no day
    ms: dict[str, float] = field(default_factory=dict)


def public_pages() -> list[Page]:
    metas = sorted(DATA.glob("*/*.json")) + sorted((DATA / DATES_DIR).glob("*/*.json"))
    pages = []
    for path in metas:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if meta.get("published"):
            html = path.with_suffix(".html").read_bytes()
            pages.append(Page(meta["source"], meta["id"], meta["url"], meta["language"], html, meta["published"]))
    return pages


def ours(page: Page) -> tuple[str | None, str]:
    doc = extract_document(page.url, "text/html", page.html)
    if isinstance(doc, NoDocument):
        return None, f"no document: {doc.reason}"
    return doc.published, "document without a date"


def htmldate(page: Page) -> tuple[str | None, str]:
    return find_date(page.html, original_date=True, extensive_search=True), "no date"


def htmldate_fast(page: Page) -> tuple[str | None, str]:
    return find_date(page.html, original_date=True, extensive_search=False), "no date"


EXTRACTORS: dict[str, Callable[[Page], tuple[str | None, str]]] = {
    "ours": ours,
    "htmldate": htmldate,
    "htmldate fast": htmldate_fast,
}
METHODS = tuple(EXTRACTORS)


def run(pages: list[Page]) -> None:
    for name, extract in EXTRACTORS.items():
        extract(pages[0])  # untimed: imports and lazy set-up
        reset_caches()
        for n, page in enumerate(pages, 1):
            start = time.perf_counter()
            try:
                day, why = extract(page)
            except Exception as e:  # noqa: BLE001 - a page that breaks one library is that library's miss
                day, why = None, f"raised {type(e).__name__}"
            page.ms[name] = (time.perf_counter() - start) * 1000
            page.found[name] = day[:10] if day else None
            if not day:
                page.why[name] = why
            if n % 500 == 0:
                print(f"  ... {name}: {n}/{len(pages)} pages", file=sys.stderr)


def table(groups: Iterable[tuple[str, list[Page]]]) -> None:
    print(f"{'':<30} {'pages':>5}  {'':<13} {'accuracy':>8} {'right':>5} {'wrong':>5} {'missing':>7}")
    for label, pages in groups:
        for n, name in enumerate(METHODS):
            right = sum(p.found[name] == p.known for p in pages)
            missing = sum(p.found[name] is None for p in pages)
            head = f"{label:<30} {len(pages):>5}" if n == 0 else " " * 36
            print(f"{head}  {name:<13} {right / len(pages):8.3f} {right:5d} {len(pages) - right - missing:5d} {missing:7d}")


def report(pages: list[Page], show_rows: bool) -> None:
    by_source: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        by_source[page.source].append(page)
    groups = [(f"{s}{' *' if s in FAVOURS_HTMLDATE else ''}", ps) for s, ps in sorted(by_source.items())]
    arabic = [p for p in pages if p.language == "ar"]
    print(f"== Public pages with a known publication day: {len(pages)} (bench/data/SOURCES.md); htmldate {HTMLDATE_VERSION}")
    print("   accuracy = right day / pages; wrong = a date on another day; missing = no date\n")
    table([*groups, ("all public", pages)] + ([("Arabic (ar) public pages", arabic)] if arabic else []))
    print("   * htmldate's own evaluation set, built and tuned for htmldate: it favours htmldate.")
    print("   The Arabic public pages are counted in the rows above them too.\n")

    print("-- ours and htmldate agree on a day the set does not give (the set's day may be another date of the page)")
    for label, group in groups:
        same = sum(p.found["ours"] is not None and p.found["ours"] == p.found["htmldate"] != p.known for p in group)
        print(f"   {label:<30} {same:5d} of {len(group)}")
    print()

    if arabic:
        print("-- Arabic public pages, one by one")
        for p in arabic:
            print(f"   {p.source}/{p.id} known {p.known}  " + "  ".join(f"{name} {p.found[name] or '-'}" for name in METHODS))
        print()

    print("-- why ours has no date (pages)")
    for why, n in Counter(p.why["ours"] for p in pages if "ours" in p.why).most_common():
        print(f"   {n:5d}  {why}")
    print()

    print("-- milliseconds per page, means of the extract calls (ours: the whole extraction, not only the date)")
    print(f"{'':<30} {'pages':>5}" + "".join(f" {name:>13}" for name in METHODS) + "  ours/htmldate  ours/fast")
    for label, group in [*groups, ("all public", pages)]:
        ms = [sum(p.ms[name] for p in group) / len(group) for name in METHODS]
        print(
            f"{label:<30} {len(group):>5}"
            + "".join(f" {m:13.1f}" for m in ms)
            + f"  {ms[0] / ms[1]:12.2f}x {ms[0] / ms[2]:9.2f}x"
        )
    print()

    if show_rows:
        wrong = [p for p in pages if p.found["ours"] != p.known]
        print(f"-- public pages where ours is not right: {len(wrong)}")
        for p in wrong:
            print(
                f"   {p.source}/{p.id} [{p.language}] known {p.known} ours {p.found['ours'] or p.why['ours']} "
                f"htmldate {p.found['htmldate'] or '-'} {p.url[:100]}"
            )
        print()


def fixture_pages() -> None:
    print("== Our own fixture pages, written in this project (crawler/demosite): not public, not in the figures above")
    pages = []
    for article in INDEX["article"]:
        body = (DEMOSITE / "site" / article["file"]).read_bytes()
        page = Page("demosite", article["id"], article["path"], "ar", body, str(article["published"])[:10])
        _, _, published = ours_on_fixture(article, body)
        page.found["ours"] = published[:10] if published else None
        for name in ("htmldate", "htmldate fast"):
            page.found[name] = EXTRACTORS[name](page)[0]
        pages.append(page)
        print(f"   {page.id:<4} known {page.known}  " + "  ".join(f"{name} {page.found[name] or '-'}" for name in METHODS))
    print()
    table([("demosite (Arabic)", pages)])
    print("   ours reads these pages with their section's boilerplate rules, as in bench/extraction_quality.py part 1.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", action="store_true", help="print every public page where ours is not right")
    args = parser.parse_args()
    pages = public_pages()
    if not pages:
        print(f"== Public pages: none with a known date in {DATA}; run bench/get_real_pages.py first\n")
    else:
        run(pages)
        report(pages, args.rows)
    fixture_pages()


if __name__ == "__main__":
    main()
