"""Flask-WTF forms.

CSRFProtect is global, so button-only forms (approve, accept, sign out) need no form
class: their templates just include ``csrf_token()``.
"""

from __future__ import annotations

from decimal import Decimal

from flask import has_request_context, request
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, NumberRange, ValidationError

#: Currencies offered for proposals (all with two decimal places).
CURRENCIES = ("GBP", "USD", "EUR")


_FROM_REQUEST = object()


class TextForm(FlaskForm):
    """A form fed only by the posted HTML form's text fields (``request.form``).

    Flask-WTF also reads multipart file parts and JSON bodies into the fields, which
    hands files, numbers or lists to code that expects text (a 500): not here.
    """

    def __init__(self, formdata=_FROM_REQUEST, **kwargs) -> None:
        if formdata is _FROM_REQUEST:
            posted = has_request_context() and request.method in ("POST", "PUT", "PATCH", "DELETE")
            formdata = (request.form or None) if posted else None
        super().__init__(formdata=formdata, **kwargs)


class LoginForm(TextForm):
    email = EmailField("Email", validators=[DataRequired(), Email()])
    password = PasswordField("Password", validators=[DataRequired()])


class ClientForm(TextForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Billing email", validators=[DataRequired(), Email(), Length(max=255)])


class ProposalForm(TextForm):
    client_id = SelectField("Client", coerce=int, validators=[DataRequired()])
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    total = DecimalField("Total", places=2, validators=[DataRequired(), NumberRange(min=Decimal("0.01"))])
    currency = SelectField("Currency", choices=CURRENCIES)
    approved = BooleanField("Approved internally")

    def validate_total(self, field) -> None:
        if field.data is not None and field.data != field.data.quantize(Decimal("0.01")):
            raise ValidationError("Use at most two decimal places.")

    @property
    def total_minor(self) -> int:
        """The total in minor units (pence, cents)."""
        return int(self.total.data * 100)

