"""The dialogue's flows with the real stack: follow-ups, feedback, the failure ladder, handoff, language.

Each test is a citizen's conversation through the API; the Rasa server, the action server and the knowledge
base are the real ones, and what the API stored (feedback, handoffs) is read back from its database.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from actions.messages import render
from tests.e2e.test_conversation import ENTRIES, assert_asks_for_feedback, open_conversation, say
from tests.stack import RunningStack

pytestmark = pytest.mark.e2e


def stored(stack: RunningStack, table: str, columns: str, conversation: str) -> list[tuple[Any, ...]]:
    """Rows of one of the API's tables (``feedback``, ``handoffs``) for a conversation."""
    with sqlite3.connect(stack.var_dir / "guichet.db") as db:
        sql = f"SELECT {columns} FROM {table} WHERE conversation_id = ?"
        return db.execute(sql, (conversation,)).fetchall()


def payloads(message: dict[str, Any]) -> list[str]:
    return [button["payload"] for button in message["buttons"]]


@pytest.mark.parametrize(
    ("language", "question", "cost", "documents", "where"),
    [
        ("fr", "je voudrais refaire ma carte d'identité", "ça coûte combien ?", "et il faut quels papiers ?",
         "c'est où ?"),
        ("en", "I need a new ID card", "how much does it cost?", "and what documents do I need?",
         "where do I go?"),
    ],
)  # fmt: skip
def test_follow_ups_are_answered_from_the_procedure_under_discussion(
    stack: RunningStack, language: str, question: str, cost: str, documents: str, where: str
) -> None:
    localized = getattr(ENTRIES["id-card"], language)
    with stack.client() as client:
        conversation, headers = open_conversation(client, language)
        first = say(client, conversation, headers, question)
        assert first["messages"][0]["source"]["slug"] == "id-card"

        for text, expected in [(cost, localized.cost), (where, localized.where)]:
            reply = say(client, conversation, headers, text)
            assert reply["language"] == language
            answer = reply["messages"][0]
            assert answer["source"]["slug"] == "id-card"
            assert expected in answer["text"]
            assert localized.title in answer["text"]
            assert_asks_for_feedback(reply["messages"][1])

        listed = say(client, conversation, headers, documents)["messages"][0]
        assert all(f"- {document}" in listed["text"] for document in localized.documents)


def test_a_follow_up_without_a_procedure_asks_which_one_then_answers_the_detail(stack: RunningStack) -> None:
    passport = ENTRIES["passport"].fr
    assert passport is not None and passport.cost is not None
    with stack.client() as client:
        conversation, headers = open_conversation(client, "fr")
        question = say(client, conversation, headers, "ça coûte combien ?")
        assert question["messages"][0]["source"] is None
        assert "Pour quelle démarche" in question["messages"][0]["text"]
        answer = say(client, conversation, headers, "le passeport")["messages"][0]
        assert answer["source"]["slug"] == "passport"
        assert passport.cost in answer["text"]


@pytest.mark.parametrize(
    ("language", "question", "chosen"),
    [
        ("fr", "faire une déclaration en mairie", "birth-declaration"),
        ("en", "I want to register", "voter-registration"),
    ],
)
def test_close_entries_are_offered_as_buttons_and_a_click_answers(
    stack: RunningStack, language: str, question: str, chosen: str
) -> None:
    with stack.client() as client:
        conversation, headers = open_conversation(client, language)
        offer = say(client, conversation, headers, question)["messages"]
        assert len(offer) == 1 and offer[0]["source"] is None
        buttons = {button["payload"]: button["title"] for button in offer[0]["buttons"]}
        payload = f'/ask_procedure{{"procedure":"{chosen}"}}'
        assert payload in buttons and 2 <= len(buttons) <= 3
        assert buttons[payload] == getattr(ENTRIES[chosen], language).title
        answer = say(client, conversation, headers, payload)
        assert answer["messages"][0]["source"]["slug"] == chosen
        assert answer["language"] == language


def test_a_clarification_button_answers_the_chosen_entry(stack: RunningStack) -> None:
    entry = ENTRIES["voter-registration"].en
    assert entry is not None
    with stack.client() as client:
        conversation, headers = open_conversation(client, "en")
        reply = say(client, conversation, headers, '/ask_procedure{"procedure":"voter-registration"}')
        assert reply["language"] == "en"
        assert reply["messages"][0]["text"] == entry.answer.strip()
        assert reply["messages"][0]["source"]["slug"] == "voter-registration"


@pytest.mark.parametrize(
    ("language", "question", "yes"),
    [
        ("fr", "quels jours passe le camion poubelle ?", "oui"),
        ("en", "when are the bins collected?", "yes please"),
    ],
)
def test_an_answer_that_did_not_help_is_stored_and_a_person_is_offered(
    stack: RunningStack, language: str, question: str, yes: str
) -> None:
    with stack.client() as client:
        conversation, headers = open_conversation(client, language)
        answer = say(client, conversation, headers, question)
        seq = answer["messages"][0]["seq"]
        assert answer["messages"][0]["source"]["slug"] == "waste-collection"

        offer = say(client, conversation, headers, "/deny")
        assert offer["language"] == language
        assert payloads(offer["messages"][-1]) == ["/request_human", "/deny"]

        waiting = say(client, conversation, headers, yes, mode="waiting")
        assert waiting["messages"], "the bot says the conversation goes to an agent"

        # No agent has the desk open: the citizen leaves a message, acknowledged once by the API.
        later = say(client, conversation, headers, "hello?", mode="waiting")["messages"]
        assert [message["author"] for message in later] == ["system"]

    feedback = stored(stack, "feedback", "helpful, slug, question, message_seq, source", conversation)
    assert feedback == [(0, "waste-collection", question, seq, "bot")]
    handoffs = stored(stack, "handoffs", "status, reason, language", conversation)
    assert handoffs == [("waiting", "not_helpful", language)]


def test_an_answer_that_helped_is_thanked_and_stored(stack: RunningStack) -> None:
    with stack.client() as client:
        conversation, headers = open_conversation(client, "en")
        say(client, conversation, headers, "what are the town hall opening hours?")
        thanks = say(client, conversation, headers, "/affirm")
        assert thanks["messages"][0]["source"] is None
    assert stored(stack, "feedback", "helpful, slug", conversation) == [(1, "opening-hours")]


@pytest.mark.parametrize(
    ("language", "first", "second"),
    [
        (
            "fr",
            "j'ai une question sur une démarche pour ma grand-mère",
            "comment on fait pour la chose de la mairie",
        ),
        (
            "en",
            "I have a question about a procedure for my grandmother",
            "it's about a procedure for my mother",
        ),
    ],
)
def test_the_failure_ladder_asks_to_rephrase_then_offers_a_person(
    stack: RunningStack, language: str, first: str, second: str
) -> None:
    with stack.client() as client:
        conversation, headers = open_conversation(client, language)
        rephrase = say(client, conversation, headers, first)
        assert [m["buttons"] for m in rephrase["messages"]] == [[]]
        offer = say(client, conversation, headers, second)
        assert payloads(offer["messages"][-1]) == ["/request_human", "/deny"]
        assert all(message["source"] is None for message in rephrase["messages"] + offer["messages"])


@pytest.mark.parametrize(
    ("language", "complaint"),
    [("fr", "c'est nul, vous ne comprenez rien"), ("en", "this is useless, you don't understand anything")],
)
def test_frustration_offers_a_person_and_the_button_starts_the_handoff(
    stack: RunningStack, language: str, complaint: str
) -> None:
    with stack.client() as client:
        conversation, headers = open_conversation(client, language)
        offer = say(client, conversation, headers, complaint)
        assert payloads(offer["messages"][-1]) == ["/request_human", "/deny"]
        handed = say(client, conversation, headers, "/request_human", mode="waiting")
        assert handed["language"] == language
    assert stored(stack, "handoffs", "reason", conversation) == [("frustration",)]


@pytest.mark.parametrize(
    ("language", "asked"),
    [("fr", "je voudrais parler à un agent de la mairie"), ("en", "can I speak to a real person please")],
)
def test_asking_for_a_person_starts_the_handoff(stack: RunningStack, language: str, asked: str) -> None:
    """The action calls the API's webhook while the turn holds the conversation's lock: no deadlock, and the
    turn answers ``waiting``; later messages go to the agents, not to Rasa."""
    with stack.client() as client:
        conversation, headers = open_conversation(client, language)
        reply = say(client, conversation, headers, asked, mode="waiting")
        assert reply["messages"] and reply["language"] == language
        later = say(client, conversation, headers, "allô ?", mode="waiting")["messages"]
        assert [message["author"] for message in later] == ["system"]  # a ticket's acknowledgement
    with sqlite3.connect(stack.var_dir / "rasa-tracker.db") as db:
        texts = [text for (text,) in db.execute(
            "SELECT json_extract(data, '$.text') FROM events WHERE sender_id = ? AND type_name = 'user'",
            (conversation,),
        )]  # fmt: skip
    assert texts == [asked]
    # No agent has the desk open in these tests: the handoff is a ticket, and the bot says so.
    assert stored(stack, "handoffs", "status, kind", conversation) == [("waiting", "ticket")]
    assert reply["messages"][0]["text"] == render("handoff_no_agent", language)["text"]


@pytest.mark.parametrize(
    ("start", "asked", "target", "confirmation"),
    [
        ("fr", "on peut parler anglais ?", "en", "English"),
        ("en", "can we speak French please?", "fr", "français"),
    ],
)
def test_the_citizen_switches_language_mid_conversation(
    stack: RunningStack, start: str, asked: str, target: str, confirmation: str
) -> None:
    with stack.client() as client:
        conversation, headers = open_conversation(client, start)
        switched = say(client, conversation, headers, asked)
        assert switched["language"] == target
        assert confirmation in switched["messages"][0]["text"]
        # a short message keeps the new language
        assert say(client, conversation, headers, "ok")["language"] == target
