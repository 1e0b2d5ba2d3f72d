"""Sign-in forms: the password step, then the code step."""

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length

from webapp.mfa.forms import RECOVERY_CODE_INPUT, code_field, recovery_code, six_digit_code


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email."), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=1024)]
    )
    next = HiddenField()


class VerifyForm(FlaskForm):
    code = code_field("Verification code", six_digit_code)


class RecoveryForm(FlaskForm):
    code = code_field("Recovery code", recovery_code, RECOVERY_CODE_INPUT)
