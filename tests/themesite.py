"""A small magazine site whose theme can change between two crawls: the same stories, other markup.

Written into a folder that the demo server serves. Each theme wraps the
body, the date line and an editor's note in classes of its own; the site
file's rules for one theme drop the note and pick the body and the date,
and on the other theme's pages they match nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

THEMES = {
    "old": {"body": "old-body", "date": "old-date", "note": "old-note"},
    "new": {"body": "story-text", "date": "pub-date", "note": "editor-box"},
}
STORIES = 6
PARAGRAPHS = (
    "أعلنت البلدية عن خطة جديدة لإصلاح شبكة المياه في الأحياء الشرقية للمدينة خلال الأشهر المقبلة.",
    "وقال مسؤول في البلدية إن الأعمال ستبدأ من الشوارع الأكثر تضرراً، على أن تنتهي قبل حلول الصيف.",
    "ويشكو السكان منذ سنوات من انقطاع المياه المتكرر وضعف الضغط في ساعات المساء.",
)
NOTE = "ملاحظة المحرر: نُشرت نسخة سابقة من هذا التقرير في العدد الورقي من المجلة."
EDIT = "وأضاف المسؤول أن كلفة المشروع ستُغطّى من موازنة العام المقبل."


def story_path(n: int) -> str:
    return f"/mag/story-{n}/"


def write_themed_site(root: Path, theme: str, edited: bool = False) -> None:
    """The listing /mag/ and STORIES stories in the theme's markup; ``edited`` adds a paragraph to each."""
    css = THEMES[theme]
    links = "".join(f'<li><a href="{story_path(n)}">تقرير رقم {n} عن شبكة المياه</a></li>' for n in range(1, STORIES + 1))
    _write(root / "mag" / "index.html", f"<ul>{links}</ul>", "المجلة")
    for n in range(1, STORIES + 1):
        paragraphs = [f"{p} ({n})" for p in PARAGRAPHS] + ([EDIT] if edited else [])
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        page = (
            f'<nav><a href="/mag/">الرئيسية</a></nav><div class="{css["body"]}"><h1>تقرير رقم {n} عن شبكة المياه</h1>'
            f'<span class="{css["date"]}">الأربعاء {n} يناير 2022</span>{body}'
            f'<p class="{css["note"]}">{NOTE}</p></div>'
        )
        _write(root / story_path(n).strip("/") / "index.html", page, f"تقرير رقم {n} عن شبكة المياه")


def theme_rules(theme: str) -> dict[str, Any]:
    """The site file's extraction rules for a theme."""
    css = THEMES[theme]
    return {"body_selector": f"div.{css['body']}", "date_selector": f".{css['date']}", "drop_selectors": [f".{css['note']}"]}


def _write(path: Path, body: str, title: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
