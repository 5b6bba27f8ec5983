"""Command line: ``python -m data.generator --out DIR --seed 2024 --scale town``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from data.generator.core import SCALES, generate


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, generate the dataset and print its counts and wall time."""
    parser = argparse.ArgumentParser(prog="python -m data.generator", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--scale", choices=SCALES, default="town")
    parser.add_argument("--towns", type=int, default=None, help="override the number of towns")
    args = parser.parse_args(argv)
    manifest = generate(args.out, seed=args.seed, scale=args.scale, towns=args.towns)
    counts = {k: v["count"] for k, v in manifest["files"].items()}
    print(
        json.dumps(
            {
                "scale": args.scale,
                "seconds": manifest["_seconds"],
                "counts": counts,
                "road_km": manifest["road_km"],
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
