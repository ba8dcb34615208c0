"""What a site file tells extraction, in the form the extraction workers receive it.

A site file's selectors are strings here, not compiled objects, so that the
rules pickle cheaply to the worker processes; each worker compiles a
selector once (cached) into the XPath that lxml runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cssselect import HTMLTranslator
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
