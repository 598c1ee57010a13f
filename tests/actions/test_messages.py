"""The actions' own messages (``actions/messages.yml``): both languages agree, and render fills them in."""

from __future__ import annotations

import pytest

from actions.compose import DETAILS
from actions.messages import catalogue, placeholders, render
from knowledge_base.models import LANGUAGES

NAMES = sorted(catalogue())


def test_there_are_messages() -> None:
    assert {
        "ask_feedback",
        "ask_which_one",
        "detail_missing",
        "handoff_started",
        "handoff_unavailable",
    } <= set(NAMES)
    assert {f"detail_{detail}" for detail in DETAILS} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_message_has_a_non_empty_text_in_french_and_in_english(name: str) -> None:
    versions = catalogue()[name]
    assert set(versions) == set(LANGUAGES)
    for language in LANGUAGES:
        assert set(versions[language]) <= {"text", "buttons"}
        assert isinstance(versions[language]["text"], str)
        assert versions[language]["text"].strip()


@pytest.mark.parametrize("name", NAMES)
def test_both_languages_expect_the_same_placeholders(name: str) -> None:
    versions = catalogue()[name]
    assert placeholders(versions["fr"]["text"]) == placeholders(versions["en"]["text"])


@pytest.mark.parametrize("name", NAMES)
def test_both_languages_have_the_same_buttons(name: str) -> None:
    versions = catalogue()[name]
    french, english = (versions[language].get("buttons", []) for language in ("fr", "en"))
    assert [button["payload"] for button in french] == [button["payload"] for button in english]
    for button in [*french, *english]:
        assert set(button) == {"title", "payload"}
        assert button["title"].strip()
        assert button["payload"].startswith("/")


@pytest.mark.parametrize(
    ("name", "placeholder"),
    [("detail_cost", "cost"), ("detail_where", "where"), ("handoff_started", "queue_position")],
)
def test_detail_and_handoff_messages_expect_their_values(name: str, placeholder: str) -> None:
    assert placeholder in placeholders(catalogue()[name]["fr"]["text"])


def test_the_feedback_question_offers_yes_and_no() -> None:
    assert render("ask_feedback", "en") == {
        "text": "Did this answer help you?",
        "buttons": [{"title": "Yes, thanks", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
        "metadata": {"language": "en"},
    }
    assert [button["payload"] for button in render("ask_feedback", "fr")["buttons"]] == ["/affirm", "/deny"]


def test_render_fills_in_the_placeholders() -> None:
    rendered = render("detail_cost", "fr", title="Passeport", cost="86 €")
    assert rendered == {"text": "**Passeport** — coût : 86 €", "buttons": [], "metadata": {"language": "fr"}}
    started = render("handoff_started", "en", queue_position=3)
    assert "You are number 3 in the queue" in started["text"]
    assert "{" not in started["text"]


def test_render_gives_copies_of_the_buttons() -> None:
    render("ask_feedback", "fr")["buttons"][0]["payload"] = "/changed"
    assert render("ask_feedback", "fr")["buttons"][0]["payload"] == "/affirm"


def test_a_missing_placeholder_raises_key_error() -> None:
    with pytest.raises(KeyError, match="queue_position"):
        render("handoff_started", "fr")


@pytest.mark.parametrize(("name", "language"), [("no_such_message", "fr"), ("ask_feedback", "de")])
def test_an_unknown_message_or_language_raises_key_error(name: str, language: str) -> None:
    with pytest.raises(KeyError):
        render(name, language)
