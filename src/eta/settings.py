"""Settings read from the environment (prefix ``ETA_``), in one place.

Everything a deployment may want to change without code lives here; the defaults run the whole
product on one laptop with a local SQLite MLflow store.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Scope = Literal["quote", "outcomes", "admin"]


class ApiKey(BaseModel):
    """One API key of the quote service, as configured: its SHA-256, never the key itself."""

    name: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    scopes: tuple[Scope, ...]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ETA_", extra="ignore", populate_by_name=True)

    tracking_uri: str = Field(
        "sqlite:///mlflow.db",
        validation_alias=AliasChoices("ETA_TRACKING_URI", "MLFLOW_TRACKING_URI"),
    )
    """MLflow tracking store; any MLflow URI works (``http://...``, ``databricks``, ...).
    ``ETA_TRACKING_URI``, or else MLflow's own ``MLFLOW_TRACKING_URI``: a tester who set the
    latter found every run in a ``mlflow.db`` of the working directory instead."""
    experiment: str = "eta"

    # -- the quote service (``eta serve``) ------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    model_dir: Path | None = None
    """A model directory, or a folder of them (one per model name), to serve."""
    registry: Annotated[tuple[str, ...], NoDecode] = ()
    """Registered models to serve, ``models:/NAME@ALIAS`` (comma-separated in the environment);
    resolved at start and on reload only, and cached so a restart works with the registry down."""
    state_dir: Path = Path(".eta-service")
    """Where the service keeps its registry cache and the outcomes it has been told."""
    api_keys: tuple[ApiKey, ...] = ()
    """JSON list of ``{"name", "sha256", "scopes"}``; ``python -m service.keys`` makes one."""
    max_body_bytes: int = 1_048_576
    """Request bodies above this get 413 before they are read (a batch of 1,000 is ~250 kB)."""

    @field_validator("registry", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
