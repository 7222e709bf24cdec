"""Hostile input, refused in one place before any view runs.

- Ids in URL paths use the ``invoicing_id`` converter: a whole number from 1 to
  :data:`~invoicing_plugin.persistence.repository.MAX_ID` (PostgreSQL ``integer``).
  Anything else does not match the route, so the answer is the host's ordinary 404.
- Ids in query parameters (``after``, ``before``, ``template`` ...) are read with
  :func:`id_arg`: a malformed one answers 400 naming the parameter.
- Text with a NUL character (``%00``) in the path or a query parameter of one of
  the plugin's pages answers 400 (PostgreSQL cannot store or compare NUL in text, so
  such a value would otherwise fail deep inside a query). Client-facing pages answer
  with a page in the host's layout; staff pages with the host's 400 page. Form
  fields are checked by the forms (:class:`~invoicing_plugin.web.forms.InvoicingForm`),
  next to the field, and the services check text again for API callers.
"""

from __future__ import annotations

from flask import Flask, abort, g, render_template, request
from werkzeug.routing import IntegerConverter

from ..persistence.repository import MAX_ID, as_id
from ..services.text import has_nul

#: The converter's name in the host's URL map: ``/invoices/<invoicing_id:invoice_id>``.
ID_CONVERTER = "invoicing_id"

#: Blueprints whose pages anyone with the link can open: their 400 is a page of ours.
CLIENT_FACING = frozenset({"invoicing_public", "invoicing_portal"})

NUL_MESSAGE = "The address contains a NUL character (%00), which no invoicing page accepts. Check the link."


class IdConverter(IntegerConverter):
    """``int`` limited to the ids the plugin's tables can hold (1 to ``MAX_ID``); others are a 404."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_ID) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=False)


def register_converters(app: Flask) -> None:
    """Add :class:`IdConverter` to the host's URL map (before the plugin's rules are added)."""
    app.url_map.converters.setdefault(ID_CONVERTER, IdConverter)


def id_arg(name: str) -> int | None:
    """Query parameter ``name`` as one of our ids; ``None`` when absent or empty; 400 when malformed."""
    text = request.args.get(name, "")
    if text == "":
        return None
    value = as_id(text)
    if value is None:
        abort(400, description=f"The “{name}” parameter must be an id: a whole number from 1 to {MAX_ID}.")
    return value


def install_input_guard(app: Flask, blueprints: frozenset[str]) -> None:
    """Answer 400 to a NUL in the path or query of a request for one of ``blueprints``."""

    @app.before_request
    def _refuse_nul():
        if request.blueprint not in blueprints:
            return None
        values = [request.path, *(request.view_args or {}).values()]
        for key, value in request.args.items(multi=True):
            values += (key, value)
        if not any(has_nul(value) for value in values):
            return None
        if request.blueprint in CLIENT_FACING:
            g.invoicing_public = True  # no staff navigation on a client's page
            return render_template("invoicing/public/bad_request.html", message=NUL_MESSAGE), 400
        abort(400, description=NUL_MESSAGE)
