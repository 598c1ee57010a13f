"""Citizens' verdicts on the bot's answers: from the widget (``POST /api/conversations/{id}/feedback``) and
from the bot (``POST /api/webhooks/feedback``, signed).

The conversations' turns are stored directly (``store_turn``): a question about passports with an answer
from the knowledge base (with its source) and a follow-up question; anything else with a reply without a
source. Turns through the real Rasa server are tested end to end (``tests/e2e/test_dialogue.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.crud import NewMessage
from api.main import create_app
from api.models import Author
from api.schemas import MAX_COMMENT_LENGTH
from tests.api.helpers import run_sql, signed, start_conversation, store_turn

WEBHOOK_URL = "/api/webhooks/feedback"
QUESTION = "Comment refaire mon passeport ?"
ANSWER = "Prenez rendez-vous en mairie avec une photo d'identité."


def faq_replies(text: str) -> list[NewMessage]:
    """What the bot replied: passport questions get an answer from the knowledge base (with its source) and a
    follow-up question; anything else a reply without a source."""
    if "passeport" in text:
        source = {"slug": "passport", "title": "Passeport", "url": "https://example.org/passeport"}
        buttons = [{"title": "Oui", "payload": "/affirm"}, {"title": "Non", "payload": "/deny"}]
        return [
            NewMessage(author=Author.BOT, text=ANSWER, source=source, language="fr"),
            NewMessage(
                author=Author.BOT, text="Cette réponse vous a-t-elle aidé ?", buttons=buttons, language="fr"
            ),
        ]
    return [NewMessage(author=Author.BOT, text="Je n'ai pas compris.", language="fr")]


def converse(client: TestClient, settings: Settings, *texts: str) -> tuple[str, dict[str, str]]:
    """Start a French conversation and store turns of it; return its id and headers.

    With ``QUESTION`` then ``"merci"``, the messages are: 1 citizen question, 2 bot answer (source
    ``passport``), 3 bot follow-up, 4 citizen ``merci``, 5 bot reply without a source.
    """
    conversation_id, headers = start_conversation(client, "fr")
    for text in texts:
        store_turn(settings, conversation_id, text, *faq_replies(text))
    return conversation_id, headers


def feedback_of(settings: Settings, conversation_id: str) -> list[dict[str, Any]]:
    """Read a conversation's feedback straight from the database, in the order stored."""
    rows = run_sql(
        settings, "SELECT * FROM feedback WHERE conversation_id = :id ORDER BY id", id=conversation_id
    )
    for row in rows:
        row["helpful"] = bool(row["helpful"])
        del row["id"], row["conversation_id"], row["created_at"]
    return rows


def widget_feedback(client: TestClient, conversation_id: str, headers: dict[str, str], **body: Any) -> Any:
    """Send the widget's feedback on a conversation."""
    return client.post(f"/api/conversations/{conversation_id}/feedback", json=body, headers=headers)


def test_widget_feedback_is_linked_to_the_entry_and_the_question(
    client: TestClient, settings: Settings
) -> None:
    conversation_id, headers = converse(client, settings, QUESTION, "merci")

    answered = widget_feedback(
        client, conversation_id, headers, seq=2, helpful=False, comment=" Trop vague. "
    )
    unanswered = widget_feedback(client, conversation_id, headers, seq=5, helpful=True)

    assert (answered.status_code, answered.content) == (204, b"")
    assert unanswered.status_code == 204
    verdict = {"source": "widget", "language": "fr"}
    assert feedback_of(settings, conversation_id) == [
        {
            **verdict,
            "message_seq": 2,
            "slug": "passport",
            "question": QUESTION,
            "helpful": False,
            "comment": "Trop vague.",
        },
        {**verdict, "message_seq": 5, "slug": None, "question": "merci", "helpful": True, "comment": None},
    ]


def test_a_new_widget_verdict_replaces_the_earlier_one(client: TestClient, settings: Settings) -> None:
    conversation_id, headers = converse(client, settings, QUESTION)

    widget_feedback(client, conversation_id, headers, seq=2, helpful=True)
    widget_feedback(client, conversation_id, headers, seq=2, helpful=False, comment="   ")

    assert [
        (f["message_seq"], f["helpful"], f["comment"]) for f in feedback_of(settings, conversation_id)
    ] == [(2, False, None)]


@pytest.mark.parametrize("seq", [1, 4, 6, 99])
def test_widget_feedback_must_name_a_bot_message(client: TestClient, settings: Settings, seq: int) -> None:
    conversation_id, headers = converse(client, settings, QUESTION, "merci")

    response = widget_feedback(client, conversation_id, headers, seq=seq, helpful=True)

    assert response.status_code == 422
    assert response.json() == {
        "detail": f"seq: message {seq} is not one of the bot's messages in this conversation"
    }
    assert feedback_of(settings, conversation_id) == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"helpful": True}, "seq: field required"),
        ({"seq": 2}, "helpful: field required"),
        ({"seq": 0, "helpful": True}, "seq: input should be greater than or equal to 1"),
        ({"seq": 2**31, "helpful": True}, "seq: input should be less than or equal to 2147483647"),
        ({"seq": "two", "helpful": True}, "seq: input should be a valid integer"),
        ({"seq": 2, "helpful": "maybe"}, "helpful: input should be a valid boolean"),
        (
            {"seq": 2, "helpful": True, "comment": "x" * (MAX_COMMENT_LENGTH + 1)},
            "comment: must be at most 2000",
        ),
        ({"seq": 2, "helpful": True, "comment": "a\x00b"}, "comment: must not contain the NUL character"),
    ],
)
def test_invalid_widget_feedback_is_refused_readably(
    client: TestClient, settings: Settings, body: dict[str, Any], detail: str
) -> None:
    conversation_id, headers = converse(client, settings, QUESTION)

    response = widget_feedback(client, conversation_id, headers, **body)

    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)
    assert feedback_of(settings, conversation_id) == []


def test_the_longest_comment_is_accepted(client: TestClient, settings: Settings) -> None:
    conversation_id, headers = converse(client, settings, QUESTION)
    comment = "é" * MAX_COMMENT_LENGTH

    assert (
        widget_feedback(client, conversation_id, headers, seq=2, helpful=False, comment=comment).status_code
        == 204
    )
    assert [f["comment"] for f in feedback_of(settings, conversation_id)] == [comment]


def test_widget_feedback_needs_the_conversation_s_token(client: TestClient, settings: Settings) -> None:
    conversation_id, _ = converse(client, settings, QUESTION)
    _, other_headers = start_conversation(client)
    body = {"seq": 2, "helpful": True}

    assert widget_feedback(client, conversation_id, {}, **body).status_code == 401
    assert (
        widget_feedback(client, conversation_id, {"Authorization": "Bearer nope"}, **body).status_code == 401
    )
    assert widget_feedback(client, conversation_id, other_headers, **body).status_code == 401
    unknown = widget_feedback(client, "0" * 32, other_headers, **body)
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "No such conversation."})


def test_widget_feedback_counts_against_the_message_limit(
    make_settings: Callable[..., Settings],
) -> None:
    limited = make_settings(GUICHET_RATE_LIMITS="messages=3/minute")
    with TestClient(create_app(limited)) as client:
        conversation_id, headers = converse(client, limited, QUESTION)
        # one message (Rasa is absent here: 503, the message stored and counted), then verdicts
        message = client.post(
            f"/api/conversations/{conversation_id}/messages", json={"text": "et alors ?"}, headers=headers
        )
        statuses = [
            widget_feedback(client, conversation_id, headers, seq=2, helpful=True).status_code
            for _ in range(3)
        ]
    assert message.status_code == 503
    assert statuses == [204, 204, 429]


def test_bot_feedback_is_linked_to_the_latest_answer(client: TestClient, settings: Settings) -> None:
    conversation_id, _ = converse(client, settings, QUESTION, "merci")

    response = client.post(WEBHOOK_URL, **signed({"conversation_id": conversation_id, "helpful": False}))

    assert (response.status_code, response.content) == (204, b"")
    assert feedback_of(settings, conversation_id) == [
        {
            "message_seq": 2,
            "slug": "passport",
            "question": QUESTION,
            "helpful": False,
            "comment": None,
            "language": "fr",
            "source": "bot",
        }
    ]


def test_bot_feedback_keeps_what_the_bot_says(client: TestClient, settings: Settings) -> None:
    conversation_id, _ = converse(client, settings, QUESTION)
    body = {
        "conversation_id": conversation_id,
        "helpful": True,
        "slug": "id-card",
        "question": "Et ma carte d'identité ?",
        "comment": "Parfait",
        "language": "en",
    }

    assert client.post(WEBHOOK_URL, **signed(body)).status_code == 204

    assert feedback_of(settings, conversation_id) == [
        {
            "message_seq": 2,
            "slug": "id-card",
            "question": "Et ma carte d'identité ?",
            "helpful": True,
            "comment": "Parfait",
            "language": "en",
            "source": "bot",
        }
    ]


def test_bot_feedback_before_any_answer_is_stored_unlinked(client: TestClient, settings: Settings) -> None:
    conversation_id, _ = converse(client, settings, "bonjour")

    assert (
        client.post(WEBHOOK_URL, **signed({"conversation_id": conversation_id, "helpful": True})).status_code
        == 204
    )

    [stored] = feedback_of(settings, conversation_id)
    assert (stored["message_seq"], stored["slug"], stored["question"], stored["language"]) == (
        None,
        None,
        None,
        None,
    )


def test_bot_feedback_must_be_signed(client: TestClient, settings: Settings) -> None:
    conversation_id, _ = converse(client, settings, QUESTION)

    response = client.post(WEBHOOK_URL, json={"conversation_id": conversation_id, "helpful": True})

    assert response.status_code == 401
    assert feedback_of(settings, conversation_id) == []


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"conversation_id": "0" * 32, "helpful": True}, 404, "No such conversation."),
        ({"conversation_id": "ID"}, 422, "helpful: field required"),
        ({"conversation_id": "ID", "helpful": True, "slug": "s" * 201}, 422, "slug: must be at most 200"),
        (
            {"conversation_id": "ID", "helpful": True, "question": "\x00"},
            422,
            "question: must not contain the NUL",
        ),
        ({"conversation_id": "ID", "helpful": True, "language": "es"}, 422, "language: input should be"),
    ],
)
def test_bad_bot_feedback_is_refused(
    client: TestClient, settings: Settings, body: dict[str, Any], status: int, detail: str
) -> None:
    conversation_id, _ = converse(client, settings, QUESTION)
    body = {key: conversation_id if value == "ID" else value for key, value in body.items()}

    response = client.post(WEBHOOK_URL, **signed(body))

    assert response.status_code == status
    assert response.json()["detail"].startswith(detail)
    assert feedback_of(settings, conversation_id) == []
