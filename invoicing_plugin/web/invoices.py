"""Staff pages for invoices and invoice templates. Thin: parse, call a service, render."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from werkzeug.exceptions import NotFound as HTTPNotFound
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from ..state import get_state
from ..domain.balance import of_invoice
from ..domain.calendar import local_day
from ..domain.invoice import Action, allowed_actions, display_status, is_editable
from ..domain.money import Money, format_decimal_amount, format_money
from ..host import parse_subject_ref
from ..persistence.repository import NotFound
from ..services import invoices as service
from ..services import outbox, sending
from ..services import credit_notes, prepayments, refunding
from ..services import documents as document_service
from ..services import lines as line_service
from ..services import tax_rates as tax_rates_service
from ..services import templates as template_service
from ..services.connections import payment_availability
from ..services.errors import InvoicingError, PaidMeanwhile, ValidationFailed
from ..services.numbering import peek_next_number
from ..services.payments import AWAITING_STRIPE
from . import invoice_lines as form_lines
from .access import staff, staff_required
from .input import id_arg
from .forms import (
    choices, ActionForm, CreditNoteForm, DepositForm, InvoiceForm, MarkPaidForm, RefundForm, SendForm, TemplateForm,
    apply_errors,
)

bp = Blueprint(
    "invoicing",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@bp.errorhandler(NotFound)
def _not_found(error):
    """Not in this workspace (or nowhere): the host's ordinary 404 page."""
    return current_app.handle_http_exception(HTTPNotFound())


# Refusals: every one fit for staff is an InvoicingError with a ``message``; a view
# catches that root once (after the subclasses it answers differently) and flashes
# the message. NotFound is re-raised first: it is the host's 404 page, not a flash.


def _error(message: str) -> None:
    flash(message, "invoicing-error")


def _form_problem(form) -> str:
    """The first error of a button form that did not validate, for the 400 page."""
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return "The form expired or was incomplete. Go back, reload the page and try again."


def _success(message: str) -> None:
    flash(message, "invoicing-success")


def _refused(exc: InvoicingError, invoice_id: int, **form):
    """The answer to a refused form of the invoice page (mark paid, refund, credit note);
    ``form`` names it as :func:`_render_detail` takes it (``refund_form=form``).

    Bad input (:class:`ValidationFailed`): its messages next to the fields (the rest
    flashed) and the page again, 422. Stripe did not answer a refund
    (:class:`~.refunding.RefundUnanswered`): the message and the same form, 503 -- the same
    request token sent again is the same refund, a fresh form would refund twice. Paid
    meanwhile: an info flash; any other refusal: an error flash. Those return ``None``: the
    view redirects to the invoice page."""
    if isinstance(exc, ValidationFailed):
        (posted,) = form.values()
        for message in apply_errors(posted, exc.errors):
            _error(message)
        status = 422
    elif isinstance(exc, refunding.RefundUnanswered):
        _error(exc.message)
        status = 503
    elif isinstance(exc, PaidMeanwhile):
        flash(exc.message, "invoicing-info")
        return None
    else:
        _error(exc.message)
        return None
    return _render_detail(service.get_invoice(staff().workspace.id, invoice_id), status=status, **form)


def _clients():
    return service.clients_for(staff().workspace.id)


# --------------------------------------------------------------------- list


@bp.get("/invoices")
@staff_required
def invoice_list():
    ctx = staff()
    args = request.args
    filters = {name: args.get(name) for name in ("status", "client", "sort") if args.get(name)}
    if "page" in args and not (args.get("after") or args.get("before")):
        # Numbered pages gave way to Next/Previous cursors: an old ?page= link
        # opens the first page of the same list instead of an error.
        return redirect(url_for(".invoice_list", **filters))
    query = service.InvoiceQuery(
        status=filters.get("status"),
        client_id=filters.get("client"),
        sort=filters.get("sort") or "newest",
        after=id_arg("after"),
        before=id_arg("before"),
    )
    page = service.list_invoices(ctx.workspace.id, query)
    today = service.today(ctx.workspace)  # overdue by the workspace's calendar
    # The host's whole client list only when staff ask to pick a client (it grows
    # with the client base); otherwise just the client being filtered on, if any.
    all_clients = args.get("clients") == "all"
    if all_clients:
        clients = _clients()
    else:
        current = query.client_id and get_state().host.get_client(str(ctx.workspace.id), str(query.client_id))
        clients = [current] if current else []
    return render_template(
        "invoicing/invoice_list.html",
        workspace=ctx.workspace,
        page=page,
        invoices=page.items,
        clients=clients,
        all_clients=all_clients,
        status_filters=service.STATUS_FILTERS,
        sorts=service.SORTS,
        display_status=lambda invoice: display_status(invoice.status, invoice.due_date, today),
    )


# --------------------------------------------------------------------- drafts


def _draft_input(form: InvoiceForm) -> service.DraftInput:
    return service.DraftInput(
        client_id=form.client_id.data or "",
        amount=form.amount.data or "",
        currency=form.currency.data,
        description=form.description.data or "",
        due_date=form.due_date.data,
        subject_ref=form.subject_ref.data or None,
        send_method=form.send_method.data or "email",
        **form.parties_input(),
        lines=form_lines.typed(form),
        discount=form.discount.data or None,
        allow_partial=bool(form.allow_partial.data),
        partial_minimum=form.partial_minimum.data or None,
        prices_include_tax=form_lines.basis_of(form),  # None (not posted): the service decides
    )


def _subject_context(ref: str | None):
    """The subject a draft is linked to, and whether a deposit can be raised from it."""
    parsed = parse_subject_ref(ref)
    if parsed is None:
        return None, None
    subject = get_state().host.get_subject(staff().workspace.id, *parsed)
    if subject is None:
        return None, None
    refusal = service.deposit_refusal(subject) if service.deposit_offered(subject) else None
    return subject, refusal


@dataclass(frozen=True)
class _Offer:
    """What a new draft offers to deduct -- the subject's paid deposits, or the client's credit.

    ``choices(workspace_id, key, currency)`` lists them (``services.prepayments``); ``key_field``
    is the form field they belong to (the subject, the client); the form names what it
    showed in the hidden input ``shown_field`` and posts the ticked ids as ``ticked_field``;
    ``ask`` is said when the key was picked on this post and nothing was shown yet."""

    choices: Callable[[str, str | None, str], list]
    key_field: str
    shown_field: str
    ticked_field: str
    ask: str

    def of(self, form: InvoiceForm) -> list:
        currency = form.currency.data or current_app.config["INVOICING_DEFAULT_CURRENCY"]
        return self.choices(staff().workspace.id, getattr(form, self.key_field).data or None, currency)

    def seen(self, form: InvoiceForm) -> bool:
        """Whether the posted form showed the choices of the key it has now."""
        return (request.method == "POST"
                and request.form.get(self.shown_field) == (getattr(form, self.key_field).data or ""))

    def checked(self, form: InvoiceForm, choices) -> set[str]:
        """Ids to show checked: what was posted, else every one that can be deducted (the default)."""
        if self.seen(form):
            return set(request.form.getlist(self.ticked_field))
        return {str(choice.id) for choice in choices if choice.refusal is None}

    def selection(self, form: InvoiceForm):
        """What the service is asked to deduct (the ticked ids, or ``False``), or ``None`` when
        the choices must be shown before anything is saved."""
        if self.seen(form):
            return request.form.getlist(self.ticked_field)
        if any(choice.refusal is None for choice in self.of(form)):
            return None
        return False


DEPOSITS = _Offer(prepayments.deductible_deposits, "subject_ref", "deposits_for", "deduct_deposit",
                  "This invoice's subject has paid deposits: choose which to deduct, then save.")
CREDITS = _Offer(prepayments.available_credits, "client_id", "credits_for", "apply_credit",
                 "This client has credit from a credit note: choose whether to deduct it, then save.")


def _render_form(form: InvoiceForm, *, invoice=None, extra_errors=(), status=200):
    if form_lines.basis_of(form) is None:  # not posted: show the basis the service reads the prices on
        form_lines.set_basis(form, bool(invoice.prices_include_tax) if invoice is not None
                             else tax_rates_service.prices_include_tax(staff().workspace.id))
    subject, deposit_refusal = _subject_context(form.subject_ref.data)
    deposits = DEPOSITS.of(form) if invoice is None else []
    credits = CREDITS.of(form) if invoice is None else []
    return render_template(
        "invoicing/invoice_form.html",
        form=form,
        invoice=invoice,
        subject=subject,
        deposit_offered=service.deposit_offered(subject),
        deposit_refusal=deposit_refusal,
        templates=template_service.list_templates(staff().workspace.id) if invoice is None else [],
        extra_errors=list(extra_errors),
        workspace=staff().workspace,
        lines_preview=form_lines.preview(form, staff().workspace.id,
                                         show_errors=request.method == "POST" and "recalculate" in request.form),
        deposits=deposits,
        deposits_checked=DEPOSITS.checked(form, deposits),
        credits=credits,
        credits_checked=CREDITS.checked(form, credits),
    ), status


@bp.route("/invoices/new", methods=["GET", "POST"])
@staff_required
def invoice_new():
    ctx = staff()
    form = InvoiceForm()
    form.set_choices(_clients(), service.configured_currencies(), _subjects())
    if request.method == "GET":
        form.currency.data = current_app.config["INVOICING_DEFAULT_CURRENCY"]
        template_id = id_arg("template")
        if template_id is not None:
            template = template_service.get_template(ctx.workspace.id, template_id)
            defaults = template_service.draft_defaults(template)
            lines = defaults.pop("lines", None)
            for name, value in defaults.items():
                getattr(form, name).data = value
            form_lines.fill(form, lines, ctx.workspace.id)
        subject_ref = request.args.get("subject")
        if subject_ref:
            subject, _ = _subject_context(subject_ref)
            if subject is None:
                abort(404)
            form.subject_ref.data = subject.ref
            if subject.client_id:
                form.client_id.data = str(subject.client_id)
            if not form.description.data:
                form.description.data = subject.title
        form_lines.prepare(form, ctx.workspace.id)
        return _render_form(form)
    form_lines.prepare(form, ctx.workspace.id)
    if form_lines.handle_buttons(form, ctx.workspace.id):
        return _render_form(form)
    if not form.validate_on_submit():
        return _render_form(form, status=422)
    # A subject or client picked on this post: show its deposits / credit (checked) before saving anything.
    deduct, apply = DEPOSITS.selection(form), CREDITS.selection(form)
    for offer, selection in ((DEPOSITS, deduct), (CREDITS, apply)):
        if selection is None:
            _error(offer.ask)
            return _render_form(form)
    try:
        invoice = service.create_draft(ctx.workspace.id, ctx.actor, _draft_input(form), deduct_deposits=deduct,
                                       apply_credits=apply)
    except ValidationFailed as exc:
        # The new form shows no buyer fields (they come from the client's record): say those at the top.
        return _render_form(form, extra_errors=form_lines.apply_errors(form, exc.errors, hidden=("buyer_",)),
                            status=422)
    _success("Draft saved. Check it, then send it when ready.")
    return redirect(url_for(".invoice_detail", invoice_id=invoice.id))


@bp.route("/invoices/<invoicing_id:invoice_id>/edit", methods=["GET", "POST"])
@staff_required
def invoice_edit(invoice_id: int):
    ctx = staff()
    invoice = service.get_invoice(ctx.workspace.id, invoice_id)
    if not is_editable(invoice.status):
        _error("Only draft invoices can be edited: this one has been sent.")
        return redirect(url_for(".invoice_detail", invoice_id=invoice.id))
    form = InvoiceForm(obj=invoice) if request.method == "GET" else InvoiceForm()
    form.set_choices(_clients(), _currencies_for(invoice), _subjects(invoice.subject_ref))
    if request.method == "GET":
        form.amount.data = format_decimal_amount(Money(invoice.amount_minor + invoice.discount_minor,
                                                       invoice.currency))  # the one line's amount
        form.discount.data = (format_decimal_amount(Money(invoice.discount_minor, invoice.currency))
                              if invoice.discount_minor else "")
        form.partial_minimum.data = (format_decimal_amount(Money(invoice.partial_minimum_minor, invoice.currency))
                                     if invoice.partial_minimum_minor else "")
        form.buyer_for.data = invoice.client_id  # the buyer fields below are this client's
        form_lines.fill_from_invoice(form, invoice, ctx.workspace.id)
        return _render_form(form, invoice=invoice)
    form_lines.prepare(form, ctx.workspace.id)
    if form_lines.handle_buttons(form, ctx.workspace.id):
        return _render_form(form, invoice=invoice)
    if not form.validate_on_submit():
        return _render_form(form, invoice=invoice, status=422)
    try:
        service.update_draft(ctx.workspace.id, ctx.actor, invoice.id, _draft_input(form))
    except ValidationFailed as exc:
        return _render_form(form, invoice=invoice, extra_errors=form_lines.apply_errors(form, exc.errors),
                            status=422)
    except NotFound:
        raise  # the host's 404 page (see _not_found), never a message
    except InvoicingError as exc:
        _error(exc.message)
    else:
        _success("Draft updated.")
    return redirect(url_for(".invoice_detail", invoice_id=invoice.id))


def _subjects(current_ref: str | None = None):
    """Subjects to pick from: the host's list, plus the draft's own if the host no longer lists it."""
    subjects = list(get_state().host.list_subjects(staff().workspace.id))
    if current_ref and all(s.ref != current_ref for s in subjects):
        current, _ = _subject_context(current_ref)
        if current is not None:
            subjects.append(current)
    return subjects


def _currencies_for(invoice):
    currencies = list(service.configured_currencies())
    if invoice.currency not in currencies:  # a deposit in the proposal's currency
        currencies.append(invoice.currency)
    return currencies


@bp.post("/invoices/<invoicing_id:invoice_id>/delete")
@staff_required
def invoice_delete(invoice_id: int):
    ctx = staff()
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description=_form_problem(form))
    try:
        service.delete_draft(ctx.workspace.id, ctx.actor, invoice_id)
    except NotFound:
        raise  # the host's 404 page (see _not_found), never a message
    except InvoicingError as exc:
        _error(exc.message)
        return redirect(url_for(".invoice_detail", invoice_id=invoice_id))
    _success("Draft deleted.")
    return redirect(url_for(".invoice_list"))


# --------------------------------------------------------------------- deposit


@bp.route("/proposals/<proposal_id>/deposit", methods=["GET", "POST"])
@staff_required
def invoice_deposit(proposal_id: str):
    """A proposal's deposit page (the original URL; :func:`subject_deposit` for every kind)."""
    return _deposit_page("proposal", proposal_id)


@bp.route("/subjects/<kind>/<subject_id>/deposit", methods=["GET", "POST"])
@staff_required
def subject_deposit(kind: str, subject_id: str):
    """The deposit page of any subject the host lets take deposits (``engagement:12`` ...)."""
    return _deposit_page(kind, subject_id)


def _deposit_page(kind: str, subject_id: str):
    ctx = staff()
    parsed = parse_subject_ref(f"{kind}:{subject_id}")
    subject = get_state().host.get_subject(ctx.workspace.id, *parsed) if parsed else None
    if subject is None:
        abort(404)
    refusal = service.deposit_refusal(subject)
    existing = service.existing_deposit(ctx.workspace.id, subject)
    form = DepositForm()
    errors: list[str] = []
    status = 200
    if request.method == "POST" and refusal is None:
        if form.validate_on_submit():
            fixed_mode = form.basis.data == "fixed"
            try:
                invoice = service.create_deposit(
                    ctx.workspace.id,
                    ctx.actor,
                    subject.ref,
                    percent=None if fixed_mode else (form.percent.data or ""),
                    fixed=(form.fixed.data or "") if fixed_mode else None,
                    due_date=form.due_date.data,
                    send_method=form.send_method.data or "email",
                    allow_another=request.form.get("allow_another") == "1",
                )
            except ValidationFailed as exc:
                errors = apply_errors(form, exc.errors)
                status = 422
            except NotFound:
                raise  # the host's 404 page (see _not_found), never a message
            except InvoicingError as exc:
                errors = [exc.message]
                status = 422
            else:
                _success("Deposit invoice saved as a draft. Check it, then send it.")
                return redirect(url_for(".invoice_detail", invoice_id=invoice.id))
        else:
            status = 422
    return render_template(
        "invoicing/deposit_form.html",
        form=form,
        subject=subject,
        refusal=refusal,
        existing=existing,
        extra_errors=errors,
        workspace=ctx.workspace,
    ), status


# --------------------------------------------------------------------- one invoice


def _credit_note_form(invoice, form=None) -> CreditNoteForm:
    """The credit note form, with the settlements that fit the invoice (before or after payment)."""
    form = form or CreditNoteForm(formdata=None, request_token=refunding.new_request_token())
    if not form.request_token.data:
        form.request_token.data = refunding.new_request_token()
    if invoice.status in ("sent", "partially_paid"):  # before payment, or on a partly paid one's balance
        wanted = ["reduces_due"]
    else:
        wanted = [key for key in credit_notes.AFTER_PAYMENT if key != "refund" or invoice.payment_intent_id]
    form.settlement.choices = choices((key, credit_notes.SETTLEMENTS[key]) for key in wanted)
    if not form.settlement.data:  # what was posted stays as posted: the service judges it
        form.settlement.data = wanted[0]
    return form


def _render_detail(invoice, *, mark_paid_form=None, refund_form=None, credit_note_form=None, status=200):
    ctx = staff()
    actions = allowed_actions(invoice.status)
    availability = payment_availability(ctx.workspace.id)
    route_available = availability.route is not None
    events = service.invoice_events(ctx.workspace.id, invoice.id)
    emails = outbox.emails_of_invoice(ctx.workspace.id, invoice.id)
    send_form = SendForm(method=invoice.send_method)
    today = service.today(ctx.workspace)
    balance = of_invoice(invoice)
    if mark_paid_form is None:  # prefilled with the balance due
        mark_paid_form = MarkPaidForm(formdata=None, paid_on=today, amount=(
            format_decimal_amount(Money(balance.due_minor, invoice.currency)) if balance.due_minor > 0 else ""))
    refundable = refunding.refundable_amount(invoice)
    if refund_form is None:
        refund_form = RefundForm(formdata=None, request_token=refunding.new_request_token())
    elif not refund_form.request_token.data:
        refund_form.request_token.data = refunding.new_request_token()
    show_pay_link = invoice.status not in ("draft",) and invoice.send_method != "manual" and invoice.stripe_mode
    creditable = credit_notes.creditable_amount(invoice)
    notes = credit_notes.credit_notes_of_invoice(ctx.workspace.id, invoice.id)
    used_on = credit_notes.credit_used_on(ctx.workspace.id, notes)
    return render_template(
        "invoicing/invoice_detail.html",
        invoice=invoice,
        workspace=ctx.workspace,
        display=display_status(invoice.status, invoice.due_date, today),
        paid_on=local_day(invoice.paid_at, ctx.workspace.zone) if invoice.paid_at else None,
        events=events,
        emails=emails,
        email_kinds=outbox.KINDS,
        route_problem=availability.message,
        checkout_left_open=service.checkout_left_open(invoice, events),
        can_send=Action.SEND in actions,
        can_void=Action.VOID in actions,
        can_mark_paid=Action.MARK_PAID in actions,
        can_edit=is_editable(invoice.status),
        route_available=route_available,
        # Only while the client may still pay: a paid or voided invoice needs no pay link.
        online_unavailable=bool(show_pay_link) and invoice.status in AWAITING_STRIPE
        and (invoice.online_payment_unavailable or not route_available),
        pay_url=sending.pay_link(invoice) if show_pay_link else None,
        too_small_online=(sending.too_small_to_pay_online(invoice)
                          if show_pay_link and invoice.status in AWAITING_STRIPE else None),
        next_number=peek_next_number(ctx.repo.session, ctx.workspace.id, current_app.config["INVOICING_NUMBER_PREFIX"])
        if invoice.status == "draft" else None,
        send_form=send_form,
        action_form=ActionForm(),
        mark_paid_form=mark_paid_form,
        balance=balance,
        payments=service.invoice_payments(ctx.workspace.id, invoice.id),
        refundable=refundable,
        refund_form=refund_form,
        subject_url=_subject_url(invoice),
        creditable=creditable,
        credit_note_form=_credit_note_form(invoice, credit_note_form) if creditable else None,
        credit_lines=credit_notes.creditable_lines(invoice) if creditable else [],
        credit_lines_posted=request.form if credit_note_form is not None and request.method == "POST" else {},
        credit_notes=notes,
        credits_used=[(note, used_on[note.id]) for note in notes if note.id in used_on],
        client_credit=credit_notes.client_credit_balance(ctx.workspace.id, invoice.client_id),
        vat_rows=document_service.vat_breakdown(invoice),
        # The print page's figures (services.documents): sum of lines, discount per rate, deductions.
        adjustments=document_service.adjustments_of(invoice),
        no_vat_warning=line_service.no_vat_warning(invoice),
        gross_rounding=line_service.gross_rounding(invoice),
    ), status


def _subject_url(invoice):
    parsed = parse_subject_ref(invoice.subject_ref)
    if parsed is None:
        return None
    subject = get_state().host.get_subject(staff().workspace.id, *parsed)
    return subject.link if subject else None


@bp.get("/invoices/<invoicing_id:invoice_id>")
@staff_required
def invoice_detail(invoice_id: int):
    return _render_detail(service.get_invoice(staff().workspace.id, invoice_id))


@bp.post("/invoices/<invoicing_id:invoice_id>/send")
@staff_required
def invoice_send(invoice_id: int):
    ctx = staff()
    service.get_invoice(ctx.workspace.id, invoice_id)  # 404 before anything else
    form = SendForm()
    if not form.validate_on_submit():
        _error("Choose how to send the invoice: email, Stripe link or manually.")
        return redirect(url_for(".invoice_detail", invoice_id=invoice_id))
    try:
        result = sending.send_invoice(ctx.workspace.id, ctx.actor, invoice_id, method=form.method.data)
    except NotFound:
        raise  # the host's 404 page (see _not_found), never a message
    except InvoicingError as exc:
        _error(exc.message)
    else:
        messages = {
            "email": f"Invoice {result.invoice.number} emailed to {result.invoice.client_email}.",
            "stripe_link": f"Invoice {result.invoice.number} is ready: copy the pay link below and share it with the client.",
            "manual": f"Invoice {result.invoice.number} recorded as sent. Mark it paid when the payment arrives.",
        }
        if result.invoice.send_method == "email" and result.email_problem:
            messages["email"] = (f"Invoice {result.invoice.number} sent; the email to {result.invoice.client_email} "
                                 f"could not be delivered yet and waits in the outbox, which retries it: {result.email_problem}")
        _success(messages[result.invoice.send_method])
    return redirect(url_for(".invoice_detail", invoice_id=invoice_id))


@bp.post("/invoices/<invoicing_id:invoice_id>/void")
@staff_required
def invoice_void(invoice_id: int):
    ctx = staff()
    service.get_invoice(ctx.workspace.id, invoice_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description=_form_problem(form))
    try:
        invoice = service.void_invoice(ctx.workspace.id, ctx.actor, invoice_id, reason=form.reason.data)
    except PaidMeanwhile as exc:
        flash(exc.message, "invoicing-info")
    except NotFound:
        raise  # the host's 404 page (see _not_found), never a message
    except InvoicingError as exc:
        _error(exc.message)
    else:
        _success(f"Invoice {invoice.number} voided. Its pay link no longer takes payments.")
    return redirect(url_for(".invoice_detail", invoice_id=invoice_id))


@bp.post("/invoices/<invoicing_id:invoice_id>/mark-paid")
@staff_required
def invoice_mark_paid(invoice_id: int):
    ctx = staff()
    invoice = service.get_invoice(ctx.workspace.id, invoice_id)
    form = MarkPaidForm()
    if not form.validate_on_submit():
        return _render_detail(invoice, mark_paid_form=form, status=422)
    try:
        result = service.mark_paid(
            ctx.workspace.id, ctx.actor, invoice_id, method=form.method.data, paid_on=form.paid_on.data,
            note=form.note.data, amount=form.amount.data or None, allow_overpayment=bool(form.allow_overpayment.data),
        )
    except NotFound:
        raise  # the host's 404 page (see _not_found), never a message
    except InvoicingError as exc:
        page = _refused(exc, invoice_id, mark_paid_form=form)
        if page is not None:
            return page
    else:
        paid = result.payments[-1].amount_minor if result.payments else result.paid_minor
        received = format_money(Money(paid, result.currency))
        if result.due_minor > 0:
            _success(f"{received} recorded on invoice {result.number}; "
                     f"{format_money(Money(result.due_minor, result.currency))} is still due.")
        elif result.due_minor < 0:
            _success(f"{received} recorded: invoice {result.number} is paid, overpaid by "
                     f"{format_money(Money(-result.due_minor, result.currency))}, kept as the client's credit.")
        else:
            _success(f"Invoice {result.number} marked as paid.")
    return redirect(url_for(".invoice_detail", invoice_id=invoice_id))


@bp.post("/invoices/<invoicing_id:invoice_id>/refund")
@staff_required
def invoice_refund(invoice_id: int):
    """Refund a paid invoice (in full or in part) through Stripe. The invoice itself changes
    when Stripe's refund events arrive (services/refunding.py)."""
    ctx = staff()
    invoice = service.get_invoice(ctx.workspace.id, invoice_id)  # 404 before anything else
    form = RefundForm()
    if not form.validate_on_submit():
        return _render_detail(invoice, refund_form=form, status=422)
    try:
        result = refunding.refund_invoice(
            ctx.workspace.id, ctx.actor, invoice_id, amount=form.amount.data, reason=form.reason.data,
            note=form.note.data, request_token=form.request_token.data or "",
        )
    except NotFound:
        raise  # the host's 404 page (see _not_found), never a message
    except InvoicingError as exc:
        page = _refused(exc, invoice_id, refund_form=form)
        if page is not None:
            return page
    else:
        _success(f"Stripe accepted the refund of {format_money(result.amount)} ({result.refund_id}). The invoice "
                 "shows it as soon as Stripe confirms it.")
    return redirect(url_for(".invoice_detail", invoice_id=invoice_id))


@bp.post("/invoices/<invoicing_id:invoice_id>/credit-notes")
@staff_required
def invoice_credit_note(invoice_id: int):
    """Make a credit note on a sent invoice (services/credit_notes.py): before payment it lowers the
    amount due (all of it closes the invoice), after payment it is refunded or kept as client credit."""
    ctx = staff()
    invoice = service.get_invoice(ctx.workspace.id, invoice_id)  # 404 before anything else
    form = CreditNoteForm()
    _credit_note_form(invoice, form)
    if not form.validate_on_submit():
        return _render_detail(invoice, credit_note_form=form, status=422)
    # Chosen lines (plain inputs "credit_line-<line id>", so the form works without JavaScript):
    # any quantity typed makes it a note for those lines; none, a note for the amount.
    chosen = [{"line_id": name.partition("-")[2], "quantity": value.strip()}
              for name, value in request.form.items(multi=True)
              if name.startswith("credit_line-") and value.strip()]
    try:
        note = credit_notes.create_credit_note(
            ctx.workspace.id, ctx.actor, invoice_id, amount=form.amount.data or None, reason=form.reason.data or "",
            lines=chosen or None,
            settlement=form.settlement.data or None, request_token=form.request_token.data or None,
        )
    except NotFound:
        raise  # the host's 404 page (see _not_found), never a message
    except InvoicingError as exc:
        page = _refused(exc, invoice_id, credit_note_form=form)
        if page is not None:
            return page
    else:
        _success(f"Credit note {note.number} for {format_money(note.amount)} saved.")
    return redirect(url_for(".invoice_detail", invoice_id=invoice_id))


# --------------------------------------------------------------------- templates


@bp.get("/templates")
@staff_required
def template_list():
    ctx = staff()
    return render_template(
        "invoicing/template_list.html",
        templates=template_service.list_templates(ctx.workspace.id),
        action_form=ActionForm(),
        workspace=ctx.workspace,
    )


def _template_input(form: TemplateForm) -> template_service.TemplateInput:
    return template_service.TemplateInput(
        name=form.name.data or "",
        description=form.description.data or "",
        amount=form.amount.data or None,
        currency=form.currency.data,
        due_in_days=form.due_in_days.data,
        send_method=form.send_method.data or "email",
        lines=form_lines.typed(form),
    )


def _render_template_form(form, template=None, extra_errors=(), status=200):
    return render_template(
        "invoicing/template_form.html", form=form, template=template, extra_errors=list(extra_errors),
        workspace=staff().workspace, lines_preview=form_lines.preview(
            form, staff().workspace.id, show_errors=request.method == "POST" and "recalculate" in request.form),
    ), status


@bp.route("/templates/new", methods=["GET", "POST"])
@staff_required
def template_new():
    ctx = staff()
    form = TemplateForm()
    form.currency.choices = choices((c, c) for c in service.configured_currencies())
    if request.method == "GET":
        form.currency.data = current_app.config["INVOICING_DEFAULT_CURRENCY"]
        form_lines.prepare(form, ctx.workspace.id)
        return _render_template_form(form)
    form_lines.prepare(form, ctx.workspace.id)
    if form_lines.handle_buttons(form, ctx.workspace.id):
        return _render_template_form(form)
    if not form.validate_on_submit():
        return _render_template_form(form, status=422)
    try:
        template = template_service.create_template(ctx.workspace.id, ctx.actor, _template_input(form))
    except ValidationFailed as exc:
        return _render_template_form(form, extra_errors=form_lines.apply_errors(form, exc.errors), status=422)
    _success(f"Template “{template.name}” saved.")
    return redirect(url_for(".template_list"))


@bp.route("/templates/<invoicing_id:template_id>/edit", methods=["GET", "POST"])
@staff_required
def template_edit(template_id: int):
    ctx = staff()
    template = template_service.get_template(ctx.workspace.id, template_id)
    form = TemplateForm(obj=template) if request.method == "GET" else TemplateForm()
    form.currency.choices = choices((c, c) for c in service.configured_currencies())
    if request.method == "GET":
        form.amount.data = format_decimal_amount(Money(template.amount_minor, template.currency)) if template.amount_minor else ""
        form_lines.fill(form, template.lines, ctx.workspace.id)
        return _render_template_form(form, template)
    form_lines.prepare(form, ctx.workspace.id)
    if form_lines.handle_buttons(form, ctx.workspace.id):
        return _render_template_form(form, template)
    if not form.validate_on_submit():
        return _render_template_form(form, template, status=422)
    try:
        template_service.update_template(ctx.workspace.id, ctx.actor, template.id, _template_input(form))
    except ValidationFailed as exc:
        return _render_template_form(form, template, extra_errors=form_lines.apply_errors(form, exc.errors),
                                     status=422)
    _success("Template updated.")
    return redirect(url_for(".template_list"))


@bp.post("/templates/<invoicing_id:template_id>/delete")
@staff_required
def template_delete(template_id: int):
    ctx = staff()
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description=_form_problem(form))
    template = template_service.get_template(ctx.workspace.id, template_id)
    name = template.name
    template_service.delete_template(ctx.workspace.id, ctx.actor, template.id)
    _success(f"Template “{name}” deleted.")
    return redirect(url_for(".template_list"))
