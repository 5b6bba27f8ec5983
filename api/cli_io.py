"""``gridsafe import`` and ``gridsafe export``: the ledger and GIS exchange formats."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the import/export subcommands (wired to gis.io once it lands)."""
