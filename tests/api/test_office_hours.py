"""The town hall's opening hours: reading the spec, open or closed at an instant, next opening, in words."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from api.office_hours import (
    DEFAULT_OFFICE_HOURS,
    OfficeHours,
    easter_sunday,
    french_public_holidays,
)

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS_AND_SATURDAY = "mon-fri 08:30-12:00 13:30-17:30; sat 09:00-12:00"


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    """An instant given by Paris's wall clock."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=PARIS)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """An instant in UTC."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture
def default_hours() -> OfficeHours:
    """Monday to Friday, 8:30–12:00 and 13:30–17:30, closed on French public holidays."""
    return OfficeHours.parse(DEFAULT_OFFICE_HOURS)


# Easter and the public holidays.


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2000, dt.date(2000, 4, 23)),
        (2019, dt.date(2019, 4, 21)),
        (2024, dt.date(2024, 3, 31)),
        (2025, dt.date(2025, 4, 20)),
        (2026, dt.date(2026, 4, 5)),
        (2027, dt.date(2027, 3, 28)),
        (2038, dt.date(2038, 4, 25)),
    ],
)
def test_easter_sunday(year: int, easter: dt.date) -> None:
    assert easter_sunday(year) == easter


def test_the_eleven_french_public_holidays_of_2026() -> None:
    assert sorted(french_public_holidays(2026)) == [
        dt.date(2026, 1, 1),
        dt.date(2026, 4, 6),  # Easter Monday
        dt.date(2026, 5, 1),
        dt.date(2026, 5, 8),
        dt.date(2026, 5, 14),  # Ascension Thursday
        dt.date(2026, 5, 25),  # Whit Monday
        dt.date(2026, 7, 14),
        dt.date(2026, 8, 15),
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 11),
        dt.date(2026, 12, 25),
    ]


# Reading the spec.


def test_the_default_spec_opens_weekdays_with_a_lunch_break(default_hours: OfficeHours) -> None:
    monday = dt.date(2026, 3, 9)
    assert default_hours.ranges_on(monday) == ((8 * 60 + 30, 12 * 60), (13 * 60 + 30, 17 * 60 + 30))
    assert default_hours.ranges_on(monday + dt.timedelta(days=5)) == ()  # Saturday
    assert default_hours.timezone == PARIS
    assert not default_hours.always


def test_day_lists_ranges_and_several_groups() -> None:
    hours = OfficeHours.parse("Mon,Wed 09:00-12:00 ;  tue-thu 14:00-16:00 16:30-18:00; sat-mon 12:00-13:00")
    week = [hours.ranges_on(dt.date(2026, 3, 9) + dt.timedelta(days=day)) for day in range(7)]
    assert week == [
        ((540, 720), (720, 780)),  # ranges may touch
        ((840, 960), (990, 1080)),
        ((540, 720), (840, 960), (990, 1080)),
        ((840, 960), (990, 1080)),
        (),
        ((720, 780),),  # sat-mon wraps over the weekend
        ((720, 780),),
    ]


def test_a_day_s_ranges_come_from_every_group_that_names_it() -> None:
    hours = OfficeHours.parse("mon 14:00-16:00; mon,wed 09:00-12:00")
    assert hours.ranges_on(dt.date(2026, 3, 9)) == ((540, 720), (840, 960))


def test_a_range_may_end_at_midnight() -> None:
    hours = OfficeHours.parse("sat 20:00-24:00")
    assert hours.is_open(paris(2026, 3, 7, 23, 59, 59))
    assert not hours.is_open(paris(2026, 3, 8, 0, 0))


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("", "empty office hours"),
        ("   ", "empty office hours"),
        ("mon-fri", "no time range in 'mon-fri'"),
        ("mon-fry 08:00-09:00", "unknown day 'fry'"),
        ("lundi 08:00-09:00", "unknown day 'lundi'"),
        ("mon- 08:00-09:00", "bad days 'mon-'"),
        ("mon,,tue 08:00-09:00", "bad days 'mon,,tue'"),
        ("mon 9-10", "bad time '9'"),
        ("mon 8h30-12h", "bad time '8h30'"),
        ("mon 08:00", "bad time range '08:00'"),
        ("mon 25:00-26:00", "bad time '25:00'"),
        ("mon 08:60-09:00", "bad time '08:60'"),
        ("mon 20:00-24:30", "bad time '24:30'"),
        ("mon 12:00-08:00", "bad time range '12:00-08:00'"),
        ("mon 08:00-08:00", "bad time range '08:00-08:00'"),
        ("mon-fri 08:00-12:00 11:00-13:00", "overlapping time ranges on mon"),
        ("mon 08:00-12:00; mon-tue 11:00-13:00", "overlapping time ranges on mon"),
        ("mon-fri 08:30-12:00;", "empty group"),
        ("mon-fri 08:30-12:00;; sat 09:00-12:00", "empty group"),
    ],
)
def test_a_bad_spec_raises_value_error_naming_the_bad_part(spec: str, names: str) -> None:
    with pytest.raises(ValueError, match=names):
        OfficeHours.parse(spec)


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        ({"holidays": "2026-12-24,24/12/2026"}, "bad holiday '24/12/2026'"),
        ({"holidays": "2026-02-30"}, "bad holiday '2026-02-30'"),
        ({"public_holidays": "de"}, "unknown public holidays 'de'"),
        ({"timezone": "Europe/Clairval"}, "unknown time zone 'Europe/Clairval'"),
        ({"timezone": ""}, "unknown time zone ''"),
    ],
)
def test_bad_holidays_or_time_zone_raise_value_error(arguments: dict[str, str], names: str) -> None:
    with pytest.raises(ValueError, match=names):
        OfficeHours.parse(DEFAULT_OFFICE_HOURS, **arguments)


# Open or closed.


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (paris(2026, 3, 10, 8, 29, 59), False),  # Tuesday, before opening
        (paris(2026, 3, 10, 8, 30), True),
        (paris(2026, 3, 10, 11, 59, 59), True),
        (paris(2026, 3, 10, 12, 0), False),  # lunch break
        (paris(2026, 3, 10, 13, 29), False),
        (paris(2026, 3, 10, 13, 30), True),
        (paris(2026, 3, 10, 17, 29), True),
        (paris(2026, 3, 10, 17, 30), False),
        (paris(2026, 3, 14, 10, 0), False),  # Saturday
        (paris(2026, 3, 15, 10, 0), False),  # Sunday
        (paris(2026, 5, 13, 10, 0), True),  # Wednesday before Ascension
        (paris(2026, 5, 14, 10, 0), False),  # Ascension Thursday
        (paris(2026, 7, 14, 10, 0), False),  # Bastille Day, a Tuesday
    ],
)
def test_open_or_closed_at_an_instant(default_hours: OfficeHours, at: dt.datetime, is_open: bool) -> None:
    assert default_hours.is_open(at) is is_open


def test_any_time_zone_is_read_on_the_office_s_clock(default_hours: OfficeHours) -> None:
    # Tuesday 10 March 2026, 8:00 in New York is 13:00 in Paris (lunch), 9:00 is 14:00 (open)
    new_york = ZoneInfo("America/New_York")
    assert not default_hours.is_open(dt.datetime(2026, 3, 10, 8, 0, tzinfo=new_york))
    assert default_hours.is_open(dt.datetime(2026, 3, 10, 9, 0, tzinfo=new_york))


def test_the_hours_follow_the_clock_across_the_change_to_summer_time(default_hours: OfficeHours) -> None:
    # clocks go forward on Sunday 29 March 2026: 8:30 is 07:30 UTC on the Friday, 06:30 UTC on the Monday
    assert not default_hours.is_open(utc(2026, 3, 27, 7, 29))
    assert default_hours.is_open(utc(2026, 3, 27, 7, 30))
    assert not default_hours.is_open(utc(2026, 3, 30, 6, 29))
    assert default_hours.is_open(utc(2026, 3, 30, 6, 30))
    assert default_hours.is_open(utc(2026, 3, 30, 7, 29))


def test_hours_on_the_day_clocks_go_forward() -> None:
    hours = OfficeHours.parse("sun 01:00-04:00")
    assert not hours.is_open(utc(2026, 3, 28, 23, 59))  # 00:59 CET
    assert hours.is_open(utc(2026, 3, 29, 0, 30))  # 01:30 CET
    assert hours.is_open(utc(2026, 3, 29, 1, 30))  # 03:30 CEST: the hour from 2:00 to 3:00 never was
    assert not hours.is_open(utc(2026, 3, 29, 2, 0))  # 04:00 CEST


def test_hours_on_the_day_clocks_go_back() -> None:
    hours = OfficeHours.parse("sun 02:00-03:00")
    # on Sunday 25 October 2026 the clock shows 2:00–3:00 twice: 00:00–01:00 and 01:00–02:00 UTC
    assert not hours.is_open(utc(2026, 10, 24, 23, 59))
    assert hours.is_open(utc(2026, 10, 25, 0, 30))
    assert hours.is_open(utc(2026, 10, 25, 1, 30))
    assert not hours.is_open(utc(2026, 10, 25, 2, 0))


def test_extra_closed_dates() -> None:
    hours = OfficeHours.parse(DEFAULT_OFFICE_HOURS, holidays=" 2026-12-24 , 2026-12-31,")
    assert hours.holidays == {dt.date(2026, 12, 24), dt.date(2026, 12, 31)}
    assert not hours.is_open(paris(2026, 12, 24, 10, 0))
    assert hours.is_open(paris(2026, 12, 23, 10, 0))


def test_without_public_holidays_a_holiday_is_a_working_day() -> None:
    hours = OfficeHours.parse(DEFAULT_OFFICE_HOURS, public_holidays="none")
    assert hours.is_open(paris(2026, 5, 14, 10, 0))
    assert not hours.is_holiday(dt.date(2026, 5, 14))


def test_always_is_open_at_any_time_holidays_included() -> None:
    hours = OfficeHours.parse(" Always ", holidays="2026-12-24")
    assert hours.always
    for at in (paris(2026, 3, 15, 3, 0), paris(2026, 12, 25, 23, 59), paris(2026, 12, 24, 12, 0)):
        assert hours.is_open(at)
    assert hours.next_opening(paris(2026, 12, 25, 10, 0)) is None


def test_a_naive_datetime_is_refused(default_hours: OfficeHours) -> None:
    with pytest.raises(ValueError, match="naive"):
        default_hours.is_open(dt.datetime(2026, 3, 10, 10, 0))
    with pytest.raises(ValueError, match="naive"):
        default_hours.next_opening(dt.datetime(2026, 3, 10, 10, 0))


def test_another_office_time_zone() -> None:
    hours = OfficeHours.parse(DEFAULT_OFFICE_HOURS, timezone="America/Martinique", public_holidays="none")
    # 9:00 in Martinique (UTC-4) is 14:00 in Paris; 7:00 in Paris is 2:00 there
    assert hours.is_open(dt.datetime(2026, 3, 10, 9, 0, tzinfo=ZoneInfo("America/Martinique")))
    assert not hours.is_open(paris(2026, 3, 10, 9, 0))


# Next opening.


@pytest.mark.parametrize(
    ("at", "opening"),
    [
        (paris(2026, 3, 10, 7, 0), paris(2026, 3, 10, 8, 30)),  # early on a Tuesday
        (paris(2026, 3, 10, 12, 15), paris(2026, 3, 10, 13, 30)),  # lunch break
        (paris(2026, 3, 10, 12, 0), paris(2026, 3, 10, 13, 30)),
        (paris(2026, 3, 10, 17, 30), paris(2026, 3, 11, 8, 30)),  # evening
        (paris(2026, 3, 13, 18, 0), paris(2026, 3, 16, 8, 30)),  # Friday evening → Monday
        (paris(2026, 3, 14, 10, 0), paris(2026, 3, 16, 8, 30)),  # Saturday
        (paris(2026, 4, 3, 17, 45), paris(2026, 4, 7, 8, 30)),  # weekend, then Easter Monday
        (paris(2026, 7, 13, 18, 0), paris(2026, 7, 15, 8, 30)),  # Bastille Day
        (paris(2026, 5, 13, 17, 30), paris(2026, 5, 15, 8, 30)),  # Ascension
        (paris(2026, 12, 31, 18, 0), paris(2027, 1, 4, 8, 30)),  # New Year's Day, then a weekend
    ],
)
def test_next_opening(default_hours: OfficeHours, at: dt.datetime, opening: dt.datetime) -> None:
    found = default_hours.next_opening(at)
    assert found == opening
    assert found is not None
    assert found.tzinfo == PARIS
    assert default_hours.is_open(found)


def test_the_next_opening_while_open_is_now_on_the_office_s_clock(default_hours: OfficeHours) -> None:
    at = utc(2026, 3, 10, 9, 15)
    found = default_hours.next_opening(at)
    assert found == at
    assert found is not None
    assert found.tzinfo == PARIS


def test_the_next_opening_is_given_in_the_office_s_time_zone(default_hours: OfficeHours) -> None:
    found = default_hours.next_opening(utc(2026, 3, 13, 20, 0))
    assert found is not None
    assert (found.tzinfo, found.hour, found.minute) == (PARIS, 8, 30)
    assert found == utc(2026, 3, 16, 7, 30)


def test_the_next_opening_skips_extra_closed_dates_and_saturday_mornings_count() -> None:
    hours = OfficeHours.parse(WEEKDAYS_AND_SATURDAY, holidays="2026-12-24,2026-12-26")
    # Wednesday 23rd evening: 24th closed, 25th Christmas, 26th (Saturday) closed, Sunday → Monday 28th
    assert hours.next_opening(paris(2026, 12, 23, 18, 0)) == paris(2026, 12, 28, 8, 30)
    assert hours.next_opening(paris(2026, 3, 13, 18, 0)) == paris(2026, 3, 14, 9, 0)


def test_the_next_opening_across_the_change_to_summer_time(default_hours: OfficeHours) -> None:
    found = default_hours.next_opening(paris(2026, 3, 27, 18, 0))
    assert found == utc(2026, 3, 30, 6, 30)  # 8:30 CEST


def test_an_opening_time_that_clocks_skip_opens_when_the_clock_gets_there() -> None:
    hours = OfficeHours.parse("sun 02:30-04:00")
    # on 29 March 2026 the clock goes from 1:59:59 CET to 3:00 CEST
    assert hours.next_opening(utc(2026, 3, 29, 0, 0)) == utc(2026, 3, 29, 1, 0)
    # a time that happens twice opens the first time (compared in UTC: Python never finds an ambiguous time
    # equal to one in another zone)
    found = hours.next_opening(utc(2026, 10, 24, 22, 0))
    assert found is not None
    assert found.astimezone(dt.UTC) == utc(2026, 10, 25, 0, 30)


def test_no_opening_in_the_coming_year_gives_none() -> None:
    closed_days = ",".join(str(dt.date(2026, 1, 5) + dt.timedelta(weeks=week)) for week in range(60))
    hours = OfficeHours.parse("mon 09:00-10:00", holidays=closed_days)
    assert hours.next_opening(paris(2026, 1, 1, 12, 0)) is None


# In words.


@pytest.mark.parametrize(
    ("spec", "french", "english"),
    [
        (
            DEFAULT_OFFICE_HOURS,
            "du lundi au vendredi, 8h30–12h et 13h30–17h30",
            "Monday to Friday, 8:30–12:00 and 13:30–17:30",
        ),
        (
            WEEKDAYS_AND_SATURDAY,
            "du lundi au vendredi, 8h30–12h et 13h30–17h30 ; le samedi, 9h–12h",
            "Monday to Friday, 8:30–12:00 and 13:30–17:30; Saturday, 9:00–12:00",
        ),
        ("always", "tous les jours, à toute heure", "every day, at any time"),
        (
            "mon,wed,fri 09:00-10:00 11:00-12:00 14:05-16:00",
            "le lundi, le mercredi et le vendredi, 9h–10h, 11h–12h et 14h05–16h",
            "Monday, Wednesday and Friday, 9:00–10:00, 11:00–12:00 and 14:05–16:00",
        ),
        (
            "mon-wed,fri 09:00-12:00; sat-sun 10:00-24:00",
            "du lundi au mercredi et le vendredi, 9h–12h ; le samedi et le dimanche, 10h–24h",
            "Monday to Wednesday and Friday, 9:00–12:00; Saturday and Sunday, 10:00–24:00",
        ),
        ("mon-sun 07:00-21:00", "tous les jours, 7h–21h", "every day, 7:00–21:00"),
    ],
)
def test_describe_in_both_languages(spec: str, french: str, english: str) -> None:
    hours = OfficeHours.parse(spec)
    assert hours.describe("fr") == french
    assert hours.describe("en") == english


def test_describe_another_language_raises_value_error(default_hours: OfficeHours) -> None:
    with pytest.raises(ValueError, match="'de'"):
        default_hours.describe("de")
