"""Security settings → "Provisioning (SCIM)": its forms, what the section shows,
and its one setting (whether users the identity provider adds are invited)."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from sqlmodel import Session
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from webapp import audit
from webapp.audit import Action
from webapp.models import System, User
from webapp.scim import tokens


class CreateTokenForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=tokens.MAX_NAME)])


class InvitationsForm(FlaskForm):
    send_invitations = BooleanField("Email an invitation to users your identity provider adds")


def scim_base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/") + "/scim/v2"


def scim_section(session, system_id: int, **forms) -> dict:
    """The firm's live tokens, the base URL, the forms, and a token just
    made (its secret shown on this one page only)."""
    system = session.get(System, system_id)
    return {
        "tokens": tokens.tokens_of(session, system_id),
        "base_url": scim_base_url(),
        "form": forms.get("scim_token") or CreateTokenForm(formdata=None),
        "invitations": forms.get("scim_invitations")
        or InvitationsForm(formdata=None, send_invitations=system.scim_invitations),
        "created": forms.get("scim_created"),
    }


def set_invitations(session: Session, system: System, *, admin: User, send: bool) -> bool:
    """Whether users SCIM creates get an invitation email (`webapp.scim.users.
    after_provisioning`); audited when it changes. True if it changed."""
    if system.scim_invitations == send:
        return False
    system.scim_invitations = send
    session.add(system)
    audit.record(
        session, Action.SCIM_INVITATIONS_CHANGED, actor=admin, system=system, send_invitations=send
    )
    return True
