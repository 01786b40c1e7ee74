"""The questionnaire form, built from a questionnaire definition for one respondent.

Field names are the item ids of DESIGN §4.4 (`self_direction`, `usefulness`, `comment`,
`quote_consent`, plus optional items). Every message a family can see is translated; a value sent
twice (`self_direction=5&self_direction=7`) is an error rather than a silent pick.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, TextAreaField
from wtforms.validators import ValidationError

from survey.answers.questionnaires import SCALE_VALUES, Item

MSG_CHOOSE_MARK = _l("Choose a mark from 1 to 10.")
MSG_ONE_MARK = _l("Choose one mark only.")


class ScaleField(RadioField):
    """A 1-10 mark as radio buttons; refuses missing, out-of-range, fractional, repeated values."""

    def __init__(self, *args: Any, required: bool = False, **kwargs: Any) -> None:
        self.values = [str(v) for v in SCALE_VALUES]
        super().__init__(*args, choices=list(self.values), validate_choice=False, **kwargs)
        self.required = required
        self.repeated = False
        self.raw_value: str | None = None  # stays None when the POST carries no form data

    def process_formdata(self, valuelist: list[str]) -> None:
        self.repeated = len(valuelist) > 1
        self.raw_value = valuelist[0] if valuelist else None
        self.data = self.raw_value

    def pre_validate(self, form: Any) -> None:
        if self.repeated:
            raise ValidationError(MSG_ONE_MARK)
        if self.raw_value in (None, ""):
            if self.required:
                raise ValidationError(MSG_CHOOSE_MARK)
            self.data = None
            return
        if self.raw_value not in self.values:
            self.data = None
            raise ValidationError(MSG_CHOOSE_MARK)

    @property
    def mark(self) -> int | None:
        """The chosen mark as a number, once validated."""
        return int(self.data) if self.data in self.values else None


class CommentField(TextAreaField):
    """Optional free text with a length limit whose message says how long it is now."""

    def __init__(self, *args: Any, max_chars: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_chars = max_chars

    def pre_validate(self, form: Any) -> None:
        length = len(self.data or "")
        if length > self.max_chars:
            raise ValidationError(
                _l(
                    "Your text is too long: %(length)s characters. The maximum is %(max)s.",
                    length=f"{length:,}".replace(",", "."),
                    max=f"{self.max_chars:,}".replace(",", "."),
                )
            )


class OptOutForm(FlaskForm):
    """The confirm button of the opt-out page (only its CSRF token is checked)."""


class QuestionnaireForm(FlaskForm):
    """Base class; `build_form` adds one field per item."""

    def answers(self) -> dict[str, int | str | bool | None]:
        """The validated answers keyed by item id."""
        result: dict[str, int | str | bool | None] = {}
        for field in self:
            if isinstance(field, ScaleField):
                result[field.name] = field.mark
            elif isinstance(field, CommentField):
                result[field.name] = field.data or ""
            elif isinstance(field, BooleanField):
                result[field.name] = bool(field.data)
        return result


def build_form(
    items: tuple[Item, ...], language: str, max_chars: int, **kwargs: Any
) -> QuestionnaireForm:
    """A form instance for `items`, labelled in `language`."""

    class _Form(QuestionnaireForm):
        pass

    for item in items:
        label = item.label[language]
        if item.type == "scale":
            field = ScaleField(label, required=item.required)
        elif item.type == "text":
            field = CommentField(label, max_chars=max_chars)
        else:
            field = BooleanField(label)
        setattr(_Form, item.id, field)
    return _Form(**kwargs)
