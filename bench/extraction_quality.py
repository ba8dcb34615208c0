"""Extraction quality: ours against plain trafilatura and newspaper4k, in three parts measured in one run.

    bash scripts/venv.sh .venv requirements/bench.txt --project
    .venv/bin/python bench/get_real_pages.py        # once, for parts 2 and 3 (see its docstring)
    .venv/bin/python bench/extraction_quality.py [--only fixtures|real|snippets] [--rows] [--jsonl FILE]

Part 1, our own fixture pages: for each article of the demo site it compares
each extractor's body text with the expected text written in this project:
token precision, recall and F1 (tokens are words, counted with multiplicity),
how many known boilerplate phrases leaked into the text, and whether the
title and publication date are right. Prints one table per site section and a
total.

Part 2, real pages (bench/real_quality.py): public pages whose expected text
others wrote (bench/data/, built by bench/get_real_pages.py), scored with the
same tokens() for all three extractors: mean P/R/F1, F1 per language and per
source, pages with no text, pages where ours trails plain trafilatura, and
milliseconds per page.

Part 3, trafilatura's evaluation set (bench/snippet_quality.py): about a
thousand pages in a dozen languages (one Arabic) annotated with snippets the
main text must and must not contain, scored as trafilatura's own evaluation
scores them: precision, recall, F-score and accuracy over all snippets and per
language, pages with no text, every snippet where ours loses to plain
trafilatura, and milliseconds per page.

--rows prints every page of parts 2 and 3; --jsonl FILE writes one line per
page of both (part 3's lines carry "part": "snippets") for diffing two runs.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.extract.document import NoDocument, extract_document  # noqa: E402
from crawler.extract.rules import ExtractionRules  # noqa: E402

DEMOSITE = ROOT / "crawler" / "demosite"
INDEX = tomllib.loads((DEMOSITE / "articles.toml").read_text(encoding="utf-8"))
BASE = "http://127.0.0.1:8765"


def tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", unicodedata.normalize("NFC", text or "")))


def scores(predicted: str, expected: str) -> tuple[float, float, float]:
    p, g = tokens(predicted), tokens(expected)
    overlap = sum((p & g).values())
    precision = overlap / sum(p.values()) if p else 0.0
    recall = overlap / sum(g.values()) if g else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def ours(article: dict[str, Any], body: bytes) -> tuple[str, str | None, str | None]:
    content_type = "text/html" if article.get("charset") == "windows-1256" else "text/html; charset=utf-8"
    boilerplate = INDEX["section"][article["section"]].get("boilerplate", [])
    # extract_document takes ExtractionRules now; a bare list made every call a NoDocument("error").
    doc = extract_document(BASE + article["path"], content_type, body, ExtractionRules(boilerplate=tuple(boilerplate)))
    if isinstance(doc, NoDocument):
        return "", None, None
    return doc.text, doc.title, doc.published


def plain_trafilatura(article: dict[str, Any], body: bytes) -> tuple[str, str | None, str | None]:
    import trafilatura

    result = trafilatura.bare_extraction(body, url=BASE + article["path"], with_metadata=True)
    if result is None:
        return "", None, None
    return result.text or "", result.title, result.date


def newspaper4k(article: dict[str, Any], body: bytes) -> tuple[str, str | None, str | None]:
    from newspaper import Article

    encoding = article.get("charset", "utf-8")
    page = Article(BASE + article["path"], language="ar")
    page.download(input_html=body.decode(encoding, errors="replace"))
    page.parse()
    date = page.publish_date.isoformat() if page.publish_date else None
    return page.text or "", page.title or None, date


def fixture_pages() -> None:
    print("== Our own fixture pages: the demo site's articles, expected text written in this project\n")
    extractors: dict[str, Callable[[dict[str, Any], bytes], tuple[str, str | None, str | None]]] = {
        "ours": ours,
        "trafilatura": plain_trafilatura,
    }
    try:
        import newspaper  # noqa: F401

        extractors["newspaper4k"] = newspaper4k
    except ImportError:
        print("newspaper4k not installed (bash scripts/venv.sh .venv requirements/bench.txt --project): its column is left out\n")

    phrases = INDEX["boilerplate"]["phrases"]
    totals: dict[str, dict[str, list[float]]] = {}
    for section in sorted({a["section"] for a in INDEX["article"]}):
        print(f"== site section: {section}")
        print(f"{'article':<8} {'extractor':<12} {'P':>6} {'R':>6} {'F1':>6} {'leaked':>6} title date")
        for article in (a for a in INDEX["article"] if a["section"] == section):
            body = (DEMOSITE / "site" / article["file"]).read_bytes()
            expected = (DEMOSITE / "site" / article["expected"]).read_text(encoding="utf-8")
            for name, extract in extractors.items():
                text, title, date = extract(article, body)
                p, r, f1 = scores(text, expected)
                leaked = sum(1 for phrase in phrases if phrase in text)
                title_ok = (title or "").strip() == article["title"]
                date_ok = bool(date) and str(date).startswith(str(article["published"])[:10])
                row = totals.setdefault(f"{section}:{name}", {"p": [], "r": [], "f1": [], "leaked": [], "title": [], "date": []})
                for key, value in (("p", p), ("r", r), ("f1", f1), ("leaked", leaked), ("title", title_ok), ("date", date_ok)):
                    row[key].append(float(value))
                print(
                    f"{article['id']:<8} {name:<12} {p:6.3f} {r:6.3f} {f1:6.3f} {leaked:6d} "
                    f"{'ok' if title_ok else '--':<5} {'ok' if date_ok else '--'}"
                )
        print()

    print("== mean per site section")
    print(f"{'section':<8} {'extractor':<12} {'P':>6} {'R':>6} {'F1':>6} {'leaked':>7} {'titles':>7} {'dates':>6}")
    for key, row in totals.items():
        section, name = key.split(":")
        n = len(row["f1"])
        mean = {k: sum(v) / n for k, v in row.items()}
        print(
            f"{section:<8} {name:<12} {mean['p']:6.3f} {mean['r']:6.3f} {mean['f1']:6.3f} "
            f"{int(sum(row['leaked'])):7d} {int(sum(row['title'])):3d}/{n:<3d} {int(sum(row['date'])):2d}/{n}"
        )


def real_pages(show_rows: bool, jsonl: TextIO | None) -> None:
    import real_quality
    from real_pages import iter_pages

    try:
        pages = list(iter_pages())
    except FileNotFoundError as e:
        print(f"== Real pages: skipped, {e}")
        return
    rows = real_quality.run(pages, scores)
    real_quality.report(rows, show_rows)
    if jsonl:
        real_quality.write_jsonl(rows, jsonl)


def snippet_pages(show_rows: bool, jsonl: TextIO | None) -> None:
    import snippet_quality
    from snippet_pages import iter_snippet_pages

    try:
        pages = list(iter_snippet_pages())
    except FileNotFoundError as e:
        print(f"== trafilatura's evaluation set: skipped, {e}")
        return
    rows = snippet_quality.run(pages)
    snippet_quality.report(rows, show_rows)
    if jsonl:
        snippet_quality.write_jsonl(rows, jsonl)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("fixtures", "real", "snippets"), help="run one part only")
    parser.add_argument("--rows", action="store_true", help="print every page's row of parts 2 and 3, not only the summaries")
    parser.add_argument("--jsonl", type=Path, metavar="FILE", help="write the rows of parts 2 and 3 to FILE, one JSON per page")
    args = parser.parse_args()
    # One handle for both parts, so that a run's file holds that run's rows only.
    jsonl = args.jsonl.open("w", encoding="utf-8") if args.jsonl else None
    parts: dict[str, Callable[[], None]] = {
        "fixtures": fixture_pages,
        "real": lambda: real_pages(args.rows, jsonl),
        "snippets": lambda: snippet_pages(args.rows, jsonl),
    }
    for n, part in enumerate(part for name, part in parts.items() if args.only in (None, name)):
        if n:
            print()
        part()
    if jsonl:
        jsonl.close()
        print(f"per-page rows written to {args.jsonl}")


if __name__ == "__main__":
    main()
