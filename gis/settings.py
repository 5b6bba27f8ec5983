"""Settings read once from the environment (prefix GRIDSAFE_, nested with __)."""

from __future__ import annotations

import os
import secrets
import stat
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gis.errors import ConfigurationError

#: The signing secret earlier releases documented as the default. It is public, so it is refused
#: everywhere: as a configured secret in every mode, and therefore any token signed with it.
DEFAULT_SECRET = "gridsafe-demo-secret-change-me-before-production"
#: HS256 wants a key at least as long as its 32-byte hash (RFC 7518 §3.2).
MIN_SECRET_BYTES = 32
#: Where ``gridsafe demo`` keeps the random secret it generated on first start (in ``data_dir``).
DEMO_SECRET_FILE = "secret_key"


def secret_problem(secret: str | None) -> str | None:
    """Why ``secret`` must not sign tokens (missing, the public default, too short), or None."""
    if not secret:
        return "GRIDSAFE_SECRET_KEY is not set (未设置签名密钥)"
    if secret == DEFAULT_SECRET:
        return "GRIDSAFE_SECRET_KEY is the published default value (签名密钥为公开的默认值)"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return (
            f"GRIDSAFE_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes "
            f"(签名密钥过短，至少 {MIN_SECRET_BYTES} 字节)"
        )
    return None


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
    ``secret_key`` may be unset for commands that sign nothing (db, import, export, …); serving
    asks for ``signing_secret()``, which refuses a missing, default or short key in every mode.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDSAFE_", env_nested_delimiter="__")

    mode: Literal["demo", "development", "production"] = "development"
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; empty means the embedded local cluster."
    )
    data_dir: Path = Field(default=Path(".gridsafe"), description="Embedded cluster and caches.")
    secret_key: SecretStr | None = Field(
        default=None, description="Token and CSRF signing key (e.g. openssl rand -hex 32)."
    )
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

    def signing_secret(self) -> str:
        """The key that signs tokens and CSRF values; ConfigurationError if it is unsafe."""
        secret = self.secret_key.get_secret_value() if self.secret_key else None
        problem = secret_problem(secret)
        if problem is not None:
            raise ConfigurationError(problem)
        assert secret is not None
        return secret

    @model_validator(mode="after")
    def _production_needs_a_database(self) -> Settings:
        if self.mode == "production" and self.database_url is None:
            raise ValueError("GRIDSAFE_DATABASE_URL must be set in production")
        return self


def demo_secret(data_dir: Path) -> str:
    """The demo's own signing secret: generated at random on first start, then kept.

    Stored in ``data_dir/secret_key``, readable by its owner only (0600), so a demo restarted
    on the same data keeps its sessions, and no two demos share a key.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / DEMO_SECRET_FILE
    try:
        # O_EXCL: two demos starting at once cannot both write; the loser reads the winner's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)  # tighten a copy restored with looser permissions
        secret = path.read_text(encoding="ascii").strip()
        if secret_problem(secret) is not None:
            raise ConfigurationError(
                f"{path} does not hold a usable secret; delete it to generate a new one "
                f"(演示密钥文件无效，删除后重新生成)"
            ) from None
        return secret
    secret = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secret + "\n")
    return secret


def demo_settings(settings: Settings) -> Settings:
    """Settings for ``gridsafe demo``: demo mode, and the kept random secret unless one is set."""
    update: dict[str, object] = {"mode": "demo"}
    if settings.secret_key is None or not settings.secret_key.get_secret_value():
        update["secret_key"] = SecretStr(demo_secret(settings.data_dir))
    return settings.model_copy(update=update)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
