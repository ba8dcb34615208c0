"""From an article page to clean body text and metadata.

``extract_document`` (document.py) is the one entry point; the other modules
are its steps: what a site file tells it (rules), text measures (density),
boilerplate, article or listing (pagekind), metadata and Arabic dates.
"""

from crawler.extract.document import NoDocument, extract_document

__all__ = ["NoDocument", "extract_document"]
