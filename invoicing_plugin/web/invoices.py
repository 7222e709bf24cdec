"""Staff pages for invoices."""

from __future__ import annotations


from flask import Blueprint, render_template

from ..extension import get_state
from ..persistence.models import Invoice
from .access import staff, staff_required


bp = Blueprint(
    "invoicing",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@bp.get("/invoices")
@staff_required
def invoice_list():
    ctx = staff()
    stmt = ctx.repo.select(Invoice).order_by(Invoice.created_at.desc(), Invoice.id.desc()).limit(50)
    invoices = get_state().session.scalars(stmt).all()
    return render_template("invoicing/invoice_list.html", invoices=invoices, workspace=ctx.workspace)


@bp.get("/invoices/new")
@staff_required
def invoice_new():
    return render_template("invoicing/invoice_list.html", invoices=[], workspace=staff().workspace)
