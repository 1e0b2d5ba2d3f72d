"""Security settings → "Provisioning (SCIM)": its form and what the section shows."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from webapp.scim import tokens


class CreateTokenForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired(), Length(max=tokens.MAX_NAME)]
    )


def scim_base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/") + "/scim/v2"


def scim_section(session, system_id: int, **forms) -> dict:
    """The firm's live tokens, the base URL, the create form, and a token just
    made (its secret shown on this one page only)."""
    return {
        "tokens": tokens.tokens_of(session, system_id),
        "base_url": scim_base_url(),
        "form": forms.get("scim_token") or CreateTokenForm(formdata=None),
        "created": forms.get("scim_created"),
    }
