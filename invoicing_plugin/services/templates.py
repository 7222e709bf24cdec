"""Invoice templates: workspace-defined presets for new drafts.

A template holds a name, a description, an optional amount or lines (a list of dicts
of typed text, as ``DraftInput.lines``; checked as a draft's lines are, and kept as
typed so a later change of a tax rate applies to new drafts), a currency, an
optional "due in N days" and a send method. Starting a draft from one fills the
form; nothing links the draft to the template afterwards. Every function takes an
optional ``uow`` (:class:`~.uow.UnitOfWork`) and defaults to the app's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.exc import IntegrityError

from ..domain.errors import AmountError, DomainError
from ..domain.money import Money, format_decimal_amount, get_currency, parse_amount, validate_amount
from ..persistence.models import InvoiceTemplate
from .errors import ValidationFailed
from .lines import LINE_FIELDS, price_lines
from .tax_rates import prices_include_tax
from .text import check_text, has_nul, nul_message
from .common import DESCRIPTION_MAX, SEND_METHODS, configured_currencies, unit_of_work
from .uow import UnitOfWork

NAME_MAX = 120
MAX_DUE_DAYS = 365


@dataclass
class TemplateInput:
    name: str
    description: str = ""
    amount: str | int | None = None  # text as typed, int minor units, or None for "no preset amount"
    currency: str | None = None
    due_in_days: int | None = None
    send_method: str = "email"
    lines: list[dict] | None = None  # typed text per line (see services.lines); None: no preset lines


def _validate(uow: UnitOfWork, workspace_id: str, data: TemplateInput, *, exclude_id: int | None = None) -> dict:
    errors: dict[str, str] = {}
    name = (data.name or "").strip()
    if not name:
        errors["name"] = "Give the template a name, like “Monthly retainer”."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name under {NAME_MAX} characters."
    elif has_nul(name):  # before the name is looked up: PostgreSQL cannot compare it
        errors["name"] = nul_message("name")
    else:
        clash = uow.repository(workspace_id).find(InvoiceTemplate, name=name)
        if clash is not None and clash.id != exclude_id:
            errors["name"] = f"A template named “{name}” already exists."
    description = (data.description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the description under {DESCRIPTION_MAX} characters."
    check_text(errors, "description", description, "description")
    currency = (data.currency or uow.settings["INVOICING_DEFAULT_CURRENCY"]).strip().upper()
    amount_minor = None
    if currency not in configured_currencies(uow):
        errors["currency"] = f"Choose one of the currencies: {', '.join(configured_currencies(uow))}."
    else:
        get_currency(currency)
        try:
            if isinstance(data.amount, int) and not isinstance(data.amount, bool):
                amount_minor = validate_amount(Money(data.amount, currency)).minor
            elif data.amount is not None and str(data.amount).strip():
                amount_minor = parse_amount(str(data.amount), currency).minor
        except (AmountError, DomainError) as exc:
            errors["amount"] = exc.message
    lines = None
    if data.lines is not None:
        if amount_minor is not None:
            errors["amount"] = "Give either an amount or lines, not both."
        elif "currency" not in errors:
            priced = price_lines(uow, workspace_id, currency, data.lines, errors=errors,
                                 prices_include_tax=prices_include_tax(workspace_id, uow=uow))
            if priced is not None:
                lines = [{field: str(line.get(field) or "").strip() for field in LINE_FIELDS if line.get(field)}
                         for line in data.lines]
    days = data.due_in_days
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DUE_DAYS):
        errors["due_in_days"] = f"Due in days must be a whole number from 0 to {MAX_DUE_DAYS}."
    if data.send_method not in SEND_METHODS:
        errors["send_method"] = "Choose how invoices from this template are sent."
    if errors:
        raise ValidationFailed(errors)
    return {
        "name": name,
        "description": description,
        "amount_minor": amount_minor,
        "currency": currency,
        "due_in_days": days,
        "send_method": data.send_method,
        "lines": lines,
    }


def list_templates(workspace_id: str, *, uow: UnitOfWork | None = None) -> list[InvoiceTemplate]:
    return (uow or unit_of_work()).repository(workspace_id).list(InvoiceTemplate, order_by=InvoiceTemplate.name)


def get_template(workspace_id: str, template_id, *, uow: UnitOfWork | None = None) -> InvoiceTemplate:
    return (uow or unit_of_work()).repository(workspace_id).get(InvoiceTemplate, template_id)


def _save(uow: UnitOfWork, template: InvoiceTemplate, values: dict) -> InvoiceTemplate:
    with uow:
        for key, value in values.items():
            setattr(template, key, value)
        try:
            uow.session.flush()
        except IntegrityError:  # a concurrent save took the name
            raise ValidationFailed({"name": f"A template named “{values['name']}” already exists."}) from None
        uow.commit()
    return template


def create_template(workspace_id: str, actor: str, data: TemplateInput, *,
                    uow: UnitOfWork | None = None) -> InvoiceTemplate:
    uow = uow or unit_of_work()
    values = _validate(uow, workspace_id, data)
    repo = uow.repository(workspace_id)
    return _save(uow, repo.add(InvoiceTemplate(**values)), {})


def update_template(workspace_id: str, actor: str, template_id, data: TemplateInput, *,
                    uow: UnitOfWork | None = None) -> InvoiceTemplate:
    uow = uow or unit_of_work()
    template = get_template(workspace_id, template_id, uow=uow)
    values = _validate(uow, workspace_id, data, exclude_id=template.id)
    return _save(uow, template, values)


def delete_template(workspace_id: str, actor: str, template_id, *, uow: UnitOfWork | None = None) -> None:
    uow = uow or unit_of_work()
    template = get_template(workspace_id, template_id, uow=uow)
    with uow:
        uow.session.delete(template)
        uow.commit()


def draft_defaults(template: InvoiceTemplate, *, on: date | None = None, uow: UnitOfWork | None = None) -> dict:
    """Form values a template gives a new draft (``on``: the day, default today in the
    template's workspace's time zone by ``uow``'s clock)."""
    on = on or (uow or unit_of_work()).workspace_today(template.workspace_id)
    return {
        "description": template.description,
        "amount": format_decimal_amount(Money(template.amount_minor, template.currency)) if template.amount_minor else "",
        "currency": template.currency,
        "due_date": on + timedelta(days=template.due_in_days) if template.due_in_days is not None else None,
        "send_method": template.send_method,
        "lines": [dict(line) for line in template.lines] if template.lines else None,
    }
