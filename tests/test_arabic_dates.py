"""Visible date lines of Arabic news pages, in the forms the sites print."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from crawler.extract.arabic_dates import (
    is_relative_date_line,
    localized,
    normalize_digits,
    parse_arabic_date,
    parse_hijri_date,
    parse_relative_date,
)

CASES = {
    "numeric_with_city": ("2022.02.10 | 10:00 دمشق", "2022-02-10T10:00:00+02:00"),
    "levantine_weekday": ("الخميس 10 شباط 2022", "2022-02-10"),
    "levantine_indic_digits": ("٣ كانون الثاني ٢٠٢٢", "2022-01-03"),
    "levantine_two_words_hamza": ("الأربعاء، 9 آذار 2022 - 08:15 م", "2022-03-09T20:15:00"),
    "levantine_october": ("9 تشرين الأول 2021", "2021-10-09"),
    "egyptian_indic_am": ("الاثنين ٢٤ يناير ٢٠٢٢ - 10:30 ص", "2022-01-24T10:30:00"),
    "egyptian_comma": ("24 يناير، 2022", "2022-01-24"),
    "egyptian_in_sentence": ("نشر في 24 يناير 2022", "2022-01-24"),
    "egyptian_may_not_maghreb": ("24 مايو 2022", "2022-05-24"),
    "maghreb_may": ("24 ماي 2022", "2022-05-24"),
    "double_name": ("5 فبراير (شباط) 2022", "2022-02-05"),
    "persian_digits": ("۱۰ شباط ۲۰۲۲", "2022-02-10"),
    "day_first_numeric": ("10/02/2022", "2022-02-10"),
    "iso_numeric": ("2022-02-10", "2022-02-10"),
    "gmt_offset": ("9 تشرين الأول 2021 GMT+3 10:00", "2021-10-09T10:00:00+03:00"),
    "istanbul": ("10 شباط 2022 - 13:45 إسطنبول", "2022-02-10T13:45:00+03:00"),
    "noon_pm": ("1 يناير 2022 12:05 م", "2022-01-01T12:05:00"),
}
NONE_CASES = {
    "relative": "منذ 3 ساعات",
    "year_alone": "2022",
    "no_day": "شباط 2022",
    "impossible": "31 شباط 2022",
    "plain_text": "أكد التحالف الدولي التزامه",
}


@pytest.mark.parametrize("text, expected", CASES.values(), ids=list(CASES))
def test_date_forms(text: str, expected: str) -> None:
    assert parse_arabic_date(text) == expected


@pytest.mark.parametrize("text", NONE_CASES.values(), ids=list(NONE_CASES))
def test_no_full_date_gives_none(text: str) -> None:
    assert parse_arabic_date(text) is None


def test_normalize_digits() -> None:
    assert normalize_digits("٢٠٢٢/۰۲") == "2022/02"


HIJRI_CASES = {
    "indic_with_h": ("١٤ رجب ١٤٤٣ هـ", ("2022-02-15", "١٤ رجب ١٤٤٣ هـ")),
    "beside_gregorian": ("الثلاثاء 15 فبراير 2022 - 14 رجب 1443 هـ - دمشق", ("2022-02-15", "14 رجب 1443 هـ")),
    "two_word_month_hamza": ("٣٠ جمادى الأولى ١٤٤٣ هـ", ("2022-01-03", "٣٠ جمادى الأولى ١٤٤٣ هـ")),
    "dhu_al_hijja_no_h": ("3 ذو الحجة 1444", ("2023-06-21", "3 ذو الحجة 1444")),
    "h_without_tatweel": ("1 رمضان 1445ه", ("2024-03-11", "1 رمضان 1445ه")),
}


@pytest.mark.parametrize("text, expected", HIJRI_CASES.values(), ids=list(HIJRI_CASES))
def test_hijri_dates_are_converted_and_kept_as_written(text: str, expected: tuple[str, str]) -> None:
    assert parse_hijri_date(text) == expected


@pytest.mark.parametrize("text", ["31 رجب 1443", "14 رجب 2022", "رجب 1443", "صفر الخير"])
def test_no_hijri_date_gives_none(text: str) -> None:
    # Rajab has 29 or 30 days; 2022 is no Hijri year; a month alone is no date.
    assert parse_hijri_date(text) is None


def test_a_page_dated_in_hijri_only_gets_its_gregorian_date_and_keeps_the_hijri_one() -> None:
    from crawler.extract.document import extract_document

    para = "قالت مصادر محلية إن الأهالي في المدينة ينتظرون منذ أسابيع عودة الخدمات الأساسية إلى أحيائهم. " * 4
    page = (
        '<html lang="ar"><head><meta charset="utf-8"><title>خبر</title></head><body><article><h1>عنوان الخبر المنشور</h1>'
        f'<div class="post-date">الثلاثاء ١٤ رجب ١٤٤٣ هـ</div><p>{para}</p><p>{para}</p></article></body></html>'
    )
    doc = extract_document("http://example.org/news/1", "text/html; charset=utf-8", page.encode())
    assert (doc.published, doc.published_hijri) == ("2022-02-15", "١٤ رجب ١٤٤٣ هـ")


FETCHED = datetime(2026, 12, 8, 2, 12, 25, tzinfo=UTC)
RELATIVE_CASES = {
    "hours_indic": ("منذ ٣ ساعات", "2026-12-08T02:12:00+03:00"),
    "one_minute": ("منذ دقيقة", "2026-12-08T05:11:00+03:00"),
    "dual_hours": ("قبل ساعتين", "2026-12-08T03:12:00+03:00"),
    "labelled_minutes": ("نشر منذ 5 دقائق", "2026-12-08T05:07:00+03:00"),
    "singular_after_ten": ("منذ 12 ساعة", "2026-12-07T17:12:00+03:00"),
    "dual_days": ("قبل يومين", "2026-12-06"),
    "update_weeks": ("آخر تحديث: قبل أسبوعين", "2026-11-24"),
    "yesterday": ("أمس", "2026-12-07"),
}


@pytest.mark.parametrize("line,expected", RELATIVE_CASES.values(), ids=RELATIVE_CASES.keys())
def test_relative_date_lines_are_read_against_the_fetch_time_in_the_site_zone(line: str, expected: str) -> None:
    assert parse_relative_date(line, FETCHED, ZoneInfo("Asia/Damascus")) == expected


def test_a_relative_time_inside_a_sentence_is_no_date_line() -> None:
    sentence = "قال الوزير قبل يومين إن اللجنة ستعقد اجتماعها في الأسبوع المقبل لبحث الملف"
    assert parse_relative_date(sentence, FETCHED, UTC) is None
    assert not is_relative_date_line(sentence) and is_relative_date_line("منذ ٣ ساعات")


def test_a_local_time_takes_the_offset_its_zone_had_that_day() -> None:
    beirut = ZoneInfo("Asia/Beirut")  # summer time
    assert localized("2022-07-01T10:00:00", beirut) == "2022-07-01T10:00:00+03:00"
    assert localized("2022-01-15T10:00:00", beirut) == "2022-01-15T10:00:00+02:00"
    assert localized("2022-01-15T10:00:00+01:00", beirut) == "2022-01-15T10:00:00+01:00"
    assert localized("2022-01-15", beirut) == "2022-01-15"
    assert localized("2022-01-15T10:00:00", None) == "2022-01-15T10:00:00"


def test_a_utc_time_takes_the_offset_of_the_local_time_the_page_gives_beside_it() -> None:
    from crawler.extract.document import extract_document

    body = "".join(f"<p>{'وقالت مصادر محلية إن الأهالي ينتظرون عودة الخدمات الأساسية إلى أحيائهم.'} {n}</p>" for n in range(8))

    def published(head: str) -> str | None:
        page = f"<html lang='ar'><head><title>خبر</title>{head}</head><body><article><h1>عنوان الخبر هنا</h1>{body}</article></body></html>"
        return extract_document("https://e.test/news/1", "text/html; charset=utf-8", page.encode()).published

    utc = '<meta property="article:published_time" content="2023-12-24T01:06:51+00:00">'
    # The same moment shown as the site's local time: its day, the 23rd, is the article's.
    assert published(utc + '<meta name="published_at" content="2023-12-23 17:06:51">') == "2023-12-23T17:06:51-08:00"
    assert published(utc) == "2023-12-24T01:06:51+00:00"
    # Another moment (a modified time) says nothing of the offset.
    assert published(utc + '<meta name="modified_at" content="2023-12-23 17:07:30">') == "2023-12-24T01:06:51+00:00"
