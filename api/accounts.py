"""Staff accounts and their sessions: create accounts, check passwords, open and close sessions.

Passwords are hashed with Argon2id (``argon2-cffi``'s defaults, RFC 9106's low-memory profile); a hash made
with older parameters is upgraded at the next successful sign-in. A session is a random token given to the
client once; only its SHA-256 is stored, with an expiry time.

Blocking functions taking a ``Session`` first, like those of ``api.crud``.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.models import Role, StaffSession, User, utcnow

MIN_PASSWORD_LENGTH = 10
"""Shortest password accepted for a staff account."""
MAX_PASSWORD_LENGTH = 1024
"""Longest password accepted (hashing a huge one would be a denial of service)."""
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,149}")
"""What a username may be: letters, digits and ``. _ @ -``, up to 150 characters."""

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the username is unknown, so that it takes as long as a wrong password.

    Made at the first sign-in, not at import: hashing takes tens of milliseconds.
    """
    return _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """An account cannot be created or changed as asked; the message says why."""


@dataclass(frozen=True)
class Staff:
    """A signed-in staff member, as the routes see them.

    Attributes:
        id: The account's database id.
        username: The login name.
        display_name: The name shown to citizens and colleagues.
        role: ``agent``, ``editor`` or ``admin``.
        expires_at: When the session ends (UTC).
    """

    id: int
    username: str
    display_name: str
    role: str
    expires_at: datetime

    def has_role(self, *roles: Role) -> bool:
        """Whether this member may act in one of ``roles`` (an administrator may act in every role)."""
        return self.role == Role.ADMIN.value or self.role in {role.value for role in roles}


def hash_password(password: str) -> str:
    """Return the Argon2id hash of a password, after checking it is acceptable.

    Args:
        password: The password.

    Returns:
        The PHC-format hash.

    Raises:
        AccountError: The password is too short or too long.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")
    return _hasher.hash(password)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def get_user(session: Session, username: str) -> User | None:
    """Return the account with this username, or None."""
    return session.scalar(select(User).where(User.username == username))


def create_user(
    session: Session, username: str, password: str, *, role: Role, display_name: str | None = None
) -> User:
    """Create a staff account and commit.

    Args:
        session: The database session.
        username: The login name (letters, digits, ``. _ @ -``).
        password: The password (hashed before storing).
        role: What the account may do.
        display_name: The name shown; the username when None or blank.

    Returns:
        The new account.

    Raises:
        AccountError: The username is malformed or taken, or the password unacceptable.
    """
    if not USERNAME.fullmatch(username):
        raise AccountError(
            "the username must be 1 to 150 letters, digits or '. _ @ -', starting with a letter or digit"
        )
    if get_user(session, username) is not None:
        raise AccountError(f"the username {username!r} is already taken")
    name = (display_name or "").strip() or username
    user = User(
        username=username,
        display_name=name[:150],
        role=role.value,
        password_hash=hash_password(password),
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.commit()
    return user


def set_password(session: Session, username: str, password: str) -> None:
    """Change an account's password, sign it out everywhere, and commit.

    Raises:
        AccountError: No such account, or the password is unacceptable.
    """
    user = get_user(session, username)
    if user is None:
        raise AccountError(f"no account named {username!r}")
    user.password_hash = hash_password(password)
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    session.commit()


def set_active(session: Session, username: str, active: bool) -> None:
    """Enable or disable an account (a disabled account is signed out everywhere), and commit.

    Raises:
        AccountError: No such account.
    """
    user = get_user(session, username)
    if user is None:
        raise AccountError(f"no account named {username!r}")
    user.active = active
    if not active:
        session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    session.commit()


def list_users(session: Session) -> list[User]:
    """Return every account, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Check a username and password.

    Takes the same time whether or not the username exists. Upgrades the stored hash when the hashing
    parameters have changed since it was made (and commits).

    Returns:
        The active account, or None when the username, the password or the account's state is wrong.
    """
    user = get_user(session, username) if len(password) <= MAX_PASSWORD_LENGTH else None
    try:
        _hasher.verify(
            user.password_hash if user is not None else _dummy_hash(), password[:MAX_PASSWORD_LENGTH]
        )
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.commit()
    return user


def open_session(session: Session, user: User, *, lifetime: timedelta) -> tuple[str, datetime]:
    """Open a session for an account, drop its expired ones, and commit.

    Returns:
        The session token (to give the client; only its hash is stored) and its expiry time.
    """
    now = utcnow()
    token = secrets.token_urlsafe(32)
    expires_at = now + lifetime
    session.execute(
        delete(StaffSession).where(StaffSession.user_id == user.id, StaffSession.expires_at <= now)
    )
    session.add(
        StaffSession(token_hash=_hash_token(token), user_id=user.id, created_at=now, expires_at=expires_at)
    )
    session.commit()
    return token, expires_at


def staff_of_token(session: Session, token: str) -> Staff | None:
    """Return the staff member a session token belongs to, or None if it is unknown, expired or disabled."""
    if not token or len(token) > 256:
        return None
    row = session.execute(
        select(StaffSession, User)
        .join(User, User.id == StaffSession.user_id)
        .where(StaffSession.token_hash == _hash_token(token))
    ).first()
    if row is None:
        return None
    staff_session, user = row
    if staff_session.expires_at <= utcnow() or not user.active:
        return None
    return Staff(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        expires_at=staff_session.expires_at,
    )


def close_session(session: Session, token: str) -> None:
    """End the session of a token (nothing happens for an unknown token), and commit."""
    session.execute(delete(StaffSession).where(StaffSession.token_hash == _hash_token(token)))
    session.commit()


ONLINE_WINDOW = timedelta(seconds=60)
"""An agent seen on the desk within this time counts as online (the desk checks in every 25 seconds)."""


def mark_seen(session: Session, user_id: int, *, online: bool) -> None:
    """Record that an account has the agents' desk open (or has just closed it), and commit."""
    user = session.get(User, user_id)
    if user is not None:
        user.last_seen_at = utcnow() if online else None
        session.commit()


def agents_online(session: Session) -> int:
    """Return how many active agents (or administrators) had the desk open within ``ONLINE_WINDOW``."""
    since = utcnow() - ONLINE_WINDOW
    query = select(User.id).where(
        User.active.is_(True),
        User.role.in_((Role.AGENT.value, Role.ADMIN.value)),
        User.last_seen_at.is_not(None),
        User.last_seen_at >= since,
    )
    return len(session.scalars(query).all())
