"""The Rasa client: reading the channel's replies, and failing cleanly when Rasa cannot answer."""

from __future__ import annotations

import pytest

from api.rasa_client import BotReply, BotSource, RasaClient, RasaUnavailable, parse_replies, turn_language


def test_replies_are_read_whole() -> None:
    [reply] = parse_replies(
        [
            {
                "recipient_id": "abc",
                "text": "Pour un passeport, prenez rendez-vous en mairie.",
                "buttons": [{"title": "Oui", "payload": "/affirm"}],
                "language": "fr",
                "source": {"slug": "passport", "title": "Passeport", "url": "https://example.org/passeport"},
            }
        ]
    )
    assert reply.text == "Pour un passeport, prenez rendez-vous en mairie."
    assert [(b.title, b.payload) for b in reply.buttons] == [("Oui", "/affirm")]
    assert reply.language == "fr"
    assert reply.source is not None
    assert (reply.source.slug, reply.source.title, reply.source.url) == (
        "passport",
        "Passeport",
        "https://example.org/passeport",
    )


def test_missing_fields_take_defaults() -> None:
    [reply] = parse_replies([{"text": "Hello"}])
    assert reply == BotReply(text="Hello", buttons=[], language=None, source=None)


@pytest.mark.parametrize(
    ("language", "expected"), [("FR", "fr"), (" en ", "en"), ("de", None), (None, None), (3, None)]
)
def test_unknown_languages_read_as_none(language: object, expected: str | None) -> None:
    assert parse_replies([{"text": "x", "language": language}])[0].language == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"slug": "id-card"}, ("id-card", "id-card", None)),
        ({"slug": "id-card", "title": "Carte d'identité", "url": ""}, ("id-card", "Carte d'identité", None)),
        ({"title": "no slug"}, None),
        ("passport", None),
    ],
)
def test_sources_without_slug_are_dropped(source: object, expected: tuple[str, str, None] | None) -> None:
    reply = parse_replies([{"text": "x", "source": source}])[0]
    read = None if reply.source is None else (reply.source.slug, reply.source.title, reply.source.url)
    assert read == expected


def test_a_reply_built_in_code_keeps_its_source() -> None:
    source = BotSource(slug="passport", title="Passeport")
    assert BotReply(text="x", source=source).source == source


def test_empty_replies_are_dropped() -> None:
    replies = parse_replies(
        [
            {"text": ""},
            {"text": None, "buttons": None},
            {"text": "", "buttons": [{"title": "A", "payload": "a"}]},
        ]
    )
    assert [(r.text, len(r.buttons)) for r in replies] == [("", 1)]


@pytest.mark.parametrize(
    "payload", [{"text": "not a list"}, ["text"], [{"text": "x", "buttons": [{"title": 1}]}]]
)
def test_unexpected_answers_are_rasa_failures(payload: object) -> None:
    with pytest.raises(RasaUnavailable, match="unexpected answer"):
        parse_replies(payload)


def test_turn_language_is_the_last_one_stated() -> None:
    replies = [BotReply(text="a", language="fr"), BotReply(text="b", language="en"), BotReply(text="c")]
    assert turn_language(replies, "fr") == "en"
    assert turn_language([BotReply(text="a")], "en") == "en"
    assert turn_language([], "fr") == "fr"


@pytest.mark.anyio
async def test_unreachable_rasa(closed_port: int) -> None:
    client = RasaClient(f"http://127.0.0.1:{closed_port}", timeout=2)
    try:
        with pytest.raises(RasaUnavailable, match="cannot reach Rasa"):
            await client.send("conversation", "Bonjour", "fr")
        assert (await client.status()) == "unreachable (ConnectError)"
    finally:
        await client.aclose()


@pytest.mark.anyio
async def test_silent_rasa_times_out(silent_port: int) -> None:
    client = RasaClient(f"http://127.0.0.1:{silent_port}", timeout=0.2)
    try:
        with pytest.raises(RasaUnavailable, match=r"did not answer within 0\.2 s"):
            await client.send("conversation", "Bonjour", "fr")
        assert (await client.status(timeout=0.2)) == "timed out after 0.2 s"
    finally:
        await client.aclose()
