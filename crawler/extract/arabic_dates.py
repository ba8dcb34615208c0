"""Publication dates as Arabic news sites print them.

Levantine/Iraqi month names (كانون الثاني، شباط ...), Egyptian/Gulf ones
(يناير، فبراير ...), Maghreb ones (جانفي، فيفري ...), Arabic-Indic digits,
weekday prefixes, and numeric forms such as "2022.02.10 | 10:00 دمشق";
Hijri dates ("١٤ رجب ١٤٤٣ هـ") converted by hijridate (the Umm al-Qura
calendar), which no date library reads from Arabic text.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC as _UTC, date, datetime, timedelta, tzinfo

from hijridate import Hijri

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_HARAKAT_RE = re.compile("[\u064b-\u0652\u0670\u0640]")

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "كانون الثاني|يناير|جانفي|ينير",
        "شباط|فبراير|فيفري|فبرير",
        "اذار|مارس",
        "نيسان|ابريل|افريل|أبريل",
        "ايار|مايو|ماي",
        "حزيران|يونيو|يونيه|جوان|يونيو",
        "تموز|يوليو|يوليه|جويلية|يوليوز",
        "اب|اغسطس|اوت|غشت",
        "ايلول|سبتمبر|شتنبر",
        "تشرين الاول|اكتوبر",
        "تشرين الثاني|نوفمبر|نونبر",
        "كانون الاول|ديسمبر|دجنبر",
    ),
    start=1,
):
    for _name in _names.split("|"):
        _MONTHS[_name.translate(str.maketrans("أإآ", "ااا"))] = _number

# Longest names first, so that "كانون الثاني" wins over a shorter match and
# "ماي" never matches inside "مايو".
_MONTH_ALT = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_WEEKDAYS = "الاحد|الاثنين|الثلاثاء|الاربعاء|الخميس|الجمعة|السبت"

# Fixed offsets; summer time is not modelled.
CITY_OFFSETS = {
    "دمشق": "+02:00",
    "بيروت": "+02:00",
    "القاهرة": "+02:00",
    "عمان": "+02:00",
    "القدس": "+02:00",
    "اسطنبول": "+03:00",
    "الرياض": "+03:00",
    "بغداد": "+03:00",
    "الدوحة": "+03:00",
    "الكويت": "+03:00",
    "مكة المكرمة": "+03:00",
    "دبي": "+04:00",
    "ابوظبي": "+04:00",
    "ابو ظبي": "+04:00",
    "غرينتش": "+00:00",
    "GMT": "+00:00",
    "UTC": "+00:00",
}

_WORD_DATE_RE = re.compile(
    rf"(?<![\w])(?:(?:{_WEEKDAYS})\s*[،,]?\s*)?(?P<day>\d{{1,2}})\s*(?:من\s+)?(?P<month>{_MONTH_ALT})"
    rf"(?:\s*[/(]\s*(?:{_MONTH_ALT})\s*\)?)?\s*[،,]?\s*(?P<year>\d{{4}})(?!\d)"
)
_YMD_RE = re.compile(r"(?<!\d)(?P<year>\d{4})[./-](?P<month>\d{1,2})[./-](?P<day>\d{1,2})(?!\d)")
_DMY_RE = re.compile(r"(?<!\d)(?P<day>\d{1,2})[./-](?P<month>\d{1,2})[./-](?P<year>\d{4})(?!\d)")
_TIME_RE = re.compile(
    r"(?<![\d:])(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?(?![\d:])"
    r"(?:\s*(?P<ampm>صباحا|مساء|مساءا|ص|م)(?![\w]))?"
)
_OFFSET_RE = re.compile(r"(?:GMT|UTC|غرينتش)\s*(?P<sign>[+-])\s*(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?")


# Hijri months, as the pages write them (alef forms folded, as _fold does).
_HIJRI_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "محرم|المحرم",
        "صفر",
        "ربيع الاول|ربيع اول",
        "ربيع الثاني|ربيع الاخر|ربيع ثاني",
        "جمادى الاولى|جمادى الاول|جمادي الاولى|جمادي الاول",
        "جمادى الثانية|جمادى الاخرة|جمادى الاخر|جمادي الثانية|جمادي الاخرة",
        "رجب",
        "شعبان",
        "رمضان",
        "شوال",
        "ذو القعدة|ذي القعدة",
        "ذو الحجة|ذي الحجة",
    ),
    start=1,
):
    for _name in _names.split("|"):
        _HIJRI_MONTHS[_name] = _number
_HIJRI_ALT = "|".join(sorted(map(re.escape, _HIJRI_MONTHS), key=len, reverse=True))
# A Hijri year is 13xx or 14xx; "هـ" (or "ه") after it, when written, says the calendar outright.
_HIJRI_RE = re.compile(rf"(?<![\w])(?P<day>\d{{1,2}})\s*(?P<month>{_HIJRI_ALT})\s*[،,]?\s*(?P<year>1[34]\d\d)(?!\d)(?:\s*(?:هـ|ه)(?![\w]))?")


# Words every Hijri date holds one of, found by plain substring search: a page or line without any
# is spared the date pattern (most pages, and most lines of the rest).
_HIJRI_CUES = ("محرم", "صفر", "ربيع", "جمادى", "جمادي", "رجب", "شعبان", "رمضان", "شوال", "القعدة", "الحجة")


def may_hold_hijri(text: str) -> bool:
    """Whether a text may hold a Hijri date at all (it names a Hijri month)."""
    return any(cue in text for cue in _HIJRI_CUES)


def parse_hijri_date(text: str) -> tuple[str, str] | None:
    """The first Hijri date of a line: its Gregorian day (ISO 8601, Umm al-Qura calendar) and the date as written."""
    if not may_hold_hijri(text) or not _HIJRI_RE.search(_fold(text)):
        return None
    text = unicodedata.normalize("NFC", text)
    # Folded as _fold does, with where each kept character stood, to give the date back as written.
    kept = [i for i, c in enumerate(text) if not _HARAKAT_RE.match(c)]
    folded = "".join(text[i] for i in kept).translate(_DIGITS).translate(str.maketrans("أإآ", "ااا"))
    m = _HIJRI_RE.search(folded)
    if m is None:
        return None
    try:
        day = Hijri(int(m["year"]), _HIJRI_MONTHS[m["month"]], int(m["day"])).to_gregorian()
    except (ValueError, OverflowError):
        return None  # a day the calendar does not have, or a year outside its table
    end = kept[m.end() - 1] + 1
    while end < len(text) and _HARAKAT_RE.match(text[end]):
        end += 1  # the tatweel of "هـ", folded away, is part of the date as written
    return date(day.year, day.month, day.day).isoformat(), " ".join(text[kept[m.start()] : end].split())


# "منذ ٣ ساعات", "قبل يومين", "منذ دقيقة": a time before the fetch. Dual forms mean two; no number, one.
_RELATIVE_UNITS: dict[str, tuple[timedelta, int]] = {}
for _span, _forms in (
    (timedelta(seconds=1), ("ثانية", "ثوان", "ثواني", "ثانيه", "ثانيتين:2", "ثانيتان:2")),
    (timedelta(minutes=1), ("دقيقة", "دقائق", "دقيقه", "دقيقتين:2", "دقيقتان:2")),
    (timedelta(hours=1), ("ساعة", "ساعات", "ساعه", "ساعتين:2", "ساعتان:2")),
    (timedelta(days=1), ("يوم", "ايام", "يومين:2", "يومان:2")),
    (timedelta(weeks=1), ("اسبوع", "اسابيع", "اسبوعين:2", "اسبوعان:2")),
    (timedelta(days=30), ("شهر", "اشهر", "شهور", "شهرين:2", "شهران:2")),
):
    for _form in _forms:
        _word, _, _count = _form.partition(":")
        _RELATIVE_UNITS[_word] = (_span, int(_count or 1))
_RELATIVE_ALT = "|".join(sorted(map(re.escape, _RELATIVE_UNITS), key=len, reverse=True))
_RELATIVE_RE = re.compile(rf"(?<![\w])(?:منذ|قبل)\s+(?:حوالي\s+|نحو\s+)?(?:(?P<count>\d{{1,3}})\s*)?(?P<unit>{_RELATIVE_ALT})(?![\w])")
_YESTERDAY_RE = re.compile(r"^(?:نشر\s+)?(?:امس|البارحة)$")
# Words a relative date line may hold beside its date: "نشر منذ ٣ ساعات", "آخر تحديث: قبل يومين".
_RELATIVE_LINE_WORDS = 3
_LINE_WORD_RE = re.compile(r"[^\W\d_]+")


def parse_relative_date(text: str, fetched: datetime, zone: tzinfo) -> str | None:
    """The date of a line that is a time before the fetch ("منذ ٣ ساعات"), or None.

    Within the day: the moment, to the minute, with the zone's offset; a day or more: the day, in the zone.
    The line must be the date and little else: "قبل يومين" inside a sentence is no date line.
    """
    folded = " ".join(_fold(text).split())
    local = fetched.astimezone(zone)
    if _YESTERDAY_RE.match(folded):
        return (local - timedelta(days=1)).date().isoformat()
    m = _RELATIVE_RE.search(folded)
    if m is None or len(_LINE_WORD_RE.findall(folded[: m.start()] + " " + folded[m.end() :])) > _RELATIVE_LINE_WORDS:
        return None
    span, count = _RELATIVE_UNITS[m["unit"]]
    when = local - span * (int(m["count"]) if m["count"] else count)
    if span < timedelta(days=1):
        return when.replace(second=0, microsecond=0).isoformat()
    return when.date().isoformat()


def is_relative_date_line(text: str) -> bool:
    """A short line that is only a relative time ("منذ ٣ ساعات"): a date line, whatever the fetch time."""
    return parse_relative_date(text, datetime(2000, 1, 1, tzinfo=_UTC), _UTC) is not None


def localized(published: str | None, zone: tzinfo | None) -> str | None:
    """A date and time given without an offset, in the zone's offset at that time (summer time included)."""
    if published is None or zone is None or "T" not in published:
        return published
    moment = datetime.fromisoformat(published)
    if moment.tzinfo is not None:
        return published
    return moment.replace(tzinfo=zone).isoformat()


def normalize_digits(text: str) -> str:
    """Arabic-Indic and Persian digits to ASCII."""
    return text.translate(_DIGITS)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _HARAKAT_RE.sub("", normalize_digits(text))
    return text.translate(str.maketrans("أإآ", "ااا"))


def parse_arabic_date(text: str) -> str | None:
    """ISO 8601 of the first full date in a visible date line, or None.

    "YYYY-MM-DD" for a date alone; with a time near it,
    "YYYY-MM-DDTHH:MM:SS", plus the offset when the line names a known city
    or gives one ("GMT+3").
    """
    folded = _fold(text)
    found = _find_date(folded)
    if found is None:
        return None
    day, start, end = found
    time_match = _nearest_time(folded, start, end)
    if time_match is None:
        return day.isoformat()
    hour, minute = int(time_match["hour"]), int(time_match["minute"])
    second = int(time_match["second"] or 0)
    ampm = time_match["ampm"]
    if ampm in ("م", "مساء", "مساءا") and hour < 12:
        hour += 12
    elif ampm in ("ص", "صباحا") and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return day.isoformat()
    stamp = f"{day.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}"
    return stamp + (_offset(folded) or "")


def _find_date(text: str) -> tuple[date, int, int] | None:
    candidates = []
    for pattern, month_is_name in ((_WORD_DATE_RE, True), (_YMD_RE, False), (_DMY_RE, False)):
        for m in pattern.finditer(text):
            month = _MONTHS[m["month"]] if month_is_name else int(m["month"])
            try:
                candidates.append((m.start(), date(int(m["year"]), month, int(m["day"])), m.end()))
            except ValueError:
                continue
    if not candidates:
        return None
    start, day, end = min(candidates, key=lambda c: c[0])
    return day, start, end


def _nearest_time(text: str, start: int, end: int) -> re.Match[str] | None:
    # A time counts only close to its date: within a few words either side.
    best = None
    for m in _TIME_RE.finditer(text):
        distance = m.start() - end if m.start() >= end else start - m.end()
        if 0 <= distance <= 25 and (best is None or distance < best[0]):
            best = (distance, m)
    return best[1] if best else None


def _offset(text: str) -> str | None:
    if m := _OFFSET_RE.search(text):
        return f"{m['sign']}{int(m['hours']):02d}:{m['minutes'] or '00'}"
    for city, offset in CITY_OFFSETS.items():
        if re.search(rf"(?<![\w]){re.escape(city)}(?![\w])", text):
            return offset
    return None
