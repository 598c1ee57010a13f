"""The agents' side of handoffs: the queue, claiming, chatting with the citizen, handing back, closing.

Every route needs a signed-in agent (or administrator). ``WS /api/agent/ws`` pushes the desk's live events
(see ``api.events`` and ``api.desk``) and takes the agent's messages too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, WebSocket, status
from pydantic import ValidationError

from api import accounts, desk, handoffs, texts
from api.accounts import Staff
from api.deps import AgentDep, DeskDep, Services, SessionDep, staff_token
from api.errors import describe_validation_errors
from api.events import AGENTS
from api.models import HandoffStatus, Role
from api.schemas import (
    AgentMessageCreate,
    CannedResponse,
    ErrorOut,
    HandoffClose,
    HandoffOut,
    HandoffStatusName,
    TranscriptMessage,
)
from api.sockets import WS_FORBIDDEN, WS_UNAUTHORIZED, forward, run_until_first_ends

logger = logging.getLogger(__name__)

router = APIRouter(tags=["agents"])

PRESENCE_SECONDS = 20
"""How often an open desk marks its agent as online (``accounts.ONLINE_WINDOW`` is longer)."""

_STAFF_RESPONSES: dict[int | str, dict[str, object]] = {
    status.HTTP_401_UNAUTHORIZED: {"model": ErrorOut, "description": "Not signed in"},
    status.HTTP_403_FORBIDDEN: {"model": ErrorOut, "description": "Not an agent"},
    422: {"model": ErrorOut, "description": "Invalid request; `detail` says what is wrong"},
}
_ONE_HANDOFF: dict[int | str, dict[str, object]] = {
    **_STAFF_RESPONSES,
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such handoff"},
    status.HTTP_409_CONFLICT: {"model": ErrorOut, "description": "Another agent has it, or it is not active"},
}


@router.get(
    "/handoffs", response_model=list[HandoffOut], responses=_STAFF_RESPONSES, summary="The queue, and history"
)
def list_handoffs(
    _agent: AgentDep,
    session: SessionDep,
    status_: Annotated[HandoffStatusName, Query(alias="status")] = "waiting",
    q: Annotated[
        str | None, Query(max_length=200, description="Words in the messages, contact, or id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[HandoffOut]:
    """Return the handoffs of a status: ``waiting`` (the queue) and ``active`` oldest first, ``closed`` newest
    first. Each carries the last messages of its transcript."""
    return desk.list_views(session, HandoffStatus(status_), (q or "").strip() or None, limit)


@router.get(
    "/handoffs/{handoff_id}", response_model=HandoffOut, responses=_ONE_HANDOFF, summary="One handoff"
)
def get_handoff(handoff_id: str, _agent: AgentDep, session: SessionDep) -> HandoffOut:
    """Return a handoff with its whole transcript."""
    return desk.handoff_view(session, handoff_id)


@router.post(
    "/handoffs/{handoff_id}/claim",
    response_model=HandoffOut,
    responses=_ONE_HANDOFF,
    summary="Take a handoff",
)
async def claim(handoff_id: str, agent: AgentDep, desk_: DeskDep) -> HandoffOut:
    """Take a waiting conversation. When several agents claim it at once, exactly one gets it; the others
    get 409. The citizen is told an agent has joined."""
    return await desk_.claim(handoff_id, agent)


@router.post(
    "/handoffs/{handoff_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=TranscriptMessage,
    responses=_ONE_HANDOFF,
    summary="Write to the citizen",
)
async def post_message(
    handoff_id: str, body: AgentMessageCreate, agent: AgentDep, desk_: DeskDep
) -> TranscriptMessage:
    """Store the agent's message in the conversation, then push it to the citizen."""
    return await desk_.agent_message(handoff_id, agent, body.text)


@router.post(
    "/handoffs/{handoff_id}/release",
    response_model=HandoffOut,
    responses=_ONE_HANDOFF,
    summary="Put a handoff back in the queue",
)
async def release(handoff_id: str, agent: AgentDep, desk_: DeskDep) -> HandoffOut:
    """Transfer the conversation back to the queue, at its original place, for another agent."""
    return await desk_.release(handoff_id, agent)


@router.post(
    "/handoffs/{handoff_id}/close",
    response_model=HandoffOut,
    responses=_ONE_HANDOFF,
    summary="Close a handoff",
)
async def close(
    handoff_id: str, agent: AgentDep, desk_: DeskDep, body: HandoffClose | None = None
) -> HandoffOut:
    """Close the conversation and give it back to the assistant. With ``resume_bot`` (the default), the
    assistant says so in the citizen's language; without, the citizen is told the agent closed it."""
    return await desk_.close(handoff_id, agent, resume_bot=body.resume_bot if body is not None else True)


@router.get(
    "/canned-responses",
    response_model=dict[str, list[CannedResponse]],
    responses=_STAFF_RESPONSES,
    summary="Ready-made replies, by language",
)
def canned_responses(_agent: AgentDep) -> dict[str, list[CannedResponse]]:
    """Return the agents' ready-made replies in French and English."""
    return {
        language: [CannedResponse.model_validate(reply) for reply in replies]
        for language, replies in texts.canned_responses().items()
    }


async def _error(websocket: WebSocket, detail: str) -> None:
    await websocket.send_json({"type": "error", "detail": detail})


async def _receive_from_desk(websocket: WebSocket, agent: Staff, desk_: desk.Desk) -> None:
    """Handle what the desk sends: messages to citizens, pings."""
    while True:
        received: Any = await websocket.receive_json()
        kind = received.get("type") if isinstance(received, dict) else None
        if kind == "ping":
            await websocket.send_json({"type": "pong"})
        elif kind == "message":
            try:
                body = AgentMessageCreate.model_validate(received)
                await desk_.agent_message(str(received.get("handoff_id", "")), agent, body.text)
            except ValidationError as error:
                await _error(websocket, describe_validation_errors(error.errors()))
            except handoffs.HandoffNotFound:
                await _error(websocket, "No such handoff.")
            except handoffs.HandoffConflict as error:
                await _error(websocket, str(error))
        else:
            await _error(websocket, "Expected {'type': 'message', 'handoff_id', 'text'} or {'type': 'ping'}.")


def _same_origin(websocket: WebSocket) -> bool:
    """Whether a browser opened the socket from this site's own pages (other clients send no ``Origin``).

    Browsers let any page open a WebSocket to any site, with that site's cookies: checking the origin keeps
    another site from using a signed-in agent's session (cross-site WebSocket hijacking).
    """
    origin = websocket.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == websocket.headers.get("host")


@router.websocket("/agent/ws")
async def agent_socket(websocket: WebSocket) -> None:
    """The desk's live feed: new waiting conversations, claims, closings, and every message of the
    conversations handed off. Authenticated by the session cookie or ``?token=``."""
    services: Services = websocket.app.state.services
    token = staff_token(websocket)
    agent = await services.db.run(accounts.staff_of_token, token) if token else None
    await websocket.accept()
    if not _same_origin(websocket):
        await websocket.close(WS_FORBIDDEN, "Open the desk from this site.")
        return
    if agent is None:
        await websocket.close(WS_UNAUTHORIZED, "Sign in first.")
        return
    if not agent.has_role(Role.AGENT):
        await websocket.close(WS_FORBIDDEN, "This needs the agent role.")
        return

    async with services.broker.subscribe(AGENTS) as events:
        await services.db.run(accounts.mark_seen, agent.id, online=True)
        await websocket.send_json(
            {
                "type": "hello",
                "agent": {"username": agent.username, "display_name": agent.display_name, "role": agent.role},
            }
        )

        async def keep_present() -> None:
            """Mark the agent online while the session lasts; end the socket when it expires or is closed."""
            while True:
                await asyncio.sleep(PRESENCE_SECONDS)
                if token is None or await services.db.run(accounts.staff_of_token, token) is None:
                    await websocket.close(WS_UNAUTHORIZED, "The session has ended: sign in again.")
                    return
                await services.db.run(accounts.mark_seen, agent.id, online=True)

        try:
            await run_until_first_ends(
                websocket,
                f"Agent socket of {agent.username}",
                forward(websocket, events),
                keep_present(),
                _receive_from_desk(websocket, agent, services.desk),
            )
        finally:
            await services.db.run(accounts.mark_seen, agent.id, online=False)
