"""Start-up checks: unsafe configuration and broken questionnaires stop the app before use."""

from __future__ import annotations

import copy
import json

import pytest

from survey import create_app
from survey.answers.questionnaires import (
    DEFINITION_DIR,
    QuestionnaireError,
    load_questionnaires,
    parse_questionnaire,
)
from survey.config import ConfigError, load_config


def test_production_refuses_to_start_without_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("ERVARINGSWIJZER_DEMO", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


def test_demo_mode_starts_without_secret_key_and_labels_pages(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("ERVARINGSWIJZER_DEMO", "1")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["SECRET_KEY"]
    page = app.test_client().get("/").get_data(as_text=True)
    assert "verzonnen" in page
    app.extensions["db_engine"].dispose()


def test_environment_variables_of_the_contract_are_read(tmp_path):
    config = load_config(
        tmp_path,
        {
            "PUBLIC_BASE_URL": "https://enquete.example.nl/",
            "MIN_CELL_SIZE": "10",
            "EXPIRE_AFTER_DAYS": "14",
            "SMTP_HOST": "smtp.example.nl",
            "SMTP_STARTTLS": "true",
        },
    )
    assert config["PUBLIC_BASE_URL"] == "https://enquete.example.nl"
    assert config["MIN_CELL_SIZE"] == 10
    assert config["EXPIRE_AFTER_DAYS"] == 14
    assert config["SMTP_PORT"] == 587
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'ervaringswijzer.db'}"
    assert config["MAIL_FILE_DIR"] == str(tmp_path / "outbox")


def test_a_non_number_setting_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="REMINDER_AFTER_DAYS"):
        load_config(tmp_path, {"REMINDER_AFTER_DAYS": "zeven"})


def test_shipped_questionnaires_have_the_contract_items_in_both_languages():
    questionnaires = load_questionnaires()
    assert {q.name for q in questionnaires.values()} == {"youth-v1", "parent-v1"}
    for questionnaire in questionnaires.values():
        ids = [item.id for item in questionnaire.items]
        assert ids[:2] == ["self_direction", "usefulness"]
        assert {"comment", "quote_consent"} <= set(ids)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: d["items"][0]["label"].pop("en"), "no en text"),
        (lambda d: d["items"].pop(1), "usefulness"),
        (lambda d: d["items"][0].update(required=False), "required scale item 'self_direction'"),
        (lambda d: d["items"][2].update(id="Listened-Well"), "snake_case"),
        (lambda d: d.update(respondent_group="child"), "respondent_group"),
    ],
)
def test_broken_definition_is_refused_with_the_reason(breakage, message):
    definition = json.loads((DEFINITION_DIR / "parent-v1.json").read_text(encoding="utf-8"))
    broken = copy.deepcopy(definition)
    breakage(broken)
    with pytest.raises(QuestionnaireError, match=message):
        parse_questionnaire(broken, "parent-v1.json")
