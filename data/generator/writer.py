"""Deterministic, streaming GeoJSON/CSV writers that hash what they write, and the manifest."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from data.generator.projection import DECIMALS

_DUMPS = {"sort_keys": True, "ensure_ascii": False, "separators": (",", ":")}


def _coords(arr: np.ndarray) -> list[list[float]]:
    # Python floats print with the shortest repr, so rounded values stay short and stable.
    return [[float(x), float(y)] for x, y in np.round(arr[:, :2], DECIMALS)]


def _polygon(poly: shapely.Polygon) -> list[list[list[float]]]:
    # RFC 7946: exterior counter-clockwise, holes clockwise.
    poly = shapely.geometry.polygon.orient(poly, sign=1.0)
    rings = [poly.exterior, *poly.interiors]
    return [_coords(shapely.get_coordinates(r)) for r in rings]


def geometry_json(geom: BaseGeometry, as_multi: bool = False) -> dict[str, Any]:
    """GeoJSON geometry dict of a lon/lat geometry; ``as_multi`` promotes a Polygon."""
    kind = geom.geom_type
    if kind == "Point":
        return {"type": "Point", "coordinates": _coords(shapely.get_coordinates(geom))[0]}
    if kind == "LineString":
        return {"type": "LineString", "coordinates": _coords(shapely.get_coordinates(geom))}
    if kind == "Polygon" and not as_multi:
        return {"type": "Polygon", "coordinates": _polygon(geom)}
    if kind in ("Polygon", "MultiPolygon"):
        parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
        return {"type": "MultiPolygon", "coordinates": [_polygon(p) for p in parts]}
    raise ValueError(f"unsupported geometry type {kind}")


def feature_line(geom: BaseGeometry, properties: Mapping[str, Any], multi: bool = False) -> str:
    """One GeoJSON Feature as a single line with sorted keys and fixed separators."""
    feature = {
        "geometry": geometry_json(geom, multi),
        "properties": dict(properties),
        "type": "Feature",
    }
    return json.dumps(feature, **_DUMPS)  # type: ignore[arg-type]


class FeatureBuffer:
    """Collects serialised features in memory (a worker's output), in writer order."""

    def __init__(self, multi_polygons: bool = False) -> None:
        self._multi = multi_polygons
        self.lines: list[str] = []

    def write(self, geom: BaseGeometry, properties: Mapping[str, Any]) -> None:
        """Serialise one feature exactly as :class:`GeoJSONWriter` would."""
        self.lines.append(feature_line(geom, properties, self._multi))


class _HashingFile:
    """A UTF-8 text sink that updates a SHA-256 digest with every byte it writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("wb")
        self.sha256 = hashlib.sha256()
        self.count = 0

    def write_text(self, text: str) -> None:
        data = text.encode("utf-8")
        self.sha256.update(data)
        self._fh.write(data)

    def close(self) -> None:
        self._fh.close()


class GeoJSONWriter:
    """Stream Features into a FeatureCollection, one feature per line, byte-reproducibly.

    Use as a context manager; ``write`` takes a lon/lat geometry and a property mapping.
    """

    def __init__(self, path: Path, multi_polygons: bool = False) -> None:
        self._sink = _HashingFile(path)
        self._multi = multi_polygons
        self._sink.write_text('{"features":[')

    @property
    def count(self) -> int:
        return self._sink.count

    @property
    def multi_polygons(self) -> bool:
        return self._multi

    def write(self, geom: BaseGeometry, properties: Mapping[str, Any]) -> None:
        """Append one feature."""
        self.write_line(feature_line(geom, properties, self._multi))

    def write_line(self, line: str) -> None:
        """Append one feature already serialised by :func:`feature_line`."""
        sep = "\n" if self._sink.count == 0 else ",\n"
        self._sink.write_text(sep + line)
        self._sink.count += 1

    def close(self) -> dict[str, Any]:
        """Finish the collection; return its manifest entry (count and SHA-256)."""
        self._sink.write_text('\n],"type":"FeatureCollection"}\n')
        self._sink.close()
        return {"count": self._sink.count, "sha256": self._sink.sha256.hexdigest()}

    def __enter__(self) -> GeoJSONWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._sink.close()


class CSVWriter:
    """Stream rows into a UTF-8 CSV with a header and ``\\n`` line ends; None becomes empty."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self._sink = _HashingFile(path)
        self._columns = tuple(columns)
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\n")
        self._emit(self._columns)

    def _emit(self, values: Sequence[Any]) -> None:
        self._csv.writerow(["" if v is None else v for v in values])
        self._sink.write_text(self._buf.getvalue())
        self._buf.seek(0)
        self._buf.truncate()

    def write(self, row: Mapping[str, Any]) -> None:
        """Append one row given as a mapping over the header columns."""
        self._emit([row[c] for c in self._columns])
        self._sink.count += 1

    def close(self) -> dict[str, Any]:
        """Finish the file; return its manifest entry (count and SHA-256)."""
        self._sink.close()
        return {"count": self._sink.count, "sha256": self._sink.sha256.hexdigest()}


def write_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    """Write the manifest with sorted keys, so it is as reproducible as the data files."""
    text = json.dumps(manifest, sort_keys=True, ensure_ascii=False, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")
