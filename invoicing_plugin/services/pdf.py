"""HTML -> PDF with WeasyPrint: the PDF of a document is its print page, on paper.

The web layer renders the document's own template (``invoicing/documents/invoice.html``
or ``credit_note.html``, the print view's) and hands the HTML here, so the print view
and the PDF are one layout and can never disagree. The page size and margins are the
print stylesheet's ``@page`` rule (``static/invoicing/document.css``); WeasyPrint lays
the page out for the ``print`` media type, which hides the toolbar.

Rendering never reaches the network: :func:`static_files_only` serves the plugin's own
static files (the stylesheet) from disk and refuses every other URL -- another host,
``file:`` paths, ``data:`` URLs, a path outside the static folder. A refused resource
is left out of the PDF (WeasyPrint logs a warning) and rendering goes on.

WeasyPrint needs Pango (Debian: ``libpango-1.0-0``, ``libpangoft2-1.0-0``) and a font
(``fonts-dejavu-core`` covers Latin, Greek, Cyrillic, Hebrew and Arabic); fontconfig
picks a fallback font per character, Pango shapes right-to-left and joined scripts.
:func:`render_pdf` raises :class:`PdfUnavailable` when those are missing.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

__all__ = ["PdfUnavailable", "facturx_pdf", "static_files_only", "render_pdf"]


class PdfUnavailable(RuntimeError):
    """WeasyPrint or the system libraries it needs (Pango) are not installed."""


def _fetcher_base():
    try:
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as error:  # OSError: Pango's shared libraries are missing
        raise PdfUnavailable(f"PDF rendering needs WeasyPrint and Pango: {error}") from error
    return URLFetcher


def static_files_only(base_url: str, static_url_path: str, static_folder: str | Path):
    """A WeasyPrint URL fetcher that answers only URLs under the static folder's URL.

    ``base_url``: the document's URL (``http://host/prefix/invoices/1/print``) -- resources
    are resolved against it; ``static_url_path``: the static folder's URL, as ``url_for``
    gives it (``/prefix/static``, or absolute), resolved against ``base_url``;
    ``static_folder``: where those files are on disk. Anything else -- another scheme or
    host, another path, a file that is not there or lies outside the folder -- raises
    :class:`ValueError`, which WeasyPrint reports and skips."""
    base = _fetcher_base()
    origin = urlsplit(urljoin(base_url, static_url_path.rstrip("/") + "/"))
    prefix = origin.path
    root = Path(static_folder).resolve()

    class _StaticFilesOnly(base):
        def fetch(self, url, headers=None):
            from weasyprint.urls import URLFetcherResponse

            parts = urlsplit(url)
            if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc) or not parts.path.startswith(prefix):
                raise ValueError(f"not fetched while rendering a PDF (only the plugin's static files): {url}")
            path = (root / unquote(parts.path[len(prefix):])).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                raise ValueError(f"not one of the plugin's static files: {url}")
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": kind})

    return _StaticFilesOnly(fail_on_errors=False)


def render_pdf(html: str, *, base_url: str, static_url_path: str, static_folder: str | Path,
               title: str | None = None, pdf_variant: str | None = None) -> bytes:
    """The PDF (A4, per the stylesheet's ``@page``) of ``html``, a document's print page.

    ``base_url`` / ``static_url_path`` / ``static_folder``: see :func:`static_files_only`.
    ``pdf_variant``: WeasyPrint's variant, ``"pdf/a-3b"`` for the base of a Factur-X PDF
    (fonts embedded, sRGB output intent); ``None``: a plain PDF.
    Raises :class:`PdfUnavailable` when WeasyPrint or Pango is missing."""
    fetcher = static_files_only(base_url, static_url_path, static_folder)
    from weasyprint import HTML

    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher, media_type="print").render()
    if title:
        document.metadata.title = title
    document.metadata.generator = "invoicing_plugin"
    return document.write_pdf(pdf_variant=pdf_variant) if pdf_variant else document.write_pdf()


FACTURX_LEVEL = "en16931"
"""The Factur-X / ZUGFeRD profile of the embedded XML: EN 16931 ("Comfort")."""


def facturx_pdf(pdf: bytes, cii_xml: bytes) -> bytes:
    """``pdf`` (rendered with ``pdf_variant="pdf/a-3b"``) with ``cii_xml`` embedded as the
    Factur-X invoice (``factur-x.xml``, profile :data:`FACTURX_LEVEL`): the PDF/A-3 hybrid
    that people read and machines book. The ``factur-x`` library writes the attachment and
    the XMP metadata and checks the XML against the official Factur-X XSD first; an
    invalid XML raises (a bug in the mapping, never a silent non-conforming PDF)."""
    from facturx import generate_from_binary

    return generate_from_binary(pdf, cii_xml, flavor="factur-x", level=FACTURX_LEVEL, check_xsd=True)
