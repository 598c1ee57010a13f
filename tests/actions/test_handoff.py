"""Handing the conversation to an agent: why, what the API is told, and what the citizen hears."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from actions.handoff import ActionHandoff, handoff_payload, handoff_reason
from actions.messages import render
from api.config import get_settings
from tests.actions.conftest import Conversation
from tests.actions.helpers import (
    AFTER_AN_ANSWER,
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

#: The citizen asked a question; it was answered; the citizen said it did not help; the bot offered a person.
AFTER_AN_UNHELPFUL_ANSWER: list[Event] = [
    *AFTER_AN_ANSWER,
    user("/deny", "deny"),
    action("action_feedback"),
    action("utter_feedback_noted"),
    bot("Merci de me l'avoir dit…"),
    action("utter_offer_human"),
    bot("Voulez-vous que je vous mette en relation avec un agent de la mairie ?"),
    action("action_listen"),
]

#: The citizen complained; the bot apologised and offered a person.
AFTER_A_COMPLAINT: list[Event] = [
    action("action_listen"),
    user("ça ne marche jamais votre truc", "complain"),
    action("utter_apologise"),
    bot("Je suis désolé que cela ne se passe pas bien."),
    action("utter_offer_human"),
    bot("Voulez-vous que je vous mette en relation avec un agent de la mairie ?"),
    action("action_listen"),
]

#: The bot was unsure twice in a row, then offered a person.
AFTER_TWO_UNSURE_TURNS: list[Event] = [
    action("action_listen"),
    user("le truc pour la chose", "nlu_fallback"),
    action("action_answer_question"),
    slot("outcome", "unsure"),
    slot("failures", 1.0),
    action("utter_ask_rephrase"),
    bot("Je ne suis pas sûr d'avoir compris."),
    action("action_listen"),
    user("le machin de la mairie", "ask_procedure"),
    action("action_answer_question"),
    slot("outcome", "unsure_again"),
    slot("failures", 2.0),
    action("utter_still_unsure"),
    bot("Désolé, je ne trouve toujours pas de réponse sûre à votre question."),
    action("utter_offer_human"),
    bot("Voulez-vous que je vous mette en relation avec un agent de la mairie ?"),
    action("action_listen"),
]


@pytest.mark.parametrize(
    ("events", "text", "intent", "reason"),
    [
        pytest.param([action("action_listen")], "je veux parler à quelqu'un", "request_human", "requested"),
        pytest.param(AFTER_A_COMPLAINT, "oui", "affirm", "frustration", id="after a complaint"),
        pytest.param(
            AFTER_AN_UNHELPFUL_ANSWER, "oui", "affirm", "not_helpful", id="after an unhelpful answer"
        ),
        pytest.param(AFTER_TWO_UNSURE_TURNS, "oui", "affirm", "unsure", id="after two unsure turns"),
    ],
)
def test_the_reason_comes_from_what_led_to_the_offer(
    events: list[Event], text: str, intent: str, reason: str
) -> None:
    assert handoff_reason(tracker(text, intent, events=events)) == reason


def test_the_offer_s_button_keeps_the_reason_of_the_offer() -> None:
    # the button "Oui, parler à un agent" sends /request_human right after the offer
    clicked = tracker("/request_human", "request_human", events=AFTER_A_COMPLAINT)
    assert handoff_reason(clicked) == "frustration"


def test_asking_for_a_person_later_is_requested() -> None:
    later = [
        *AFTER_A_COMPLAINT,
        user("merci", "thanks"),
        action("utter_you_are_welcome"),
        action("action_listen"),
    ]
    assert handoff_reason(tracker("un agent svp", "request_human", events=later)) == "requested"


def test_the_payload_names_the_conversation_its_language_the_reason_and_the_procedure() -> None:
    asked = tracker(
        "oui",
        "affirm",
        slots={"language": "en", "procedure": "passport"},
        events=AFTER_AN_UNHELPFUL_ANSWER,
        sender_id="abc123",
    )
    assert handoff_payload(asked) == {
        "conversation_id": "abc123",
        "language": "en",
        "reason": "not_helpful",
        "note": "procedure: passport",
    }


def test_the_payload_has_no_note_without_a_procedure() -> None:
    payload = handoff_payload(tracker("un agent svp", "request_human", slots={"language": None}))
    assert payload["note"] is None
    assert payload["language"] == "fr"


def mode_reported(server: ApiServer, conversation: Conversation) -> str:
    """The conversation's mode, as the API answers the citizen's next message (in ``bot`` mode, via Rasa)."""
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as client:
        response = client.post(
            f"/api/conversations/{conversation.id}/messages",
            json={"text": "allô ?"},
            headers={"Authorization": f"Bearer {conversation.token}"},
        )
    assert response.status_code == 200, response.text
    mode: str = response.json()["mode"]
    return mode


def mode_stored(server: ApiServer, conversation: Conversation) -> str:
    """The conversation's mode, as stored."""
    rows = run_sql(server.settings, "SELECT mode FROM conversations WHERE id = :id", id=conversation.id)
    mode: str = rows[0]["mode"]
    return mode


def new_conversation(server: ApiServer) -> str:
    """Another conversation's id."""
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as client:
        response = client.post("/api/conversations")
    assert response.status_code == 201, response.text
    conversation_id: str = response.json()["id"]
    return conversation_id


def handoffs_of(server: ApiServer, conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation's handoffs, as stored."""
    return run_sql(
        server.settings,
        "SELECT status, reason, language, note FROM handoffs WHERE conversation_id = :id",
        id=conversation.id,
    )


def test_the_handoff_puts_the_conversation_in_the_agents_queue(
    api_server: ApiServer, conversation: Conversation
) -> None:
    asked = tracker(
        "oui",
        "affirm",
        slots={"procedure": "passport"},
        events=AFTER_AN_UNHELPFUL_ANSWER,
        sender_id=conversation.id,
    )
    messages, events = run(ActionHandoff(), asked)
    assert [message["text"] for message in messages] == [
        render("handoff_started", "fr", queue_position=1)["text"]
    ]
    assert messages[0]["metadata"] == {"language": "fr"}
    assert events == []
    assert handoffs_of(api_server, conversation) == [
        {"status": "waiting", "reason": "not_helpful", "language": "fr", "note": "procedure: passport"}
    ]
    assert mode_stored(api_server, conversation) == "waiting"
    assert mode_reported(api_server, conversation) == "waiting"


def test_the_second_conversation_waiting_is_told_it_is_second(
    api_server: ApiServer, conversation: Conversation
) -> None:
    run(ActionHandoff(), tracker("un agent svp", "request_human", sender_id=conversation.id))
    other = tracker(
        "I want to talk to a person",
        "request_human",
        slots={"language": "en"},
        sender_id=new_conversation(api_server),
    )
    messages, _ = run(ActionHandoff(), other)
    assert [message["text"] for message in messages] == [
        render("handoff_started", "en", queue_position=2)["text"]
    ]


def test_an_unreachable_api_gives_the_town_hall_s_contact_details(
    api_server: ApiServer, conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    with closed_port() as port:
        monkeypatch.setenv("GUICHET_API_URL", f"http://127.0.0.1:{port}")
        get_settings.cache_clear()
        messages, events = run(
            ActionHandoff(),
            tracker("I want a person", "request_human", slots={"language": "en"}, sender_id=conversation.id),
        )
    assert [message["text"] for message in messages] == [render("handoff_unavailable", "en")["text"]]
    assert messages[0]["metadata"] == {"language": "en"}
    assert events == []
    assert handoffs_of(api_server, conversation) == []


def test_a_wrong_secret_is_refused_and_the_citizen_gets_the_contact_details(
    api_server: ApiServer, conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUICHET_WEBHOOK_SECRET", "not-the-api-s-secret")
    get_settings.cache_clear()
    messages, events = run(
        ActionHandoff(), tracker("un agent svp", "request_human", sender_id=conversation.id)
    )
    assert [message["text"] for message in messages] == [render("handoff_unavailable", "fr")["text"]]
    assert events == []
    assert handoffs_of(api_server, conversation) == []
    assert mode_stored(api_server, conversation) == "bot"


def test_an_unknown_conversation_gives_the_contact_details(api_server: ApiServer) -> None:
    messages, _ = run(
        ActionHandoff(), tracker("un agent svp", "request_human", sender_id="no-such-conversation")
    )
    assert [message["text"] for message in messages] == [render("handoff_unavailable", "fr")["text"]]
