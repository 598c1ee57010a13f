"""The citizen's verdict on an answer, sent to the API for the knowledge base's editors."""

from __future__ import annotations

from typing import Any

import pytest

from actions.feedback import ActionFeedback, feedback_payload
from api.config import get_settings
from tests.actions.conftest import Conversation
from tests.actions.helpers import (
    AFTER_AN_ANSWER,
    QUESTION,
    ApiServer,
    Event,
    action,
    bot,
    closed_port,
    run,
    slot,
    tracker,
    user,
)
from tests.api.helpers import run_sql

AFTER_A_CHOSEN_ANSWER: list[Event] = [
    action("action_listen"),
    user("je veux m'inscrire", "ask_procedure"),
    action("action_answer_question"),
    slot("outcome", "ambiguous"),
    bot("Votre question peut concerner plusieurs démarches. Laquelle vous intéresse ?"),
    action("action_listen"),
    user(
        '/ask_procedure{"procedure":"voter-registration"}',
        "ask_procedure",
        {"procedure": "voter-registration"},
    ),
    action("action_answer_question"),
    slot("outcome", "answered"),
    slot("procedure", "voter-registration"),
    bot("Inscrivez-vous…"),
    bot("Cette réponse vous a-t-elle aidé ?"),
    action("action_listen"),
]


@pytest.mark.parametrize(
    ("text", "intent", "helpful"), [("/affirm", "affirm", True), ("/deny", "deny", False)]
)
def test_the_payload_carries_the_verdict_the_entry_and_the_question(
    text: str, intent: str, helpful: bool
) -> None:
    judged = tracker(
        text,
        intent,
        slots={"procedure": "passport", "outcome": "answered", "language": "en"},
        events=AFTER_AN_ANSWER,
        sender_id="abc123",
    )
    assert feedback_payload(judged) == {
        "conversation_id": "abc123",
        "helpful": helpful,
        "slug": "passport",
        "question": QUESTION,
        "comment": None,
        "language": "en",
    }


def test_the_question_of_an_answer_chosen_with_a_button_is_the_one_typed_before() -> None:
    judged = tracker("non", "deny", slots={"procedure": "voter-registration"}, events=AFTER_A_CHOSEN_ANSWER)
    payload = feedback_payload(judged)
    assert payload["question"] == "je veux m'inscrire"
    assert payload["slug"] == "voter-registration"


def feedback_of(server: ApiServer, conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation's stored feedback."""
    return run_sql(
        server.settings,
        "SELECT helpful, slug, question, comment, language, source, message_seq FROM feedback "
        "WHERE conversation_id = :id",
        id=conversation.id,
    )


def test_a_no_is_stored_as_not_helpful_with_the_entry_and_the_question(
    api_server: ApiServer, conversation: Conversation
) -> None:
    judged = tracker(
        "/deny",
        "deny",
        slots={"procedure": "passport", "outcome": "answered"},
        events=AFTER_AN_ANSWER,
        sender_id=conversation.id,
    )
    messages, events = run(ActionFeedback(), judged)
    assert messages == []
    assert events == []
    assert feedback_of(api_server, conversation) == [
        {
            "helpful": False,
            "slug": "passport",
            "question": QUESTION,
            "comment": None,
            "language": "fr",
            "source": "bot",
            "message_seq": None,
        }
    ]


def test_a_yes_is_stored_as_helpful(api_server: ApiServer, conversation: Conversation) -> None:
    judged = tracker(
        "oui merci",
        "affirm",
        slots={"procedure": "passport", "outcome": "answered", "language": "en"},
        events=AFTER_AN_ANSWER,
        sender_id=conversation.id,
    )
    run(ActionFeedback(), judged)
    [stored] = feedback_of(api_server, conversation)
    assert (stored["helpful"], stored["slug"], stored["language"]) == (True, "passport", "en")


def test_an_unreachable_api_loses_the_verdict_silently(
    api_server: ApiServer, conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    judged = tracker(
        "/deny", "deny", slots={"procedure": "passport"}, events=AFTER_AN_ANSWER, sender_id=conversation.id
    )
    with closed_port() as port:
        monkeypatch.setenv("GUICHET_API_URL", f"http://127.0.0.1:{port}")
        get_settings.cache_clear()
        messages, events = run(ActionFeedback(), judged)
    assert (messages, events) == ([], [])
    assert feedback_of(api_server, conversation) == []


def test_a_refused_call_loses_the_verdict_silently(
    api_server: ApiServer, conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUICHET_WEBHOOK_SECRET", "not-the-api-s-secret")
    get_settings.cache_clear()
    judged = tracker(
        "/deny", "deny", slots={"procedure": "passport"}, events=AFTER_AN_ANSWER, sender_id=conversation.id
    )
    assert run(ActionFeedback(), judged) == ([], [])
    assert feedback_of(api_server, conversation) == []
