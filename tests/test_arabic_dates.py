"""Visible date lines of Arabic news pages, in the forms the sites print."""

from __future__ import annotations

import pytest

from crawler.extract.arabic_dates import normalize_digits, parse_arabic_date

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
