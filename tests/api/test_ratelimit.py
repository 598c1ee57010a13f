"""Rate limits of the citizens' endpoints: parsing, the GCRA limiter, and 429s through the API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.config import Settings
from api.main import create_app
from api.ratelimit import MESSAGES, Rate, RateLimiter, RateLimitError, RateLimits, parse_rate_limits
from tests.api.helpers import start_conversation


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "rate"),
    [("30/minute", Rate(30, 60.0)), ("5/second", Rate(5, 1.0)), (" 100 / hours ", Rate(100, 3600.0))],
)
def test_rates_parse(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "0/minute", "-1/minute", "30", "30/fortnight", "thirty/minute"])
def test_malformed_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="COUNT/UNIT"):
        Rate.parse(text)


def test_limits_default_and_override_by_name() -> None:
    assert parse_rate_limits("off") is None
    default, logins = Rate(30, 60.0), Rate(10, 60.0)
    assert parse_rate_limits("") == {"conversations": default, "messages": default, "logins": logins}
    assert parse_rate_limits("messages=5/second") == {
        "conversations": default,
        "messages": Rate(5, 1.0),
        "logins": logins,
    }
    with pytest.raises(ValueError, match="'sessions=3/minute'"):
        parse_rate_limits("sessions=3/minute")


def test_settings_refuse_malformed_limits(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ValidationError, match="rate_limits"):
        make_settings(GUICHET_RATE_LIMITS="messages=lots")


def test_a_key_gets_its_burst_then_one_request_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(30, 60.0), clock)
    assert all(limiter.hit("a") == 0 for _ in range(30))
    assert limiter.hit("a") == pytest.approx(2.0)
    assert limiter.hit("b") == 0, "other keys have their own budget"
    clock.now += 1.0
    assert limiter.hit("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.hit("a") == 0
    assert limiter.hit("a") > 0


def test_idle_keys_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(2, 10.0), clock)
    for key in ("a", "b", "c"):
        limiter.hit(key)
    clock.now += 11
    limiter.hit("d")
    assert set(limiter._theoretical_arrival) == {"d"}


def test_the_error_says_what_to_do() -> None:
    limits = RateLimits({MESSAGES: Rate(1, 60.0)}, Clock())
    limits.check(MESSAGES, "conversation")
    with pytest.raises(RateLimitError) as raised:
        limits.check(MESSAGES, "conversation")
    assert raised.value.retry_after == 60
    assert str(raised.value) == (
        "Too many messages in this conversation: at most 1 a minute. Please wait 60 s and try again."
    )
    RateLimits(None).check(MESSAGES, "anything")  # off: never raises


def test_new_conversations_are_limited_per_address(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(GUICHET_RATE_LIMITS="conversations=3/minute")
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            assert client.post("/api/conversations").status_code == 201
        refused = client.post("/api/conversations")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == 20
    assert refused.json()["detail"] == (
        "Too many new conversations from this address: at most 3 a minute. Please wait 20 s and try again."
    )


def test_messages_are_limited_per_conversation_and_a_refused_one_is_not_stored(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(GUICHET_RATE_LIMITS="messages=2/minute")
    with TestClient(create_app(settings)) as client:
        first, first_headers = start_conversation(client)
        second, second_headers = start_conversation(client)
        url = f"/api/conversations/{first}/messages"
        # Rasa is absent in these tests: accepted messages are stored and answered 503
        accepted = [client.post(url, json={"text": f"m{n}"}, headers=first_headers) for n in range(2)]
        refused = client.post(url, json={"text": "one too many"}, headers=first_headers)
        other_url = f"/api/conversations/{second}/messages"
        other = client.post(other_url, json={"text": "hi"}, headers=second_headers)
        stored = client.get(url, headers=first_headers).json()
    assert [response.status_code for response in accepted] == [503, 503]
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert other.status_code == 503, "another conversation has its own budget"
    assert [message["text"] for message in stored] == ["m0", "m1"]


def test_limits_can_be_turned_off_for_load_tests(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(GUICHET_RATE_LIMITS="off")
    with TestClient(create_app(settings)) as client:
        assert all(client.post("/api/conversations").status_code == 201 for _ in range(40))
