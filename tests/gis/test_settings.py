"""Settings refuse unsafe signing secrets in every mode; the demo keeps its own random secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from gis.errors import ConfigurationError
from gis.settings import (
    DEFAULT_SECRET,
    DEMO_SECRET_FILE,
    MIN_SECRET_BYTES,
    Settings,
    demo_secret,
    demo_settings,
)

URL = "postgresql+psycopg://u:p@db/gridsafe"
MODES = ["demo", "development", "production"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "not set"),
        ("", "not set"),
        (DEFAULT_SECRET, "default"),
        ("short-but-not-default", f"{MIN_SECRET_BYTES} bytes"),
    ],
)
def test_every_mode_refuses_to_sign_with_a_weak_secret(
    mode: str, secret: str | None, message: str
) -> None:
    settings = Settings(mode=mode, database_url=URL, secret_key=secret)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=message):
        settings.signing_secret()


def test_commands_that_sign_nothing_need_no_secret() -> None:
    # db upgrade, import, export … build Settings without a secret, even in production.
    assert Settings(mode="production", database_url=URL).secret_key is None
    secret = "x" * MIN_SECRET_BYTES
    settings = Settings(mode="production", database_url=URL, secret_key=secret)
    assert settings.signing_secret() == secret
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(mode="production", secret_key=secret)
    assert Settings().mode == "development"


def test_the_demo_secret_is_random_private_and_kept(tmp_path: Path) -> None:
    first = demo_secret(tmp_path / "a")
    assert len(first.encode()) >= MIN_SECRET_BYTES and first != DEFAULT_SECRET
    path = tmp_path / "a" / DEMO_SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_secret(tmp_path / "a") == first  # kept across restarts
    assert demo_secret(tmp_path / "b") != first  # every demo has its own

    settings = demo_settings(Settings(data_dir=tmp_path / "a"))
    assert settings.mode == "demo" and settings.signing_secret() == first
    # An explicitly configured secret wins (e.g. docker compose), and must itself be safe.
    given = "y" * MIN_SECRET_BYTES
    assert (
        demo_settings(Settings(data_dir=tmp_path / "c", secret_key=given)).signing_secret() == given
    )
    assert not (tmp_path / "c").exists()
    with pytest.raises(ConfigurationError):
        demo_settings(Settings(data_dir=tmp_path / "d", secret_key=DEFAULT_SECRET)).signing_secret()


def test_a_damaged_demo_secret_file_is_refused_not_used(tmp_path: Path) -> None:
    (tmp_path / DEMO_SECRET_FILE).write_text("short\n")
    (tmp_path / DEMO_SECRET_FILE).chmod(0o644)
    with pytest.raises(ConfigurationError, match="delete it"):
        demo_secret(tmp_path)
    assert stat.S_IMODE((tmp_path / DEMO_SECRET_FILE).stat().st_mode) == 0o600
