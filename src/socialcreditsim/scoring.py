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
from typing import NamedTuple

import numpy as np

from .jit import nb

__all__ = [
    "MAX_DENOMINATOR",
    "Rate",
    "recovery_fraction",
    "recovery_rate",
    "floor_score",
    "exact_score",
    "canonical",
    "first_day_at_or_above",
    "first_day_below",
    "NO_DAY",
    "grade_of",
]

MAX_DENOMINATOR = 10_000  # base days stay within 10,000 days before the day (int16)
NO_DAY = 1 << 40  # a day no run reaches
SHIFT = 1 << 15  # added to a score so that every (base) score is non-negative


class Rate(NamedTuple):
    """A recovery rate p/q per day and what the kernels need to divide by q and p quickly.

    Integer division is some 40 cycles, several a visit; ``_div`` divides a non-negative n below
    2**31 by d exactly with a multiplication and a shift (Granlund and Montgomery 1994): with
    l = ceil(log2 d) and m = floor(2**(31 + l) / d) + 1, floor(n / d) = (n m) >> (31 + l).
    """

    p: int
    q: int
    pinv: int  # p^-1 mod q
    q_mul: int
    q_shift: int
    p_mul: int
    p_shift: int


def _reciprocal(d: int) -> tuple[int, int]:
    shift = 31 + max(0, (d - 1).bit_length())
    return (1 << shift) // d + 1, shift


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


def recovery_rate(per_day: float, smin: int, smax: int) -> Rate:
    """The ``Rate`` of ``per_day`` for scores in [smin, smax]. A base score lies less than p
    from the score it stands for, so [smin - p, smax + p] must fit the int16 score field."""
    p, q, pinv = recovery_fraction(per_day)
    if smin - p < -SHIFT or smax + p >= SHIFT:
        raise ValueError(
            f"score.recovery_per_day = {per_day} is {p}/{q} points a day: with scores from "
            f"{smin} to {smax} the engine's 16-bit scores need score.min - {p} >= -32768 and "
            f"score.max + {p} <= 32767; use a rate with a smaller numerator or narrower bounds"
        )
    return Rate(p, q, pinv, *_reciprocal(q), *_reciprocal(max(p, 1)))


@nb.njit(cache=True, inline="always")
def _div(n: int, mul: int, shift: int) -> int:
    return (n * mul) >> shift


@nb.njit(cache=True)
def exact_score(V: int, L: int, t: int, start: int, R: Rate) -> int:
    """q times the score on day ``t`` of a person with base ``V`` on base day ``L``."""
    q = R.q
    if V < start:
        return min(q * start, q * V + R.p * (t - L))
    if V > start:
        return max(q * start, q * V - R.p * (t - L))
    return q * start


@nb.njit(cache=True)
def floor_score(X: int, R: Rate) -> int:
    """The whole score of a score of X / q points (rounded down)."""
    if R.q == 1:
        return X
    return _div(X + R.q * SHIFT, R.q_mul, R.q_shift) - SHIFT


@nb.njit(cache=True)
def canonical(X: int, t: int, start: int, R: Rate) -> tuple[int, int]:
    """(V, L) with L in (t - q, t] that give the score X / q on day ``t``."""
    p, q, pinv = R.p, R.q, R.pinv
    if q == 1:
        return X, t
    if X == q * start:
        return start, t
    rem = X + q * SHIFT - q * _div(X + q * SHIFT, R.q_mul, R.q_shift)  # X mod q
    if X > q * start:  # X = q V - p m
        rem = q - rem if rem else 0
    m = rem * pinv
    m -= q * _div(m, R.q_mul, R.q_shift)  # p m = +-X mod q
    pm = p * m if X < q * start else -p * m
    return _div(X - pm + q * SHIFT, R.q_mul, R.q_shift) - SHIFT, t - m


@nb.njit(cache=True)
def first_day_at_or_above(V: int, L: int, thr: int, start: int, R: Rate) -> int:
    """First day from ``L`` on which the score is at least ``thr`` (``L`` if it already is on
    day L), or NO_DAY. A score above start only falls, so for it the answer is L or NO_DAY."""
    if V >= thr:
        return L
    if V > start or thr > start or R.p == 0:
        return NO_DAY
    return L + _div(R.q * (thr - V) + R.p - 1, R.p_mul, R.p_shift)


@nb.njit(cache=True)
def first_day_below(V: int, L: int, thr: int, start: int, R: Rate) -> int:
    """First day from ``L`` on which the score is below ``thr``, or NO_DAY."""
    if V < thr:
        return L
    if V < start or thr <= start or R.p == 0:
        return NO_DAY
    return L + _div(R.q * (V - thr), R.p_mul, R.p_shift) + 1


@nb.njit(cache=True)
def grade_of(score: int, grade_min: np.ndarray) -> int:
    """Index of the grade of ``score`` (0 = highest); 0 when the scenario has no grades."""
    for g in range(len(grade_min)):
        if score >= grade_min[g]:
            return g
    return max(len(grade_min) - 1, 0)
