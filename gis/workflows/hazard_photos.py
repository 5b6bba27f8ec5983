"""Photos of a hazard (整改前/整改后): checked by content, size-limited, stored by SHA-256.

A photo is evidence, so attaching one is part of the hazard's ledger: it moves the hazard's
version on and appends a history row naming the photo's hash (a swapped file no longer matches
its chain). The file is written before the rows, under its own hash, so a rolled-back
transaction leaves at most an unreferenced copy that the next identical upload reuses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from gis.access import Role, Scope, scope_clause
from gis.audit import Actor, record
from gis.db.hazard_models import HazardPhoto
from gis.db.models import Hazard
from gis.domain import PhotoKind
from gis.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.workflows import hazard_ledger

#: What Pillow reads the content as → (MIME type, file extension). Nothing else is accepted.
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}
#: Beyond this many pixels an "image" is a decompression bomb, not a site photo.
MAX_PIXELS = 80_000_000
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, DATETIME = 36867, 306


@dataclass(frozen=True)
class PhotoFacts:
    sha256: str
    content_type: str
    extension: str
    size_bytes: int
    width: int
    height: int
    taken_at: dt.datetime | None
    lon: float | None
    lat: float | None


def _degrees(value: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    sign = -1.0 if str(ref).upper() in {"S", "W"} else 1.0
    return sign * (d + m / 60 + s / 3600)


def _exif_facts(image: Image.Image) -> tuple[dt.datetime | None, float | None, float | None]:
    exif = image.getexif()
    stamp = exif.get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL) or exif.get(DATETIME)
    taken = None
    if isinstance(stamp, str):
        try:
            # EXIF carries local time without a zone; phones in China are on UTC+8.
            naive = dt.datetime.strptime(stamp.strip(), "%Y:%m:%d %H:%M:%S")
            taken = naive.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
        except ValueError:
            taken = None
    gps = exif.get_ifd(GPS_IFD)
    lat = _degrees(gps.get(2), gps.get(1)) if gps else None
    lon = _degrees(gps.get(4), gps.get(3)) if gps else None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    return taken, lon, lat


def inspect_photo(data: bytes, max_bytes: int) -> PhotoFacts:
    """What a photo is, judged by its content (never its name); InvalidInput if not a photo."""
    if not data:
        raise InvalidInput("file: 空文件 (empty file)")
    if len(data) > max_bytes:
        raise InvalidInput(f"file: 照片超过 {max_bytes // (1 << 20)} MB 上限 (too large)")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            width, height = probe.size
            if fmt not in FORMATS:
                raise InvalidInput(f"file: 只接受 JPEG 或 PNG 照片，此文件为 {fmt or '未知格式'}")
            if width * height > MAX_PIXELS:
                raise InvalidInput(f"file: 图像尺寸 {width}×{height} 过大 (too many pixels)")
            probe.verify()  # structure and checksums (PNG CRCs), before anything else reads
        with Image.open(io.BytesIO(data)) as full:
            full.load()  # decodes every pixel: a truncated JPEG fails here
            taken, lon, lat = _exif_facts(full)
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"file: 不是有效的 JPEG/PNG 图像 (not a readable image: {exc})") from exc
    content_type, extension = FORMATS[fmt]
    return PhotoFacts(
        hashlib.sha256(data).hexdigest(),
        content_type,
        extension,
        len(data),
        width,
        height,
        taken,
        lon,
        lat,
    )


def photo_file(store: Path, sha256: str, extension: str) -> Path:
    return store / sha256[:2] / f"{sha256}.{extension}"


def _store(store: Path, facts: PhotoFacts, data: bytes) -> Path:
    path = photo_file(store, facts.sha256, facts.extension)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write aside and rename: a reader never sees half a file under its final name.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
    return path


def attach_photo(
    conn: Connection,
    scope: Scope,
    actor: Actor,
    hazard_id: int,
    data: bytes,
    kind: PhotoKind,
    *,
    store: Path,
    max_bytes: int,
) -> dict[str, Any]:
    """Check, store and link a photo; the hazard's version moves on and its history says so."""
    if scope.read_only or scope.role is Role.PUBLIC:
        raise Forbidden(f"{scope.role.label}不能上传照片 (this account may not add photos)")
    facts = inspect_photo(data, max_bytes)
    _store(store, facts, data)
    with conn.begin_nested():
        bumped = (
            conn.execute(
                update(Hazard)
                .where(Hazard.id == hazard_id, scope_clause(Hazard, scope))
                .values(version=Hazard.version + 1)
                .returning(Hazard.version, Hazard.town_code, Hazard.status)
            )
            .mappings()
            .first()
        )
        if bumped is None:
            raise NotFound(f"hazard {hazard_id} not found in your scope (隐患不存在或无权查看)")
        row = {
            "hazard_id": hazard_id,
            "town_code": bumped["town_code"],
            "sha256": facts.sha256,
            "kind": kind,
            "content_type": facts.content_type,
            "size_bytes": facts.size_bytes,
            "width": facts.width,
            "height": facts.height,
            "taken_at": facts.taken_at,
            "lon": facts.lon,
            "lat": facts.lat,
            "uploaded_by": actor.username[:64],
            "uploaded_at": dt.datetime.now(dt.UTC),
        }
        try:
            with conn.begin_nested():
                conn.execute(insert(HazardPhoto).values(**row))
        except IntegrityError as exc:
            raise Conflict(f"这张照片已在隐患 {hazard_id} 下 (photo {facts.sha256[:12]}…)") from exc
        details = {"photo": facts.sha256, "kind": kind.value, "size_bytes": facts.size_bytes}
        status = str(bumped["status"])
        hazard_ledger.append(
            conn,
            hazard_id=hazard_id,
            town_code=bumped["town_code"],
            seq=int(bumped["version"]),
            verb="photo",
            from_status=status,
            to_status=status,
            actor=actor,
            actor_role=scope.role.value,
            details=details,
        )
        record(
            conn,
            actor,
            "photo",
            "hazards",
            hazard_id,
            None,
            details,
            town_code=bumped["town_code"],
        )
    return {k: v for k, v in row.items() if k != "uploaded_by"} | {"version": bumped["version"]}


def photos_of(conn: Connection, scope: Scope, hazard_id: int) -> list[dict[str, Any]]:
    """The photos of a hazard in scope, oldest first (NotFound outside the scope)."""
    visible = conn.execute(
        select(Hazard.id).where(Hazard.id == hazard_id, scope_clause(Hazard, scope))
    ).first()
    if visible is None:
        raise NotFound(f"hazard {hazard_id} not found in your scope (隐患不存在或无权查看)")
    rows = conn.execute(
        select(HazardPhoto).where(HazardPhoto.hazard_id == hazard_id).order_by(HazardPhoto.id)
    ).mappings()
    return [{k: v for k, v in r.items() if k != "uploaded_by"} for r in rows]


def photo_to_send(
    conn: Connection, scope: Scope, hazard_id: int, sha256: str, store: Path
) -> tuple[Path, str]:
    """The stored file and MIME type of one photo of a hazard in scope."""
    for photo in photos_of(conn, scope, hazard_id):
        if photo["sha256"] == sha256:
            extension = FORMATS["JPEG" if photo["content_type"] == "image/jpeg" else "PNG"][1]
            path = photo_file(store, sha256, extension)
            if not path.exists():
                raise NotFound(f"photo file {sha256[:12]}… is missing from the store")
            return path, str(photo["content_type"])
    raise NotFound(f"hazard {hazard_id} has no photo {sha256[:12]}…")
