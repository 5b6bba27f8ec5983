"""The demo town and reference data shipped with gridsafe."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
REFERENCE_DIR = DATA_DIR / "reference"
DEMO_DIR = DATA_DIR / "demo"
