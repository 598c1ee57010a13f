"""Citizens' verdicts on the bot's answers: from the widget (``POST /api/conversations/{id}/feedback``) and
from the bot (``POST /api/webhooks/feedback``, signed).

A fake Rasa answers here: a question about passports gets an answer from the knowledge base (with its source)
and a follow-up question; anything else gets a reply without a source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from api.rasa_client import BotButton, BotReply, BotSource
from api.schemas import MAX_COMMENT_LENGTH
from tests.api.helpers import run_sql, signed, start_conversation, use_fake_rasa

WEBHOOK_URL = "/api/webhooks/feedback"
QUESTION = "Comment refaire mon passeport ?"
ANSWER = "Prenez rendez-vous en mairie avec une photo d'identité."


async def faq_bot(_conversation_id: str, text: str) -> list[BotReply]:
    """Answer passport questions from the knowledge base; anything else without a source."""
    if "passeport" in text:
        source = BotSource(slug="passport", title="Passeport", url="https://example.org/passeport")
        buttons = [BotButton(title="Oui", payload="/affirm"), BotButton(title="Non", payload="/deny")]
        return [
            BotReply(text=ANSWER, language="fr", source=source),
            BotReply(text="Cette réponse vous a-t-elle aidé ?", buttons=buttons, language="fr"),
        ]
    return [BotReply(text="Je n'ai pas compris.", language="fr")]


@pytest.fixture
def faq_app(app: FastAPI) -> FastAPI:
    """The application, talking to the fake Rasa ``faq_bot``."""
    use_fake_rasa(app, faq_bot)
    return app


@pytest.fixture
def faq_client(faq_app: FastAPI) -> Iterator[TestClient]:
    """A client of the started application talking to ``faq_bot``."""
    with TestClient(faq_app) as test_client:
        yield test_client


def converse(client: TestClient, *texts: str) -> tuple[str, dict[str, str]]:
    """Start a French conversation and send it messages; return its id and headers.

    With ``QUESTION`` then ``"merci"``, the messages are: 1 citizen question, 2 bot answer (source
    ``passport``), 3 bot follow-up, 4 citizen ``merci``, 5 bot reply without a source.
    """
    conversation_id, headers = start_conversation(client, "fr")
    for text in texts:
        response = client.post(
            f"/api/conversations/{conversation_id}/messages", json={"text": text}, headers=headers
        )
        assert response.status_code == 200, response.text
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
    faq_client: TestClient, settings: Settings
) -> None:
    conversation_id, headers = converse(faq_client, QUESTION, "merci")

    answered = widget_feedback(
        faq_client, conversation_id, headers, seq=2, helpful=False, comment=" Trop vague. "
    )
    unanswered = widget_feedback(faq_client, conversation_id, headers, seq=5, helpful=True)

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


def test_a_new_widget_verdict_replaces_the_earlier_one(faq_client: TestClient, settings: Settings) -> None:
    conversation_id, headers = converse(faq_client, QUESTION)

    widget_feedback(faq_client, conversation_id, headers, seq=2, helpful=True)
    widget_feedback(faq_client, conversation_id, headers, seq=2, helpful=False, comment="   ")

    assert [
        (f["message_seq"], f["helpful"], f["comment"]) for f in feedback_of(settings, conversation_id)
    ] == [(2, False, None)]


@pytest.mark.parametrize("seq", [1, 4, 6, 99])
def test_widget_feedback_must_name_a_bot_message(
    faq_client: TestClient, settings: Settings, seq: int
) -> None:
    conversation_id, headers = converse(faq_client, QUESTION, "merci")

    response = widget_feedback(faq_client, conversation_id, headers, seq=seq, helpful=True)

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
    faq_client: TestClient, settings: Settings, body: dict[str, Any], detail: str
) -> None:
    conversation_id, headers = converse(faq_client, QUESTION)

    response = widget_feedback(faq_client, conversation_id, headers, **body)

    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)
    assert feedback_of(settings, conversation_id) == []


def test_the_longest_comment_is_accepted(faq_client: TestClient, settings: Settings) -> None:
    conversation_id, headers = converse(faq_client, QUESTION)
    comment = "é" * MAX_COMMENT_LENGTH

    assert (
        widget_feedback(
            faq_client, conversation_id, headers, seq=2, helpful=False, comment=comment
        ).status_code
        == 204
    )
    assert [f["comment"] for f in feedback_of(settings, conversation_id)] == [comment]


def test_widget_feedback_needs_the_conversation_s_token(faq_client: TestClient) -> None:
    conversation_id, _ = converse(faq_client, QUESTION)
    _, other_headers = start_conversation(faq_client)
    body = {"seq": 2, "helpful": True}

    assert widget_feedback(faq_client, conversation_id, {}, **body).status_code == 401
    assert (
        widget_feedback(faq_client, conversation_id, {"Authorization": "Bearer nope"}, **body).status_code
        == 401
    )
    assert widget_feedback(faq_client, conversation_id, other_headers, **body).status_code == 401
    unknown = widget_feedback(faq_client, "0" * 32, other_headers, **body)
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "No such conversation."})


def test_widget_feedback_counts_against_the_message_limit(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings(GUICHET_RATE_LIMITS="messages=3/minute"))
    use_fake_rasa(app, faq_bot)
    with TestClient(app) as client:
        conversation_id, headers = converse(client, QUESTION)
        statuses = [
            widget_feedback(client, conversation_id, headers, seq=2, helpful=True).status_code
            for _ in range(3)
        ]
    assert statuses == [204, 204, 429]


def test_bot_feedback_is_linked_to_the_latest_answer(faq_client: TestClient, settings: Settings) -> None:
    conversation_id, _ = converse(faq_client, QUESTION, "merci")

    response = faq_client.post(WEBHOOK_URL, **signed({"conversation_id": conversation_id, "helpful": False}))

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


def test_bot_feedback_keeps_what_the_bot_says(faq_client: TestClient, settings: Settings) -> None:
    conversation_id, _ = converse(faq_client, QUESTION)
    body = {
        "conversation_id": conversation_id,
        "helpful": True,
        "slug": "id-card",
        "question": "Et ma carte d'identité ?",
        "comment": "Parfait",
        "language": "en",
    }

    assert faq_client.post(WEBHOOK_URL, **signed(body)).status_code == 204

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


def test_bot_feedback_before_any_answer_is_stored_unlinked(
    faq_client: TestClient, settings: Settings
) -> None:
    conversation_id, _ = converse(faq_client, "bonjour")

    assert (
        faq_client.post(
            WEBHOOK_URL, **signed({"conversation_id": conversation_id, "helpful": True})
        ).status_code
        == 204
    )

    [stored] = feedback_of(settings, conversation_id)
    assert (stored["message_seq"], stored["slug"], stored["question"], stored["language"]) == (
        None,
        None,
        None,
        None,
    )


def test_bot_feedback_must_be_signed(faq_client: TestClient, settings: Settings) -> None:
    conversation_id, _ = converse(faq_client, QUESTION)

    response = faq_client.post(WEBHOOK_URL, json={"conversation_id": conversation_id, "helpful": True})

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
    faq_client: TestClient, settings: Settings, body: dict[str, Any], status: int, detail: str
) -> None:
    conversation_id, _ = converse(faq_client, QUESTION)
    body = {key: conversation_id if value == "ID" else value for key, value in body.items()}

    response = faq_client.post(WEBHOOK_URL, **signed(body))

    assert response.status_code == status
    assert response.json()["detail"].startswith(detail)
    assert feedback_of(settings, conversation_id) == []
