"""Familiarity: items with values history rarely saw get the spread their calibration shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eta.data import START, load_history, seen_at
from eta.familiarity import BANDS, MIN_BAND_ITEMS, PRIOR_ITEMS, Familiarity
from eta.model import EtaModel
from eta.spec import DatasetSpec


def bands_of(n_per_value: dict[int, int]) -> np.ndarray:
    """Training codes with ``n`` items of each code."""
    return np.repeat(list(n_per_value), list(n_per_value.values()))


def test_an_item_is_as_familiar_as_its_least_seen_value() -> None:
    training = {"a": bands_of({0: 500, 1: 40, 2: 5}), "b": bands_of({0: 20, 1: 525})}
    familiarity = Familiarity.fit(
        training, {"a": 4, "b": 3}, {"a": np.zeros(0), "b": np.zeros(0)}, *[np.zeros(0)] * 2, 0.9
    )
    codes = {"a": np.array([0, 0, 1, 2, 3]), "b": np.array([1, 0, 1, 1, 1])}
    # The last code of a column is a value never seen, which the trees learn from blanked
    # copies of training items: not rare.
    assert familiarity.least_seen(codes).tolist() == [500, 20, 40, 5, 525]
    assert familiarity.band(codes).tolist() == [3, 0, 1, 0, 3]


def calibration(scale_by_band: dict[int, float], n: int, seed: int = 0):
    """Codes of one column with a value per band, and scores scattered ``scale`` wide."""
    rng = np.random.default_rng(seed)
    seen = {0: 10, 1: 50, 2: 200, 3: 1000}  # training items of the value in each band
    training = {"c": bands_of(seen)}
    bands = np.repeat(list(scale_by_band), n)
    scores = rng.normal(size=len(bands)) * np.array([scale_by_band[b] for b in bands])
    return training, {"c": 5}, {"c": bands}, scores, np.ones(len(bands))


def test_a_band_whose_scores_scatter_wider_is_widened_by_as_much() -> None:
    familiarity = Familiarity.fit(*calibration({0: 1.5, 3: 1.0}, n=20_000), 0.9)
    assert familiarity.widening[3] == 1.0
    # Bands 1 and 2 have no items: they take the more familiar band's factor.
    assert familiarity.widening[1] == familiarity.widening[2] == 1.0
    shrunk = 20_000 / (20_000 + PRIOR_ITEMS)
    assert familiarity.widening[0] == pytest.approx(1.0 + shrunk * 0.5, abs=0.05)


def test_a_rarer_band_is_never_narrowed() -> None:
    familiarity = Familiarity.fit(*calibration({0: 0.6, 1: 1.4, 3: 1.0}, n=20_000), 0.9)
    assert familiarity.widening[1] == pytest.approx(1.4, abs=0.05)
    assert familiarity.widening[0] == familiarity.widening[1]


def test_a_thin_band_takes_the_more_familiar_bands_factor() -> None:
    n = int(MIN_BAND_ITEMS) - 1
    training, n_codes, codes, scores, weights = calibration({0: 3.0, 3: 1.0}, n=4000)
    keep = np.r_[np.flatnonzero(codes["c"] == 0)[:n], np.flatnonzero(codes["c"] == 3)]
    familiarity = Familiarity.fit(
        training, n_codes, {"c": codes["c"][keep]}, scores[keep], weights[keep], 0.9
    )
    assert familiarity.widening.tolist() == [1.0] * (len(BANDS) + 1)


def test_a_familiarity_saved_and_read_back_is_the_same() -> None:
    familiarity = Familiarity.fit(*calibration({0: 1.5, 3: 1.0}, n=500), 0.9)
    again = Familiarity.from_dict(familiarity.to_dict())
    codes = {"c": np.arange(5)}
    assert np.array_equal(again.factor(codes), familiarity.factor(codes))


@pytest.fixture(scope="module")
def rare_values_history():
    """Tickets of 200 products, most seen rarely, the rarely seen ones scattered more widely
    than the trees can tell (LightGBM bins rare values together)."""
    rng = np.random.default_rng(7)
    n, n_values = 20_000, 200
    start = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.uniform(0, 300, n)), "D"
    )
    weights = 1.0 / np.arange(1, n_values + 1) ** 1.3
    product = rng.choice(n_values, n, p=weights / weights.sum())
    counts = np.bincount(product, minlength=n_values)
    scatter = np.where(counts[product] < 100, 1.3, 0.6)
    hours = 10.0 * np.exp(scatter * rng.normal(size=n))
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "opened": start,
            "closed": start + pd.to_timedelta(hours, "h"),
            "product": [f"p{k}" for k in product],
        }
    )
    spec = DatasetSpec.from_dict(
        {
            "name": "rare",
            "kind": "resolution",
            "start": "opened",
            "end": "closed",
            "id": "id",
            "timezone": "UTC",
            "clock": "wall",
            "features": {"categorical": ["product"]},
        }
    )
    return load_history(frame, spec, as_of=pd.Timestamp("2025-11-01", tz="UTC"))


def test_items_with_rarely_seen_values_get_the_wider_promises_calibration_shows(
    rare_values_history,
) -> None:
    cut = pd.Timestamp("2025-09-01", tz="UTC")
    model = EtaModel(rare_values_history.spec).fit(seen_at(rare_values_history, cut))
    assert model.familiarity_.widening[0] > 1.2
    items = rare_values_history.frame[rare_values_history.frame[START] >= cut]
    likely, promise = model.quantiles(items, [0.5, 0.9], online=False).T
    seen = items["product"].astype(str).map(_training_counts(rare_values_history, cut))
    rare = seen.fillna(0).to_numpy() < 30
    padding = np.log(promise / likely)
    assert np.median(padding[rare]) > 1.5 * np.median(padding[~rare])


def _training_counts(history, cut: pd.Timestamp) -> pd.Series:
    return history.frame.loc[history.frame[START] < cut, "product"].astype(str).value_counts()
