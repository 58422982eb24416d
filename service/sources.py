"""Where served models come from: a directory, or the MLflow registry by alias, cached locally.

A source lists *candidates*: a model name, a fingerprint that changes whenever the model does, and
a way to load it, so a reload loads only what changed. Models load only from their native files
(LightGBM text, JSON, Parquet: :meth:`eta.model.EtaModel.load`), never from a pickle. The registry
is asked only here, on start and on reload, never while answering a quote; what it hands out is
copied into a local cache first, so a restart with the registry down serves the last version it
resolved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from eta.model import BACKTEST_FILE
from eta.spec import DatasetSpec

log = logging.getLogger("eta.service")

Metrics = dict[str, float | str | None]


class SourceError(RuntimeError):
    """A source could not list its models at all (missing directory, registry and cache)."""


@dataclass(frozen=True)
class Candidate:
    name: str
    version: str
    fingerprint: str
    source: str
    directory: Path
    backtest: Metrics

    def snapshot(self, scratch: Path) -> Path:
        """A private copy of the model's files, checked to be the version fingerprinted."""
        copy = Path(shutil.copytree(self.directory, scratch / self.name))
        if fingerprint(copy) != self.fingerprint:
            raise RuntimeError(f"{self.directory}: the model changed while it was being read")
        return copy


class Source(Protocol):
    label: str

    def candidates(self) -> list[Candidate]: ...


def fingerprint(directory: Path) -> str:
    """SHA-256 over every file of a model directory: equal exactly when the model is the same.
    Hidden ones are not the model: a save cut short while writing left its folder of them,
    and an unchanged model read as new lost its live on-time rate."""
    digest = hashlib.sha256()
    files = (p for p in directory.rglob("*") if p.is_file())
    for path in sorted(p for p in files if not _hidden(p.relative_to(directory))):
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _hidden(path: Path) -> bool:
    return any(part.startswith(".") for part in path.parts)


def _backtest(directory: Path) -> Metrics:
    path = directory / BACKTEST_FILE
    if not path.exists():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): v for k, v in raw.items() if isinstance(v, int | float | str) or v is None}


class DirectorySource:
    """A model directory (it has ``model.json``), or a folder of them; named by their specs."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.label = str(self.path)

    def candidates(self) -> list[Candidate]:
        if (self.path / "model.json").exists():
            directories = [self.path]
        elif self.path.is_dir():
            directories = sorted(p for p in self.path.iterdir() if (p / "model.json").exists())
        else:
            directories = []
        if not directories:
            raise SourceError(
                f"{self.path}: no model here (a directory with model.json, or a folder of them)"
            )
        out = []
        for directory in directories:
            try:
                name = DatasetSpec.from_yaml(directory / "spec.yaml").name
            except Exception:  # the load will refuse it with the reason; keep a name to report
                name = directory.name
            print_ = fingerprint(directory)
            out.append(
                Candidate(
                    name, print_[:12], print_, str(directory), directory, _backtest(directory)
                )
            )
        return out


REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[A-Za-z0-9_.-]+)$")


class RegistrySource:
    """``models:/NAME@ALIAS``: the version the alias points to, through a local cache."""

    def __init__(self, uri: str, cache: Path, tracking_uri: str) -> None:
        match = REGISTRY_URI.match(uri)
        if not match:
            raise SourceError(f"{uri!r}: registry models are named like 'models:/tickets@champion'")
        self.label = uri
        self.name, self.alias = match["name"], match["alias"]
        self.cache = Path(cache) / "registry" / self.name
        self.tracking_uri = tracking_uri

    def candidates(self) -> list[Candidate]:
        pointer = self.cache / f"{self.alias}.json"
        try:
            resolved = self._resolve()
        except Exception as exc:  # registry down, alias or files gone: the cache answers
            if isinstance(exc, SourceError):
                why = str(exc)
            elif getattr(exc, "error_code", None) and "not found" in str(exc):  # reached it
                why = f"the registry has no version of {self.name!r} @{self.alias}"
            else:
                why = f"registry unavailable ({_short(exc)})"
            if not pointer.exists():
                raise SourceError(f"{self.label}: {why}, and nothing cached") from None
            resolved = json.loads(pointer.read_text(encoding="utf-8"))
            log.warning("%s: %s; serving cached version %s", self.label, why, resolved["version"])
            origin = "from the local cache"
        else:
            _write_atomically(pointer, json.dumps(resolved))
            origin = "from the registry"
        directory = self.cache / f"v{resolved['version']}"
        print_ = fingerprint(directory)
        return [
            Candidate(
                self.name,
                str(resolved["version"]),
                print_,
                f"{self.label} (version {resolved['version']}, {origin})",
                directory,
                resolved.get("metrics", {}),
            )
        ]

    def _resolve(self) -> dict:
        """Ask the registry which version the alias names; download it unless cached."""
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        import mlflow

        from eta.tracking import local_store

        store = local_store(self.tracking_uri)
        if store is not None and not store.exists():  # MLflow would make an empty one
            raise SourceError(
                f"the tracking store {self.tracking_uri!r} does not exist ({store}): a registry "
                "to serve from is made by 'eta train --register'; is ETA_TRACKING_URI right?"
            )
        client = mlflow.MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        version = client.get_model_version_by_alias(self.name, self.alias)
        directory = self.cache / f"v{version.version}"
        if not (directory / "model.json").exists():
            self.cache.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.cache) as scratch:
                try:
                    local = mlflow.artifacts.download_artifacts(
                        artifact_uri=version.source,
                        dst_path=scratch,
                        tracking_uri=self.tracking_uri,
                    )
                except Exception as exc:  # a deleted local folder fails here
                    raise SourceError(
                        f"version {version.version}: its files at {version.source} cannot be "
                        f"downloaded ({_short(exc)}); were they moved or deleted?"
                    ) from None
                if not (Path(local) / "model.json").exists():  # some stores give an empty one
                    raise SourceError(
                        f"version {version.version}: no model at {version.source}; were its "
                        "files moved or deleted?"
                    )
                shutil.rmtree(directory, ignore_errors=True)
                os.replace(local, directory)
        metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
        return {
            "version": str(version.version),
            "run_id": version.run_id,
            "metrics": dict(metrics),
            "resolved_at": datetime.now(UTC).isoformat(),
        }


def sources_from(
    model_dir: Path | None, registry: tuple[str, ...], state_dir: Path, tracking_uri: str
) -> list[Source]:
    sources: list[Source] = [RegistrySource(uri, state_dir, tracking_uri) for uri in registry]
    if model_dir is not None:
        sources.insert(0, DirectorySource(model_dir))
    return sources


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, path)


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return text if len(text) <= 200 else text[:197] + "..."
