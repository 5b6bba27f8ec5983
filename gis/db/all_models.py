"""Imports every module that defines tables, so Base.metadata is complete for Alembic and tests."""

from gis.db import (  # noqa: F401
    access_models,
    assignment_models,
    hazard_models,
    models,
    version_models,
)
from gis.db.models import Base

__all__ = ["Base"]
