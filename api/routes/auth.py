"""Staff sign-in: open a session (token and HttpOnly cookie), read it, close it."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, Response, status

from api import accounts
from api.deps import (
    SESSION_COOKIE,
    DatabaseDep,
    ServicesDep,
    SettingsDep,
    StaffDep,
    client_address,
    staff_token,
)
from api.ratelimit import LOGINS
from api.schemas import ErrorOut, LoginOut, LoginRequest, StaffOut

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", tags=["staff accounts"])

_UNAUTHORIZED: dict[int | str, dict[str, object]] = {
    status.HTTP_401_UNAUTHORIZED: {
        "model": ErrorOut,
        "description": "Wrong credentials, or no valid session",
    },
}


@router.post(
    "/login",
    response_model=LoginOut,
    responses={
        **_UNAUTHORIZED,
        status.HTTP_429_TOO_MANY_REQUESTS: {"model": ErrorOut, "description": "Too many sign-in attempts"},
    },
    summary="Sign in (staff)",
)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    db: DatabaseDep,
    settings: SettingsDep,
    services: ServicesDep,
) -> LoginOut:
    """Check a staff member's username and password; open a session.

    The token comes in the answer (for ``Authorization: Bearer TOKEN``) and as an HttpOnly, SameSite=Strict
    cookie that the agents' desk and the editor use. It expires after ``GUICHET_SESSION_HOURS``. Attempts
    are limited per client address (``logins`` in ``GUICHET_RATE_LIMITS``, 10 a minute by default): 429.
    """
    address = client_address(request)
    services.rate_limits.check(LOGINS, address)
    user = await db.run(accounts.authenticate, body.username, body.password)
    if user is None:
        logger.warning(
            "Failed sign-in for %r from %s",
            body.username[:150],
            address,
        )
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="Wrong username or password.")
    token, expires_at = await db.run(accounts.open_session, user, lifetime=settings.session_lifetime)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_lifetime.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    logger.info("%s %r signed in", user.role, user.username)
    return LoginOut.model_validate(
        {
            "token": token,
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role,
            "expires_at": expires_at,
        }
    )


@router.get("/me", response_model=StaffOut, responses=_UNAUTHORIZED, summary="The signed-in staff member")
async def me(staff: StaffDep) -> StaffOut:
    """Return who is signed in, with which role, until when."""
    return StaffOut.model_validate(
        {
            "username": staff.username,
            "display_name": staff.display_name,
            "role": staff.role,
            "expires_at": staff.expires_at,
        }
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out (staff)")
async def logout(request: Request, response: Response, db: DatabaseDep) -> None:
    """Close the session the request carries (if any) and clear the cookie."""
    token = staff_token(request)
    if token:
        await db.run(accounts.close_session, token)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
