"""双随机 draws: random targets stratified by village, industry and risk colour, and two random
inspectors per target from the eligible pool, reproducible from a stored seed.

Pure: the caller gathers the candidate pools (units with their strata, and for each unit the
eligible inspectors after every exclusion, with the reason each other inspector was excluded);
:func:`draw` turns pools, parameters and a seed into the result. Randomness is not numpy's
generator but SHA-256 of ``seed:purpose:key`` read as a fraction in [0, 1), so anyone can re-run
a draw from its record, in any language, and a numpy upgrade can never change a past draw.

Rounding rule (hand-checkable): a stratum of ``n`` units with ratio ``r`` draws
``ceil(r * n)`` units (a stratum with ``r > 0`` always yields at least one; ``r = 0`` none;
``r = 1`` all of them), never more than ``n``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Bump when anything below changes what a given seed draws; verify refuses other versions.
ALGORITHM_VERSION = "draws-1"

#: Risk weights for the optional weighting (red drawn four times as readily as blue).
RISK_WEIGHTS: Mapping[str, float] = {"red": 4.0, "orange": 3.0, "yellow": 2.0, "blue": 1.0}

STRATUM_AXES = ("village", "industry", "risk")
INSPECTORS_PER_TARGET = 2


@dataclass(frozen=True)
class DrawParams:
    """What a draw samples: ratio per stratum, optional overrides by risk colour, weighting."""

    ratio: float
    ratio_by_risk: Mapping[str, float] = field(default_factory=dict)
    strata: tuple[str, ...] = STRATUM_AXES
    risk_weighted: bool = False

    def __post_init__(self) -> None:
        for name, r in [("ratio", self.ratio), *self.ratio_by_risk.items()]:
            if not (isinstance(r, int | float) and 0.0 <= float(r) <= 1.0):
                raise ValueError(f"ratio {name}={r!r} must be between 0 and 1")
        bad = [a for a in self.strata if a not in STRATUM_AXES]
        if bad:
            raise ValueError(f"strata {bad} unknown: choose from {STRATUM_AXES}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "ratio": float(self.ratio),
            "ratio_by_risk": {k: float(v) for k, v in sorted(self.ratio_by_risk.items())},
            "strata": list(self.strata),
            "risk_weighted": self.risk_weighted,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DrawParams:
        return cls(
            ratio=float(d["ratio"]),
            ratio_by_risk=dict(d.get("ratio_by_risk", {})),
            strata=tuple(d.get("strata", STRATUM_AXES)),
            risk_weighted=bool(d.get("risk_weighted", False)),
        )


def canonical(obj: Any) -> bytes:
    """The one byte form hashed and compared: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def pools_sha256(pools: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of the candidate pools in canonical form."""
    return hashlib.sha256(canonical(list(pools))).hexdigest()


def uniform(seed: str, purpose: str, key: str) -> float:
    """A fraction in [0, 1) fixed by seed, purpose and key: the first 64 bits of SHA-256."""
    digest = hashlib.sha256(f"{seed}:{purpose}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def stratum_of(unit: Mapping[str, Any], axes: Sequence[str]) -> str:
    """The stratum key of a unit, e.g. ``village=…|industry=C|risk=red``."""
    return "|".join(f"{a}={unit[a]}" for a in axes)


def quota(n: int, ratio: float) -> int:
    """``ceil(ratio * n)`` with a guard against float noise (0.1 * 30 is 3, not 4)."""
    return min(n, math.ceil(round(ratio * n, 9)))


def draw(pools: Sequence[Mapping[str, Any]], params: DrawParams, seed: str) -> dict[str, Any]:
    """Draw the targets and their inspectors.

    Parameters
    ----------
    pools : sequence of mappings
        One per candidate unit: ``unit_id``, ``village``, ``industry``, ``risk`` and
        ``eligible`` (staff ids allowed to inspect it, every exclusion already applied).
    params : DrawParams
        Ratios, strata axes and whether to weight by risk colour.
    seed : str
        The draw's seed (stored with it).

    Returns
    -------
    dict
        ``strata`` (key, size, ratio, quota, drawn) and ``targets`` (``unit_id``, ``stratum``,
        ``inspectors`` — two staff ids, fewer only when the pool is short — and ``short``).

    Examples
    --------
    >>> pools = [{"unit_id": i, "village": "V", "industry": "C", "risk": "blue",
    ...           "eligible": [1, 2, 3]} for i in range(4)]
    >>> got = draw(pools, DrawParams(ratio=0.5), seed="42")
    >>> [s["quota"] for s in got["strata"]], len(got["targets"])
    ([2], 2)
    """
    strata: dict[str, list[Mapping[str, Any]]] = {}
    for unit in sorted(pools, key=lambda u: int(u["unit_id"])):
        strata.setdefault(stratum_of(unit, params.strata), []).append(unit)
    out_strata, targets = [], []
    for key in sorted(strata):
        members = strata[key]
        risk = str(members[0]["risk"]) if "risk" in params.strata else None
        ratio = float(params.ratio_by_risk.get(risk, params.ratio) if risk else params.ratio)
        n = quota(len(members), ratio)

        def sort_key(u: Mapping[str, Any], key: str = key) -> float:
            # Efraimidis–Spirakis: the n largest u^(1/w) are a weighted sample without
            # replacement; with equal weights it is a plain uniform sample.
            w = RISK_WEIGHTS.get(str(u["risk"]), 1.0) if params.risk_weighted else 1.0
            return float(uniform(seed, f"target:{key}", str(u["unit_id"])) ** (1.0 / w))

        chosen = sorted(members, key=sort_key, reverse=True)[:n]
        out_strata.append(
            {"key": key, "size": len(members), "ratio": ratio, "quota": n, "drawn": len(chosen)}
        )
        for unit in sorted(chosen, key=lambda u: int(u["unit_id"])):
            purpose = f"inspector:{unit['unit_id']}"
            pool = sorted(int(s) for s in unit["eligible"])
            picked = sorted(pool, key=lambda s: uniform(seed, purpose, str(s)))[
                :INSPECTORS_PER_TARGET
            ]
            targets.append(
                {
                    "unit_id": int(unit["unit_id"]),
                    "stratum": key,
                    "inspectors": picked,
                    "short": len(picked) < INSPECTORS_PER_TARGET,
                }
            )
    return {"strata": out_strata, "targets": targets}
