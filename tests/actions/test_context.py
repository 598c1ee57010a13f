"""What the actions read from the tracker: the language, the intent, the failures, the earlier turns."""

from __future__ import annotations

from typing import Any

import pytest

from actions import context
from tests.actions.helpers import Event, action, bot, slot, tracker, user

ANSWER = "action_answer_question"


@pytest.mark.parametrize(
    ("value", "expected"), [("en", "en"), ("fr", "fr"), (None, "fr"), ("de", "fr"), ("", "fr")]
)
def test_the_citizen_language_defaults_to_french(value: str | None, expected: str) -> None:
    assert context.citizen_language(tracker("bonjour", "greet", slots={"language": value})) == expected


def test_the_latest_intent_is_that_of_the_latest_message() -> None:
    assert context.latest_intent(tracker("combien ça coûte ?", "ask_cost")) == "ask_cost"
    assert context.latest_intent(tracker("euh", None)) is None


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 0), (0.0, 0), (1.0, 1), (2.0, 2), ("1.0", 1), ("n/a", 0), (-3.0, 0)]
)
def test_failures_are_counted_from_the_slot(value: Any, expected: int) -> None:
    assert context.failures(tracker("?", "nlu_fallback", slots={"failures": value})) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("/deny", True), ('/ask_procedure{"procedure":"id-card"}', True), ("non", False)]
)
def test_button_payloads_are_told_from_typed_text(text: str, expected: bool) -> None:
    assert context.is_payload(text) is expected


#: A question answered; then an ambiguous one, settled with a button; the latest message judges that answer.
CONVERSATION: list[Event] = [
    action("action_listen"),
    user("comment faire un passeport ?", "ask_procedure"),
    action(ANSWER),
    slot("outcome", "answered"),
    bot("1. **Faites la pré-demande en ligne**…"),
    action("action_listen"),
    user("acte de naissance ou de mariage", "ask_procedure"),
    action(ANSWER),
    slot("outcome", "ambiguous"),
    bot("Votre question peut concerner plusieurs démarches. Laquelle vous intéresse ?"),
    action("action_listen"),
    user(
        '/ask_procedure{"procedure":"birth-certificate"}', "ask_procedure", {"procedure": "birth-certificate"}
    ),
    action(ANSWER),
    slot("outcome", "answered"),
    bot("Demandez-le en ligne…"),
    action("action_listen"),
]


def test_the_question_before_an_action_skips_button_payloads() -> None:
    judged = tracker("/deny", "deny", events=CONVERSATION)
    assert context.question_before(judged, ANSWER) == "acte de naissance ou de mariage"


def test_the_question_before_is_that_of_the_latest_run_of_the_action() -> None:
    judged = tracker("/deny", "deny", events=CONVERSATION[:6])
    assert context.question_before(judged, ANSWER) == "comment faire un passeport ?"


def test_there_is_no_question_before_an_action_that_never_ran() -> None:
    judged = tracker("/deny", "deny", events=CONVERSATION)
    assert context.question_before(judged, "action_handoff") is None
    assert context.question_before(tracker("bonjour", "greet"), ANSWER) is None


def test_there_is_no_question_when_only_buttons_came_before() -> None:
    events = [action("action_listen"), user("/request_human", "request_human"), action(ANSWER)]
    assert context.question_before(tracker("/deny", "deny", events=events), ANSWER) is None


def test_the_intent_before_an_action_is_that_of_the_message_that_led_to_it() -> None:
    events = [
        *CONVERSATION,
        user("/deny", "deny"),
        action("action_feedback"),
        action("utter_feedback_noted"),
        action("utter_offer_human"),
        action("action_listen"),
    ]
    judged = tracker("oui", "affirm", events=events)
    assert context.intent_before(judged, "utter_offer_human") == "deny"
    # The latest run of the answer action followed the button, whose intent was ask_procedure.
    assert context.intent_before(judged, ANSWER) == "ask_procedure"
    assert context.intent_before(judged, "utter_apologise") is None


def test_the_intent_before_an_action_may_be_unknown() -> None:
    events = [{"event": "user", "text": "?", "parse_data": {}}, action("utter_offer_human")]
    assert context.intent_before(tracker("oui", "affirm", events=events), "utter_offer_human") is None
