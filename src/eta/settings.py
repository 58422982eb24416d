"""Settings read from the environment (prefix ``ETA_``), in one place.

Everything a deployment may want to change without code lives here; the defaults run the whole
product on one laptop with a local SQLite MLflow store.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ETA_", extra="ignore")

    tracking_uri: str = "sqlite:///mlflow.db"
    """MLflow tracking store; any MLflow URI works (``http://...``, ``databricks``, ...)."""
    experiment: str = "eta"


@lru_cache
def get_settings() -> Settings:
    return Settings()
