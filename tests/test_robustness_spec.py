"""Robustness, second sweep: spec and calendar shapes, value scales and file encodings.

Where ``test_robustness.py`` varies the *history* (zones, censoring, feature shapes), this file
varies what a data team writes in the *spec* (24-hour, seven-day, one-day-a-week and overnight
calendars, holiday subdivisions, odd zones, empty keys, two segment levels, promise levels) and
the *values and files* a real export holds (zero-length and months-long durations, bulk imports
with one timestamp, naive times in a DST gap, BOMs, quoted commas, Parquet timestamp units).
Whatever should work must train, quote and backtest with ordered, future promises that respect
the calendar; whatever should be refused must name the key or column, without a traceback.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import holidays
import pandas as pd
import pytest
from test_robustness import (
    WEEKDAYS,
    cli,
    make_history,
    train_quote_backtest,
    write,
    write_spec,
)

SEVEN_DAYS = [*WEEKDAYS, "Sat", "Sun"]
NEW_YORK = "America/New_York"


def local_times(instants: pd.Series, tz: str) -> pd.Series:
    return (
        pd.to_datetime(instants, utc=True, format="ISO8601")
        .dt.tz_convert(tz)
        .reset_index(drop=True)
    )


def assert_inside_business_hours(
    local: pd.Series, days: list[str], hours: tuple[int, int], off: set[dt.date] = frozenset()
) -> None:
    """Every local instant falls on a working, non-holiday day, inside the opening hours (the
    closing minute included: a promise 'by 17:00' is the end of the working day)."""
    minutes = local.dt.hour * 60 + local.dt.minute
    assert local.dt.day_of_week.isin([SEVEN_DAYS.index(d) for d in days]).all(), local
    assert minutes.between(hours[0] * 60, hours[1] * 60).all(), local
    assert not local.dt.date.isin(off).any(), local


def quote_file(model: Path, items: pd.DataFrame, path: Path, *args: str) -> pd.DataFrame:
    """Quote ``items`` (written to ``path``, CSV or Parquet) and return the quotes."""
    if path.suffix == ".parquet":
        items.to_parquet(path, index=False)
    else:
        items.to_csv(path, index=False)
    out = path.with_name(path.stem + "-quotes.parquet")
    result = cli("quote", "--model", model, "--data", path, "--out", out, *args)
    assert result.exit_code == 0, result.output
    quotes = pd.read_parquet(out)
    assert len(quotes) == len(items)
    assert (quotes["error"] == "").all(), quotes["error"].unique()
    return quotes


# -- calendars that must work -----------------------------------------------------------------

CALENDARS = {
    # history shape, spec keys; promises must fall inside the calendar's hours (business clock)
    # or say after the cut-off when they start after it (deliveries are promised by a date)
    "24-hour-weekdays-business": (
        {},
        {"clock": "business", "calendar": {"days": WEEKDAYS, "hours": ["00:00", "24:00"]}},
    ),
    "seven-days-berlin-dst": (
        {"tz": "Europe/Berlin"},
        {
            "timezone": "Europe/Berlin",
            "clock": "business",
            "calendar": {"days": SEVEN_DAYS, "hours": ["08:00", "20:00"]},
        },
    ),
    "one-working-day-a-week": (
        {},
        {"clock": "business", "calendar": {"days": ["Wed"], "hours": ["09:00", "17:00"]}},
    ),
    "holiday-subdivisions-two-countries": (
        {"tz": "Europe/Berlin"},
        {
            "timezone": "Europe/Berlin",
            "clock": "business",
            "calendar": {
                "days": WEEKDAYS,
                "hours": ["09:00", "17:00"],
                "holidays": ["DE-BY", "US-NY"],
            },
        },
    ),
    "etc-gmt-plus-5": (
        {"tz": "Etc/GMT+5"},
        {"timezone": "Etc/GMT+5", "clock": "business", "calendar": {"hours": ["09:00", "17:00"]}},
    ),
    "cutoff-on-a-wall-clock": (
        {},
        {"clock": "wall", "calendar": {"cutoff": "14:00", "holidays": "GB-SCT"}},
    ),
    "delivery-on-a-wall-clock": (
        {"tz": NEW_YORK},
        {
            "kind": "delivery",
            "timezone": NEW_YORK,
            "clock": "wall",
            "calendar": {"cutoff": "15:00", "holidays": "US"},
        },
    ),
}


@pytest.mark.parametrize("case", sorted(CALENDARS))
def test_calendar_shapes_train_quote_and_backtest(tmp_path: Path, case: str) -> None:
    shape, keys = CALENDARS[case]
    history = make_history(n=700, seed=len(case), **shape)
    data = write(history, tmp_path / "history.csv", "offset")
    spec = write_spec(tmp_path / "spec.yaml", **keys)
    train_quote_backtest(tmp_path, history, spec, data, "2025-03-25")
    both = [pd.read_parquet(tmp_path / "quotes.parquet"), pd.read_csv(tmp_path / "backtest.csv")]
    for quotes in both:
        quotes["promise_at"] = pd.to_datetime(quotes["promise_at"], utc=True, format="ISO8601")
    quotes = pd.concat(both, ignore_index=True)
    calendar, tz = keys.get("calendar", {}), keys.get("timezone", "UTC")
    promise = local_times(quotes["promise_at"], tz)
    if keys.get("clock") == "business":
        days = calendar.get("days", WEEKDAYS)
        opens, closes = (int(h[:2]) for h in calendar.get("hours", ["00:00", "24:00"]))
        off = set()
        codes = calendar.get("holidays", [])
        for code in [codes] if isinstance(codes, str) else codes:
            country, _, subdiv = code.partition("-")
            off |= set(holidays.country_holidays(country, subdiv=subdiv or None, years=2025))
        if closes == 24:  # the close of a 24-hour day is the next midnight: said as 24:00
            promise = promise - pd.Timedelta(minutes=1)
        assert_inside_business_hours(promise, days, (opens, closes), off)
    elif keys.get("kind") == "delivery":
        assert (promise.dt.strftime("%H:%M") == "23:59").all(), promise  # by the end of a date
    if calendar.get("cutoff"):  # said of new items (not re-quotes) that start after it
        quotes = quotes[quotes["elapsed_hours"].isna()]
        starts = history.set_index("item_id")["opened"].dt.tz_convert(tz)
        start = starts.loc[quotes["id"]]
        late = start.dt.strftime("%H:%M") >= calendar["cutoff"]
        said = quotes["risk_codes"].str.contains("after_cutoff").to_numpy()
        country, _, subdiv = calendar["holidays"].partition("-")
        off = holidays.country_holidays(country, subdiv=subdiv or None, years=2025)
        working = (start.dt.day_of_week < 5) & ~start.dt.date.isin(set(off))
        assert late.any() and (~late).any()
        assert (said == (late & working).to_numpy()).all()
