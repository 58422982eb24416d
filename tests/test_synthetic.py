"""Tests of the synthetic histories: determinism, honest censoring, clock-respecting finishes, and
the hidden effects (shift, drift, cut-off, bad month) that models are meant to learn."""

from __future__ import annotations

import datetime as dt

import holidays
import numpy as np
import pandas as pd
import pytest

from eta import synthetic
from eta.calendar import Clock
from eta.synthetic import SyntheticHistory

DATASETS = ("tickets", "deliveries")


@pytest.fixture(scope="module")
def plain() -> dict[str, SyntheticHistory]:
    return {name: synthetic.by_name(name, seed=7) for name in DATASETS}


@pytest.fixture(scope="module")
def looked() -> dict[str, SyntheticHistory]:
    return {
        name: synthetic.by_name(name, seed=7, open_fraction_at_random_age=0.3) for name in DATASETS
    }


def _holiday_days(code: str, years: list[int]) -> set[dt.date]:
    return set(holidays.country_holidays(code, years=years))


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("fraction", [0.0, 0.3])
def test_same_seed_gives_identical_frames(name: str, fraction: float) -> None:
    a = synthetic.by_name(name, n=3000, seed=11, open_fraction_at_random_age=fraction)
    b = synthetic.by_name(name, n=3000, seed=11, open_fraction_at_random_age=fraction)
    pd.testing.assert_frame_equal(a.history, b.history)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert a.as_of == b.as_of
    assert a.spec == b.spec


@pytest.mark.parametrize("name", DATASETS)
def test_different_seeds_differ(name: str) -> None:
    a = synthetic.by_name(name, n=3000, seed=1)
    b = synthetic.by_name(name, n=3000, seed=2)
    spec = a.spec
    assert not a.history[spec.start].equals(b.history[spec.start])
    assert not np.allclose(a.truth["true_hours"], b.truth["true_hours"])


def test_datasets_do_not_share_random_numbers(plain: dict[str, SyntheticHistory]) -> None:
    t = plain["tickets"].history["created_at"].dt.second.to_numpy()[:200]
    d = plain["deliveries"].history["ordered_at"].dt.second.to_numpy()[:200]
    assert (t != d).mean() > 0.9


@pytest.mark.parametrize("name", DATASETS)
def test_columns_types_and_spec(name: str, plain: dict[str, SyntheticHistory]) -> None:
    h = plain[name]
    spec = h.spec
    assert spec.name == name and spec.observed_until is None
    assert list(h.history.columns) == [spec.id, spec.start, spec.end, *spec.feature_columns]
    assert list(h.truth.columns) == [*h.history.columns, "true_end", "true_hours", "censored"]
    assert len(h.history) == len(h.truth) == 20_000
    for column in (spec.start, spec.end):
        assert str(h.history[column].dt.tz) == "UTC"
    assert str(h.truth["true_end"].dt.tz) == "UTC"
    assert h.history[spec.id].is_unique
    assert h.history[spec.start].is_monotonic_increasing
    assert h.as_of.tz is not None and h.as_of.utcoffset() == dt.timedelta(0)
    local_as_of = h.as_of.tz_convert(spec.timezone)
    assert local_as_of == pd.Timestamp("2026-01-01", tz=spec.timezone)
    assert (h.history[spec.start] < h.as_of).all()
    assert h.truth["true_end"].notna().all() and h.truth["true_hours"].notna().all()
    for column in spec.features.numeric:
        assert pd.api.types.is_numeric_dtype(h.history[column])
    for column in spec.features.categorical:
        assert h.history[column].notna().all() and h.history[column].nunique() >= 3


def test_category_levels(plain: dict[str, SyntheticHistory]) -> None:
    t, d = plain["tickets"].history, plain["deliveries"].history
    assert set(t["priority"]) == {"urgent", "high", "normal", "low"}
    assert {"billing", "technical", "account", "shipping", "other"} <= set(t["category"])
    assert set(t["channel"]) == {"email", "chat", "phone", "web"}
    assert set(d["service"]) == {"express", "standard", "economy"}
    assert 3 <= d["carrier"].nunique() <= 4
    assert 5 <= d["region"].nunique() <= 8
    assert (d["weight_kg"] > 0).all() and (d["distance_km"] > 0).all()


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("fraction", [0.0, 0.3])
def test_open_rows_are_exactly_those_unfinished_when_last_seen(
    name: str, fraction: float, plain: dict[str, SyntheticHistory], looked: dict
) -> None:
    h = (plain if fraction == 0 else looked)[name]
    spec, history, truth = h.spec, h.history, h.truth
    seen = history["observed_until"] if fraction else pd.Series(h.as_of, index=history.index)
    expected_open = truth["true_end"] > seen
    assert expected_open.any() and (~expected_open).any()
    np.testing.assert_array_equal(history[spec.end].isna(), expected_open)
    np.testing.assert_array_equal(truth["censored"], expected_open)
    closed = ~expected_open
    pd.testing.assert_series_equal(
        history.loc[closed, spec.end], truth.loc[closed, "true_end"], check_names=False
    )
    assert (history[spec.end].dropna() <= h.as_of).all()


@pytest.mark.parametrize("name", DATASETS)
def test_finishes_after_starts(name: str, looked: dict[str, SyntheticHistory]) -> None:
    h = looked[name]
    start = h.history[h.spec.start]
    assert (h.truth["true_end"] > start).all()
    ended = h.history[h.spec.end].notna()
    assert (h.history.loc[ended, h.spec.end] >= start[ended]).all()
    assert (h.truth["true_hours"] > 0).all()


@pytest.mark.parametrize(
    ("name", "opens", "closes", "weekdays", "country"),
    [("tickets", 9, 17, 5, "BA"), ("deliveries", 8, 20, 6, "DE")],
)
def test_finishes_fall_inside_business_hours(
    name: str, opens: int, closes: int, weekdays: int, country: str, plain: dict
) -> None:
    h = plain[name]
    local = h.truth["true_end"].dt.tz_convert(h.spec.timezone)
    minutes = local.dt.hour * 60 + local.dt.minute + local.dt.second / 60
    assert (minutes >= opens * 60).all()
    assert (minutes <= closes * 60).all()
    assert (local.dt.day_of_week < weekdays).all()
    days = local.dt.date
    off = _holiday_days(country, sorted(set(local.dt.year)))
    assert not days.isin(off).any()
    # The generator's clock agrees, and public holidays really were skipped by some items.
    clock = Clock.from_spec(h.spec)
    assert clock.is_working_day(h.truth["true_end"]).all()
    starts = h.history[h.spec.start].dt.tz_convert(h.spec.timezone).dt.date
    spans_holiday = pd.Series(False, index=h.truth.index)
    for holiday in off:
        spans_holiday |= (starts < holiday) & (days > holiday)
    assert spans_holiday.sum() > 100


def test_ticket_arrivals_are_office_heavy_with_a_few_weekend_tickets(
    plain: dict[str, SyntheticHistory],
) -> None:
    local = plain["tickets"].history["created_at"].dt.tz_convert("Europe/Sarajevo")
    weekend = (local.dt.day_of_week >= 5).mean()
    assert 0.005 < weekend < 0.08
    office = local.dt.hour.between(9, 16).mean()
    assert office > 0.6


def test_delivery_orders_are_evening_heavy(plain: dict[str, SyntheticHistory]) -> None:
    local = plain["deliveries"].history["ordered_at"].dt.tz_convert("Europe/Berlin")
    hour_share = local.dt.hour.value_counts(normalize=True).sort_index()
    assert hour_share.loc[18:22].mean() > 1.5 * hour_share.loc[9:13].mean()
    assert hour_share.loc[0:5].sum() > 0.01


def test_queue_open_is_the_exact_backlog_at_creation() -> None:
    h = synthetic.tickets(n=600, seed=3, days=20)
    created = h.truth["created_at"].to_numpy()
    ends = h.truth["true_end"].to_numpy()
    earlier = np.arange(len(created))[:, None] > np.arange(len(created))[None, :]
    backlog = (earlier & (ends[None, :] > created[:, None])).sum(axis=1)
    np.testing.assert_array_equal(h.history["queue_open"].to_numpy(), backlog)


def test_busy_queue_means_slower_tickets(plain: dict[str, SyntheticHistory]) -> None:
    t = plain["tickets"].truth
    high = t["queue_open"] > t["queue_open"].quantile(0.8)
    low = t["queue_open"] < t["queue_open"].quantile(0.2)
    assert t.loc[high, "true_hours"].median() > 1.3 * t.loc[low, "true_hours"].median()
    # Not only the season: within a month, the busier moments are still slower.
    month = t["created_at"].dt.tz_convert("Europe/Sarajevo").dt.month
    queue = np.log1p(t["queue_open"])
    queue = queue - queue.groupby(month).transform("mean")
    hours = np.log(t["true_hours"])
    hours = hours - hours.groupby(month).transform("mean")
    busier = (
        hours[queue > queue.quantile(0.8)].median() - hours[queue < queue.quantile(0.2)].median()
    )
    assert np.exp(busier) > 1.2


def test_ticket_priorities_order_the_durations(plain: dict[str, SyntheticHistory]) -> None:
    medians = plain["tickets"].truth.groupby("priority")["true_hours"].median()
    assert medians["urgent"] < medians["high"] < medians["normal"] < medians["low"]


def test_heavy_tail(plain: dict[str, SyntheticHistory]) -> None:
    for name in DATASETS:
        hours = plain[name].truth["true_hours"]
        assert hours.quantile(0.99) > 3 * hours.quantile(0.5), name


def test_technical_shift_and_slow_drift(plain: dict[str, SyntheticHistory]) -> None:
    t = plain["tickets"].truth
    shift = t.attrs["events"]["technical_shift_at"]
    assert shift.tz_convert("Europe/Sarajevo").month == 9
    tech = t["category"] == "technical"
    after = t["created_at"] >= shift

    def median(mask: pd.Series) -> float:
        return float(t.loc[mask, "true_hours"].median())

    technical_ratio = median(tech & after) / median(tech & ~after)
    other_ratio = median(~tech & after) / median(~tech & ~after)
    assert technical_ratio > 1.15 * other_ratio
    # The drift hides behind busy and quiet spells: fit log hours on time, the queue and the
    # columns, for non-technical tickets before the peak season.
    month = t["created_at"].dt.tz_convert("Europe/Sarajevo").dt.month
    rows = t[~tech & (month <= 10)]
    design = pd.get_dummies(rows[["priority", "category", "channel"]], drop_first=True)
    design = design.astype(float).assign(
        years=(rows["created_at"] - rows["created_at"].min()).dt.total_seconds() / 86400 / 365,
        queue=np.log1p(rows["queue_open"]),
        one=1.0,
    )
    beta = np.linalg.lstsq(design.to_numpy(), np.log(rows["true_hours"].to_numpy()), rcond=None)[0]
    assert np.exp(beta[list(design.columns).index("years")]) > 1.08


def test_after_cutoff_deliveries_take_longer(plain: dict[str, SyntheticHistory]) -> None:
    h = plain["deliveries"]
    clock = Clock.from_spec(h.spec)
    ordered, end = h.truth["ordered_at"], h.truth["true_end"]
    working = clock.is_working_day(ordered)
    after = clock.after_cutoff(ordered)
    wall = (end - ordered).dt.total_seconds() / 3600
    assert wall[working & after].mean() > wall[working & ~after].mean() + 6
    for service in ("express", "standard"):  # economy's week-long spread blurs the half day
        same = working & (h.truth["service"] == service).to_numpy()
        assert wall[same & after].median() > wall[same & ~after].median() + 6, service
    # Nothing leaves before the next opening: finishes are after the effective start.
    assert (end.to_numpy() > clock.effective_start(ordered).to_numpy()).all()


def test_delivery_service_carrier_and_bad_month(plain: dict[str, SyntheticHistory]) -> None:
    t = plain["deliveries"].truth
    days = t.groupby("service")["true_hours"].median() / 12
    assert 0.6 < days["express"] < 1.5
    assert 2 < days["standard"] < 3.5
    assert 4 < days["economy"] < 7
    events = t.attrs["events"]
    bad = t["carrier"] == events["bad_month_carrier"]
    during = (t["ordered_at"] >= events["bad_month_from"]) & (
        t["ordered_at"] < events["bad_month_until"]
    )
    standard = t["service"] == "standard"

    def median(mask: pd.Series) -> float:
        return float(t.loc[mask & standard, "true_hours"].median())

    assert median(bad & during) / median(bad & ~during) > 1.25 * (
        median(~bad & during) / median(~bad & ~during)
    )
    month = t["ordered_at"].dt.tz_convert("Europe/Berlin").dt.month
    assert median(month == 12) > 1.15 * median(month.isin([9, 10]))


@pytest.mark.parametrize("name", DATASETS)
def test_random_age_looks_open_more_rows_and_the_slow_ones(
    name: str, plain: dict[str, SyntheticHistory], looked: dict[str, SyntheticHistory]
) -> None:
    a, b = plain[name], looked[name]
    assert a.spec.observed_until is None
    assert b.spec.observed_until == "observed_until"
    assert "observed_until" not in a.history.columns
    assert b.spec.required_columns == (*b.spec.required_columns[:2], "observed_until", b.spec.id,
                                       *b.spec.feature_columns)  # fmt: skip
    # The items are the same; only what the export shows differs.
    pd.testing.assert_series_equal(a.truth["true_end"], b.truth["true_end"])
    assert b.truth["censored"].mean() > a.truth["censored"].mean() + 0.05
    seen = b.history["observed_until"]
    assert (seen <= b.as_of).all() and (seen >= b.history[b.spec.start]).all()
    assert (seen < b.as_of).mean() > 0.2
    opened = b.truth["censored"] & ~a.truth["censored"]
    hours = b.truth["true_hours"]
    assert hours[opened].mean() > 1.15 * hours.mean()
    assert hours[b.truth["censored"]].mean() > hours[~b.truth["censored"]].mean()


def test_history_loads_cleanly_and_hours_match_truth(looked: dict[str, SyntheticHistory]) -> None:
    from eta.data import load_history

    for name, h in looked.items():
        loaded = load_history(h.history, h.spec, as_of=h.as_of)
        assert len(loaded.rejected) == 0, name
        assert len(loaded.frame) == len(h.history)
        finished = loaded.frame["finished"].to_numpy()
        np.testing.assert_array_equal(finished, ~h.truth["censored"].to_numpy())
        np.testing.assert_allclose(
            loaded.frame["hours"].to_numpy()[finished],
            h.truth["true_hours"].to_numpy()[finished],
            atol=1e-6,
        )


def test_short_window_and_custom_start() -> None:
    h = synthetic.deliveries(n=500, seed=5, start="2024-03-01", days=45)
    local = h.history["ordered_at"].dt.tz_convert("Europe/Berlin")
    assert local.min() >= pd.Timestamp("2024-03-01", tz="Europe/Berlin")
    assert h.as_of == pd.Timestamp("2024-04-15", tz="Europe/Berlin").tz_convert("UTC")
    assert (h.history["ordered_at"] < h.as_of).all()


def test_by_name_and_bad_arguments() -> None:
    h = synthetic.by_name("tickets", n=100, seed=0)
    pd.testing.assert_frame_equal(h.truth, synthetic.tickets(n=100, seed=0).truth)
    with pytest.raises(ValueError, match="unknown synthetic dataset"):
        synthetic.by_name("flights")
    with pytest.raises(ValueError, match="open_fraction"):
        synthetic.tickets(n=10, open_fraction_at_random_age=1.5)
    with pytest.raises(ValueError, match="n must be"):
        synthetic.deliveries(n=0)
