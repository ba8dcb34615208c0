"""Walls: a 200 whose page is a cookie-consent, login or paywall prompt, or a bot check, instead of the article.

Sites answer an article URL with a wall when they want consent, a login or a
subscription first. Storing the prompt as the article's text would put the
same few lines under every URL of the site; the page gives no document
(reason ``wall``; ``blocked`` for a bot check or an access-denied page, which
the site's health counts: crawler.health), and its capture keeps what the
site answered.

Conservative on purpose, so that no real article is lost: a page is a wall
only when the whole page is short (a cookie banner next to a full article
is not a wall) and either it holds a password field or its text speaks of
cookies, consent, subscribing or logging in; and then only when what
extraction kept, once the prompt's own lines are set aside, is shorter still.
"""

from __future__ import annotations

import re

from lxml import html

# Visible text of the whole page above which it is an article with a banner, not a wall.
_WALL_PAGE_MAX = 1500
# Text kept by extraction, prompt lines set aside, above which there is an article to keep.
_ARTICLE_MIN = 200
# In the order a page is named by: a bot check comes first (its pages may speak of cookies and
# logins too), a paywall page offers a login too, a consent page a privacy link.
_WALL_WORDS = {
    # A site (or its CDN) refusing the crawler with a 200: a captcha, "just a moment", Akamai's access
    # denied. Not "الوصول مرفوض" alone: news reports access refused at a border crossing.
    "bot_check": re.compile(
        r"captcha|attention required|just a moment\.\.\.|checking your browser|verify you are human"
        r"|are you a robot|request unsuccessful|you don't have permission to access|تحقق من أنك لست روبوت|لست روبوتاً?",
        re.IGNORECASE,
    ),
    "consent": re.compile(
        r"cookie|consent|ملفات تعريف الارتباط|ملفات الارتباط|الكوكيز|كوكيز|سياسة الخصوصية|قبول الكل|موافق على",
        re.IGNORECASE,
    ),
    # Not "اشترك" or "الاشتراك" alone: they also mean "took part", common in news.
    "paywall": re.compile(
        r"subscribe now|subscribers only|for subscribers|للمشتركين|اشترك الآن|اشترك للمتابعة|اشترك لمتابعة"
        r"|الاشتراك الشهري|الاشتراك السنوي|باقات الاشتراك",
        re.IGNORECASE,
    ),
    "login": re.compile(r"\blog ?in\b|\bsign ?in\b|\bpassword\b|تسجيل الدخول|سجل الدخول|كلمة المرور|كلمة السر", re.IGNORECASE),
}
_SPACE_RE = re.compile(r"\s+")


def wall_kind(tree: html.HtmlElement) -> str | None:
    """What the page is a wall for ("bot_check", "consent", "login", "paywall"), if it may be one; read before pruning."""
    body = tree.find("body")
    if body is None:
        return None
    text = _visible_text(body, _WALL_PAGE_MAX)
    if text is None or len(text) > _WALL_PAGE_MAX:
        return None
    if body.xpath(".//input[translate(@type, 'PASSWORD', 'password') = 'password']"):
        return "login"
    found = [kind for kind, pattern in _WALL_WORDS.items() if pattern.search(text)]
    return found[0] if found else None


def is_wall(kind: str | None, kept: list[str]) -> bool:
    """True when the page may be a wall and what extraction kept is the prompt, not an article.

    The prompt must be in the main text: a short blog post with a cookie
    banner beside it keeps its post, whose lines do not speak of cookies.
    """
    if kind is None:
        return False
    # Lines that speak the wall's language are the prompt; what is left would be the article.
    prompt = [p for p in kept if any(pattern.search(p) for pattern in _WALL_WORDS.values())]
    if kept and not prompt:
        return False
    rest = sum(len(p) for p in kept) - sum(len(p) for p in prompt)
    return rest < _ARTICLE_MIN


def _visible_text(element: html.HtmlElement, limit: int) -> str | None:
    """The element's visible text, spaces collapsed; None as soon as it is surely longer than ``limit``.

    Most pages are articles far longer than a wall: counting stops early on them.
    """
    parts: list[str] = []
    letters = 0  # characters other than white space so far: the text is at least this long
    for node in element.iter():
        if node.tag in ("script", "style", "noscript", "template") or not isinstance(node.tag, str):
            continue
        if node.text:
            parts.append(node.text)
            letters += sum(map(len, node.text.split()))
        for child in node:
            if child.tail:
                parts.append(child.tail)
                letters += sum(map(len, child.tail.split()))
        if letters > limit:
            return None
    return _SPACE_RE.sub(" ", " ".join(parts)).strip()
