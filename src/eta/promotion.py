"""Retrain and promote: a new model replaces the one in service only when it keeps promises better.

The data team's loop is: retrain on fresh history, compare the candidate with the champion (the
model behind the registry alias ``@champion``) on the most recent period whose outcomes are known,
and move the alias only when the candidate is better. "Better" is judged the way customers feel
it (:class:`Gate`): promises kept at the target rate first, then tighter promises (pinball loss)
without a segment falling behind.

The comparison is honest about time and censoring:

* the candidate is judged by its *shadow*, the same recipe trained only on what was known when
  the holdout period began, so it never sees the outcomes it is judged on;
* the holdout ends one typical promise horizon before the export; an outcome counts when it is
  known (finished, or still open past the promise). Promises to slow items run for weeks, so
  some outcomes are still unknown, and they are the slow ones: the rate over known outcomes runs
  high (a month of tickets before Christmas read 93.0% on-time, truly 90.8%, with 212 of 2,008
  unknown). The gate therefore judges the on-time rate estimated with the unknowns counted in
  (:func:`eta.evaluation.on_time_estimate`: 90.5% there), and the report shows both and the
  range;
* the champion is judged as it is, on items that started after it was trained: the holdout never
  reaches back before the champion's training cut-off, so neither model has seen its outcomes.
  A champion trained only days ago leaves too few known outcomes to judge, and nothing is
  promoted until enough have come due.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from eta.backtest import period_items, replay_offsets, run_backtest
from eta.data import END, FINISHED, HOURS, MISSING, START, History
from eta.doubts import RENAMED_FROM_VALUES
from eta.evaluation import (
    MIN_SEGMENT_ITEMS,
    kept_probability,
    known_outcomes,
    pinball_losses,
    promise_metrics,
    with_unknowns_estimated,
)
from eta.features import Events
from eta.model import EtaModel, Settings
from eta.monitoring import week_axis
from eta.quote import quote_items
from eta.spec import DatasetSpec
from eta.tables import some_of

if TYPE_CHECKING:
    from eta import tracking

CHAMPION, CHALLENGER = "champion", "challenger"
"""Registry aliases: the model in service, and the latest candidate that was not promoted."""


@dataclass(frozen=True)
class Tighter:
    """How much lower the candidate's pinball loss is than the champion's on the same items,
    and the standard error of that difference.

    The difference is paired (both models promise the same items, so the items' own noise
    cancels) and its standard error is clustered by day of start: a slow day moves many
    items' losses together, and counting them as independent would call a day's luck a
    better model (Cameron & Miller (2015), A practitioner's guide to cluster-robust
    inference, *J. Human Resources* 50(2)).
    """

    by: float
    standard_error: float

    @classmethod
    def measure(
        cls,
        actual: np.ndarray,
        candidate: np.ndarray,
        champion: np.ndarray,
        day: np.ndarray,
        level: float,
    ) -> Tighter:
        """From actual hours (NaN: not known), both models' promises and each item's day."""
        known = ~np.isnan(actual) & ~np.isnan(candidate) & ~np.isnan(champion)
        gain = pinball_losses(actual[known], champion[known], level) - pinball_losses(
            actual[known], candidate[known], level
        )
        if not gain.size:
            return cls(float("nan"), float("nan"))
        by = float(gain.mean())
        per_day = pd.Series(gain - by).groupby(np.asarray(day)[known]).sum().to_numpy()
        clusters = len(per_day)
        small_sample = clusters / max(clusters - 1, 1)
        return cls(by, float(np.sqrt(small_sample * np.sum(per_day**2)) / gain.size))


@dataclass(frozen=True)
class Gate:
    """When a candidate may replace the champion.

    A candidate must keep its promises at the target rate: ``|on-time - confidence|`` within
    ``tolerance``, widened to two standard errors when the holdout is small so that sampling
    noise alone cannot refuse a good model (even a calibrated model's on-time rate moves by a
    point or two from one month to the next, as the benchmark's folds show). Then it must beat a
    calibrated champion on pinball loss (tighter promises at the same reliability) by more than
    ``noise`` standard errors of the difference (:class:`Tighter`), without its worst segment
    falling more than ``worst_segment_slack`` below the champion's. A champion that breaks its
    promises is replaced by any calibrated candidate.
    """

    tolerance: float = 0.02
    worst_segment_slack: float = 0.02
    min_items: int = 200
    """Fewer known outcomes than this in the holdout: no decision, nothing is promoted."""
    noise: float = 2.0
    """A pinball loss lower by less than this many standard errors may be the holdout's luck,
    not a better model: on a month of synthetic tickets, the same recipe trained on two more days
    of history was lower by 0.071 ± 0.034 (1.5%), and any lower loss used to move the alias."""

    def allowed_gap(self, confidence: float, items: int) -> float:
        return max(self.tolerance, 2.0 * math.sqrt(confidence * (1 - confidence) / max(items, 1)))

    @staticmethod
    def _champion_off_target(
        candidate: dict, champion: dict, confidence: float, allowed: float
    ) -> str:
        """Why an off-target champion gives way, in the words that fit its side of the target:
        below it, customers are let down; above it, they are told to wait longer than needed."""
        kept = (
            f"the champion keeps {champion['on_time_rate']:.1%} of its promises, "
            f"{abs(champion['gap']) * 100:.1f} pt {{}} the {confidence:.0%} target "
            f"(allowed {allowed * 100:.1f})"
        )
        if champion["gap"] < 0:
            why = kept.format("below") + ": it breaks too many"
        else:
            why = kept.format("above") + ": its promises are over-padded, later than they need be"
        return (
            f"{why}; the candidate keeps {candidate['on_time_rate']:.1%}, "
            f"{abs(candidate['gap']) * 100:.1f} pt from it"
        )

    def decide(
        self,
        candidate: dict,
        champion: dict | None,
        confidence: float,
        tighter: Tighter | None = None,
    ) -> tuple[bool, list[str]]:
        """Whether to promote, and the reasons in plain words. ``tighter`` compares the two on
        the same items; it is needed when there is a calibrated champion."""
        items = int(candidate["items"])
        if items < self.min_items:
            return False, [
                f"only {items} outcomes are known in the holdout (need {self.min_items})"
            ]
        allowed = self.allowed_gap(confidence, items)
        gap = abs(candidate["gap"])
        if gap > allowed:
            reasons = [
                f"the candidate keeps {candidate['on_time_rate']:.1%} of its promises, "
                f"{gap * 100:.1f} pt from the {confidence:.0%} target (allowed {allowed * 100:.1f})"
            ]
            if champion is not None:  # a tester read "misses the target" as the whole story
                off = abs(champion["gap"]) > allowed
                reasons.append(
                    f"the champion keeps {champion['on_time_rate']:.1%}, "
                    f"{abs(champion['gap']) * 100:.1f} pt from it"
                    + (
                        ": neither is on target, and a candidate is promoted only on it; the "
                        "report's weeks and segments show where the promises break"
                        if off
                        else ""
                    )
                )
            return False, reasons
        if champion is None:
            return True, ["there is no champion yet and the candidate keeps its promises"]
        if abs(champion["gap"]) > allowed:
            return True, [self._champion_off_target(candidate, champion, confidence, allowed)]
        if tighter is None:
            raise ValueError("comparing with a calibrated champion needs `tighter`")
        reasons = []
        losses = (
            f"pinball loss {candidate['pinball_loss']:.3f} vs the champion's "
            f"{champion['pinball_loss']:.3f}"
        )
        if not tighter.by > 0:
            reasons.append(f"the candidate's promises are not tighter ({losses})")
        elif tighter.by <= self.noise * tighter.standard_error:
            reasons.append(
                f"the candidate's promises are not clearly tighter ({losses}: lower by "
                f"{tighter.by:.3f}, within {self.noise:g} standard errors of "
                f"{tighter.standard_error:.3f})"
            )
        worst_c, worst_p = (
            candidate["worst_segment_on_time_rate"],
            champion["worst_segment_on_time_rate"],
        )
        if (
            worst_c is not None
            and worst_p is not None
            and worst_c < worst_p - self.worst_segment_slack
        ):
            reasons.append(
                f"its worst segment keeps {worst_c:.1%} of promises, the champion's {worst_p:.1%}"
            )
        if reasons:
            return False, reasons
        return True, [
            f"the candidate keeps {candidate['on_time_rate']:.1%} of its promises with a pinball "
            f"loss of {candidate['pinball_loss']:.3f} (champion {champion['pinball_loss']:.3f}, "
            f"lower by {tighter.by:.3f} ± {tighter.standard_error:.3f})"
        ]


@dataclass(frozen=True)
class Holdout:
    """The most recent period whose outcomes are (nearly all) known at the export."""

    start: pd.Timestamp
    end: pd.Timestamp

    @classmethod
    def before(
        cls, history: History, days: float, not_before: pd.Timestamp | None = None
    ) -> Holdout:
        """``days`` of starts ending one typical promise horizon (the wall-time P90 of finished
        items) before the export, so that most promises in it have come due (the others are
        estimated, :func:`eta.evaluation.on_time_estimate`), and starting no earlier than
        ``not_before`` (the champion's training cut-off)."""
        frame = history.frame
        wall = (frame[END] - frame[START])[frame[FINISHED]]
        settle = wall.quantile(0.9) if len(wall) else pd.Timedelta(0)
        end = history.as_of - settle
        first = frame[START].min()
        # A holdout longer than the history starts at its first item, without first building
        # a Timedelta of all its days: pandas refuses a billion days in its own words.
        reaches_back = days < (end - first) / pd.Timedelta(days=1)
        start = end - pd.Timedelta(days=days) if reaches_back else first
        if not_before is not None:
            start = min(max(start, not_before), end)
        return cls(start, end)

    @property
    def empty(self) -> bool:
        """No start fits: the champion's cut-off is at or after the last start whose promise
        has come due (:meth:`before` clamps the start to the end rather than go past it)."""
        return self.start >= self.end


@dataclass
class Comparison:
    """Candidate and champion on the same holdout items, and the decision."""

    holdout: Holdout
    confidence: float
    candidate: dict
    champion: dict | None
    tighter: Tighter | None
    promote: bool
    reasons: list[str]
    quotes: pd.DataFrame = field(repr=False)
    """Per holdout item: start, segment, actual hours (NaN: not known), hours watched and whether
    it finished (as the export says), each model's promise."""
    as_of: pd.Timestamp | None = None
    """What the candidate's history describes (its export time)."""
    champion_as_of: pd.Timestamp | None = None
    """The champion's training cut-off; set whenever there is a champion, judged or not
    (``champion`` holds its numbers only when it was judged)."""


class ChampionMismatch(ValueError):
    """The champion cannot be judged beside the new spec's candidate: it reads columns the new
    spec does not load, counts hours another way, promises at another level, or learnt from
    later history than the candidate's."""


def check_champion_reads(
    champion: EtaModel, history: History, champion_name: str = "the champion"
) -> None:
    """Refuse, before anything is trained or registered, a history the champion cannot quote.

    Under one registered name the champion and the candidate must describe the same items: a
    spec for another dataset (deliveries registered as ``tickets``) would otherwise stop the
    comparison deep in the features with a bare column name.
    """
    old, new = champion.spec, history.spec
    missing = [c for c in old.feature_columns if c not in history.frame.columns]
    if missing:  # a history holds only its spec's columns, whatever else the file has
        raise ChampionMismatch(
            f"{champion_name} reads column(s) {missing} that the new spec {new.name!r} "
            f"(features {list(new.feature_columns)}) does not load from {history.source}: the "
            "champion's spec differs, and the champion is judged only on a history that holds "
            "its columns. Nothing was registered; declare them in the new spec, or register a "
            "model with other features, or of another dataset, under its own name (--name)"
        )
    if _hours_counted(old) != _hours_counted(new):  # durations, promises and features alike
        raise ChampionMismatch(
            f"{champion_name} counts time on the {old.clock} clock ({_clock_words(old)}), the "
            f"new spec {new.name!r} on the {new.clock} clock ({_clock_words(new)}): their "
            "promises are in different hours and cannot be judged on one holdout. Nothing was "
            "registered; register the new model under its own name (--name), or retire the "
            "champion's alias first"
        )
    if old.confidence != new.confidence:
        # Judged at the new level, a P90 champion looked over-padded against an 80% target and
        # gave way to a P80 candidate: the promise customers get dropped without a decision.
        raise ChampionMismatch(
            f"{champion_name} promises at P{old.confidence * 100:g}, the new spec "
            f"{new.name!r} at P{new.confidence * 100:g}: promoting it would change the level "
            "customers are promised at, which a retrain does not decide. Nothing was "
            "registered; to change the level on purpose, register the new model (eta train "
            f"--register) and point @{CHAMPION} at its version, or register it under its own "
            "name (--name)"
        )
    if history.as_of < champion.as_of_:
        # Registered anyway, it became @challenger: the alias for the latest candidate, now a
        # model older than the one in service (a tester's --as-of before the champion's).
        raise ChampionMismatch(
            f"the export, as of {history.as_of:%Y-%m-%d %H:%M} UTC, is older than the history "
            f"of {champion_name} (as of {champion.as_of_:%Y-%m-%d %H:%M} UTC): no item "
            "in it started after the champion was trained, so the two cannot be compared on "
            "outcomes neither has seen, and waiting for more outcomes will not change that. "
            "Nothing was registered; retrain on an export newer than the champion's (a later "
            "--as-of, or none)"
        )


def _same_as_the_champion(holdout: Holdout, as_of: pd.Timestamp) -> str:
    """Why a candidate whose shadow promised exactly what the champion did is not promoted.

    The shadow learns what was known when the holdout began, which is never before the
    champion's cut-off; a retrain the month after a promotion trains it on the champion's own
    history, and the two tie on every item. A tester's monthly loop read "not tighter" and
    could not tell that the gate had compared the champion with itself."""
    days = (as_of - holdout.start) / pd.Timedelta(days=1)
    return (
        f"the candidate's shadow, trained on what was known on {holdout.start:%Y-%m-%d} (the "
        "champion's own cut-off), promised exactly what the champion did: this holdout cannot "
        f"tell them apart, and what the candidate learnt from the {days:.0f} days since is "
        "untested; a retrain on a later export, whose holdout starts after that cut-off, can "
        "judge it"
    )


def _hours_counted(spec: DatasetSpec) -> tuple:
    """What sets how a spec counts an item's hours: wall time alike in every zone and calendar;
    business time by the calendar's hours and holidays in its zone."""
    return ("wall",) if spec.clock == "wall" else ("business", spec.calendar, spec.timezone)


def _clock_words(spec: DatasetSpec) -> str:
    if spec.clock == "wall":
        return f"zone {spec.timezone}"
    return f"zone {spec.timezone}, calendar {spec.calendar.model_dump(exclude_defaults=True)}"


def compare(
    recipe: EtaModel,
    history: History,
    champion: EtaModel | None,
    *,
    holdout_days: float = 28.0,
    gate: Gate | None = None,
) -> Comparison:
    """Judge ``recipe`` (an unfitted :class:`EtaModel`: spec and settings) against ``champion``.

    The recipe's shadow is trained on what was known at the holdout's start. Both models then
    promise every holdout item at the spec's confidence as they would in service: in time order,
    with online corrections learned from outcomes as they become known (a replay backtest). They
    are judged on the same items: those whose outcome is known for both promises.
    """
    gate = gate or Gate()
    champion_as_of = None
    if champion is not None:
        check_champion_reads(champion, history)
        champion_as_of = pd.Timestamp(champion.as_of_)
    holdout = Holdout.before(history, holdout_days, champion_as_of)
    spec = recipe.spec
    items = period_items(history, holdout.start, holdout.end)
    short = holdout.start <= history.frame[START].min()  # nothing before it to train on
    if short or len(items) < gate.min_items:
        why = _too_few(len(items), champion_as_of, holdout, short, holdout_days, gate)
        empty = promise_metrics(np.array([]), np.array([]), np.array([]), spec.confidence)
        return Comparison(
            holdout,
            spec.confidence,
            empty,
            None,
            None,
            False,
            [why],
            pd.DataFrame(),
            history.as_of,
            champion_as_of,
        )
    shadow = run_backtest(
        history, holdout.start, holdout.end, replay=True, settings=recipe.settings
    )
    promises = {"candidate": shadow.quotes["promise_hours"].to_numpy(float)}
    if champion is not None:
        champion = copy.copy(champion)  # replay relearns its online corrections on a copy
        # In the case the champion learnt them ('technical' where the export now writes
        # 'TECHNICAL'), as it reads them in service; else every value was new to it.
        seen = replace(history, frame=champion.spelled_as_learnt(history.frame))
        own = champion.spelled_as_learnt(items)
        features = champion.features(own, Events.from_frame(seen.frame))
        offsets = replay_offsets(champion, seen, own, features)
        quoted = quote_items(champion, own, features=features, offsets=offsets, online=False)
        promises["champion"] = quoted["promise_hours"].to_numpy(float)
    actual = known_outcomes(items, np.nanmax(np.vstack(list(promises.values())), axis=0))
    segments = items["segment"].to_numpy()
    metrics = {
        name: with_unknowns_estimated(
            promise_metrics(actual, promise, segments, spec.confidence),
            items,
            promise,
            spec.confidence,
        )
        for name, promise in promises.items()
    }
    tighter = None
    if champion is not None:
        day = items[START].dt.tz_convert(spec.timezone).dt.date.to_numpy()
        tighter = Tighter.measure(
            actual, promises["candidate"], promises["champion"], day, spec.confidence
        )
    promote, reasons = gate.decide(
        metrics["candidate"], metrics.get("champion"), spec.confidence, tighter
    )
    if champion is not None and np.array_equal(*promises.values(), equal_nan=True):
        reasons = [_same_as_the_champion(holdout, pd.Timestamp(history.as_of))]
    quotes = pd.DataFrame(
        {
            "start": items[START].to_numpy(),
            "segment": segments,
            "actual_hours": actual,
            "hours": items[HOURS].to_numpy(float),
            "finished": items[FINISHED].to_numpy(bool),
            **{f"{name}_promise_hours": p for name, p in promises.items()},
        }
    )
    return Comparison(
        holdout,
        spec.confidence,
        metrics["candidate"],
        metrics.get("champion"),
        tighter,
        promote,
        reasons,
        quotes,
        history.as_of,
        champion_as_of,
    )


def _too_few(
    items: int,
    champion_as_of: pd.Timestamp | None,
    holdout: Holdout,
    short: bool,
    days: float,
    gate: Gate,
) -> str:
    """Why there is nothing to judge, and what would change it. A history ``short``er than
    the holdout has nothing before it to train the shadow on: no outcome arriving later fixes
    that (a report once advised waiting for them). Only a holdout cut short by the champion's
    training cut-off fills up with time; one of its full ``days`` needs more days
    (``--holdout-days 1`` was told to wait, which never helps). A history older than the
    champion's is refused before (:func:`check_champion_reads`)."""
    if short:
        return (
            f"the history starts on {holdout.start:%Y-%m-%d}, less than the holdout's days "
            f"before its last start whose promise has come due ({holdout.end:%Y-%m-%d}): "
            f"{items} items to judge, and no history before them to train the shadow on; "
            "retrain on a longer export, or pass a shorter --holdout-days"
        )
    if champion_as_of is not None and holdout.start <= champion_as_of:
        return (
            f"only {items} items started between the champion's training cut-off and the last "
            f"one whose promise has come due (need {gate.min_items}); retrain again when more "
            "outcomes are known"
        )
    return (
        f"the holdout of {days:g} day{'' if days == 1 else 's'} ({holdout.start:%Y-%m-%d %H:%M}"
        f" to {holdout.end:%Y-%m-%d %H:%M} UTC) holds {items} items (need {gate.min_items}): "
        "pass a longer --holdout-days"
    )


def write_report(comparison: Comparison, name: str, directory: Path) -> Path:
    """A Markdown report with plots: what was compared, the numbers, the decision and why.

    The directory is the report's own: what an earlier run left there goes first, else its
    plots were logged to MLflow with this run's version, of a comparison this run never made."""
    directory.mkdir(parents=True, exist_ok=True)
    for earlier in directory.iterdir():
        if earlier.is_file():
            earlier.unlink()
    models = ["candidate"] + (["champion"] if comparison.champion is not None else [])
    if len(comparison.quotes):
        _plot(comparison, models, directory)
    rows = [
        ("known outcomes", "items", "{:,}"),
        ("not known yet (open, promise still running)", "not_yet_known", "{:,}"),
        ("on-time rate (unknowns estimated)", "on_time_rate", "{:.1%}"),
        ("… on known outcomes only", "on_time_rate_known", "{:.1%}"),
        ("… if every unknown is broken", "on_time_rate_at_least", "{:.1%}"),
        ("… if every unknown is kept", "on_time_rate_at_most", "{:.1%}"),
        ("gap to target", "gap", "{:+.1%}"),
        (f"worst segment of {MIN_SEGMENT_ITEMS}+ items", "worst_segment_on_time_rate", "{:.1%}"),
        ("… which one", "worst_segment", "{}"),
        ("mean promise (clock h)", "mean_promise_hours", "{:.1f}"),
        ("mean padding of kept promises (h)", "mean_padding_hours", "{:.1f}"),
        ("mean lateness of broken promises (h)", "mean_lateness_hours", "{:.1f}"),
        ("pinball loss", "pinball_loss", "{:.3f}"),
    ]
    metrics = {"candidate": comparison.candidate, "champion": comparison.champion}
    table = ["| measure | " + " | ".join(models) + " |", "| --- |" + " ---: |" * len(models)]
    for label, key, fmt in rows:
        cells = [_cell(metrics[m].get(key), fmt) for m in models]
        table.append(f"| {label} | " + " | ".join(cells) + " |")
    h = comparison.holdout
    decision = "**promoted**" if comparison.promote else "**not promoted**"
    text = "\n".join(
        [
            f"# Retrain report: {name}",
            "",
            _what_was_compared(comparison),
            "",
            *(table if len(comparison.quotes) else ["Nothing was judged."]),
            "",
            *_tighter_line(comparison.tighter),
            *_segment_table(comparison, models),
            f"Decision: {decision}.",
            "",
            *(f"- {reason}" for reason in comparison.reasons),
            "",
            *(PLOTS if len(comparison.quotes) else []),
            "",
        ]
    )
    path = directory / "report.md"
    path.write_text(text, encoding="utf-8")
    (directory / "comparison.json").write_text(
        json.dumps(
            {
                "holdout": [h.start.isoformat(), h.end.isoformat()],
                "as_of": comparison.as_of and comparison.as_of.isoformat(),
                "champion_as_of": comparison.champion_as_of
                and comparison.champion_as_of.isoformat(),
                "candidate": comparison.candidate,
                "champion": comparison.champion,
                "tighter": comparison.tighter and comparison.tighter.__dict__,
                "promote": comparison.promote,
                "reasons": comparison.reasons,
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    return path


def _what_was_compared(comparison: Comparison) -> str:
    """The holdout and the two models, as they were: a champion that was not judged (too few
    outcomes since it was trained) is still named, and an empty holdout is not
    written as a range from one instant to the same one."""
    h = comparison.holdout
    champion = comparison.champion_as_of
    if h.empty and champion is not None:
        export = (
            ""
            if comparison.as_of is None
            else f" (export as of {comparison.as_of:%Y-%m-%d %H:%M} UTC)"
        )
        return (
            "Holdout: none. The champion is judged only on items that started after its "
            f"training cut-off ({champion:%Y-%m-%d %H:%M} UTC); the items of this export whose "
            f"outcomes are known started before {h.end:%Y-%m-%d %H:%M} UTC{export}."
        )
    text = (
        f"Holdout: items starting {h.start:%Y-%m-%d %H:%M} to {h.end:%Y-%m-%d %H:%M} UTC, "
        f"promises at P{comparison.confidence * 100:.0f}, in time order with online "
        "corrections from outcomes as they became known. The candidate is judged by its "
        "shadow, trained on what was known at the holdout's start"
    )
    if comparison.champion is not None:
        return text + "; the champion as it is (it was trained before the holdout)."
    if champion is not None:
        return text + (
            f". The champion (trained on data as of {champion:%Y-%m-%d %H:%M} UTC) was not "
            "judged; the reasons below say why."
        )
    return text + ". There is no champion to compare with."


PLOTS = (
    "![On-time rate by segment](on_time_by_segment.png)",
    "![On-time rate by week](on_time_by_week.png)",
    "![Padding](padding.png)",
)


def _plot(comparison: Comparison, models: list[str], directory: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quotes = comparison.quotes
    known = quotes[quotes["actual_hours"].notna()]
    target = comparison.confidence
    fig, ax = plt.subplots(figsize=(8, 4))
    by_segment = on_time_by(quotes, models, quotes["segment"])[models]
    by_segment.plot.bar(ax=ax)
    ax.axhline(target, color="black", linestyle="--", label=f"target {target:.0%}")
    ax.set_ylim(max(0.0, by_segment.min().min() - 0.1), 1.0)
    ax.set_ylabel("promises kept")
    ax.set_title("On-time rate by segment (outcomes not known yet estimated)")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(directory / "on_time_by_segment.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    week = pd.to_datetime(quotes["start"], utc=True).dt.tz_localize(None).dt.to_period("W")
    weekly = on_time_by(quotes, models, week)
    weekly.index = weekly.index.to_timestamp()
    for m in models:
        [line] = ax.plot(weekly.index, weekly[m], marker="o", label=f"{m} (unknowns estimated)")
        ax.plot(
            weekly.index,
            weekly[f"{m}_known"],
            ":",
            color=line.get_color(),
            label=f"{m}, known only",
        )
    ax.axhline(target, color="black", linestyle="--", label=f"target {target:.0%}")
    ax.set_ylabel("promises kept")
    ax.set_title("On-time rate by week of start (plotted at the week's Monday)")
    ax.legend(fontsize="small")
    week_axis(ax)  # 'Jun' once, not '2025-05-292025-06-01' overprinted
    fig.tight_layout()
    fig.savefig(directory / "on_time_by_week.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    for m in models:
        padding = known[f"{m}_promise_hours"] - known["actual_hours"]
        ax.hist(padding.clip(-100, 200), bins=60, alpha=0.5, label=m)
    ax.axvline(0, color="black")
    ax.set_xlabel("promise minus actual (clock hours; left of 0 = broken)")
    ax.set_title("Padding")
    ax.legend()
    fig.tight_layout()
    fig.savefig(directory / "padding.png", dpi=110)
    plt.close(fig)


def on_time_by(quotes: pd.DataFrame, models: list[str], by: pd.Series) -> pd.DataFrame:
    """Each model's on-time rate per value of ``by`` (a segment, a week): with the unknown
    outcomes counted in (mean :func:`eta.evaluation.kept_probability`, column named as the
    model) and over known outcomes only (``<model>_known``).

    The last weeks of a holdout hold the most promises still running, and the ones still
    running are the slow items: over known outcomes only, the weekly plot ran high exactly
    where the reader looks first, at the latest week."""
    known = quotes["actual_hours"].notna()
    columns = {}
    for m in models:
        promise = quotes[f"{m}_promise_hours"]
        kept = kept_probability(quotes["hours"], quotes["finished"], promise.to_numpy(float))
        columns[m] = pd.Series(kept, index=quotes.index).groupby(by).mean()
        columns[f"{m}_known"] = (quotes["actual_hours"] <= promise)[known].groupby(by[known]).mean()
    return pd.DataFrame(columns)


def _tighter_line(tighter: Tighter | None) -> list[str]:
    if tighter is None or math.isnan(tighter.by):
        return []
    way = "lower" if tighter.by >= 0 else "higher"  # not "lower by -1.071"
    return [
        f"On the same items the candidate's pinball loss is {way} by {abs(tighter.by):.3f} "
        f"(standard error {tighter.standard_error:.3f}, items of one day counted together).",
        "",
    ]


SEGMENTS_IN_REPORT = 15
"""The report's table by segment shows this many segments, the candidate's worst first."""


def _segment_table(comparison: Comparison, models: list[str]) -> list[str]:
    """Each segment's items and on-time rate per model (unknown outcomes counted in), the
    candidate's worst first: the bar chart alone named no segment's size, and the worst
    segment row counts only segments of :data:`~eta.evaluation.MIN_SEGMENT_ITEMS` items."""
    quotes = comparison.quotes
    if not len(quotes) or quotes["segment"].nunique() < 2:
        return []
    rates = on_time_by(quotes, models, quotes["segment"])
    rates["items"] = quotes.groupby("segment").size()
    rates = rates.sort_values("candidate").head(SEGMENTS_IN_REPORT)
    table = [
        "| segment | items | " + " | ".join(models) + " |",
        "| --- | ---: |" + " ---: |" * len(models),
    ]
    for segment, row in rates.iterrows():
        cells = [_cell(row[m], "{:.1%}") for m in models]
        table.append(f"| {segment} | {int(row['items']):,} | " + " | ".join(cells) + " |")
    shown = f", the {len(rates)} worst" if quotes["segment"].nunique() > len(rates) else ""
    return [f"On time by segment{shown} (the candidate's worst first):", "", *table, ""]


def _cell(value: object, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return fmt.format(value)


@dataclass(frozen=True)
class RetrainResult:
    comparison: Comparison
    version: str | None
    """The version registered; None when nothing was (see ``identical_to``)."""
    run_id: str
    report: Path
    model_dir: Path
    identical_to: tuple[str, str] | None = None
    """The alias and version (``("champion", "3")``) whose files the candidate's are, byte for
    byte; nothing was registered then."""


def retrain_and_promote(
    history: History,
    name: str,
    out: Path,
    *,
    settings: Settings | None = None,
    holdout_days: float = 28.0,
    gate: Gate | None = None,
    data: Path | None = None,
) -> RetrainResult:
    """Train on the whole history, compare with the champion, register, move the alias.

    The new version is registered (every candidate is kept and findable); the alias
    ``@champion`` moves to it only when the gate says so, else ``@challenger`` does; neither
    moves when the export differs from the champion's history as a faulty one would
    (:func:`export_changed`). ``data``,
    the file the history was read from, is recorded with its rows and content hash, so that a
    version can be traced to the export it learnt from even after the file is overwritten.

    A candidate whose files are byte for byte a registered version's (the same history, spec
    and settings: a scheduled job run twice on one export) is not registered again: a second
    version of the same model would only blur which export each version stands for. The run is
    still logged, and ``identical_to`` names the alias and version. Identical to the champion,
    the result is *not promoted*: the champion stays in service, which is what a scheduler's
    "not promoted" means. Identical to the challenger (a candidate not promoted before, the
    export unchanged since), the gate decides as for any candidate, and a promotion moves
    ``@champion`` to the challenger's version.
    """
    from eta import tracking

    recipe = EtaModel(history.spec, settings)
    champion = tracking.load_registered(name, CHAMPION)
    if champion is not None:
        check_champion_reads(
            champion.model, history, f"the champion {name} version {champion.version}"
        )
    judged = None if champion is None else champion.model
    comparison = compare(recipe, history, judged, holdout_days=holdout_days, gate=gate)
    if champion is None:
        comparison = without_champion(comparison, name)
    model = EtaModel(history.spec, settings).fit(history)
    changed = [] if champion is None else export_changed(model, champion.model)
    if changed:
        comparison = held(comparison, changed)
    # What looked wrong in the export goes where the decision is read (the report, the run), not
    # only to a terminal: a tester's export without its open tickets, and one with a column all
    # blank, were refused like any candidate, their warnings nowhere in the report or run.
    doubted = [f"check the data: {doubt}" for doubt in history.doubts]
    comparison = replace(comparison, reasons=[*comparison.reasons, *doubted])
    model_dir = model.save(out / "model")
    fingerprint = tracking.model_fingerprint(model_dir)
    # The challenger's files, read once: for whether the candidate repeats them, and for
    # whether their history is later than the candidate's.
    challenger = tracking.registered_files(name, CHALLENGER)
    same = _registered_as(fingerprint, champion, challenger)
    identical = same is not None
    if same is not None:
        alias, version = same
        promote = comparison.promote and alias == CHALLENGER
        identical = _identical(name, alias, version, promote)
        # The champion's twin is judged by nothing but the export's doubts; the challenger's
        # keeps the gate's reasons, which hold them already.
        reasons = [*comparison.reasons, identical] if alias == CHALLENGER else [identical, *doubted]
        comparison = replace(comparison, promote=promote, reasons=reasons)
    stays = None if comparison.promote else _later_challenger(challenger, model.as_of_)
    if changed and stays is None:
        stays = _doubted_challenger(challenger)
    if stays is not None and same is None:
        comparison = replace(comparison, reasons=[*comparison.reasons, stays])
    report = write_report(comparison, name, out / "report")
    logged = tracking.log_run(
        f"retrain {name}",
        {
            "spec": name,
            "as_of": model.info_["as_of"],
            "champion_version": champion.version if champion else "none",
            "holdout_days": holdout_days,
            "holdout_start": comparison.holdout.start.isoformat(),
            "holdout_end": comparison.holdout.end.isoformat(),
            "model_sha256": fingerprint,
            **tracking.data_params(data, history),
            **model.settings.__dict__,
        },
        _run_metrics(comparison),
        model_dir=None if identical else model_dir,  # the champion's run holds these files
        files=sorted((out / "report").iterdir()),
        register_as=None if identical else name,
    )
    if same is not None:
        if comparison.promote:
            tracking.set_alias(name, CHAMPION, same[1])
        return RetrainResult(comparison, None, logged["run_id"], report, model_dir, same)
    if comparison.promote or stays is None:
        tracking.set_alias(name, CHAMPION if comparison.promote else CHALLENGER, logged["version"])
    return RetrainResult(comparison, logged["version"], logged["run_id"], report, model_dir)


def export_changed(candidate: EtaModel, champion: EtaModel) -> list[str]:
    """Why to look at the export before either alias moves: it differs from the champion's
    history as a faulty export would (durations in another unit, values renamed, cut short)."""
    said = [
        durations_moved(candidate, champion),
        *renamed_values(candidate, champion),
        window_shrunk(candidate, champion),
    ]
    return [reason for reason in said if reason]


def held(comparison: Comparison, changed: list[str]) -> Comparison:
    """Not promoted, whatever the gate said, while the export differs from the champion's
    history (:func:`export_changed`): a tester's export with 'Billing' renamed in every row was
    promoted, and live tickets still written 'Billing' kept 80% of their promises. A change the
    business made is promoted by hand, once someone has looked."""
    said = [*comparison.reasons, *changed]
    if comparison.promote:
        said.append(
            "not promoted while the export differs from the champion's history as above; if "
            f"the change is real, move @{CHAMPION} to this candidate's version by hand"
        )
    return replace(comparison, promote=False, reasons=said)


DURATIONS_MOVED = 2.0
"""A history whose median finish is this many times longer or shorter than the champion's
differs from it as a faulty export would (:func:`export_changed`): no alias moves."""


def durations_moved(candidate: EtaModel, champion: EtaModel) -> str | None:
    """Why to look at the export, when its items took a median time far from the champion's
    history's (models saved before they kept it say nothing). An export with every duration
    divided by three went through a retrain without a word: the candidate was refused, and the
    champion was judged against outcomes three times too fast (84.2% kept, not 86.9%)."""
    new = candidate.info_.get("median_finish_hours", 0.0)
    old = getattr(champion, "info_", {}).get("median_finish_hours", 0.0)
    if not (new > 0 and old > 0) or 1 / DURATIONS_MOVED < new / old < DURATIONS_MOVED:
        return None
    ratio, way = (new / old, "longer") if new > old else (old / new, "shorter")
    return (
        f"check the export: its finished items took a median of {new:,.1f} clock hours, "
        f"{ratio:.1f} times {way} than the champion's history ({old:,.1f} h); a changed export "
        "(another unit, a filter, another clock) judges both models wrongly"
    )


def window_shrunk(candidate: EtaModel, champion: EtaModel) -> str | None:
    """Why to look at the export, when it spans less than half the champion's history: a
    tester's export cut to its last three weeks (946 rows against 20,545) was refused as too
    short for the holdout, and never called truncated."""
    spans = []
    for model in (candidate, champion):
        window = getattr(model, "info_", {}).get("training_window") or []
        if len(window) != 2:
            return None
        spans.append(pd.Timestamp(window[1]) - pd.Timestamp(window[0]))
    new, old = spans
    if new * 2 >= old:
        return None
    first = pd.Timestamp(candidate.info_["training_window"][0])
    return (
        f"check the export: it starts on {first:%Y-%m-%d} and spans {new.days} days, against "
        f"{old.days} of the champion's history; truncated? A model of a cut export knows less "
        "than the one it would replace"
    )


def renamed_values(candidate: EtaModel, champion: EtaModel) -> list[str]:
    """Why to look at the export, per category column, when values the champion learnt are
    gone from it while new ones came: a tester's export renamed 'Billing' to 'billing &
    payments' in every row, and the candidate was promoted without a word; live tickets still
    written 'Billing' then kept 80% of their promises, where the champion kept 89%. Columns of
    more than :data:`RENAMED_FROM_VALUES` values (sellers, stores) come and go as a business
    does, and are not doubted."""
    said = []
    for column, known in getattr(champion, "categories_", {}).items():
        now = candidate.categories_.get(column)
        if now is None or len(known) > RENAMED_FROM_VALUES:
            continue
        gone = [v for v in known if v not in set(now) and v != MISSING]
        came = [v for v in now if v not in set(known) and v != MISSING]
        if gone and came:
            said.append(
                f"check the export: {column} values the champion learnt are gone from it "
                f"({some_of(gone)}) and new ones came ({some_of(came)}); renamed? Items still "
                "written the old way are quoted by the new model as values it never saw"
            )
    return said


def without_champion(comparison: Comparison, name: str) -> Comparison:
    """A first candidate not promoted leaves nothing to serve: say so (a tester's first run
    registered version 1 as @challenger and the service then served nothing, unexplained)."""
    if comparison.promote:
        return comparison
    said = (
        f"there is no @{CHAMPION} of {name} yet, so nothing answers to models:/{name}@"
        f"{CHAMPION}: promote a version by hand (the registry's alias) or register one with "
        "'eta train --register', whose first version becomes the champion"
    )
    return replace(comparison, reasons=[*comparison.reasons, said])


def _registered_as(
    fingerprint: str,
    champion: tracking.Registered | None,
    challenger: tracking.RegisteredFiles | None,
) -> tuple[str, str] | None:
    """The alias and version whose files are the candidate's, champion first; None if neither.
    The challenger's files are compared, not loaded: a challenger that no longer loads (a spec
    edited by hand) is then no reason for the retrain to stop."""
    if champion is not None and champion.fingerprint == fingerprint:
        return CHAMPION, champion.version
    if challenger is not None and challenger.fingerprint == fingerprint:
        return CHALLENGER, challenger.version
    return None


def _later_challenger(
    challenger: tracking.RegisteredFiles | None, as_of: pd.Timestamp
) -> str | None:
    """Why ``@challenger`` stays where it is: its version learnt from a later history than a
    candidate trained on data as of ``as_of`` (a tester's retrain on an export as of 1 November
    moved it back from a version of January's); None to move it."""
    if challenger is None or not challenger.as_of or pd.Timestamp(challenger.as_of) <= as_of:
        return None
    return (
        f"@{CHALLENGER} stays on version {challenger.version}, which learnt from a later "
        f"history (as of {pd.Timestamp(challenger.as_of):%Y-%m-%d %H:%M} UTC) than this "
        f"candidate's ({as_of:%Y-%m-%d %H:%M} UTC)"
    )


def _doubted_challenger(challenger: tracking.RegisteredFiles | None) -> str:
    """Why ``@challenger`` does not move to a candidate of a doubted export: a tester's export
    cut to three weeks became the challenger, the version one click from service."""
    where = f"stays on version {challenger.version}" if challenger else "is not set"
    return (
        f"@{CHALLENGER} {where}: this candidate is registered, but no alias moves to a model of "
        "an export that differs from the champion's history as above"
    )


def _identical(name: str, alias: str, version: str, promoted: bool) -> str:
    outcome = (
        f"@{CHAMPION} moves to version {version}"
        if promoted
        else f"@{alias} stays on version {version}"
    )
    return (
        f"the candidate is identical to the {alias}, {name} version {version} (the same model "
        f"files: the same history, spec and settings); nothing was registered, and {outcome}"
    )


def _run_metrics(comparison: Comparison) -> dict[str, float]:
    """Both models' numbers, how much tighter the candidate is, and whether it was promoted."""
    metrics = {f"candidate_{k}": v for k, v in comparison.candidate.items()}
    if comparison.champion is not None:
        metrics |= {f"champion_{k}": v for k, v in comparison.champion.items()}
    if comparison.tighter is not None:
        metrics["pinball_loss_lower_by"] = comparison.tighter.by
        metrics["pinball_loss_lower_by_se"] = comparison.tighter.standard_error
    metrics["promoted"] = float(comparison.promote)
    metrics["data_doubts"] = float(sum(r.startswith("check the ") for r in comparison.reasons))
    return metrics


__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ChampionMismatch",
    "Comparison",
    "Gate",
    "Holdout",
    "RetrainResult",
    "Tighter",
    "check_champion_reads",
    "compare",
    "retrain_and_promote",
    "write_report",
]
