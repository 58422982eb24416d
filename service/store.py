"""The models being served, and how they are replaced: load, check, swap atomically.

A reload loads every changed model off to the side, quotes a few golden items with it, and only
then swaps it in by replacing one dictionary reference. A request holds the deployment it started
with, so requests in flight finish on the old model; a model that fails to load or to answer the
golden items sensibly is refused and the old one keeps serving.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from eta.feedback import OutcomeFeed
from eta.model import EtaModel
from eta.online import OnlineCalibration
from eta.quote import prepare_items, quote_items
from service.schemas import ReloadedModel
from service.sources import Candidate, Metrics, Source, SourceError

log = logging.getLogger("eta.service")
MAX_PROMISE_HOURS = 24 * 365 * 5.0
"""A golden promise further out than five years (wall-clock hours from now) means a broken
model. Measured on the wall clock, not the spec's: five years of business hours (40 a week)
are twenty years away, and such a model passed the check."""


@dataclass(eq=False)
class Deployment:
    """One model as served: what it is, where it came from, and its state since deployment."""

    name: str
    version: str
    source: str
    fingerprint: str
    model: EtaModel
    backtest: Metrics
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    feed: OutcomeFeed | None = None
    """Outcomes reported since deployment (made on the first report, used on the engine
    thread only); they recalibrate this model's online corrections in place."""
    outcomes_file: Path | None = None
    """Where the outcome feed and the online corrections are kept across restarts."""
    outcomes_changed: bool = False
    """Outcomes changed the state since it was last saved."""

    def save_outcomes(self) -> None:
        """Keep what outcomes taught this model (its feed and online corrections), so that a
        restarted service goes on judging the promises it made instead of forgetting them.
        Written atomically: a crash mid-write leaves the previous state. Saving costs ~17 ms per
        1,000 items followed, so the service saves every half minute and on shutdown, not on
        every report (reports are idempotent: whatever a crash loses can be sent again)."""
        if self.feed is None or self.outcomes_file is None or not self.outcomes_changed:
            return
        state = {
            "fingerprint": self.fingerprint,
            "online": self.model.online_.to_dict(),
            "feed": self.feed.to_dict(),
        }
        self.outcomes_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.outcomes_file.with_suffix(".partial")
        partial.write_text(json.dumps(state), encoding="utf-8")
        os.replace(partial, self.outcomes_file)
        self.outcomes_changed = False  # only once written: a failed write is tried again

    def restore_outcomes(self) -> bool:
        """Take up the state :meth:`save_outcomes` kept for these very model files, if any. The
        state of another version is ignored: its positions and segments are not this model's."""
        if self.outcomes_file is None or not self.outcomes_file.exists():
            return False
        trained = self.model.online_
        try:
            state = json.loads(self.outcomes_file.read_text(encoding="utf-8"))
            if state.get("fingerprint") != self.fingerprint:
                return False
            self.model.online_ = OnlineCalibration.from_dict(state["online"])
            self.feed = OutcomeFeed.from_dict(state["feed"], self.model)
        except (OSError, ValueError, LookupError, TypeError, AttributeError) as exc:
            self.model.online_ = trained
            kept = self.outcomes_file.with_suffix(f".unreadable-{datetime.now(UTC):%Y%m%dT%H%M%S}")
            self.outcomes_file.replace(kept)  # kept for a look, never overwritten
            self.feed = None
            log.warning(
                "%s: outcome state not restored (%s), starting afresh; the file is kept as %s",
                self.name,
                exc,
                kept,
            )
            return False
        log.info("%s: outcome state restored (%d judgements)", self.name, self.feed.judgements)
        return True

    def remember_reports(self, previous: Deployment) -> None:
        """Refuse, as ``previous`` (the version this one replaces) would, a report that
        contradicts one made to it (:meth:`eta.feedback.OutcomeFeed.remember_reports`); kept
        with this version's outcome state, across restarts."""
        if previous.feed is None:
            return
        self.feed = OutcomeFeed.for_model(self.model)
        self.feed.remember_reports(previous.feed)
        self.outcomes_changed = True


class NameClash(RuntimeError):
    """Two model directories whose specs share a name: only one can answer to it."""


class ModelRefused(RuntimeError):
    """A model loaded but failed the golden check."""


def golden_check(model: EtaModel, now: pd.Timestamp | None = None) -> None:
    """Quote a few typical items, new and in progress; refuse a model whose answers are not
    promises: missing, unordered, in the past, or absurdly far away."""
    spec = model.spec
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    ages = pd.to_timedelta([0, 0, 1, 24, 72, 240], unit="h")
    n = len(ages)
    raw = pd.DataFrame({spec.start: [(now - age).isoformat() for age in ages]})
    for column in spec.features.categorical:
        known = model.categories_.get(column) or ["(missing)"]
        raw[column] = [known[i % len(known)] for i in range(n)]
    for column in spec.features.numeric:
        raw[column] = np.nan
    items, errors = prepare_items(raw, spec)
    if (errors != "").any():
        raise ModelRefused(f"golden items rejected: {errors[errors != ''].iloc[0]}")
    try:
        quotes = quote_items(model, items, now=now)
    except Exception as exc:
        raise ModelRefused(f"golden items could not be quoted: {exc}") from exc
    times = quotes[["earliest_at", "likely_at", "follow_up_at", "promise_at"]]
    if times.isna().any().any():
        raise ModelRefused("golden items got no quote")
    told = times[["earliest_at", "likely_at", "promise_at"]]
    ordered = (told.diff(axis=1).iloc[:, 1:] >= pd.Timedelta(0)).all().all()
    # The follow-up comes before the promise, and after the likely time unless the item is
    # escalated: then it comes sooner (see eta.quote), so an item past its promise is no fault.
    follow, waiting = times["follow_up_at"], ~quotes["escalate"].to_numpy(bool)
    ordered &= bool((follow <= times["promise_at"]).all())
    ordered &= bool((follow[waiting] >= times["likely_at"][waiting]).all())
    if not ordered:
        raise ModelRefused(
            "golden quotes are not ordered earliest <= likely <= promise, the follow-up before "
            "the promise and, unless escalated, after the likely time"
        )
    if (quotes["promise_at"] <= now).any():
        raise ModelRefused("a golden promise lies in the past")
    hours = quotes["promise_hours"].to_numpy(float)
    away = ((quotes["promise_at"] - now) / pd.Timedelta(hours=1)).to_numpy(float)
    if not (np.isfinite(hours).all() and (hours > 0).all() and (away < MAX_PROMISE_HOURS).all()):
        raise ModelRefused(
            f"golden promises out of range: {hours.round(1).tolist()} clock hours, the furthest "
            f"{away.max() / 24 / 365:.1f} years away"
        )
    if (quotes["customer_message"].str.len() == 0).any():
        raise ModelRefused("a golden quote has no customer message")


class ModelStore:
    """Name -> :class:`Deployment`, swapped as a whole so a reader never sees half a reload.

    A changed model is first copied to a private snapshot (so nobody can change its files
    between the check and the load), vetted in a throwaway process (:mod:`service.vet`: a file
    that crashes the loader crashes only that process), then loaded here and checked again.
    """

    def __init__(self, sources: list[Source], scratch: Path) -> None:
        self.sources = sources
        self.scratch = Path(scratch)
        self._deployed: dict[str, Deployment] = {}
        self._reloading = threading.Lock()

    @property
    def deployed(self) -> Mapping[str, Deployment]:
        return self._deployed

    def get(self, name: str) -> Deployment | None:
        return self._deployed.get(name)

    def reload(self) -> list[ReloadedModel]:
        """Load what changed in every source, check it, swap it in; one reload at a time."""
        with self._reloading:
            results: dict[str, ReloadedModel] = {}
            changed: list[Candidate] = []
            claimed: dict[str, str] = {}  # name -> where it is served from
            listed = True
            for source in self.sources:
                try:
                    candidates = source.candidates()
                except (SourceError, OSError) as exc:
                    log.error("%s", exc)
                    results[source.label] = _refused(source.label, None, exc)
                    listed = False
                    continue
                for candidate in candidates:
                    if candidate.name in claimed:  # the first one listed keeps the name
                        clash = NameClash(
                            f"{candidate.source}: its spec is named {candidate.name!r}, which "
                            f"{claimed[candidate.name]} already serves; rename one spec"
                        )
                        log.error("%s", clash)
                        results[candidate.source] = _refused(candidate.source, None, clash)
                        continue
                    claimed[candidate.name] = candidate.source
                    current = self._deployed.get(candidate.name)
                    if current is not None and current.fingerprint == candidate.fingerprint:
                        results[candidate.name] = ReloadedModel(
                            name=candidate.name, outcome="unchanged", version=current.version
                        )
                    else:
                        changed.append(candidate)
            fresh: dict[str, Deployment] = {}
            if changed:
                self.scratch.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryDirectory(dir=self.scratch, prefix="loading-") as scratch:
                    results |= self._load(changed, Path(scratch), fresh)
            deployed = {**self._deployed, **fresh}
            if listed:  # a source that could not be listed may still hold its models
                for name in sorted(set(deployed) - set(claimed)):
                    results[name] = self._remove(deployed.pop(name))
            self._deployed = deployed
            return list(results.values())

    @staticmethod
    def _remove(deployment: Deployment) -> ReloadedModel:
        """A model that is in no source any more stops being served (its outcome state is
        kept, for the same files coming back)."""
        try:
            deployment.save_outcomes()
        except Exception:
            log.exception("saving the outcome state of %s failed", deployment.name)
        log.warning(
            "no longer serving %s version %s: %s holds it no more",
            deployment.name,
            deployment.version,
            deployment.source,
        )
        return ReloadedModel(name=deployment.name, outcome="removed", version=deployment.version)

    def _load(
        self, changed: list[Candidate], scratch: Path, fresh: dict[str, Deployment]
    ) -> dict[str, ReloadedModel]:
        results: dict[str, ReloadedModel] = {}
        snapshots: dict[str, Path] = {}
        for candidate in changed:
            try:
                snapshots[candidate.name] = candidate.snapshot(scratch)
            except Exception as exc:
                results[candidate.name] = self._refuse(candidate, exc)
        verdicts = _vet(list(snapshots.values()))
        for candidate in changed:
            if candidate.name not in snapshots:
                continue
            snapshot = snapshots[candidate.name]
            try:
                if verdicts[str(snapshot)]:
                    raise ModelRefused(verdicts[str(snapshot)])
                model = EtaModel.load(snapshot)
                golden_check(model)
            except Exception as exc:
                results[candidate.name] = self._refuse(candidate, exc)
                continue
            fresh[candidate.name] = Deployment(
                candidate.name,
                candidate.version,
                candidate.source,
                candidate.fingerprint,
                model,
                candidate.backtest,
                outcomes_file=self.scratch / "outcomes" / f"{_file_name(candidate.name)}.json",
            )
            previous = self._deployed.get(candidate.name)
            if not fresh[candidate.name].restore_outcomes() and previous is not None:
                fresh[candidate.name].remember_reports(previous)
            log.info(
                "serving %s version %s from %s", candidate.name, candidate.version, candidate.source
            )
            results[candidate.name] = ReloadedModel(
                name=candidate.name, outcome="loaded", version=candidate.version
            )
        return results

    @staticmethod
    def _refuse(candidate: Candidate, exc: BaseException) -> ReloadedModel:
        log.error(
            "refused %s version %s from %s: %s",
            candidate.name,
            candidate.version,
            candidate.source,
            exc,
        )
        return _refused(candidate.name, candidate.version, exc)


VET_TIMEOUT = 300.0


def _vet(directories: list[Path]) -> dict[str, str]:
    """Load and golden-check model directories in a child process: directory -> error ('' ok)."""
    if not directories:
        return {}
    import eta
    import service

    paths = {str(Path(m.__file__).resolve().parent.parent) for m in (eta, service)}
    env = os.environ | {"PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "service.vet", *map(str, directories)],
            capture_output=True,
            text=True,
            errors="replace",  # LightGBM's dying words may be cut mid-character
            timeout=VET_TIMEOUT,
            env=env,
        )
        output = done.stdout
        crash = f"the model crashed the loader (exit status {done.returncode})"
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout or ""
        crash = f"loading took longer than {VET_TIMEOUT:g} s"
    verdicts = {}
    for line in output.splitlines():
        if line.startswith('{"dir"'):
            answer = json.loads(line)
            verdicts[answer["dir"]] = answer["error"]
    unreported = [d for d in directories if str(d) not in verdicts]
    if len(unreported) == 1:
        verdicts[str(unreported[0])] = crash
    else:  # one crash took the others down with it: ask each alone, so only it is blamed
        for directory in unreported:
            verdicts |= _vet([directory])
    return verdicts


def _file_name(name: str) -> str:
    """A model name as a file name (registry names may hold any character)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _refused(name: str, version: str | None, exc: BaseException) -> ReloadedModel:
    reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    return ReloadedModel(name=name, outcome="refused", version=version, reason=reason)
