"""MLflow: every train and backtest run is logged; trained models can be registered.

Models are logged as their native directory (LightGBM text, JSON, Parquet), never as a pickle, and
registered as a plain model version whose source is that directory, so anything that reads the
registry can load them with :meth:`eta.model.EtaModel.load` after downloading the artifacts.
MLflow is imported lazily: it is slow to import and only runs that log need it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eta.settings import get_settings

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

if TYPE_CHECKING:
    from eta.data import History
    from eta.model import EtaModel

MODEL_ARTIFACT = "model"
PACKAGES = {
    "eta": "eta-engine",
    "lightgbm": "lightgbm",
    "scikit-learn": "scikit-learn",
    "pandas": "pandas",
    "numpy": "numpy",
    "mlflow": "mlflow",
}
"""The packages whose versions shape a model (the engine, the trees, the tables, the store),
by the name a run records them under and their distribution name."""


def log_run(
    run_name: str,
    params: Mapping[str, object],
    metrics: Mapping[str, object],
    *,
    model_dir: Path | None = None,
    files: list[Path] | None = None,
    register_as: str | None = None,
) -> dict[str, str]:
    """Log one run; returns its run id and, when registered, the new model version.

    Every run also records :func:`package_versions`, here rather than at each caller, so that
    no kind of run (train, backtest, retrain) can forget them: two versions that quote
    differently with the same data and settings are then told apart by what they ran on.
    """
    mlflow = _mlflow()
    with mlflow.start_run(run_name=run_name) as run:
        params = {**package_versions(), **params}
        mlflow.log_params({k: _short(v) for k, v in params.items()})
        mlflow.log_metrics(
            {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and v == v}
        )
        if model_dir is not None:
            mlflow.log_artifacts(str(model_dir), artifact_path=MODEL_ARTIFACT)
        for path in files or []:
            mlflow.log_artifact(str(path))
        result = {"run_id": run.info.run_id, "tracking_uri": mlflow.get_tracking_uri()}
        if register_as and model_dir is not None:
            result["version"] = register(
                register_as, f"{run.info.artifact_uri}/{MODEL_ARTIFACT}", run
            )
    return result


def register(name: str, source: str, run: object) -> str:
    """Create a model version (the registered model is created on first use)."""
    mlflow = _mlflow()
    client = mlflow.MlflowClient()
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(name, source, run_id=run.info.run_id)
    return str(version.version)


def set_alias(name: str, alias: str, version: str) -> None:
    """Point ``models:/name@alias`` at a version (promotion moves aliases, never stages)."""
    _mlflow().MlflowClient().set_registered_model_alias(name, alias, version)


def alias_version(name: str, alias: str) -> str | None:
    """The version behind ``models:/name@alias``, or None when the alias (or the name) is unset."""
    mlflow = _mlflow()
    try:
        return str(mlflow.MlflowClient().get_model_version_by_alias(name, alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def data_params(data: Path | None, history: History) -> dict[str, object]:
    """Which export a run learnt from: its file (an absolute path: a relative one means nothing
    outside the folder the run started in), the rows kept and set aside, and its SHA-256, so
    that a registered version can be traced to its export after the file is overwritten."""
    rows = {"data_rows": len(history.frame), "data_rejected_rows": len(history.rejected)}
    if data is None:
        return rows
    path = Path(data).resolve()
    return {"data": str(path), **rows, "data_sha256": file_fingerprint(path)}


def package_versions() -> dict[str, str]:
    """The installed version of each of :data:`PACKAGES`, as run params ``<package>_version``
    ("not installed" for one that is missing, which a run should still record)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for label, distribution in PACKAGES.items():
        try:
            versions[f"{label}_version"] = version(distribution)
        except PackageNotFoundError:
            versions[f"{label}_version"] = "not installed"
    return versions


def file_fingerprint(path: Path) -> str:
    """SHA-256 of a file's bytes: which export a run saw, even after the file is overwritten."""
    import hashlib

    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def model_fingerprint(directory: Path) -> str:
    """SHA-256 over a model directory's files, each as its relative path, its size and its
    bytes, in sorted order: equal exactly when two models are the same. A saved model holds no
    time of saving (:meth:`eta.model.EtaModel.save` writes the same bytes for the same history,
    spec and settings), so every file counts; the size keeps one file's end from passing for
    the next one's name."""
    import hashlib

    directory = Path(directory)
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(f"{len(data)}\0".encode() + data)
    return digest.hexdigest()


def model_uri(name: str, alias: str) -> str:
    return f"models:/{name}@{alias}"


class ArtifactsGone(FileNotFoundError):
    """A registered version's files are not where its ``source`` says: moved or deleted. A
    FileNotFoundError, so that the CLI and the pipelines say it in one line with status 2."""


def download_model(name: str, alias: str, directory: Path) -> Path | None:
    """Download the model behind ``models:/name@alias`` into ``directory`` (None: no alias).

    Raises :class:`ArtifactsGone` when nothing is there to download. MLflow raises nothing
    then (for a local folder or a tracking server alike): it makes an empty folder, which was
    refused as a scratch path that is "not a model directory", or fingerprinted as a model with
    no files, instead of naming the version and where its files were expected.
    """
    mlflow = _mlflow()
    try:
        version = mlflow.MlflowClient().get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    path = Path(
        mlflow.artifacts.download_artifacts(model_uri(name, alias), dst_path=str(directory))
    )
    if not any(p.is_file() for p in path.rglob("*")):
        raise ArtifactsGone(
            f"{name}@{alias} (version {version.version}): no model files at {version.source}; "
            "were they moved or deleted? register the model again (`eta train --register`), "
            f"then move @{alias} to the new version"
        )
    return path


def load_model(name: str, alias: str):
    """The :class:`eta.model.EtaModel` behind ``models:/name@alias``, or None if there is none."""
    registered = load_registered(name, alias)
    return None if registered is None else registered.model


@dataclass(frozen=True)
class Registered:
    """A registered model version as loaded: the model, its version and the
    :func:`model_fingerprint` of its files (what a candidate is compared with byte for byte)."""

    model: EtaModel
    version: str
    fingerprint: str


def load_registered(name: str, alias: str) -> Registered | None:
    """The model version behind ``models:/name@alias``, or None if there is none."""
    from eta.model import EtaModel
    from eta.tables import DataError

    with _downloaded(name, alias) as path:
        if path is None:
            return None
        version = _mlflow().MlflowClient().get_model_version_by_alias(name, alias)
        try:
            model = EtaModel.load(path)
        except FileNotFoundError as exc:  # named the scratch copy, which says nothing
            raise FileNotFoundError(
                f"{name}@{alias} (version {version.version}): its artifacts at {version.source} "
                f"are not a model ({str(exc).partition(': ')[2]}); were they moved or deleted?"
            ) from None
        except DataError as exc:  # a damaged or edited file, named where it is kept
            where = str(exc).replace(str(path), version.source)
            raise type(exc)(f"{name}@{alias} (version {version.version}): {where}") from None
        return Registered(model, str(version.version), model_fingerprint(path))


@dataclass(frozen=True)
class RegisteredFiles:
    """A registered version known by its files, not loaded: its :func:`model_fingerprint` and
    the as-of time of the history it learnt from."""

    version: str
    fingerprint: str
    as_of: str


def registered_files(name: str, alias: str) -> RegisteredFiles | None:
    """The version behind ``models:/name@alias`` by its files, without loading the model; None
    when the alias is unset or the version's files are gone (:class:`ArtifactsGone`). Files
    that are gone are the twin of no candidate, and a retrain that only asks whether it repeats
    the challenger should not stop over them: it registers its candidate as if there were no
    challenger."""
    import json

    try:
        with _downloaded(name, alias) as path:
            if path is None:
                return None
            info = json.loads((path / "model.json").read_text(encoding="utf-8")).get("info", {})
            return RegisteredFiles(
                str(alias_version(name, alias)), model_fingerprint(path), info.get("as_of", "")
            )
    except (FileNotFoundError, ValueError):  # gone (ArtifactsGone), or not a model's files
        return None


@contextmanager
def _downloaded(name: str, alias: str) -> Iterator[Path | None]:
    """The files behind ``models:/name@alias`` in a scratch folder removed afterwards (None:
    no alias)."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        yield download_model(name, alias, Path(scratch))


class TrackingError(RuntimeError):
    """The MLflow tracking store cannot be reached or written (not the data's fault)."""


def check_store() -> str | None:
    """Reach the tracking store now, before minutes of training: a server that was down hung
    a run for four minutes of retries after training, then ended it with a traceback.

    Returns a note when this made a new local store, none being at its path: a team's first
    run, or a mistyped file name (a tester's 'stroe.db' started an empty registry, and the
    first candidate was promoted "there is no champion yet", without a word)."""
    store = local_store(get_settings().tracking_uri)
    new = store is not None and not store.exists()
    _mlflow()
    if new and store.exists():
        return (
            f"a new MLflow store was made at {store}: none was there (if you meant an existing "
            "one, correct ETA_TRACKING_URI; a new store has no champion)"
        )
    return None


def _mlflow():
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # A few retries, not MLflow's seven with backoff (four minutes before a refused connection
    # is said); set the variable to have more.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    import mlflow

    settings = get_settings()
    try:
        _refuse_a_missing_folder(settings.tracking_uri)
        with _one_at_a_time(settings.tracking_uri):
            mlflow.set_tracking_uri(settings.tracking_uri)
            mlflow.set_experiment(settings.experiment)
    except Exception as exc:  # MLflow, SQLAlchemy, requests and OS errors alike
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrackingError(
            f"the MLflow tracking store {settings.tracking_uri!r} (ETA_TRACKING_URI) cannot be "
            f"used: {reason[:300]}"
        ) from None
    return mlflow


@contextmanager
def _one_at_a_time(uri: str) -> Iterator[None]:
    """Open a local SQLite store one process at a time: MLflow creates and migrates a new
    store's tables on first use, and two commands started together on a new store failed
    ("table _alembic_tmp_experiments already exists"; a tester's three commands, two
    failed). The lock is on the store's folder, held while the store is opened, not while a
    run logs; where the system has no ``flock`` (Windows), stores open as before."""
    store = local_store(uri) if uri.startswith("sqlite:") else None
    if store is None or fcntl is None:
        yield
        return
    folder = os.open(store.parent.resolve(), os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)  # which releases the lock


def _refuse_a_missing_folder(uri: str) -> None:
    """A local store only in a folder that exists. MLflow makes the folders of a mistyped path
    (one run made ``/nonexistent_dir`` at the filesystem's root) and a new, empty registry in
    them; with no champion there, the first candidate was promoted without being compared. A
    new store in an existing folder is still made: a new team's first run. Local stores are
    SQLite files and MLflow's file store (a plain path or a ``file:`` URI, a folder)."""
    store = local_store(uri)
    if store is None:
        return
    folder = store.parent.resolve()  # a relative path is read from here, as MLflow does
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(
            f"the folder {folder} {state}; a store is made only in an existing folder (a "
            "mistyped path would start an empty registry, with no champion): correct the "
            "setting, or make the folder for a new store"
        )


def local_store(uri: str) -> Path | None:
    """Where a local store's file (SQLite) or folder (file store) is, or None for a store on
    a server or in memory. Read as MLflow reads the URI: no scheme is a path (but
    ``databricks``), as is a one-letter scheme (a Windows drive)."""
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    if uri.startswith("sqlite:"):
        from sqlalchemy.engine import make_url

        database = make_url(uri).database
        return None if not database or database == ":memory:" else Path(database)
    scheme = urlparse(uri).scheme
    if scheme == "file":
        return Path(url2pathname(urlparse(uri).path))
    if (scheme == "" and uri not in ("", "databricks")) or len(scheme) == 1:
        return Path(uri)
    return None


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 500 else text[:497] + "..."
