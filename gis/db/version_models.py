"""data_versions: one number per town that every write to the town's data moves forward.

Statement-level triggers (migration ``0005_data_versions``) upsert it, so no code path can write
town data without moving it: the API, the CLI, imports and raw SQL alike. Numbers come from the
sequence ``data_version_seq``, never ``version + 1``: a sequence does not roll back, so a version
seen inside a transaction that was rolled back is never handed out again, and a cache keyed by
versions cannot confuse the rolled-back data with what a later writer commits. The row keyed
``*`` (:data:`GLOBAL_KEY`) moves with tables shared by every town (reference rules) and with
``TRUNCATE``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Sequence, String
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models import Base

#: The data_versions key of data every town's report depends on.
GLOBAL_KEY = "*"

DATA_VERSION_SEQ = Sequence("data_version_seq", metadata=Base.metadata)


class DataVersion(Base):
    """The current data version of a town (or of the shared reference data, ``*``)."""

    __tablename__ = "data_versions"

    town_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
