"""Any bytes in, a Document or a NoDocument out: extraction fed mutated and truncated pages."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.extract.document import NoDocument, extract_document
from crawler.extract.rules import ExtractionRules
from crawler.store.textstore import Document
from tests.conftest import SITE_ROOT

PAGES = sorted(SITE_ROOT.rglob("*.html")) + sorted((Path(__file__).parent / "pages").rglob("*.html"))
SEEDS = [p.read_bytes() for p in PAGES]
RULES = ExtractionRules(
    boilerplate=("حجم الخط",),
    body_selector="div.entry-content",
    drop_selectors=(".share-links",),
    date_selector="time",
    article_pattern=r"/\d{4}/",
)
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@st.composite
def mutated_pages(draw: st.DrawFn) -> bytes:
    page = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(page)))
        kind = draw(st.sampled_from(["truncate", "insert", "delete", "nest", "control"]))
        if kind == "truncate":
            page = page[:at]
        elif kind == "insert":
            page = page[:at] + draw(st.binary(max_size=64)) + page[at:]
        elif kind == "delete":
            page = page[:at] + page[at + draw(st.integers(0, 2000)) :]
        elif kind == "nest":
            page = page[:at] + b"<div><p><span>" * draw(st.integers(1, 300)) + page[at:]
        else:
            page = page[:at] + bytes([draw(st.integers(0, 31))]) * 3 + page[at:]
    return page


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    page=mutated_pages(),
    content_type=st.sampled_from(["text/html; charset=utf-8", "text/html", "text/html; charset=windows-1256", ""]),
    with_rules=st.booleans(),
)
def test_extraction_never_raises_and_documents_are_well_formed(page: bytes, content_type: str, with_rules: bool) -> None:
    result = extract_document("http://127.0.0.1/wp/2022/01/01/x/", content_type, page, RULES if with_rules else ExtractionRules())
    assert isinstance(result, (Document, NoDocument))
    if isinstance(result, NoDocument):
        assert result.reason != "error", result.detail
        return
    assert result.text.endswith("\n") and not result.text.endswith("\n\n") and result.text.strip()
    assert unicodedata.is_normalized("NFC", result.text)
    assert not _XML_UNSAFE.search(result.text)


def test_a_control_character_in_the_text_is_dropped_not_fatal() -> None:
    paragraph = "وقالت الوزارة إن عدد الطلاب بلغ ألفي طالب\x0b في العام الدراسي الجديد، وفق بيان رسمي صدر اليوم."
    page = f"<html lang='ar'><body><article><h1>عنوان</h1><p>{paragraph}</p></article></body></html>".encode()
    doc = extract_document("http://127.0.0.1/a/", "text/html; charset=utf-8", page)
    assert isinstance(doc, Document)
    assert doc.text == paragraph.replace("\x0b", "") + "\n"


def test_an_unexpected_failure_is_a_no_document_with_the_reason(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import crawler.extract.document

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(crawler.extract.document.trafilatura, "bare_extraction", broken)
    page = b"<html><body><article><h1>x</h1><p>" + "نص طويل بما يكفي ليكون مقالاً. ".encode() * 20 + b"</p></article></body></html>"
    result = extract_document("http://127.0.0.1/a/", "text/html; charset=utf-8", page)
    assert isinstance(result, NoDocument) and result.reason == "error"
    assert "RuntimeError: parser exploded" in result.detail
