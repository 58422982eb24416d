"""Tests for eta.calendar: the business / wall clock of a history."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import holidays
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from eta.calendar import NAT, Clock
from eta.spec import CalendarSpec, DatasetSpec

SPECS = Path(__file__).resolve().parents[1] / "src" / "eta" / "specs"
SARAJEVO = "Europe/Sarajevo"
BERLIN = "Europe/Berlin"

TICKETS = Clock.from_spec(DatasetSpec.from_yaml(SPECS / "tickets.yaml"))
DELIVERIES = Clock.from_spec(DatasetSpec.from_yaml(SPECS / "deliveries.yaml"))
ALL_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def local(tz: str, *stamps: str | None) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(stamps)).tz_localize(tz)


def sarajevo_clock(**calendar: object) -> Clock:
    base = {"hours": ("09:00", "17:00"), "holidays": ("BA",)}
    return Clock(CalendarSpec(**{**base, **calendar}), SARAJEVO, "business")


# ---------------------------------------------------------------- business clock: examples


def test_friday_afternoon_plus_a_working_day_is_monday_afternoon() -> None:
    start = local(SARAJEVO, "2025-03-07 16:00")  # Friday, no holiday around
    end = TICKETS.add_hours(start, 8)
    assert end[0] == pd.Timestamp("2025-03-10 16:00", tz=SARAJEVO)
    assert str(end.tz) == "UTC"
    assert TICKETS.hours_between(start, end)[0] == pytest.approx(8.0)


def test_spec_clock_is_business_on_the_spec_calendar() -> None:
    assert TICKETS.kind == "business"
    assert TICKETS.timezone == SARAJEVO
    assert TICKETS.hours_per_day() == 8.0
    assert DELIVERIES.hours_per_day() == 12.0


def test_weekend_counts_nothing() -> None:
    start = local(SARAJEVO, "2025-03-07 17:00", "2025-03-08 10:00")
    end = local(SARAJEVO, "2025-03-10 09:00", "2025-03-09 23:00")
    np.testing.assert_allclose(TICKETS.hours_between(start, end), [0.0, 0.0])


def test_hours_outside_opening_hours_are_clipped() -> None:
    start = local(SARAJEVO, "2025-03-10 06:00", "2025-03-10 12:30")
    end = local(SARAJEVO, "2025-03-10 22:00", "2025-03-11 10:15")
    np.testing.assert_allclose(TICKETS.hours_between(start, end), [8.0, 4.5 + 1.25])


def test_end_before_start_is_negative() -> None:
    start = local(SARAJEVO, "2025-03-10 16:00")
    end = local(SARAJEVO, "2025-03-07 16:00")
    assert TICKETS.hours_between(start, end)[0] == pytest.approx(-8.0)
    assert TICKETS.add_hours(start, -8.0)[0] == end[0]


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2024-12-31 16:00", "2025-01-03 16:00"),  # New Year: 1 and 2 January in BA
        ("2025-04-30 16:00", "2025-05-05 16:00"),  # Labour Day: 1 and 2 May in BA
        ("2025-01-06 16:00", "2025-01-08 16:00"),  # Orthodox Christmas, 7 January
    ],
)
def test_ba_public_holidays_are_skipped(start: str, expected: str) -> None:
    end = TICKETS.add_hours(local(SARAJEVO, start), 8)
    assert end[0] == pd.Timestamp(expected, tz=SARAJEVO)
    # Without holidays the same step ends on the next working day.
    plain = sarajevo_clock(holidays=())
    assert plain.add_hours(local(SARAJEVO, start), 8)[0] < end[0]


def test_holiday_listing_matches_the_holidays_package() -> None:
    found = TICKETS.holidays_between(pd.Timestamp("2025-04-25"), pd.Timestamp("2025-05-05"))
    assert [d for d, _ in found] == [dt.date(2025, 5, 1), dt.date(2025, 5, 2)]
    assert all("Labor" in name for _, name in found)
    new_year = TICKETS.holidays_between(dt.date(2025, 1, 1), dt.date(2025, 1, 2))
    assert [d for d, _ in new_year] == [dt.date(2025, 1, 1), dt.date(2025, 1, 2)]
    assert TICKETS.non_working_days_between("2025-04-30", "2025-05-05") == [
        dt.date(2025, 5, 1),
        dt.date(2025, 5, 2),
        dt.date(2025, 5, 3),
        dt.date(2025, 5, 4),
    ]


def test_several_holiday_codes_are_a_union() -> None:
    clock = sarajevo_clock(holidays=("BA", "DE"))
    days = [dt.date(2025, 1, 7), dt.date(2025, 10, 3), dt.date(2025, 10, 2)]  # BA, DE, neither
    np.testing.assert_array_equal(clock.is_working_day(days), [False, False, True])
    new_year = clock.holidays_between("2025-01-01", "2025-01-01")
    assert len(new_year) == 1  # one entry per date, names joined


def test_subdivision_holidays() -> None:
    california = Clock(CalendarSpec(holidays=("US-CA",)), "America/Los_Angeles", "business")
    federal = Clock(CalendarSpec(holidays=("US",)), "America/Los_Angeles", "business")
    chavez = [dt.date(2025, 3, 31)]
    assert not california.is_working_day(chavez)[0]
    assert federal.is_working_day(chavez)[0]


def test_is_working_day_reads_aware_instants_in_the_spec_zone() -> None:
    # Sunday 23:30 UTC is already Monday 00:30 in Sarajevo (winter, UTC+1).
    sunday_utc = pd.DatetimeIndex(["2025-03-09 23:30"]).tz_localize("UTC")
    assert TICKETS.is_working_day(sunday_utc)[0]
    assert not TICKETS.is_working_day([dt.date(2025, 3, 9)])[0]
    assert not TICKETS.is_working_day(pd.DatetimeIndex([None]))[0]


# ---------------------------------------------------------------- daylight saving time


@pytest.mark.parametrize(
    ("hours", "day", "expected"),
    [
        (("00:00", "24:00"), "2025-03-30", 23.0),
        (("00:00", "24:00"), "2025-10-26", 25.0),
        (("00:00", "24:00"), "2025-03-29", 24.0),
        (("08:00", "20:00"), "2025-03-30", 12.0),
        (("08:00", "20:00"), "2025-10-26", 12.0),
        (("01:00", "04:00"), "2025-03-30", 2.0),  # 02:00-03:00 does not exist
        (("01:00", "04:00"), "2025-10-26", 4.0),  # 02:00-03:00 happens twice
    ],
)
def test_dst_days_have_the_right_business_hours(
    hours: tuple[str, str], day: str, expected: float
) -> None:
    clock = Clock(CalendarSpec(days=ALL_DAYS, hours=hours), BERLIN, "business")
    midnight = pd.Timestamp(day).tz_localize(BERLIN)
    next_midnight = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(BERLIN)
    got = clock.hours_between(pd.DatetimeIndex([midnight]), pd.DatetimeIndex([next_midnight]))
    assert got[0] == pytest.approx(expected)
    # The whole day's hours from midnight end exactly at that day's closing time.
    closing = (pd.Timestamp(day) + clock.calendar.closes).tz_localize(BERLIN)
    assert clock.add_hours(pd.DatetimeIndex([midnight]), expected)[0] == closing


def test_adding_across_spring_forward() -> None:
    clock = Clock(CalendarSpec(days=ALL_DAYS), BERLIN, "business")  # 00:00-24:00 every day
    start = local(BERLIN, "2025-03-29 12:00")
    # 12 h to Sunday 00:00, then 12 elapsed hours on the 23-hour Sunday: 13:00 local.
    assert clock.add_hours(start, 24)[0] == pd.Timestamp("2025-03-30 13:00", tz=BERLIN)


# ---------------------------------------------------------------- cut-off


@pytest.mark.parametrize(
    ("ordered", "counted_from"),
    [
        ("2025-03-11 15:00", "2025-03-12 08:00"),  # Tuesday after cut-off -> Wednesday opening
        ("2025-03-11 13:59", "2025-03-11 13:59"),  # before cut-off: unchanged
        ("2025-03-11 14:00", "2025-03-11 14:00"),  # exactly at cut-off: unchanged
        ("2025-03-11 06:00", "2025-03-11 06:00"),  # early morning: unchanged (clock starts 08:00)
        ("2025-03-15 15:00", "2025-03-17 08:00"),  # Saturday after cut-off -> Monday (no Sunday)
        ("2025-03-16 10:00", "2025-03-17 08:00"),  # Sunday is not a working day
        ("2025-04-17 15:00", "2025-04-19 08:00"),  # Good Friday (DE) skipped; Saturday works
        ("2025-04-18 09:00", "2025-04-19 08:00"),  # on the holiday itself
    ],
)
def test_cutoff_moves_late_orders_to_next_opening(ordered: str, counted_from: str) -> None:
    got = DELIVERIES.effective_start(local(BERLIN, ordered))
    assert got[0] == pd.Timestamp(counted_from, tz=BERLIN)
    assert str(got.tz) == "UTC"


@pytest.mark.parametrize(
    ("ordered", "counted_from", "late"),
    [
        ("2026-03-03 03:00", "2026-03-03 03:00", False),  # in Monday's shift, before its cut-off
        ("2026-03-03 05:00", "2026-03-03 22:00", True),  # after it: Tuesday's shift
        ("2026-03-03 10:00", "2026-03-03 10:00", False),  # Tuesday's day, long before 04:00
        ("2026-03-06 23:30", "2026-03-06 23:30", False),  # Friday's shift runs into Saturday
        ("2026-03-07 04:30", "2026-03-09 22:00", True),  # late in it: Monday's (none at weekends)
        ("2026-03-07 10:00", "2026-03-09 22:00", False),  # Saturday has no shift
    ],
)
def test_a_night_shift_cutoff_is_late_in_the_shift_it_belongs_to(
    ordered: str, counted_from: str, late: bool
) -> None:
    clock = sarajevo_clock(hours=("22:00", "06:00"), cutoff="04:00")
    start = local(SARAJEVO, ordered)
    assert clock.effective_start(start)[0] == pd.Timestamp(counted_from, tz=SARAJEVO)
    assert clock.after_cutoff(start)[0] == late
    # The cut-off the start is measured against, as an instant: 04:00 in its shift's night.
    [cutoff] = pd.to_datetime(clock.cutoffs(start), utc=True).tz_convert(SARAJEVO)
    assert cutoff.time() == dt.time(4)


def test_after_cutoff_flags() -> None:
    starts = local(BERLIN, "2025-03-11 15:00", "2025-03-11 14:00", "2025-03-16 10:00", None)
    np.testing.assert_array_equal(DELIVERIES.after_cutoff(starts), [True, False, False, False])
    assert not TICKETS.after_cutoff(starts).any()
    cutoffs = pd.to_datetime(DELIVERIES.cutoffs(starts), utc=True).tz_convert(BERLIN)
    assert [f"{c:%Y-%m-%d %H:%M}" for c in cutoffs[:3]] == ["2025-03-11 14:00"] * 2 + [
        "2025-03-16 14:00"
    ]
    assert pd.isna(cutoffs[3]) and (TICKETS.cutoffs(starts) == NAT).all()


def test_without_cutoff_start_is_unchanged() -> None:
    starts = local(SARAJEVO, "2025-03-08 20:00", "2025-03-11 23:00", None)
    got = TICKETS.effective_start(starts)
    assert got[:2].equals(starts[:2].tz_convert("UTC"))
    assert pd.isna(got[2])


def test_cutoff_effective_start_keeps_nat() -> None:
    got = DELIVERIES.effective_start(local(BERLIN, None, "2025-03-11 15:00"))
    assert pd.isna(got[0])
    assert got[1] == pd.Timestamp("2025-03-12 08:00", tz=BERLIN)


# ---------------------------------------------------------------- add_hours details


def test_zero_hours_outside_business_hours_is_the_start_itself() -> None:
    start = local(SARAJEVO, "2025-03-08 11:00", "2025-03-10 20:00")
    assert TICKETS.add_hours(start, 0.0).equals(start.tz_convert("UTC"))
    # The smallest positive step lands at the next opening.
    tiny = TICKETS.add_hours(start, 1e-6)
    assert tiny[0] == pd.Timestamp("2025-03-10 09:00:00.0036", tz=SARAJEVO)


def test_the_small_hours_of_a_night_shift_are_the_working_day_before() -> None:
    """A night line's promise "by 6:00 AM tomorrow" was told tomorrow's holiday may take the
    full time: 06:00 on the holiday ends the shift that opened the evening before."""
    night = Clock(CalendarSpec(hours=("22:00", "06:00"), holidays=("DE",)), BERLIN, "business")
    day = Clock(CalendarSpec(hours=("09:00", "17:00")), BERLIN, "business")
    at = pd.DatetimeIndex(["2025-10-03 06:00", "2025-10-03 06:01", None], tz=BERLIN)
    assert night.working_days(at).astype(str).tolist() == ["2025-10-02", "2025-10-03", "NaT"]
    assert day.working_days(at).astype(str).tolist() == ["2025-10-03", "2025-10-03", "NaT"]


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        ("2025-03-03 23:00", "2025-03-04 02:00", 3.0),  # inside Monday's shift
        ("2025-03-03 12:00", "2025-03-04 12:00", 8.0),  # the whole of Monday's shift
        ("2025-03-07 23:00", "2025-03-10 23:00", 8.0),  # Friday's shift runs into Saturday
        ("2025-03-08 12:00", "2025-03-10 12:00", 0.0),  # no shift opens at the weekend
        ("2025-04-18 12:00", "2025-04-19 12:00", 0.0),  # none on a public holiday (Good Friday)
        ("2025-03-28 12:00", "2025-03-29 12:00", 8.0),
        ("2025-03-30 12:00", "2025-03-31 12:00", 0.0),
    ],
)
def test_a_night_shift_belongs_to_the_day_it_opens_on(start: str, end: str, hours: float) -> None:
    clock = Clock(CalendarSpec(hours=("22:00", "06:00"), holidays=("DE",)), BERLIN, "business")
    assert clock.hours_between([pd.Timestamp(start, tz=BERLIN)], [pd.Timestamp(end, tz=BERLIN)])[
        0
    ] == pytest.approx(hours)
    assert clock.hours_per_day() == 8.0


def test_a_night_shift_across_spring_forward_is_an_hour_short() -> None:
    clock = Clock(CalendarSpec(days=("Sat",), hours=("22:00", "06:00")), BERLIN, "business")
    night = (
        [pd.Timestamp("2025-03-29 12:00", tz=BERLIN)],
        [pd.Timestamp("2025-03-30 12:00", tz=BERLIN)],
    )
    assert clock.hours_between(*night)[0] == pytest.approx(7.0)
    ends = clock.add_hours(night[0], 7.0).tz_convert(BERLIN)
    assert ends[0] == pd.Timestamp("2025-03-30 06:00", tz=BERLIN)


def test_a_short_saturday_and_a_late_sunday_count_their_own_hours() -> None:
    clock = CLOCKS["short_saturday"]  # 08-18, Saturday 09-13, Sunday 12-24
    friday, monday = local(SARAJEVO, "2026-03-06 17:00", "2026-03-09 09:00")
    assert clock.hours_between([friday], [monday])[0] == pytest.approx(1 + 4 + 12 + 1)
    ends = clock.add_hours(local(SARAJEVO, "2026-03-07 12:00"), 2.0).tz_convert(SARAJEVO)
    assert ends[0] == pd.Timestamp("2026-03-08 13:00", tz=SARAJEVO)
    assert clock.hours_per_day() == 10.0  # the usual day


def test_step_ending_at_closing_time_gives_closing_time() -> None:
    start = local(SARAJEVO, "2025-03-07 16:00")
    assert TICKETS.add_hours(start, 1.0)[0] == pd.Timestamp("2025-03-07 17:00", tz=SARAJEVO)


def test_hours_broadcast_and_length_checks() -> None:
    starts = local(SARAJEVO, "2025-03-10 09:00", "2025-03-11 09:00")
    np.testing.assert_array_equal(
        TICKETS.add_hours(starts, 1.0), TICKETS.add_hours(starts, [1.0, 1.0])
    )
    with pytest.raises(ValueError, match="length"):
        TICKETS.add_hours(starts, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="length"):
        TICKETS.hours_between(starts, starts[:1])


def test_far_apart_data_extends_the_day_table() -> None:
    clock = sarajevo_clock()
    clock.hours_between(local(SARAJEVO, "2025-03-10 09:00"), local(SARAJEVO, "2025-03-10 10:00"))
    starts = local(SARAJEVO, "1995-03-06 09:00", "2090-03-06 09:00")
    ends = local(SARAJEVO, "1995-03-06 12:00", "2090-03-06 12:00")  # both Mondays
    fresh = sarajevo_clock()
    np.testing.assert_allclose(clock.hours_between(starts, ends), [3.0, 3.0])
    np.testing.assert_allclose(clock.hours_between(starts, ends), fresh.hours_between(starts, ends))
    # A very long step (years of business hours) still lands where hours_between agrees.
    far = clock.add_hours(starts, 20_000.0)
    np.testing.assert_allclose(clock.hours_between(starts, far), [20_000.0, 20_000.0])
    back = clock.add_hours(far, -20_000.0)
    # Monday 09:00 is the same clock position as Friday 17:00; the earliest instant comes back.
    assert back.equals(local(SARAJEVO, "1995-03-03 17:00", "2090-03-03 17:00").tz_convert("UTC"))
    mid_morning = starts + pd.Timedelta(minutes=30)
    there = clock.add_hours(mid_morning, 20_000.0)
    assert clock.add_hours(there, -20_000.0).equals(mid_morning.tz_convert("UTC"))


# ---------------------------------------------------------------- inputs and missing values


def test_nat_and_nan_propagate() -> None:
    starts = local(SARAJEVO, "2025-03-10 09:00", None, "2025-03-10 09:00")
    ends = local(SARAJEVO, None, "2025-03-10 10:00", "2025-03-10 10:00")
    hours = TICKETS.hours_between(starts, ends)
    assert np.isnan(hours[:2]).all() and hours[2] == pytest.approx(1.0)
    added = TICKETS.add_hours(starts, [np.nan, 1.0, 1.0])
    assert pd.isna(added[:2]).all() and added[2] == ends[2]
    assert pd.isna(TICKETS.add_hours(starts[:1], [np.inf])[0])
    wall = Clock(CalendarSpec(), "UTC", "wall")
    assert np.isnan(wall.hours_between(starts, ends)[:2]).all()
    assert pd.isna(wall.add_hours(starts, [np.nan, 1.0, 1.0])[:2]).all()


def test_naive_inputs_are_local_to_the_spec_zone() -> None:
    naive = pd.Series(pd.to_datetime(["2025-03-07 16:00"]))
    aware = local(SARAJEVO, "2025-03-07 16:00")
    assert TICKETS.add_hours(naive, 8).equals(TICKETS.add_hours(aware, 8))
    assert TICKETS.local(naive)[0] == aware[0]
    assert str(TICKETS.local(naive).tz) == SARAJEVO


def test_inputs_in_other_zones_and_types() -> None:
    start_utc = pd.Series(pd.to_datetime(["2025-03-07 15:00"], utc=True))  # 16:00 Sarajevo
    end_ny = pd.DatetimeIndex(["2025-03-10 11:00"]).tz_localize("America/New_York")  # 16:00
    assert TICKETS.hours_between(start_utc, end_ny)[0] == pytest.approx(8.0)
    as_array = np.array(["2025-03-07T15:00"], dtype="datetime64[s]")  # naive: Sarajevo time
    assert TICKETS.hours_between(as_array, end_ny)[0] == pytest.approx(9.0)
    assert TICKETS.hours_between([], []).shape == (0,)


# ---------------------------------------------------------------- wall clock


def test_wall_clock_is_elapsed_time_across_dst() -> None:
    wall = Clock(CalendarSpec(hours=("09:00", "17:00"), holidays=("DE",)), BERLIN, "wall")
    start = local(BERLIN, "2025-03-30 00:00", "2025-10-26 00:00", "2025-03-07 16:00")
    end = local(BERLIN, "2025-03-31 00:00", "2025-10-27 00:00", "2025-03-10 16:00")
    np.testing.assert_allclose(wall.hours_between(start, end), [23.0, 25.0, 72.0])
    added = wall.add_hours(start, 24.0)
    assert added[0] == pd.Timestamp("2025-03-31 01:00", tz=BERLIN)
    assert added[1] == pd.Timestamp("2025-10-26 23:00", tz=BERLIN)
    assert wall.hours_per_day() == 24.0


@pytest.mark.parametrize(
    ("started", "wait"),
    [
        ("2025-03-11 10:00", 0.0),  # Tuesday, open
        ("2025-03-11 09:00", 0.0),  # exactly at opening
        ("2025-03-11 07:30", 1.5),  # before opening
        ("2025-03-11 17:00", 16.0),  # at closing: tomorrow morning
        ("2025-03-14 18:00", 63.0),  # Friday evening: Monday morning
        ("2025-03-15 10:00", 47.0),  # Saturday
        ("2025-03-16 10:00", 23.0),  # Sunday: a day less
        ("2025-03-29 10:00", 46.0),  # Saturday before the clocks spring forward: an hour less
        ("2025-05-01 12:00", 21.0),  # Labour Day in Berlin, a holiday: Friday morning
        (None, np.nan),
    ],
)
def test_a_wall_clock_waits_for_the_calendar_to_open(started: str | None, wait: float) -> None:
    calendar = CalendarSpec(hours=("09:00", "17:00"), holidays=("DE",))
    got = Clock(calendar, BERLIN, "wall").hours_until_open(local(BERLIN, started))
    np.testing.assert_allclose(got, [wait])
    # A business clock does not run while closed: nothing of a duration is waiting.
    business = Clock(calendar, BERLIN, "business").hours_until_open(local(BERLIN, started))
    np.testing.assert_allclose(business, [0.0 if started else np.nan])


def test_the_wait_for_opening_counts_from_the_cut_off_rule() -> None:
    """An order after the cut-off counts from the next opening: it waits no more."""
    wall = Clock(CalendarSpec(hours=("08:00", "20:00"), cutoff="14:00"), BERLIN, "wall")
    started = local(BERLIN, "2025-03-11 15:00", "2025-03-11 06:00", "2025-03-15 10:00")
    np.testing.assert_allclose(wall.hours_until_open(started), [0.0, 2.0, 0.0])


def test_wall_clock_from_spec() -> None:
    spec = DatasetSpec(name="x", kind="delivery", start="a", end="b", clock="wall")
    clock = Clock.from_spec(spec)
    assert clock.kind == "wall" and clock.timezone == "UTC"
    with pytest.raises(ValueError, match="kind"):
        Clock(CalendarSpec(), "UTC", "lunar")  # type: ignore[arg-type]


# ---------------------------------------------------------------- properties

MIN_S = int(pd.Timestamp("2024-01-01", tz="UTC").timestamp())
MAX_S = int(pd.Timestamp("2026-12-31", tz="UTC").timestamp())
instants = st.integers(MIN_S, MAX_S).map(lambda s: pd.Timestamp(s, unit="s", tz="UTC"))

CLOCKS = {
    "tickets": TICKETS,
    "deliveries": DELIVERIES,
    "new_york": Clock(
        CalendarSpec(hours=("09:30", "17:15"), holidays=("US-CA",)), "America/New_York", "business"
    ),
    "kolkata_24h": Clock(CalendarSpec(days=("Mon", "Wed", "Sun")), "Asia/Kolkata", "business"),
    "night_shift": Clock(
        CalendarSpec(hours=("22:00", "06:00"), holidays=("DE",)), BERLIN, "business"
    ),
    "lunch_break": Clock(
        CalendarSpec(
            days=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat"),
            hours=("08:00", "12:00", "12:45", "16:30", "17:00", "19:00"),
            hours_by_day={"Sat": ("10:00", "14:00")},
            holidays=("US-NY",),
        ),
        "America/New_York",
        "business",
    ),
    "short_saturday": Clock(
        CalendarSpec(
            days=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
            hours=("08:00", "18:00"),
            hours_by_day={"Sat": ("09:00", "13:00"), "Sun": ("12:00", "24:00")},
            holidays=("BA",),
        ),
        "Europe/Sarajevo",
        "business",
    ),
}
clocks = st.sampled_from(sorted(CLOCKS))
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def inside_business_hours(draw: st.DrawFn, clock: Clock) -> pd.Timestamp:
    """An instant with open < t <= close in a span of hours on a working local day."""
    day = draw(st.dates(dt.date(2024, 1, 2), dt.date(2026, 12, 30)))
    assume(clock.is_working_day([day])[0])
    opens, closes = draw(st.sampled_from(hours_on(clock, day)))
    minutes = draw(st.integers(1, int((closes - opens).total_seconds() // 60)))
    naive = (
        pd.Timestamp(dt.datetime.combine(day, dt.time())) + opens + pd.Timedelta(minutes=minutes)
    )
    return naive.tz_localize(clock.timezone, nonexistent="shift_forward", ambiguous=True)


def hours_on(clock: Clock, day: dt.date) -> list[tuple[dt.timedelta, dt.timedelta]]:
    """The spans of hours of ``day``, read from the spec's words, not its properties."""
    calendar = clock.calendar
    times = calendar.hours_by_day.get(day.strftime("%a"), calendar.hours)
    moments = [pd.Timedelta(f"{t}:00").to_pytimedelta() for t in times]
    spans = list(zip(moments[::2], moments[1::2], strict=True))
    if len(spans) == 1 and spans[0][1] <= spans[0][0]:  # a night shift
        spans = [(spans[0][0], spans[0][1] + dt.timedelta(days=1))]
    return spans


def reference_hours(clock: Clock, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Slow, obvious business hours: day by day with zoneinfo (start <= end)."""
    zone = zoneinfo.ZoneInfo(clock.timezone)
    first = start.tz_convert(zone).date() - dt.timedelta(days=1)
    last = end.tz_convert(zone).date() + dt.timedelta(days=1)
    closed = set()
    for code in clock.calendar.holidays:
        country, _, subdiv = code.partition("-")
        years = range(first.year, last.year + 1)
        closed |= set(holidays.country_holidays(country, subdiv=subdiv or None, years=years))
    total = dt.timedelta()
    day = first
    while day <= last:
        if day.strftime("%a") in clock.calendar.days and day not in closed:
            midnight = dt.datetime.combine(day, dt.time())
            for span in hours_on(clock, day):
                opens, closes = ((midnight + t).replace(tzinfo=zone) for t in span)
                lo, hi = max(start.to_pydatetime(), opens), min(end.to_pydatetime(), closes)
                if hi > lo:
                    total += hi - lo
        day += dt.timedelta(days=1)
    return total.total_seconds() / 3600


@PROPERTY
@given(name=clocks, a=instants, b=instants)
def test_hours_between_matches_a_day_by_day_reference(
    name: str, a: pd.Timestamp, b: pd.Timestamp
) -> None:
    clock = CLOCKS[name]
    start, end = min(a, b), max(a, b)
    got = clock.hours_between(pd.DatetimeIndex([start]), pd.DatetimeIndex([end]))[0]
    assert got == pytest.approx(reference_hours(clock, start, end), abs=1e-9)


@PROPERTY
@given(data=st.data(), name=clocks, start=instants)
def test_add_hours_inverts_hours_between(
    data: st.DataObject, name: str, start: pd.Timestamp
) -> None:
    clock = CLOCKS[name]
    end = data.draw(inside_business_hours(clock))
    hours = clock.hours_between(pd.DatetimeIndex([start]), pd.DatetimeIndex([end]))
    # A zero step from a start after closing time stays at the start, not at that closing time.
    assume(hours[0] != 0 or start == end)
    assert clock.add_hours(pd.DatetimeIndex([start]), hours)[0] == end


@PROPERTY
@given(name=clocks, start=instants, ends=st.lists(instants, min_size=2, max_size=30))
def test_hours_between_is_monotone_in_end(name: str, start: pd.Timestamp, ends: list) -> None:
    clock = CLOCKS[name]
    ends_sorted = pd.DatetimeIndex(sorted(ends))
    hours = clock.hours_between(pd.DatetimeIndex([start] * len(ends)), ends_sorted)
    assert (np.diff(hours) >= 0).all()


@PROPERTY
@given(
    name=clocks,
    start=instants,
    steps=st.lists(st.floats(-500, 500, allow_nan=False), min_size=2, max_size=30),
)
def test_add_hours_is_monotone_in_hours(name: str, start: pd.Timestamp, steps: list) -> None:
    clock = CLOCKS[name]
    steps = sorted([*steps, 0.0])
    out = clock.add_hours(pd.DatetimeIndex([start] * len(steps)), steps)
    assert (np.diff(out.asi8) >= 0).all()
    assert out[steps.index(0.0)] == start
    # Forward steps land inside opening hours and measure back to the step.
    forward = np.array(steps) > 1e-3
    back = clock.hours_between(pd.DatetimeIndex([start] * len(steps)), out)
    np.testing.assert_allclose(back[forward], np.array(steps)[forward], atol=1e-9)


ROUND_THE_CLOCK = (
    Clock(CalendarSpec(days=ALL_DAYS), BERLIN, "business"),
    Clock(CalendarSpec(days=ALL_DAYS), BERLIN, "wall"),
)


@PROPERTY
@given(start=instants, end=instants)
def test_round_the_clock_business_equals_wall_time(start: pd.Timestamp, end: pd.Timestamp) -> None:
    business, wall = ROUND_THE_CLOCK
    s, e = pd.DatetimeIndex([start]), pd.DatetimeIndex([end])
    assert business.hours_between(s, e)[0] == pytest.approx(wall.hours_between(s, e)[0])
    assert business.add_hours(s, 30.5)[0] == wall.add_hours(s, 30.5)[0]


def test_vectorized_round_trip_on_many_rows() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    start = pd.Series(pd.to_datetime(rng.integers(MIN_S, MAX_S, n), unit="s", utc=True))
    # Durations are rounded to the microsecond, so exact round trips need whole microseconds.
    end = (start + pd.to_timedelta(rng.exponential(60, n), unit="h")).dt.floor("us")
    for clock in CLOCKS.values():
        hours = clock.hours_between(start, end)
        back = clock.add_hours(start, hours)
        position = clock.hours_between(end, back)
        assert np.allclose(position, 0.0, atol=1e-9)  # same clock position always
        # The exact instant comes back wherever end is strictly inside opening hours.
        local_end = clock.local(end)
        minutes = local_end.hour * 60 + local_end.minute + local_end.second / 60
        within = [
            any(o.total_seconds() / 60 < m < c.total_seconds() / 60 for o, c in hours_on(clock, d))
            for m, d in zip(minutes, local_end.date, strict=True)
        ]
        inside = clock.is_working_day(end) & np.array(within) & (hours > 0)
        assert inside.sum() > 1000
        assert (back[inside] == pd.DatetimeIndex(end[inside])).all()


def test_holiday_categories_asked_for_close_the_calendar_and_unknown_ones_are_refused() -> None:
    """Assumption Day in Bavaria is 'catholic' in the `holidays` package, not 'public': jobs over
    it kept 80-83% of their promises when a spec had no way to ask for it."""
    assumption = [dt.date(2025, 8, 15)]  # a Friday
    public = Clock(CalendarSpec(holidays=("DE-BY",)), BERLIN, "business")
    catholic = CalendarSpec(holidays=("DE-BY", "US-CA"), holiday_categories=("public", "catholic"))
    assert public.is_working_day(assumption)[0]
    assert not Clock(catholic, BERLIN, "business").is_working_day(assumption)[0]
    assert [
        name
        for _, name in Clock(catholic, BERLIN, "business").holidays_between(
            "2025-08-15", "2025-08-15"
        )
    ] == ["Assumption Day"]
    with pytest.raises(ValueError, match="'school_days': none of DE-BY has such holidays"):
        CalendarSpec(holidays=("DE-BY",), holiday_categories=("public", "school_days"))


def test_days_off_of_its_own_close_the_calendar_and_holidays_worked_open_it() -> None:
    """A New York field-service company closes on December 24 and works Election Day, which
    the `holidays` package lists for the state; named as the package writes them, or dated."""
    calendar = CalendarSpec(
        holidays=("US-NY",), days_off=("12-24", "2026-12-28"), holidays_worked=("Election Day",)
    )
    clock = Clock(calendar, "America/New_York", "business")
    days = [
        dt.date(2026, 11, 3),
        dt.date(2025, 12, 24),
        dt.date(2026, 12, 28),
        dt.date(2027, 12, 28),
    ]
    np.testing.assert_array_equal(clock.is_working_day(days), [True, False, False, True])
    assert "Election Day" not in dict(clock.holidays_between("2026-11-01", "2026-11-30")).values()
    assert clock.days_off_between("2026-12-01", "2027-01-31") == [
        dt.date(2026, 12, 24),
        dt.date(2026, 12, 28),
    ]
    worked_by_date = CalendarSpec(holidays=("US-NY",), holidays_worked=("2026-11-03",))
    assert Clock(worked_by_date, "America/New_York", "business").is_working_day(days[:1])[0]
    with pytest.raises(ValueError, match=r"'Electon Day' is not a holiday of US-NY; did you"):
        CalendarSpec(holidays=("US-NY",), holidays_worked=("Electon Day",))
    with pytest.raises(ValueError, match=r"'24\.12' is not a date such as .*mean '12-24'\?"):
        CalendarSpec(days_off=("24.12",))
    with pytest.raises(ValueError, match=r"did you mean '2026-12-24'\?"):
        CalendarSpec(days_off=("24.12.2026",))


def test_a_holiday_worked_by_name_is_worked_in_the_years_it_is_observed_or_estimated() -> None:
    """The `holidays` package writes 'Christmas Day (observed)' on the Friday before a Saturday
    Christmas and 'Eid al-Fitr (estimated)' in years it reckons: worked by name, those too."""
    us = CalendarSpec(holidays=("US",), holidays_worked=("Christmas Day",))
    observed = [dt.date(2027, 12, 24), dt.date(2026, 12, 25)]
    assert Clock(us, "America/New_York", "business").is_working_day(observed).all()
    ba = CalendarSpec(holidays=("BA",), holidays_worked=("Eid al-Fitr",))
    eid = Clock(ba, SARAJEVO, "business").holidays_between("2027-03-01", "2027-03-31")
    assert not [name for _, name in eid if "Eid" in name]
    with pytest.raises(ValueError, match=r"\['12-24'\] listed as days off too"):
        CalendarSpec(holidays=("US",), days_off=("12-24",), holidays_worked=("12-24",))


def test_a_holiday_worked_is_told_where_it_is_when_it_is_not_found() -> None:
    """A Munich desk wrote 'Whit Monday' and was asked "did you mean 'Easter Monday'?", and
    'Assumption Day' was "not a holiday of DE-BY": it is one, of the catholic category."""
    bavaria = {"holidays": ("DE-BY",)}
    said = {}
    for worked in ("Whit Monday", "Assumption Day", "2026-05-26"):
        with pytest.raises(ValueError) as error:
            CalendarSpec(**bavaria, holidays_worked=(worked,))
        said[worked] = str(error.value)
    assert "Pentecost Monday" in said["Whit Monday"] and "Easter Monday?" not in said["Whit Monday"]
    assert "it is a 'catholic' one (holiday_categories)" in said["Assumption Day"]
    assert "'2026-05-26' is not a holiday of DE-BY" in said["2026-05-26"]
    # In the language the customer hears it in, too; and the package's own name is what works.
    german = CalendarSpec(**bavaria, holidays_worked=("Pfingstmontag",))
    assert Clock(german, BERLIN, "business").is_working_day([dt.date(2026, 5, 25)])[0]
    with pytest.raises(ValueError, match="'public' is missing"):
        CalendarSpec(**bavaria, holiday_categories=("catholic",))
