"""Admin forms, and the labels of the admin pages' choices (their words are the
UI contract: tests find controls by them)."""

from __future__ import annotations

from typing import NamedTuple

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.accounts import NAME_CONTROL_CHARACTERS
from webapp.admin.security_settings import MAX_GRACE_DAYS
from webapp.admin.user_list import UserFilter
from webapp.countries import COUNTRIES
from webapp.models import AccountingLink, HeadsUpKind, Role
from webapp.plain_text import has_control_characters

BILLING_LABEL = "I accept the billing changes and understand the terms of use"

# The users list: column headers (sort keys), filters and their choices, views.
SORT_LABELS = {
    "name": "Name",
    "email": "Email",
    "role": "Role",
    "active": "Active",
    "mfa": "MFA",
    "last_sign_in": "Last sign-in",
}
FILTER_CHOICES = {
    "mfa": {
        "": "Any MFA state",
        "off": "MFA not enabled",
        "on": "MFA enabled",
        "overdue": "Past enrolment deadline",
        "locked": "Locked out right now",
    },
    "role": {"": "Any role", "admin": "Admins", "user": "Users"},
    "active": {"": "Active and inactive", "yes": "Active", "no": "Inactive"},
}
FILTER_LABELS = {"mfa": "MFA state", "role": "Role", "active": "Active"}
BUILTIN_VIEWS = (("Users without MFA", UserFilter(mfa="off", active="yes").view_query()),)
# The adoption panel's tiles: label, and the filter each applies to the list (active
# users, as the tiles count).
ADOPTION_TILES = {
    "adoption": ("MFA adoption", UserFilter(mfa="on", active="yes").view_query()),
    "without_mfa": ("Users without MFA", UserFilter(mfa="off", active="yes").view_query()),
    "past_deadline": (
        "Past enrolment deadline",
        UserFilter(mfa="overdue", active="yes").view_query(),
    ),
    "locked_out": ("Locked out right now", UserFilter(mfa="locked", active="yes").view_query()),
}


class ViewOption(NamedTuple):
    """An entry of the "List view" picker: a name and the filters and sort it applies."""

    name: str
    query: str


def view_options(views) -> list[ViewOption]:
    """ "All users", the built-in views, then the saved ones the admin can see."""
    return [
        ViewOption("All users", ""),
        *(ViewOption(name, query) for name, query in BUILTIN_VIEWS),
        *(
            ViewOption(f"{view.name} (shared)" if view.shared else view.name, view.query)
            for view in views
        ),
    ]


ACCOUNTING_LABELS = {
    AccountingLink.XERO.value: "Xero",
    AccountingLink.OTHER.value: "Other accounting",
    AccountingLink.NONE.value: "None",
}


def single_line(form, field) -> None:
    """Refuse control characters (line breaks, tabs …): names stay one line."""
    if has_control_characters(field.data or ""):
        raise ValidationError(NAME_CONTROL_CHARACTERS)


class EditUserForm(FlaskForm):
    display_name = StringField(
        "Display name",
        validators=[InputRequired("Enter a name."), Length(max=200), single_line],
    )
    role = SelectField("Role", choices={Role.USER.value: "User", Role.ADMIN.value: "Admin"})
    active = BooleanField("Active")
    mfa_enabled = BooleanField("MFA Enabled")
    accept_billing = BooleanField(BILLING_LABEL)


class AddUserForm(FlaskForm):
    email = StringField("Email", validators=[InputRequired("Enter an email."), Length(max=254)])
    display_name = StringField(
        "Display name",
        validators=[InputRequired("Enter a name."), Length(max=200), single_line],
    )
    role = SelectField("Role", choices={Role.USER.value: "User", Role.ADMIN.value: "Admin"})


class ImportUsersForm(FlaskForm):
    file = FileField(
        "CSV file",
        validators=[
            FileRequired("Choose a CSV file."),
            FileAllowed(["csv", "txt"], "Choose a .csv file."),
        ],
    )


class EnforcementForm(FlaskForm):
    required = BooleanField("Require multi-factor authentication for all users")
    grace_days = IntegerField(
        "Grace period (days)",
        default=0,
        validators=[
            InputRequired("Enter a number of days (0 for the next sign-in)."),
            NumberRange(0, MAX_GRACE_DAYS, f"Enter 0 to {MAX_GRACE_DAYS} days."),
        ],
    )


class SystemForm(FlaskForm):
    country = SelectField(
        "Country", choices=dict(sorted(COUNTRIES.items(), key=lambda item: item[1]))
    )
    accounting = SelectField("Accounting link", choices=dict(ACCOUNTING_LABELS))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class HeadsUpForm(FlaskForm):
    enabled = BooleanField("Send the daily heads-up email")
    kind = SelectField(
        "Report users",
        choices={
            HeadsUpKind.WITHOUT_MFA.value: "Users without MFA",
            HeadsUpKind.WITH_MFA.value: "Users with MFA",
        },
    )
    hour = SelectField(
        "Hour (local time)",
        coerce=int,
        choices={str(hour): f"{hour:02d}:00" for hour in range(24)},
    )
    recipients = RadioField(
        "Recipients",
        choices={"all": "All active admins", "chosen": "Only the admins chosen below"},
        default="all",
    )
    admins = MultiCheckboxField("Chosen admins", coerce=int, choices={})
    send_all_clear = BooleanField("Also send when nobody matches (an all-clear email)")


class SaveViewForm(FlaskForm):
    name = StringField("View name", validators=[InputRequired("Name the view."), Length(max=100)])
    shared = BooleanField("Share with all admins")
    query = HiddenField()


class RenameViewForm(FlaskForm):
    name = StringField("New name", validators=[InputRequired("Name the view."), Length(max=100)])
