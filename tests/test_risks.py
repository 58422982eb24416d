"""Risk notes from what the model learned: busier than usual, peak season, recent misses, thin
history, drivers in the spec's words; what is usual survives save/load (and its absence too)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from eta import synthetic
from eta.calendar import Clock
from eta.data import FINISHED, HOURS, SEGMENT, START, load_history
from eta.features import Events, feature_frame
from eta.localization import LANGUAGES, language
from eta.model import EtaModel
from eta.online import ALL, OnlineCalibration
from eta.quote import prepare_items, quote_items
from eta.spec import CalendarSpec, DatasetSpec
from eta.usual import Usual


def notes_of(quote: pd.Series) -> dict[str, dict]:
    return {n["code"]: n for n in quote["risk_notes"]}


@pytest.fixture(scope="module")
def items(tickets_model, tickets_sim):
    prepared, _ = prepare_items(tickets_sim.history.iloc[4000:4200], tickets_model.spec)
    return prepared


def test_a_backlog_far_above_the_segments_usual_level_is_busier_than_usual(
    tickets_model, items
) -> None:
    features = tickets_model.features(items)
    quiet = quote_items(tickets_model, items, features=features)
    assert not quiet["risk_codes"].str.contains("busier_than_usual").all()
    median, p90 = tickets_model.usual_.level(items["segment"].astype(str).to_numpy(), "backlog")
    busy = features.copy()
    busy["backlog"] = np.maximum(p90, 2 * median) * 3 + 10
    loud = quote_items(tickets_model, items, features=busy)
    assert loud["risk_codes"].str.contains("busier_than_usual").all()
    note = notes_of(loud.iloc[0])["busier_than_usual"]
    assert note["customer_text"] == (
        "We have more requests than usual right now, so it may take longer."
    )
    assert note["agent_text"].startswith("Busier than usual: open items in this segment: ")


def test_busier_than_usual_is_judged_against_the_usual_load_at_that_hour() -> None:
    """A grocery's dinner rush: three times the day's backlog every evening. Judged against the
    whole day it was "busier than usual" on nearly every evening order; against the evening's
    usual it is said only of an evening busier than evenings are, or of such a load at 10:00."""
    rng = np.random.default_rng(4)
    n = 24 * 400
    start = pd.Timestamp("2026-01-05", tz="Europe/Madrid") + pd.to_timedelta(
        np.sort(rng.uniform(0, 400 * 24, n)), unit="h"
    )
    hour = np.asarray(start.hour)
    backlog = rng.poisson(np.where((hour >= 20) & (hour < 23), 30, 10)).astype(float)
    frame = pd.DataFrame({START: start.tz_convert("UTC"), SEGMENT: "all"})
    frame[HOURS], frame[FINISHED] = 1.0, True
    features = pd.DataFrame({"backlog": backlog})
    clock = Clock(CalendarSpec(), "Europe/Madrid", "wall")
    usual = Usual.fit(frame, features, clock)
    segments = np.array(["all", "all", "all"], dtype=object)
    median, p90 = usual.level(segments, "backlog", np.array([21, 10, 21]))
    assert median[0] == pytest.approx(30, abs=1) and median[1] == pytest.approx(10, abs=1)
    assert p90[0] > 30 > p90[1]  # the evening's usual, the morning's
    assert Usual.from_dict(json.loads(json.dumps(usual.to_dict()))).rhythm == usual.rhythm
    day = usual.level(segments, "backlog")  # without hours: the whole day's
    assert day[0][0] == pytest.approx(10, abs=1)
    # A quiet night (two usually open) spreads wide for its size: its own 90th percentile, not
    # the day's scaled by the median, says what is usual (one night item in eight was "busier").
    night = rng.poisson(2, 4_000).astype(float)
    start = start.append(pd.DatetimeIndex(start[:4_000].normalize() + pd.Timedelta(hours=3)))
    frame = pd.DataFrame({START: start.tz_convert("UTC"), SEGMENT: "all"})
    frame[HOURS], frame[FINISHED] = 1.0, True
    usual = Usual.fit(frame, pd.DataFrame({"backlog": np.r_[backlog, night]}), clock)
    median, p90 = usual.level(
        np.full(len(night), "all", dtype=object), "backlog", np.full(len(night), 3)
    )
    assert np.mean((night > p90) & (night - median >= 3)) < 0.05


def test_a_busy_record_is_not_said_of_items_long_after_it_ended(tickets_model, items) -> None:
    """A model trained in December's peak told June's shoppers that the carrier had more
    parcels than usual: its record's last weeks, which a forecast fades to, were the peak."""
    events = tickets_model.events_
    median, p90 = tickets_model.usual_.level(items["segment"].astype(str).to_numpy(), "backlog")
    busy = tickets_model.features(items)
    busy["backlog"] = np.maximum(p90, 2 * median) * 3 + 10
    said = {}
    for fades in (0.5, 2.0):
        start = pd.Timestamp(events.known_until + int(fades * events.fade), tz="UTC")
        later = items.assign(**{START: start})
        quotes = quote_items(tickets_model, later, features=busy)
        said[fades] = quotes["risk_codes"].str.contains("busier_than_usual").mean()
    assert said == {0.5: 1.0, 2.0: 0.0}


def test_peak_weeks_are_learned_from_earlier_years() -> None:
    usual = _usual_of(synthetic.tickets(14_000, seed=3, start="2023-01-01", days=730))
    weeks = set(usual.peak_weeks)
    # The world is 25% slower and 50% busier from 20 November to the end of the year.
    assert {49, 50, 51} <= weeks
    assert weeks <= {46, 47, 48, 49, 50, 51, 52, 53, 1, 2}
    assert all(v["slower"] > 1.1 or v["busier"] > 1.3 for v in usual.peak_weeks.values())


def test_one_year_of_history_cannot_tell_a_season_from_a_bad_month() -> None:
    usual = _usual_of(synthetic.tickets(7_000, seed=3, start="2025-01-01", days=365))
    assert usual.peak_weeks == {}


def test_a_small_history_without_a_season_is_not_told_one() -> None:
    """Ten jobs a week for two and a half years, no season: the weeks' noise marked a peak in
    8 of 30 such worlds (a tester's company was told weeks 32-33 ran 32% slower)."""
    clock = Clock.from_spec(synthetic.load_spec("tickets"))

    def world(seed: int, n: int = 1_300) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        days = pd.to_timedelta(np.sort(rng.uniform(0, 910, n)), unit="D")
        return pd.DataFrame(
            {
                START: pd.Timestamp("2024-01-01", tz="UTC") + days,
                HOURS: np.exp(rng.normal(3.0, 1.0, n)),
                FINISHED: True,
                SEGMENT: rng.choice(["a", "b", "c"], n),
            }
        )

    told = [
        bool(Usual.fit(world(s), pd.DataFrame(index=range(1_300)), clock).peak_weeks)
        for s in range(30)
    ]
    assert sum(told) <= 1


def _usual_of(sim: synthetic.SyntheticHistory) -> Usual:
    frame = load_history(sim.history, sim.spec).frame.sort_values(START).reset_index(drop=True)
    clock = Clock.from_spec(sim.spec)
    return Usual.fit(frame, feature_frame(frame, sim.spec, clock, Events.from_frame(frame)), clock)


def test_a_window_meeting_a_peak_week_is_peak_season(tickets_model, tickets_sim) -> None:
    model = copy.copy(tickets_model)
    model.usual_ = Usual(tickets_model.usual_.load, {50: {"slower": 1.3, "busier": 1.6}})
    raw = tickets_sim.history.iloc[[0, 1]].drop(columns="resolved_at")
    raw["created_at"] = pd.to_datetime(["2025-07-08 10:00", "2025-12-09 10:00"]).tz_localize(
        "Europe/Sarajevo"
    )
    quotes = quote_items(model, prepare_items(raw, model.spec)[0], locale="ru")
    assert ["peak_season" in c for c in quotes["risk_codes"]] == [False, True]
    note = notes_of(quotes.iloc[1])["peak_season"]
    assert note["agent_text"] == (
        "Пиковый сезон по данным прошлых лет (недели 50): длительность +30%, объём +60% "
        "относительно тренда."
    )


@pytest.mark.parametrize("locale", LANGUAGES)
def test_a_peak_learned_from_slowness_alone_is_not_called_the_busiest_time(
    tickets_model, tickets_sim, locale
) -> None:
    """Weeks 22% slower with 28% fewer items: a slower time of year, not the busiest one, and
    the fall in volume said with one sign ('-28%', not '-+28%')."""
    model = copy.copy(tickets_model)
    model.usual_ = Usual(tickets_model.usual_.load, {50: {"slower": 1.22, "busier": 0.72}})
    raw = tickets_sim.history.iloc[[1]].drop(columns="resolved_at")
    raw["created_at"] = pd.Timestamp("2025-12-09 10:00", tz="Europe/Sarajevo")
    quote = quote_items(model, prepare_items(raw, model.spec)[0], locale=locale).iloc[0]
    note = notes_of(quote)["peak_season"]
    lang = language(locale)
    assert note["customer_text"] == lang.text("risk.peak_season.customer_slow.resolution")
    assert note["customer_text"] in quote["customer_message"]
    busiest = lang.text("risk.peak_season.customer.resolution")
    assert busiest not in quote["customer_message"]
    assert lang.localize_digits("-28") in note["agent_text"]
    assert lang.localize_digits("+22") in note["agent_text"]
    assert "-+" not in note["agent_text"]
    if locale == "en":
        assert note["agent_text"] == (
            "Peak season learned from earlier years (weeks 50): durations +22%, volume -28% "
            "against the trend."
        )


@pytest.mark.parametrize(
    ("kept", "judged", "flagged"), [(70, 100, True), (88, 100, False), (5, 20, False)]
)
def test_recent_promises_missed_needs_a_real_shortfall_on_enough_promises(
    tickets_model, items, kept, judged, flagged
) -> None:
    model = copy.copy(tickets_model)
    model.online_ = OnlineCalibration(0.9, outcomes={ALL: [kept, judged]})
    quotes = quote_items(model, items.head(5))
    assert quotes["risk_codes"].str.contains("recent_promises_missed").all() == flagged
    if flagged:
        note = notes_of(quotes.iloc[0])["recent_promises_missed"]
        assert "70%" in note["agent_text"] and "100" in note["agent_text"]


def test_a_range_that_begins_after_every_other_ends_is_still_judged() -> None:
    """One item's window wholly after the rest of a batch (a start far ahead) broke the batch."""
    usual = Usual(peak_weeks={48: {"slower": 1.3, "busier": 2.0}})
    first = np.array(["2026-01-05", "2026-11-16", "2026-11-24"], dtype="datetime64[D]")
    last = np.array(["2026-01-09", "2026-11-20", "2026-11-20"], dtype="datetime64[D]")
    assert usual.in_peak(first, last).tolist() == [False, False, True]


def test_a_value_never_seen_in_training_is_thin_history(tickets_model, tickets_sim) -> None:
    raw = tickets_sim.history.iloc[[10]].copy()
    raw["category"] = "quantum-entanglement"
    quote = quote_items(tickets_model, prepare_items(raw, tickets_model.spec)[0]).iloc[0]
    note = notes_of(quote)["thin_history"]
    assert "category=quantum-entanglement" in note["agent_text"]
    assert note["customer_text"].startswith("We have seen few requests like this one")
    # Its promise is the trees' answer for an unknown value, not padded: a tester's parcel by
    # 'drone' was told "we have allowed extra time" with a promise a day shorter than standard.
    assert "extra time" not in note["customer_text"] and "less certain" in note["customer_text"]


def test_a_number_outside_the_training_range_is_thin_history(tickets_model, tickets_sim) -> None:
    low, high = tickets_model.ranges_["queue_open"]
    raw = tickets_sim.history.iloc[[10, 11, 12]].copy()
    raw["queue_open"] = [high * 40, (low + high) / 2, low - 5]
    quotes = quote_items(tickets_model, prepare_items(raw, tickets_model.spec)[0], locale="ru")
    notes = [notes_of(q).get("thin_history") for _, q in quotes.iterrows()]
    assert notes[1] is None or "queue_open" not in notes[1]["agent_text"]
    russian = language("ru")
    for note, value in ((notes[0], high * 40), (notes[2], low - 5)):
        assert "Вне диапазона" in note["agent_text"]
        assert f"queue_open {russian.number(value)} (" in note["agent_text"]


def test_a_start_at_an_hour_no_item_of_the_history_started_at_is_thin_history(
    tickets_model, tickets_sim
) -> None:
    """A grocery open 07:00-23:00 promised an order placed at 02:00 "by 2:46 AM", from trees
    that never saw the night, and said nothing of it."""
    assert "start_hour" in tickets_model.ranges_  # learnt at training, like a number's range
    model = copy.copy(tickets_model)
    model.ranges_ = {**tickets_model.ranges_, "start_hour": (7.0, 23.0)}
    raw = tickets_sim.history.iloc[[10, 11]].copy()
    day = pd.Timestamp("2025-06-04", tz=model.spec.timezone)  # a Wednesday
    raw["created_at"] = [day + pd.Timedelta(hours=2), day + pd.Timedelta(hours=10)]
    raw["resolved_at"] = pd.NaT
    quotes = quote_items(model, prepare_items(raw, model.spec)[0])
    night, day_time = (notes_of(q).get("thin_history") for _, q in quotes.iterrows())
    assert "start time 2:00\u202fAM (7:00\u202fAM–11:00\u202fPM)" in night["agent_text"]
    assert night["customer_text"].startswith("We have seen few requests like this one")
    assert day_time is None or "start time" not in day_time["agent_text"]


def test_a_declared_feature_not_given_is_said_to_the_agent_where_history_had_it(
    tickets_model, tickets_sim
) -> None:
    """A quote file without the channel, or a queue size left blank: the promise is answered
    from the rest, and the agent hears which values were not given; the customer hears nothing
    of it. Where the history itself often lacked the value, its absence is usual and unsaid."""
    raw = tickets_sim.history.iloc[100:103].drop(columns="resolved_at")
    raw.loc[raw.index[0], "channel"] = None
    raw.loc[raw.index[1], "queue_open"] = np.nan
    items = prepare_items(raw, tickets_model.spec)[0]

    def not_given(model) -> list[str]:
        said = []
        for notes in quote_items(model, items)["risk_notes"]:
            thin = [n for n in notes if n["code"] == "thin_history"]
            said.append(thin[0]["agent_text"].partition("Not given: ")[2] if thin else "")
            # Not "few like this one, so extra time": none was allowed (a tester's customers
            # all heard it, one with a promise 3 hours shorter than with the value given)
            assert not thin or thin[0]["customer_text"] == "", thin
        return said

    said = not_given(tickets_model)
    assert said[0].startswith("channel;") and said[1].startswith("queue_open;"), said
    assert said[2] == "", said
    usually_blank = copy.copy(tickets_model)
    usually_blank.info_ = {
        **tickets_model.info_,
        "given_share": {**tickets_model.info_["given_share"], "channel": 0.6},
    }
    assert not_given(usually_blank)[0] == "", "a value the history often lacked"


def test_a_segment_whose_history_is_short_for_its_durations_is_thin_history(
    tickets_model, tickets_sim
) -> None:
    """A team whose items take as long as the history is old kept 39% of its promises, and its
    quotes said nothing; now the agent hears how short the history is, the customer that the
    date may move (not that time was added)."""
    model = copy.copy(tickets_model)
    raw = tickets_sim.history.iloc[10:200].copy()
    prepared = prepare_items(raw, model.spec)[0]
    segments = prepared["segment"].astype(str)
    short = segments.value_counts().index[0]
    by_segment = dict.fromkeys(model.info_["still_running_by_segment"], 0.01)
    model.info_ = {**model.info_, "still_running_by_segment": {**by_segment, short: 0.35}}
    quotes = quote_items(model, prepared)
    for (_, quote), segment in zip(quotes.iterrows(), segments, strict=True):
        note = notes_of(quote).get("thin_history")
        if segment != short:
            assert note is None or "Short history" not in note["agent_text"]
            continue
        assert "Short history for these durations: about 35% of them" in note["agent_text"]
        assert note["customer_text"].startswith("Requests like this one can take longer than")
        assert "may need to move" in quote["customer_message"]
    said = quote_items(model, prepared.iloc[[0]].assign(segment=short), locale="es")
    assert "cerca de 35" in notes_of(said.iloc[0])["thin_history"]["agent_text"]


def test_an_item_open_longer_than_any_finish_is_thin_history(tickets_model, tickets_sim) -> None:
    """A parcel 507 days in transit, where the longest delivery took 21, was told it would
    most likely arrive on a Monday in January: its promise is the tail model's alone."""
    longest = tickets_model.info_["longest_finish_hours"]
    assert longest > 0
    raw = tickets_sim.history.iloc[[10, 10]].drop(columns="resolved_at")
    raw["elapsed"] = [longest * 0.5, longest * 1.5]
    quotes = quote_items(tickets_model, prepare_items(raw, tickets_model.spec)[0])
    young, old = (notes_of(q).get("thin_history") for _, q in quotes.iterrows())
    assert young is None or "longer than any item" not in young["agent_text"]
    days = round(longest) / 8  # the tickets' working days are 09:00-17:00
    assert f"the longest: about {days:,.0f} working days" in old["agent_text"]
    assert "may need to move" in quotes["customer_message"].iloc[1]
    assert quotes["escalate"].iloc[1]


def test_a_promise_beyond_every_finish_is_said_with_a_note_not_refused(
    tickets_model, tickets_sim, monkeypatch
) -> None:
    """A city's park requests, with a tail wide enough to reach decades, crashed the quote of
    every row of the file ("hours are too large to add to an instant"); its building
    inspections were promised for 2034 in an 18-month history, without a word to the agent."""
    predict = EtaModel.predict

    def wider(model, items, features=None):
        predictive = predict(model, items, features)
        return replace(predictive, location=predictive.location + 2 * np.arange(len(items)))

    monkeypatch.setattr(EtaModel, "predict", wider)
    raw = tickets_sim.history.iloc[[10] * 8].drop(columns="resolved_at")
    quotes = quote_items(tickets_model, prepare_items(raw, tickets_model.spec)[0])
    longest = tickets_model.info_["longest_finish_hours"]
    beyond = quotes["promise_hours"].to_numpy() > longest
    assert beyond[-1] and not beyond[0]  # the last lies decades away, the first as usual
    assert quotes["promise_at"].iloc[-1] - quotes["promise_at"].iloc[0] > pd.Timedelta(days=7300)
    for (_, quote), far in zip(quotes.iterrows(), beyond, strict=True):
        note = notes_of(quote).get("thin_history")
        said = note is not None and "Promised later than any item" in note["agent_text"]
        assert said == far, (quote["promise_hours"], note)


def test_an_item_quoted_before_it_starts_has_its_window_open_at_the_start(
    tickets_model, tickets_sim
) -> None:
    raw = tickets_sim.history.iloc[[10]].drop(columns="resolved_at")
    raw["created_at"] = pd.Timestamp("2025-04-29T09:00", tz="Europe/Sarajevo")
    items = prepare_items(raw, tickets_model.spec)[0]
    ahead = quote_items(tickets_model, items, now=pd.Timestamp("2025-01-01T00:00", tz="UTC"))
    days = notes_of(ahead.iloc[0])["holiday_in_window"]["agent_text"]
    assert "May 1" in days and "January" not in days  # not New Year's Day, months before
    assert "2025" not in days  # this year's: the date alone is enough
    years_out = quote_items(tickets_model, items, now=pd.Timestamp("2022-01-01T00:00", tz="UTC"))
    note = notes_of(years_out.iloc[0])["holiday_in_window"]
    assert "May 1, 2025" in note["agent_text"] and "2025" in note["customer_text"]


def test_a_holiday_is_named_only_before_a_promise_weeks_away_not_months(
    tickets_model, tickets_sim
) -> None:
    """Christmas a few days after the quote is a risk to a promise in January; to a ticket open
    since the spring, promised months out, it is noise ('may take the full time')."""
    raw = tickets_sim.history.iloc[[10]].assign(resolved_at=pd.NaT)
    now = pd.Timestamp("2025-12-22T10:00", tz="Europe/Sarajevo")
    named = {}
    for opened in ("2025-12-19T10:00", "2025-12-10T10:00", "2025-09-01T10:00", "2025-03-01T10:00"):
        raw["created_at"] = pd.Timestamp(opened, tz="Europe/Sarajevo")
        quote = quote_items(tickets_model, prepare_items(raw, tickets_model.spec)[0], now=now).iloc[
            0
        ]
        weeks_away = (quote["promise_at"] - now).days <= 42
        named[opened] = weeks_away
        assert ("holiday_in_window" in quote["risk_codes"]) == weeks_away, (opened, quote)
    assert any(named.values()) and not all(named.values()), named  # both kinds were asked


def test_holidays_named_together_all_say_their_year_if_one_does(tickets_model) -> None:
    """ "Thursday, January 1 (New Year's Day) and Monday, January 19, 2026 (Martin Luther King
    Jr. Day)" read as two years."""
    import datetime as dt

    from eta import messages

    reference = pd.DatetimeIndex([pd.Timestamp("2025-12-20T10:00", tz="UTC")])
    speaker = messages.Speaker(language("en"), tickets_model.spec, "Europe/Sarajevo", reference)
    days = (dt.date(2026, 1, 1), dt.date(2026, 2, 2))  # 12 and 44 days ahead, the next year
    customer, agent = speaker._holiday_in_window({"days": days, "names": ("A", "B")}, 0)
    assert "January 1, 2026" in customer and "February 2, 2026" in customer, customer
    assert "January 1, 2026" in agent and "February 2, 2026" in agent, agent
    near = speaker._holiday_in_window({"days": days[:1], "names": ("A",)}, 0)
    assert "2026" not in near[0]  # alone, twelve days ahead, it needs none


def test_drivers_are_named_to_customers_only_in_the_specs_words(tickets_model, items) -> None:
    english = quote_items(tickets_model, items)
    persian = quote_items(tickets_model, items, locale="fa")
    spec = tickets_model.spec
    seen, made = 0, {True: 0, False: 0}
    for en_notes, fa_notes in zip(english["risk_notes"], persian["risk_notes"], strict=True):
        for en, fa in zip(en_notes, fa_notes, strict=True):
            if not en["code"].startswith("driver:"):
                continue
            seen += 1
            feature = en["code"].split(":", 1)[1]
            # An input the engine made is named in words ("start day = Wednesday"), a column of
            # the export by its header: a tester's agents read "start_weekday = 2 (+166%)".
            words = language("en").catalog.get(f"input.{feature}", feature)
            assert en["agent_text"].startswith(f"Driver of the promise: {words} = ")
            made[feature in (*spec.features.categorical, *spec.features.numeric)] += 1
            phrase_en, phrase_fa = (
                spec.features.phrase(feature, "en"),
                spec.features.phrase(feature, "fa"),
            )
            assert en["customer_text"] == (
                f"What affects this time most is {phrase_en}." if phrase_en else ""
            )
            assert (phrase_fa in fa["customer_text"]) if phrase_fa else fa["customer_text"] == ""
    assert seen > 20 and made[False] > 0


def test_contributions_add_up_to_the_promise_models_prediction(tickets_model, items) -> None:
    features = tickets_model.features(items)
    contributions = tickets_model.contributions(items, features)
    raw = tickets_model.boosters_[0.9].predict(tickets_model._encode(features))
    np.testing.assert_allclose(contributions.sum(axis=1), raw, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="level"):
        tickets_model.contributions(items, features, level=0.7)


def test_a_value_training_never_saw_is_no_driver(tickets_model, tickets_sim) -> None:
    """'Critical', a priority training never had, was said to lengthen a promise by 23%: the
    trees read it as unknown, and thin_history says so."""
    raw = tickets_sim.history.iloc[4000:4200].drop(columns="resolved_at")
    for column in ("priority", "category"):
        unseen = raw.assign(**{column: "Quantum"})
        quotes = quote_items(tickets_model, prepare_items(unseen, tickets_model.spec)[0])
        codes = ",".join(quotes["risk_codes"])
        assert f"driver:{column}" not in codes, column
        assert quotes["risk_codes"].str.contains("thin_history").all()


def test_path_contributions_name_the_same_top_drivers_as_treeshap(tickets_model, items) -> None:
    """Drivers use path attribution (one pass over the trees) instead of TreeSHAP (~100x a
    prediction); the feature it ranks first is among TreeSHAP's top two for nearly every item."""
    features = tickets_model.features(items)
    path = tickets_model.contributions(items, features).drop(columns="baseline").to_numpy()
    x = tickets_model._encode(features)
    shap = tickets_model.boosters_[0.9].predict(x, pred_contrib=True)[:, :-1]
    top_two = np.argsort(-shap, axis=1)[:, :2]
    agree = np.mean([path[i].argmax() in top_two[i] for i in range(len(path))])
    assert agree >= 0.85


def test_what_is_usual_survives_save_and_load_and_old_models_still_load(
    tickets_model, items, tmp_path
) -> None:
    directory = tickets_model.save(tmp_path / "m")
    loaded = EtaModel.load(directory)
    assert loaded.usual_ == Usual.from_dict(json.loads(json.dumps(tickets_model.usual_.to_dict())))
    state = json.loads((directory / "model.json").read_text())
    del state["usual"]  # a model saved before usual levels existed
    (directory / "model.json").write_text(json.dumps(state))
    old = EtaModel.load(directory)
    assert old.usual_ == Usual()
    quotes = quote_items(old, items)
    assert not quotes["risk_codes"].str.contains("busier_than_usual|peak_season").any()
    assert quotes["promise_at"].notna().all()


def test_the_fast_model_input_predicts_exactly_what_the_pandas_one_does(
    tickets_model, items
) -> None:
    features = tickets_model.features(items)
    features.loc[features.index[:5], "category"] = "never-seen"
    features.loc[features.index[5:10], "priority"] = "(missing)"
    for booster in tickets_model.boosters_.values():
        np.testing.assert_array_equal(
            booster.predict(tickets_model._matrix(features)),
            booster.predict(tickets_model._encode(features)),
        )


def test_a_shopper_west_of_the_business_hears_only_of_days_off_before_the_promise(
    deliveries_model, deliveries_sim
) -> None:
    # The end of a date in Los Angeles is 08:59 the next day in Berlin: Christmas Day there is
    # after a promise "by December 24" that the shopper reads, and delays nothing.
    raw = deliveries_sim.history.head(300).drop(columns="delivered_at").copy()
    raw["ordered_at"] = pd.date_range("2025-12-15T06:00", periods=300, freq="50min", tz="UTC")
    items = prepare_items(raw, deliveries_model.spec)[0]
    zone = "America/Los_Angeles"
    quotes = quote_items(deliveries_model, items, timezone=zone)
    last_day = pd.to_datetime(quotes["promise_at"], utc=True).dt.tz_convert(zone).dt.day
    noted = quotes["risk_codes"].str.contains("holiday_in_window")
    before, after = last_day.between(20, 24), last_day.between(26, 31)
    assert before.sum() > 20 and after.sum() > 20
    assert not noted[before].any()
    assert noted[after].all()


def test_notes_name_features_and_groups_as_people_read_them() -> None:
    """An export's header 'Category ' (trailing space) made the code 'driver:Category ' and the
    agent summary 'driver:Category .'; the whole population read 'all' or '*'."""
    from eta.messages import Speaker
    from eta.risks import _Findings
    from eta.synthetic import load_spec

    driver = _Findings("", "feature", "value", "effect")["Category ", "Access", 0.3]
    assert driver.code == "driver:Category"
    reference = pd.DatetimeIndex([pd.Timestamp("2026-03-02T09:00", tz="UTC")])
    speaker = Speaker(language("en"), load_spec("tickets"), "UTC", reference)
    assert speaker.note(driver, 0)["agent_text"] == (
        "Driver of the promise: Category = Access (+30%)."
    )
    made = _Findings("", "feature", "value", "effect")
    for feature, value, said in [
        ("start_hour", 16.1, "start time = 4:06\u202fPM"),
        ("start_weekday", 2, "start day = Wednesday"),
        ("day_of_year", 354.0, "time of year = December 21"),
        ("after_cutoff", 1.0, "after the cut-off = yes"),
        ("recent_log_hours_7d", np.log(12.0), "typical time of the last 7 days' finishes = 12 h"),
        ("queue_weeks", 0.5, "open items of the whole queue, in weeks of arrivals = 0.5"),
    ]:
        text = speaker.note(made[feature, value, 0.3], 0)["agent_text"]
        assert text == f"Driver of the promise: {said} (+30%).", text
    thin = _Findings("thin_history", "group", "unseen", "beyond")[
        "all", ("Category =Quantum",), (("Queue size ", 900.0, 1.0, 80.0),)
    ]
    assert speaker.note(thin, 0)["agent_text"] == (
        "Little history: calibrated on the wider group all items. Values never seen in "
        "training: Category=Quantum. Outside the range seen in training (in brackets): Queue "
        "size 900 (1–80)."
    )
    borrowed = _Findings("thin_history", "group", "unseen", "beyond", "own_median")
    # A segment with a median of its own on a wider group's shape: for agents only, not "we
    # have seen few requests like this one" to each of its hundreds of customers.
    assert speaker.note(borrowed["all", (), (), True], 0)["customer_text"] == ""
    assert speaker.note(borrowed["all", (), (), False], 0)["customer_text"].startswith("We have")
    # Its own segment's calibration, a value not given: no extra time was allowed for it (a
    # tester's quotes without a channel column all said so, one 3 hours shorter than with it)
    not_given = _Findings("thin_history", "group", "unseen", "beyond", "own_median", "missing")
    assert speaker.note(not_given[None, (), (), False, ("Channel",)], 0)["customer_text"] == ""
    missed = _Findings("recent_promises_missed", "group", "rate", "judged", "target")[
        ALL, 0.8, 120, 0.9
    ]
    assert "in all items 80%" in speaker.note(missed, 0)["agent_text"]
    assert speaker.segment("ahead|2:P3 / Access") == "P3 / Access"
    assert language("ru").catalog["segment.all"] in Speaker(
        language("ru"), load_spec("tickets"), "UTC", reference
    ).segment("0:all")


def test_a_busy_queue_is_not_said_to_a_customer_after_the_busiest_time_of_year() -> None:
    """A shopper heard "This is the busiest time of the year..." and then "The carrier has
    more parcels than usual right now...": one reason said twice. Agents keep both notes."""
    from eta.messages import MAX_CUSTOMER_NOTES, _for_customer

    def note(code: str) -> dict:
        return {"code": code, "severity": "medium", "customer_text": f"{code}.", "agent_text": ""}

    peak, busy, holiday = note("peak_season"), note("busier_than_usual"), note("holiday_in_window")
    assert _for_customer([holiday, peak, busy], MAX_CUSTOMER_NOTES) == [holiday, peak]
    assert _for_customer([holiday, busy], MAX_CUSTOMER_NOTES) == [holiday, busy]


def test_a_night_shift_promise_that_ends_before_the_holidays_shift_meets_no_holiday() -> None:
    """A night line's job promised "by 6:00 AM tomorrow", tomorrow a holiday, was told the
    holiday may take the full time: the holiday closes the shift that opens on its evening,
    not the one its small hours end."""
    import datetime as dt
    from types import SimpleNamespace

    from eta.calendar import Clock
    from eta.risks import _holidays, _local_days
    from eta.spec import WEEKDAYS, CalendarSpec

    calendar = CalendarSpec(days=tuple(WEEKDAYS), hours=("22:00", "06:00"), holidays=("DE",))
    model = SimpleNamespace(clock_=Clock(calendar, "Europe/Berlin", "business"))
    model.spec = SimpleNamespace(calendar=calendar)
    opens = pd.DatetimeIndex(["2025-10-02 21:00"] * 2, tz="Europe/Berlin").tz_convert("UTC")
    promised = pd.DatetimeIndex(["2025-10-03 06:00", "2025-10-04 06:00"], tz="Europe/Berlin")
    days = _local_days(model.clock_, opens.append(promised.tz_convert("UTC")))
    facts = SimpleNamespace(first_day=days[:2], last_day=days[2:])
    said = dict(_holidays(model, facts))
    assert list(said) == [1], said  # German Unity Day closes the shift of October 3 only
    assert said[1].facts["days"] == (dt.date(2025, 10, 3),)


def test_no_segment_thin_of_its_own_when_every_segment_is_calibrated_on_all_items(
    tickets_model, tickets_sim
) -> None:
    """A small company's job types were all too thin for a calibration of their own, and every
    quote told its customer "we have seen few requests like this one": true of none more than
    another. An item of a thin segment, beside segments of their own, is still told."""
    raw = tickets_sim.history.iloc[:200].copy()
    items = prepare_items(raw, tickets_model.spec)[0]

    def fell_back(model: EtaModel) -> int:
        quotes = quote_items(model, items)
        notes = [notes_of(q).get("thin_history") for _, q in quotes.iterrows()]
        return sum(1 for n in notes if n and "wider group" in n["agent_text"])

    pooled = copy.deepcopy(tickets_model)
    depth = len(pooled.spec.segments)
    calibration = pooled.calibration_
    by_key = {k: v for k, v in calibration.by_key.items() if f"{depth}:" not in k}
    pooled.calibration_ = replace(calibration, by_key=by_key)
    assert fell_back(tickets_model) > 0
    assert fell_back(pooled) == 0
    # Or each segment with a median of its own on all items' shape, as thin ones have.
    root = next(k for k in calibration.by_key if k.startswith("0:"))
    borrowed = {
        k: replace(v, borrowed_from=root) if f"{depth}:" in k else v
        for k, v in calibration.by_key.items()
    }
    pooled.calibration_ = replace(calibration, by_key=borrowed)
    assert fell_back(pooled) == 0


def test_a_business_s_own_days_off_close_the_clock_and_are_said_as_days_off(
    tickets_model, tickets_sim
) -> None:
    """Two testers' businesses closed on days the `holidays` package does not have (December
    24 and 31) and worked some it does (a state's Election Day): a spec says both, and the
    customer hears the own days as days the team is off, not as public holidays."""
    raw = tickets_model.spec.model_dump()
    raw["calendar"]["days_off"] = ["12-24", "2026-12-31"]
    raw["calendar"]["holidays_worked"] = ["Catholic Christmas Day"]
    spec = DatasetSpec.from_dict(raw)
    own = copy.copy(tickets_model)
    own.spec, own.clock_ = spec, Clock.from_spec(spec)
    assert not own.clock_.is_working_day([pd.Timestamp("2026-12-24").date()])[0]
    assert own.clock_.is_working_day([pd.Timestamp("2026-12-25").date()])[0]
    items = prepare_items(tickets_sim.history.iloc[[5]], spec)[0]
    now = pd.Timestamp("2026-12-22T10:00", tz=spec.timezone)
    items[START] = now
    before = quote_items(tickets_model, items, now=now).iloc[0]
    after = quote_items(own, items, now=now).iloc[0]
    note = notes_of(after)["weekend_in_window"]
    assert note["customer_text"] == (
        "This period includes days when our team is off (Saturday, Sunday, Thursday, "
        "December 24, and Thursday, December 31)."
    )
    assert (
        "December 24"
        not in notes_of(before).get("weekend_in_window", {"customer_text": ""})["customer_text"]
    )
    assert "Christmas" not in after["customer_message"]


def test_an_own_day_off_that_is_a_holiday_or_a_weekend_is_said_once(
    tickets_model, tickets_sim
) -> None:
    """December 24-26 declared days off by a Sarajevo desk: the 26th is a Saturday, said as
    Saturday, and the 25th is Catholic Christmas, said as the holiday; only the 24th is the
    desk's own."""
    raw = tickets_model.spec.model_dump()
    raw["calendar"]["days_off"] = ["12-24", "12-25", "12-26"]
    spec = DatasetSpec.from_dict(raw)
    own = copy.copy(tickets_model)
    own.spec, own.clock_ = spec, Clock.from_spec(spec)
    items = prepare_items(tickets_sim.history.iloc[[5]], spec)[0]
    now = pd.Timestamp("2026-12-21T10:00", tz=spec.timezone)
    items[START] = now
    notes = notes_of(quote_items(own, items, now=now).iloc[0])
    said = notes["weekend_in_window"]["customer_text"]
    assert said.count("December") == 1 and "December 24" in said
    assert "December 25" in notes["holiday_in_window"]["customer_text"]


def test_a_closure_weeks_before_a_far_promise_is_told_as_one_run_of_days_and_not_dropped(
    tickets_model, tickets_sim
) -> None:
    """A Munich desk closes December 24 to January 1: a ticket of December 22 promised seven
    weeks away heard nothing of it, another heard "Thursday, December 24, Monday, December 28,
    Tuesday, December 29, ..." as a low note that two medium ones pushed out of the message."""
    raw = tickets_model.spec.model_dump()
    raw["calendar"]["days_off"] = ["12-24", "12-28", "12-29", "12-30", "12-31"]
    spec = DatasetSpec.from_dict(raw)
    own = copy.copy(tickets_model)
    own.spec, own.clock_ = spec, Clock.from_spec(spec)
    items = prepare_items(tickets_sim.history.iloc[[5, 5]], spec)[0]
    now = pd.Timestamp("2026-12-22T10:00", tz=spec.timezone)
    items[START] = [now - pd.Timedelta(days=60), now]  # in progress for two months, and new
    quotes = quote_items(own, items, now=now)
    for _, quote in quotes.iterrows():
        note = notes_of(quote)["weekend_in_window"]
        assert note["severity"] == "medium"
        assert "Thursday, December 24, and December 28\u2009–\u200931" in note["customer_text"]
        assert note["customer_text"] in quote["customer_message"]
