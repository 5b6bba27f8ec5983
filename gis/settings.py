"""Settings read once from the environment (prefix GRIDSAFE_, nested with __)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "gridsafe-demo-secret-change-me-before-production"
#: HS256 wants a key at least as long as its 32-byte hash (RFC 7518 §3.2).
MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Everything configurable about a gridsafe deployment.

    With no ``database_url`` gridsafe runs its own PostgreSQL cluster under ``data_dir``.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDSAFE_", env_nested_delimiter="__")

    mode: Literal["demo", "development", "production"] = "development"
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; empty means the embedded local cluster."
    )
    data_dir: Path = Field(default=Path(".gridsafe"), description="Embedded cluster and caches.")
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    town_code: str = Field(default="411003101000", description="Default town (12-digit code).")
    tianditu_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    page_size_max: int = 5000
    upload_max_bytes: int = 50 * 1024 * 1024
    photo_max_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest hazard photo accepted (bytes)."
    )
    checkin_radius_m: float = Field(
        default=100.0,
        gt=0,
        description="An inspection's GPS check-in farther than this from the unit is flagged.",
    )

    @property
    def tianditu_token(self) -> str | None:
        """The Tianditu key as plain text for tile URLs, or None when unset or empty."""
        return self.tianditu_key.get_secret_value() or None if self.tianditu_key else None

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.mode == "production" and (
            not self.secret_key.get_secret_value()
            or self.secret_key.get_secret_value() == DEFAULT_SECRET
        ):
            raise ValueError("GRIDSAFE_SECRET_KEY must be set to a non-default value in production")
        if (
            self.mode == "production"
            and len(self.secret_key.get_secret_value().encode()) < MIN_SECRET_BYTES
        ):
            raise ValueError(
                f"GRIDSAFE_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production "
                "(e.g. openssl rand -hex 32)"
            )
        if self.mode == "production" and self.database_url is None:
            raise ValueError("GRIDSAFE_DATABASE_URL must be set in production")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
