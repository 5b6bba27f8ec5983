"""Builders of ledger rows and files for the import/export tests (keyword overrides)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import openpyxl
import shapely

from gis.io.ledger import UNIT_LEDGER
from gis.validation import uscc_check_char

UNIT_HEADERS = [c.header for c in UNIT_LEDGER.columns if c.field not in ("code", "high_risk")]


def valid_uscc(n: int, prefix: str = "91411003MA") -> str:
    """A credit code with a correct check character, distinct for each ``n``."""
    first17 = f"{prefix}{n:07d}"[:17]
    return first17 + uscc_check_char(first17)


def unit_row(n: int = 1, **overrides: Any) -> dict[str, Any]:
    """One unit-ledger row keyed by Chinese header (a small shop, valid everywhere)."""
    row: dict[str, Any] = {
        "序号": n,
        "单位名称": f"测试商贸有限公司{n}号店",
        "统一社会信用代码": valid_uscc(n),
        "所属村(社区)": None,
        "详细地址": f"示例镇 中心街{n}号",
        "经度": 114.0,
        "纬度": 34.05,
        "行业代码": "F5212",
        "行业监管部门": None,
        "风险等级": "蓝",
        "消防安全重点单位": "否",
        "九小场所": "小商店",
        "燃气使用": "瓶装液化气",
        "经营状态": "在营",
        "从业人员数": 3,
        "建筑面积(m²)": 120.5,
    }
    row.update(overrides)
    return row


def write_ledger_xlsx(
    path: Path,
    rows: Sequence[dict[str, Any]],
    *,
    title: str = "五女店镇生产经营单位台账（2024年）",
    filler: str | None = "填报单位：五女店镇安委办　　填报人：张三　　填报日期：2024年3月5日",
    headers: Sequence[str] = UNIT_HEADERS,
) -> Path:
    """An .xlsx ledger as townships write them: merged title row, a filler row, then headers."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    if filler is not None:
        sheet.append([filler])
    sheet.append(list(headers))
    for row in rows:
        sheet.append([row.get(h) for h in headers])
    book.save(path)
    return path


def write_csv(
    path: Path,
    rows: Sequence[dict[str, Any]],
    *,
    encoding: str = "utf-8-sig",
    headers: Sequence[str] = UNIT_HEADERS,
) -> Path:
    lines = [",".join(headers)]
    for row in rows:
        lines.append(",".join("" if row.get(h) is None else str(row.get(h)) for h in headers))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def unit_frame(
    n: int = 3, lon0: float = 114.0012345678, lat0: float = 34.0512345678
) -> gpd.GeoDataFrame:
    """A frame shaped like gis.io.exporters.fetch_units output."""
    return gpd.GeoDataFrame(
        {
            "code": [f"QY{900000 + i:06d}" for i in range(n)],
            "name": [f"许昌市鑫源面粉厂{i}" for i in range(n)],
            "uscc": [valid_uscc(i) for i in range(n)],
            "village": ["五女店村"] + [None] * (n - 1),
            "address": ["五女店镇　中心街1号"] + [None] * (n - 1),
            "industry_code": ["C1311"] * n,
            "department": ["安委办"] * n,
            "high_risk": [False] * n,
            "risk_color": ["yellow"] * n,
            "fire_key_level": ["town"] + ["none"] * (n - 1),
            "nine_small_category": [None] + ["shop"] * (n - 1),
            "gas_use": ["piped"] * n,
            "status": ["operating"] * n,
            "employees": [35] + [None] * (n - 1),
            "floor_area_m2": [1200.5] + [None] * (n - 1),
        },
        geometry=[shapely.Point(lon0 + i * 1e-3, lat0 + i * 1e-3) for i in range(n)],
        crs=4490,
    )
