"""Handing the conversation to an agent: why, what the API is told, and what the citizen hears."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from rasa_sdk.events import ConversationPaused

import actions.handoff
from actions import api_client
from actions.handoff import (
    TRANSCRIPT_LENGTH,
    ActionHandoff,
    handoff_message,
    handoff_payload,
    handoff_reason,
    transcript,
)
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

#: The bot misunderstood twice in a row (it was unsure of the answer), then offered a person.
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
        pytest.param(AFTER_TWO_UNSURE_TURNS, "oui", "affirm", "misunderstood", id="after two unsure turns"),
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
        "transcript": transcript(asked),
    }


def test_the_payload_has_no_note_without_a_procedure() -> None:
    payload = handoff_payload(tracker("un agent svp", "request_human", slots={"language": None}))
    assert payload["note"] is None
    assert payload["language"] == "fr"


#: The bot's question with buttons, as the action server receives it.
ASKED_FEEDBACK_WITH_BUTTONS: Event = {
    "event": "bot",
    "text": "Cette réponse vous a-t-elle aidé ?",
    "data": {
        "buttons": [{"title": "Oui, merci", "payload": "/affirm"}, {"title": "Non", "payload": "/deny"}],
    },
    "metadata": {"language": "fr"},
}


def test_the_transcript_is_the_citizen_s_and_the_bot_s_messages_oldest_first() -> None:
    asked = tracker("oui", "affirm", events=AFTER_AN_UNHELPFUL_ANSWER)
    assert transcript(asked) == [
        {"author": "citizen", "text": "comment renouveler mon passeport ?"},
        {"author": "bot", "text": "1. **Faites la pré-demande en ligne**…"},
        {"author": "bot", "text": "Cette réponse vous a-t-elle aidé ?"},
        {"author": "citizen", "text": "/deny"},
        {"author": "bot", "text": "Merci de me l'avoir dit…"},
        {"author": "bot", "text": "Voulez-vous que je vous mette en relation avec un agent de la mairie ?"},
        {"author": "citizen", "text": "oui"},
    ]


def test_the_transcript_skips_empty_messages_and_other_events() -> None:
    events = [
        action("action_listen"),
        user("  ", None),
        {"event": "bot", "text": None, "data": {"image": "plan.png"}, "metadata": {}},
        slot("language", "fr"),
        {"event": "session_started"},
        bot("Bonjour !"),
        action("action_listen"),
    ]
    assert transcript(tracker("un agent svp", "request_human", events=events)) == [
        {"author": "bot", "text": "Bonjour !"},
        {"author": "citizen", "text": "un agent svp"},
    ]


def test_a_clicked_button_reads_as_its_title() -> None:
    # the channel adds the conversation's language to a payload: /deny becomes /deny{"language":"fr"}
    events = [action("action_listen"), user("passeport", "ask_procedure"), ASKED_FEEDBACK_WITH_BUTTONS]
    asked = tracker('/deny{"language":"fr"}', "deny", events=events)
    assert transcript(asked)[-1] == {"author": "citizen", "text": "Non"}
    unknown = tracker('/request_human{"language":"fr"}', "request_human", events=events)
    assert transcript(unknown)[-1] == {"author": "citizen", "text": '/request_human{"language":"fr"}'}


def test_the_transcript_keeps_the_latest_messages_only() -> None:
    events: list[Event] = []
    for number in range(40):
        events += [
            action("action_listen"),
            user(f"question {number}", "ask_procedure"),
            bot(f"réponse {number}"),
        ]
    lines = transcript(tracker("un agent svp", "request_human", events=events))
    assert len(lines) == TRANSCRIPT_LENGTH == 50
    assert lines[0] == {"author": "bot", "text": "réponse 15"}
    assert lines[-1] == {"author": "citizen", "text": "un agent svp"}


# What the citizen is told, for each answer of the API.

AVAILABLE = {"handoff_id": "h1", "status": "waiting", "available": True, "unavailable_reason": None}
OFFICE_HOURS = {
    "fr": "du lundi au vendredi, 8h30–12h et 13h30–17h30",
    "en": "Monday to Friday, 8:30–12:00 and 13:30–17:30",
}


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize(
    ("answer", "name", "values"),
    [
        pytest.param({"queue_position": 3, "estimated_wait_seconds": None}, "handoff_started",
                     {"queue_position": 3}, id="no estimate"),
        pytest.param({"queue_position": 1, "estimated_wait_seconds": 0}, "handoff_started",
                     {"queue_position": 1}, id="no wait"),
        pytest.param({"queue_position": 2, "estimated_wait_seconds": 150}, "handoff_started_wait",
                     {"queue_position": 2, "minutes": 3}, id="minutes rounded up"),
        pytest.param({"queue_position": 2, "estimated_wait_seconds": 120}, "handoff_started_wait",
                     {"queue_position": 2, "minutes": 2}, id="whole minutes"),
        pytest.param({"queue_position": 1, "estimated_wait_seconds": 20}, "handoff_started_wait",
                     {"queue_position": 1, "minutes": 1}, id="at least a minute"),
        pytest.param({"queue_position": 0, "estimated_wait_seconds": None}, "handoff_active", {},
                     id="an agent has it"),
        pytest.param({"queue_position": -1, "estimated_wait_seconds": "soon"}, "handoff_started",
                     {"queue_position": 1}, id="nonsense"),
    ],
)  # fmt: skip
def test_an_available_agent_gives_the_place_in_the_queue_and_the_wait(
    answer: dict[str, Any], name: str, values: dict[str, Any], language: str
) -> None:
    assert handoff_message({**AVAILABLE, **answer}, language) == render(name, language, **values)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_closed_office_gives_its_hours_and_invites_a_message(language: str) -> None:
    answer = {
        "handoff_id": "h1",
        "status": "waiting",
        "queue_position": 1,
        "estimated_wait_seconds": None,
        "available": False,
        "unavailable_reason": "closed",
        "office_hours": OFFICE_HOURS[language],
    }
    message = handoff_message(answer, language)
    assert message == render("handoff_offline", language, office_hours=OFFICE_HOURS[language])
    assert OFFICE_HOURS[language] in message["text"]
    assert message["metadata"] == {"language": language}


def test_the_offline_message_in_both_languages() -> None:
    assert render("handoff_offline", "en", office_hours=OFFICE_HOURS["en"])["text"] == (
        "Our agents are not available right now: the town hall's service is open Monday to Friday, "
        "8:30–12:00 and 13:30–17:30. Write your message here, with an e-mail address or a phone number if "
        "you want us to get back to you: it will be passed on to an agent."
    )
    assert (
        "le service de la mairie est ouvert du lundi au vendredi, 8h30–12h et 13h30–17h30."
        in (render("handoff_offline", "fr", office_hours=OFFICE_HOURS["fr"])["text"])
    )


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize(
    "answer",
    [
        {"unavailable_reason": "no_agent", "office_hours": "x"},
        {"unavailable_reason": None, "office_hours": "x"},
        {"unavailable_reason": "closed", "office_hours": ""},  # hours unknown: no sentence about them
    ],
)
def test_no_agent_online_invites_a_message(answer: dict[str, Any], language: str) -> None:
    full = {"handoff_id": "h1", "status": "waiting", "queue_position": 2, "available": False, **answer}
    assert handoff_message(full, language) == render("handoff_no_agent", language)


def test_an_answer_without_availability_is_taken_as_available() -> None:
    assert handoff_message({"queue_position": 2}, "fr") == render("handoff_started", "fr", queue_position=2)
    assert handoff_message({}, "en") == render("handoff_started", "en", queue_position=1)


Post = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any] | None]]


def answering(answer: dict[str, Any] | None, sent: list[tuple[str, dict[str, Any]]]) -> Post:
    """A stand-in for ``post_webhook`` that records what it is sent and gives ``answer``."""

    async def post(path: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        sent.append((path, payload))
        return answer

    return post


@pytest.mark.parametrize(
    "answer",
    [
        {**AVAILABLE, "queue_position": 1, "estimated_wait_seconds": 300, "office_hours": "x"},
        {
            **AVAILABLE,
            "available": False,
            "unavailable_reason": "closed",
            "office_hours": "Monday 9:00–12:00",
        },
        None,  # an answer without a body
    ],
)
def test_any_answer_of_the_api_pauses_the_tracker(
    answer: dict[str, Any] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(actions.handoff, "post_webhook", answering(answer, sent))
    asked = tracker("I want a person", "request_human", slots={"language": "en"}, sender_id="abc")
    messages, events = run(ActionHandoff(), asked)
    assert events == [ConversationPaused()]
    assert [message["text"] for message in messages] == [handoff_message(answer or {}, "en")["text"]]
    assert sent == [("/api/webhooks/handoff", handoff_payload(asked))]
    assert sent[0][1]["transcript"] == [{"author": "citizen", "text": "I want a person"}]


# With the real API.


@pytest.fixture
def api_answers(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any] | None]:
    """The API's answers to the handoff requests of the test (the real ``post_webhook`` still makes them)."""
    answers: list[dict[str, Any] | None] = []
    post = api_client.post_webhook

    async def spy(path: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        answer = await post(path, payload)
        answers.append(answer)
        return answer

    monkeypatch.setattr(actions.handoff, "post_webhook", spy)
    return answers


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
    api_server: ApiServer, conversation: Conversation, api_answers: list[dict[str, Any] | None]
) -> None:
    asked = tracker(
        "oui",
        "affirm",
        slots={"procedure": "passport"},
        events=AFTER_AN_UNHELPFUL_ANSWER,
        sender_id=conversation.id,
    )
    messages, events = run(ActionHandoff(), asked)
    [answer] = api_answers
    assert answer is not None
    assert answer["queue_position"] == 1
    assert isinstance(answer["available"], bool)
    if not answer["available"]:  # outside the office hours, or no agent online (none is, in these tests)
        assert answer["unavailable_reason"] in {"closed", "no_agent"}
        assert answer["office_hours"] == api_server.settings.office().describe("fr")
    # what the citizen hears follows the answer (each answer's message is checked above)
    assert [message["text"] for message in messages] == [handoff_message(answer, "fr")["text"]]
    assert messages[0]["metadata"] == {"language": "fr"}
    assert events == [ConversationPaused()]
    assert handoffs_of(api_server, conversation) == [
        {"status": "waiting", "reason": "not_helpful", "language": "fr", "note": "procedure: passport"}
    ]
    assert mode_stored(api_server, conversation) == "waiting"
    assert mode_reported(api_server, conversation) == "waiting"


def test_the_second_conversation_waiting_is_told_it_is_second(
    api_server: ApiServer, conversation: Conversation, api_answers: list[dict[str, Any] | None]
) -> None:
    run(ActionHandoff(), tracker("un agent svp", "request_human", sender_id=conversation.id))
    other = tracker(
        "I want to talk to a person",
        "request_human",
        slots={"language": "en"},
        sender_id=new_conversation(api_server),
    )
    messages, events = run(ActionHandoff(), other)
    first, second = api_answers
    assert first is not None and second is not None
    assert (first["queue_position"], second["queue_position"]) == (1, 2)
    assert [message["text"] for message in messages] == [handoff_message(second, "en")["text"]]
    assert events == [ConversationPaused()]


def test_asking_again_while_waiting_answers_the_same_handoff(
    api_server: ApiServer, conversation: Conversation, api_answers: list[dict[str, Any] | None]
) -> None:
    asked = tracker("un agent svp", "request_human", sender_id=conversation.id)
    run(ActionHandoff(), asked)
    _, events = run(ActionHandoff(), asked)
    first, again = api_answers
    assert first is not None and again is not None
    assert again["handoff_id"] == first["handoff_id"]
    assert events == [ConversationPaused()]
    assert len(handoffs_of(api_server, conversation)) == 1


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
