"""Hazard photos: JPEG/PNG by content, size limit, stored by SHA-256, EXIF time and place."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from sqlalchemy import Connection, Engine

from api.dependencies import get_conn
from api.main import create_app
from gis.access import Role
from gis.settings import Settings
from gis.workflows import hazard_ledger
from tests.accounts import TEST_SECRET, bearer_headers
from tests.conftest import DEMO_TOWN
from tests.gis.workflows.hazard_world import make_world


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def admin(db_engine: Engine, db_conn: Connection, store: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url="postgresql+psycopg://unused@127.0.0.1/x",
        data_dir=store,
        photo_max_bytes=200_000,
        secret_key=TEST_SECRET,
    )
    app = create_app(settings, db_engine)
    app.dependency_overrides[get_conn] = lambda: db_conn
    headers = bearer_headers(db_conn, Role.TOWN_ADMIN, town_code=DEMO_TOWN)
    with TestClient(app, headers=headers) as client:
        yield client


def _jpeg(with_exif: bool = True) -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    if with_exif:
        exif[306] = "2026:11:30 10:20:30"
        gps = exif.get_ifd(0x8825)
        gps.update(
            {
                1: "N",
                2: (IFDRational(34), IFDRational(3), IFDRational(36)),
                3: "E",
                4: (IFDRational(114), IFDRational(0), IFDRational(18)),
            }
        )
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (10, 10), 128).save(out, "PNG")
    return out.getvalue()


def _post(client: TestClient, hid: int, data: bytes, name: str = "x.jpg", kind: str = "before"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/hazards/{hid}/photos", files={"file": (name, data)}, data={"kind": kind}
    )


def test_photos_are_checked_stored_and_chained(
    admin: TestClient, db_conn: Connection, store: Path
) -> None:
    world = make_world(db_conn)
    hid = world.hazard()
    jpeg = _jpeg()
    sha = hashlib.sha256(jpeg).hexdigest()
    added = _post(admin, hid, jpeg)
    assert added.status_code == 201, added.text
    photo = added.json()
    assert (photo["sha256"], photo["content_type"], photo["width"]) == (sha, "image/jpeg", 64)
    assert photo["taken_at"].startswith("2026-11-30T10:20:30+08:00")
    assert photo["lat"] == pytest.approx(34 + 3 / 60 + 36 / 3600)
    assert photo["lon"] == pytest.approx(114 + 18 / 3600)
    assert (store / "photos" / sha[:2] / f"{sha}.jpg").read_bytes() == jpeg
    assert _post(admin, hid, jpeg).status_code == 409  # the same photo twice
    after = _post(admin, hid, _png(), name="after.jpg", kind="after")  # the name is ignored
    assert after.status_code == 201 and after.json()["content_type"] == "image/png"

    listed = admin.get(f"/api/v1/hazards/{hid}/photos").json()
    assert [p["kind"] for p in listed] == ["before", "after"]
    got = admin.get(f"/api/v1/hazards/{hid}/photos", params={"sha256": sha})
    assert got.status_code == 200 and got.content == jpeg
    assert got.headers["content-type"] == "image/jpeg"
    history = admin.get(f"/api/v1/hazards/{hid}/history").json()
    assert [(h["verb"], h["details"]["photo"]) for h in history] == [
        ("photo", sha),
        ("photo", hashlib.sha256(_png()).hexdigest()),
    ]
    assert admin.get(f"/api/v1/hazards/{hid}").json()["version"] == 2
    assert hazard_ledger.verify(db_conn) == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GIF89a" + b"\0" * 100, "JPEG"),
        (b"%PDF-1.4 not a photo", "not a readable image"),
        (_jpeg(with_exif=False)[:-200], "not a readable image"),
        (b"", "empty"),
    ],
    ids=["gif", "pdf", "truncated-jpeg", "empty"],
)
def test_non_photos_are_refused(
    admin: TestClient, db_conn: Connection, data: bytes, reason: str
) -> None:
    hid = make_world(db_conn).hazard()
    refused = _post(admin, hid, data)
    assert refused.status_code == 400 and reason in refused.json()["message"], refused.text
    assert admin.get(f"/api/v1/hazards/{hid}/photos").json() == []


def test_oversized_photo_is_refused(admin: TestClient, db_conn: Connection) -> None:
    hid = make_world(db_conn).hazard()
    noise = Image.frombytes("RGB", (400, 400), random.Random(9).randbytes(400 * 400 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert len(out.getvalue()) > 200_000
    refused = _post(admin, hid, out.getvalue())
    assert refused.status_code == 400 and "上限" in refused.json()["message"]
