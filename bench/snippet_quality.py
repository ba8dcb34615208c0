"""Part 3 of bench/extraction_quality.py: trafilatura's snippet evaluation set, scored as trafilatura scores it.

The three extractors of bench/real_quality.py (same calls, same settings) run
on every page of bench/data/trafilatura_eval/. As tests/eval_common.py at the
pinned commit counts: a "with" snippet found in the output is a true positive,
missing a false negative; a "without" snippet found is a false positive,
absent a true negative. A snippet is found when, with every whitespace run of
both sides made one space and the ends stripped, it is a substring of the
output. An extractor that gives nothing or raises finds nothing. Counts are
summed over the whole set (or a language) before precision, recall, accuracy
and F-score are taken, as trafilatura's evaluate.py does.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

from real_quality import EXTRACTORS, NAMES, timed
from snippet_pages import SnippetPage
from snippet_sources import norm


@dataclass
class SnippetRow:
    page: SnippetPage
    found: dict[str, tuple[bool, ...]]  # extractor -> per "with" snippet, whether it is in the output
    leaked: dict[str, tuple[bool, ...]]  # extractor -> per "without" snippet, whether it is in the output
    ms: dict[str, float]
    no_text: dict[str, str]  # extractor -> why it gave no text


@dataclass
class Counts:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    def add(self, row: SnippetRow, name: str) -> None:
        self.tp += sum(row.found[name])
        self.fn += len(row.found[name]) - sum(row.found[name])
        self.fp += sum(row.leaked[name])
        self.tn += len(row.leaked[name]) - sum(row.leaked[name])

    def scores(self) -> tuple[float, float, float, float]:
        """Precision, recall, F-score, accuracy; 0.0 where a denominator is empty, as eval_common.ConfusionMatrix."""
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f_score = 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else 0.0
        total = self.tp + self.fn + self.fp + self.tn
        return precision, recall, f_score, (self.tp + self.tn) / total if total else 0.0


def _counts(rows: Iterable[SnippetRow], name: str) -> Counts:
    counts = Counts()
    for row in rows:
        counts.add(row, name)
    return counts


def run(pages: Sequence[SnippetPage]) -> list[SnippetRow]:
    if pages:  # one untimed call each, so imports and lazy set-up do not land on the first page's time
        for extract in EXTRACTORS.values():
            timed(extract, pages[0])
    rows = []
    for n, page in enumerate(pages, 1):
        row = SnippetRow(page, {}, {}, {}, {})
        for name, extract in EXTRACTORS.items():
            text, reason, ms = timed(extract, page)
            output = norm(text)
            row.found[name] = tuple(norm(s) in output for s in page.with_)
            row.leaked[name] = tuple(norm(s) in output for s in page.without)
            row.ms[name] = ms
            if not output:
                row.no_text[name] = reason or "empty text"
        rows.append(row)
        if n % 100 == 0:
            print(f"  ... {n}/{len(pages)} snippet pages", file=sys.stderr)
    return rows


def report(rows: list[SnippetRow], show_rows: bool) -> None:
    with_total = sum(len(r.page.with_) for r in rows)
    without_total = sum(len(r.page.without) for r in rows)
    print(f"== trafilatura's evaluation set: {len(rows)} pages, {with_total} must-include and {without_total} "
          "must-exclude snippets (bench/data/SOURCES.md)")
    print("   snippet found = substring of the output once whitespace runs are one space, as trafilatura's "
          "tests/eval_common.py; counts summed over pages")
    sources: dict[str, int] = defaultdict(int)
    for row in rows:
        sources[row.page.source] += 1
    print("   " + ", ".join(f"{s}: {n} pages" for s, n in sources.items()) + "\n")
    if not rows:
        return
    if show_rows:
        _print_rows(rows)
    _table("-- over all pages", {"all": rows})
    by_language: dict[str, list[SnippetRow]] = defaultdict(list)
    for row in rows:
        by_language[row.page.language].append(row)
    _table("-- per language (from the page's <html lang> or language meta; und = none)", by_language)
    _report_no_text(rows)
    _report_losses(rows)
    _report_arabic(rows)
    _report_speed(rows)


def _table(title: str, groups: dict[str, list[SnippetRow]]) -> None:
    print(title)
    columns = " ".join(f"{c:>6}" for c in ("P", "R", "F", "acc")) + "   " + " ".join(f"{c:>5}" for c in ("tp", "fn", "fp", "tn"))
    print(f"{'':<5} {'pages':>5} {'extractor':<12} {columns}")
    for key, rows in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        for i, name in enumerate(NAMES):
            c = _counts(rows, name)
            p, r, f, acc = c.scores()
            lead = f"{key:<5} {len(rows):>5}" if i == 0 else f"{'':<5} {'':>5}"
            print(f"{lead} {name:<12} {p:6.3f} {r:6.3f} {f:6.3f} {acc:6.3f}   {c.tp:5d} {c.fn:5d} {c.fp:5d} {c.tn:5d}")
    print()


def _print_rows(rows: list[SnippetRow]) -> None:
    print(f"{'id':<60} {'lang':<4} " + " ".join(f"{n + ' with/without':>24}" for n in NAMES))
    for r in rows:
        cells = " ".join(
            f"{f'{sum(r.found[n])}/{len(r.found[n])} {sum(r.leaked[n])}/{len(r.leaked[n])}':>24}" for n in NAMES
        )
        print(f"{r.page.id[:60]:<60} {r.page.language:<4} {cells}")
    print()


def _report_no_text(rows: list[SnippetRow]) -> None:
    for n in NAMES:
        missed = [r for r in rows if n in r.no_text]
        print(f"-- no text from {n}: {len(missed)} pages")
        for r in missed:
            print(f"   {r.page.id} [{r.page.language}] {r.no_text[n][:150]}")
    print()


def _report_losses(rows: list[SnippetRow]) -> None:
    """Snippet by snippet, where ours and plain trafilatura disagree: ours' losses listed, its wins counted."""
    lost_with: list[tuple[SnippetRow, str]] = []
    lost_without: list[tuple[SnippetRow, str]] = []
    won_with = won_without = 0
    for r in rows:
        for snippet, ours, traf in zip(r.page.with_, r.found["ours"], r.found["trafilatura"], strict=True):
            if traf and not ours:
                lost_with.append((r, snippet))
            won_with += ours and not traf
        for snippet, ours, traf in zip(r.page.without, r.leaked["ours"], r.leaked["trafilatura"], strict=True):
            if ours and not traf:
                lost_without.append((r, snippet))
            won_without += traf and not ours
    for title, losses, wins in (
        ('"with" snippets ours misses and plain trafilatura finds', lost_with, won_with),
        ('"without" snippets ours lets through and plain trafilatura keeps out', lost_without, won_without),
    ):
        pages = len({r.page.id for r, _ in losses})
        print(f"-- {title}: {len(losses)} on {pages} pages ({wins} the other way round)")
        for r, snippet in losses:
            print(f"   {r.page.id} [{r.page.language}] «{snippet}»")
        print()


def _report_arabic(rows: list[SnippetRow]) -> None:
    arabic = [r for r in rows if r.page.language == "ar"]
    print(f"-- Arabic pages, snippet by snippet: {len(arabic)}")
    for r in arabic:
        print(f"   {r.page.id} ({r.page.url[:80]})")
        for n in NAMES:
            found = " ".join("+" if f else "-" for f in r.found[n])
            leaked = " ".join("!" if f else "." for f in r.leaked[n])
            print(f"     {n:<12} with [{found}]  without [{leaked}]")
    print("   (+ found, - missed; ! let through, . kept out)\n")


def _report_speed(rows: list[SnippetRow]) -> None:
    print("-- milliseconds per page (extract calls only)")
    means = {n: sum(r.ms[n] for r in rows) / len(rows) for n in NAMES}
    for n in NAMES:
        print(f"{n:<12} mean {means[n]:8.1f}  median {statistics.median(r.ms[n] for r in rows):8.1f}")
    print(f"ours / trafilatura: {means['ours'] / means['trafilatura']:.2f}x (means)")


def write_jsonl(rows: list[SnippetRow], out: TextIO) -> None:
    """One line per page, "part": "snippets" to tell them from the full-text rows; keys sorted for diffing."""
    for r in rows:
        line: dict[str, object] = {"part": "snippets", "id": r.page.id, "source": r.page.source, "lang": r.page.language}
        for n in NAMES:
            c = _counts([r], n)
            line[f"counts_{n}"] = {"tp": c.tp, "fn": c.fn, "fp": c.fp, "tn": c.tn}
            line[f"missed_{n}"] = [s for s, f in zip(r.page.with_, r.found[n], strict=True) if not f]
            line[f"leaked_{n}"] = [s for s, f in zip(r.page.without, r.leaked[n], strict=True) if f]
            line[f"ms_{n}"] = round(r.ms[n], 1)
        line["no_text"] = {n: why[:150] for n, why in r.no_text.items()}
        out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
