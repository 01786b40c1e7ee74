"""Versioned questionnaire definitions (DESIGN §5) and their loader.

Each `<key>-v<version>.json` file beside this module defines one questionnaire for one respondent
group, with Dutch and English texts. `load_questionnaires` validates every file at start-up so
that a broken definition stops the app before a family sees it. A response records the key and
version it answered, so a new version never breaks comparisons with older answers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from survey.enums import Group
from survey.models import LANGUAGES

DEFINITION_DIR = Path(__file__).parent
ITEM_TYPES = {"scale", "text", "consent"}
ITEM_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# The contract of DESIGN §4.4: these items exist in every questionnaire with these types.
CONTRACT_ITEMS = {
    "self_direction": ("scale", True),
    "usefulness": ("scale", True),
    "comment": ("text", False),
    "quote_consent": ("consent", False),
}
SCALE_VALUES = tuple(range(1, 11))


class QuestionnaireError(ValueError):
    """A questionnaire definition file is invalid; the message names the file and the problem."""


@dataclass(frozen=True)
class Item:
    """One question: a 1-10 scale, an open text or the quote-consent checkbox."""

    id: str
    type: str
    required: bool
    label: dict[str, str]
    hint: dict[str, str]
    low: dict[str, str]
    high: dict[str, str]
    min_youth_age: int | None = None

    def shown_to(self, youth_age: int | None, respondent_group: str) -> bool:
        """Whether this item is on the page for a respondent (age limits apply to youths only)."""
        if self.min_youth_age is None or respondent_group != Group.YOUTH:
            return True
        return youth_age is not None and youth_age >= self.min_youth_age


@dataclass(frozen=True)
class Questionnaire:
    """A versioned questionnaire for one respondent group."""

    key: str
    version: int
    respondent_group: str
    title: dict[str, str]
    intro: dict[str, str]
    items: tuple[Item, ...]

    @property
    def name(self) -> str:
        """The file-style name, e.g. `parent-v1`."""
        return f"{self.key}-v{self.version}"

    def items_for(self, youth_age: int | None) -> tuple[Item, ...]:
        """The items shown to a respondent of this group with this youth age."""
        return tuple(i for i in self.items if i.shown_to(youth_age, self.respondent_group))


def _texts(raw: dict, field: str, where: str, required: bool = True) -> dict[str, str]:
    value = raw.get(field)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise QuestionnaireError(f"{where}: '{field}' must map each language to a text")
    for lang in LANGUAGES:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            raise QuestionnaireError(f"{where}: '{field}' has no {lang} text")
    return {lang: value[lang] for lang in LANGUAGES}


def _item(raw: dict, where: str) -> Item:
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not ITEM_ID.match(item_id):
        raise QuestionnaireError(f"{where}: item id {item_id!r} is not snake_case")
    where = f"{where}, item {item_id}"
    item_type = raw.get("type")
    if item_type not in ITEM_TYPES:
        raise QuestionnaireError(f"{where}: type must be one of {sorted(ITEM_TYPES)}")
    is_scale = item_type == "scale"
    min_age = raw.get("min_youth_age")
    if min_age is not None and not isinstance(min_age, int):
        raise QuestionnaireError(f"{where}: min_youth_age must be a whole number")
    return Item(
        id=item_id,
        type=item_type,
        required=bool(raw.get("required", False)),
        label=_texts(raw, "label", where),
        hint=_texts(raw, "hint", where, required=False),
        low=_texts(raw, "low", where, required=is_scale),
        high=_texts(raw, "high", where, required=is_scale),
        min_youth_age=min_age,
    )


def parse_questionnaire(raw: dict, where: str) -> Questionnaire:
    """Validate one definition (already parsed from JSON) and return it."""
    group = raw.get("respondent_group")
    if group not in tuple(Group):
        raise QuestionnaireError(f"{where}: respondent_group must be one of {tuple(Group)}")
    version = raw.get("version")
    if not isinstance(version, int) or version < 1:
        raise QuestionnaireError(f"{where}: version must be a whole number from 1")
    key = raw.get("key")
    if not isinstance(key, str) or not ITEM_ID.match(key):
        raise QuestionnaireError(f"{where}: key must be snake_case")
    items = tuple(_item(i, where) for i in raw.get("items", []))
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise QuestionnaireError(f"{where}: item ids must be unique")
    by_id = {i.id: i for i in items}
    for item_id, (item_type, required) in CONTRACT_ITEMS.items():
        item = by_id.get(item_id)
        if item is None or item.type != item_type or item.required != required:
            need = "required" if required else "optional"
            raise QuestionnaireError(f"{where}: needs a {need} {item_type} item '{item_id}'")
    return Questionnaire(
        key=key,
        version=version,
        respondent_group=group,
        title=_texts(raw, "title", where),
        intro=_texts(raw, "intro", where),
        items=items,
    )


def load_questionnaires(directory: Path = DEFINITION_DIR) -> dict[str, Questionnaire]:
    """Load and validate every definition; return the newest version per respondent group."""
    current: dict[str, Questionnaire] = {}
    for path in sorted(directory.glob("*-v*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise QuestionnaireError(f"{path.name}: cannot be read: {exc}") from exc
        questionnaire = parse_questionnaire(raw, path.name)
        if path.stem != questionnaire.name:
            raise QuestionnaireError(f"{path.name}: file name must be {questionnaire.name}.json")
        known = current.get(questionnaire.respondent_group)
        if known is None or questionnaire.version > known.version:
            current[questionnaire.respondent_group] = questionnaire
    missing = set(Group) - set(current)
    if missing:
        raise QuestionnaireError(f"no questionnaire for {sorted(missing)} in {directory}")
    return current
