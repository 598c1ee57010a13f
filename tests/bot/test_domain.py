"""The domain speaks both languages everywhere, and says which one it speaks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((REPO / "bot" / "domain.yml").read_text(encoding="utf-8"))
RESPONSES: dict[str, list[dict[str, Any]]] = DOMAIN["responses"]


def language_condition(variation: dict[str, Any]) -> str | None:
    for condition in variation.get("condition") or []:
        if condition.get("type") == "slot" and condition.get("name") == "language":
            return str(condition["value"])
    return None


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_every_response_has_a_french_default_and_an_english_variation(name: str) -> None:
    variations = RESPONSES[name]
    conditions = [language_condition(v) for v in variations]
    assert conditions.count(None) == 1, f"{name}: exactly one default (French) variation"
    assert "en" in conditions, f"{name}: an English variation conditioned on the language slot"


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_response_metadata_names_the_language_of_its_variation(name: str) -> None:
    for variation in RESPONSES[name]:
        expected = language_condition(variation) or "fr"
        assert (variation.get("metadata") or {}).get("language") == expected, name
        assert variation.get("text", "").strip(), f"{name}: empty text"


def test_language_slot_is_filled_from_the_detected_entity_and_does_not_steer_the_dialogue() -> None:
    slot = DOMAIN["slots"]["language"]
    assert slot["values"] == ["fr", "en"]
    assert slot["influence_conversation"] is False
    assert {"type": "from_entity", "entity": "language"} in slot["mappings"]
    entity = next(e for e in DOMAIN["entities"] if isinstance(e, dict) and "language" in e)
    assert entity["language"]["influence_conversation"] is False


def test_issue_intents_are_declared() -> None:
    required = {"greet", "goodbye", "thanks", "ask_procedure", "request_human", "out_of_scope"}
    assert required <= set(DOMAIN["intents"])
