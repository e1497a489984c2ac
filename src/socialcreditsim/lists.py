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

A listed person also has a record in the engine's table of listed people: the day their blacklisting
began, and a *court word* (``court_word``): the day their court listing ends, the day it began,
and whether it was ordered at discretion (MODEL.md section 10), which no flag bit has room for.

The red list is implied by the grade. A blacklisting is *wrongful* when a wrongfully attributed
record contributed to the score at entry (the taint bit); the taint clears when the score is back
at or above its start value. (A wrongful record that raised a score is not tracked: no built-in
scenario records good deeds by camera.) Court listings come from court records, which carry no
misidentification.
"""

from __future__ import annotations

import numpy as np

from .jit import nb
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
    "court_word",
    "word_until",
    "word_day",
    "word_discretion",
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
COMPLIED, COMPLIED_UNDER_PRESSURE, EXPIRED, CORRECTED, REPAIRED = range(5)
COURT_EXIT_REASONS = ("complied", "complied_under_pressure", "expired", "corrected", "repaired")
# blacklist exit reasons
RECOVERED, BL_CORRECTED = 0, 1
BLACKLIST_EXIT_REASONS = ("recovered", "corrected")

_DAY_BITS = 15  # days 0 to NEVER
_DISCRETION = 1 << _DAY_BITS


@nb.njit(cache=True)
def court_word(until: int, day: int, discretion: bool) -> int:
    """A court listing packed in one int32: the day it ends (``until``), the day it began and
    whether it was ordered at discretion."""
    return until | (_DISCRETION if discretion else 0) | (max(day, 0) << (_DAY_BITS + 1))


@nb.njit(cache=True)
def word_until(word: int) -> int:
    return word & NEVER


@nb.njit(cache=True)
def word_day(word: int) -> int:
    return word >> (_DAY_BITS + 1)


@nb.njit(cache=True)
def word_discretion(word: int) -> bool:
    return (word & _DISCRETION) != 0


@nb.njit(cache=True)
def grade_bits(flags: np.uint8) -> int:
    return int(flags) >> GRADE_SHIFT


@nb.njit(cache=True)
def with_grade(flags: np.uint8, grade: int) -> np.uint8:
    return np.uint8((int(flags) & 0x1F) | (grade << GRADE_SHIFT))


@nb.njit(cache=True)
def _exit_day(
    state: np.ndarray, day: int, begun: int, hazard: float, repair_after: int, repair: float
) -> int:
    """First day after ``day`` on which a listing begun on ``begun`` ends by compliance (a daily
    Bernoulli(hazard)) or by credit repair (a daily Bernoulli(repair) from ``repair_after`` days
    after it began); the draws are memoryless, so the day is drawn in the two spans in turn."""
    if repair <= 0.0:
        return day + geometric_days(state, hazard)
    both = 1.0 - (1.0 - hazard) * (1.0 - repair)
    switch = begun + repair_after  # the first day a repair can happen
    if switch > day + 1:
        d = day + geometric_days(state, hazard)
        if d < switch:
            return d
        day = switch - 1
    return day + geometric_days(state, both)


@nb.njit(cache=True)
def court_until(
    state: np.ndarray, day: int, duration: int, hazard: float, repair_after: int, repair: float
) -> tuple[int, bool]:
    """Day a new court listing ends, and whether by expiry (True) or by compliance or repair
    (False).

    Compliance is a daily Bernoulli(hazard) from the day after listing, repair a daily
    Bernoulli(repair) from ``repair_after`` days after it; the listing expires ``duration``
    days after it began (0 = never), and on that day expiry wins: a listing of duration D gives
    compliance D - 1 chances (docs/model.md, section 5).
    """
    comply = _exit_day(state, day, day, hazard, repair_after, repair)
    expire = day + duration if duration > 0 else NEVER
    if expire <= comply:
        return min(expire, NEVER), True
    return min(comply, NEVER), False


@nb.njit(cache=True)
def court_extended(
    state: np.ndarray,
    day: int,
    until: int,
    expires: bool,
    duration: int,
    hazard: float,
    begun: int,
    repair_after: int,
    repair: float,
) -> tuple[int, bool]:
    """End of a listing (begun on ``begun``) extended on ``day`` by a new record, from its
    pending end ``until``.

    A pending compliance day stands unless the new expiry comes first (compliance is
    memoryless, so the day drawn at listing is still a correct draw). A pending expiry meant no
    compliance before it; compliance is then drawn from the day of that expiry on, which is a
    day of the extended listing (today's chance included, since on the day of an extension the
    list transitions come after the day's records, MODEL.md section 7)."""
    expire = day + duration if duration > 0 else NEVER
    comply = until
    if expires:
        comply = _exit_day(state, until - 1, begun, hazard, repair_after, repair)
    if expire <= comply:
        return min(expire, NEVER), True
    return min(comply, NEVER), False
