"""The password forms: "Forgot your password?", "Set a new password", "Change password"."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from webapp.passwords.rules import MISMATCH

# Longer input is refused by the rules with a message; far longer is not a password.
INPUT_MAX = 1024


def new_password_fields():
    new = PasswordField(
        "New password",
        validators=[DataRequired("Enter a new password."), Length(max=INPUT_MAX)],
    )
    confirm = PasswordField(
        "Confirm new password",
        validators=[
            DataRequired("Enter the new password again."),
            EqualTo("new_password", MISMATCH),
        ],
    )
    return new, confirm


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email."), Length(max=254)])


class SetPasswordForm(FlaskForm):
    new_password, confirm_password = new_password_fields()


class ChangePasswordForm(FlaskForm):
    # Not "current_password": that is the step-up's password proof, which it
    # keeps out of the fields it posts again.
    old_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password."), Length(max=INPUT_MAX)],
    )
    new_password, confirm_password = new_password_fields()
