"""Passkey forms: what the browser's ceremony returns, and a passkey's name."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from webapp.passkeys.names import MAX_NAME, clean


class CeremonyForm(FlaskForm):
    """The browser's answer to a WebAuthn ceremony, as JSON (static/js/passkeys.js)."""

    credential = HiddenField(validators=[DataRequired(), Length(max=16_000)])


class NameForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[lambda value: clean(value) if isinstance(value, str) else value],
        validators=[
            DataRequired("Enter a name for this passkey."),
            Length(max=MAX_NAME, message=f"A name has at most {MAX_NAME} characters."),
        ],
    )
