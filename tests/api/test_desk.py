"""The agents' desk through the API: queue, claim, two-way messages, hand back, close; live sockets; tickets.

The application runs on a real SQLite file with its lifespan; Rasa is absent (a closed port), which these
tests never need: once a conversation is handed off, nothing goes to Rasa, and closing it only tries to tell
Rasa (tests/e2e checks that against the real Rasa server).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from api.config import Settings
from api.crud import NewMessage
from api.main import create_app
from api.models import Author, utcnow
from tests.api.helpers import (
    claim_concurrently,
    create_staff,
    hand_off,
    run_sql,
    staff_headers,
    start_conversation,
    store_turn,
)

Headers = dict[str, str]


@pytest.fixture
def desk(settings: Settings, client: TestClient) -> dict[str, Headers]:
    """Two agents (Marie and Paul), an editor and an administrator, signed in: their headers by name."""
    create_staff(settings, "marie", "agent", "Marie")
    create_staff(settings, "paul", "agent", "Paul")
    create_staff(settings, "edith", "editor")
    create_staff(settings, "ada", "admin")
    return {name: staff_headers(client, name) for name in ("marie", "paul", "edith", "ada")}


def agent_socket(client: TestClient, headers: Headers) -> WebSocketTestSession:
    """Open an agents' desk socket with a session token (the way a script would; the desk uses the cookie)."""
    token = headers["Authorization"].removeprefix("Bearer ")
    return client.websocket_connect(f"/api/agent/ws?token={token}")


def next_event(socket: WebSocketTestSession, kind: str, **expected: Any) -> dict[str, Any]:
    """Read events until one of a type (and matching ``expected`` top-level fields) arrives."""
    for _ in range(50):
        event: dict[str, Any] = socket.receive_json()
        if event.get("type") == kind and all(event.get(k) == v for k, v in expected.items()):
            return event
    raise AssertionError(f"no {kind} event {expected}")


@pytest.fixture
def online(client: TestClient, desk: dict[str, Headers]) -> Iterator[WebSocketTestSession]:
    """Marie has the desk open (so a handoff is live, not a ticket); her socket, past its greeting."""
    with agent_socket(client, desk["marie"]) as socket:
        assert socket.receive_json()["type"] == "hello"
        yield socket


def waiting_handoff(client: TestClient, language: str = "fr") -> tuple[str, Headers, str]:
    """A conversation with a question, handed off: its id, its citizen's headers and the handoff's id."""
    conversation_id, citizen = start_conversation(client, language)
    answer = hand_off(client, conversation_id).json()
    return conversation_id, citizen, answer["handoff_id"]


def citizen_messages(client: TestClient, conversation_id: str, citizen: Headers, after: int = 0) -> list[Any]:
    response = client.get(f"/api/conversations/{conversation_id}/messages?after={after}", headers=citizen)
    assert response.status_code == 200
    messages: list[Any] = response.json()
    return messages


# --- accounts -----------------------------------------------------------------------------------------


def test_sign_in_gives_a_token_and_an_http_only_cookie(settings: Settings, client: TestClient) -> None:
    create_staff(settings, "marie", "agent", "Marie Dupont")

    response = client.post(
        "/api/auth/login", json={"username": "marie", "password": "correct horse battery staple"}
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["role"], body["username"], body["display_name"]) == ("agent", "marie", "Marie Dupont")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"guichet_session={body['token']}")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    # The cookie alone authenticates (as on the desk)…
    assert client.get("/api/auth/me").json()["username"] == "marie"
    # …until signing out.
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/auth/me").status_code == 401
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"}).status_code == 401


@pytest.mark.parametrize(
    ("username", "password"),
    [("marie", "wrong password!"), ("nobody", "correct horse battery staple"), ("marie", "")],
)
def test_wrong_credentials_get_401(
    settings: Settings, client: TestClient, username: str, password: str
) -> None:
    create_staff(settings, "marie")
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code in (401, 422)
    assert "set-cookie" not in response.headers


def test_passwords_are_stored_as_argon2id_hashes(settings: Settings, client: TestClient) -> None:
    create_staff(settings, "marie")
    [row] = run_sql(settings, "SELECT password_hash FROM users WHERE username = 'marie'")
    assert row["password_hash"].startswith("$argon2id$")
    assert "correct horse" not in row["password_hash"]


def test_an_expired_or_disabled_session_is_refused(settings: Settings, client: TestClient) -> None:
    create_staff(settings, "marie")
    headers = staff_headers(client, "marie")
    assert client.get("/api/auth/me", headers=headers).status_code == 200

    run_sql(settings, "UPDATE staff_sessions SET expires_at = :past", past=utcnow() - timedelta(seconds=1))
    assert client.get("/api/auth/me", headers=headers).status_code == 401

    headers = staff_headers(client, "marie")
    run_sql(settings, "UPDATE users SET active = false WHERE username = 'marie'")
    assert client.get("/api/handoffs", headers=headers).status_code == 401


AGENT_ENDPOINTS = [
    ("GET", "/api/handoffs?status=waiting"),
    ("GET", "/api/handoffs/0123456789abcdef0123456789abcdef"),
    ("POST", "/api/handoffs/0123456789abcdef0123456789abcdef/claim"),
    ("POST", "/api/handoffs/0123456789abcdef0123456789abcdef/messages"),
    ("POST", "/api/handoffs/0123456789abcdef0123456789abcdef/release"),
    ("POST", "/api/handoffs/0123456789abcdef0123456789abcdef/close"),
    ("GET", "/api/canned-responses"),
]


@pytest.mark.parametrize(("method", "path"), AGENT_ENDPOINTS)
def test_every_agent_endpoint_checks_the_role(
    client: TestClient, desk: dict[str, Headers], method: str, path: str
) -> None:
    body = {"text": "Bonjour"} if path.endswith("/messages") else None
    assert client.request(method, path, json=body).status_code == 401
    assert (
        client.request(method, path, json=body, headers={"Authorization": "Bearer forged"}).status_code == 401
    )
    assert client.request(method, path, json=body, headers=desk["edith"]).status_code == 403
    # Agents and administrators get through the role check (to a 404 for the unknown handoff).
    assert client.request(method, path, json=body, headers=desk["marie"]).status_code in (200, 404)
    assert client.request(method, path, json=body, headers=desk["ada"]).status_code in (200, 404)


def test_the_agent_socket_needs_an_agent(client: TestClient, desk: dict[str, Headers]) -> None:
    for headers, code in ((desk["edith"], 4403), ({"Authorization": "Bearer forged"}, 4401)):
        with agent_socket(client, headers) as socket, pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == code


def test_the_agent_socket_refuses_pages_of_other_sites(client: TestClient, desk: dict[str, Headers]) -> None:
    token = desk["marie"]["Authorization"].removeprefix("Bearer ")
    foreign = {"origin": "https://evil.example"}
    with (
        client.websocket_connect(f"/api/agent/ws?token={token}", headers=foreign) as socket,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        socket.receive_json()
    assert closed.value.code == 4403
    with client.websocket_connect(
        f"/api/agent/ws?token={token}", headers={"origin": "http://testserver"}
    ) as socket:
        assert socket.receive_json()["type"] == "hello"


def test_the_agent_socket_ends_with_the_session(
    client: TestClient, desk: dict[str, Headers], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.routes.handoffs.PRESENCE_SECONDS", 0.05)
    with agent_socket(client, desk["marie"]) as socket:
        assert socket.receive_json()["type"] == "hello"
        assert client.post("/api/auth/logout", headers=desk["marie"]).status_code == 204
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 4401


# --- the handoff's life -------------------------------------------------------------------------------


def test_a_live_handoff_from_queue_to_close(
    client: TestClient, desk: dict[str, Headers], online: WebSocketTestSession, settings: Settings
) -> None:
    conversation_id, citizen = start_conversation(client, "fr")
    client.post(
        f"/api/conversations/{conversation_id}/messages", json={"text": "Mon dossier ?"}, headers=citizen
    )

    answer = hand_off(client, conversation_id, reason="misunderstood", note="procedure: passport").json()
    assert (answer["available"], answer["unavailable_reason"], answer["queue_position"]) == (True, None, 1)
    handoff_id = answer["handoff_id"]

    # The open desk hears of it at once, with the transcript's start.
    event = next_event(online, "handoff", event="waiting")
    assert event["handoff"]["id"] == handoff_id
    assert [m["text"] for m in event["handoff"]["transcript"]] == ["Mon dossier ?"]

    [queued] = client.get("/api/handoffs?status=waiting", headers=desk["marie"]).json()
    assert (queued["id"], queued["language"], queued["reason"], queued["kind"]) == (
        handoff_id,
        "fr",
        "misunderstood",
        "live",
    )
    assert queued["note"] == "procedure: passport"
    assert queued["assignee"] is None and queued["waited_seconds"] >= 0

    claimed = client.post(f"/api/handoffs/{handoff_id}/claim", headers=desk["marie"])
    assert claimed.status_code == 200
    assert (claimed.json()["status"], claimed.json()["assignee"], claimed.json()["assignee_name"]) == (
        "active",
        "marie",
        "Marie",
    )
    # Paul cannot take it any more, nor write in it; Marie claiming again changes nothing.
    taken = client.post(f"/api/handoffs/{handoff_id}/claim", headers=desk["paul"])
    assert taken.status_code == 409 and "marie" in taken.json()["detail"]
    assert client.post(f"/api/handoffs/{handoff_id}/claim", headers=desk["marie"]).status_code == 200
    refused = client.post(f"/api/handoffs/{handoff_id}/messages", json={"text": "Hi"}, headers=desk["paul"])
    assert refused.status_code == 409

    # Two-way messages.
    sent = client.post(
        f"/api/handoffs/{handoff_id}/messages", json={"text": "Bonjour, je regarde."}, headers=desk["marie"]
    )
    assert sent.status_code == 201 and sent.json()["author"] == "agent"
    reply = client.post(
        f"/api/conversations/{conversation_id}/messages", json={"text": "Merci !"}, headers=citizen
    )
    assert reply.json() == {"mode": "agent", "language": "fr", "messages": []}
    live = next_event(online, "message", handoff_id=handoff_id)
    while live["message"]["author"] != "citizen":
        live = next_event(online, "message", handoff_id=handoff_id)
    assert live["message"]["text"] == "Merci !"

    texts = [(m["author"], m["text"]) for m in citizen_messages(client, conversation_id, citizen)]
    assert texts == [
        ("citizen", "Mon dossier ?"),
        ("system", "Marie, de la mairie, a rejoint la conversation."),
        ("agent", "Bonjour, je regarde."),
        ("citizen", "Merci !"),
    ]

    closed = client.post(
        f"/api/handoffs/{handoff_id}/close", json={"resume_bot": True}, headers=desk["marie"]
    )
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"] is not None
    [row] = run_sql(settings, "SELECT mode FROM conversations WHERE id = :id", id=conversation_id)
    assert row["mode"] == "bot"
    last = citizen_messages(client, conversation_id, citizen)[-1]
    assert last["author"] == "bot" and last["text"].startswith(
        "Marie a terminé la conversation. C'est à nouveau"
    )
    # Closed: no more messages from Marie; it is in the history, found by a word the citizen wrote.
    late = client.post(f"/api/handoffs/{handoff_id}/messages", json={"text": "PS"}, headers=desk["marie"])
    assert late.status_code == 409
    assert client.get("/api/handoffs?status=waiting", headers=desk["marie"]).json() == []
    found = client.get("/api/handoffs?status=closed&q=DOSSIER", headers=desk["marie"]).json()
    assert [h["id"] for h in found] == [handoff_id]
    assert client.get("/api/handoffs?status=closed&q=passeport", headers=desk["marie"]).json() == []


def test_handing_back_to_the_queue_lets_another_agent_take_it(
    client: TestClient, desk: dict[str, Headers], online: WebSocketTestSession
) -> None:
    conversation_id, citizen, handoff_id = waiting_handoff(client, "en")
    client.post(f"/api/handoffs/{handoff_id}/claim", headers=desk["marie"])

    assert client.post(f"/api/handoffs/{handoff_id}/release", headers=desk["paul"]).status_code == 409
    released = client.post(f"/api/handoffs/{handoff_id}/release", headers=desk["marie"])
    assert (released.json()["status"], released.json()["assignee"]) == ("waiting", None)
    assert citizen_messages(client, conversation_id, citizen)[-1]["text"].startswith(
        "Your conversation is back"
    )

    assert client.post(f"/api/handoffs/{handoff_id}/claim", headers=desk["paul"]).status_code == 200
    closed = client.post(
        f"/api/handoffs/{handoff_id}/close", json={"resume_bot": False}, headers=desk["paul"]
    )
    assert closed.status_code == 200
    last = citizen_messages(client, conversation_id, citizen)[-1]
    assert (last["author"], last["text"]) == (
        "system",
        "Paul has closed the conversation. Thank you for getting in touch!",
    )


def test_unknown_handoffs_and_bad_bodies(
    client: TestClient, desk: dict[str, Headers], online: WebSocketTestSession
) -> None:
    _, _, handoff_id = waiting_handoff(client)
    assert client.get("/api/handoffs/nope", headers=desk["marie"]).status_code == 404
    assert client.get("/api/handoffs?status=lost", headers=desk["marie"]).status_code == 422
    client.post(f"/api/handoffs/{handoff_id}/claim", headers=desk["marie"])
    empty = client.post(f"/api/handoffs/{handoff_id}/messages", json={"text": "   "}, headers=desk["marie"])
    assert (empty.status_code, empty.json()["detail"]) == (422, "text: must not be empty")
    whole = client.get(f"/api/handoffs/{handoff_id}", headers=desk["marie"]).json()
    assert whole["status"] == "active" and whole["transcript"][-1]["author"] == "system"


def test_canned_responses_in_both_languages(client: TestClient, desk: dict[str, Headers]) -> None:
    canned = client.get("/api/canned-responses", headers=desk["marie"]).json()
    assert set(canned) == {"fr", "en"}
    assert len(canned["fr"]) == len(canned["en"]) >= 5
    assert all(reply["title"] and reply["text"] for replies in canned.values() for reply in replies)


@pytest.mark.anyio
async def test_exactly_one_of_several_agents_claiming_at_once_wins(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    results = await claim_concurrently(create_app(settings), settings, 6)
    assert sorted(status for _, status in results) == [200] + [409] * 5
    [winner] = [name for name, status in results if status == 200]
    assert run_sql(settings, "SELECT assignee FROM handoffs") == [{"assignee": winner}]


# --- the citizen's socket -----------------------------------------------------------------------------


def test_the_citizen_socket_pushes_status_and_agent_messages(
    client: TestClient, desk: dict[str, Headers], online: WebSocketTestSession
) -> None:
    conversation_id, citizen, handoff_id = waiting_handoff(client, "en")
    token = citizen["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect(f"/api/conversations/{conversation_id}/ws?token={token}") as socket:
        assert socket.receive_json() == {"type": "status", "mode": "waiting", "queue_position": 1}

        client.post(f"/api/handoffs/{handoff_id}/claim", headers=desk["marie"])
        joined = next_event(socket, "message")
        assert (joined["message"]["author"], joined["message"]["text"]) == (
            "system",
            "Marie, from the town hall, has joined the conversation.",
        )
        assert next_event(socket, "status") == {"type": "status", "mode": "agent", "queue_position": None}

        client.post(
            f"/api/handoffs/{handoff_id}/messages", json={"text": "How can I help?"}, headers=desk["marie"]
        )
        pushed = next_event(socket, "message")["message"]
        assert (pushed["author"], pushed["text"], pushed["seq"]) == ("agent", "How can I help?", 2)

        socket.send_json({"type": "ping"})
        assert next_event(socket, "pong") == {"type": "pong"}

    # Reconnecting after seq 1 catches up with what came after, first.
    with client.websocket_connect(f"/api/conversations/{conversation_id}/ws?token={token}&after=1") as socket:
        assert socket.receive_json()["type"] == "status"
        assert socket.receive_json()["message"]["text"] == "How can I help?"


def test_the_citizen_socket_needs_the_conversation_s_token(client: TestClient) -> None:
    conversation_id, _ = start_conversation(client)
    other_id, other = start_conversation(client)
    token = other["Authorization"].removeprefix("Bearer ")
    for path in (
        f"/api/conversations/{conversation_id}/ws?token={token}",
        f"/api/conversations/{other_id}/ws",
    ):
        with client.websocket_connect(path) as socket, pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 4401


def test_agents_can_write_through_their_socket(
    client: TestClient, desk: dict[str, Headers], online: WebSocketTestSession
) -> None:
    conversation_id, citizen, handoff_id = waiting_handoff(client)
    client.post(f"/api/handoffs/{handoff_id}/claim", headers=desk["marie"])

    online.send_json({"type": "message", "handoff_id": handoff_id, "text": "Je suis là."})
    assert next_event(online, "message", handoff_id=handoff_id)["message"]["text"] in (
        "Marie, de la mairie, a rejoint la conversation.",
        "Je suis là.",
    )
    online.send_json({"type": "message", "handoff_id": "nope", "text": "?"})
    assert next_event(online, "error")["detail"] == "No such handoff."
    online.send_json({"type": "message", "handoff_id": handoff_id, "text": "  "})
    assert next_event(online, "error")["detail"] == "text: must not be empty"  # as the POST says it
    assert citizen_messages(client, conversation_id, citizen)[-1]["text"] == "Je suis là."


# --- tickets, office hours, estimates -----------------------------------------------------------------


def test_outside_office_hours_the_citizen_leaves_a_ticket(
    make_settings: Callable[..., Settings], settings: Settings
) -> None:
    today = utcnow().astimezone(ZoneInfo("Europe/Paris")).date().isoformat()
    closed = make_settings(GUICHET_OFFICE_HOURS="mon-fri 08:30-12:00 13:30-17:30", GUICHET_HOLIDAYS=today)
    with TestClient(create_app(closed)) as client:
        conversation_id, citizen = start_conversation(client, "fr")
        answer = hand_off(client, conversation_id).json()
        assert (answer["available"], answer["unavailable_reason"]) == (False, "closed")
        assert answer["office_hours"] == "du lundi au vendredi, 8h30–12h et 13h30–17h30"

        first = client.post(
            f"/api/conversations/{conversation_id}/messages",
            json={"text": "Rappelez-moi au 06 12 34 56 78 ou jean.dupont@example.org svp"},
            headers=citizen,
        ).json()
        assert first["mode"] == "waiting"
        [ack] = first["messages"]
        assert ack["author"] == "system" and ack["text"].startswith("Merci, votre message est transmis")
        again = client.post(
            f"/api/conversations/{conversation_id}/messages", json={"text": "Merci"}, headers=citizen
        )
        assert again.json()["messages"] == []  # acknowledged once

    [ticket] = run_sql(closed, "SELECT kind, contact, status FROM handoffs")
    assert ticket == {
        "kind": "ticket",
        "contact": "jean.dupont@example.org, 06 12 34 56 78",
        "status": "waiting",
    }


def test_the_wait_is_estimated_from_recent_handling_times(
    client: TestClient, settings: Settings, desk: dict[str, Headers], online: WebSocketTestSession
) -> None:
    assert hand_off(client, start_conversation(client)[0]).json()["estimated_wait_seconds"] is None
    now = utcnow()
    for minutes in (4, 6, 20):  # three conversations recently handled in 4, 6 and 20 minutes: median 6
        conversation_id, _ = start_conversation(client)
        run_sql(
            settings,
            "INSERT INTO handoffs (id, conversation_id, status, language, reason, created_at, claimed_at, "
            "closed_at, kind, transcript) "
            "VALUES (:id, :c, 'closed', 'fr', 'requested', :t0, :t0, :t1, 'live', '[]')",
            id=conversation_id,
            c=conversation_id,
            t0=now - timedelta(minutes=minutes + 1),
            t1=now - timedelta(minutes=1),
        )
    second = hand_off(client, start_conversation(client)[0]).json()
    assert second["queue_position"] == 2
    assert (
        second["estimated_wait_seconds"] == 2 * 6 * 60
    )  # two conversations ahead of a free agent, one agent


# --- nothing lost ---------------------------------------------------------------------------------------


def test_a_restart_keeps_the_queue_the_claims_and_every_message(settings: Settings) -> None:
    create_staff(settings, "marie", "agent", "Marie")
    create_staff(settings, "paul", "agent", "Paul")
    with TestClient(create_app(settings)) as client:
        marie = staff_headers(client, "marie")
        conversation_id, citizen, active_id = waiting_handoff(client)
        _, _, waiting_id = waiting_handoff(client)
        client.post(f"/api/handoffs/{active_id}/claim", headers=marie)
        client.post(f"/api/handoffs/{active_id}/messages", json={"text": "Avant"}, headers=marie)
        before = citizen_messages(client, conversation_id, citizen)

    with TestClient(create_app(settings)) as client:  # the API restarted
        paul = staff_headers(client, "paul")
        assert [h["id"] for h in client.get("/api/handoffs?status=waiting", headers=paul).json()] == [
            waiting_id
        ]
        [active] = client.get("/api/handoffs?status=active", headers=paul).json()
        assert (active["id"], active["assignee"]) == (active_id, "marie")
        assert client.post(f"/api/handoffs/{active_id}/claim", headers=paul).status_code == 409
        assert citizen_messages(client, conversation_id, citizen) == before
        client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "Après"}, headers=citizen)
        assert [
            m["text"] for m in citizen_messages(client, conversation_id, citizen, after=before[-1]["seq"])
        ] == ["Après"]


def test_agents_read_a_clicked_button_as_its_title(
    client: TestClient, settings: Settings, desk: dict[str, Headers], online: WebSocketTestSession
) -> None:
    conversation_id, _ = start_conversation(client, "fr")
    buttons = [{"title": "Oui, merci", "payload": "/affirm"}, {"title": "Non", "payload": "/deny"}]
    store_turn(
        settings, conversation_id, "Mon passeport ?", NewMessage(Author.BOT, "Utile ?", buttons=buttons)
    )
    store_turn(settings, conversation_id, "/deny", NewMessage(Author.BOT, "Dommage."))
    store_turn(settings, conversation_id, "/deny")  # typed after a message with no buttons: shown as typed
    handoff_id = hand_off(client, conversation_id).json()["handoff_id"]

    transcript = client.get(f"/api/handoffs/{handoff_id}", headers=desk["marie"]).json()["transcript"]
    assert [(m["author"], m["text"]) for m in transcript] == [
        ("citizen", "Mon passeport ?"),
        ("bot", "Utile ?"),
        ("citizen", "Non"),
        ("bot", "Dommage."),
        ("citizen", "/deny"),
    ]


def test_sign_in_attempts_are_limited_per_address(settings: Settings, client: TestClient) -> None:
    create_staff(settings, "marie")
    wrong = {"username": "marie", "password": "not the password"}
    statuses = [client.post("/api/auth/login", json=wrong).status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]
    refused = client.post(
        "/api/auth/login", json={"username": "marie", "password": "correct horse battery staple"}
    )
    assert refused.status_code == 429 and "sign-in attempts" in refused.json()["detail"]
