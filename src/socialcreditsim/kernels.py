"""Numba kernels of the day (MODEL.md section 7), one locality at a time.

Localities are independent (a misidentification, a household, a list transition stays inside
its locality), so the day runs in parallel over ranges of localities (``Parallel``), each
locality with its own random stream keyed by (seed, locality, day, purpose): the output does not
depend on the number of threads.

Per-day work is proportional to the recorded events and the scheduled revisits:

1. ``plan_day`` draws how many events happen and are recorded, per locality and behaviour,
   from the expected numbers ``behaviours.BehaviourModel.day_tables`` computes;
2. ``apply_day`` visits each person who has recorded events or a transition due today once, in
   the order of MODEL.md section 7: lazy recovery, the sum of the day's score changes clipped
   once, court listings; then the list transitions on the resulting score (court exits,
   blacklist exits and entries, grade); then it draws blocked attempts and reward uses from the
   stocks of affected people.

A *revisit* is a calendar entry (locality, day, person) for the day of a person's next
transition without an event (``_next_due``), which is a function of their stored state alone.
Each visit pushes one; an entry whose day is no longer the person's due day (they were touched
since) is stale and is dropped on its day, and two entries for the same day are one visit.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba.core.extending import intrinsic

from .jit import Kernel, nb
from .lists import (
    BL,
    BL_CORRECTED,
    BLW,
    CL,
    CLX,
    COMPLIED,
    COMPLIED_UNDER_PRESSURE,
    CORRECTED,
    EXPIRED,
    NEVER,
    RECOVERED,
    REPAIRED,
    TAINT,
    court_extended,
    court_until,
    court_word,
    grade_bits,
    with_grade,
    word_day,
    word_discretion,
    word_until,
)
from .population import children_count
from .rng import geometric_days, new_stream, poisson, randint, uniform
from .sanctions import TARGET_CHILDREN, TARGET_PERSON, affected
from .scoring import (
    NO_DAY,
    Rate,
    canonical,
    exact_score,
    first_day_at_or_above,
    first_day_below,
    floor_score,
)

# audit record kinds
(
    EVENT,
    COURT_ENTRY,
    COURT_EXIT,
    BL_ENTRY,
    BL_EXIT,
    MEASURE_START,
    MEASURE_END,
    ATTEMPTS,
    GRADE,
    SHAMED,
    COURT_EXTENDED,
    DISCRETION_ENTRY,
    APPEAL,
    CORRECTION,
) = range(14)
AUDIT_KINDS = (
    "event",
    "court_list_entry",
    "court_list_exit",
    "blacklist_entry",
    "blacklist_exit",
    "measure_start",
    "measure_end",
    "attempts",
    "grade_change",
    "shamed",
    "court_list_extended",
    "listed_at_discretion",
    "appeal",
    "correction",
)

# flows, per behaviour: true, recorded rightful, recorded wrongful, shamed rightful, wrongful,
# deterred (MODEL.md section 10: prevented by deterrence, or lawful acts forgone by chilling)
FB = 6
# after the behaviours: court entries (by record, at discretion), court exits (5 reasons,
# lists.COURT_EXIT_REASONS), blacklist entries (rightful, wrongful), blacklist exits (2 reasons,
# lists.BLACKLIST_EXIT_REASONS), appeals and corrections (records rightful, wrongful, listings
# at discretion), days from a wrongful record or a listing at discretion to its correction
F_COURT_IN, F_DISC_IN, F_COURT_OUT, F_BL_IN_R, F_BL_IN_W, F_BL_OUT = 0, 1, 2, 7, 8, 9
F_APPEAL, F_CORR, F_CORR_DAYS = 11, 14, 17
N_LIST_FLOWS = 19
# stocks: court, court at discretion, blacklist rightful, wrongful, sanctioned in person (by
# any sanction) rightfully, wrongfully; then 4 per measure, then grades
S_COURT, S_DISC, S_BL_R, S_BL_W, S_SANC_R, S_SANC_W = 0, 1, 2, 3, 4, 5
N_LIST_STOCKS = 6

AT_START = 3  # truth code of audit records that describe the state at the start

# random stream purposes
P_PLAN, P_EVENTS, P_ATTEMPTS, P_INIT, P_DETERRED, P_DISCRETION = 0, 1, 2, 3, 4, 5
# visit codes below 0 (0 and above: 2 x behaviour + wrongful, a recorded event)
V_REVISIT, V_DECISION, V_DISCRETION = -1, -2, -3
# appeal record code of a listing at discretion (else 2 x behaviour + wrongful)
R_DISCRETION = -1


class Params(NamedTuple):
    seed: int
    n_days: int
    start: int
    smin: int
    smax: int
    rate: Rate  # recovery per day (scoring.recovery_rate)
    grade_table: np.ndarray  # grade index of each score from smin to smax
    grade_up: np.ndarray  # per grade index: the score that lifts a person out of it
    grade_dn: np.ndarray  # per grade index: the score below which a person falls out of it
    bl_on: bool
    bl_entry: int
    bl_exit: int
    bl_min_stay: int
    court_duration: int
    court_extend: bool
    court_base: float
    court_pay: float
    repair: float  # daily probability of credit repair, from repair_after days after listing
    repair_after: int
    disc_duration: int
    disc_block_rate: np.ndarray  # per block: listings at discretion per person-day
    ap_on: bool
    ap_prob: float
    ap_unaware: float
    ap_undisclosed: float
    ap_disclosure: float
    ap_delay: int
    ap_random: bool
    ap_success_w: float
    ap_success_r: float
    b_appealable: np.ndarray  # bool per behaviour: its records lower a score or list people
    block_group: np.ndarray  # per block: group index (0 none)
    m_list: np.ndarray
    m_grade: np.ndarray
    m_target: np.ndarray
    m_rate_u: np.ndarray
    m_rate_r: np.ndarray
    m_reward: np.ndarray
    b_channel: np.ndarray
    b_change: np.ndarray
    b_shaming: np.ndarray
    b_listing: np.ndarray
    block_factor: np.ndarray
    block_record: np.ndarray
    block_court: np.ndarray
    audit_stride: int
    audit_offset: int
    audit_magic: np.uint64  # ``divisibility_magic(audit_stride)``, or 0: use a division


class Layout(NamedTuple):
    scored_start: np.ndarray
    scored: np.ndarray
    children: np.ndarray
    adults: np.ndarray
    parents: np.ndarray
    stride_inv: np.ndarray
    urban: np.ndarray
    blocks: np.ndarray


class State(NamedTuple):
    """Per scored person: 2 + 2 + 1 = 5 bytes. The few listed people have a record in
    ``Books.listed`` too (day of blacklist entry, day the court listing ends)."""

    score: np.ndarray  # int16
    last: np.ndarray  # int16 day the score was last brought up to date
    flags: np.ndarray  # uint8, see lists.py


STATE_DTYPE = np.dtype([("score", "<i2"), ("last", "<i2"), ("flags", "u1")])
# the state as bytes (``state_bytes``): record size, and each field's offset as an unsigned
# index (Numba checks a signed index for a negative value at every access)
REC = STATE_DTYPE.itemsize
B_SCORE, B_LAST, B_FLAGS = (np.uint64(STATE_DTYPE.fields[f][1]) for f in State._fields)
B_ONE = np.uint64(1)
LITTLE_ENDIAN = sys.byteorder == "little"  # a record's fields by shifts of a word read whole


@intrinsic
def load_u64(typingctx, data, at):  # noqa: ANN001, ANN201, ARG001
    """The 8 bytes of the uint8 array ``data`` from byte ``at`` as one uint64 (the machine's byte
    order), at any alignment."""

    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202, ARG001
        array = context.make_array(signature.args[0])(context, builder, args[0])
        where = builder.bitcast(builder.gep(array.data, [args[1]]), ir.IntType(64).as_pointer())
        return builder.load(where, align=1)

    return nb.types.uint64(data, at), codegen


@intrinsic
def store_u64(typingctx, data, at, value):  # noqa: ANN001, ANN201, ARG001
    """Write the uint64 ``value`` as the 8 bytes of the uint8 array ``data`` from byte ``at``
    (the machine's byte order), at any alignment."""

    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202, ARG001
        array = context.make_array(signature.args[0])(context, builder, args[0])
        where = builder.bitcast(builder.gep(array.data, [args[1]]), ir.IntType(64).as_pointer())
        builder.store(args[2], where, align=1)
        return context.get_dummy_value()

    return nb.types.none(data, at, nb.types.uint64), codegen


@nb.njit(cache=True)
def _plain(K: Params) -> tuple[np.uint8, bool]:
    """The flags of somebody untouched (at the start score: its grade, no list), and whether
    any measure affects such a person."""
    plain = with_grade(np.uint8(0), K.grade_table[K.start - K.smin])
    hit = False
    for m in range(len(K.m_list)):
        hit |= affected(plain, K.m_list[m], K.m_grade[m]) > 0
    return plain, hit


@nb.njit(cache=True)
def _untouched_words(K: Params) -> np.ndarray:
    """Row 0: 8 untouched records (the start score, day 0, no flag but the start grade's) as
    REC words; row 1: the mask of the bytes that tell them from touched ones (the score and the
    flags, not the day). ``init_state`` writes them, ``snapshot`` skips them."""
    plain = _plain(K)[0]
    pattern = np.zeros(8 * REC, dtype=np.uint8)
    mask = np.zeros(8 * REC, dtype=np.uint8)
    for j in range(8):
        r = j * REC
        pattern[r + B_SCORE] = K.start & 0xFF
        pattern[r + B_SCORE + B_ONE] = (K.start >> 8) & 0xFF
        pattern[r + B_FLAGS] = plain
        mask[r + B_SCORE] = mask[r + B_SCORE + B_ONE] = mask[r + B_FLAGS] = 0xFF
    untouched = np.empty((2, REC), dtype=np.uint64)
    for w in range(REC):
        untouched[0, w] = load_u64(pattern, 8 * w)
        untouched[1, w] = load_u64(mask, 8 * w)
    return untouched


def new_state(n: int) -> State:
    """State of n people, filled by ``init_state``. One interleaved buffer: a person's score,
    day and flags share a cache line, so a visit costs one memory access, not three (the
    arrays are strided views)."""
    buf = np.empty(n, dtype=STATE_DTYPE)
    return State(score=buf["score"], last=buf["last"], flags=buf["flags"])


def state_bytes(S: State) -> np.ndarray:
    """The buffer behind ``S`` as bytes, REC a person. The snapshot reads it so: through the
    strided field arrays, every access multiplies by a stride known only at run time."""
    return S.flags.base.view(np.uint8)


class Books(NamedTuple):
    """Per-locality counters, calendar and audit buffer."""

    flows: np.ndarray  # int64 (n_loc, n_flows), reset each day
    stocks: np.ndarray  # int64 (n_loc, n_stocks)
    cal_head: np.ndarray  # int32 (n_loc, n_days, 2): each day's first chunk of revisits, revisits
    cal: np.ndarray  # int32 (n_loc, cap, 1 + PER_CHUNK): chunks (next, who x PER_CHUNK)
    cal_meta: np.ndarray  # int32 (n_loc, 4): free-chunk list head, high-water mark, chunks in
    # use, days not yet taken whose first chunk is full or absent
    listed: np.ndarray  # int32 (n_loc, lcap, 3): hash table of listed people (who, since, word)
    listed_meta: np.ndarray  # int32 (n_loc, 1): records in the table
    app_head: np.ndarray  # int32 (n_loc, n_days, 2): each day's first appeal decided, appeals
    app: np.ndarray  # int32 (n_loc, cap, 5): successful appeals (who, next, record, day, listed)
    app_meta: np.ndarray  # int32 (n_loc, 3): free-entry list head, high-water mark, entries in use


CAL_WHO, CAL_NEXT = 0, 1
CAL_FREE, CAL_TOP, CAL_LIVE, CAL_NO_ROOM = 0, 1, 2, 3
# revisits of a day come in chunks of one cache line, a link and PER_CHUNK people: walking a
# day's revisits as a list of single entries waited on a cache miss for each (most of a
# locality's calendar is out of cache by the next day)
PER_CHUNK = 15
AUDIT_COLUMNS = ("day", "who", "kind", "item", "truth", "value", "score")
N_AUDIT = len(AUDIT_COLUMNS)
LS_WHO, LS_SINCE, LS_WORD = 0, 1, 2  # word: lists.court_word
AP_CODE, AP_DAY, AP_LISTED = 2, 3, 4  # after who and next, as in the calendar
LS_EMPTY = -1
LM_LIVE = 0


# Hot helpers take scalars and a few arrays, never the NamedTuples: every call that passes a
# NamedTuple increments and decrements the reference count of each array inside it (~0.4 us).


def divisibility_magic(d: int, n_max: int) -> np.uint64:
    """c = ceil(2^64 / d): a number n is a multiple of d iff n c mod 2^64 < c, for n and d below
    2^32 (Lemire, Kaser and Kurz 2019, "Faster remainder by direct computation"): a
    multiplication instead of a 64-bit division (tens of cycles) at each visit. 0 (a division,
    then) when d < 2 or numbers up to ``n_max`` do not fit."""
    if d < 2 or max(d, n_max) >= 2**32:
        return np.uint64(0)
    return np.uint64(-(-(2**64) // d))


@nb.njit(cache=True, inline="always")
def in_sample(a: int, stride: int, offset: int, c: np.uint64) -> bool:
    """Whether scored person ``a`` is in the audit sample, ``a % stride == offset``
    (audit.audit_sample), with ``c = divisibility_magic(stride, ...)``."""
    if stride <= 0 or a < offset:
        return False
    if c == 0:
        return a % stride == offset
    return np.uint64(a - offset) * c < c


@nb.njit(cache=True)
def _audit(
    aud: np.ndarray,
    n: np.ndarray,
    t: int,
    a: int,
    kind: int,
    item: int,
    truth: int,
    value: int,
    score: int,
) -> None:
    """Append one record (columns AUDIT_COLUMNS) to a buffer sized for the worst case."""
    row = aud[n[0]]
    row[0], row[1], row[2], row[3], row[4], row[5], row[6] = t, a, kind, item, truth, value, score
    n[0] += 1


@nb.njit(cache=True)
def _count(
    stocks: np.ndarray,
    f: int,
    sign: int,
    m_list: np.ndarray,
    m_grade: np.ndarray,
    m_target: np.ndarray,
    m_reward: np.ndarray,
    n_children: int,
) -> None:
    """Add (sign=1) or remove (sign=-1) one person's contribution to the locality's stocks
    (all but S_DISC, which the flags do not show)."""
    if f & int(CL):
        stocks[S_COURT] += sign
    if f & int(BL):
        stocks[S_BL_W if f & int(BLW) else S_BL_R] += sign
    n_m = len(m_list)
    stocks[N_LIST_STOCKS + 4 * n_m + grade_bits(np.uint8(f))] += sign
    hit = 0  # sanctioned in person: 1 rightfully by some sanction, else 2 wrongfully, else 0
    for m in range(n_m):
        aff = affected(np.uint8(f), m_list[m], m_grade[m])
        if aff == 0:
            continue
        base = N_LIST_STOCKS + 4 * m + (aff - 1)
        if m_target[m] & TARGET_PERSON:
            stocks[base] += sign
            if not m_reward[m] and (hit == 0 or aff == 1):
                hit = aff
        if m_target[m] & TARGET_CHILDREN:
            stocks[base + 2] += sign * n_children
    if hit:
        stocks[S_SANC_R + hit - 1] += sign


@nb.njit(cache=True)
def _pressure(
    pay: float,
    m_list: np.ndarray,
    m_target: np.ndarray,
    m_rate: np.ndarray,
    m_reward: np.ndarray,
    n_children: int,
) -> float:
    """Daily probability that a court-listed person pays because a sanction bit."""
    if pay == 0.0:
        return 0.0
    rate = 0.0
    for m in range(len(m_list)):
        if m_reward[m] or not (int(m_list[m]) & int(CL)):
            continue
        units = 1 if m_target[m] & TARGET_PERSON else 0
        if m_target[m] & TARGET_CHILDREN:
            units += n_children
        rate += units * m_rate[m]
    return min(1.0, pay * rate)


@nb.njit(cache=True)
def _next_due(
    f: int,
    since: int,
    until: int,
    V: int,
    Lb: int,
    start: int,
    R: Rate,
    bl_exit: int,
    bl_min_stay: int,
    up: int,
    down: int,
) -> int:
    """Day of the person's next transition without an event: court exit, blacklist exit or
    grade change, from their stored state alone (base score V on base day Lb, see scoring.py).
    ``up`` and ``down`` are the thresholds that end the person's grade (``Params.grade_up``,
    ``grade_dn``). Scalars only: an array argument would cost two atomic reference count
    updates a call."""
    nxt = NO_DAY
    if f & int(CL):
        nxt = until
    if f & int(BL):
        d = since + bl_min_stay
        if V > start:  # falling: at or above exit_at until it falls below
            if d < first_day_below(V, Lb, bl_exit, start, R):
                nxt = min(nxt, d)
        else:
            nxt = min(nxt, max(d, first_day_at_or_above(V, Lb, bl_exit, start, R)))
    if V < start:
        nxt = min(nxt, first_day_at_or_above(V, Lb, up, start, R))
    elif V > start:
        nxt = min(nxt, first_day_below(V, Lb, down, start, R))
    return nxt


@nb.njit(cache=True)
def _schedule(cal: np.ndarray, meta: np.ndarray, head: np.ndarray, day: int, off: int) -> None:
    """Add a revisit of person ``off`` on ``day`` to the day's first chunk, or to a new chunk
    put in front when that one is full: the day's revisits read backwards (``_take_day``) come
    out last added first."""
    n = head[day, 1]
    fill = n % PER_CHUNK
    meta[CAL_NO_ROOM] += int(fill == PER_CHUNK - 1) - int(fill == 0)
    if fill == 0:
        c = meta[CAL_FREE]
        if c >= 0:
            meta[CAL_FREE] = cal[c, 0]
        else:
            c = meta[CAL_TOP]
            meta[CAL_TOP] = c + 1
        cal[c, 0] = head[day, 0]
        head[day, 0] = c
        meta[CAL_LIVE] += 1
    else:
        c = head[day, 0]
    cal[c, 1 + fill] = off
    head[day, 1] = n + 1


@nb.njit(cache=True)
def _take_day(cal: np.ndarray, meta: np.ndarray, head: np.ndarray, t: int, who: np.ndarray) -> int:
    """The revisits of day ``t`` into ``who``, last added first, their chunks freed; returns
    their number."""
    n = head[t, 1]
    fill = n - PER_CHUNK * ((n - 1) // PER_CHUNK) if n else 0  # people in the first chunk
    meta[CAL_NO_ROOM] -= int(fill == 0 or fill == PER_CHUNK)
    c = head[t, 0]
    head[t, 0], head[t, 1] = -1, 0
    k = 0
    while c >= 0:
        for j in range(fill, 0, -1):
            who[k] = cal[c, j]
            k += 1
        nxt = cal[c, 0]
        cal[c, 0] = meta[CAL_FREE]
        meta[CAL_FREE] = c
        meta[CAL_LIVE] -= 1
        c = nxt
        fill = PER_CHUNK
    return k


@nb.njit(cache=True)
def _push(cal: np.ndarray, meta: np.ndarray, head: np.ndarray, day: int, off: int) -> int:
    """Add an entry for person ``off`` on ``day`` to the appeals calendar; returns its index
    (further columns are the caller's)."""
    e = meta[CAL_FREE]
    if e >= 0:
        meta[CAL_FREE] = cal[e, CAL_NEXT]
    else:
        e = meta[CAL_TOP]
        meta[CAL_TOP] = e + 1
    cal[e, CAL_WHO] = off
    cal[e, CAL_NEXT] = head[day, 0]
    head[day, 0] = e
    head[day, 1] += 1
    meta[CAL_LIVE] += 1
    return e


@nb.njit(cache=True)
def _free(cal: np.ndarray, meta: np.ndarray, e: int) -> int:
    """Return entry ``e`` (read) to the free list; the next entry of its day."""
    nxt = cal[e, CAL_NEXT]
    cal[e, CAL_NEXT] = meta[CAL_FREE]
    meta[CAL_FREE] = e
    meta[CAL_LIVE] -= 1
    return nxt


@nb.njit(cache=True)
def _slot(tab: np.ndarray, lmeta: np.ndarray, off: int, insert: bool) -> int:
    """Slot of person ``off`` in its locality's table of listed people (open addressing with
    linear probing); -1 if absent and not ``insert``. The driver keeps the load under 1/2."""
    mask = tab.shape[0] - 1
    h = (off * 2654435761) & mask
    while True:
        key = tab[h, LS_WHO]
        if key == off:
            return h
        if key == LS_EMPTY:
            if not insert:
                return -1
            tab[h, LS_WHO] = off
            tab[h, LS_SINCE] = 0
            tab[h, LS_WORD] = 0
            lmeta[LM_LIVE] += 1
            return h
        h = (h + 1) & mask


@nb.njit(cache=True)
def _delete(tab: np.ndarray, lmeta: np.ndarray, h: int) -> None:
    """Remove the record in slot ``h``, shifting later records of its probe run back, so the
    table never holds tombstones."""
    mask = tab.shape[0] - 1
    j = h
    while True:
        j = (j + 1) & mask
        key = tab[j, LS_WHO]
        if key == LS_EMPTY:
            break
        home = (key * 2654435761) & mask
        # move the record at j into the hole at h unless its home lies cyclically in (h, j]
        if (h <= j and (home <= h or home > j)) or (h > j and (home <= h and home > j)):
            tab[h, LS_WHO] = key
            tab[h, LS_SINCE] = tab[j, LS_SINCE]
            tab[h, LS_WORD] = tab[j, LS_WORD]
            h = j
    tab[h, LS_WHO] = LS_EMPTY
    lmeta[LM_LIVE] -= 1


@nb.njit(cache=True)
def _keep_listing(
    tab: np.ndarray, lmeta: np.ndarray, off: int, slot: int, f: int, since: int, word: int
) -> None:
    """Store a listed person's days, or drop the record of a person on no list."""
    if f & int(BL | CL):
        if slot < 0:
            slot = _slot(tab, lmeta, off, True)
        tab[slot, LS_SINCE] = since
        tab[slot, LS_WORD] = word
    elif slot >= 0:
        _delete(tab, lmeta, slot)


@nb.njit(cache=True, nogil=True)
def rehash_listed(lo: int, hi: int, old: np.ndarray, new: np.ndarray, meta: np.ndarray) -> None:
    """Move every record into a fresh, larger table."""
    for i in range(lo, hi):
        new[i, :, LS_WHO] = LS_EMPTY
        meta[i, LM_LIVE] = 0
        for h in range(old.shape[1]):
            off = old[i, h, LS_WHO]
            if off >= 0:
                slot = _slot(new[i], meta[i], off, True)
                new[i, slot, LS_SINCE] = old[i, h, LS_SINCE]
                new[i, slot, LS_WORD] = old[i, h, LS_WORD]


SEG = 16  # values per segment in ``_count_le``


@nb.njit(cache=True)
def room_short(
    B: Books, counts: np.ndarray, discretion: np.ndarray, lo: int, hi: int, t: int, appeals: bool
) -> tuple[int, int, int]:
    """What day ``t``'s visits (``plan_day``'s ``counts`` and ``discretion``; with appeals, the
    decisions due) may need in localities ``lo`` to ``hi``, at most: the calendar chunks it
    lacks, the most records a listed-people table may then hold, the appeal entries it lacks.
    Each recorded event lists at most one person and adds at most one appeal; a chunk holds one
    day's revisits, so the day adds at most the chunks its revisits fill, plus one for each
    later day with no room in its first chunk (``CAL_NO_ROOM``, kept by the kernels)."""
    cal_cap, app_cap = B.cal.shape[1], B.app.shape[1]
    cal_short, live, app_short = -(1 << 62), 0, -(1 << 62)
    for i in range(lo, hi):
        recorded = np.int64(discretion[i])
        for b in range(counts.shape[1]):
            recorded += counts[i, b, 0] + counts[i, b, 1]
        pushes = recorded + np.int64(B.cal_head[i, t, 1])
        if appeals:
            pushes += B.app_head[i, t, 1]  # a decision is a visit too
            app_short = max(app_short, recorded - (app_cap - np.int64(B.app_meta[i, CAL_LIVE])))
        full = -(-pushes // PER_CHUNK) + 1
        no_room = np.int64(B.cal_meta[i, CAL_NO_ROOM]) - (B.cal_head[i, t, 1] % PER_CHUNK == 0)
        room = cal_cap - np.int64(B.cal_meta[i, CAL_LIVE])
        cal_short = max(cal_short, full + min(pushes, no_room) - room)
        live = max(live, np.int64(B.listed_meta[i, LM_LIVE]) + recorded)
    return cal_short, live, app_short


@nb.njit(cache=True, inline="always")
def _count_le(a: np.ndarray, last: np.ndarray, x: float) -> int:
    """How many values of the sorted ``a`` are <= x (``np.searchsorted(a, x, side="right")``),
    given ``last``, the last value of each full segment of SEG: counts the segments whose last
    value is <= x, then the values <= x in the next segment. Both sums compile to vector code
    without branches; a binary search mispredicts about half its branches on a random x
    (three times as slow over 256 values)."""
    seg = 0
    for v in last:
        seg += v <= x
    c = lo = SEG * seg
    for k in range(lo, min(lo + SEG, len(a))):
        c += a[k] <= x
    return c


@nb.njit(cache=True)
def _group_visits(who: np.ndarray, first: np.ndarray, chain: np.ndarray, tail: np.ndarray) -> None:
    """For each visit, the index of the same person's first visit of the day (``first``), and
    the person's visits chained in order (``chain``: the next one, -1 after the last), through
    open addressing over twice as many slots as visits: linear in the visits (sorting a
    locality-day's visits took longer than the visits themselves)."""
    n = len(who)
    size = 4
    while size < 2 * n:
        size *= 2
    mask = size - 1
    slot = np.full(size, -1, dtype=np.int32)
    for v in range(n):
        chain[v] = -1
        h = (int(who[v]) * 2654435761) & mask
        while slot[h] >= 0 and who[slot[h]] != who[v]:
            h = (h + 1) & mask
        f = slot[h]
        if f < 0:
            slot[h] = v
            first[v] = v
            tail[v] = v
        else:
            first[v] = f
            chain[tail[f]] = v
            tail[f] = v


@nb.njit(cache=True)
def _block_weights(
    blocks: np.ndarray,
    factor: np.ndarray,
    record: np.ndarray,
    group: np.ndarray,
    rate: np.ndarray,
    q: float,
    cum: np.ndarray,
) -> float:
    """Cumulative recorded-event weights over blocks into ``cum`` (``rate``: by group, or one
    for every group); returns the total rate."""
    total = 0.0
    acc = 0.0
    # an empty block (a third of them) adds 0.0: skipped, the sums are the same to the bit
    if len(rate) == 1:  # the common case, without a load a block
        r = rate[0]
        for k in range(len(blocks) - 1):
            n = blocks[k + 1] - blocks[k]
            if n:
                w = n * r * factor[k]
                total += w
                acc += w * min(1.0, q * record[k])
            cum[k] = acc
        return total
    for k in range(len(blocks) - 1):
        n = blocks[k + 1] - blocks[k]
        if n:
            w = n * rate[group[k]] * factor[k]
            total += w
            acc += w * min(1.0, q * record[k])
        cum[k] = acc
    return total


# The public kernels take a range of localities [lo, hi) and release the GIL; ``Parallel`` runs
# ranges on threads. (Threads rather than prange: the parfor versions took three times as long
# to compile, and prange bodies lose writes to arrays held in NamedTuples.)


@nb.njit(cache=True, nogil=True)
def plan_day(
    lo: int,
    hi: int,
    seed: int,
    t: int,
    lam_right: np.ndarray,
    lam_wrong: np.ndarray,
    lam_missed: np.ndarray,
    lam_deterred: np.ndarray,
    lam_discretion: np.ndarray,
    counts: np.ndarray,
    discretion: np.ndarray,
) -> None:
    """Draw, per locality and behaviour, the events recorded rightly, wrongly, not at all, and
    prevented by deterrence; per locality, the listings at discretion. (The last two on their
    own streams, drawn only where expected: a scenario without them draws what it drew before.)
    Takes the run's ``seed``, not ``Params``: passing that costs 12 us a call, a day."""
    for i in range(lo, hi):
        rng = new_stream(seed, i, t, P_PLAN)
        for b in range(lam_right.shape[1]):
            counts[i, b, 0] = poisson(rng, lam_right[i, b])
            counts[i, b, 1] = poisson(rng, lam_wrong[i, b])
            counts[i, b, 2] = poisson(rng, lam_missed[i, b])
            counts[i, b, 3] = 0
        if lam_deterred[i].max() > 0.0:
            rng = new_stream(seed, i, t, P_DETERRED)
            for b in range(lam_right.shape[1]):
                counts[i, b, 3] = poisson(rng, lam_deterred[i, b])
        discretion[i] = 0
        if lam_discretion[i] > 0.0:
            discretion[i] = poisson(new_stream(seed, i, t, P_DISCRETION), lam_discretion[i])


@nb.njit(cache=True, nogil=True)
def apply_day(
    lo: int,
    hi: int,
    K: Params,
    L: Layout,
    S: State,
    B: Books,
    t: int,
    rate: np.ndarray,
    q_right: np.ndarray,
    counts: np.ndarray,
    discretion: np.ndarray,
    know_right: np.ndarray,
    know_wrong: np.ndarray,
) -> np.ndarray:
    """Revisits, appeals decided, recorded events, listings at discretion, then attempts and
    uses: one day. Returns the audit records of the day, locality by locality."""
    parts = nb.typed.List.empty_list(nb.types.int64[:, ::1])
    # (without sanctions or rewards there are no attempts, and no call: a call of a compiled
    # helper takes and drops a reference to each array of its tuples, some eighty atomic
    # additions)
    for i in range(lo, hi):
        aud, n = _apply_locality(
            K, L, S, B, i, t, rate, q_right, counts, discretion, know_right, know_wrong
        )
        if len(K.m_list):
            _attempts(K, L, S, B, i, t, aud, n)
        if n[0]:
            parts.append(aud[: n[0]].copy())
    return _stack(parts)


@nb.njit(cache=True)
def _stack(parts: nb.typed.List) -> np.ndarray:
    """The audit records of several localities as one array (reading a typed list item by item
    from Python costs tens of microseconds an item)."""
    n = 0
    for p in parts:
        n += p.shape[0]
    out = np.empty((n, N_AUDIT), dtype=np.int64)
    k = 0
    for p in parts:
        out[k : k + p.shape[0]] = p
        k += p.shape[0]
    return out


@nb.njit(cache=True)
def _apply_locality(
    K: Params,
    L: Layout,
    S: State,
    B: Books,
    i: int,
    t: int,
    rate: np.ndarray,
    q_right: np.ndarray,
    counts: np.ndarray,
    discretion: np.ndarray,
    know_right: np.ndarray,
    know_wrong: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    score, last, flags = S.score, S.last, S.flags
    tab, lmeta = B.listed[i], B.listed_meta[i]
    flows, stocks = B.flows[i], B.stocks[i]
    head, cal, meta = B.cal_head[i], B.cal[i], B.cal_meta[i]
    start, smin, smax = K.start, K.smin, K.smax
    R = K.rate
    q = R.q
    qstart, qmin, qmax = q * start, q * smin, q * smax
    grade_table, grade_up, grade_dn = K.grade_table, K.grade_up, K.grade_dn
    bl_on, bl_entry, bl_exit, bl_min = K.bl_on, K.bl_entry, K.bl_exit, K.bl_min_stay
    m_list, m_grade, m_target, m_reward = K.m_list, K.m_grade, K.m_target, K.m_reward
    urban = L.urban[i]
    m_rate = K.m_rate_u if urban else K.m_rate_r
    b_change, b_channel, b_listing, b_shaming = K.b_change, K.b_channel, K.b_listing, K.b_shaming
    stride, offset, magic = K.audit_stride, K.audit_offset, K.audit_magic
    base = L.scored_start[i]
    n_scored = L.scored[i]
    n_child, n_adult, n_par, s_inv = L.children[i], L.adults[i], L.parents[i], L.stride_inv[i]
    blocks = L.blocks[i]
    n_blk = len(blocks) - 1
    n_beh = rate.shape[1]
    fb = FB * n_beh
    ap_on = K.ap_on
    rng = new_stream(K.seed, i, t, P_EVENTS)
    flows[:] = 0

    # 1. gather today's visits: the revisits due today, the appeals decided today, then the
    # recorded events and the listings at discretion
    n_disc = discretion[i]
    n_vis = head[t, 1] + n_disc
    if ap_on:
        n_vis += B.app_head[i, t, 1]
    for b in range(n_beh):
        n_vis += counts[i, b, 0] + counts[i, b, 1]
    # one row a visit: who (offset), code (V_* or 2 b + wrongful), block (an appeal: the
    # record's code), shamed (an appeal: the record listed the person), the person's first
    # visit of the day, next visit (-1: none) and last visit, and an appeal's record day
    vis = np.zeros((n_vis, 8), dtype=np.int32)
    v_off, v_code, v_blk, v_shamed = vis[:, 0], vis[:, 1], vis[:, 2], vis[:, 3]
    first, chain, v_day = vis[:, 4], vis[:, 5], vis[:, 7]
    k = _take_day(cal, meta, head, t, v_off)
    v_code[:k] = V_REVISIT
    if ap_on:  # the entries are freed now: their data is copied into the visits
        ahead, app, ameta = B.app_head[i], B.app[i], B.app_meta[i]
        e = ahead[t, 0]
        ahead[t, 0], ahead[t, 1] = -1, 0
        while e >= 0:
            v_off[k] = app[e, CAL_WHO]
            v_code[k] = V_DECISION
            v_blk[k] = app[e, AP_CODE]
            v_day[k] = app[e, AP_DAY]
            v_shamed[k] = app[e, AP_LISTED]
            k += 1
            e = _free(app, ameta, e)
    cum = np.empty(n_blk)
    cum_last = np.empty(n_blk // SEG)
    for b in range(n_beh):
        k_r, k_w, k_o = counts[i, b, 0], counts[i, b, 1], counts[i, b, 2]
        flows[FB * b] += k_r + k_w + k_o
        flows[FB * b + 1] += k_r
        flows[FB * b + 2] += k_w
        flows[FB * b + 5] += counts[i, b, 3]
        lam = 0.0
        if k_r:
            _block_weights(
                blocks, K.block_factor[b], K.block_record, K.block_group, rate[i, b],
                q_right[i, b], cum,
            )  # fmt: skip
            lam = cum[n_blk - 1]
            for j in range(len(cum_last)):
                cum_last[j] = cum[SEG * j + SEG - 1]
        for j in range(k_r + k_w):
            wrongful = j >= k_r
            if wrongful:
                off = randint(rng, n_scored)
                blk = np.searchsorted(blocks, off, side="right") - 1
            else:
                blk = min(_count_le(cum, cum_last, uniform(rng) * lam), n_blk - 1)
                off = blocks[blk] + randint(rng, blocks[blk + 1] - blocks[blk])
            if b_shaming[b] > 0 and uniform(rng) < b_shaming[b]:
                flows[FB * b + (4 if wrongful else 3)] += 1
                v_shamed[k] = 1
            v_off[k] = off
            v_code[k] = 2 * b + (1 if wrongful else 0)
            v_blk[k] = blk
            k += 1
    if n_disc:  # who is listed at discretion: a block by its people and rate, one of its people
        acc = 0.0
        for j in range(n_blk):
            acc += (blocks[j + 1] - blocks[j]) * K.disc_block_rate[j]
            cum[j] = acc
        for _ in range(n_disc):
            blk = min(np.searchsorted(cum, uniform(rng) * acc, side="right"), n_blk - 1)
            v_off[k] = blocks[blk] + randint(rng, blocks[blk + 1] - blocks[blk])
            v_code[k] = V_DISCRETION
            v_blk[k] = blk
            k += 1

    # touch every visited person's state first: independent loads overlap their cache misses,
    # so the visits below find the state in cache (2x faster when the state is far larger
    # than the cache)
    acc_s = 0
    for v in range(n_vis):
        acc_s += score[base + v_off[v]]
    if acc_s == -(2**62):  # never true; keeps the loads
        flows[0] += 1

    # a person's visits of the day are taken together (MODEL.md section 7: the sum of the
    # day's changes, clipped once; list transitions on the resulting score): chain each visit
    # to the person's first visit of the day, found in a small hash table of today's people
    _group_visits(v_off, first, chain, vis[:, 6])

    # audit buffer: at most (11 + measures) records a visit, (measures) a sampled person's
    # attempts
    n_m = len(m_list)
    n_sampled = 0
    if stride > 0:
        n_sampled = len(range(base + (offset - base) % stride, base + n_scored, stride))
        for v in range(n_vis):
            n_sampled += in_sample(base + v_off[v], stride, offset, magic)
    aud = np.empty(((11 + n_m) * n_sampled, len(AUDIT_COLUMNS)), dtype=np.int64)
    an = np.zeros(1, dtype=np.int64)

    # 2. visit each person once, at their first visit of the day: steps 4 and 5 of the day
    for v1 in range(n_vis):
        if first[v1] != v1:
            continue
        off = v_off[v1]
        a = base + off
        f0 = int(flags[a])
        V, Lb = int(score[a]), int(last[a])
        slot = _slot(tab, lmeta, off, False) if f0 & int(BL | CL) else -1
        since = tab[slot, LS_SINCE] if slot >= 0 else 0
        word = tab[slot, LS_WORD] if slot >= 0 else 0
        until, cday, cdisc = word_until(word), word_day(word), word_discretion(word)
        # step 4: the sum of the day's changes (corrections reverse theirs), clipped once;
        # court records and orders list the person
        n_events = 0
        change = 0
        wrong_down = False
        court = -1  # the first court record that lists the person
        ordered = -1  # an order to list the person at discretion
        court_corrected = False  # a correction of the record their court listing began with
        bl_corrected = False  # a correction of a record made before they were blacklisted
        wrong_corrected = False
        v = v1
        while v >= 0:
            code = v_code[v]
            if code >= 0:
                n_events += 1
                b = code >> 1
                change += b_change[b]
                wrong_down |= (code & 1) == 1 and b_change[b] < 0
                if b_channel[b] == 1 and uniform(rng) < b_listing[b] * K.block_court[v_blk[v]]:
                    if court < 0:
                        court = v
            elif code == V_DISCRETION:
                n_events += 1
                ordered = v
            elif code == V_DECISION:
                n_events += 1
                rc = v_blk[v]
                item = 2 if rc < 0 else rc & 1
                flows[fb + F_CORR + item] += 1
                if item:
                    flows[fb + F_CORR_DAYS + item - 1] += t - v_day[v]
                if rc >= 0:
                    change -= b_change[rc >> 1]
                    wrong_corrected |= item == 1
                    bl_corrected |= v_day[v] <= since
                # (a person off the court list but on the blacklist keeps the word of their
                # last court listing)
                court_corrected |= (
                    (f0 & int(CL)) != 0 and v_shamed[v] == 1 and v_day[v] == cday
                    and cdisc == (rc < 0)
                )  # fmt: skip
            v = chain[v]
        if n_events == 0:
            g = grade_bits(np.uint8(f0))
            up, down = grade_up[g], grade_dn[g]
            if _next_due(f0, since, until, V, Lb, start, R, bl_exit, bl_min, up, down) != t:
                continue  # stale revisits: the person was touched after they were scheduled
        sampled = in_sample(a, stride, offset, magic)
        f = f0
        disc0 = (f0 & int(CL)) != 0 and cdisc
        # most people visited are at the start score: their score stays whole, no phase to keep
        whole = V == start
        if whole:
            s = min(smax, max(smin, start + change))
            X = q * s
        else:
            X = min(qmax, max(qmin, exact_score(V, Lb, t, start, R) + q * change))
            s = floor_score(X, R)
        if X >= qstart:
            f &= ~int(TAINT)
        elif wrong_down:
            f |= int(TAINT)
        elif wrong_corrected:  # (one bit cannot tell whether another wrongful record remains)
            f &= ~int(TAINT)
        v = v1 if sampled else -1
        while v >= 0:
            if v_code[v] >= 0:
                b = v_code[v] >> 1
                truth = 2 if v_code[v] & 1 else 1
                _audit(aud, an, t, a, EVENT, b, truth, b_change[b], s)
                if v_shamed[v]:
                    _audit(aud, an, t, a, SHAMED, b, truth, 0, s)
            elif v_code[v] == V_DECISION:  # item: behaviour (-1: a listing at discretion)
                rc = v_blk[v]
                truth = 2 if rc < 0 or rc & 1 else 1
                _audit(aud, an, t, a, CORRECTION, rc >> 1 if rc >= 0 else -1, truth, v_day[v], s)
            v = chain[v]
        listed_today = False
        waits = court >= 0  # a court record of today that leaves the listing as it was
        hazard = 0.0  # a court-listed person's daily chance to pay
        if court >= 0:
            nch = children_count(off, n_child, n_adult, n_par, s_inv)
            hazard = K.court_base + _pressure(K.court_pay, m_list, m_target, m_rate, m_reward, nch)
        if court >= 0 and not (f & int(CL) and cdisc):  # an order, not a debt, holds them
            if not (f & int(CL)):
                f, until = _court_entry(
                    rng, t, f, hazard, K.court_duration, K.repair_after, K.repair, a, s, flows,
                    fb, sampled, aud, an,
                )  # fmt: skip
                waits = False
                listed_today = True
                cday, cdisc = t, False
            elif K.court_extend:
                until, expires = court_extended(
                    rng, t, until, (f & int(CLX)) != 0, K.court_duration, hazard, cday,
                    K.repair_after, K.repair,
                )  # fmt: skip
                f = (f | int(CLX)) if expires else (f & ~int(CLX))
                waits = False
                if sampled:
                    _audit(aud, an, t, a, COURT_EXTENDED, 0, 1, _expiry(t, K.court_duration), s)
        if ordered >= 0:  # (re)listed at discretion: no debt, so no compliance; it expires
            f |= int(CL | CLX)
            flows[fb + F_DISC_IN] += 1
            listed_today = True
            cday, cdisc = t, True
            until = min(t + K.disc_duration, NEVER)
            court_corrected = False
            if sampled:
                _audit(aud, an, t, a, DISCRETION_ENTRY, 0, 0, until, s)
        # a record that waits lists the person anew when their listing ends today (step 5): a
        # judgment lists whoever is not on the list, and exits come after the day's records
        relist = waits and not listed_today and (court_corrected or t >= until)

        # appeals of today's records that lower the score or list the person, and of an order
        if ap_on:
            v = v1
            while v >= 0:
                code = v_code[v]
                if code >= 0 and K.b_appealable[code >> 1]:
                    b = code >> 1
                    wrongful = code & 1
                    g = K.block_group[v_blk[v]] if know_right.shape[2] > 1 else 0
                    know = know_wrong[i, b, g] if wrongful else know_right[i, b, g]
                    listed = court == v and (listed_today or relist) and ordered < 0
                    _appeal(K, B, i, t, off, a, rng, code, wrongful == 1, know, listed, s,
                            flows, fb, sampled, aud, an)  # fmt: skip
                elif code == V_DISCRETION and v == ordered:
                    _appeal(K, B, i, t, off, a, rng, R_DISCRETION, True, 1.0, True, s,
                            flows, fb, sampled, aud, an)  # fmt: skip
                v = chain[v]

        # step 5: list transitions on the day's final score
        if (f & int(CL)) and court_corrected:
            f &= ~int(CL | CLX)
            flows[fb + F_COURT_OUT + CORRECTED] += 1
            if sampled:
                _audit(aud, an, t, a, COURT_EXIT, 0, CORRECTED, 0, s)
        elif (f & int(CL)) and t >= until and not listed_today:
            if f & int(CLX):
                reason = EXPIRED
            else:
                nch = children_count(off, n_child, n_adult, n_par, s_inv)
                pressure = _pressure(K.court_pay, m_list, m_target, m_rate, m_reward, nch)
                share = pressure / (pressure + K.court_base) if pressure > 0 else 0.0
                repair = K.repair if t - cday >= K.repair_after else 0.0
                u = uniform(rng)
                if repair > 0.0:  # repair, compliance under pressure or not: by their hazards
                    u *= K.court_base + pressure + repair
                    if u < repair:
                        reason = REPAIRED
                    elif u < repair + pressure:
                        reason = COMPLIED_UNDER_PRESSURE
                    else:
                        reason = COMPLIED
                else:
                    reason = COMPLIED_UNDER_PRESSURE if u < share else COMPLIED
            f &= ~int(CL | CLX)
            flows[fb + F_COURT_OUT + reason] += 1
            if sampled:
                _audit(aud, an, t, a, COURT_EXIT, 0, reason, 0, s)
        if relist:
            f, until = _court_entry(
                rng, t, f, hazard, K.court_duration, K.repair_after, K.repair, a, s, flows, fb,
                sampled, aud, an,
            )  # fmt: skip
            cday, cdisc = t, False
        if (f & int(BL)) and bl_corrected and s >= bl_entry:  # a minimum stay does not hold
            f &= ~int(BL | BLW)
            flows[fb + F_BL_OUT + BL_CORRECTED] += 1
            if sampled:
                _audit(aud, an, t, a, BL_EXIT, 0, BL_CORRECTED, 0, s)
        elif (f & int(BL)) and s >= bl_exit and t >= since + bl_min:
            f &= ~int(BL | BLW)
            flows[fb + F_BL_OUT + RECOVERED] += 1
            if sampled:
                _audit(aud, an, t, a, BL_EXIT, 0, RECOVERED, 0, s)
        elif bl_on and not (f & int(BL)) and s < bl_entry:
            f |= int(BL)
            if f & int(TAINT):
                f |= int(BLW)
            since = t
            flows[fb + (F_BL_IN_W if f & int(BLW) else F_BL_IN_R)] += 1
            if sampled:
                _audit(aud, an, t, a, BL_ENTRY, 0, 2 if f & int(BLW) else 1, 0, s)
        disc1 = (f & int(CL)) != 0 and cdisc
        if disc1 != disc0:
            stocks[S_DISC] += 1 if disc1 else -1
        g = grade_table[s - smin]
        f = int(with_grade(np.uint8(f), g))
        V, Lb = (s, t) if whole else canonical(X, t, start, R)
        score[a] = V
        last[a] = Lb
        flags[a] = f
        if slot >= 0 or f & int(BL | CL):  # most people visited are on no list, before or after
            _keep_listing(tab, lmeta, off, slot, f, since, court_word(until, cday, cdisc))
        if f != f0:
            nch = children_count(off, n_child, n_adult, n_par, s_inv)
            _count(stocks, f0, -1, m_list, m_grade, m_target, m_reward, nch)
            _count(stocks, f, 1, m_list, m_grade, m_target, m_reward, nch)
            if sampled:
                if grade_bits(np.uint8(f0)) != g:
                    _audit(aud, an, t, a, GRADE, g, 0, 0, s)
                for m in range(len(m_list)):
                    a0 = affected(np.uint8(f0), m_list[m], m_grade[m])
                    a1 = affected(np.uint8(f), m_list[m], m_grade[m])
                    if a0 != a1:
                        if a1 == 0:
                            _audit(aud, an, t, a, MEASURE_END, m, a0, 0, s)
                        else:
                            _audit(aud, an, t, a, MEASURE_START, m, a1, 0, s)
        up, down = grade_up[g], grade_dn[g]
        due = _next_due(f, since, until, V, Lb, start, R, bl_exit, bl_min, up, down)
        if t < due < K.n_days:  # (an entry for the same day already pending is harmless)
            _schedule(cal, meta, head, due, off)
    return aud, an


@nb.njit(cache=True, inline="always")
def _expiry(t: int, duration: int) -> int:
    """The day a court listing made or extended on day t expires if nobody pays."""
    return t + duration if duration > 0 else NEVER


@nb.njit(cache=True, inline="always")
def _court_entry(
    rng: np.ndarray,
    t: int,
    f: int,
    hazard: float,
    duration: int,
    repair_after: int,
    repair: float,
    a: int,
    s: int,
    flows: np.ndarray,
    fb: int,
    sampled: bool,
    aud: np.ndarray,
    an: np.ndarray,
) -> tuple[int, int]:
    """A court record lists person ``a`` on day t (``hazard``: their daily chance to pay):
    counted and audited; returns the flags (CLX: the listing will expire rather than end by
    compliance or repair) and the day the listing ends."""
    flows[fb + F_COURT_IN] += 1
    until, expires = court_until(rng, t, duration, hazard, repair_after, repair)
    f |= int(CL)
    if sampled:
        _audit(aud, an, t, a, COURT_ENTRY, 0, 1, _expiry(t, duration), s)
    return ((f | int(CLX)) if expires else (f & ~int(CLX))), until


@nb.njit(cache=True)
def _appeal(
    K: Params,
    B: Books,
    i: int,
    t: int,
    off: int,
    a: int,
    rng: np.ndarray,
    code: int,
    wrongful: bool,
    know: float,
    listed: bool,
    s: int,
    flows: np.ndarray,
    fb: int,
    sampled: bool,
    aud: np.ndarray,
    an: np.ndarray,
) -> None:
    """Whether the person appeals a record (``code``: 2 x behaviour + wrongful, or
    R_DISCRETION) made today, and if so whether and when it is corrected (MODEL.md 10): a
    successful appeal is put in the appeals calendar on its decision day. ``know``: the
    probability they know the rule; ``listed``: the record began their court listing."""
    p = K.ap_prob
    if uniform(rng) >= know:
        p *= K.ap_unaware
    if code != R_DISCRETION and uniform(rng) >= K.ap_disclosure:
        p *= K.ap_undisclosed
    if uniform(rng) >= p:
        return
    item = 2 if code == R_DISCRETION else (1 if wrongful else 0)
    flows[fb + F_APPEAL + item] += 1
    delay = geometric_days(rng, 1.0 / K.ap_delay) if K.ap_random else K.ap_delay
    win = uniform(rng) < (K.ap_success_w if wrongful else K.ap_success_r)
    if sampled:  # value: the day of the decision; truth: 1 upheld, 2 to be corrected
        _audit(aud, an, t, a, APPEAL, code >> 1 if code >= 0 else -1, 2 if win else 1, t + delay, s)
    if win and t + delay < K.n_days:
        e = _push(B.app[i], B.app_meta[i], B.app_head[i], t + delay, off)
        B.app[i, e, AP_CODE] = code
        B.app[i, e, AP_DAY] = t
        B.app[i, e, AP_LISTED] = 1 if listed else 0


@nb.njit(cache=True)
def _attempts(
    K: Params, L: Layout, S: State, B: Books, i: int, t: int, aud: np.ndarray, an: np.ndarray
) -> None:
    """Attempts of the audited sample drawn one by one; everybody else's in aggregate (with
    at least one sanction or reward)."""
    n_m = len(K.m_list)
    rng = new_stream(K.seed, i, t, P_ATTEMPTS)
    flags, flows, stocks = S.flags, B.flows[i], B.stocks[i]
    m_list, m_grade, m_target = K.m_list, K.m_grade, K.m_target
    m_rate = K.m_rate_u if L.urban[i] else K.m_rate_r
    fa = FB * len(K.b_change) + N_LIST_FLOWS
    sampled_units = np.zeros((n_m, 2), dtype=np.int64)
    start = L.scored_start[i]
    stride = K.audit_stride
    if stride > 0:
        n_child, n_adult, n_par, s_inv = L.children[i], L.adults[i], L.parents[i], L.stride_inv[i]
        # most of the sample is unlisted at the start grade: affected by nothing, in most
        # scenarios, and skipped on one test
        plain, plain_hit = _plain(K)
        first = start + (K.audit_offset - start) % stride
        for a in range(first, start + L.scored[i], stride):
            if flags[a] == plain and not plain_hit:
                continue
            nch = -1
            for m in range(n_m):
                aff = affected(flags[a], m_list[m], m_grade[m])
                if aff == 0:
                    continue
                units = 1 if m_target[m] & TARGET_PERSON else 0
                if m_target[m] & TARGET_CHILDREN:
                    if nch < 0:
                        nch = children_count(a - start, n_child, n_adult, n_par, s_inv)
                    units += nch
                if units == 0:
                    continue
                sampled_units[m, aff - 1] += units
                k = poisson(rng, units * m_rate[m])
                if k:
                    flows[fa + 2 * m + aff - 1] += k
                    _audit(aud, an, t, a, ATTEMPTS, m, aff, k, 0)
    for m in range(n_m):
        base = N_LIST_STOCKS + 4 * m
        for truth in range(2):
            units = 0
            if m_target[m] & TARGET_PERSON:
                units += stocks[base + truth]
            if m_target[m] & TARGET_CHILDREN:
                units += stocks[base + 2 + truth]
            units -= sampled_units[m, truth]
            flows[fa + 2 * m + truth] += poisson(rng, units * m_rate[m])


@nb.njit(cache=True, nogil=True)
def init_state(
    lo: int,
    hi: int,
    K: Params,
    L: Layout,
    S: State,
    raw: np.ndarray,
    B: Books,
    court_share: float,
    bl_share: float,
    score_sd: float,
) -> np.ndarray:
    """Everybody at the start score, some already listed or spread; count stocks, schedule.
    ``raw``: the state's bytes (``state_bytes``). Returns the audit records of the state at the
    start (truth code AT_START)."""
    untouched = _untouched_words(K)
    parts = nb.typed.List.empty_list(nb.types.int64[:, ::1])
    for i in range(lo, hi):
        aud, n = _init_locality(K, L, S, raw, untouched, B, i, court_share, bl_share, score_sd)
        if n[0]:
            parts.append(aud[: n[0]].copy())
    return _stack(parts)


@nb.njit(cache=True)
def _init_locality(
    K: Params,
    L: Layout,
    S: State,
    raw: np.ndarray,
    untouched: np.ndarray,
    B: Books,
    i: int,
    court_share: float,
    bl_share: float,
    score_sd: float,
) -> tuple[np.ndarray, np.ndarray]:
    g0 = K.grade_table[K.start - K.smin]
    plain, plain_hit = _plain(K)
    n_plain = 0
    rng = new_stream(K.seed, i, -1, P_INIT)
    start = L.scored_start[i]
    head, cal, meta, stocks = B.cal_head[i], B.cal[i], B.cal_meta[i], B.stocks[i]
    tab, lmeta = B.listed[i], B.listed_meta[i]
    m_rate = K.m_rate_u if L.urban[i] else K.m_rate_r
    n_child, n_adult, n_par, s_inv = L.children[i], L.adults[i], L.parents[i], L.stride_inv[i]
    stride = K.audit_stride
    n_sampled = (
        len(range(start + (K.audit_offset - start) % stride, start + L.scored[i], stride))
        if stride > 0
        else 0
    )
    aud = np.empty(((3 + len(K.m_list)) * n_sampled, len(AUDIT_COLUMNS)), dtype=np.int64)
    an = np.zeros(1, dtype=np.int64)
    n = L.scored[i]
    # everybody untouched, 8 records at a time in REC words (not a field at a time through
    # the strided arrays), then the few who are not
    recs = raw[REC * start : REC * (start + n)]
    run = np.uint64(8 * REC)
    whole = np.uint64(len(recs)) // run * run
    for c in range(np.uint64(0), whole, run):
        for w in range(REC):
            store_u64(recs, c + np.uint64(8 * w), untouched[0, w])
    for a in range(start + int(whole) // REC, start + n):
        S.score[a] = K.start
        S.last[a] = 0
        S.flags[a] = plain
    # when only a court-listed share is drawn, jump from one listed person to the next
    jump = score_sd == 0 and bl_share == 0 and not plain_hit
    off, n_seen = -1, 0
    while True:
        if jump:
            off = n if court_share <= 0 else off + geometric_days(rng, court_share)
        else:
            off += 1
        if off >= n:
            break
        n_seen += 1
        a = start + off
        s = K.start
        f = 0
        since, until, expiry = 0, 0, NEVER
        if score_sd > 0:
            u1 = max(uniform(rng), 1e-300)
            z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * uniform(rng))
            s = min(K.smax, max(K.smin, int(np.round(K.start + score_sd * z))))
        if bl_share > 0 and uniform(rng) < bl_share:
            lo = max(K.smin, K.bl_entry - (K.start - K.bl_entry))
            s = min(s, lo + randint(rng, max(1, K.bl_entry - lo)))
        if K.bl_on and s < K.bl_entry:  # listed for a while already
            f |= int(BL)
            since = -randint(rng, K.bl_min_stay + 1)
        if jump or (court_share > 0 and uniform(rng) < court_share):
            f |= int(CL)
            nch = children_count(off, n_child, n_adult, n_par, s_inv)
            hazard = K.court_base + _pressure(
                K.court_pay, K.m_list, K.m_target, m_rate, K.m_reward, nch
            )
            # listed some time ago: the expiry is nearer; compliance is memoryless
            until, expires = court_until(rng, 0, K.court_duration, hazard, K.repair_after, K.repair)
            expiry = NEVER
            if K.court_duration > 0:
                expiry = K.court_duration - randint(rng, K.court_duration)
                if expiry <= until:
                    until, expires = expiry, True
            if expires:
                f |= int(CLX)
        fl = with_grade(np.uint8(f), K.grade_table[s - K.smin])
        S.score[a] = s
        S.last[a] = 0
        S.flags[a] = fl
        _keep_listing(tab, lmeta, off, -1, int(fl), since, court_word(until, 0, False))
        if fl != plain and in_sample(a, stride, K.audit_offset, K.audit_magic):
            if f & int(CL):
                _audit(aud, an, 0, a, COURT_ENTRY, 0, AT_START, expiry, s)
            if f & int(BL):
                _audit(aud, an, 0, a, BL_ENTRY, 0, AT_START, 0, s)
            if grade_bits(fl) != g0:
                _audit(aud, an, 0, a, GRADE, grade_bits(fl), AT_START, 0, s)
            for m in range(len(K.m_list)):
                aff = affected(fl, K.m_list[m], K.m_grade[m])
                if aff:
                    _audit(aud, an, 0, a, MEASURE_START, m, AT_START, 0, s)
        if fl == plain and not plain_hit:
            n_plain += 1  # everybody untouched: counted at once below
            continue
        _count(
            stocks,
            int(fl),
            1,
            K.m_list,
            K.m_grade,
            K.m_target,
            K.m_reward,
            children_count(off, n_child, n_adult, n_par, s_inv),
        )
        if fl != plain or s != K.start:
            g = grade_bits(fl)
            nxt = _next_due(
                int(fl),
                since,
                until,
                s,
                0,
                K.start,
                K.rate,
                K.bl_exit,
                K.bl_min_stay,
                K.grade_up[g],
                K.grade_dn[g],
            )
            if 0 < nxt < K.n_days:
                _schedule(cal, meta, head, nxt, off)
    stocks[N_LIST_STOCKS + 4 * len(K.m_list) + g0] += n_plain + (n - n_seen)
    return aud, an


# snapshot statistics per (locality, block)
SN_N, SN_SCORE, SN_COURT, SN_BL_R, SN_BL_W, SN_SANC_R, SN_SANC_W, SN_REWARD, SN_DISC = range(9)
N_SNAP = 9  # then one column per grade, then two per measure (in person, rightfully, wrongfully)
# children per locality: number, sanctioned through a parent rightfully, wrongfully
SC_N, SC_R, SC_W = range(3)
# a score's histogram bin and grade in one uint32 (``snapshot``)
GRADE_SHIFT = 20
BIN_MASK = np.uint32((1 << GRADE_SHIFT) - 1)


@nb.njit(cache=True)
def _hit_table(K: Params) -> np.ndarray:
    """For each of the 256 flag bytes: sanctioned in person (0 no, 1 rightfully, 2 wrongfully),
    rewarded (0 or 1), children sanctioned (0, 1, 2), then each measure in person (0, 1, 2)."""
    hit = np.zeros((256, 3 + len(K.m_list)), dtype=np.int8)
    for fi in range(256):
        f = np.uint8(fi)
        for m in range(len(K.m_list)):
            aff = affected(f, K.m_list[m], K.m_grade[m])
            if aff == 0:
                continue
            if K.m_target[m] & TARGET_PERSON:
                hit[fi, 3 + m] = aff
            if K.m_reward[m]:  # (a reward for the children alone is not the person's)
                hit[fi, 1] |= (K.m_target[m] & TARGET_PERSON) != 0
                continue
            if K.m_target[m] & TARGET_PERSON and (hit[fi, 0] == 0 or aff == 1):
                hit[fi, 0] = aff
            if K.m_target[m] & TARGET_CHILDREN and (hit[fi, 2] == 0 or aff == 1):
                hit[fi, 2] = aff
    return hit


@nb.njit(cache=True, nogil=True)
def snapshot(
    lo: int,
    hi: int,
    K: Params,
    L: Layout,
    raw: np.ndarray,
    t: int,
    bin_width: int,
    hist: np.ndarray,
    stats: np.ndarray,
    child: np.ndarray,
    block_rows: np.ndarray,
    listed: np.ndarray,
    stocks: np.ndarray,
) -> None:
    """Scan everybody once (``raw``: ``state_bytes``): the score histogram, and the numbers
    listed, hit and rewarded by category (row 0 everybody; ``block_rows[k]`` the age band, group
    and propensity class rows of block k). ``listed``: ``Books.listed``, which tells who is
    listed at discretion; ``stocks``: ``Books.stocks``, which tells how many are."""
    hit = _hit_table(K)
    # a score's histogram bin and grade, in one lookup (not a division)
    bins = np.arange(K.smax - K.smin + 1) // bin_width
    bin_grade = (bins | (K.grade_table.astype(np.int64) << GRADE_SHIFT)).astype(np.uint32)
    untouched = _untouched_words(K)
    row = np.zeros(stats.shape[2], dtype=stats.dtype)
    seen = np.empty(L.blocks.shape[1], dtype=np.int64)
    for i in range(lo, hi):
        _snapshot_locality(
            K, L, raw, i, t, hist, stats, child, block_rows, hit, bin_grade, untouched,
            listed[i], stocks[i, S_DISC], row, seen,
        )  # fmt: skip


@nb.njit(cache=True, inline="always")
def _add_row(stats: np.ndarray, i: int, rows: np.ndarray, row: np.ndarray) -> None:
    """Add a block's counts to the locality's row of everybody and its category rows, and
    clear them (row by row: loops over contiguous columns, which compile to vector code)."""
    dst = stats[i, 0]
    for j in range(len(row)):
        dst[j] += row[j]
    for r in rows:
        dst = stats[i, r]
        for j in range(len(row)):
            dst[j] += row[j]
    row[:] = 0


@nb.njit(cache=True)
def _snapshot_locality(
    K: Params,
    L: Layout,
    raw: np.ndarray,
    i: int,
    t: int,
    hist: np.ndarray,
    stats: np.ndarray,
    child: np.ndarray,
    block_rows: np.ndarray,
    hit: np.ndarray,
    bin_grade: np.ndarray,
    untouched: np.ndarray,
    tab: np.ndarray,
    disc: int,
    row: np.ndarray,
    seen: np.ndarray,
) -> None:
    hist[i] = 0
    stats[i] = 0
    child[i] = 0
    h = hist[i]
    smin, st, grade_table = K.smin, K.start, K.grade_table
    R = K.rate
    p, q = R.p, R.q
    start = L.scored_start[i]
    child[i, SC_N] = L.children[i]
    blocks = L.blocks[i]
    n_blk = len(blocks) - 1
    n_m = hit.shape[1] - 3
    per_measure = N_SNAP + len(K.grade_up)
    g0 = grade_table[st - smin]
    plain = np.int64(with_grade(np.uint8(0), g0))
    everybody = hit[plain, 0] or hit[plain, 1] or hit[plain, 2]  # (none at once)
    quiet = np.int64(-1) if everybody else plain  # the flags of those counted by score alone
    st_lo, st_hi = st & 0xFF, (st >> 8) & 0xFF
    u0, u1, u2, u3, u4 = untouched[0]  # (locals: kept in registers in the loop that skips)
    m0, m1, m2, m3, m4 = untouched[1]
    run = np.uint64(8 * REC)
    recs = raw[REC * start : REC * (start + blocks[n_blk])]
    room = np.uint64(len(raw) - REC * start)  # bytes from recs[0] to the state's end
    seen[:n_blk] = 0
    k = 0  # the block of the people being counted; ``row`` holds its counts so far
    # runs of 8 people over the whole locality: runs of untouched people (most people in most
    # places) are skipped after a test of REC words, in a loop of their own; the others are
    # counted person by person, each person's score now (scoring.exact_score) found without
    # branches. Untouched people (at the start score and grade, no list) are counted by block
    # at the end, with those skipped.
    size = np.uint64(len(recs))
    whole = size - size % run
    c = np.uint64(0)
    while c < size:
        if not everybody:
            while c < whole:
                differ = ((load_u64(recs, c) ^ u0) & m0) | (
                    (load_u64(recs, c + np.uint64(8)) ^ u1) & m1
                )
                differ |= ((load_u64(recs, c + np.uint64(16)) ^ u2) & m2) | (
                    (load_u64(recs, c + np.uint64(24)) ^ u3) & m3
                )
                differ |= (load_u64(recs, c + np.uint64(32)) ^ u4) & m4
                if differ != 0:
                    break
                c += run
            if c == size:
                break
            if c == whole:  # the last, partial run
                tail = 0
                for r in range(c, size, np.uint64(REC)):
                    tail |= (int(recs[r + B_SCORE]) ^ st_lo) | (int(recs[r + B_FLAGS]) ^ plain)
                    tail |= int(recs[r + B_SCORE + B_ONE]) ^ st_hi
                if tail == 0:
                    break
        stop = min(c + run, size)
        wide = LITTLE_ENDIAN and c + run + np.uint64(8 - REC) <= room  # a word a record
        for r in range(c, stop, np.uint64(REC)):
            # (np.int64: Numba's int() keeps a uint8 or uint64 unsigned, and compares an
            # unsigned with a signed number as floats)
            if wide:
                word = load_u64(recs, r)
                s = np.int64((word >> np.uint64(8 * B_SCORE)) & np.uint64(0xFFFF))
                last = np.int64((word >> np.uint64(8 * B_LAST)) & np.uint64(0xFFFF))
                fi = np.int64((word >> np.uint64(8 * B_FLAGS)) & np.uint64(0xFF))
            else:
                s = np.int64(recs[r + B_SCORE]) | (np.int64(recs[r + B_SCORE + B_ONE]) << 8)
                last = np.int64(recs[r + B_LAST]) | (np.int64(recs[r + B_LAST + B_ONE]) << 8)
                fi = np.int64(recs[r + B_FLAGS])
            s -= (s & 0x8000) << 1
            if s == st and fi == quiet:
                continue  # untouched
            o = np.int64(r // np.uint64(REC))
            if o >= blocks[k + 1]:
                _add_row(stats, i, block_rows[k], row)
                k += 1
                while o >= blocks[k + 1]:
                    k += 1
            seen[k] += 1
            last -= (last & 0x8000) << 1
            d = s - st
            sign = d >> 63
            gap = q * ((d ^ sign) - sign) - p * (t - last)
            gap &= ~(gap >> 63)
            now = q * st + ((gap ^ sign) - sign)  # q times the score now
            s = floor_score(now, R)
            row[SN_SCORE] += now
            # unsigned indices: no test for a negative one
            bg = bin_grade[np.uint64(s - smin)]
            h[np.uint64(bg & BIN_MASK)] += 1
            row[np.uint64(N_SNAP) + np.uint64(bg >> np.uint32(GRADE_SHIFT))] += 1
            if fi == quiet:
                continue
            if fi & int(CL):
                row[SN_COURT] += 1
                # who of them is listed at discretion: looked up (a cache miss each) only
                # until the locality's ``disc`` are found, in most places never
                if disc > 0:
                    slot = _slot(tab, tab[0, :1], o, False)
                    if word_discretion(tab[slot, LS_WORD]):
                        row[SN_DISC] += 1
                        disc -= 1
            if fi & int(BL):
                row[SN_BL_W if fi & int(BLW) else SN_BL_R] += 1
            person, rewarded, kids = hit[fi, 0], hit[fi, 1], hit[fi, 2]
            if person or rewarded:  # (most people listed here are hit by nothing)
                for m in range(n_m):
                    a = hit[fi, 3 + m]
                    if a:
                        row[per_measure + 2 * m + a - 1] += 1
            if person:
                row[SN_SANC_R if person == 1 else SN_SANC_W] += 1
            if rewarded:
                row[SN_REWARD] += 1
            if kids:
                child[i, SC_R if kids == 1 else SC_W] += children_count(
                    o, L.children[i], L.adults[i], L.parents[i], L.stride_inv[i]
                )
        c = stop
    _add_row(stats, i, block_rows[k], row)
    # everybody not counted above, block by block: at the start score and grade
    qst = q * st
    n_plain = 0
    for k in range(n_blk):
        n = blocks[k + 1] - blocks[k]
        if n == 0:
            continue
        u = n - seen[k]
        n_plain += u
        for r in range(1 + len(block_rows[k])):
            dst = stats[i, 0 if r == 0 else block_rows[k, r - 1]]
            dst[SN_N] += n
            dst[SN_SCORE] += u * qst  # (q times the sum of scores)
            dst[N_SNAP + g0] += u
    h[bin_grade[st - smin] & BIN_MASK] += n_plain


@nb.njit(cache=True)
def group_sum(rows: np.ndarray, key: np.ndarray, lo: int, hi: int, out: np.ndarray) -> None:
    """Rows ``lo`` to ``hi`` of ``rows`` (a row per locality) added up by ``key`` (the row of
    ``out`` each locality goes to). NumPy's ``add.reduceat`` over localities took ten times as
    long: 8 s of the 1.4 billion year."""
    out[:] = 0
    for i in range(lo, hi):
        dst, src = out[key[i]], rows[i]
        for j in range(len(src)):
            dst[j] += src[j]


class Parallel:
    """Runs a nogil kernel over localities ``lo`` to ``hi``, cut into ranges, on ``threads``
    threads: this one and a pool of the others, each taking the next range not yet taken until
    none is left (four ranges a thread, so that a thread with a busy range does not hold up
    the others), or until one of them has failed. A task a range took 50 us of waking threads
    each on this host, 0.8 ms a day; one task a helper thread and call wakes each once. Each
    kernel goes through a ``jit.Kernel`` of its own, for this run only."""

    def __init__(self, lo: int, hi: int, threads: int):
        from concurrent.futures import ThreadPoolExecutor

        self.threads = max(1, threads)
        n_chunks = min(hi - lo, 4 * self.threads) if self.threads > 1 else 1
        edges = np.linspace(lo, hi, n_chunks + 1).astype(np.int64)
        self.ranges = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        self.pool = ThreadPoolExecutor(self.threads - 1) if self.threads > 1 else None
        self._kernels: dict = {}

    def __call__(self, kernel, *args) -> list:  # noqa: ANN001
        """The kernel's results, one per range, in locality order."""
        run = self._kernel(kernel)
        if self.pool is None:
            return [run(lo, hi, *args) for lo, hi in self.ranges]
        out: list = [None] * len(self.ranges)
        todo = iter(range(len(self.ranges)))  # (next() of a range iterator holds the GIL)
        failed: list[bool] = []  # once a thread fails (or Ctrl-C), no range is started

        def work() -> None:
            try:
                for k in todo:
                    if failed:
                        return
                    lo, hi = self.ranges[k]
                    out[k] = run(lo, hi, *args)
            except BaseException:
                failed.append(True)
                raise

        helpers = [self.pool.submit(work) for _ in range(self.threads - 1)]
        try:
            work()
        finally:  # (an error is raised once every thread has stopped)
            for f in helpers:
                f.exception()
        for f in helpers:
            f.result()
        return out

    def one(self, kernel, *args):  # noqa: ANN001, ANN201
        """The kernel called once, with these arguments, in this thread."""
        return self._kernel(kernel)(*args)

    def _kernel(self, dispatcher) -> Kernel:  # noqa: ANN001
        run = self._kernels.get(dispatcher)
        if run is None:
            run = self._kernels[dispatcher] = Kernel(dispatcher)
        return run

    def close(self) -> None:
        self._kernels.clear()
        if self.pool is not None:
            self.pool.shutdown()
