"""Rounding to what a person says: never earlier, on the calendar, across DST; follow-ups inside
business hours, after the likely time and before the promise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eta.calendar import Clock
from eta.rounding import follow_up, in_business_hours, round_promise
from eta.spec import CalendarSpec

ZONES = ("Europe/Sarajevo", "America/New_York", "Asia/Kolkata", "UTC")


@st.composite
def day_hours(draw) -> tuple[str, ...]:
    """One span of hours, or two with a break between them."""
    opens = draw(st.integers(6, 10))
    closes = draw(st.integers(opens + 4, 24))
    if closes - opens >= 6 and draw(st.booleans()):
        lunch = draw(st.integers(opens + 2, closes - 3))
        back = draw(st.sampled_from(["30", "45"]))
        return f"{opens:02d}:00", f"{lunch:02d}:00", f"{lunch:02d}:{back}", f"{closes:02d}:00"
    return f"{opens:02d}:00", f"{closes:02d}:00"


@st.composite
def clocks(draw) -> Clock:
    days = draw(
        st.lists(st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]), min_size=1)
    )
    own = {}
    if draw(st.booleans()):
        hours = draw(day_hours())
        own = draw(st.dictionaries(st.sampled_from(days), day_hours(), max_size=2))
    else:  # a night shift, closing the next morning
        hours = f"{draw(st.integers(18, 23)):02d}:00", f"{draw(st.integers(1, 8)):02d}:00"
    calendar = CalendarSpec(
        days=tuple(days),
        hours=hours,
        hours_by_day=own,
        holidays=draw(st.sampled_from([(), ("BA",), ("DE",)])),
    )
    return Clock(
        calendar, draw(st.sampled_from(ZONES)), draw(st.sampled_from(["business", "wall"]))
    )


instants = st.datetimes(
    min_value=pd.Timestamp("2024-01-01").to_pydatetime(),
    max_value=pd.Timestamp("2026-12-31").to_pydatetime(),
)


@settings(max_examples=150, deadline=None)
@given(
    clock=clocks(), starts=st.lists(instants, min_size=1, max_size=8), hours=st.floats(0.01, 300)
)
def test_a_rounded_promise_is_never_earlier_and_is_what_a_person_says(clock, starts, hours) -> None:
    start = pd.DatetimeIndex(starts).tz_localize("UTC")
    exact = clock.add_hours(start, hours)
    # To the minute in UTC: a local ceil fails on the hour a DST change repeats.
    local_exact = exact.ceil("min").tz_convert(clock.timezone)
    for how in ("minute", "hour", "day", "date"):
        rounded = round_promise(clock, exact, how)
        assert (rounded >= exact).all(), how
        local = rounded.tz_convert(clock.timezone)
        if how == "minute":
            assert (rounded - exact < pd.Timedelta(minutes=1)).all()
        if how == "date":  # the same calendar date, said as a date
            assert (local.strftime("%H:%M") == "23:59").all()
            assert (local.date == local_exact.date).all()
        if how == "hour" and clock.kind == "business":
            # a full hour, or the closing time of that business day, within the hour; midnight
            # (a full hour or a 24:00 close) said as 23:59 of the day it ends
            calendar = clock.calendar
            hours = [calendar.hours_by_day.get(d, calendar.hours) for d in local.strftime("%a")]
            said = local.strftime("%H:%M")
            closes = [(*h[1::2], "23:59") for h in hours]
            assert all(m == 0 or t in c for m, t, c in zip(local.minute, said, closes, strict=True))
            # within the hour, in real time or on the wall clock (03:00 said at 02:54 on the
            # night the clocks go back is 66 minutes away)
            wall = local.tz_localize(None) - local_exact.tz_localize(None)
            assert (
                (rounded - exact <= pd.Timedelta(hours=1)) | (wall <= pd.Timedelta(hours=1))
            ).all()
        if how == "day" and clock.kind == "business":
            assert in_business_hours(clock, rounded).all()
            if clock.calendar.overnight:  # the end of the shift it falls in, the next morning
                # (its closing time; 03:00 on the spring night the clocks skip a 02:00 close)
                close = [pd.Timestamp(f"{d} {clock.calendar.hours[1]}") for d in local.date]
                said = pd.DatetimeIndex(close).tz_localize(
                    clock.timezone, nonexistent="shift_forward", ambiguous=True
                )
                assert (said == rounded).all()
                assert (rounded - exact <= pd.Timedelta(hours=24)).all()
            else:
                assert (local.date == local_exact.date).all()


@settings(max_examples=150, deadline=None)
@given(
    clock=clocks(),
    start=instants,
    likely=st.floats(0.0, 100),
    gap=st.floats(0.1, 100),
    spread=st.floats(0.05, 50),
)
def test_a_follow_up_is_in_business_hours_after_the_likely_time_and_before_the_promise(
    clock, start, likely, gap, spread
) -> None:
    begin = pd.DatetimeIndex([start]).tz_localize("UTC")
    if clock.kind != "business":
        clock = Clock(clock.calendar, clock.timezone, "business")
    likely_at = clock.add_hours(begin, likely + 0.01).ceil("min")
    target = clock.add_hours(begin, likely + 0.01 + gap)
    promise = round_promise(clock, clock.add_hours(begin, likely + 0.01 + gap + spread), "hour")
    when = follow_up(clock, target, likely_at, promise)
    assert (when >= likely_at).all()
    assert (when < promise).all()
    assert in_business_hours(clock, when).all()
    assert (when <= target.ceil("min")).all()  # never later than the level it stands for


@settings(max_examples=80, deadline=None)
@given(
    clock=clocks(),
    starts=st.lists(instants, min_size=1, max_size=8),
    hours=st.floats(0.01, 300),
    zone=st.sampled_from((*ZONES, "Asia/Tehran", "Pacific/Auckland")),
)
def test_a_date_is_the_customers_date(clock, starts, hours, zone) -> None:
    exact = clock.add_hours(pd.DatetimeIndex(starts).tz_localize("UTC"), hours)
    rounded = round_promise(clock, exact, "date", zone)
    assert (rounded >= exact).all()
    local = rounded.tz_convert(zone)
    assert (local.strftime("%H:%M") == "23:59").all()
    assert (local.date == exact.tz_convert(zone).ceil("min").date).all()


@pytest.mark.parametrize(
    ("exact", "how", "said"),
    [
        ("2026-03-27 15:46", "hour", "2026-03-27 16:00"),
        ("2026-03-27 16:20", "hour", "2026-03-27 16:30"),  # closing time comes first
        ("2026-03-27 09:10", "day", "2026-03-27 16:30"),
        ("2026-03-27 09:10", "date", "2026-03-27 23:59"),
        ("2026-03-29 01:40", "hour", "2026-03-29 03:00"),  # 02:00 does not exist (DST starts)
    ],
)
def test_rounding_examples(exact, how, said) -> None:
    calendar = CalendarSpec(hours=("09:00", "16:30"), holidays=("BA",))
    kind = "wall" if "03-29" in exact else "business"
    clock = Clock(calendar, "Europe/Sarajevo", kind)
    instant = pd.DatetimeIndex([exact]).tz_localize("Europe/Sarajevo")
    rounded = round_promise(clock, instant, how).tz_convert("Europe/Sarajevo")
    assert rounded[0].strftime("%Y-%m-%d %H:%M") == said


@pytest.mark.parametrize(
    ("exact", "how", "said"),
    [
        ("2026-03-03 03:10", "day", "2026-03-03 06:00"),  # Monday's shift, in Tuesday's small hours
        ("2026-03-03 12:10", "day", "2026-03-04 06:00"),  # between shifts: Tuesday's
        ("2026-03-07 06:00", "day", "2026-03-07 06:00"),  # Friday's shift closes on Saturday
        ("2026-03-07 05:10", "hour", "2026-03-07 06:00"),
    ],
)
def test_a_night_shift_rounds_to_the_shift_it_falls_in(exact, how, said) -> None:
    clock = Clock(
        CalendarSpec(hours=("22:00", "06:00"), holidays=("BA",)), "Europe/Sarajevo", "business"
    )
    instant = pd.DatetimeIndex([exact]).tz_localize("Europe/Sarajevo")
    rounded = round_promise(clock, instant, how)
    assert rounded.tz_convert("Europe/Sarajevo")[0].strftime("%Y-%m-%d %H:%M") == said
    assert in_business_hours(clock, rounded).all()


@pytest.mark.parametrize(
    ("exact", "how", "said"),
    [
        ("2026-03-07 12:10", "hour", "2026-03-07 12:30"),  # Saturday closes at 12:30
        ("2026-03-07 10:10", "day", "2026-03-07 12:30"),
        ("2026-03-07 12:40", "day", "2026-03-09 18:00"),  # after Saturday's close: Monday's
        ("2026-03-06 17:10", "hour", "2026-03-06 18:00"),  # Friday keeps the usual hours
    ],
)
def test_a_day_with_hours_of_its_own_rounds_to_its_own_close(exact, how, said) -> None:
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
    calendar = CalendarSpec(
        days=days, hours=("08:00", "18:00"), hours_by_day={"Sat": ("09:00", "12:30")}
    )
    clock = Clock(calendar, "Europe/Sarajevo", "business")
    instant = pd.DatetimeIndex([exact]).tz_localize("Europe/Sarajevo")
    rounded = round_promise(clock, instant, how)
    assert rounded.tz_convert("Europe/Sarajevo")[0].strftime("%Y-%m-%d %H:%M") == said
    assert in_business_hours(clock, rounded).all()
    saturday = pd.DatetimeIndex(["2026-03-07 12:00", "2026-03-07 14:00"]).tz_localize(
        clock.timezone
    )
    assert in_business_hours(clock, saturday).tolist() == [True, False]


LUNCH = Clock(
    CalendarSpec(hours=("09:00", "12:00", "13:30", "17:00"), holidays=("BA",)),
    "Europe/Sarajevo",
    "business",
)


def sarajevo(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(stamps)).tz_localize("Europe/Sarajevo")


def said(instants: pd.DatetimeIndex) -> list[str]:
    return instants.tz_convert("Europe/Sarajevo").strftime("%H:%M").tolist()


def test_a_lunch_break_is_not_working_time_for_rounding_and_follow_ups() -> None:
    # Tuesday 3 March 2026, hours 09:00-12:00 and 13:30-17:00
    morning, lunch = sarajevo("2026-03-03 11:59", "2026-03-03 12:30")
    assert in_business_hours(LUNCH, pd.DatetimeIndex([morning, lunch])).tolist() == [True, False]
    rounded = round_promise(LUNCH, sarajevo("2026-03-03 11:40", "2026-03-03 13:40"), "hour")
    assert said(rounded) == ["12:00", "14:00"]
    assert said(round_promise(LUNCH, sarajevo("2026-03-03 10:10"), "day")) == ["17:00"]
    likely = sarajevo("2026-03-03 09:30", "2026-03-03 09:30")
    targets = sarajevo("2026-03-03 12:40", "2026-03-03 13:50")  # in lunch; just after it
    promise = sarajevo("2026-03-03 16:00", "2026-03-03 16:00")
    when = follow_up(LUNCH, targets, likely, promise)
    assert said(when) == ["12:00", "13:30"]  # before lunch; not 13:00, still at lunch
    eleven, two = sarajevo("2026-03-03 11:00"), sarajevo("2026-03-03 14:00")
    assert LUNCH.hours_between(eleven, two)[0] == 1.5


@pytest.mark.parametrize("hours", [("09:00", "17:00"), ("22:00", "06:00")])
def test_a_missing_time_stays_missing_however_it_is_rounded(hours) -> None:
    clock = Clock(CalendarSpec(hours=hours, holidays=("BA",)), "Europe/Sarajevo", "business")
    exact = pd.DatetimeIndex([pd.NaT, pd.Timestamp("2026-03-03 12:10", tz="UTC")])
    for how in ("minute", "hour", "day", "date"):
        rounded = round_promise(clock, exact, how)
        assert pd.isna(rounded[0]) and rounded[1] >= exact[1], how
    assert not in_business_hours(clock, exact[:1]).any()


def test_a_promise_at_a_midnight_close_stays_at_that_close() -> None:
    """Monday 09:00-24:00: a promise due when Monday closes is Monday's, not next Monday's."""
    clock = Clock(
        CalendarSpec(days=("Mon",), hours=("09:00", "24:00")), "Europe/Sarajevo", "business"
    )
    exact = clock.add_hours(sarajevo("2026-03-02 10:00"), 14.0)
    assert exact == sarajevo("2026-03-03 00:00")
    assert round_promise(clock, exact, "day") == exact
    assert in_business_hours(clock, exact).all()


@settings(max_examples=150, deadline=None)
@given(
    clock=clocks(), starts=st.lists(instants, min_size=1, max_size=8), hours=st.floats(0.01, 300)
)
def test_an_hour_rounded_promise_due_at_midnight_is_said_the_minute_before(
    clock, starts, hours
) -> None:
    """'By Friday 12:00 AM' is read as Friday night: a promise that rounds up to midnight is
    23:59 of the day it ends, unless the exact promise is already past 23:59."""
    exact = clock.add_hours(pd.DatetimeIndex(starts).tz_localize("UTC"), hours)
    rounded = round_promise(clock, exact, "hour")
    assert (rounded >= exact).all()
    local = rounded.tz_convert(clock.timezone)
    at_midnight = (local.hour == 0) & (local.minute == 0)
    assert (rounded[at_midnight] == exact[at_midnight].ceil("min")).all()


@st.composite
def wall_clocks(draw) -> Clock:
    """A wall clock whose calendar keeps the default hours (round the clock) on its days."""
    days = draw(
        st.lists(st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]), min_size=1)
    )
    holidays = draw(st.sampled_from([(), ("BA",), ("US",)]))
    calendar = CalendarSpec(days=tuple(days), holidays=holidays)
    return Clock(calendar, draw(st.sampled_from((*ZONES, "Asia/Tehran"))), "wall")


def daytime(clock: Clock, instants: pd.DatetimeIndex, any_day: bool = False) -> np.ndarray:
    """Inside the contact hours (08:00 to 20:00 local) of a working day (or of any day)."""
    local = instants.tz_convert(clock.timezone)
    minutes = np.asarray(local.hour * 60 + local.minute)
    day = pd.DatetimeIndex(local.tz_localize(None).normalize())
    working = True if any_day else clock.is_working_day(day)
    return working & (minutes >= 8 * 60) & (minutes <= 20 * 60)


@settings(max_examples=150, deadline=None)
@given(
    clock=wall_clocks(),
    start=instants,
    likely=st.floats(0.0, 100),
    gap=st.floats(0.1, 100),
    spread=st.floats(0.05, 50),
)
def test_a_wall_clock_follow_up_falls_in_a_persons_day_whenever_the_window_holds_one(
    clock, start, likely, gap, spread
) -> None:
    begin = pd.DatetimeIndex([start]).tz_localize("UTC")
    likely_at = clock.add_hours(begin, likely + 0.01).ceil("min")
    target = clock.add_hours(begin, likely + 0.01 + gap)
    promise = round_promise(clock, clock.add_hours(begin, likely + 0.01 + gap + spread), "hour")
    when = follow_up(clock, target, likely_at, promise)
    assert (when >= likely_at).all() and (when < promise).all()
    window = pd.date_range(likely_at[0], promise[0], freq="min", inclusive="left")
    local = when.tz_convert(clock.timezone)
    if daytime(clock, window).any():  # a working day's daytime
        assert daytime(clock, when).all(), (local, target)
    if daytime(clock, window, any_day=True).any():  # a holiday's or day off's daytime
        assert daytime(clock, when, any_day=True).all(), (local, target)
    if when[0] != likely_at[0]:  # never at midnight, unless the likely time is
        assert not ((local.hour == 0) & (local.minute == 0)).any()


NEW_YORK = Clock(CalendarSpec(holidays=("US",)), "America/New_York", "wall")


def new_york(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(stamps)).tz_localize("America/New_York")


@pytest.mark.parametrize(
    ("likely", "target", "promise", "said"),
    [
        # due in the small hours: the evening before, on the last contact hour
        ("2026-03-03 14:00", "2026-03-04 03:10", "2026-03-04 09:00", "2026-03-03 20:00"),
        # the evening before is before the likely time: the next morning's opening
        ("2026-03-03 21:30", "2026-03-04 02:10", "2026-03-04 11:00", "2026-03-04 08:00"),
        # at midnight (the city 311 sweep's 25% of follow-ups): the evening before
        ("2026-03-03 10:00", "2026-03-04 00:20", "2026-03-04 06:00", "2026-03-03 20:00"),
        # in the day: the full hour before, as on a business clock
        ("2026-03-03 10:00", "2026-03-03 15:40", "2026-03-03 19:00", "2026-03-03 15:00"),
        # the whole window at night: no daytime to move to, the full hour before the target...
        ("2026-03-03 22:30", "2026-03-04 01:30", "2026-03-04 03:00", "2026-03-04 01:00"),
        # ...but not midnight: the hour before, or the likely time when that is later
        ("2026-03-03 22:30", "2026-03-04 00:30", "2026-03-04 03:00", "2026-03-03 23:00"),
        ("2026-03-03 23:26", "2026-03-04 00:30", "2026-03-04 05:00", "2026-03-03 23:26"),
        # likely on a public holiday (Labor Day), due that night: the holiday's evening
        ("2026-09-07 14:20", "2026-09-08 00:10", "2026-09-08 01:00", "2026-09-07 20:00"),
    ],
)
def test_a_wall_clock_follow_up_moves_out_of_the_night(likely, target, promise, said) -> None:
    when = follow_up(NEW_YORK, new_york(target), new_york(likely), new_york(promise))
    assert when.tz_convert("America/New_York")[0].strftime("%Y-%m-%d %H:%M") == said


def test_an_hour_rounded_promise_due_at_midnight_is_said_on_the_day_it_ends() -> None:
    exact = new_york("2026-02-20 23:10", "2026-02-20 23:59:30", "2026-02-20 22:10")
    said = round_promise(NEW_YORK, exact, "hour").tz_convert("America/New_York")
    assert said.strftime("%a %H:%M").tolist() == ["Fri 23:59", "Sat 00:00", "Fri 23:00"]


def test_a_night_shift_whose_close_the_clocks_skip_ends_when_they_read_after_it() -> None:
    """Saturday's shift closes at 02:00 on the night Europe's clocks go from 02:00 to 03:00:
    a promise at that close (01:00 UTC, 03:00 on the wall) stays there, in business hours,
    where it was rounded to Tuesday's close, two days later (found by hypothesis)."""
    calendar = CalendarSpec(days=("Mon", "Tue", "Wed", "Sat"), hours=("18:00", "02:00"))
    clock = Clock(calendar, "Europe/Sarajevo", "business")
    close = pd.DatetimeIndex(["2025-03-30 01:00"]).tz_localize("UTC")
    assert (
        clock.add_hours(pd.DatetimeIndex(["2025-03-29 20:00"]).tz_localize("UTC"), 5)[0] == close[0]
    )
    rounded = round_promise(clock, close, "day")
    assert rounded[0] == close[0]
    assert in_business_hours(clock, rounded).all()


def test_a_date_in_the_hour_the_clocks_repeat_ends_at_that_dates_last_minute() -> None:
    """Santiago's clocks go back from midnight to 23:00 on 5 April 2025: promises in the second
    23:00-24:00 stayed at 23:07 and 23:18 instead of the end of the date (found by a tester)."""
    clock = Clock(CalendarSpec(), "America/Santiago", "wall")
    exact = pd.DatetimeIndex(
        ["2025-04-06 03:07", "2025-04-06 02:07", "2025-04-05 15:00"]  # 23:07 -04, 23:07 -03
    ).tz_localize("UTC")
    said = round_promise(clock, exact, "date")
    assert said.strftime("%Y-%m-%d %H:%M").tolist() == ["2025-04-06 03:59"] * 3
    assert (said >= exact).all()
