"""Quotes: ordered, never in the past, rounded only later, one row per item."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from eta.data import START
from eta.quote import QUOTE_COLUMNS, prepare_items, quote_items


@settings(max_examples=40, deadline=None)
@given(
    confidence=st.floats(0.55, 0.99),
    hours_later=st.floats(0, 2_000),
    first=st.integers(0, 7_900),
)
def test_earliest_likely_follow_up_promise_are_ordered_and_in_the_future(
    tickets_model, tickets_sim, confidence, hours_later, first
) -> None:
    raw = tickets_sim.history.iloc[first : first + 5]
    items, errors = prepare_items(raw, tickets_model.spec)
    now = items[START].max() + pd.Timedelta(hours=hours_later)
    quotes = quote_items(tickets_model, items, confidence=confidence, now=now)
    assert (errors == "").all()
    assert (quotes["earliest_at"] <= quotes["likely_at"]).all()
    assert (quotes["likely_at"] <= quotes["follow_up_at"]).all()
    assert (quotes["follow_up_at"] <= quotes["promise_at"]).all()
    assert (quotes["promise_at"] >= now).all()


def test_promise_is_never_earlier_than_the_calibrated_quantile(tickets_model, tickets_sim) -> None:
    raw = tickets_sim.history.head(300)
    items, _ = prepare_items(raw, tickets_model.spec)
    quotes = quote_items(tickets_model, items)
    clock = tickets_model.clock_
    exact = clock.add_hours(clock.effective_start(items[START]), quotes["promise_hours"])
    assert (pd.DatetimeIndex(quotes["promise_at"]) >= exact).all()
    assert (pd.DatetimeIndex(quotes["promise_at"]) - exact < pd.Timedelta(minutes=1)).all()


def test_a_longer_wait_never_brings_the_promise_forward(tickets_model, tickets_sim) -> None:
    raw = tickets_sim.history.iloc[[100]]
    items, _ = prepare_items(raw, tickets_model.spec)
    start = items[START].iloc[0]
    promises = [
        quote_items(tickets_model, items, now=start + pd.Timedelta(hours=h))["promise_at"].iloc[0]
        for h in (0, 24, 72, 24 * 7, 24 * 30, 24 * 90)
    ]
    assert all(np.diff(pd.DatetimeIndex(promises).asi8) >= 0)


def test_bad_rows_are_answered_in_place(tickets_model, tickets_sim) -> None:
    raw = tickets_sim.history.head(4).copy()
    raw = raw.astype({"created_at": str, "queue_open": object})
    raw.loc[1, "created_at"] = "tomorrow-ish"
    raw.loc[2, "queue_open"] = "lots"
    items, errors = prepare_items(raw, tickets_model.spec)
    quotes = quote_items(tickets_model, items)
    assert list(quotes.columns[: len(QUOTE_COLUMNS)]) == list(QUOTE_COLUMNS)
    assert errors.tolist()[1:3] == [
        "column 'created_at': missing or unparseable timestamp",
        "column 'queue_open': not a number",
    ]
    assert quotes["promise_at"].isna().tolist() == [False, True, True, False]


def test_an_overdue_item_says_so_before_anything_else(tickets_model, tickets_sim) -> None:
    raw = tickets_sim.history.iloc[[200]]
    items, _ = prepare_items(raw, tickets_model.spec)
    quote = quote_items(tickets_model, items, now=items[START].iloc[0] + pd.Timedelta(days=120))
    assert "overdue" in quote["risk_codes"].iloc[0].split(",")
    message = quote["customer_message"].iloc[0]
    assert message.split(". ")[1].startswith("This is taking longer than we promised")
