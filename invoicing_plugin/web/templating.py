"""Template helpers the plugin adds to the host's Jinja environment.

- ``invoicing_base_template``: the host's layout every staff page of the plugin extends;
- ``invoicing_client_base_template``: the layout the client-facing pages extend
  (``INVOICING_CLIENT_BASE_TEMPLATE``; never the host's staff layout);
- ``invoicing_links()``: the plugin's navigation entries the current user may see, a
  list of :class:`InvoicingLink` (``.label``, ``.url``; unpacks as ``label, url``),
  empty in internal workspaces, for users without billing rights and on client-facing
  pages; for the host's menus and its Settings → Connected apps page;
- ``invoicing_new_invoice_url(kind, id)``: "New invoice" prefilled with a subject,
  for host pages such as an engagement or a proposal; ``None`` where that page would
  refuse the user (no billing rights, internal workspace, client-facing page);
- the ``money`` filter: ``{{ invoice.amount_minor|money(invoice.currency) }}``;
- the ``invoicing_datetime`` filter: an instant with its zone, ``"2026-11-29 18:54 PST"``, in the
  current staff workspace's time zone (UTC, labelled, where there is none):
  ``{{ event.created_at|invoicing_datetime }}``, ``{{ at|invoicing_datetime(workspace, seconds=True) }}``;
- ``invoicing_status_badge(status)``: an invoice's status badge;
- ``invoicing_report_statuses``: ``(status, label, tone)`` of each stored status, for counts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from flask import Flask, current_app, g, has_request_context, request, url_for
from markupsafe import Markup

from ..actors import actor_name
from ..domain.calendar import UTC, as_zone, format_instant
from ..domain.money import Money, format_money
from ..domain.statuses import REPORT_LABELS, status_row
from ..state import get_state
from ..services.documents import plain_decimal
from .access import _STAFF_KEY, current_workspace_for_billing

#: (label, endpoint) of the plugin's main pages, in menu order.
NAV_ENTRIES: list[tuple[str, str]] = [
    ("Invoices", "invoicing.invoice_list"),
    ("Revenue", "invoicing_analytics.dashboard"),
    ("Emails", "invoicing_outbox.index"),  # the outbox: every email, its attempts and last error
    ("Connected apps", "invoicing_connect.index"),
    ("Webhooks", "invoicing_webhook_health.index"),
    ("Invoice settings", "invoicing_settings.index"),  # the seller's legal details on invoices
]


def _plain_quantity(value) -> str:
    """A Decimal quantity as a person writes it ("1.5", "3"): no exponent, no trailing zeros."""
    return plain_decimal(value)


def install_template_helpers(app: Flask) -> None:
    @app.context_processor
    def invoicing_context():
        return {
            "invoicing_base_template": get_state().host.base_template,
            "invoicing_client_base_template": current_app.config["INVOICING_CLIENT_BASE_TEMPLATE"],
            "invoicing_links": invoicing_links,
            "invoicing_new_invoice_url": invoicing_new_invoice_url,
        }

    app.add_template_filter(money_filter, "money")
    app.add_template_filter(datetime_filter, "invoicing_datetime")
    app.add_template_filter(actor_name, "actor_name")
    app.add_template_filter(_plain_quantity, "invoicing_quantity")
    app.add_template_global(status_badge, "invoicing_status_badge")
    app.add_template_global(REPORT_STATUSES, "invoicing_report_statuses")


class InvoicingLink(NamedTuple):
    """One entry of :func:`invoicing_links`: a plugin page for the host's menus.

    ``label`` is the text to show (``"Invoices"``), ``url`` the page's path under the
    plugin's prefix (``"/invoicing/invoices"``). A tuple in this order, so the
    original ``{% for label, url in invoicing_links() %}`` keeps working.
    """

    label: str
    url: str


def _billing_staff_here() -> bool:
    """Whether the current request may use the staff pages: billing staff of a workspace
    that bills clients, and not a client-facing page (which never shows staff links)."""
    if g.get("invoicing_public"):
        return False
    return current_workspace_for_billing() is not None


def invoicing_links() -> list[InvoicingLink]:
    """The plugin's pages the current user may open, as :class:`InvoicingLink` entries in menu order.

    Empty (``[]``) in internal workspaces, for users without billing rights, with no
    workspace or user, and on the plugin's client-facing pages.
    """
    if not _billing_staff_here():
        return []
    return [InvoicingLink(label, url_for(endpoint)) for label, endpoint in NAV_ENTRIES]


def invoicing_new_invoice_url(kind: str, subject_id) -> str | None:
    """The "New invoice" page prefilled with the subject ``kind:subject_id`` (a path), or ``None``.

    ``None`` wherever :func:`invoicing_links` is empty (no billing rights, internal
    workspace, no workspace or user, client-facing pages): the page would answer 403 or
    404 there. Guard the link: ``{% set url = invoicing_new_invoice_url('engagement', e.id) %}
    {% if url %}<a href="{{ url }}">New invoice</a>{% endif %}``.
    """
    if not _billing_staff_here():
        return None
    return url_for("invoicing.invoice_new", subject=f"{kind}:{subject_id}")


#: ``(status, label, tone)`` per stored status, in table order (the analytics counts).
REPORT_STATUSES: tuple[tuple[str, str, str], ...] = tuple(
    (key, label, status_row(key).tone) for key, label in REPORT_LABELS)


def status_badge(status: str) -> Markup:
    """``<span class="inv-badge inv-badge--<status> inv-badge--tone-<tone>">`` for a displayed status.

    Words and tone come from the status table (``domain/statuses.py``); the stylesheet has one
    rule per tone. An unknown status keeps its own name, capitalised, and no tone class.
    (A plain function: lists show one per row.)
    """
    row = status_row(status)
    if row is None:
        label = status.replace("_", " ").capitalize()
        return Markup('<span class="inv-badge inv-badge--{0}" data-status="{0}">{1}</span>').format(status, label)
    return Markup('<span class="inv-badge inv-badge--{0} inv-badge--tone-{1}" data-status="{0}">{2}</span>').format(
        status, row.tone, row.staff_label)


def money_filter(minor: int | None, currency: str, locale: str = "en_US") -> str:
    if minor is None:
        return "—"
    return _formatted(int(minor), currency, locale)


@lru_cache(maxsize=4096)
def _formatted(minor: int, currency: str, locale: str) -> str:
    """:func:`format_money` is pure and costs some 12 µs in Babel; lists show the
    same amounts again and again (every render of a page, round sums)."""
    return format_money(Money(minor, currency), locale)


def staff_zone():
    """The time zone of the workspace whose staff page is being rendered, else UTC.

    Read from the request's staff context (set by ``staff_required``), so it asks the host
    nothing. Pages without a workspace (host pages, the platform's own) get UTC.
    """
    context = request.environ.get(_STAFF_KEY) if has_request_context() else None
    return context.workspace.zone if context is not None else UTC


def datetime_filter(value, zone=None, seconds: bool = False) -> str:
    """``{{ moment|invoicing_datetime }}`` -> ``"2026-11-29 18:54 PST"``: the one way staff pages show an instant.

    ``zone``: a ``HostWorkspace``, an IANA name or a ``tzinfo``; by default the current staff
    workspace's (:func:`staff_zone`), UTC where there is none -- always with the zone's
    abbreviation. ``seconds=True`` adds the seconds. ``None`` gives ``"—"``.
    (:func:`invoicing_plugin.domain.calendar.format_instant`.)
    """
    return format_instant(value, as_zone(zone) if zone is not None else staff_zone(), seconds=seconds)

