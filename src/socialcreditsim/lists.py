"""Lists: the score blacklist, the courts' list of dishonest debtors, the red list (MODEL.md 5).

List membership lives in one flag byte per scored person:

====== =====================================================================
bit    meaning
====== =====================================================================
0      on the score blacklist
1      that blacklisting is wrongful (a wrongful record was part of the score that put them there)
2      on the court list
3      the court listing ends by expiry (else by compliance) on day ``until``
4      taint: a wrongful record that lowered the score is part of its current deficit
5-7    grade index (0 = highest grade)
====== =====================================================================

The red list is implied by the grade. A blacklisting is *wrongful* when a wrongfully attributed
record contributed to the score at entry (the taint bit); the taint clears when the score is back
at or above its start value. (A wrongful record that raised a score is not tracked: no built-in
scenario records good deeds by camera.) Court listings come from court records, which carry no
misidentification.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .rng import geometric_days

__all__ = [
    "BL",
    "BLW",
    "CL",
    "CLX",
    "TAINT",
    "GRADE_SHIFT",
    "grade_bits",
    "court_until",
    "court_extended",
]

BL = np.uint8(1)
BLW = np.uint8(2)
CL = np.uint8(4)
CLX = np.uint8(8)
TAINT = np.uint8(16)
GRADE_SHIFT = 5
GRADE_MASK = np.uint8(0xE0)
NEVER = 32767  # a day beyond any run (day counters are int16)

# court-list exit reasons (audit and time series)
COMPLIED, COMPLIED_UNDER_PRESSURE, EXPIRED = 0, 1, 2
COURT_EXIT_REASONS = ("complied", "complied_under_pressure", "expired")


@nb.njit(cache=True)
def grade_bits(flags: np.uint8) -> int:
    return int(flags) >> GRADE_SHIFT


@nb.njit(cache=True)
def with_grade(flags: np.uint8, grade: int) -> np.uint8:
    return np.uint8((int(flags) & 0x1F) | (grade << GRADE_SHIFT))


@nb.njit(cache=True)
def court_until(state: np.ndarray, day: int, duration: int, hazard: float) -> tuple[int, bool]:
    """Day a new court listing ends, and whether by expiry (True) or by compliance (False).

    Compliance is a daily Bernoulli(hazard) from the day after listing; the listing expires
    ``duration`` days after it began (0 = never), and on that day expiry wins: a listing of
    duration D gives compliance D - 1 chances (docs/model.md, section 5).
    """
    comply = day + geometric_days(state, hazard)
    expire = day + duration if duration > 0 else NEVER
    if expire <= comply:
        return min(expire, NEVER), True
    return min(comply, NEVER), False


@nb.njit(cache=True)
def court_extended(
    state: np.ndarray, day: int, until: int, expires: bool, duration: int, hazard: float
) -> tuple[int, bool]:
    """End of a listing extended on ``day`` by a new record, from its pending end ``until``.

    A pending compliance day stands unless the new expiry comes first (compliance is
    memoryless, so the day drawn at listing is still a correct draw). A pending expiry meant no
    compliance before it; compliance is then drawn from the day of that expiry on, which is a
    day of the extended listing (today's chance included, since on the day of an extension the
    list transitions come after the day's records, MODEL.md section 7)."""
    expire = day + duration if duration > 0 else NEVER
    comply = until if not expires else until - 1 + geometric_days(state, hazard)
    if expire <= comply:
        return min(expire, NEVER), True
    return min(comply, NEVER), False
