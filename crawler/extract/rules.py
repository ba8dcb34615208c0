"""What a site file tells extraction, in the form the extraction workers receive it.

A site file's selectors are strings here, not compiled objects, so that the
rules pickle cheaply to the worker processes; each worker compiles a
selector once (cached) into the XPath that lxml runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from cssselect import HTMLTranslator, parse
from cssselect.parser import Class, Element
from cssselect.parser import SelectorError as _CssSyntaxError
from cssselect.xpath import ExpressionError
from lxml import etree


class SelectorError(ValueError):
    """A CSS selector that does not parse, or that lxml cannot run."""


@dataclass(frozen=True)
class ExtractionRules:
    boilerplate: tuple[str, ...] = ()
    body_selector: str | None = None
    drop_selectors: tuple[str, ...] = ()
    date_selector: str | None = None
    article_pattern: str | None = None
    # A site without an article_pattern: every page is read, and only one with article metadata
    # or a publication date is an article (an "about" or contact page is prose, not news).
    judge_articles: bool = False
    # The site file's `language`: what its pages are written in, whatever they say (a site that mislabels them).
    language: str | None = None
    # The site file's `timezone` (IANA name): the zone of local times its pages give without an offset.
    timezone: str | None = None


NO_RULES = ExtractionRules()


@lru_cache(maxsize=256)
def css_to_xpath(selector: str) -> etree.XPath:
    """The compiled XPath of a CSS selector; SelectorError when it is not CSS lxml can run."""
    if not selector.strip():
        raise SelectorError("empty selector")
    try:
        return etree.XPath(HTMLTranslator().css_to_xpath(selector))
    except (_CssSyntaxError, ExpressionError, etree.XPathSyntaxError) as e:
        raise SelectorError(str(e) or type(e).__name__) from e


# XPath's normalize-space splits on these alone: a no-break space inside a class attribute is part of a name.
_XML_SPACE_RE = re.compile("[ \t\n\r]+")
_WITH_CLASS = etree.XPath("descendant-or-self::*[@class]")


@lru_cache(maxsize=256)
def css_finder(selector: str) -> Callable[[Any], list[Any]]:
    """What finds a CSS selector's elements in a tree, in document order; SelectorError as ``css_to_xpath``.

    A list of bare class selectors (".share-links, .sharedaddy", as most
    drop_selectors are) is found in one pass over the elements that have a
    class; cssselect's XPath for it makes one pass per selector.
    """
    xpath = css_to_xpath(selector)
    names = []
    for parsed in parse(selector):
        tree = parsed.parsed_tree
        bare = isinstance(tree, Class) and isinstance(tree.selector, Element) and tree.selector.element is None
        if parsed.pseudo_element is not None or not bare or tree.selector.namespace is not None:
            return xpath
        names.append(tree.class_name)
    return partial(_with_class, frozenset(names))


def _with_class(names: frozenset[str], tree: Any) -> list[Any]:
    return [el for el in _WITH_CLASS(tree) if not names.isdisjoint(_XML_SPACE_RE.split(el.get("class")))]
