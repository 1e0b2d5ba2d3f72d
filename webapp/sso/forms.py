"""Single sign-on forms (labels are the UI contract of the single sign-on issue)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.models import SsoConfig
from webapp.sso import flow, settings
from webapp.sso.settings import REQUIREMENT_LABELS


class WorkEmailForm(FlaskForm):
    email = EmailField(
        "Work email", validators=[DataRequired("Enter your work email."), Length(max=254)]
    )
    next = HiddenField()


class ProviderForm(FlaskForm):
    issuer = StringField(
        "Issuer URL", validators=[InputRequired("Enter the Issuer URL."), Length(max=500)]
    )
    client_id = StringField(
        "Client ID", validators=[InputRequired("Enter the Client ID."), Length(max=255)]
    )
    # Only while no secret is saved; afterwards "Replace secret" (SecretForm).
    client_secret = PasswordField("Client secret", validators=[Length(max=1000)])
    domains = StringField(
        "Email domains",
        validators=[InputRequired("Enter at least one email domain."), Length(max=2000)],
    )


class SecretForm(FlaskForm):
    client_secret = PasswordField(
        "Client secret",
        validators=[InputRequired("Enter the new client secret."), Length(max=1000)],
    )


class RequirementForm(FlaskForm):
    requirement = RadioField("Sign-in requirement", choices=REQUIREMENT_LABELS)
    break_glass = SelectMultipleField(
        "Break-glass admins",
        coerce=int,
        choices={},
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    provider_enforces_mfa = BooleanField("Our provider enforces MFA")
    create_users = BooleanField("Create users on first sign-in")


def settings_section(session, system_id: int, **forms) -> dict:
    """What Security settings shows under "Single sign-on" (submitted forms win)."""
    config: SsoConfig | None = settings.config_of(session, system_id)
    domains = ", ".join(flow.firm_domains(session, system_id)) if config else ""
    provider = forms.get("sso_provider") or ProviderForm(
        formdata=None,
        issuer=config.issuer if config else "",
        client_id=config.client_id if config else "",
        domains=domains,
    )
    requirement = forms.get("sso_requirement") or RequirementForm(
        formdata=None,
        requirement=config.requirement if config else "mfa",
        break_glass=config.break_glass_ids if config else [],
        provider_enforces_mfa=config.provider_enforces_mfa if config else False,
        create_users=config.create_users if config else False,
    )
    requirement.break_glass.choices = settings.break_glass_choices(session, system_id)
    return {
        "config": config,
        "redirect_uri": flow.redirect_uri(),
        "provider": provider,
        "secret": forms.get("sso_secret"),
        "requirement": requirement,
    }
