"""Retention on Rasa's side, with the real stack: the signed ``POST /webhooks/guichet/forget`` of
``bot/channels.py`` deletes the trackers idle for the given number of days from Rasa's tracker store, and
``python -m api.retention`` calls it as the API does after each purge.

Idleness is made by backdating a conversation's events in Rasa's SQLite tracker store (``rasa-tracker.db``).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from api.signing import SIGNATURE_HEADER, sign
from tests.e2e.test_conversation import open_conversation, say
from tests.e2e.test_rasa_resume import rasa_events, shared_secret
from tests.stack import RunningStack

pytestmark = pytest.mark.e2e

FORGET_PATH = "/webhooks/guichet/forget"
DAY = 86_400


API_ASKED_RASA = re.compile(r"api \| .*POST \S+/webhooks/guichet/forget \"HTTP/1\.1 200 OK\"")


@pytest.fixture(autouse=True)
def _api_has_asked_rasa_already(stack: RunningStack) -> None:
    """Wait until the stack's own API has had Rasa forget once (at its start, then every minute while Rasa was
    not up yet): from then on it asks only hourly, so it cannot take a tracker these tests backdate."""
    deadline = time.monotonic() + 150
    while not API_ASKED_RASA.search(stack.log.read_text(encoding="utf-8")):
        assert time.monotonic() < deadline, "the API never asked Rasa to forget (see the stack's log)"
        time.sleep(0.5)


def talked_to_the_bot(stack: RunningStack) -> tuple[str, dict[str, str]]:
    """A new French conversation, made through the API, with one turn answered by the bot."""
    with stack.client() as client:
        conversation, headers = open_conversation(client, "fr")
        say(client, conversation, headers, "Bonjour")
    assert rasa_events(stack, conversation), "Rasa has a tracker for it"
    return conversation, headers


def backdate(stack: RunningStack, conversation: str, days: int) -> None:
    """Moves every event of the conversation's tracker ``days`` into the past."""
    with sqlite3.connect(stack.var_dir / "rasa-tracker.db") as db:
        moved = db.execute(
            "UPDATE events SET timestamp = timestamp - ? WHERE sender_id = ?", (days * DAY, conversation)
        ).rowcount
    assert moved > 0


def forget(stack: RunningStack, body: bytes, *, signature: str | None = None) -> httpx.Response:
    """Calls Rasa's forget route, signed with the stack's secret unless told otherwise."""
    signed = signature if signature is not None else sign(shared_secret(stack), body)
    with httpx.Client(base_url=stack.settings.rasa_url, trust_env=False, timeout=60) as rasa:
        return rasa.post(
            FORGET_PATH, content=body, headers={"Content-Type": "application/json", SIGNATURE_HEADER: signed}
        )


def forget_body(idle_days: int) -> bytes:
    return json.dumps({"idle_days": idle_days}).encode("utf-8")


def test_the_trackers_idle_longer_than_the_period_are_forgotten(stack: RunningStack) -> None:
    idle, idle_headers = talked_to_the_bot(stack)
    recent, _ = talked_to_the_bot(stack)
    backdate(stack, idle, days=91)
    recent_events = rasa_events(stack, recent)

    answer = forget(stack, forget_body(90))

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"forgotten": 1}
    assert rasa_events(stack, idle) == []
    assert rasa_events(stack, recent) == recent_events
    assert forget(stack, forget_body(90)).json() == {"forgotten": 0}  # idempotent

    # The API kept its own copy (its latest message is recent): the bot answers it on a new tracker.
    with stack.client() as client:
        reply = say(client, idle, idle_headers, "Bonjour")
    assert reply["messages"]
    assert rasa_events(stack, idle)


def test_the_api_s_retention_command_asks_rasa_to_forget(stack: RunningStack) -> None:
    idle, _ = talked_to_the_bot(stack)
    recent, _ = talked_to_the_bot(stack)
    backdate(stack, idle, days=stack.settings.retention_days + 1)

    # The stack fixture's environment points the command at the stack's database, Rasa and secret.
    done = subprocess.run(
        [sys.executable, "-m", "api.retention"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    days = stack.settings.retention_days
    assert done.stdout.splitlines() == [
        f"Deleted 0 conversation(s) with no activity for {days} days",
        f"Rasa forgot 1 conversation(s) with no activity for {days} days",
    ]
    assert rasa_events(stack, idle) == []
    assert rasa_events(stack, recent)


def test_a_badly_signed_forget_is_refused_and_forgets_nothing(stack: RunningStack) -> None:
    idle, _ = talked_to_the_bot(stack)
    backdate(stack, idle, days=91)
    before = rasa_events(stack, idle)
    body = forget_body(90)

    assert forget(stack, body, signature=sign("not-the-shared-secret", body)).status_code == 401
    assert forget(stack, body, signature="").status_code == 401
    assert forget(stack, forget_body(1), signature=sign(shared_secret(stack), body)).status_code == 401
    with httpx.Client(base_url=stack.settings.rasa_url, trust_env=False, timeout=30) as rasa:
        unsigned = rasa.post(FORGET_PATH, content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    assert rasa_events(stack, idle) == before

    assert forget(stack, body).json() == {"forgotten": 1}  # leaves no backdated tracker to other tests


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[90]",
        b'{"days": 90}',
        b'{"idle_days": 0}',
        b'{"idle_days": -90}',
        b'{"idle_days": "90"}',
        b'{"idle_days": 90.5}',
        b'{"idle_days": true}',
    ],
)
def test_a_signed_forget_without_a_number_of_days_is_a_bad_request(stack: RunningStack, body: bytes) -> None:
    answer = forget(stack, body)
    assert answer.status_code == 400, answer.text
    assert "idle_days" in answer.json()["detail"]
