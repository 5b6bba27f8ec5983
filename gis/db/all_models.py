"""Imports every module that defines tables, so Base.metadata is complete for Alembic and tests."""

from gis.db import access_models, assignment_models, hazard_models, models  # noqa: F401
from gis.db.models import Base

__all__ = ["Base"]
