"""Rate limits on the citizens' endpoints, and on staff sign-in attempts.

Each limit is ``count`` requests per ``period`` seconds for one key (a client
address, a conversation), enforced with the generic cell rate algorithm (GCRA):
one timestamp per key, bursts of up to ``count`` requests allowed, then one
request every ``period / count`` seconds. Limits are kept in this process's
memory: with several API replicas, each replica counts its own requests.

``GUICHET_RATE_LIMITS`` configures them: ``off``, or a comma-separated list of
``NAME=COUNT/UNIT`` (units ``second``, ``minute``, ``hour``), for example
``conversations=30/minute,messages=30/minute``. Names not given keep their
default.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

CONVERSATIONS = "conversations"
"""New conversations per client address."""
MESSAGES = "messages"
"""Citizen messages per conversation."""
LOGINS = "logins"
"""Staff sign-in attempts per client address (a brake on password guessing)."""

LIMITED = {
    CONVERSATIONS: "new conversations from this address",
    MESSAGES: "messages in this conversation",
    LOGINS: "sign-in attempts from this address",
}
"""What each limit counts, as the error message says it."""

DEFAULT_RATE_LIMITS = f"{CONVERSATIONS}=30/minute,{MESSAGES}=30/minute,{LOGINS}=10/minute"
UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``period`` seconds."""

    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Reads ``COUNT/UNIT`` (for example ``30/minute``).

        Raises:
            ValueError: with a readable message when the text is not of that form.
        """
        count_text, _, unit = text.strip().partition("/")
        unit = unit.strip().lower().removesuffix("s")
        if not count_text.strip().isdigit() or int(count_text) < 1 or unit not in UNITS:
            raise ValueError(f"{text!r} is not COUNT/UNIT with COUNT ≥ 1 and UNIT in {', '.join(UNITS)}")
        return cls(int(count_text), UNITS[unit])


def parse_rate_limits(text: str) -> dict[str, Rate] | None:
    """Reads ``GUICHET_RATE_LIMITS``; None means ``off``.

    Raises:
        ValueError: an unknown name or a malformed rate, named in the message.
    """
    if text.strip().lower() == "off":
        return None
    limits: dict[str, Rate] = {}
    for item in [*DEFAULT_RATE_LIMITS.split(","), *filter(None, (p.strip() for p in text.split(",")))]:
        name, separator, rate = item.partition("=")
        name = name.strip()
        if not separator or name not in LIMITED:
            expected = f"{CONVERSATIONS}=COUNT/UNIT or {MESSAGES}=COUNT/UNIT, or 'off'"
            raise ValueError(f"{item!r}: expected {expected}")
        limits[name] = Rate.parse(rate)
    return limits


class RateLimiter:
    """GCRA over many keys, for one :class:`Rate`. Thread-safe."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        """Creates the limiter.

        Args:
            rate: the allowed rate.
            clock: seconds, monotonic (tests pass their own).
        """
        self.rate = rate
        self._interval = rate.period / rate.count
        self._clock = clock
        self._theoretical_arrival: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_cleanup = 0.0

    def hit(self, key: str) -> float:
        """Counts one request for the key.

        Returns:
            0 when the request is allowed, else the seconds to wait before one will be.
        """
        now = self._clock()
        with self._lock:
            if now >= self._next_cleanup:
                self._forget_idle(now)
            arrival = max(self._theoretical_arrival.get(key, now), now)
            next_arrival = arrival + self._interval
            wait = next_arrival - now - self.rate.period
            if wait > 0:
                return wait
            self._theoretical_arrival[key] = next_arrival
            return 0.0

    def _forget_idle(self, now: float) -> None:
        """Drops keys whose budget is whole again, so memory follows the active keys only."""
        self._theoretical_arrival = {k: t for k, t in self._theoretical_arrival.items() if t > now}
        self._next_cleanup = now + self.rate.period


class RateLimitError(Exception):
    """A request over its limit; ``retry_after`` in whole seconds."""

    def __init__(self, name: str, rate: Rate, wait: float) -> None:
        """Describes the limit that was hit."""
        self.retry_after = max(1, math.ceil(wait))
        unit = next(u for u, seconds in UNITS.items() if seconds == rate.period)
        what = LIMITED[name]
        super().__init__(
            f"Too many {what}: at most {rate.count} a {unit}. Please wait {self.retry_after} s and try again."
        )


class RateLimits:
    """The limiters of the citizens' endpoints, by name; all pass when limits are off."""

    def __init__(self, limits: dict[str, Rate] | None, clock: Callable[[], float] = time.monotonic) -> None:
        """Creates one limiter per configured rate (none when ``limits`` is None)."""
        self._limiters = {name: RateLimiter(rate, clock) for name, rate in (limits or {}).items()}

    def check(self, name: str, key: str) -> None:
        """Counts one request under the named limit.

        Raises:
            RateLimitError: the key is over that limit.
        """
        limiter = self._limiters.get(name)
        if limiter is None:
            return
        wait = limiter.hit(key)
        if wait > 0:
            raise RateLimitError(name, limiter.rate, wait)
