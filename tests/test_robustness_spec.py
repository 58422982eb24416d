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
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_robustness import (
    WEEKDAYS,
    check_quotes,
    cli,
    make_history,
    refused,
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
    day = local.dt.normalize()
    if hours[1] < hours[0]:  # a night shift: its small hours belong to the day it opened on
        assert ((minutes >= hours[0] * 60) | (minutes <= hours[1] * 60)).all(), local
        day = day - pd.to_timedelta((minutes <= hours[1] * 60).astype(int), unit="D")
    else:
        assert minutes.between(hours[0] * 60, hours[1] * 60).all(), local
    assert day.dt.day_of_week.isin([SEVEN_DAYS.index(d) for d in days]).all(), local
    assert not day.dt.date.isin(off).any(), local


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
    "night-shift-holidays": (
        {"tz": "Europe/Berlin"},
        {
            "timezone": "Europe/Berlin",
            "clock": "business",
            "calendar": {"hours": ["22:00", "06:00"], "holidays": "DE"},
        },
    ),
    "short-saturday-late-sunday": (
        {},
        {
            "clock": "business",
            "calendar": {
                "days": SEVEN_DAYS,
                "hours": ["08:00", "18:00"],
                "hours_by_day": {"Sat": ["09:00", "13:00"], "Sun": ["14:00", "20:00"]},
            },
        },
    ),
    "night-shift-cutoff": (
        {"tz": "Europe/Berlin"},
        {
            "timezone": "Europe/Berlin",
            "clock": "business",
            "calendar": {"hours": ["22:00", "06:00"], "holidays": "DE", "cutoff": "04:00"},
        },
    ),
    "lunch-break": (
        {},
        {"clock": "business", "calendar": {"hours": ["08:00", "12:00", "13:00", "17:00"]}},
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
        hours = calendar.get("hours", ["00:00", "24:00"])
        opens, closes = int(hours[0][:2]), int(hours[-1][:2])
        for lunch, back in zip(hours[1:-1:2], hours[2::2], strict=True):  # never in a break
            said = promise.dt.strftime("%H:%M")
            assert not ((said > lunch) & (said < back)).any(), promise
        off = set()
        codes = calendar.get("holidays", [])
        for code in [codes] if isinstance(codes, str) else codes:
            country, _, subdiv = code.partition("-")
            off |= set(holidays.country_holidays(country, subdiv=subdiv or None, years=2025))
        if closes == 24:  # the close of a 24-hour day is the next midnight: said as 24:00
            promise = promise - pd.Timedelta(minutes=1)
        own = calendar.get("hours_by_day", {})
        usual = ~promise.dt.strftime("%a").isin(list(own))
        assert_inside_business_hours(promise[usual], days, (opens, closes), off)
        for day, hours in own.items():
            on_day = promise[promise.dt.strftime("%a") == day]
            assert len(on_day), day  # promises do fall on the days with hours of their own
            assert_inside_business_hours(on_day, [day], tuple(int(h[:2]) for h in hours), off)
    elif keys.get("kind") == "delivery":
        assert (promise.dt.strftime("%H:%M") == "23:59").all(), promise  # by the end of a date
    overnight = calendar.get("hours", ["00:00", "24:00"])[1] < calendar.get("hours", ["00:00"])[0]
    if calendar.get("cutoff") and not overnight:  # said of new items that start after it
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


# -- spec shapes -------------------------------------------------------------------------------

SPEC_SHAPES = {
    # history shape, spec keys (None: the key left empty in YAML, `segments:`)
    "two-segment-columns": (
        {"n": 2_000, "categorical": {"kind": 2, "team": 2}},
        {
            "features": {"categorical": ["kind", "team"], "numeric": ["load"]},
            "segments": ["kind", "team"],
        },
    ),
    "empty-yaml-lists": (
        {},
        {"segments": None, "features": {"categorical": ["kind"], "numeric": None}},
    ),
    "features-left-empty": (
        {"categorical": {}, "numeric": ()},
        {"features": None, "segments": None},
    ),
}


@pytest.mark.parametrize("case", sorted(SPEC_SHAPES))
def test_spec_shapes_train_quote_and_backtest(tmp_path: Path, case: str) -> None:
    shape, keys = SPEC_SHAPES[case]
    history = make_history(**{"n": 700, "seed": len(case), **shape})
    data = write(history, tmp_path / "history.csv", "offset")
    spec = write_spec(tmp_path / "spec.yaml", **keys)
    train_quote_backtest(tmp_path, history, spec, data, "2025-03-25")
    quotes = pd.read_csv(tmp_path / "backtest.csv")
    if keys["segments"] and "team" in keys["segments"]:  # kind / team, or its parent kind
        level, _, key = quotes["segment"].str.partition(":").T.to_numpy()
        kind = history.set_index("item_id").loc[quotes["id"], "kind"].to_numpy()
        assert (level != "0").any()
        assert all(
            k.split(" / ")[0] == v for k, v, n in zip(key, kind, level, strict=True) if n != "0"
        )


def test_without_an_id_column_quotes_come_one_per_row_in_order(tmp_path: Path) -> None:
    history = make_history(n=600, seed=11).drop(columns="item_id")
    data = write(history, tmp_path / "history.csv", "offset")
    spec = write_spec(tmp_path / "spec.yaml")
    spec.write_text(spec.read_text().replace("id: item_id\n", ""))
    result = cli("train", "--spec", spec, "--data", data, "--out", tmp_path / "model")
    assert result.exit_code == 0, result.output
    items = history.tail(30).drop(columns="closed").reset_index(drop=True)
    items["opened"] = items["opened"].dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    quotes = quote_file(tmp_path / "model", items, tmp_path / "items.csv")
    backwards = quote_file(tmp_path / "model", items[::-1], tmp_path / "backwards.csv")
    assert quotes["id"].tolist() == list(range(len(items)))  # the row number stands in
    check_quotes(quotes.copy(), pd.to_datetime(items["opened"], utc=True))
    same = ["promise_at", "likely_at", "risk_codes", "customer_message"]
    pd.testing.assert_frame_equal(quotes[same][::-1].reset_index(drop=True), backwards[same])


REFUSED_SPECS = {
    # spec keys, the key named, words of the reason
    "unknown-holiday-country": ({"calendar": {"holidays": "XX"}}, "calendar.holidays", "'XX'"),
    "unknown-subdivision": (
        {"calendar": {"holidays": ["DE-BY", "US-ZZ"]}},
        "calendar.holidays",
        "ZZ",
    ),
    "lower-case-country": ({"calendar": {"holidays": "us"}}, "calendar.holidays", "ISO code"),
    "unknown-top-level-key": ({"segment": ["kind"]}, "segment", "unknown key"),
    "unknown-calendar-key": ({"calendar": {"timezone": "UTC"}}, "calendar.timezone", "unknown key"),
    "hours-past-24": ({"calendar": {"hours": ["09:00", "25:00"]}}, "calendar.hours", "25:00"),
    "confidence-one-half": ({"confidence": 0.5}, "confidence", "greater than 0.5"),
    "confidence-one": ({"confidence": 1}, "confidence", "0.999"),
    "timezone-abbreviation": ({"timezone": "CEST"}, "timezone", "IANA"),
    "categorical-and-numeric": (
        {"features": {"categorical": ["kind", "load"], "numeric": ["load"]}, "segments": ["load"]},
        "features.numeric",
        "list a column once",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED_SPECS))
def test_specs_that_are_refused_name_the_key(tmp_path: Path, case: str) -> None:
    keys, key, reason = REFUSED_SPECS[case]
    data = write(make_history(n=300, seed=2), tmp_path / "history.csv", "offset")
    spec = write_spec(tmp_path / "spec.yaml", **keys)
    for command in (
        ["train", "--spec", spec, "--data", data, "--out", tmp_path / "model"],
        ["backtest", "--spec", spec, "--data", data, "--test-start", "2025-04-01"],
    ):
        output = refused(*command).output
        assert str(spec) in output and f"key '{key}'" in output and reason in output, output
    assert not (tmp_path / "model").exists()


# -- values at the edges -----------------------------------------------------------------------


def reshape(history: pd.DataFrame, case: str, seed: int) -> pd.DataFrame:
    """Durations and starts as odd exports have them (finishes still before the export)."""
    rng = np.random.default_rng(seed)
    history = history.copy()
    start, n = history["opened"], len(history)
    if case == "instant-and-one-second":  # auto-closed duplicates, bots answering at once
        pick = rng.choice(3, n, p=[0.3, 0.2, 0.5])
        finish = history["closed"].where(pick == 2, start + pd.to_timedelta(pick, unit="s"))
    elif case == "weeks-to-months-on-business-hours":
        finish = start + pd.to_timedelta(rng.uniform(7, 120, n), unit="D")
    else:  # a migration stamped 30% of the rows with one start time
        first = start.iloc[0] + pd.Timedelta(days=20)
        history["opened"] = start.where(rng.random(n) > 0.3, first)
        finish = history["opened"] + (history["closed"] - start)
    export = history["opened"].max()
    history["closed"] = finish.where(finish <= export)
    return history.sort_values("opened", kind="stable").reset_index(drop=True)


@pytest.mark.parametrize(
    "case",
    ["instant-and-one-second", "weeks-to-months-on-business-hours", "bulk-import-one-timestamp"],
)
def test_zero_length_months_long_and_identical_timestamps(tmp_path: Path, case: str) -> None:
    history = reshape(make_history(n=900, seed=len(case), tz=NEW_YORK), case, len(case))
    data = write(history, tmp_path / "history.csv", "offset")
    office = {"days": WEEKDAYS, "hours": ["09:00", "17:00"], "holidays": "US"}
    spec = write_spec(tmp_path / "spec.yaml", timezone=NEW_YORK, clock="business", calendar=office)
    train_quote_backtest(tmp_path, history, spec, data, "2025-03-25")
    quotes = pd.read_csv(tmp_path / "backtest.csv")
    assert (quotes["promise_hours"] >= quotes["likely_hours"]).all()
    assert (quotes["likely_hours"] > 0).all()
    if case == "weeks-to-months-on-business-hours":  # ~8 business hours a day
        assert quotes["likely_hours"].median() > 8 * 5


# -- quoting on a business clock: boundaries, DST, encodings, promise levels --------------------

OFFICE = {"days": WEEKDAYS, "hours": ["09:00", "17:00"], "holidays": "US-NY"}


@pytest.fixture(scope="module")
def office_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """New York office hours, trained from a CSV with a BOM, naive local times and categories
    with commas and quotes in them."""
    root = tmp_path_factory.mktemp("office-model")
    history = make_history(n=800, seed=21, tz=NEW_YORK)
    history["kind"] = history["kind"].map(
        {"kind-0": "Billing, refunds", "kind-1": 'The "other" one', "kind-2": "kind-2"}
    )
    data = write(history, root / "history.csv", "naive")
    data.write_text(data.read_text(encoding="utf-8"), encoding="utf-8-sig")
    spec = write_spec(root / "spec.yaml", timezone=NEW_YORK, clock="business", calendar=OFFICE)
    result = cli("train", "--spec", spec, "--data", data, "--out", root / "model")
    assert result.exit_code == 0, result.output
    assert "800 rows" in result.output  # nothing lost to the BOM or the quoting
    return root / "model"


def test_items_at_closing_time_weekends_holidays_and_in_dst_changes(
    office_model: Path, tmp_path: Path
) -> None:
    starts = {
        "friday-16:59:59": "2025-05-23 16:59:59",
        "friday-closing": "2025-05-23 17:00:00",
        "saturday": "2025-05-24 10:00:00",
        "memorial-day-opening": "2025-05-26 09:00:00",
        "tuesday-opening": "2025-05-27 09:00:00",
        "dst-gap-naive": "2025-03-09 02:30:00",
        "dst-gap-aware": "2025-03-09T03:00:00-04:00",
        "dst-overlap-naive": "2025-11-02 01:30:00",
        "dst-overlap-aware": "2025-11-02T01:30:00-04:00",
    }
    items = pd.DataFrame({"item_id": list(starts), "opened": list(starts.values())})
    items = items.assign(kind="Billing, refunds", load=3.0)
    bulk = items.iloc[[4] * 40].assign(item_id=[f"bulk-{i}" for i in range(40)])
    items = pd.concat([items, bulk], ignore_index=True)
    quotes = quote_file(office_model, items, tmp_path / "items.csv")
    assert quotes["id"].tolist() == items["item_id"].tolist()
    aware = [pd.Timestamp(v) for v in items["opened"]]
    aware = [
        t if t.tzinfo else t.tz_localize(NEW_YORK, nonexistent="shift_forward", ambiguous=True)
        for t in aware
    ]
    check_quotes(quotes, pd.Series([t.tz_convert("UTC") for t in aware]))
    quotes = quotes.set_index("id")
    local = {
        c: local_times(quotes[c], NEW_YORK).set_axis(quotes.index)
        for c in ("earliest_at", "promise_at")
    }
    next_opening = pd.Timestamp("2025-05-27 09:00", tz=NEW_YORK)
    closed = ["friday-closing", "saturday", "memorial-day-opening", "tuesday-opening"]
    assert (local["earliest_at"][closed] >= next_opening).all()  # the clock starts Tuesday
    off = set(holidays.country_holidays("US", subdiv="NY", years=2025))
    assert_inside_business_hours(local["promise_at"], WEEKDAYS, (9, 17), off)
    same = ["promise_at", "likely_at", "earliest_at", "follow_up_at", "customer_message"]
    # A naive time in the spring-forward gap is the end of the gap; in the repeated hour, the
    # first one (EDT).
    for change in ("dst-gap", "dst-overlap"):
        assert (quotes.loc[f"{change}-naive", same] == quotes.loc[f"{change}-aware", same]).all()
    bulk = quotes.loc[quotes.index.str.startswith("bulk-"), same]
    assert (bulk == quotes.loc["tuesday-opening", same]).all().all()


def test_the_same_items_in_any_encoding_get_the_same_quotes(
    office_model: Path, tmp_path: Path
) -> None:
    """CSV with a BOM and quoted commas, offsets differing row by row, Parquet timestamp[us, tz]
    and naive timestamp[ns] (local time): one set of quotes."""
    rng = np.random.default_rng(5)
    opened = pd.Series(pd.date_range("2025-04-14 07:00", periods=24, freq="97min", tz=NEW_YORK))
    items = pd.DataFrame({"item_id": [f"Q{i}" for i in range(24)], "opened": opened})
    items["kind"] = rng.choice(["Billing, refunds", 'The "other" one', "kind-2"], 24)
    items["load"] = rng.gamma(2.0, 2.0, 24)
    zones = rng.choice(["UTC", "Asia/Kolkata", "America/Los_Angeles", NEW_YORK], 24)
    mixed = [t.tz_convert(z).isoformat() for t, z in zip(opened, zones, strict=True)]
    variants = {
        "bom.csv": items.assign(opened=opened.dt.strftime("%Y-%m-%dT%H:%M:%S%z")),
        "mixed-offsets.csv": items.assign(opened=mixed),
        "us-tz.parquet": items.assign(
            opened=opened.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
        ),
        "ns-naive.parquet": items.assign(
            opened=opened.dt.tz_localize(None).astype("datetime64[ns]")
        ),
    }
    answers = []
    for name, frame in variants.items():
        path = tmp_path / name
        quotes = quote_file(office_model, frame, path)
        if name == "bom.csv":  # rewritten with a BOM and quoted again
            path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8-sig")
            quotes = quote_file(office_model, pd.read_csv(path, dtype=str), path)
        assert quotes["id"].tolist() == items["item_id"].tolist()
        answers.append(quotes.drop(columns=["error"]))
    types = pq.read_schema(tmp_path / "us-tz.parquet").field("opened").type
    assert types == pa.timestamp("us", tz="UTC")
    assert pq.read_schema(tmp_path / "ns-naive.parquet").field("opened").type == pa.timestamp("ns")
    check_quotes(answers[0].copy(), opened.dt.tz_convert("UTC"))
    for other in answers[1:]:
        pd.testing.assert_frame_equal(answers[0], other)


def test_promise_levels_from_the_spec_and_the_command_line(
    office_model: Path, tmp_path: Path
) -> None:
    items = make_history(n=40, seed=8, tz=NEW_YORK).drop(columns="closed")
    items["kind"] = "Billing, refunds"
    items["opened"] = items["opened"].dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    low, high = (
        quote_file(office_model, items, tmp_path / f"items-{c}.csv", "--confidence", c)
        for c in ("0.51", "0.99")
    )
    assert (low["confidence"] == 0.51).all() and (high["confidence"] == 0.99).all()
    assert (low["likely_at"] == high["likely_at"]).all()
    assert (high["promise_at"] >= low["promise_at"]).all()
    assert (high["promise_at"] > low["promise_at"]).mean() > 0.5
    for bad in ("0.5", "1", "nan"):
        out = refused("quote", "--model", office_model, "--data", tmp_path / "items-0.51.csv",
                      "--out", tmp_path / "q.csv", "--confidence", bad).output  # fmt: skip
        assert "confidence" in out and bad in out

    history = make_history(n=700, seed=9)
    data = write(history, tmp_path / "history.parquet", "aware")
    spec = write_spec(tmp_path / "spec.yaml", confidence=0.99)
    mean_promise = {}
    for given in ([], ["--confidence", "0.6"]):
        out = tmp_path / "backtest.csv"
        result = cli("backtest", "--spec", spec, "--data", data, "--test-start", "2025-03-25",
                     "--out", out, *given)  # fmt: skip
        assert result.exit_code == 0, result.output
        quotes = pd.read_csv(out)
        assert (quotes["confidence"] == (0.6 if given else 0.99)).all()
        mean_promise[bool(given)] = quotes["promise_hours"].mean()
    assert mean_promise[False] > mean_promise[True]


@pytest.mark.parametrize("clock, warned", [("business", True), ("wall", False)])
def test_training_says_when_the_calendar_does_not_match_the_data(
    tmp_path: Path, clock: str, warned: bool
) -> None:
    # The history's items run around the clock; on a Wednesday-only business calendar most of
    # them start and finish while it says everyone is off, and take no business time at all.
    history = make_history(n=700, seed=4)
    data = write(history, tmp_path / "history.csv", "offset")
    calendar = {"days": ["Wed"], "hours": ["09:00", "17:00"]}
    spec = write_spec(tmp_path / "spec.yaml", clock=clock, calendar=calendar)
    trained = cli("train", "--spec", spec, "--data", data, "--out", tmp_path / "model")
    assert trained.exit_code == 0, trained.output
    assert ("check the calendar" in trained.output) is warned, trained.output
