"""`scrapy report`: one static HTML page per site with what a curator looks at first.

The page is one file with nothing outside it (inline CSS, an SVG chart
drawn here, no JavaScript), so it opens offline, from file://, or attached
to a mail. Its figures come from the archive alone: the manifest, read a
line at a time (only counts per day and the ten largest and smallest texts
are kept, so millions of lines cost no memory), the run reports and the
site's CDXJ index.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

from crawler.cdx import index_path, read_index

logger = logging.getLogger(__name__)

TOP = 10  # documents in each of "largest" and "emptiest"
# Sites are folder names of the archive; anything else there (a stray file, a dot folder) is no site.
_SITE_RE = re.compile(r"[a-z0-9_]+")
_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
FAILURE_KINDS = {
    "no_document": "no document",
    "fetch_failed": "fetch failed",
    "http_status": "HTTP status",
    "download_error": "download error",
}
# Run report key -> column header ('#': a number).
RUN_COLUMNS = {
    "started": "started (UTC)",
    "duration_s": "#duration (s)",
    "pages_fetched": "#pages fetched",
    "captures_written": "#captures written",
    "documents_new": "#new",
    "documents_updated": "#updated",
    "not_modified": "#not modified",
    "finish_reason": "finish reason",
}


@dataclass(frozen=True)
class Doc:
    size: int
    title: str
    url: str
    path: str
    warc: str
    published: str


@dataclass
class SiteFigures:
    site: str
    documents: int = 0
    by_published: Counter[str] = field(default_factory=Counter)
    by_fetched: Counter[str] = field(default_factory=Counter)
    undated: int = 0
    missing_texts: int = 0
    # Heaps of (size, line, doc) and (-size, -line, doc): the line breaks ties, so docs are never compared.
    largest: list[tuple[int, int, Doc]] = field(default_factory=list)
    smallest: list[tuple[int, int, Doc]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    unreadable_runs: list[str] = field(default_factory=list)
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    failure_runs: Counter[tuple[str, str]] = field(default_factory=Counter)
    captures: Counter[int] | None = None  # by HTTP status; None: no index
    index_updated: datetime | None = None

    def add(self, line: int, doc: Doc) -> None:
        push = heapq.heappush if len(self.largest) < TOP else heapq.heappushpop
        push(self.largest, (doc.size, line, doc))
        push(self.smallest, (-doc.size, -line, doc))


def archive_sites(archive_dir: Path) -> list[str]:
    """The sites the archive holds anything of: texts, captures, run reports or an index."""
    found = {p.stem for p in (archive_dir / "index").glob("*.cdxj")}
    for folder in ("text", "warc", "runs"):
        root = archive_dir / folder
        if root.is_dir():
            found.update(p.name for p in root.iterdir() if p.is_dir())
    return sorted(s for s in found if _SITE_RE.fullmatch(s))


def gather(archive_dir: Path, sites: Iterable[str], progress: Callable[[int], None]) -> dict[str, SiteFigures]:
    figures = {site: SiteFigures(site) for site in sites}
    for fig in figures.values():
        _read_runs(archive_dir, fig)
        _read_captures(archive_dir, fig)
    _read_manifest(archive_dir, figures, progress)
    return figures


def _read_manifest(archive_dir: Path, figures: dict[str, SiteFigures], progress: Callable[[int], None]) -> None:
    pending = 0
    with (archive_dir / "manifest.jsonl").open("rb") as f:
        for number, raw in enumerate(f, 1):
            pending += 1
            if pending == 1000:
                progress(pending)
                pending = 0
            # A last line without its newline is a write cut short: not a document (yet).
            if not raw.endswith(b"\n"):
                continue
            try:
                entry = json.loads(raw)
                fig = figures.get(entry.get("site"))
            except (ValueError, AttributeError, TypeError):
                logger.warning("manifest.jsonl line %d is not a manifest entry: skipped", number)
                continue
            if fig is not None:
                _count(fig, archive_dir, number, entry)
    progress(pending)


def _count(fig: SiteFigures, archive_dir: Path, number: int, entry: dict[str, Any]) -> None:
    fig.documents += 1
    published = _day(entry.get("published"))
    if published:
        fig.by_published[published] += 1
    else:
        fig.undated += 1
    fetched = _day(entry.get("fetched_at"))
    if fetched:
        fig.by_fetched[fetched] += 1
    path = str(entry.get("path") or "")
    try:
        # A plain string: pathlib interns every part of a path, and the interpreter's table of
        # interned strings would grow with the unique file names (to a few hundred KB).
        size = os.stat(os.path.join(archive_dir, path)).st_size if path else -1
    except OSError:
        size = -1
    if size < 0:
        fig.missing_texts += 1
        return
    text = {key: str(entry.get(key) or "") for key in ("title", "url", "warc", "published")}
    fig.add(number, Doc(size=size, path=path, **text))


def _day(value: Any) -> str | None:
    """The date part of an ISO 8601 date or datetime, if it is one."""
    if not isinstance(value, str) or not _DAY_RE.match(value):
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def _read_runs(archive_dir: Path, fig: SiteFigures) -> None:
    folder = archive_dir / "runs" / fig.site
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            failures = [
                (kind, str(reason), int(n)) for kind, reasons in (report.get("failures") or {}).items() for reason, n in reasons.items()
            ]
        except (OSError, ValueError, AttributeError, TypeError) as e:
            # One damaged report should not hide the others; the page names it.
            logger.warning("run report %s not read: %s", path, e)
            fig.unreadable_runs.append(path.name)
            continue
        fig.runs.append(report)
        for kind, reason, n in failures:
            fig.failures[kind, reason] += n
            fig.failure_runs[kind, reason] += 1
    fig.runs.sort(key=lambda r: str(r.get("started", "")))


def _read_captures(archive_dir: Path, fig: SiteFigures) -> None:
    path = index_path(archive_dir, fig.site)
    if not path.is_file():
        return
    fig.index_updated = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    fig.captures = Counter()
    for entry in read_index(archive_dir, fig.site):
        # Responses only: request, warcinfo and metadata records have no status; a revisit is no new response.
        if entry.status is not None and entry.mime != "warc/revisit":
            fig.captures[entry.status] += 1


# --- The pages -------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,"Noto Sans","DejaVu Sans",sans-serif;color:#1d2330;margin:0;background:#f6f7f9}
main{max-width:1120px;margin:0 auto;padding:24px 28px 48px;background:#fff;min-height:100vh}
h1{margin:0 0 4px;font-size:26px}
h2{margin:36px 0 10px;font-size:19px;border-bottom:2px solid #e3e6eb;padding-bottom:4px}
h3{margin:18px 0 6px;font-size:15px;color:#444}
.meta,.note{color:#5b6372;font-size:13px}.note{margin:6px 0}.warn{color:#8a4b00}
nav a{margin-right:14px;font-size:13px}
dl.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin:18px 0 0}
dl.figures div{background:#f1f4f8;border-radius:6px;padding:8px 12px}
dt{font-size:12px;color:#5b6372}dd{margin:0;font-size:20px;font-weight:600}
table{border-collapse:collapse;margin:6px 0;font-size:14px}
th,td{padding:4px 10px;border-bottom:1px solid #e3e6eb;text-align:start;vertical-align:top}
th{background:#f1f4f8;font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:nth-child(even){background:#fafbfc}
td.title{max-width:520px}td.title a{text-decoration:none}td.title a:hover{text-decoration:underline}
td.date{white-space:nowrap}
svg.chart{display:block;width:100%;height:auto;max-width:1000px}
svg.chart text{font:11px system-ui,"DejaVu Sans",sans-serif;fill:#5b6372}
.bar-pub{fill:#3367b0}.bar-fetch{fill:#d9822b}.grid{stroke:#e3e6eb}.axis{stroke:#9aa1ad}
.share{display:inline-block;height:10px;background:#3367b0;border-radius:2px;vertical-align:middle}
details{margin:4px 0 0;font-size:13px}
"""


def render_site(fig: SiteFigures, archive_dir: Path, out_dir: Path, generated: datetime) -> str:
    last = fig.runs[-1] if fig.runs else None
    figures = {
        "documents": f"{fig.documents:,}",
        "without a publication date": f"{fig.undated:,}",
        "captures (responses)": "no index" if fig.captures is None else f"{fig.captures.total():,}",
        "runs": f"{len(fig.runs):,}",
        "failures, all runs": f"{fig.failures.total():,}",
        "last run": _when(last.get("started")) if last else "none",
    }
    largest = sorted(fig.largest, key=lambda t: (-t[0], t[1]))
    emptiest = sorted(fig.smallest, key=lambda t: (-t[0], -t[1]))
    body = [
        f"<h1>{escape(fig.site)}</h1>",
        _written(archive_dir, generated),
        *_alerts(last),
        '<nav><a href="#per-day">documents per day</a><a href="#failures">failures</a>'
        '<a href="#captures">captures by status</a><a href="#largest">largest</a>'
        '<a href="#emptiest">emptiest</a><a href="#runs">runs</a></nav>',
        '<dl class="figures">' + "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in figures.items()),
        "</dl>",
        '<h2 id="per-day">Documents per day</h2>',
        *_per_day(fig),
        '<h2 id="failures">Failures by reason, all runs</h2>',
        *_failures(fig),
        '<h2 id="captures">Captures by HTTP status</h2>',
        *_captures(fig),
        f'<h2 id="largest">Largest documents ({len(largest)}, by text size)</h2>',
        _documents(largest, archive_dir, out_dir),
        f'<h2 id="emptiest">Emptiest documents ({len(emptiest)}, by text size)</h2>',
        _documents(emptiest, archive_dir, out_dir),
        f'<h2 id="runs">Runs ({len(fig.runs):,})</h2>',
        *_runs(fig),
    ]
    return _page(f"{fig.site}: archive report", body)


def render_index(figures: list[SiteFigures], pages: dict[str, str], archive_dir: Path, generated: datetime) -> str:
    rows = []
    for fig in figures:
        last = fig.runs[-1] if fig.runs else {}
        rows.append([
            f'<a href="{escape(quote(pages[fig.site]))}">{escape(fig.site)}</a>',
            _num(fig.documents),
            _num(fig.undated),
            "no index" if fig.captures is None else _num(fig.captures.total()),
            _num(len(fig.runs)),
            f'<td class="date">{escape(_when(last.get("started")))}</td>',
            escape(str(last.get("finish_reason", ""))),
            _num(fig.failures.total()),
        ])
    headers = ["site", "#documents", "#undated", "#captures", "#runs", "last run (UTC)", "finish reason", "#failures"]
    return _page("Archive report", ["<h1>Archive report</h1>", _written(archive_dir, generated), _table(headers, rows, "sites")])


def _page(title: str, body: list[str]) -> str:
    # The interface is English, left to right; Arabic titles get dir="auto" where they appear.
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )


def _alerts(last: dict[str, Any] | None) -> list[str]:
    """The last run's health alerts (crawler.health), first thing on the page: what a curator must look at."""
    if not last or "alerts" not in last:
        return []
    alerts = last["alerts"]
    started = _when(last.get("started"))
    if not alerts:
        return [f'<p class="note" id="alerts">No alerts in the last run ({escape(started)}).</p>']
    items = "".join(
        f'<li><b>{escape(str(a.get("kind")))}</b>: {escape(str(a.get("message")))} '
        f'<span class="meta">(before: {escape(_figure(a.get("before")))}, now: {escape(_figure(a.get("now")))})</span></li>'
        for a in alerts
    )
    return [f'<section id="alerts" class="warn"><h2>Alerts of the last run ({escape(started)})</h2><ul>{items}</ul></section>']


def _figure(value: Any) -> str:
    if value is None:
        return "no earlier run"
    if isinstance(value, float) and value <= 1:
        return f"{value:.0%}"
    return f"{value:,}" if isinstance(value, (int, float)) else str(value)


def _written(archive_dir: Path, generated: datetime) -> str:
    return f'<p class="meta">archive {escape(str(archive_dir))} · report written {generated:%Y-%m-%d %H:%M} UTC</p>'


def _per_day(fig: SiteFigures) -> list[str]:
    if not fig.documents:
        return ['<p class="note">No documents of this site in the manifest.</p>']
    out = ["<h3>By publication date</h3>"]
    if fig.by_published:
        out.append(bar_chart(fig.by_published, "published", "bar-pub"))
    if fig.undated:
        out.append(f'<p class="note">{fig.undated:,} document(s) have no publication date and are not in this chart.</p>')
    out.append("<h3>By fetch date (UTC)</h3>")
    if fig.by_fetched:
        out.append(bar_chart(fig.by_fetched, "fetched", "bar-fetch"))
    for name, counts in (("publication", fig.by_published), ("fetch", fig.by_fetched)):
        rows = [[escape(day), _num(n)] for day, n in sorted(counts.items())]
        summary = f"<summary>documents per {name} date, as a table ({len(rows):,} days)</summary>"
        out.append(f"<details>{summary}{_table(['day', '#documents'], rows, f'per-{name}-day')}</details>")
    if fig.missing_texts:
        out.append(f'<p class="note warn">{fig.missing_texts:,} manifest line(s) name a text file that is not in the archive.</p>')
    return out


def _failures(fig: SiteFigures) -> list[str]:
    out = []
    if fig.unreadable_runs:
        out.append(f'<p class="note warn">Run reports not readable: {escape(", ".join(fig.unreadable_runs))}</p>')
    if not fig.failures:
        return [*out, f'<p class="note">No failures in {len(fig.runs):,} run report(s).</p>']
    kinds = list(FAILURE_KINDS)
    keys = sorted(fig.failures, key=lambda k: (kinds.index(k[0]) if k[0] in kinds else len(kinds), -fig.failures[k], k[1]))
    rows = [
        [escape(FAILURE_KINDS.get(kind, kind)), escape(reason), _num(fig.failures[kind, reason]), _num(fig.failure_runs[kind, reason])]
        for kind, reason in keys
    ]
    return [*out, _table(["kind", "reason", "#count", "#runs with it"], rows, "failures")]


def _captures(fig: SiteFigures) -> list[str]:
    if fig.captures is None:
        return [
            f'<p class="note warn">No CDXJ index of this site yet (index/{escape(fig.site)}.cdxj). '
            f"Build it with <code>scrapy index --site {escape(fig.site)}</code> and the same "
            "<code>-s ARCHIVE_DIR</code>, then write this report again.</p>"
        ]
    total = fig.captures.total()
    if not total:
        return ['<p class="note">The index holds no response records.</p>']
    peak = max(fig.captures.values())
    rows = []
    for status, n in sorted(fig.captures.items()):
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        bar = f'<span class="share" style="width:{max(1, round(160 * n / peak))}px"></span>'
        rows.append([str(status), escape(phrase), _num(n), f"{100 * n / total:.1f}%", bar])
    return [
        _table(["status", "", "#captures", "#share", ""], rows, "captures"),
        f'<p class="note">From the CDXJ index as of {fig.index_updated:%Y-%m-%d %H:%M} UTC.</p>',
    ]


def _documents(ranked: list[tuple[int, int, Doc]], archive_dir: Path, out_dir: Path) -> str:
    if not ranked:
        return '<p class="note">No text files.</p>'
    rows = []
    for _, _, doc in ranked:
        title = escape(doc.title) or "<em>(no title)</em>"
        if doc.url.startswith(("http://", "https://")):
            title = f'<a href="{escape(doc.url)}" title="{escape(doc.url)}">{title}</a>'
        rows.append([
            _num(doc.size),
            f'<td class="title" dir="auto">{title}</td>',
            f'<td class="date">{escape(doc.published[:10])}</td>',
            _link(archive_dir / doc.path, out_dir, "text"),
            _link(archive_dir / doc.warc, out_dir, "WARC") if doc.warc else "",
        ])
    return _table(["#bytes", "title", "published", "text", "capture"], rows, "documents")


def _runs(fig: SiteFigures) -> list[str]:
    if not fig.runs:
        return ['<p class="note">No run reports.</p>']
    rows = []
    for run in reversed(fig.runs):  # the newest first: the one a curator checks
        row = [f'<td class="date">{escape(_when(run.get("started")))}</td>']
        for key in list(RUN_COLUMNS)[1:]:
            value = run.get(key, "")
            row.append(_num(value) if isinstance(value, int | float) else escape(str(value)))
        rows.append(row)
    return ['<p class="note">Newest first.</p>', _table(list(RUN_COLUMNS.values()), rows, "runs")]


def _table(headers: list[str], rows: list[list[str]], name: str) -> str:
    """Cells are HTML; a header starting with '#' makes a number column; a cell that is a whole <td> is used as is."""
    numeric = [h.startswith("#") for h in headers]
    head = "".join(f'<th class="num">{escape(h[1:])}</th>' if n else f"<th>{escape(h)}</th>" for h, n in zip(headers, numeric, strict=True))
    body = []
    for row in rows:
        cells = (
            c if c.startswith("<td") else f'<td class="num">{c}</td>' if n else f"<td>{c}</td>"
            for c, n in zip(row, numeric, strict=True)
        )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="{escape(name)}"><thead><tr>{head}</tr></thead><tbody>' + "\n".join(body) + "</tbody></table>"


def _num(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def _when(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value or "")


def _link(target: Path, out_dir: Path, label: str) -> str:
    """A link relative to the page, so that an archive moved with its report keeps them; none to a missing file."""
    if not target.is_file():
        return f'<span class="warn" title="{escape(str(target))}">{escape(label)} missing</span>'
    href = quote(Path(os.path.relpath(os.path.abspath(target), os.path.abspath(out_dir))).as_posix())
    return f'<a href="{escape(href)}">{escape(label)}</a>'


# --- The chart -------------------------------------------------------------------

_MAX_BARS = 400  # beyond this a day is under 2 px wide: days are grouped into weeks, months or years
_UNITS = ("day", "week", "month", "year")
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 1000, 230, 52, 12, 10, 40


def bar_chart(counts: Counter[str], what: str, css: str) -> str:
    """An SVG bar chart of documents per day (keys: ISO dates); days without documents are gaps."""
    first, last = date.fromisoformat(min(counts)), date.fromisoformat(max(counts))
    unit = next((u for u in _UNITS if _span(first, last, u) <= _MAX_BARS), "year")
    per: Counter[date] = Counter()
    for day, n in counts.items():
        per[_start(date.fromisoformat(day), unit)] += n
    buckets = [_start(first, unit)]
    while buckets[-1] < _start(last, unit):
        buckets.append(_next(buckets[-1], unit))
    step = _nice_step(max(per.values()))
    top = step * math.ceil(max(per.values()) / step)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    base = _TOP + plot_h
    width = min(plot_w / len(buckets), 48.0)
    x0 = _LEFT + (plot_w - width * len(buckets)) / 2
    gap = 1.0 if width >= 4 else 0.0
    label = f"Documents per {unit} by {what} date, {_fmt(buckets[0], unit)} to {_fmt(buckets[-1], unit)}"
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    for tick in range(0, top + 1, step):
        y = base - plot_h * tick / top
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:,}</text>'
        )
    for i, bucket in enumerate(buckets):
        n = per.get(bucket, 0)
        if n:
            h = plot_h * n / top
            parts.append(
                f'<rect class="bar {css}" x="{x0 + i * width:.2f}" y="{base - h:.2f}" width="{max(width - gap, 0.5):.2f}" '
                f'height="{h:.2f}" data-date="{bucket.isoformat()}" data-count="{n}">'
                f"<title>{_fmt(bucket, unit)}: {n:,} document(s)</title></rect>"
            )
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{base}" y2="{base}"/>')
    ticks = min(len(buckets), 8)
    for k in range(ticks):
        i = round(k * (len(buckets) - 1) / (ticks - 1)) if ticks > 1 else 0
        x = x0 + (i + 0.5) * width
        # A label at either end of the axis is kept inside the picture.
        anchor = "end" if x > _W - _RIGHT - 36 else "start" if x < _LEFT else "middle"
        parts.append(
            f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}"/>'
            f'<text x="{x:.1f}" y="{base + 18}" text-anchor="{anchor}">{_fmt(buckets[i], unit)}</text>'
        )
    # Too many days for a bar each: the caption says what a bar is; the table under the charts has every day.
    caption = f"documents per {unit}"
    if unit != "day":
        caption += f" ({_span(first, last, 'day'):,} days: the table below has each day)"
    parts.append(f'<text x="{_LEFT}" y="{_H - 4}">{escape(caption)}</text></svg>')
    return "".join(parts)


def _span(first: date, last: date, unit: str) -> int:
    """How many bars of this unit from first to last."""
    if unit == "day":
        return (last - first).days + 1
    if unit == "week":
        return (_start(last, "week") - _start(first, "week")).days // 7 + 1
    if unit == "month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return last.year - first.year + 1


def _start(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    return day


def _next(day: date, unit: str) -> date:
    if unit in ("day", "week"):
        return day + timedelta(days=1 if unit == "day" else 7)
    if unit == "month":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return date(day.year + 1, 1, 1)


def _fmt(day: date, unit: str) -> str:
    return {"month": f"{day:%Y-%m}", "year": f"{day:%Y}"}.get(unit, day.isoformat())


def _nice_step(peak: int) -> int:
    """A round gridline step giving four or five lines up to the peak."""
    raw = max(peak / 4, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    return int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))
