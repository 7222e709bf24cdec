"""The staff forms' lines (issue 15): add and remove lines without JavaScript.

Serves the invoice form and the template form alike: each has ``lines`` (a FieldList of
:class:`~.forms.LineForm`), ``amount``, ``description`` and ``currency``; the invoice form
also has ``discount`` (a document discount without VAT), which the totals take off.

A draft is either an amount (one line without VAT, as before) or lines. "Add line" and
"Remove" are submit buttons (``add_line``, ``remove_line=<index>``) and "Update totals"
(``recalculate``): each posts the whole form back and re-renders it with the change --
nothing is saved, and the CSRF token travels with it -- so the form works with
JavaScript off. The totals (net, VAT, total) are computed by the same service that saves
the draft (:func:`~invoicing_plugin.services.lines.price_lines`) and shown under the lines.
The first "Add line" turns a typed amount into the first line (and adds an empty one under
it); lines left blank are dropped when the form is saved (:func:`drop_blank_lines`).

Each line's tax-rate menu offers the workspace's default (the empty choice), "No VAT"
(:data:`~invoicing_plugin.services.lines.NO_VAT`, sent to the service as ``tax_rate``
"none": not subject to VAT even when there is a default rate) and the workspace's rates.

Net or gross (issue 15, finding F1): the invoice form has ``prices_basis`` ("net" or
"gross"), shown with the lines. A new draft starts with the workspace's setting; an
existing draft's edit page starts with the basis the draft was saved with
(``Invoice.prices_include_tax``), so switching the workspace's setting never changes a
draft. Choosing the other basis on the form re-reads the typed prices on that basis
(the totals show it before anything is saved); prices are not converted.

Messages about the lines as a whole (the service's ``lines`` key: too many lines, a total
Stripe cannot charge, ...) and about a line the form does not show are put in
``form.line_errors`` and shown above the lines' table; "Add line" at :data:`MAX_LINES`
says so there too. The form keeps up to ``MAX_LINES + 1`` posted lines, so too many lines
reach the service and are refused with its message rather than cut to the first 100.
"""

from __future__ import annotations

import re

from flask import request
from wtforms.validators import Optional

from ..domain.money import Money, format_decimal_amount
from ..services import lines as line_service
from ..services import tax_rates as tax_service
from ..domain.errors import DomainError
from ..services.common import configured_currencies, unit_of_work
from ..services.documents import plain_decimal
from .forms import apply_errors as apply_field_errors
from .forms import choices

__all__ = ["BASES", "apply_errors", "basis_of", "fill", "fill_from_invoice", "handle_buttons", "prepare", "preview",
           "set_basis", "typed"]

_TEXT_FIELDS = ("description", "quantity", "unit", "unit_price", "discount", "tax_rate")


def _rate_choices(workspace_id: str) -> list:
    rates = tax_service.list_tax_rates(workspace_id, include_archived=False)
    default = next((rate for rate in rates if rate.is_default), None)
    first = f"Default ({default.name})" if default else "No VAT / type a percent"
    return choices([("", first), (line_service.NO_VAT, "No VAT (not subject to VAT)")]
                   + [(str(rate.id), f"{rate.name} ({tax_service.rate_text(rate.rate)} %)") for rate in rates])


BASES = {"net": False, "gross": True}


def basis_of(form) -> bool | None:
    """The form's ``prices_basis`` as ``prices_include_tax`` (``None``: the form has none,
    or an unknown value was posted -- the service then decides, see ``DraftInput``)."""
    field = getattr(form, "prices_basis", None)
    return BASES.get(field.data) if field is not None else None


def set_basis(form, gross: bool) -> None:
    if getattr(form, "prices_basis", None) is not None:
        form.prices_basis.data = "gross" if gross else "net"


def prepare(form, workspace_id: str) -> None:
    """Set each line's tax-rate choices; with lines, the amount is not asked for."""
    if not isinstance(getattr(form, "line_errors", None), list):
        form.line_errors = []
    options = _rate_choices(workspace_id)
    default = tax_service.default_tax_rate(workspace_id)
    form.default_rate_name = default.name if default is not None else None  # the amount's hint (F11)
    for entry in form.lines:
        entry.form.tax_rate_id.choices = options
    if form.lines.entries and form.amount.validators:
        form.amount.validators = [Optional()]


def typed(form) -> list[dict] | None:
    """The lines as typed, for ``DraftInput.lines`` (``None``: no lines, the amount counts)."""
    if not form.lines.entries:
        return None
    out = []
    for entry in form.lines:
        line = {name: entry.form[name].data or "" for name in _TEXT_FIELDS}
        rate_id = entry.form.tax_rate_id.data or ""
        if rate_id == line_service.NO_VAT:
            if not line["tax_rate"]:  # a typed percent as well is refused by the service, as for a rate
                line["tax_rate"] = line_service.NO_VAT
            else:
                line["tax_rate_id"] = rate_id
        elif rate_id:
            line["tax_rate_id"] = rate_id
        out.append(line)
    return out


def handle_buttons(form, workspace_id: str) -> bool:
    """Apply "Add line" / "Remove" / "Update totals"; ``True`` when one was pressed (then the
    form is re-rendered, not saved)."""
    posted = request.form
    if "add_line" in posted:
        if not form.lines.entries and (form.amount.data or "").strip():
            amount = form.amount.data.strip()
            if re.fullmatch(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?", amount):
                amount = amount.replace(",", "")  # the amount's commas are thousands separators (documented)
            form.lines.append_entry({"description": form.description.data or "", "quantity": "1",
                                     "unit_price": amount})
            form.amount.data = ""
        prepare(form, workspace_id)
        if len(form.lines.entries) < line_service.MAX_LINES:
            form.lines.append_entry({"quantity": "1"})
            prepare(form, workspace_id)
        else:
            form.line_errors.append(f"An invoice has at most {line_service.MAX_LINES} lines; "
                                    "no line was added.")
        return True
    if "remove_line" in posted:
        index = posted.get("remove_line", "")
        if index.isdigit() and int(index) < len(form.lines.entries):
            kept = [entry.form.data for i, entry in enumerate(form.lines.entries) if i != int(index)]
            while form.lines.entries:
                form.lines.pop_entry()
            for data in kept:
                form.lines.append_entry(data)
        prepare(form, workspace_id)
        return True
    if "recalculate" in posted:
        return True
    drop_blank_lines(form, workspace_id)  # saving: a blank extra line is not a line
    return False


def _blank(entry) -> bool:
    """A line left as "Add line" made it: no field typed (quantity at its prefilled 1, the
    default tax rate)."""
    data = entry.form
    return (all(not str(data[name].data or "").strip() for name in _TEXT_FIELDS if name != "quantity")
            and str(data.quantity.data or "").strip() in ("", "1") and not (data.tax_rate_id.data or ""))


def drop_blank_lines(form, workspace_id: str) -> None:
    """Before saving (newuser16 N10): leave out lines nobody typed in -- the empty one "Add
    line" adds, with the converted amount's line above it -- so saving does not fail with
    "Line 2 is empty". A form whose every line is blank keeps them: the service then says
    what is missing. The re-rendered form (after another error) shows the lines kept, so
    each error stays next to its line."""
    entries = form.lines.entries
    if not entries or all(_blank(entry) for entry in entries) or not any(_blank(entry) for entry in entries):
        return
    kept = [entry.form.data for entry in entries if not _blank(entry)]
    while form.lines.entries:
        form.lines.pop_entry()
    for data in kept:
        form.lines.append_entry(data)
    prepare(form, workspace_id)


def fill(form, lines: list[dict] | None, workspace_id: str) -> None:
    """Put typed ``lines`` (a template's) into an unsubmitted form, replacing any entries
    (``Form(obj=template)`` may have made empty ones from the stored dicts). A line typed
    with ``tax_rate`` "none" shows as the "No VAT" choice."""
    while form.lines.entries:
        form.lines.pop_entry()
    for line in lines or ():
        data = {"quantity": "1", **{k: v for k, v in line.items() if k in (*_TEXT_FIELDS, "tax_rate_id")}}
        if str(data.get("tax_rate", "")).strip().lower() == line_service.NO_VAT:
            data["tax_rate"], data["tax_rate_id"] = "", line_service.NO_VAT
        form.lines.append_entry(data)
    if lines:
        form.amount.data = ""
    prepare(form, workspace_id)


def fill_from_invoice(form, invoice, workspace_id: str) -> None:
    """A draft's stored lines as typed text, unless it is one line without VAT (then the form
    shows its amount, as before lines existed)."""
    while form.lines.entries:  # InvoiceForm(obj=invoice) read the ORM rows; the typed text replaces them
        form.lines.pop_entry()
    rows = list(invoice.lines)
    simple = len(rows) <= 1 and all(row.vat_category == "O" and not row.discount_minor and not row.unit
                                    and row.quantity == 1 for row in rows)
    if simple:  # an amount: lines added now are typed on the workspace's basis
        set_basis(form, tax_service.prices_include_tax(workspace_id))
        prepare(form, workspace_id)
        return
    set_basis(form, bool(invoice.prices_include_tax))  # the draft's own basis, whatever the workspace's is now
    # A rate edited since the line was priced no longer says what the line has (F9): then the
    # line's own percent is shown typed, so the edit page and a save keep what the draft has.
    active = {str(rate.id): rate for rate in tax_service.list_tax_rates(workspace_id, include_archived=False)}
    lines = []
    for row in rows:
        rate_id = str(row.tax_rate_id) if row.tax_rate_id is not None else ""
        line = {
            "description": row.description, "quantity": plain_decimal(row.quantity), "unit": row.unit,
            "unit_price": format_decimal_amount(Money(row.unit_price_minor, invoice.currency)),
            "discount": format_decimal_amount(Money(row.discount_minor, invoice.currency)) if row.discount_minor else "",
        }
        current = active.get(rate_id)
        if current is not None and (current.category, current.rate) == (row.vat_category, row.vat_rate):
            line["tax_rate_id"] = rate_id
        elif row.vat_category in ("S", "Z"):
            line["tax_rate"] = plain_decimal(row.vat_rate)
        elif row.vat_category == "O":  # not the workspace's default: "No VAT"
            line["tax_rate_id"] = line_service.NO_VAT
        lines.append(line)
    fill(form, lines, workspace_id)


def preview(form, workspace_id: str, *, show_errors: bool = False):
    """The totals of the typed lines (a :class:`~.lines.Priced`), or ``None`` while they
    are incomplete or invalid. ``show_errors`` ("Update totals" was pressed): the
    problems are put next to their fields (as "Save" would) and ``form.line_errors``
    says why no totals are shown; otherwise they show when the form is saved."""
    lines = typed(form)
    currency = form.currency.data
    if not lines or not currency:
        return None
    if currency not in configured_currencies():
        return None
    uow = unit_of_work()
    errors: dict[str, str] = {}
    basis = basis_of(form)
    if basis is None:
        basis = tax_service.prices_include_tax(workspace_id, uow=uow)
    result = None
    try:
        priced = line_service.price_lines(uow, workspace_id, currency, lines, errors=errors, prices_include_tax=basis)
        discount = getattr(form, "discount", None)
        if priced is not None and discount is not None and (discount.data or "").strip():
            result = line_service.with_discount(priced, discount.data, errors)  # None for a bad discount
        else:
            result = priced
    except DomainError as exc:
        errors.setdefault("lines", exc.message)
    if result is None and show_errors and errors:
        if not isinstance(getattr(form, "line_errors", None), list):
            form.line_errors = []
        rest = apply_errors(form, errors)
        form.line_errors.extend(rest)
        form.line_errors.append("The totals show once every line above reads correctly.")
    return result


def apply_errors(form, errors: dict[str, str], *, hidden: tuple[str, ...] = ()) -> list[str]:
    """Service errors next to their fields, lines included (``lines-1-quantity``); an error
    about the lines as a whole (``lines``) or about a line or field the form does not
    show goes to ``form.line_errors`` (shown above the lines), never onto the field list,
    which has no place to show it. ``hidden``: prefixes of fields the page does not show
    (the new invoice form's ``buyer_``): their errors are returned, to be shown at the top.
    Returns the errors with no field on the form."""
    if not isinstance(getattr(form, "line_errors", None), list):
        form.line_errors = []
    rest = {}
    unshown = []
    for key, message in errors.items():
        parts = key.split("-")
        if hidden and key.startswith(hidden):
            unshown.append(message)
            continue
        if parts[0] != "lines":
            rest[key] = message
            continue
        if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(form.lines.entries):
            field = form.lines.entries[int(parts[1])].form._fields.get(parts[2])
            if field is not None:
                field.errors = list(field.errors or []) + [message]
                continue
        form.line_errors.append(message)
    return unshown + apply_field_errors(form, rest)
