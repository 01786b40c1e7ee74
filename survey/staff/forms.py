"""Staff forms (Flask-WTF, CSRF on every POST). Messages are translated."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from survey.enums import Role

ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.QUALITY: _l("Quality staff"),
    Role.COMMUNICATIONS: _l("Communications staff"),
    Role.VIEWER: _l("Viewer (figures only)"),
}


class SignInForm(FlaskForm):
    """Email and password."""

    email = StringField(_l("Email address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    """A 6-digit code from the authenticator app."""

    code = StringField(
        _l("Code from your authenticator app"), validators=[DataRequired(), Length(max=12)]
    )


class PasswordChangeForm(FlaskForm):
    """Current and new password."""

    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1024)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)])


class ChoosePasswordForm(FlaskForm):
    """A new password, typed twice (from an invitation or a reset link)."""

    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)])
    repeat = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(),
            EqualTo("new", message=_l("The two passwords are not the same.")),
        ],
    )


class ForgotPasswordForm(FlaskForm):
    """The address to send a reset link to."""

    email = StringField(_l("Email address"), validators=[DataRequired(), Length(max=254)])


class UploadForm(FlaskForm):
    """An episode CSV export, and (when there are several) the provider it comes from."""

    file = FileField(_l("CSV file with ended trajectories"), validators=[FileRequired()])
    provider = SelectField(_l("Care provider"), choices=[], validate_choice=False)


class NewUserForm(FlaskForm):
    """A new staff account: the colleague gets an invitation link and chooses the password."""

    email = StringField(_l("Email address"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(
        _l("Role"), choices=[role.value for role in Role], validators=[DataRequired()]
    )
    # "" is the whole region; the choices are the managed municipalities (set by the view).
    municipality = SelectField(_l("Sees figures of"), choices=[SelectChoice("", "")], default="")
    # "" is every provider; the choices are the providers (set by the view).
    provider = SelectField(_l("Works for"), choices=[SelectChoice("", "")], default="")


class UserActionForm(FlaskForm):
    """A button on the users page: change role, (de)activate, reset the second factor."""

    action = SelectField(choices=["set_role", "deactivate", "activate", "reset_mfa", "invite"])
    role = SelectField(choices=[role.value for role in Role])


class ButtonForm(FlaskForm):
    """A form that is only a button (its CSRF token is what counts)."""


class QuoteDecisionForm(FlaskForm):
    """One quote in the review queue: its (editable) text and the decision button pressed."""

    text = TextAreaField(
        _l("Text of the quote"), validators=[DataRequired(_l("The quote cannot be empty."))]
    )
    action = SelectField(choices=["approve", "reject", "save"])
