"""Staff (§5.7): town departments, village grid staff (网格员) and the external expert list."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.generator.names import person_name
from data.generator.town import Town
from gis.domain import StaffRole

#: (department, role, headcount, licence prefix or None) — §5.7 plus the NY/MZ desks and cadres.
ROSTER: tuple[tuple[str, StaffRole, int, str | None], ...] = (
    ("AJB", StaffRole.OFFICE_HEAD, 1, "AJ"),
    ("AJB", StaffRole.INSPECTOR, 3, "AJ"),
    ("LD", StaffRole.LEADER, 3, None),
    ("XF", StaffRole.FIREFIGHTER, 3, "XF"),
    ("PCS", StaffRole.POLICE, 4, "GA"),
    ("SCJG", StaffRole.INSPECTOR, 3, "SJ"),
    ("ZJ", StaffRole.INSPECTOR, 2, "ZJ"),
    ("JT", StaffRole.INSPECTOR, 2, "JT"),
    ("JY", StaffRole.INSPECTOR, 2, "JY"),
    ("WJ", StaffRole.INSPECTOR, 2, "WJ"),
    ("NY", StaffRole.INSPECTOR, 1, "NY"),
    ("MZ", StaffRole.INSPECTOR, 1, "MZ"),
    ("AJB", StaffRole.TOWN_CADRE, 4, None),
    ("ZJZ", StaffRole.PROFESSIONAL, 6, None),
)


@dataclass
class Person:
    code: str
    name: str
    department_code: str
    role: StaffRole
    home_village_code: str | None
    capacity_units: int
    capacity_teams: int
    phone: str
    license_no: str | None
    active: bool
    xy: np.ndarray


def build_staff(town: Town, rng: np.random.Generator, phone_base: int = 0) -> list[Person]:
    """Department staff based at the town government, one 网格员 per village at its 村委会.

    Phones are in the fictitious 1380000xxxx block; licence numbers follow ``豫K-AJ-0001``.
    """
    people: list[Person] = []
    taken: set[str] = set()
    licences: dict[str, int] = {}
    seat = town.centre + np.array([60.0, 40.0])

    def add(
        dept: str, role: StaffRole, lic: str | None, village: str | None, xy: np.ndarray
    ) -> None:
        n = len(people) + 1
        licence = None
        if lic is not None:
            licences[lic] = licences.get(lic, 0) + 1
            licence = f"豫K-{lic}-{licences[lic]:04d}"
        if role is StaffRole.VILLAGE_STAFF:
            cap_u, cap_t = 30, 4
        elif role in (StaffRole.INSPECTOR, StaffRole.OFFICE_HEAD):
            cap_u, cap_t = int(rng.integers(40, 81)), int(rng.integers(8, 16))
        elif role in (StaffRole.FIREFIGHTER, StaffRole.POLICE):
            cap_u, cap_t = int(rng.integers(40, 81)), int(rng.integers(10, 16))
        elif role is StaffRole.PROFESSIONAL:
            cap_u, cap_t = 0, int(rng.integers(8, 13))
        else:
            cap_u, cap_t = 20, int(rng.integers(10, 16))
        people.append(
            Person(
                code=f"RY{n:04d}",
                name=person_name(rng, taken),
                department_code=dept,
                role=role,
                home_village_code=village,
                capacity_units=cap_u,
                capacity_teams=cap_t,
                phone=f"1380000{(phone_base + n) % 10000:04d}",
                license_no=licence,
                active=bool(rng.random() > 0.02),
                xy=xy,
            )
        )

    for dept, role, count, lic in ROSTER:
        for _ in range(count):
            add(dept, role, lic, None, seat + rng.normal(0, 30, 2))
    for v in town.villages:
        add("CUN", StaffRole.VILLAGE_STAFF, None, v.code, v.settlement + rng.normal(0, 25, 2))
    return people
