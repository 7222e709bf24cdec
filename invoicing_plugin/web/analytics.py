"""Revenue analytics for billing staff: ``{prefix}/analytics`` and its CSV export."""

from __future__ import annotations

from datetime import date, tzinfo
from typing import TYPE_CHECKING

from flask import Blueprint, Response, render_template, request, stream_with_context, url_for
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms.validators import Optional

from ..services.common import today as today_in
from .access import staff, staff_required

if TYPE_CHECKING:
    from ..services import analytics

# The report's queries and the SVG charts are imported when the page is first
# asked for, not when the app starts (most processes never render a chart).

bp = Blueprint("invoicing_analytics", __name__, template_folder="templates")


class RangeForm(FlaskForm):
    """The period filter (a GET form: bookmarkable, no CSRF needed for reading)."""

    class Meta:
        csrf = False

    start = DateField("From", validators=[Optional()], render_kw={"max": "9999-12-31"})
    end = DateField("To", validators=[Optional()], render_kw={"max": "9999-12-31"})


_DATE_MESSAGE = "Enter the {label} date as YYYY-MM-DD, for example 2025-01-31."


def _period(today: date, zone: tzinfo) -> tuple[RangeForm, analytics.DateRange, list[str]]:
    """The form, the period to show and any errors (bad input falls back to the default period).

    ``today`` and the period's days are the workspace's, in its time zone ``zone``."""
    from ..services import analytics

    form = RangeForm(request.args, meta={"csrf": False})
    errors: list[str] = []
    form.validate()
    for field, label in ((form.start, "start"), (form.end, "end")):
        if field.errors:
            field.errors = [_DATE_MESSAGE.format(label=label)]
            errors.append(field.errors[0])
    if errors:
        return form, analytics.default_range(today, zone), errors
    try:
        period = analytics.validate_range(form.start.data, form.end.data, today, zone)
    except analytics.RangeError as exc:
        getattr(form, exc.field or "start").errors = [exc.message]
        return form, analytics.default_range(today, zone), [exc.message]
    return form, period, []


def _presets(today: date, zone: tzinfo) -> list[tuple[str, analytics.DateRange]]:
    from ..services import analytics

    last_year = today.year - 1
    return [
        ("Last 12 months", analytics.default_range(today, zone)),
        ("This year", analytics.DateRange(date(today.year, 1, 1), today, zone)),
        (str(last_year), analytics.DateRange(date(last_year, 1, 1), date(last_year, 12, 31), zone)),
        ("Last 3 years", analytics.DateRange(date(today.year - 2, 1, 1), today, zone)),
    ]


@bp.get("/analytics")
@staff_required
def dashboard():
    from ..services import analytics
    from .charts import monthly_revenue_chart

    ctx = staff()
    zone = ctx.workspace.zone
    today = today_in(zone)
    form, period, errors = _period(today, zone)
    report = analytics.revenue_report(ctx.repo, period, today)
    locale = ctx.workspace.locale
    charts = {s.currency: monthly_revenue_chart(s, locale) for s in report.currencies if s.has_revenue}
    return render_template(
        "invoicing/analytics/dashboard.html",
        workspace=ctx.workspace,
        form=form,
        errors=errors,
        report=report,
        charts=charts,
        presets=_presets(today, zone),
        csv_url=url_for(".export", start=period.start.isoformat(), end=period.end.isoformat()),
        locale=locale,
    ), (400 if errors else 200)


@bp.get("/analytics/invoices.csv")
@staff_required
def export():
    from ..services import analytics

    ctx = staff()
    zone = ctx.workspace.zone
    today = today_in(zone)
    form, period, errors = _period(today, zone)
    if errors:
        return Response("\n".join(errors) + "\n", status=400, mimetype="text/plain")
    chunks = analytics.export_csv(ctx.repo, period, today)
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{analytics.csv_filename(period)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
