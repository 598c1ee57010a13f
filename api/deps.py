"""FastAPI dependencies, as typed aliases for route signatures (``session: SessionDep``).

The small accessors are ``async def`` so that FastAPI calls them on the event loop rather than in its thread
pool; ``get_session`` is a plain generator because opening and closing a session may block.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends, HTTPException, Request, WebSocket, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api import accounts, crud
from api.accounts import Staff
from api.config import Settings
from api.db import Database
from api.desk import Desk
from api.events import Broker
from api.models import Conversation, Role
from api.rasa_client import RasaClient
from api.ratelimit import CONVERSATIONS, MESSAGES, RateLimits
from api.turns import ConversationLocks


@dataclass(frozen=True)
class Services:
    """What the application opens at startup and closes at shutdown (kept in ``app.state.services``).

    Attributes:
        db: The database.
        http: The shared HTTP client (Rasa, action server).
        rasa: The Rasa client.
        locks: The per-conversation turn locks.
        rate_limits: The limits of the citizens' endpoints.
        broker: Where live events go (in memory, or Redis to reach every replica).
        desk: Handoff changes, stored then announced.
    """

    db: Database
    http: httpx.AsyncClient
    rasa: RasaClient
    locks: ConversationLocks
    rate_limits: RateLimits
    broker: Broker
    desk: Desk


async def get_settings(request: Request) -> Settings:
    """Return the settings the application was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_services(request: Request) -> Services:
    """Return the application's services (available once the lifespan has started)."""
    services: Services = request.app.state.services
    return services


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServicesDep = Annotated[Services, Depends(get_services)]


async def get_database(services: ServicesDep) -> Database:
    """Return the database, for async routes: ``await db.run(crud.function, ...)``."""
    return services.db


def get_session(services: ServicesDep) -> Iterator[Session]:
    """Open a database session for a plain ``def`` route, closed (uncommitted work rolled back) after it.

    FastAPI runs ``def`` routes and this dependency in its thread pool, never on the event loop.
    """
    with services.db.session() as session:
        yield session


async def get_rasa(services: ServicesDep) -> RasaClient:
    """Return the shared Rasa client."""
    return services.rasa


async def get_locks(services: ServicesDep) -> ConversationLocks:
    """Return the per-conversation turn locks."""
    return services.locks


async def get_desk(services: ServicesDep) -> Desk:
    """Return the agents' desk."""
    return services.desk


DatabaseDep = Annotated[Database, Depends(get_database)]
DeskDep = Annotated[Desk, Depends(get_desk)]
SessionDep = Annotated[Session, Depends(get_session)]
RasaDep = Annotated[RasaClient, Depends(get_rasa)]
LocksDep = Annotated[ConversationLocks, Depends(get_locks)]

_bearer = HTTPBearer(
    auto_error=False,
    description="The token returned by POST /api/conversations, as `Authorization: Bearer TOKEN`.",
)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def get_conversation(
    conversation_id: str,
    db: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Conversation:
    """Return the conversation of the path, provided the request carries its bearer token.

    Raises:
        HTTPException: 401 without a bearer token or with a wrong one.
        ConversationNotFound: There is no such conversation (answered 404).
    """
    if credentials is None or not credentials.credentials:
        raise _unauthorized(
            "Missing bearer token: send the conversation's token as `Authorization: Bearer TOKEN`."
        )
    conversation = await db.run(crud.require_conversation, conversation_id)
    if not crud.token_matches(conversation, credentials.credentials):
        raise _unauthorized("This token does not authorise this conversation.")
    return conversation


ConversationDep = Annotated[Conversation, Depends(get_conversation)]


def client_address(request: Request) -> str:
    """Return the address a request comes from (``unknown`` when the server does not know it)."""
    return request.client.host if request.client is not None else "unknown"


async def limit_new_conversations(request: Request, services: ServicesDep) -> None:
    """Counts a new conversation against its client address's limit.

    Raises:
        RateLimitError: over the limit (answered 429 with ``Retry-After``).
    """
    address = client_address(request)
    services.rate_limits.check(CONVERSATIONS, address)


async def limit_messages(conversation: ConversationDep, services: ServicesDep) -> None:
    """Counts a citizen message against its conversation's limit (after the token is checked).

    Raises:
        RateLimitError: over the limit (answered 429 with ``Retry-After``).
    """
    services.rate_limits.check(MESSAGES, conversation.id)


NewConversationLimit = Depends(limit_new_conversations)
MessageLimit = Depends(limit_messages)


SESSION_COOKIE = "guichet_session"
"""The HttpOnly cookie holding a staff member's session token."""


def staff_token(request: Request | WebSocket) -> str | None:
    """Return the session token a request carries: ``Authorization: Bearer``, the cookie, or ``?token=``."""
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(SESSION_COOKIE) or request.query_params.get("token") or None


async def get_staff(request: Request, db: DatabaseDep) -> Staff:
    """Return the signed-in staff member.

    Raises:
        HTTPException: 401 without a valid, unexpired session.
    """
    token = staff_token(request)
    staff = await db.run(accounts.staff_of_token, token) if token else None
    if staff is None:
        raise _unauthorized("Sign in first (POST /api/auth/login): no valid session.")
    return staff


StaffDep = Annotated[Staff, Depends(get_staff)]


def require_role(*roles: Role) -> Callable[[Staff], Awaitable[Staff]]:
    """Return a dependency admitting staff in one of ``roles`` (administrators are admitted everywhere).

    Raises:
        HTTPException: 403 for a staff member in another role (401 without a session).
    """

    async def check(staff: StaffDep) -> Staff:
        if not staff.has_role(*roles):
            wanted = " or ".join(role.value for role in roles)
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"This needs the {wanted} role.")
        return staff

    return check


AgentDep = Annotated[Staff, Depends(require_role(Role.AGENT))]
"""An agent (or administrator) signed in."""
