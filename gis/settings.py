"""Settings read once from the environment (prefix GRIDSAFE_, nested with __)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "gridsafe-demo-secret-change-me-before-production"
#: HS256 wants a key at least as long as its 32-byte hash (RFC 7518 §3.2).
MIN_SECRET_BYTES = 32


class UploadLimits(BaseModel):
    """Bounds an uploaded file must meet before any parsing starts (``GRIDSAFE_UPLOAD__…``).

    Generous for a county ledger (52,000 units, ~30 columns, several MB of xlsx; village
    boundaries of a county), far below what stops the service (memory, minutes of CPU).
    """

    max_decompressed_bytes: int = Field(
        default=200 * 1024 * 1024, description="Total unpacked size of a zip or xlsx."
    )
    max_members: int = Field(default=200, description="Files in a zip (a shapefile set is ~8).")
    max_ratio: float = Field(
        default=100.0, description="Unpacked/packed size of one member (ledgers compress ~10×)."
    )
    ratio_floor_bytes: int = Field(
        default=1024 * 1024, description="Members smaller than this may compress any amount."
    )
    max_rows: int = Field(default=200_000, description="Data rows (features) in one file.")
    max_cells: int = Field(default=3_000_000, description="Cells across all sheets of an xlsx.")
    max_merged_cells: int = Field(
        default=1_000_000, description="Cells covered by merged ranges (each one is filled)."
    )
    max_shared_strings_bytes: int = Field(
        default=64 * 1024 * 1024, description="Unpacked xl/sharedStrings.xml."
    )
    max_vertices: int = Field(default=500_000, description="Coordinate pairs in one file.")
    max_json_depth: int = Field(default=64, description="Nesting of arrays/objects in GeoJSON.")


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
    upload: UploadLimits = Field(default_factory=UploadLimits)

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
