"""How much text, and how much of it in links, each element of a page holds.

Every pruning decision asks the same questions of an element: how much of
the page's prose it holds, and how much of its text is link text. One pass
over the tree answers them for every element, and finds the container of
the page's main text, whose ancestors are never pruned: removing one of
them would take the article with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import html

_SILENT = frozenset({"script", "style", "template", "head", "title", "meta", "link"})
# Elements whose own words are prose; their text is credited to the container.
_PARAGRAPHS = frozenset({"p", "blockquote", "pre", "li", "dd", "h2", "h3", "h4", "h5", "h6"})
# Inline elements hand their words to the element around them.
_INLINE = frozenset(
    {"span", "b", "strong", "i", "em", "font", "small", "big", "u", "sup", "sub", "label", "q", "abbr", "mark", "time"}
)


@dataclass
class Counts:
    text: int = 0  # characters of text, white space aside
    links: int = 0  # of which inside <a>
    anchors: int = 0  # <a href> elements
    site_links: int = 0  # of the link text, in links to the page's own site
    site_anchors: int = 0

    @property
    def prose(self) -> int:
        return self.text - self.links

    @property
    def link_density(self) -> float:
        return self.links / self.text if self.text else 0.0

    @property
    def site_link_density(self) -> float:
        return self.site_links / self.text if self.text else 0.0


class TextDensity:
    """Counts for every element of a tree, computed once, on first use; the tree must not change until then.

    Lazy because a page whose head dates and types it and whose body the
    site file's selector finds never needs them: one walk of the whole tree saved.
    """

    def __init__(self, root: html.HtmlElement, url: str = "") -> None:
        self.root = root
        self._url = url
        self._computed = False
        self._counts: dict[html.HtmlElement, Counts] = {}
        self._main: html.HtmlElement | None = None
        self._main_prose = 0
        self._protected: set[html.HtmlElement] = set()

    @property
    def main(self) -> html.HtmlElement | None:
        """The container of the main text: the element with the most paragraph text credited to it."""
        self._compute()
        return self._main

    @property
    def main_prose(self) -> int:
        self._compute()
        return self._main_prose

    def _compute(self) -> None:
        if self._computed:
            return
        self._computed = True
        root = self.root
        host = _bare_host(self._url)
        credit: dict[html.HtmlElement, int] = {}
        # Reverse document order visits every element after all its descendants.
        elements = [el for el in root.iter() if isinstance(el.tag, str)]
        for el in reversed(elements):
            counts = Counts()
            if el.tag not in _SILENT:
                own = _length(el.text)
                for child in el:
                    if not isinstance(child.tag, str):
                        own += _length(child.tail)
                        continue
                    c = self._counts[child]
                    counts.text += c.text
                    counts.links += c.links
                    counts.anchors += c.anchors
                    counts.site_links += c.site_links
                    counts.site_anchors += c.site_anchors
                    own += _length(child.tail)
                counts.text += own
                if el.tag == "a":
                    counts.links = counts.text
                    if href := el.get("href"):
                        counts.anchors += 1
                        if host and _same_site(host, href):
                            counts.site_links, counts.site_anchors = counts.text, counts.site_anchors + 1
                    own = 0
                parent = el.getparent()
                if el.tag in _PARAGRAPHS and parent is not None:
                    amount, target = counts.prose, parent
                elif el.tag in _INLINE and parent is not None:
                    amount, target = own, parent
                else:
                    # Text written straight into a container (<br>-separated
                    # old themes) counts for that container itself.
                    amount, target = own, el
                if amount:
                    credit[target] = credit.get(target, 0) + amount
                    # Half to the grandparent, as readability does, so that
                    # paragraphs wrapped one by one still add up in their container.
                    if el.tag in _PARAGRAPHS and (grand := target.getparent()) is not None:
                        credit[grand] = credit.get(grand, 0) + amount // 2
            self._counts[el] = counts
        self._main = max(credit, key=credit.__getitem__) if credit else None
        self._main_prose = credit.get(self._main, 0) if self._main is not None else 0
        self._protected = set(self._main.iterancestors()) | {self._main} if self._main is not None else set()

    def __getitem__(self, element: html.HtmlElement) -> Counts:
        self._compute()
        return self._counts.get(element) or Counts()

    @property
    def page_prose(self) -> int:
        return self[self.root].prose

    def holds_main_text(self, element: html.HtmlElement) -> bool:
        """True for the main text's container and its ancestors."""
        self._compute()
        return element in self._protected

    def inside_main(self, element: html.HtmlElement) -> bool:
        """True for descendants of the main text's container."""
        return self.main is not None and any(a is self.main for a in element.iterancestors())

    def share(self, element: html.HtmlElement) -> float:
        """The element's share of the page's prose."""
        total = self.page_prose
        return self[element].prose / total if total else 0.0


def _bare_host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").removeprefix("www.")
    except ValueError:  # "http://[ccpa-preferences]/": a broken link is nobody's site
        return ""


def _same_site(host: str, href: str) -> bool:
    """True for a link to a page of the same site: relative, or to the host or a subdomain of it."""
    href = href.strip()
    if href.startswith(("#", "javascript:", "mailto:", "tel:")):
        return False
    target = _bare_host(href) if "//" in href[:8] or href.startswith("//") else host
    return target == host or target.endswith("." + host) or host.endswith("." + target)


def _length(text: str | None) -> int:
    return len(text.strip()) if text else 0
