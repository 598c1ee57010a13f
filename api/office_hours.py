"""The town hall's opening hours: when agents can answer, when the office opens next, and how to say so.

Opening hours are written as a short spec, one group of days per ``;``-separated part, each with one or
more time ranges in the office's local (wall-clock) time::

    mon-fri 08:30-12:00 13:30-17:30; sat 09:00-12:00

Days are ``mon tue wed thu fri sat sun``, as ranges (``mon-fri``; ``fri-mon`` wraps over the weekend) or
lists (``mon,wed``; ``mon-wed,fri``). A range ends at most at ``24:00``. The spec ``always`` means open
every day at any time. Closed on top of that: French public holidays (``public_holidays="fr"``, the
default; ``"none"`` for none) and extra dates (``holidays="2026-12-24,2026-12-31"``), except under
``always``, which nothing closes.

The module needs only the standard library (``zoneinfo`` reads the system's time-zone database).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_OFFICE_HOURS = "mon-fri 08:30-12:00 13:30-17:30"
DEFAULT_TIMEZONE = "Europe/Paris"
ALWAYS = "always"

#: Days as the spec writes them, Monday first (``datetime.weekday()`` order).
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: How far ``next_opening`` looks ahead.
SEARCH_DAYS = 366

PUBLIC_HOLIDAY_CALENDARS = ("fr", "none")

_DAY_NAMES = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_ALWAYS_TEXT = {"fr": "tous les jours, à toute heure", "en": "every day, at any time"}
_EVERY_DAY = {"fr": "tous les jours", "en": "every day"}
_AND = {"fr": "et", "en": "and"}
_GROUP_SEPARATOR = {"fr": " ; ", "en": "; "}

_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_MINUTES_A_DAY = 24 * 60

#: A time range, in minutes since midnight (wall clock): ``(start, end)``, start < end <= 1440.
Range = tuple[int, int]
#: A day token of the spec: ``(first, last)`` weekday indexes, equal for a single day.
DayToken = tuple[int, int]


def easter_sunday(year: int) -> dt.date:
    """Easter Sunday of a Gregorian year (the anonymous Gregorian algorithm, a.k.a. Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


@functools.lru_cache(maxsize=64)
def french_public_holidays(year: int) -> frozenset[dt.date]:
    """The eleven French public holidays of a year (Alsace-Moselle's two extra days are not included).

    New Year's Day, Easter Monday, May 1, May 8, Ascension Thursday, Whit Monday, July 14, August 15,
    November 1, November 11 and Christmas Day.
    """
    easter = easter_sunday(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    movable = [easter + dt.timedelta(days=days) for days in (1, 39, 50)]
    return frozenset([*(dt.date(year, month, day) for month, day in fixed), *movable])


def _parse_time(text: str, *, group: str) -> int:
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"bad time {text!r} in {group!r}: expected HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f"bad time {text!r} in {group!r}: not a time of day between 00:00 and 24:00")
    return hours * 60 + minutes


def _parse_range(text: str, *, group: str) -> Range:
    start_text, dash, end_text = text.partition("-")
    if not dash:
        raise ValueError(f"bad time range {text!r} in {group!r}: expected HH:MM-HH:MM")
    start, end = _parse_time(start_text, group=group), _parse_time(end_text, group=group)
    if start >= end:
        raise ValueError(f"bad time range {text!r} in {group!r}: it must end after it starts")
    return start, end


def _parse_day(text: str, *, group: str) -> int:
    try:
        return DAYS.index(text)
    except ValueError:
        raise ValueError(f"unknown day {text!r} in {group!r}: expected one of {', '.join(DAYS)}") from None


def _parse_days(text: str, *, group: str) -> tuple[DayToken, ...]:
    tokens: list[DayToken] = []
    for part in text.split(","):
        first_text, dash, last_text = part.partition("-")
        if not first_text or (dash and not last_text):
            raise ValueError(f"bad days {text!r} in {group!r}: expected e.g. mon-fri or mon,wed")
        first = _parse_day(first_text, group=group)
        tokens.append((first, _parse_day(last_text, group=group) if dash else first))
    return tuple(tokens)


def _token_days(token: DayToken) -> list[int]:
    first, last = token
    return [(first + offset) % 7 for offset in range((last - first) % 7 + 1)]


def _parse_holidays(text: str) -> frozenset[dt.date]:
    dates: set[dt.date] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            dates.add(dt.date.fromisoformat(part))
        except ValueError:
            raise ValueError(f"bad holiday {part!r}: expected an ISO date, e.g. 2026-12-24") from None
    return frozenset(dates)


def _load_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: expected e.g. Europe/Paris") from None


def _join(items: Sequence[str], language: str) -> str:
    """``a``, ``a et b``, ``a, b et c`` (``and`` in English)."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {_AND[language]} {items[-1]}"


def _format_time(minutes: int, language: str) -> str:
    hours, rest = divmod(minutes, 60)
    if language == "fr":
        return f"{hours}h{rest:02d}" if rest else f"{hours}h"
    return f"{hours}:{rest:02d}"


def _describe_days(tokens: Sequence[DayToken], language: str) -> str:
    names = _DAY_NAMES[language]
    if len({day for token in tokens for day in _token_days(token)}) == 7:
        return _EVERY_DAY[language]
    parts: list[str] = []
    for first, last in tokens:
        if (last - first) % 7 == 1:  # two days in a row read better as a list: "Saturday and Sunday"
            parts.extend(f"le {names[day]}" if language == "fr" else names[day] for day in (first, last))
        elif first == last:
            parts.append(f"le {names[first]}" if language == "fr" else names[first])
        else:
            parts.append(
                f"du {names[first]} au {names[last]}"
                if language == "fr"
                else f"{names[first]} to {names[last]}"
            )
    return _join(parts, language)


@dataclass(frozen=True)
class _Group:
    """One ``;``-separated part of the spec: its days (as written) and its time ranges."""

    days: tuple[DayToken, ...]
    ranges: tuple[Range, ...]


@dataclass(frozen=True)
class OfficeHours:
    """When the office is open; build it with :meth:`OfficeHours.parse`.

    Attributes:
        spec: The spec it was parsed from, e.g. ``mon-fri 08:30-12:00 13:30-17:30``.
        timezone: The office's time zone; the spec's times are wall-clock times there.
        always: Open every day at any time (the spec ``always``).
        public_holidays: ``fr`` (French public holidays are closed) or ``none``.
        holidays: Extra closed dates.
    """

    spec: str
    timezone: ZoneInfo
    always: bool
    public_holidays: str
    holidays: frozenset[dt.date]
    _groups: tuple[_Group, ...]
    _week: tuple[tuple[Range, ...], ...]

    @classmethod
    def parse(
        cls,
        spec: str,
        *,
        holidays: str = "",
        public_holidays: str = "fr",
        timezone: str = DEFAULT_TIMEZONE,
    ) -> OfficeHours:
        """Reads opening hours.

        Args:
            spec: ``always``, or groups such as ``mon-fri 08:30-12:00 13:30-17:30; sat 09:00-12:00``.
            holidays: Extra closed dates, comma-separated ISO dates (``2026-12-24,2026-12-31``).
            public_holidays: ``fr`` to close on French public holidays, ``none`` not to.
            timezone: The office's IANA time zone.

        Returns:
            The opening hours.

        Raises:
            ValueError: A part of the spec, a date, the calendar or the time zone is wrong (the message
                names it).
        """
        zone = _load_timezone(timezone)
        calendar = public_holidays.strip().lower()
        if calendar not in PUBLIC_HOLIDAY_CALENDARS:
            expected = " or ".join(PUBLIC_HOLIDAY_CALENDARS)
            raise ValueError(f"unknown public holidays {public_holidays!r}: expected {expected}")
        extra = _parse_holidays(holidays)
        normalised = " ".join(spec.split()).lower()
        if normalised == ALWAYS:
            return cls(spec, zone, True, calendar, extra, (), ((),) * 7)
        if not normalised:
            raise ValueError("empty office hours: expected e.g. 'mon-fri 08:30-12:00' or 'always'")
        groups: list[_Group] = []
        week: list[list[Range]] = [[] for _ in DAYS]
        for group_text in normalised.split(";"):
            group_text = group_text.strip()
            if not group_text:
                raise ValueError(f"empty group in office hours {spec!r}: remove the extra ';'")
            days_text, *range_texts = group_text.split()
            days = _parse_days(days_text, group=group_text)
            if not range_texts:
                raise ValueError(f"no time range in {group_text!r}: expected e.g. {days_text} 08:30-12:00")
            ranges = tuple(_parse_range(text, group=group_text) for text in range_texts)
            groups.append(_Group(days, ranges))
            for day in {day for token in days for day in _token_days(token)}:
                week[day].extend(ranges)
        for day, ranges_of_day in enumerate(week):
            ranges_of_day.sort()
            for (_, end), (start, _) in itertools.pairwise(ranges_of_day):
                if start < end:
                    raise ValueError(f"overlapping time ranges on {DAYS[day]} in office hours {spec!r}")
        return cls(spec, zone, False, calendar, extra, tuple(groups), tuple(tuple(r) for r in week))

    def is_holiday(self, day: dt.date) -> bool:
        """Whether the office is closed all day for a public holiday or an extra closed date."""
        if day in self.holidays:
            return True
        return self.public_holidays == "fr" and day in french_public_holidays(day.year)

    def ranges_on(self, day: dt.date) -> tuple[Range, ...]:
        """The opening ranges of a (local) date, in minutes since midnight; none on holidays."""
        if self.always:
            return ((0, _MINUTES_A_DAY),)
        if self.is_holiday(day):
            return ()
        return self._week[day.weekday()]

    def is_open(self, at: dt.datetime) -> bool:
        """Whether the office is open at an instant.

        Args:
            at: An aware datetime, in any time zone.

        Raises:
            ValueError: ``at`` is naive.
        """
        local = self._local(at)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.ranges_on(local.date()))

    def next_opening(self, at: dt.datetime) -> dt.datetime | None:
        """The first instant, from ``at`` on, when the office is open.

        Args:
            at: An aware datetime, in any time zone.

        Returns:
            ``at`` itself (in the office's time zone) when the office is open then, otherwise when it next
            opens, in the office's time zone; None under ``always`` (it never closes), or when it does not
            open in the next 366 days.

        Raises:
            ValueError: ``at`` is naive.
        """
        local = self._local(at)
        if self.always:
            return None
        if self.is_open(local):
            return local
        now_minute = local.hour * 60 + local.minute
        now = local.astimezone(dt.UTC)  # compared in UTC: a wall time of the hour clocks go back is ambiguous
        for offset in range(SEARCH_DAYS + 1):
            day = local.date() + dt.timedelta(days=offset)
            for start, _ in self.ranges_on(day):
                if offset == 0 and start <= now_minute:
                    continue
                opening = self._wall_time(day, start)
                if opening.astimezone(dt.UTC) > now and self.is_open(opening):
                    return opening
        return None

    def describe(self, language: str) -> str:
        """The opening hours in words, e.g. ``du lundi au vendredi, 8h30–12h et 13h30–17h30``.

        Args:
            language: ``fr`` or ``en``.

        Raises:
            ValueError: Another language.
        """
        if language not in _DAY_NAMES:
            raise ValueError(f"unknown language {language!r}: expected fr or en")
        if self.always:
            return _ALWAYS_TEXT[language]
        return _GROUP_SEPARATOR[language].join(
            f"{_describe_days(group.days, language)}, {self._describe_ranges(group.ranges, language)}"
            for group in self._groups
        )

    @staticmethod
    def _describe_ranges(ranges: Sequence[Range], language: str) -> str:
        return _join(
            [f"{_format_time(start, language)}–{_format_time(end, language)}" for start, end in ranges],
            language,
        )

    def _local(self, at: dt.datetime) -> dt.datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"naive datetime {at.isoformat()}: give a time zone (e.g. datetime.now(UTC))")
        return at.astimezone(self.timezone)

    def _wall_time(self, day: dt.date, minutes: int) -> dt.datetime:
        """The first instant when the office's clock shows a time of a date, or a later one.

        A time skipped when clocks go forward (02:30 on the last Sunday of March in Paris) gives the end of
        the gap (03:00); a time that happens twice when they go back gives its first occurrence.
        """
        wall = dt.datetime.combine(day, dt.time(*divmod(minutes, 60)))
        instant = wall.replace(tzinfo=self.timezone).astimezone(dt.UTC).astimezone(self.timezone)
        if instant.replace(tzinfo=None) == wall:
            return instant
        probe = wall.replace(tzinfo=self.timezone, fold=1).astimezone(dt.UTC)
        while probe.astimezone(self.timezone).replace(tzinfo=None) < wall:
            probe += dt.timedelta(minutes=1)
        return probe.astimezone(self.timezone)
