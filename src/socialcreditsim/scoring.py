"""Scores, exact lazy recovery and grades (MODEL.md section 5).

A score recovers toward its start value by ``r = recovery_per_day`` points a day, a fraction of a
point when r is. The score is a real number; it is kept exactly, with no state beyond a person's
two int16 fields, by writing ``r = p / q`` in lowest terms and storing a *base* ``V`` (an integer
score) and a *base day* ``L`` such that the score on any later day ``t`` untouched since is::

    x(t) = min(start, V + r (t - L))   if V < start   (recovering upward)
    x(t) = max(start, V - r (t - L))   if V > start   (recovering downward)
    x(t) = start                       if V = start

Every reachable score is an integer plus a multiple of 1/q, so after the day's events it is put
back in that form (``canonical``) with ``t - q < L <= t``. Work is exact integer arithmetic on
``X = q x``, a score in units of 1/q points. Thresholds (grades, blacklist entry and exit) are
whole scores, so comparing ``floor(x)`` with them is the same as comparing x.

Because x(t) is known in closed form, the day a recovering score crosses a threshold is known the
moment the person is last touched (``first_day_at_or_above``, ``first_day_below``): crossings are
scheduled, never scanned for, and an untouched score costs nothing per day.
"""

from __future__ import annotations

from fractions import Fraction

import numba as nb
import numpy as np

__all__ = [
    "MAX_DENOMINATOR",
    "recovery_fraction",
    "exact_score",
    "canonical",
    "first_day_at_or_above",
    "first_day_below",
    "NO_DAY",
    "grade_of",
]

MAX_DENOMINATOR = 10_000  # base days stay within 10,000 days before the day (int16)
NO_DAY = 1 << 40  # a day no run reaches


def recovery_fraction(per_day: float) -> tuple[int, int, int]:
    """(p, q, p^-1 mod q): ``per_day`` as the fraction p/q, exact for any rate written with at
    most four decimals (0.1, 0.03, 2.5) and otherwise the closest fraction with q <= 10,000."""
    f = Fraction(repr(float(per_day))).limit_denominator(MAX_DENOMINATOR)
    if per_day > 0 and f == 0:
        raise ValueError(
            f"score.recovery_per_day = {per_day} is below 1/{MAX_DENOMINATOR} points a day"
            " (one point in 27 years); use 0 for no recovery"
        )
    p, q = f.numerator, f.denominator
    return p, q, pow(p, -1, q) if p else 0


@nb.njit(cache=True)
def exact_score(V: int, L: int, t: int, start: int, p: int, q: int) -> int:
    """q times the score on day ``t`` of a person with base ``V`` on base day ``L``."""
    if V < start:
        return min(q * start, q * V + p * (t - L))
    if V > start:
        return max(q * start, q * V - p * (t - L))
    return q * start


@nb.njit(cache=True)
def canonical(X: int, t: int, start: int, p: int, q: int, pinv: int) -> tuple[int, int]:
    """(V, L) with L in (t - q, t] that give the score X / q on day ``t``."""
    if X == q * start or q == 1:
        return X // q, t
    rem = X % q
    if X < q * start:  # X = q V + p m
        m = (rem * pinv) % q
        return (X - p * m) // q, t - m
    m = (((q - rem) % q) * pinv) % q  # X = q V - p m
    return (X + p * m) // q, t - m


@nb.njit(cache=True)
def first_day_at_or_above(V: int, L: int, thr: int, start: int, p: int, q: int) -> int:
    """First day from ``L`` on which the score is at least ``thr`` (``L`` if it already is on
    day L), or NO_DAY. A score above start only falls, so for it the answer is L or NO_DAY."""
    if V >= thr:
        return L
    if V > start or thr > start or p == 0:
        return NO_DAY
    return L + (q * (thr - V) + p - 1) // p


@nb.njit(cache=True)
def first_day_below(V: int, L: int, thr: int, start: int, p: int, q: int) -> int:
    """First day from ``L`` on which the score is below ``thr``, or NO_DAY."""
    if V < thr:
        return L
    if V < start or thr <= start or p == 0:
        return NO_DAY
    return L + (q * (V - thr)) // p + 1


@nb.njit(cache=True)
def grade_of(score: int, grade_min: np.ndarray) -> int:
    """Index of the grade of ``score`` (0 = highest); 0 when the scenario has no grades."""
    for g in range(len(grade_min)):
        if score >= grade_min[g]:
            return g
    return max(len(grade_min) - 1, 0)
