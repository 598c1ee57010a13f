"""The agents' desk, live: how fast a handoff, a claim and a message reach the other side.

The API runs alone as its own process (``python -m api``, SQLite under a temporary folder): once a
conversation is handed off, nothing goes through Rasa. Measured, each ``rounds`` times:

- the handoff webhook (what the action server waits for) and a claim, request to answer;
- an agent's message: from ``POST /api/handoffs/{id}/messages`` to the citizen's WebSocket receiving it;
- a citizen's message: from ``POST /api/conversations/{id}/messages`` to the agent's WebSocket receiving it.

Latencies are measured on one clock (this process), so they include both HTTP and WebSocket hops.
"""

from __future__ import annotations

import json
import time

import httpx
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from api.signing import SIGNATURE_HEADER, sign
from benchmarks.common import running_api, summary

PASSWORD = "benchmark password"


def _next(connection: Connection, kind: str, author: str | None = None) -> dict[str, object]:
    while True:
        event = json.loads(connection.recv(timeout=10))
        message = event.get("message")
        if event.get("type") == kind and (
            author is None or (isinstance(message, dict) and message["author"] == author)
        ):
            return dict(event)


def bench_desk(rounds: int) -> None:
    """Prints the desk's latencies over ``rounds`` handoffs, claims and messages each way."""
    with (
        running_api([("agent", PASSWORD)]) as settings,
        httpx.Client(base_url=settings.api_url, timeout=10) as client,
    ):
        ws_url = settings.api_url.replace("http://", "ws://")
        token = client.post("/api/auth/login", json={"username": "agent", "password": PASSWORD}).json()[
            "token"
        ]
        client.cookies.clear()
        agent = {"Authorization": f"Bearer {token}"}
        secret = settings.webhook_secret.get_secret_value()
        handoff_ms: list[float] = []
        claim_ms: list[float] = []
        to_citizen_ms: list[float] = []
        to_agent_ms: list[float] = []
        with connect(f"{ws_url}/api/agent/ws?token={token}") as desk:
            _next(desk, "hello")
            for _ in range(rounds):
                created = client.post("/api/conversations", json={"language": "fr"}).json()
                citizen = {"Authorization": f"Bearer {created['token']}"}
                body = json.dumps({"conversation_id": created["id"], "reason": "requested"}).encode()
                started = time.perf_counter()
                answer = client.post(
                    "/api/webhooks/handoff",
                    content=body,
                    headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)},
                ).json()
                handoff_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                client.post(f"/api/handoffs/{answer['handoff_id']}/claim", headers=agent).raise_for_status()
                claim_ms.append((time.perf_counter() - started) * 1000)
                seen = client.get(f"/api/conversations/{created['id']}/messages", headers=citizen).json()
                widget_url = f"{ws_url}/api/conversations/{created['id']}/ws?token={created['token']}"
                with connect(f"{widget_url}&after={seen[-1]['seq']}") as widget:
                    _next(widget, "status")
                    started = time.perf_counter()
                    client.post(
                        f"/api/handoffs/{answer['handoff_id']}/messages",
                        json={"text": "Bonjour"},
                        headers=agent,
                    )
                    _next(widget, "message", "agent")
                    to_citizen_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                client.post(
                    f"/api/conversations/{created['id']}/messages", json={"text": "Merci"}, headers=citizen
                )
                _next(desk, "message", "citizen")
                to_agent_ms.append((time.perf_counter() - started) * 1000)
        print(summary("handoff webhook, request to answer", handoff_ms))
        print(summary("claim, request to answer", claim_ms))
        print(summary("agent's message to the citizen's socket", to_citizen_ms))
        print(summary("citizen's message to the agent's socket", to_agent_ms))
