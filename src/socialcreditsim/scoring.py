"""Scores, lazy recovery and grades (MODEL.md section 5).

Recovery toward the start value runs on a global clock of *ticks*: ``points`` points every
``every`` days, on the days divisible by ``every``. A ``recovery_per_day`` of r becomes the
fraction points/every closest to r with every <= 365. Because ticks fall on fixed days, a score
untouched since day ``last`` is brought up to day ``t`` exactly, in integers, by
``points * (t // every - last // every)``: recovery costs nothing for people nobody touches, and
the day a recovering score crosses a threshold is known in advance, so crossings are scheduled
instead of scanned for.
"""

from __future__ import annotations

from fractions import Fraction

import numba as nb
import numpy as np

__all__ = ["recovery_ticks", "recover", "grade_of", "crossing_day"]


def recovery_ticks(per_day: float) -> tuple[int, int]:
    """(points, every) with points / every the closest fraction to ``per_day``, every <= 365."""
    if per_day <= 0:
        return 0, 1
    f = Fraction(per_day).limit_denominator(365)
    if f == 0:
        f = Fraction(1, 365)
    return f.numerator, f.denominator


@nb.njit(cache=True)
def recover(score: int, last: int, day: int, start: int, points: int, every: int) -> int:
    """The score at ``day`` of a score last brought up to date on day ``last``."""
    if score == start or points == 0:
        return score
    gained = points * (day // every - last // every)
    if score < start:
        return min(start, score + gained)
    return max(start, score - gained)


@nb.njit(cache=True)
def grade_of(score: int, grade_min: np.ndarray) -> int:
    """Index of the grade of ``score`` (0 = highest); 0 when the scenario has no grades."""
    for g in range(len(grade_min)):
        if score >= grade_min[g]:
            return g
    return max(len(grade_min) - 1, 0)


@nb.njit(cache=True)
def crossing_day(score: int, day: int, target: int, start: int, points: int, every: int) -> int:
    """First day after ``day`` on which recovery takes ``score`` to ``target``, or -1 if never.

    Upward (score < target <= start): the score reaches ``target``. Downward (start < target <=
    score): the score falls below ``target``.
    """
    if points == 0:
        return -1
    if score < target <= start:
        need = target - score
    elif start < target <= score:
        need = score - target + 1
    else:
        return -1
    ticks = (need + points - 1) // points
    return (day // every + ticks) * every


@nb.njit(cache=True)
def next_grade_crossing(
    score: int, day: int, start: int, points: int, every: int, grade_min: np.ndarray
) -> int:
    """First day recovery moves ``score`` into another grade, or -1."""
    best = -1
    for g in range(len(grade_min)):
        d = crossing_day(score, day, grade_min[g], start, points, every)
        if d >= 0 and (best < 0 or d < best):
            best = d
    return best
