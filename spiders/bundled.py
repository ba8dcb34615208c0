"""One shortcut spider per bundled site file: `scrapy crawl syria_tv` = `scrapy crawl news -a site=syria_tv`."""

from __future__ import annotations

from crawler.sites import bundled_site_names
from spiders.news import NewsSpider


def _shortcut(site_name: str) -> type[NewsSpider]:
    # __module__ must name this module: Scrapy's spider loader only lists
    # classes defined in the modules it walks.
    attrs = {"name": site_name, "site_ref": site_name, "__module__": __name__}
    return type(f"{site_name.title().replace('_', '')}Spider", (NewsSpider,), attrs)


for _name in bundled_site_names():
    globals()[f"_{_name}_spider"] = _shortcut(_name)
