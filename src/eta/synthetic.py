"""Seeded synthetic histories whose true finish times are known, open items included.

Why this exists: a real export never tells you when its open tickets will be resolved or when its
in-transit parcels will arrive, so it cannot show whether a promise of "90% on time" really holds
for the items that were still open. These generators draw realistic histories *and* keep the true
finish instant of every row, so tests and benchmarks can check calibration against the truth,
including on the slow items that censoring hides. They are also the demo's default data.

The worlds are built to be hard in the ways real histories are hard, each effect acting on the
durations so that a model can (and must) learn it:

Tickets (spec ``tickets``, business clock 09-17 Mon-Fri, Bosnian holidays, Europe/Sarajevo)
    * arrivals are a non-homogeneous Poisson process: weekday office hours, Monday-heavy, a few
      tickets at night, on weekends and on holidays, busier in late November and December, with
      random busy and quiet days and a few incident days (3x the volume);
    * the resolution time is drawn in *business hours* (lognormal by priority, category and
      channel) and placed on the calendar with :meth:`eta.calendar.Clock.add_hours`, so nights,
      weekends and public holidays stretch it in wall time exactly as the spec clock says;
    * it is longer when the open backlog at creation (``queue_open``, exact) is high: hours scale
      with (backlog / its usual level) ** 0.5, and since the backlog is itself made of the slow
      tickets, the two are solved together by a few fixed-point passes;
    * some of it is invisible in the columns: a slow drift (+15% over the year), a peak season
      (from 20 November, 25% slower), a sudden shift (technical tickets 40% slower from 70% of
      the window on, mid-September for the default year) and escalations (a few % of tickets take
      3-10x longer).

Deliveries (spec ``deliveries``, business clock 08-20 Mon-Sat, German holidays, 14:00 cut-off)
    * orders arrive around the clock but mostly in the evening and on Sundays, with a Black Friday
      to Christmas rush (Black Friday to Cyber Monday busiest) and random busy days;
    * orders after the cut-off or on non-working days start from the next opening
      (:meth:`eta.calendar.Clock.effective_start`);
    * transit is drawn in delivery-day business hours: the service sets the base (express ~1,
      standard ~2-3, economy ~4-6 days of 12 hours), distance adds, heavier parcels are a little
      slower, regions differ (rural last miles), carriers differ in mean and in tail;
    * invisible in the columns: one carrier has a bad month (from 45% of the window, 30 days, 70%
      slower with a heavier tail), the Black Friday to Christmas peak is 30% slower, and ~1.5% of
      parcels are lost or held for a while (3-12x longer).

Censoring
    The export is taken at ``as_of`` = local midnight at the end of the window: items whose true
    finish is later are open (empty end column). With ``open_fraction_at_random_age > 0`` a share
    of rows was last looked at a random age (uniform up to three times its segment's median clock
    hours) and is open if it was still running then; those rows carry the look time in an
    ``observed_until`` column and the spec names it. That censoring is informative in the usual
    way: slow rows are the ones most often open.

Randomness comes from :class:`numpy.random.SeedSequence` children, one per stage, so the same seed
gives identical frames and turning the random-age looks on or off does not change the items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from eta.calendar import NAT, NS_PER_HOUR, NS_PER_SECOND, Clock
from eta.spec import DatasetSpec

__all__ = ["SyntheticHistory", "by_name", "deliveries", "load_spec", "tickets"]


LOOK_AGE_MULTIPLE = 3.0
"""Random-age looks happen uniformly between 0 and this many segment-median clock hours."""


@dataclass(frozen=True)
class SyntheticHistory:
    """A synthetic export together with the truth behind it.

    Attributes
    ----------
    spec : DatasetSpec
        The embedded spec for the dataset; ``observed_until`` is set when the history has that
        column (random-age looks were requested).
    history : pandas.DataFrame
        What an export taken at ``as_of`` would contain, sorted by start time: the spec's id, start
        and end columns (end NaT for open items), feature columns and, with random-age looks,
        ``observed_until``. Timestamps are ``datetime64[ns, UTC]``.
    truth : pandas.DataFrame
        The same rows in the same order with the same columns, plus ``true_end`` (the true finish
        instant, UTC, for every row, open ones included), ``true_hours`` (clock hours from the
        effective start to ``true_end`` on the spec clock, as :mod:`eta.data` measures them) and
        ``censored`` (True where the history shows the row as open). ``truth.attrs['events']``
        holds the instants of the hidden regime changes.
    as_of : pandas.Timestamp
        The export time (UTC).
    """

    spec: DatasetSpec
    history: pd.DataFrame
    truth: pd.DataFrame
    as_of: pd.Timestamp


def load_spec(name: str) -> DatasetSpec:
    """Load an embedded spec (``src/eta/specs/<name>.yaml``).

    Parameters
    ----------
    name : str
        ``"tickets"`` or ``"deliveries"``.

    Returns
    -------
    DatasetSpec
    """
    source = resources.files("eta").joinpath("specs", f"{name}.yaml")
    with resources.as_file(source) as path:
        return DatasetSpec.from_yaml(path)


# --------------------------------------------------------------------------------------------
# Tickets
# --------------------------------------------------------------------------------------------

_PRIORITIES = ("urgent", "high", "normal", "low")
_PRIORITY_P = (0.06, 0.20, 0.54, 0.20)
_PRIORITY_MEDIAN_H = (2.0, 5.0, 10.0, 20.0)
_PRIORITY_ESCALATION = (0.02, 0.03, 0.04, 0.04)

_CATEGORIES = ("billing", "technical", "account", "shipping", "returns", "other")
_CATEGORY_P = (0.22, 0.30, 0.17, 0.14, 0.10, 0.07)
_CATEGORY_MULT = (0.8, 1.5, 0.9, 1.1, 1.2, 1.0)
_CATEGORY_SIGMA = (0.65, 0.85, 0.70, 0.75, 0.70, 0.80)

_CHANNELS = ("email", "chat", "phone", "web")
_CHANNEL_MULT = (1.15, 0.70, 0.80, 1.00)
# Urgent requests come by phone more often; low-priority ones by email or web form.
_CHANNEL_P_BY_PRIORITY = (
    (0.20, 0.25, 0.45, 0.10),
    (0.35, 0.30, 0.20, 0.15),
    (0.40, 0.25, 0.12, 0.23),
    (0.45, 0.15, 0.05, 0.35),
)

_TICKET_HOUR_PROFILE = np.array(
    [0.04, 0.03, 0.02, 0.02, 0.02, 0.04, 0.10, 0.30, 0.70, 1.10, 1.30, 1.25,
     1.00, 1.10, 1.15, 1.05, 0.90, 0.55, 0.35, 0.28, 0.22, 0.15, 0.10, 0.06]
)  # fmt: skip
_TICKET_WEEKDAY_PROFILE = np.array([1.25, 1.05, 1.00, 1.00, 0.90, 0.10, 0.07])
_TICKET_HOLIDAY_FACTOR = 0.2
_TICKET_BUSY_DAYS = (0.45, 0.03, 3.0)  # day-to-day sigma, incident-day share, incident volume
_TICKET_PEAK_ARRIVALS = 1.5
_TICKET_PEAK_SLOWDOWN = 1.25
_TICKET_DRIFT_PER_YEAR = 1.15
_TICKET_SHIFT_AT = 0.7
_TICKET_SHIFT_FACTOR = 1.4
_TICKET_QUEUE_ELASTICITY = 0.5


def tickets(
    n: int = 20_000,
    *,
    seed: int = 0,
    start: str = "2025-01-01",
    days: int = 365,
    open_fraction_at_random_age: float = 0.0,
) -> SyntheticHistory:
    """Support tickets with resolution times on the support team's business clock.

    Parameters
    ----------
    n : int
        Number of tickets created in the window.
    seed : int
        Seed; the same arguments always give identical frames.
    start : str
        First local day of the window (Europe/Sarajevo), ISO date.
    days : int
        Length of the window in days; the export is taken at its end (``as_of``).
    open_fraction_at_random_age : float
        Share of rows last looked at a random age (see the module docstring); 0 disables it.

    Returns
    -------
    SyntheticHistory
        Columns ``ticket_id, created_at, resolved_at, priority, category, channel, queue_open``
        (plus ``observed_until`` with random-age looks).
    """
    spec = load_spec("tickets")
    _check_args(n, days, open_fraction_at_random_age)
    clock = Clock.from_spec(spec)
    arrivals_ss, features_ss, durations_ss, looks_ss = _streams(seed, "tickets")
    window = _Window(start, days, spec.timezone)

    created = _arrivals(
        np.random.default_rng(arrivals_ss), n, window, _ticket_intensity(spec), _TICKET_BUSY_DAYS
    )
    rng = np.random.default_rng(features_ss)
    priority = _draw(rng, _PRIORITY_P, n)
    category = _draw(rng, _CATEGORY_P, n)
    channel = _draw_conditional(rng, np.array(_CHANNEL_P_BY_PRIORITY), priority)

    local = pd.DatetimeIndex(_to_datetime(created)).tz_convert(spec.timezone)
    age_years = (created - window.start_ns) / (NS_PER_HOUR * 24 * 365.25)
    shift_ns = window.at(_TICKET_SHIFT_AT)
    peak = _ticket_peak(local)
    log_median = (
        np.log(np.take(_PRIORITY_MEDIAN_H, priority))
        + np.log(np.take(_CATEGORY_MULT, category))
        + np.log(np.take(_CHANNEL_MULT, channel))
        + age_years * np.log(_TICKET_DRIFT_PER_YEAR)
        + peak * np.log(_TICKET_PEAK_SLOWDOWN)
        + ((category == _CATEGORIES.index("technical")) & (created >= shift_ns))
        * np.log(_TICKET_SHIFT_FACTOR)
    )
    rng = np.random.default_rng(durations_ss)
    noise = rng.standard_normal(n) * np.take(_CATEGORY_SIGMA, category)
    escalation_p = np.take(_PRIORITY_ESCALATION, priority) * np.where(
        category == _CATEGORIES.index("technical"), 1.5, 1.0
    )
    escalated = rng.random(n) < escalation_p
    log_escalation = np.where(escalated, rng.uniform(np.log(3.0), np.log(10.0), n), 0.0)
    base_hours = np.exp(log_median + noise + log_escalation)

    # The backlog slows work down and is itself made of slow work: iterate to a fixed point on
    # the clock-hour axis, then count the exact backlog from the final instants.
    effective = clock.effective_start(_to_datetime(created))
    origin = _to_datetime(np.array([window.start_ns]))
    position = clock.hours_between(origin.repeat(n), effective)
    hours = base_hours
    for _ in range(4):
        queue = _open_backlog(position, position + hours)
        relative = (queue + 1.0) / (np.median(queue) + 1.0)
        hours = base_hours * np.clip(relative, 0.3, 4.0) ** _TICKET_QUEUE_ELASTICITY
    hours = np.maximum(hours, 0.05)
    true_end = _floor_seconds(_as_ns(clock.add_hours(effective, hours)))
    true_end = np.maximum(true_end, created)
    queue_open = _open_backlog(created, true_end)

    columns = {
        spec.id: _ids("T", n),
        spec.start: created,
        spec.end: true_end,
        "priority": np.take(np.array(_PRIORITIES, dtype=object), priority),
        "category": np.take(np.array(_CATEGORIES, dtype=object), category),
        "channel": np.take(np.array(_CHANNELS, dtype=object), channel),
        "queue_open": queue_open.astype(np.int64),
    }
    events = {"technical_shift_at": _to_timestamp(shift_ns)}
    return _censor(spec, clock, columns, window, open_fraction_at_random_age, looks_ss, events)


def _ticket_intensity(spec: DatasetSpec) -> Callable[[pd.DatetimeIndex], np.ndarray]:
    holiday = _holiday_checker(spec)

    def intensity(local: pd.DatetimeIndex) -> np.ndarray:
        rate = _TICKET_HOUR_PROFILE[local.hour] * _TICKET_WEEKDAY_PROFILE[local.day_of_week]
        rate = rate * np.where(holiday(local), _TICKET_HOLIDAY_FACTOR, 1.0)
        return rate * np.where(_ticket_peak(local), _TICKET_PEAK_ARRIVALS, 1.0)

    return intensity


def _ticket_peak(local: pd.DatetimeIndex) -> np.ndarray:
    """Late November and December: the support peak season."""
    month, day = np.asarray(local.month), np.asarray(local.day)
    return (month == 12) | ((month == 11) & (day >= 20))


# --------------------------------------------------------------------------------------------
# Deliveries
# --------------------------------------------------------------------------------------------

_SERVICES = ("express", "standard", "economy")
_SERVICE_P = (0.15, 0.60, 0.25)
_SERVICE_BASE_H = (9.0, 26.0, 56.0)  # business hours of 12-hour delivery days
_SERVICE_KM_PER_HOUR = (160.0, 80.0, 60.0)  # every this many km add one business hour
_SERVICE_SIGMA = (0.20, 0.28, 0.30)

_CARRIERS = ("Blitzpaket", "NordCargo", "ParcelLine", "Rheinpost")
_CARRIER_P = (0.30, 0.30, 0.25, 0.15)
_CARRIER_MULT = (0.95, 1.00, 1.08, 1.03)
_CARRIER_SIGMA = (0.10, 0.15, 0.30, 0.20)
_CARRIER_DELAY_P = (0.008, 0.012, 0.025, 0.015)
_BAD_CARRIER = "ParcelLine"
_BAD_MONTH_AT = 0.45
_BAD_MONTH_DAYS = 30
_BAD_MONTH_FACTOR = 1.7
_BAD_MONTH_EXTRA_SIGMA = 0.25

_REGIONS = ("Nord", "Ost", "Sued", "West", "Mitte", "Berlin", "Bayern")
_REGION_P = (0.13, 0.12, 0.15, 0.22, 0.14, 0.10, 0.14)
_REGION_KM = (380.0, 420.0, 330.0, 260.0, 120.0, 400.0, 470.0)  # from the hub near Kassel
_REGION_MULT = (1.05, 1.15, 1.00, 0.95, 0.95, 0.90, 1.05)  # rural last miles, city density

_DELIVERY_HOUR_PROFILE = np.array(
    [0.35, 0.20, 0.12, 0.08, 0.08, 0.12, 0.25, 0.45, 0.60, 0.70, 0.75, 0.80,
     0.90, 0.85, 0.80, 0.80, 0.85, 0.95, 1.20, 1.50, 1.75, 1.80, 1.40, 0.80]
)  # fmt: skip
_DELIVERY_WEEKDAY_PROFILE = np.array([1.05, 1.00, 0.95, 0.95, 0.90, 0.85, 1.20])
_DELIVERY_PEAK_ARRIVALS = 1.8
_DELIVERY_BUSY_DAYS = (0.2, 0.02, 1.8)  # day-to-day sigma, campaign-day share, campaign volume
_DELIVERY_RUSH_DAYS_ARRIVALS = 3.0  # Black Friday weekend to Cyber Monday
_DELIVERY_PEAK_SLOWDOWN = 1.3
_DELIVERY_PEAK_EXTRA_SIGMA = 0.10


def deliveries(
    n: int = 20_000,
    *,
    seed: int = 0,
    start: str = "2025-01-01",
    days: int = 365,
    open_fraction_at_random_age: float = 0.0,
) -> SyntheticHistory:
    """Parcel deliveries on the carriers' delivery-day business clock with a 14:00 cut-off.

    Parameters
    ----------
    n : int
        Number of orders placed in the window.
    seed : int
        Seed; the same arguments always give identical frames.
    start : str
        First local day of the window (Europe/Berlin), ISO date.
    days : int
        Length of the window in days; the export is taken at its end (``as_of``).
    open_fraction_at_random_age : float
        Share of rows last looked at a random age (see the module docstring); 0 disables it.

    Returns
    -------
    SyntheticHistory
        Columns ``order_id, ordered_at, delivered_at, service, carrier, region, weight_kg,
        distance_km`` (plus ``observed_until`` with random-age looks).
    """
    spec = load_spec("deliveries")
    _check_args(n, days, open_fraction_at_random_age)
    clock = Clock.from_spec(spec)
    arrivals_ss, features_ss, durations_ss, looks_ss = _streams(seed, "deliveries")
    window = _Window(start, days, spec.timezone)

    ordered = _arrivals(
        np.random.default_rng(arrivals_ss),
        n,
        window,
        _delivery_intensity(spec),
        _DELIVERY_BUSY_DAYS,
    )
    rng = np.random.default_rng(features_ss)
    service = _draw(rng, _SERVICE_P, n)
    carrier = _draw(rng, _CARRIER_P, n)
    region = _draw(rng, _REGION_P, n)
    distance_km = np.round(
        np.take(_REGION_KM, region) * rng.lognormal(0.0, 0.35, n) + rng.uniform(2.0, 25.0, n), 1
    )
    weight_kg = np.round(np.clip(rng.lognormal(np.log(1.8), 0.9, n), 0.1, 31.5), 2)

    local = pd.DatetimeIndex(_to_datetime(ordered)).tz_convert(spec.timezone)
    peak = _delivery_peak(local)
    bad = _CARRIERS.index(_BAD_CARRIER)
    bad_from, bad_until = window.at(_BAD_MONTH_AT), window.at(_BAD_MONTH_AT, _BAD_MONTH_DAYS)
    in_bad_month = (carrier == bad) & (ordered >= bad_from) & (ordered < bad_until)

    rng = np.random.default_rng(durations_ss)
    sigma = np.sqrt(
        np.take(_SERVICE_SIGMA, service) ** 2
        + np.take(_CARRIER_SIGMA, carrier) ** 2
        + peak * _DELIVERY_PEAK_EXTRA_SIGMA**2
        + in_bad_month * _BAD_MONTH_EXTRA_SIGMA**2
    )
    median_hours = (
        np.take(_SERVICE_BASE_H, service) + distance_km / np.take(_SERVICE_KM_PER_HOUR, service)
    ) * (
        np.take(_CARRIER_MULT, carrier)
        * np.take(_REGION_MULT, region)
        * (1.0 + 0.01 * np.maximum(weight_kg - 5.0, 0.0))
        * np.where(peak, _DELIVERY_PEAK_SLOWDOWN, 1.0)
        * np.where(in_bad_month, _BAD_MONTH_FACTOR, 1.0)
    )
    noise = rng.standard_normal(n) * sigma
    delay_p = np.take(_CARRIER_DELAY_P, carrier) * np.where(peak, 1.5, 1.0)
    delayed = rng.random(n) < delay_p
    log_delay = np.where(delayed, rng.uniform(np.log(3.0), np.log(12.0), n), 0.0)
    hours = np.maximum(median_hours * np.exp(noise + log_delay), 2.0)

    effective = clock.effective_start(_to_datetime(ordered))
    true_end = _floor_seconds(_as_ns(clock.add_hours(effective, hours)))
    true_end = np.maximum(true_end, ordered)

    columns = {
        spec.id: _ids("D", n),
        spec.start: ordered,
        spec.end: true_end,
        "service": np.take(np.array(_SERVICES, dtype=object), service),
        "carrier": np.take(np.array(_CARRIERS, dtype=object), carrier),
        "region": np.take(np.array(_REGIONS, dtype=object), region),
        "weight_kg": weight_kg,
        "distance_km": distance_km,
    }
    events = {
        "bad_month_carrier": _BAD_CARRIER,
        "bad_month_from": _to_timestamp(bad_from),
        "bad_month_until": _to_timestamp(bad_until),
    }
    return _censor(spec, clock, columns, window, open_fraction_at_random_age, looks_ss, events)


def _delivery_intensity(spec: DatasetSpec) -> Callable[[pd.DatetimeIndex], np.ndarray]:
    def intensity(local: pd.DatetimeIndex) -> np.ndarray:
        rate = _DELIVERY_HOUR_PROFILE[local.hour] * _DELIVERY_WEEKDAY_PROFILE[local.day_of_week]
        rate = rate * np.where(_delivery_peak(local), _DELIVERY_PEAK_ARRIVALS, 1.0)
        return rate * np.where(_rush_days(local), _DELIVERY_RUSH_DAYS_ARRIVALS, 1.0)

    return intensity


def _black_friday(years: np.ndarray) -> np.ndarray:
    """Black Friday (the day after the fourth Thursday of November) of each year, datetime64[D]."""
    nov1 = (years - 1970).astype("datetime64[Y]").astype("datetime64[M]") + np.timedelta64(10, "M")
    nov1 = nov1.astype("datetime64[D]")
    weekday = (nov1.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    first_thursday = nov1 + ((3 - weekday) % 7).astype("timedelta64[D]")
    return first_thursday + np.timedelta64(22, "D")


def _local_days(local: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(local.tz_localize(None).values.astype("datetime64[D]"))


def _delivery_peak(local: pd.DatetimeIndex) -> np.ndarray:
    """Black Friday to Christmas Eve: the parcel peak."""
    day = _local_days(local)
    black_friday = _black_friday(np.asarray(local.year))
    years = black_friday.astype("datetime64[Y]").astype("datetime64[M]")
    christmas_eve = (years + np.timedelta64(11, "M")).astype("datetime64[D]") + np.timedelta64(
        23, "D"
    )
    return (day >= black_friday) & (day <= christmas_eve)


def _rush_days(local: pd.DatetimeIndex) -> np.ndarray:
    """Black Friday to Cyber Monday."""
    offset = (_local_days(local) - _black_friday(np.asarray(local.year))).astype(np.int64)
    return (offset >= 0) & (offset <= 3)


# --------------------------------------------------------------------------------------------
# Shared machinery
# --------------------------------------------------------------------------------------------


def by_name(name: str, **kwargs: Any) -> SyntheticHistory:
    """Generate a synthetic history by dataset name.

    Parameters
    ----------
    name : str
        ``"tickets"`` or ``"deliveries"``.
    **kwargs
        Passed to :func:`tickets` or :func:`deliveries`.

    Returns
    -------
    SyntheticHistory
    """
    generators: dict[str, Callable[..., SyntheticHistory]] = {
        "tickets": tickets,
        "deliveries": deliveries,
    }
    if name not in generators:
        raise ValueError(f"unknown synthetic dataset {name!r}; choose one of {sorted(generators)}")
    return generators[name](**kwargs)


class _Window:
    """The local-time window [start, start + days) and its instants in UTC nanoseconds."""

    def __init__(self, start: str, days: int, timezone: str) -> None:
        first = pd.Timestamp(start)
        if first.tzinfo is not None:
            raise ValueError(f"start {start!r} must be a local date such as '2025-01-01'")
        self.timezone = timezone
        self.first_local = first.normalize()
        self.days = days
        self.start_ns = self._utc_ns(self.first_local)
        self.end_ns = self._utc_ns(self.first_local + pd.Timedelta(days=days))

    def _utc_ns(self, local: pd.Timestamp) -> int:
        ts = local.tz_localize(self.timezone, nonexistent="shift_forward", ambiguous=True)
        return int(ts.tz_convert("UTC").as_unit("ns").value)

    def at(self, fraction: float, plus_days: int = 0) -> int:
        """The UTC instant of local midnight ``fraction`` of the way in, plus some days."""
        day = round(fraction * self.days) + plus_days
        return self._utc_ns(self.first_local + pd.Timedelta(days=day))


def _streams(seed: int, dataset: str) -> list[np.random.SeedSequence]:
    """Independent seed sequences for arrivals, features, durations and looks.

    The dataset name is mixed in so that tickets and deliveries with the same seed do not share
    random numbers.
    """
    salt = int.from_bytes(dataset.encode("utf-8")[:8], "little")
    return np.random.SeedSequence([seed, salt]).spawn(4)


def _check_args(n: int, days: int, open_fraction: float) -> None:
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if not 0.0 <= open_fraction <= 1.0:
        raise ValueError(f"open_fraction_at_random_age must be in [0, 1], got {open_fraction}")


def _holiday_checker(spec: DatasetSpec) -> Callable[[pd.DatetimeIndex], np.ndarray]:
    """Whether each local instant falls on a holiday or day off of the spec's calendar (as its
    clock closes them, whatever the weekday)."""
    clock = Clock.from_spec(spec)

    def check(local: pd.DatetimeIndex) -> np.ndarray:
        if not len(local):
            return np.zeros(0, dtype=bool)
        first, last = local.min().date(), local.max().date()
        dates = [d for d, _ in clock.holidays_between(first, last)]
        dates += clock.days_off_between(first, last)
        if not dates:
            return np.zeros(len(local), dtype=bool)
        holiday_days = np.array(sorted(dates), dtype="datetime64[D]")
        return np.isin(_local_days(local), holiday_days)

    return check


def _arrivals(
    rng: np.random.Generator,
    n: int,
    window: _Window,
    intensity: Callable[[pd.DatetimeIndex], np.ndarray],
    busy_days: tuple[float, float, float],
) -> np.ndarray:
    """n sorted arrival instants (UTC ns, whole seconds) from a piecewise-constant intensity.

    Given their number, the points of a non-homogeneous Poisson process are independent draws
    from the normalised intensity; hourly UTC bins keep daylight-saving changes exact. Each local
    day's intensity is further multiplied by a random factor, ``busy_days = (sigma, spike_p,
    spike_factor)``: lognormal day-to-day variation and rare spike days (an outage, a campaign),
    so that busy and quiet days alternate within the same season.
    """
    grid = np.arange(window.start_ns, window.end_ns, NS_PER_HOUR, dtype=np.int64)
    local = pd.DatetimeIndex(_to_datetime(grid)).tz_convert(window.timezone)
    rate = np.asarray(intensity(local), dtype=float)
    day = (_local_days(local) - _local_days(local[:1])[0]).astype(np.int64)
    sigma, spike_p, spike_factor = busy_days
    n_days = int(day[-1]) + 1
    factor = rng.lognormal(-0.5 * sigma**2, sigma, n_days)
    factor = factor * np.where(rng.random(n_days) < spike_p, spike_factor, 1.0)
    rate = rate * factor[day]
    rate = rate * (np.minimum(grid + NS_PER_HOUR, window.end_ns) - grid) / NS_PER_HOUR
    bins = rng.choice(len(grid), size=n, p=rate / rate.sum())
    offsets = (rng.random(n) * NS_PER_HOUR).astype(np.int64)
    instants = np.minimum(grid[bins] + offsets, window.end_ns - 1)
    return np.sort(_floor_seconds(instants))


def _draw(rng: np.random.Generator, probabilities: tuple[float, ...], n: int) -> np.ndarray:
    """n category codes with the given probabilities."""
    cumulative = np.cumsum(probabilities)
    return np.searchsorted(cumulative / cumulative[-1], rng.random(n), side="right")


def _draw_conditional(rng: np.random.Generator, table: np.ndarray, given: np.ndarray) -> np.ndarray:
    """Codes drawn from the row ``table[given[i]]`` of a conditional probability table."""
    cumulative = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)[given]
    return np.minimum(
        (cumulative < rng.random(len(given))[:, None]).sum(axis=1), table.shape[1] - 1
    )


def _open_backlog(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For items sorted by start: how many earlier items are still open at each start.

    An earlier item j is open at start i when ends[j] > starts[i]; every end at or before starts[i]
    belongs to an earlier item, so the count is i minus the number of ends <= starts[i].
    """
    finished = np.searchsorted(np.sort(ends), starts, side="right")
    return np.maximum(np.arange(len(starts)) - finished, 0)


def _censor(
    spec: DatasetSpec,
    clock: Clock,
    columns: dict[str, np.ndarray],
    window: _Window,
    open_fraction: float,
    looks_ss: np.random.SeedSequence,
    events: dict[str, Any],
) -> SyntheticHistory:
    """Hide what the export at ``as_of`` (or an earlier random-age look) could not have seen."""
    start_ns = columns[spec.start]
    true_end_ns = columns[spec.end]
    n = len(start_ns)
    start = _to_datetime(start_ns)
    effective = clock.effective_start(start)
    true_hours = np.asarray(clock.hours_between(effective, _to_datetime(true_end_ns)), float)

    seen_ns = np.full(n, window.end_ns, dtype=np.int64)
    if open_fraction > 0:
        rng = np.random.default_rng(looks_ss)
        looked = rng.random(n) < open_fraction
        age = rng.random(n) * LOOK_AGE_MULTIPLE * _segment_median(columns, spec, true_hours)
        look_ns = _floor_seconds(_as_ns(clock.add_hours(effective, age)))
        look_ns = np.clip(look_ns, start_ns, window.end_ns)
        seen_ns = np.where(looked, look_ns, seen_ns)
    censored = true_end_ns > seen_ns

    history = pd.DataFrame(columns)
    history[spec.start] = start
    history[spec.end] = _to_datetime(np.where(censored, NAT, true_end_ns))
    if open_fraction > 0:
        history["observed_until"] = _to_datetime(seen_ns)
        spec = spec.model_copy(update={"observed_until": "observed_until"})
    truth = history.copy()
    truth["true_end"] = _to_datetime(true_end_ns)
    truth["true_hours"] = true_hours
    truth["censored"] = censored
    truth.attrs["events"] = events
    return SyntheticHistory(
        spec=spec, history=history, truth=truth, as_of=_to_timestamp(window.end_ns)
    )


def _segment_median(
    columns: dict[str, np.ndarray], spec: DatasetSpec, hours: np.ndarray
) -> np.ndarray:
    """Each row's segment median of ``hours`` (segments from the spec)."""
    if not spec.segments:
        return np.full(len(hours), np.median(hours))
    frame = pd.DataFrame({c: columns[c] for c in spec.segments})
    frame["hours"] = hours
    return frame.groupby(list(spec.segments), sort=False)["hours"].transform("median").to_numpy()


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(6, len(str(n)))
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def _to_datetime(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("datetime64[ns]")).tz_localize(
        "UTC"
    )


def _to_timestamp(ns: int) -> pd.Timestamp:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC")


def _as_ns(values: Any) -> np.ndarray:
    index = pd.DatetimeIndex(values)
    if index.tz is None:
        index = index.tz_localize("UTC")
    return index.tz_convert("UTC").as_unit("ns").asi8.copy()


def _floor_seconds(ns: np.ndarray) -> np.ndarray:
    return ns - ns % NS_PER_SECOND
