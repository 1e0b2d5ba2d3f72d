"""Code fields (shared with the sign-in code step) and My Profile MFA forms."""

import re

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, StopValidation, ValidationError

from webapp.mfa.recovery import is_recovery_code_shaped

DIGITS = re.compile(r"^[0-9]*$")


def no_spaces(value):
    """Codes are often typed or pasted as '123 456'."""
    return value.replace(" ", "").strip() if isinstance(value, str) else value


def six_digit_code(form, field) -> None:
    """A code from the app: exactly six ASCII digits, with a message per mistake."""
    value = field.data or ""
    if not value:
        raise StopValidation("Enter the 6-digit code from your authenticator app.")
    if not DIGITS.match(value):
        raise ValidationError("The code is made of digits only.")
    if len(value) != 6:
        raise ValidationError("The code has 6 digits.")


def recovery_code(form, field) -> None:
    if not field.data:
        raise StopValidation("Enter one of your recovery codes.")
    if not is_recovery_code_shaped(field.data):
        raise ValidationError("A recovery code has 10 letters and digits, like abcde-23456.")


def app_or_recovery_code(form, field) -> None:
    """Either a 6-digit code from the app or a recovery code."""
    if field.data and is_recovery_code_shaped(field.data):
        return
    six_digit_code(form, field)


# What a code field lets a person type: as long as the longest valid entry
# ("123 456" for an app's code, "abcde-23456" for a recovery code), the keyboard
# that suits it, and the browser's one-time-code autofill.
APP_CODE_INPUT = {"inputmode": "numeric", "maxlength": 7, "autocomplete": "one-time-code"}
RECOVERY_CODE_INPUT = {
    "inputmode": "text",
    "maxlength": 11,
    "autocomplete": "off",
    "autocapitalize": "none",
    "spellcheck": "false",
}
# An app code or a recovery code, in one field (Deactivate).
ANY_CODE_INPUT = {**RECOVERY_CODE_INPUT, "autocomplete": "one-time-code"}


def code_field(label: str, check, render_kw: dict = APP_CODE_INPUT) -> StringField:
    return StringField(
        label, validators=[check, Length(max=40)], filters=[no_spaces], render_kw=dict(render_kw)
    )


class SetupForm(FlaskForm):
    first_code = code_field("First code", six_digit_code)
    second_code = code_field("Second code", six_digit_code)


class DeactivateForm(FlaskForm):
    code = code_field("Authentication code", app_or_recovery_code, ANY_CODE_INPUT)


class RecoveryCodesForm(FlaskForm):
    code = code_field("Authentication code", six_digit_code)
