"""GET /api/v1/hazards/stats and the periodic report downloads; the monthly workbook in LibreOffice.

LibreOffice (``soffice --headless --convert-to csv``) is the spreadsheet program that must open
the workbook: its CSV of the first sheet carries the totals row, which must equal the statistics
endpoint's total for the same month.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.cli import main
from gis.io.periodic_reports import COLUMNS
from tests.api.test_cli_hazards import cli_conn  # noqa: F401  (fixture)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def test_stats_endpoint(client: TestClient) -> None:
    r = client.get("/api/v1/hazards/stats", params={"period": "2024-06", "by": "category"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["start"], body["end"], body["by"]) == ("2024-06-01", "2024-06-30", "category")
    assert body["total"]["found"] == sum(row["found"] for row in body["rows"]) > 0
    assert body["total"]["key"] is None and body["total"]["label"] == "合计"
    assert {row["label"] for row in body["rows"]} <= {
        "消防",
        "用电",
        "燃气",
        "管理",
        "特种设备",
        "有限空间",
        "粉尘",
        "危化品",
        "建筑施工",
        "交通",
    }


@pytest.mark.parametrize(
    ("params", "word"),
    [({"period": "2024-13"}, "period"), ({"period": "2024", "by": "colour"}, "by")],
)
def test_stats_refuse_bad_input(client: TestClient, params: dict[str, str], word: str) -> None:
    r = client.get("/api/v1/hazards/stats", params=params)
    assert r.status_code in (400, 422), r.text
    assert word in r.text


def test_a_report_needs_its_kind_of_period(client: TestClient) -> None:
    r = client.get("/api/v1/hazards/stats/reports/monthly", params={"period": "2024-Q2"})
    assert r.status_code in (400, 422) and "period" in r.text


@pytest.mark.parametrize(
    ("kind", "period", "sheets"),
    [("monthly", "2024-06", 6), ("quarterly", "2024-Q2", 7), ("yearly", "2024", 7)],
)
def test_report_workbooks(client: TestClient, kind: str, period: str, sheets: int) -> None:
    r = client.get(f"/api/v1/hazards/stats/reports/{kind}", params={"period": period})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    wb = load_workbook(io.BytesIO(r.content))
    assert len(wb.sheetnames) == sheets and wb.sheetnames[0] == "按村（社区）"
    ws = wb.worksheets[0]
    merged = {str(m) for m in ws.merged_cells.ranges}
    last = ws.max_row
    assert {"A1:K1", "A3:A4", "C3:D3", f"A{last}:B{last}"} <= merged
    assert ws.cell(last, 1).value == "合计"
    stats = client.get("/api/v1/hazards/stats", params={"period": period, "by": "village"}).json()
    assert last - 4 - 1 == len(stats["rows"])
    found_col = 3 + [attr for _, attr, _ in COLUMNS].index("found")
    assert ws.cell(last, found_col).value == stats["total"]["found"]


def _soffice_csv(xlsx: Path, out_dir: Path) -> list[list[str]]:
    assert SOFFICE is not None
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{out_dir / 'profile'}",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",  # comma, quote, UTF-8
            "--outdir",
            str(out_dir),
            str(xlsx),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    with (out_dir / (xlsx.stem + ".csv")).open(encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_monthly_workbook_opens_in_libreoffice_with_the_endpoints_totals(
    client: TestClient, tmp_path: Path
) -> None:
    r = client.get("/api/v1/hazards/stats/reports/monthly", params={"period": "2024-06"})
    xlsx = tmp_path / "monthly.xlsx"
    xlsx.write_bytes(r.content)
    rows = _soffice_csv(xlsx, tmp_path)
    assert "2024年6月安全生产隐患排查整治月调度表" in rows[0][0]
    assert rows[3][2] == "检查次数" and rows[2][4] == "隐患排查整改"
    total = next(row for row in rows if row[0] == "合计")
    stats = client.get("/api/v1/hazards/stats", params={"period": "2024-06"}).json()["total"]
    for offset, (_, attr, _) in enumerate(COLUMNS):
        value = stats[attr]
        cell = total[2 + offset]
        if attr == "rectification_rate":
            assert cell == f"{value * 100:.1f}%"
        elif isinstance(value, float):
            assert float(cell) == pytest.approx(value, abs=0.051)
        else:
            assert int(cell) == value, attr


@pytest.mark.usefixtures("cli_conn")
def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "年总结.xlsx"
    assert main(["report", "yearly", "--period", "2024", "--out", str(out)]) == 0
    assert "2024年" in capsys.readouterr().out
    wb = load_workbook(out)
    assert wb.sheetnames[-1] == "按月"
    assert [c.value for c in wb["按月"]["B"][4:16]] == [f"2024年{m}月" for m in range(1, 13)]
    assert main(["report", "monthly", "--period", "2024", "--out", str(out)]) == 1
    assert "period" in capsys.readouterr().err
