"""The API's own texts: every notice and canned reply in French and English, with matching placeholders."""

from __future__ import annotations

import string

from api import texts


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_notice_has_both_languages_with_the_same_placeholders() -> None:
    notices = texts.notices()
    assert {"agent_joined", "back_in_queue", "closed", "closed_resume_bot", "ticket_received"} <= set(notices)
    for versions in notices.values():
        assert placeholders(versions["fr"]) == placeholders(versions["en"])
    assert (
        texts.notice("agent_joined", "en", name="Marie")
        == "Marie, from the town hall, has joined the conversation."
    )
    assert texts.notice("agent_joined", "de", name="Marie").startswith(
        "Marie, de la mairie"
    )  # French by default


def test_canned_replies_come_in_pairs() -> None:
    canned = texts.canned_responses()
    assert len(canned["fr"]) == len(canned["en"]) > 0
    assert all(reply["title"].strip() and reply["text"].strip() for lang in canned for reply in canned[lang])
