"""Flask-WTF forms (CSRF-protected). They check shape only; the services check the rules.

Field names match the services' input fields so a
:class:`~invoicing_plugin.services.errors.ValidationFailed` lands next to the right field.
"""

from __future__ import annotations

from babel import Locale
from flask import has_request_context, request
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, FieldList, Form, FormField, HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from ..domain.country import COUNTRIES
from ..domain.reminders import ScheduleError, parse_offsets
from ..services.invoices import DESCRIPTION_MAX, MANUAL_PAYMENT_METHODS, NOTE_MAX, SEND_METHODS
from ..services.parties import BuyerInput
from ..services.refunding import NOTE_MAX as REFUND_NOTE_MAX
from ..services.refunding import REFUND_REASONS
from ..services.lines import MAX_LINES
from ..services.tax_rates import CATEGORIES as TAX_CATEGORIES
from ..services.tax_rates import NOTE_MAX as TAX_NOTE_MAX
from ..services.credit_notes import REASON_MAX as CREDIT_REASON_MAX
from ..services.credit_notes import SETTLEMENTS
from ..services.text import has_nul, nul_message


def choices(pairs) -> list[SelectChoice]:
    """WTForms 3.3+ choice objects from ``(value, label)`` pairs."""
    return [SelectChoice(str(value), label) for value, label in pairs]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


#: Flask-WTF's submit methods: only these carry a form body.
_SUBMIT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FROM_REQUEST = object()


def posted_text():
    """The submitted form's text fields (``request.form``), or ``None`` when nothing was posted.

    Flask-WTF would also read a multipart body's *file* parts and a JSON body into a
    form's fields, handing ``FileStorage`` objects, numbers, lists or ``None`` to fields
    and services that take text (a 500). The plugin's forms are HTML forms: only text
    fields count; a file part or a JSON body is as if the field were not sent.
    """
    if not has_request_context() or request.method not in _SUBMIT_METHODS:
        return None
    return request.form or None


class InvoicingForm(FlaskForm):
    """The plugin's forms: text fields of a posted HTML form only, and no NUL.

    The data is the request's form text (:func:`posted_text`), never its files or a JSON
    body. A field whose submitted text holds a NUL character is invalid: PostgreSQL
    cannot store NUL in text, so such input gets a message next to its field (and the
    form does not validate) before any service or Stripe is called.
    """

    def __init__(self, formdata=_FROM_REQUEST, **kwargs) -> None:
        super().__init__(formdata=posted_text() if formdata is _FROM_REQUEST else formdata, **kwargs)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if any(has_nul(value) for value in (getattr(field, "raw_data", None) or ())):
                label = field.label.text.split(" (")[0].lower() if field.label else field.name
                message = nul_message(label)
                field.errors = [message] if not field.errors else [*field.errors, message]
                valid = False
        return valid


class PartiesFields:
    """The buyer and dates of a draft (services/parties.py), shared by the invoice form.

    ``buyer_for`` is the client id the buyer fields were filled for: when staff pick
    another client, the typed buyer fields are the old client's and are not used (the new
    client's details come from the host)."""

    buyer_for = HiddenField()
    buyer_name = StringField("Legal name", filters=[_strip], render_kw={"maxlength": 255})
    buyer_address_line1 = StringField("Address line 1", filters=[_strip], render_kw={"maxlength": 200})
    buyer_address_line2 = StringField("Address line 2 (optional)", filters=[_strip], render_kw={"maxlength": 200})
    buyer_city = StringField("City", filters=[_strip], render_kw={"maxlength": 100})
    buyer_post_code = StringField("Post code", filters=[_strip], render_kw={"maxlength": 32})
    buyer_country = SelectField("Country", choices=[], validate_choice=False)  # the service checks the code
    buyer_vat_id = StringField("VAT number (optional; needed for a reverse charge)", filters=[_strip],
                               render_kw={"maxlength": 32, "autocomplete": "off"})
    buyer_registration_id = StringField("Company registration number (optional)", filters=[_strip],
                                        render_kw={"maxlength": 64})
    supply_date = DateField("Supply date (optional)", validators=[Optional()], format="%Y-%m-%d")
    supply_start = DateField("Supply period from", validators=[Optional()], format="%Y-%m-%d")
    supply_end = DateField("Supply period to", validators=[Optional()], format="%Y-%m-%d")
    payment_terms = TextAreaField("Payment terms (optional)", filters=[_strip], render_kw={"rows": 2, "maxlength": 500})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.buyer_country.choices = _country_choices()

    def parties_input(self) -> dict:
        """The draft's buyer and dates as :class:`~..services.drafts.DraftInput` keywords.

        ``buyer`` is ``None`` (the chosen client's details from the host, or the draft's
        own when the client did not change) unless the buyer fields were shown for the
        client that is chosen now."""
        client_id = getattr(self, "client_id", None)
        shown_for = self.buyer_for.data or ""
        buyer = None
        if shown_for and client_id is not None and shown_for == (client_id.data or ""):
            buyer = BuyerInput(
                name=self.buyer_name.data or "", address_line1=self.buyer_address_line1.data or "",
                address_line2=self.buyer_address_line2.data or "", city=self.buyer_city.data or "",
                post_code=self.buyer_post_code.data or "", country=self.buyer_country.data or "",
                vat_id=self.buyer_vat_id.data or "", registration_id=self.buyer_registration_id.data or "",
            )
        return {"buyer": buyer, "supply_date": self.supply_date.data, "supply_start": self.supply_start.data,
                "supply_end": self.supply_end.data, "payment_terms": self.payment_terms.data or None}


class LineForm(Form):
    """One invoice line as typed (a sub-form of :class:`InvoiceForm`, no CSRF of its own);
    the service reads and checks it (services/lines.py)."""

    description = StringField("Description", filters=[_strip], render_kw={"maxlength": 1000})
    quantity = StringField("Quantity", filters=[_strip], default="1", render_kw={"inputmode": "decimal", "size": 6})
    unit = StringField("Unit", filters=[_strip], render_kw={"maxlength": 32, "size": 6})
    unit_price = StringField("Unit price", filters=[_strip], render_kw={"inputmode": "decimal", "size": 9})
    discount = StringField("Discount", filters=[_strip], render_kw={"inputmode": "decimal", "size": 7})
    tax_rate_id = SelectField("Tax rate", choices=[], validate_choice=False)
    tax_rate = StringField("VAT %", filters=[_strip], render_kw={"inputmode": "decimal", "size": 4})


class InvoiceForm(PartiesFields, InvoicingForm):
    client_id = SelectField("Client", validators=[InputRequired("Choose the client to invoice.")], choices=[])
    amount = StringField("Amount", filters=[_strip], validators=[InputRequired("Enter an amount.")],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    currency = SelectField("Currency", choices=[])
    description = TextAreaField("Description", filters=[_strip],
                                validators=[InputRequired("Describe what the invoice is for; the client sees it.")],
                                render_kw={"rows": 4, "maxlength": DESCRIPTION_MAX})
    # The service checks the subject belongs to the workspace; the host may list
    # fewer subjects than it can look up (closed engagements), so no choice check here.
    subject_ref = SelectField("Engagement, project or proposal (optional)", choices=[], validate_choice=False)
    due_date = DateField("Due date", validators=[Optional()], format="%Y-%m-%d")
    send_method = RadioField("Send", choices=choices(SEND_METHODS.items()), default="email")
    # Lines (issue 15): none -> the amount above is one line without VAT. See web/invoice_lines.py.
    # One more than MAX_LINES is kept so that too many lines are refused, never cut (web/invoice_lines.py).
    lines = FieldList(FormField(LineForm), min_entries=0, max_entries=MAX_LINES + 1)
    # Whether this draft's unit prices are typed without or with VAT (web/invoice_lines.py).
    prices_basis = SelectField("Unit prices are typed", choices=choices(
        [("net", "without VAT (net)"), ("gross", "with VAT included (gross)")]), validate_choice=False)
    # A discount off the whole invoice, without VAT (EN 16931 BG-20); the service shares it among the rates.
    discount = StringField("Discount on the whole invoice (optional, without VAT)", filters=[_strip],
                           render_kw={"inputmode": "decimal", "autocomplete": "off"})
    # Partial payments through the pay link (issue 15); the service checks the minimum.
    allow_partial = BooleanField("Let the client pay part of the balance through the pay link")
    partial_minimum = StringField("Least part the client may pay", filters=[_strip],
                                  render_kw={"inputmode": "decimal", "autocomplete": "off", "maxlength": 32})

    def set_choices(self, clients, currencies, subjects=()) -> None:
        self.client_id.choices = choices([("", "Choose a client…")] + [(c.id, f"{c.name} <{c.email}>") for c in clients])
        self.currency.choices = choices((code, code) for code in currencies)
        self.subject_ref.choices = choices(
            [("", "None")] + [(s.ref, f"{s.kind.capitalize()}: {s.title}") for s in subjects]
        )


class DepositForm(InvoicingForm):
    basis = RadioField("Deposit", choices=choices([("percent", "A percentage of the total"), ("fixed", "A fixed amount")]),
                       default="percent")
    percent = StringField("Percentage", filters=[_strip], render_kw={"inputmode": "decimal"})
    fixed = StringField("Fixed amount", filters=[_strip], render_kw={"inputmode": "decimal"})
    due_date = DateField("Due date", validators=[Optional()], format="%Y-%m-%d")
    send_method = RadioField("Send", choices=choices(SEND_METHODS.items()), default="email")


class SendForm(InvoicingForm):
    method = RadioField("Send", choices=choices(SEND_METHODS.items()))


class ActionForm(InvoicingForm):
    """For buttons that only need CSRF protection (delete, void)."""

    reason = StringField("Reason (optional)", filters=[_strip], validators=[Optional()])


class MarkPaidForm(InvoicingForm):
    """Record a payment received outside Stripe; the service checks the amount against the balance."""

    amount = StringField("Amount received", filters=[_strip], validators=[Optional()],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    method = SelectField("Paid by", choices=choices(MANUAL_PAYMENT_METHODS.items()), default="bank_transfer")
    paid_on = DateField("Payment date", validators=[InputRequired("Enter the payment date.")], format="%Y-%m-%d")
    note = TextAreaField("Note", filters=[_strip], validators=[Optional()], render_kw={"rows": 2, "maxlength": NOTE_MAX})
    allow_overpayment = BooleanField("More than the balance was received: keep the excess as the client's credit")


class RefundForm(InvoicingForm):
    """Refund a paid invoice through Stripe; the service checks amount, reason and token."""

    amount = StringField("Amount to refund (empty: all that is left)", filters=[_strip], validators=[Optional()],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    reason = SelectField("Reason", choices=choices([("", "No reason given"), *REFUND_REASONS.items()]), default="")
    note = TextAreaField("Note (kept with the refund in Stripe)", filters=[_strip], validators=[Optional()],
                         render_kw={"rows": 2, "maxlength": REFUND_NOTE_MAX})
    request_token = HiddenField()


class CreditNoteForm(InvoicingForm):
    """A credit note on a sent invoice; the credit note service checks amount, reason and settlement."""

    amount = StringField("Amount to credit, tax included (empty: all that is left)", filters=[_strip],
                         validators=[Optional()], render_kw={"inputmode": "decimal", "autocomplete": "off"})
    reason = TextAreaField("Reason (printed on the credit note)", filters=[_strip],
                           validators=[InputRequired("Say why the invoice is credited.")],
                           render_kw={"rows": 2, "maxlength": CREDIT_REASON_MAX})
    settlement = RadioField("Settle it by", choices=choices(SETTLEMENTS.items()), validate_choice=False)
    request_token = HiddenField()


class TemplateForm(InvoicingForm):
    name = StringField("Name", filters=[_strip], validators=[InputRequired("Give the template a name.")])
    description = TextAreaField("Description", filters=[_strip], render_kw={"rows": 3, "maxlength": DESCRIPTION_MAX})
    amount = StringField("Amount (optional)", filters=[_strip], render_kw={"inputmode": "decimal"})
    currency = SelectField("Currency", choices=[])
    due_in_days = IntegerField("Due in (days, optional)", validators=[Optional(), NumberRange(0, 365, "Due in days must be from 0 to 365.")])
    send_method = RadioField("Send", choices=choices(SEND_METHODS.items()), default="email")
    # Lines (issue 15), edited as on the invoice form (web/invoice_lines.py); none: the amount above.
    lines = FieldList(FormField(LineForm), min_entries=0, max_entries=MAX_LINES + 1)


class TaxRateForm(InvoicingForm):
    """A workspace VAT rate; the tax-rates service checks the rules (rate vs category, note)."""

    name = StringField("Name", filters=[_strip], render_kw={"maxlength": 120})
    rate = StringField("Rate (%)", filters=[_strip], render_kw={"inputmode": "decimal", "maxlength": 10})
    category = SelectField("Category", choices=choices(TAX_CATEGORIES.items()), default="S")
    note = TextAreaField("Exemption reason or reverse-charge note", filters=[_strip],
                         render_kw={"rows": 2, "maxlength": TAX_NOTE_MAX})
    is_default = BooleanField("Default rate for new lines")


class PricesForm(InvoicingForm):
    prices_include_tax = RadioField("Staff type line prices", choices=choices(
        [("net", "without VAT (net)"), ("gross", "with VAT included (gross)")]), default="net")


class ReminderForm(InvoicingForm):
    """The workspace's reminder schedule: on/off and the days relative to the due date.

    The steps are checked here (whole days, in range, no duplicates, not too many:
    :func:`~invoicing_plugin.domain.reminders.parse_offsets`) and again by the service.
    """

    enabled = BooleanField("Email payment reminders to clients")
    offsets = StringField("Days relative to the due date", filters=[_strip])

    def validate_offsets(self, field) -> None:
        try:
            steps = parse_offsets(field.data or "")
        except ScheduleError as exc:
            raise ValidationError(exc.message) from None
        if self.enabled.data and not steps:
            raise ValidationError("Give at least one day to send reminders on (e.g. -3, 0, 7, 14).")


def apply_errors(form: FlaskForm, errors: dict[str, str]) -> list[str]:
    """Put service errors next to their fields; returns the ones with no field on the form."""
    unplaced = []
    for name, message in errors.items():
        field = getattr(form, name, None) if name else None
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors or []) + [message]
        else:
            unplaced.append(message)
    return unplaced


def _country_choices() -> list[SelectChoice]:
    names = Locale("en").territories
    return choices([("", "Choose a country…")] + sorted(((code, f"{names[code]} ({code})") for code in COUNTRIES),
                                                     key=lambda pair: pair[1]))


class SellerForm(InvoicingForm):
    """The workspace's seller details (EN 16931 BG-4); the seller service checks the rules."""

    legal_name = StringField("Legal name", filters=[_strip], render_kw={"maxlength": 200, "autocomplete": "organization"})
    trading_name = StringField("Trading name (optional)", filters=[_strip], render_kw={"maxlength": 200})
    address_line1 = StringField("Address line 1", filters=[_strip], render_kw={"maxlength": 200, "autocomplete": "address-line1"})
    address_line2 = StringField("Address line 2 (optional)", filters=[_strip], render_kw={"maxlength": 200, "autocomplete": "address-line2"})
    city = StringField("City", filters=[_strip], render_kw={"maxlength": 100, "autocomplete": "address-level2"})
    post_code = StringField("Post code", filters=[_strip], render_kw={"maxlength": 32, "autocomplete": "postal-code"})
    country = SelectField("Country", choices=[], validate_choice=False)  # the service checks the code
    vat_id = StringField("VAT number (optional)", filters=[_strip], render_kw={"maxlength": 32, "autocomplete": "off"})
    registration_id = StringField("Company registration number (optional)", filters=[_strip], render_kw={"maxlength": 64})
    contact_name = StringField("Contact name (optional)", filters=[_strip], render_kw={"maxlength": 200})
    contact_phone = StringField("Contact phone (optional)", filters=[_strip], render_kw={"maxlength": 64, "autocomplete": "tel"})
    contact_email = StringField("Contact email (optional)", filters=[_strip], render_kw={"maxlength": 254, "autocomplete": "email"})
    payment_terms_days = IntegerField("Payment terms (days, optional)", validators=[
        Optional(), NumberRange(0, 365, "Payment terms must be a whole number of days from 0 to 365.")])
    footer = TextAreaField("Invoice footer (optional)", filters=[_strip], render_kw={"rows": 3, "maxlength": 1000})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = _country_choices()
