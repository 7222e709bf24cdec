"""Reading a PDF back for tests: its text, its characters' boxes, and the print page's text.

pdfminer.six gives each glyph drawn on a page with its box (``LTChar``: x0, y0, x1, y1 in
points; the box is the glyph's advance wide and its font size tall). Right-to-left text
comes out in visual order (left to right on the page), as it is drawn.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser

from pdfminer.high_level import extract_pages, extract_text
from pdfminer.layout import LTChar

__all__ = ["Glyph", "glyphs", "overlapping_characters", "pdf_text", "printed_text", "require_pdf_rendering", "squeeze"]


def require_pdf_rendering() -> None:
    """Skip (fail in CI) when WeasyPrint cannot load: Pango or its libraries are missing."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as error:
        from tests.conftest import unavailable

        unavailable(f"PDF invoices need WeasyPrint and Pango (apt-get install libpango-1.0-0 libpangoft2-1.0-0 "
                    f"fonts-dejavu-core): {error}")


def pdf_text(data: bytes) -> str:
    """All the text of the PDF ``data``, page after page, in pdfminer's reading order."""
    if not data.startswith(b"%PDF"):
        require_pdf_rendering()
    assert data.startswith(b"%PDF"), data[:200]
    return extract_text(io.BytesIO(data))


@dataclass(frozen=True)
class Glyph:
    page: int
    text: str
    x0: float
    y0: float
    x1: float
    y1: float


def glyphs(data: bytes) -> list[Glyph]:
    """Every character drawn in the PDF ``data``, with its page number and box."""
    if not data.startswith(b"%PDF"):
        require_pdf_rendering()
    found: list[Glyph] = []

    def walk(item, page: int) -> None:
        if isinstance(item, LTChar):
            found.append(Glyph(page, item.get_text(), item.x0, item.y0, item.x1, item.y1))
            return
        if hasattr(item, "__iter__"):
            for child in item:
                walk(child, page)

    for number, page in enumerate(extract_pages(io.BytesIO(data)), start=1):
        walk(page, number)
    return found


def overlapping_characters(data: bytes, *, share: float = 0.3) -> list[tuple[Glyph, Glyph]]:
    """Pairs of visible characters drawn over each other: their boxes overlap by more than
    ``share`` of the smaller one's width *and* height (kerning and joined scripts make
    neighbouring glyphs touch or overlap by a few per cent; text printed over other text
    overlaps by far more). Empty when no two characters collide."""
    drawn = sorted((g for g in glyphs(data) if g.text.strip() and g.x1 - g.x0 > 0.01), key=lambda g: (g.page, g.x0))
    pairs = []
    for index, first in enumerate(drawn):
        for second in drawn[index + 1:]:
            if second.page != first.page or second.x0 >= first.x1:
                break
            width = min(first.x1, second.x1) - max(first.x0, second.x0)
            height = min(first.y1, second.y1) - max(first.y0, second.y0)
            if (width > share * min(first.x1 - first.x0, second.x1 - second.x0)
                    and height > share * min(first.y1 - first.y0, second.y1 - second.y0)):
                pairs.append((first, second))
    return pairs


class _Visible(HTMLParser):
    """The text inside ``<article>`` (the printed document, without the screen toolbar)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "article":
            self.depth += 1
        elif self.depth and tag in ("div", "p", "tr", "td", "th", "dt", "dd", "h1", "h2", "caption", "br"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "article":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def printed_text(html: str) -> str:
    """The print page's document text (inside ``<article>``), one block per line."""
    parser = _Visible()
    parser.feed(html)
    return "".join(parser.parts)


def squeeze(text: str) -> str:
    """``text`` without any whitespace, NFC, case-folded (the stylesheet upper-cases labels)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", text)).casefold()


def character_counts(text: str) -> Counter:
    return Counter(squeeze(text))
