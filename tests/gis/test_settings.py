"""Settings refuse unsafe production configurations."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gis.settings import DEFAULT_SECRET, MIN_SECRET_BYTES, Settings

URL = "postgresql+psycopg://u:p@db/gridsafe"


@pytest.mark.parametrize(
    ("secret", "message"),
    [(DEFAULT_SECRET, "non-default"), ("", "non-default"), ("short-but-not-default", "32 bytes")],
)
def test_production_refuses_weak_secrets(secret: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(mode="production", database_url=URL, secret_key=secret)


def test_production_accepts_a_long_secret_and_needs_a_database() -> None:
    secret = "x" * MIN_SECRET_BYTES
    assert Settings(mode="production", database_url=URL, secret_key=secret).mode == "production"
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(mode="production", secret_key=secret)


def test_the_demo_default_is_long_enough_for_hs256() -> None:
    assert len(DEFAULT_SECRET.encode()) >= MIN_SECRET_BYTES
    assert Settings().mode == "development"
