"""Sanctions and rewards: triggers, who they hit, attempts and uses (MODEL.md section 5).

A *measure* is a sanction or a reward. It is triggered by list membership (court list,
blacklist, red list) and/or by grades, and hits the person, their children, or both. Each affected
person or child tries the barred thing (or uses the reward) at a yearly rate, urban or rural;
attempts while barred are *blocked attempts*, the "person-times" of official figures.

An affected person is affected *rightfully* when at least one trigger holds for a rightful
reason: a court listing, a rightful blacklisting, or a grade reached without a wrongful record in
the score (see ``lists``); otherwise *wrongfully*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .jit import nb
from .lists import BL, BLW, CL, TAINT, grade_bits
from .scenario import Scenario

__all__ = ["Measures", "compile_measures", "affected", "TARGET_PERSON", "TARGET_CHILDREN"]

TARGET_PERSON, TARGET_CHILDREN = 1, 2


@dataclass(frozen=True)
class Measures:
    names: list[str]
    is_reward: np.ndarray  # bool
    list_mask: np.ndarray  # uint8 over BL / CL bits
    grade_mask: np.ndarray  # int64 bit g set: grade g triggers (red list folded in)
    target: np.ndarray  # int8 bits TARGET_PERSON | TARGET_CHILDREN
    per_day_urban: np.ndarray  # float64
    per_day_rural: np.ndarray  # float64


def compile_measures(scenario: Scenario) -> Measures:
    """Sanctions then rewards (``Scenario.measures``), as arrays the kernels read."""
    grades = [g.name for g in scenario.score.grades]
    red = grades.index(scenario.red_list.min_grade) if scenario.red_list.min_grade else -1
    items = scenario.measures()
    list_mask, grade_mask, target = [], [], []
    for m, _ in items:
        lm = (CL if "court" in m.trigger_lists else 0) | (
            BL if "blacklist" in m.trigger_lists else 0
        )
        gm = sum(1 << grades.index(g) for g in m.trigger_grades)
        if "red" in m.trigger_lists:
            gm |= (1 << (red + 1)) - 1
        list_mask.append(lm)
        grade_mask.append(gm)
        target.append(
            {
                "person": TARGET_PERSON,
                "children": TARGET_CHILDREN,
                "both": TARGET_PERSON | TARGET_CHILDREN,
            }[m.target]
        )
    return Measures(
        names=[m.name for m, _ in items],
        is_reward=np.array([r for _, r in items], dtype=bool),
        list_mask=np.array(list_mask, dtype=np.uint8),
        grade_mask=np.array(grade_mask, dtype=np.int64),
        target=np.array(target, dtype=np.int8),
        per_day_urban=np.array([m.per_year_urban / 365.0 for m, _ in items]),
        per_day_rural=np.array([m.per_year_rural / 365.0 for m, _ in items]),
    )


@nb.njit(cache=True)
def affected(flags: np.uint8, list_mask: np.uint8, grade_mask: np.int64) -> int:
    """0 not affected, 1 affected rightfully, 2 affected wrongfully."""
    f = int(flags)
    by_list = f & int(list_mask)
    by_grade = (grade_mask >> grade_bits(flags)) & 1
    if by_list == 0 and by_grade == 0:
        return 0
    if by_list & int(CL):
        return 1
    if (by_list & int(BL)) and not (f & int(BLW)):
        return 1
    if by_grade and not (f & int(TAINT)):
        return 1
    return 2
