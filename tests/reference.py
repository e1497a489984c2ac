"""A plain, dense, per-day reference implementation of MODEL.md, for testing the engine.

Every scored person is stepped every day, in NumPy, following MODEL.md section 7 read to the
letter. It shares no code with socialcreditsim: it reads the same scenario dict (the subset
that a homogeneous population needs) and keeps its own state, its own random streams and its
own counters. It is slow (work per day proportional to N, not to events) and meant for small
populations only.

Supported subset (anything else raises ``ValueError``): every region urban (``urban_share``
1), no children, no seniors, one propensity class of each kind, no groups, constant rates and
probabilities (numbers, not schedules), no rollout, no initial state, sanctions that hit the
person and are triggered by the court list or the blacklist. With that, every scored person has
the same rates, so people differ only by their draws.

The day, for each person (decisions that MODEL.md leaves open are marked *choice*):

1. Recovery: the score ``x`` moves toward ``start`` by ``r`` (never past it). Scores are kept
   exactly, as integers in units of ``1/q`` where ``r = p/q`` is ``recovery_per_day`` written as
   a fraction (``Fraction(str(r))``: 0.1 is 1/10 exactly); a threshold ``thr`` is met when
   ``X >= thr * q``. A taint clears when ``x >= start``.
2. Events: recorded events are Poisson counts per person-day, one count per behaviour (and,
   for camera behaviours, one more for records wrongly attributed to the person). Rates per
   person-day are ``rate / 365 x urban_multiplier x max(0, 1 - elasticity x q_b)`` times the
   probability ``q_b`` of being recorded against the doer: ``record_probability``, or for a
   camera ``coverage x (1 - FNIR)``. A camera event in view and missed (``coverage x FNIR``) is
   attributed with probability FPIR to another adult of the same locality drawn uniformly; in a
   homogeneous locality each person therefore receives wrongful records as a Poisson stream at
   ``rate / 365 x coverage x FNIR x FPIR`` a day. The day's changes are summed and the score
   clipped to ``[min, max]`` once. Taint: if a wrongful record with a negative change landed
   today and ``x < start``, the person is tainted; if ``x >= start`` the taint clears.
3. Court records list the person with ``listing_probability`` per record. A person not listed
   is listed (an entry; expiry on day ``t + duration_days``, never if 0). A person listed before
   today whose listing is extended (``extend_on_new_record``) gets expiry ``t + duration``; being
   listed before today, they keep today's compliance chance (step 4). Without extension the
   listing stays as it was, and if it ends today (step 4) the record lists the person anew.
4. List transitions on the day's final score ``x``: a person listed before today leaves by
   expiry on the listing's expiry day (expiry wins over compliance that day, *choice*), else by
   compliance with daily probability ``h = h0 + pressure``, ``h0 = 1 - exp(-compliance / 365)``,
   ``pressure = min(1, pay_per_blocked_attempt x sum of per_year_urban / 365`` over the
   court-triggered sanctions); the reason is "complied_under_pressure" with probability
   ``pressure / h``. So a listing made on day ``t0`` with duration ``D`` has compliance chances
   on days ``t0 + 1 .. t0 + D - 1``. A blacklisted person leaves when ``x >= exit_at`` and
   ``t >= since + min_stay_days``; a person not blacklisted enters when ``x < entry_below``
   (``since = t``), wrongfully if tainted.
5. Sanctions: each affected person makes Poisson(``per_year_urban / 365``) attempts a day, all
   blocked; affected rightfully if on the court list or rightfully blacklisted.
6. Counters: flows of the day, stocks at the end of the day; snapshots (mean score, score
   histogram) at the end of days ``k - 1, 2k - 1, ...`` and of the last day.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["Reference", "RefResult", "simulate", "poisson_counts"]

NEVER = np.iinfo(np.int64).max
R, W = "rightful", "wrongful"
CHANNELS = ("records", "court", "online", "camera")


def poisson_counts(rng: np.random.Generator, lam: float, n: int) -> np.ndarray:
    """``n`` independent Poisson(``lam``) counts by inversion of the CDF (exact in double
    precision): one uniform per count, and work beyond that only for the few nonzero ones."""
    out = np.zeros(n, dtype=np.int64)
    if lam <= 0.0:
        return out
    u = rng.random(n)
    p0 = math.exp(-lam)
    hit = np.flatnonzero(u >= p0)
    if hit.size:
        cdf, term, k = [p0], p0, 0
        while cdf[-1] < 1.0 and k < 10_000:
            k += 1
            term *= lam / k
            new = cdf[-1] + term
            if new == cdf[-1] and term < 1e-300:
                break
            cdf.append(new)
        out[hit] = np.searchsorted(np.array(cdf), u[hit], side="right")
    return out


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"the reference supports only constant numbers for {what}, got {value!r}")
    return float(value)


def _section(sc: Mapping[str, Any], key: str) -> dict[str, Any]:
    return dict(sc.get(key) or {})


@dataclass
class Behaviour:
    name: str
    channel: str
    change: int
    right: float  # recorded against the doer, per person-day
    wrong: float  # recorded against this person wrongly (camera), per person-day
    listing: float  # court only


@dataclass
class Sanction:
    name: str
    court: bool
    blacklist: bool
    per_day: float


@dataclass
class Params:
    days: int
    start: int
    lo: int
    hi: int
    q: int  # score unit: 1/q points
    p: int  # recovery in units of 1/q per day
    grades: list[tuple[str, int]]
    behaviours: list[Behaviour]
    blacklist: bool
    entry_below: int
    exit_at: int
    min_stay: int
    duration: int
    extend: bool
    h0: float
    pressure: float
    sanctions: list[Sanction]
    snapshot_every: int
    bin_width: int


def parse(sc: Mapping[str, Any]) -> Params:
    """Read the supported subset of a scenario dict, with the documented defaults."""
    known = {
        "meta", "time", "population", "behaviours", "surveillance", "score", "blacklist",
        "court_list", "sanctions", "output", "initial", "groups", "rewards", "rollout",
        "red_list", "published",
    }  # fmt: skip
    unknown = set(sc) - known
    if unknown:
        raise ValueError(f"unknown scenario sections {sorted(unknown)}")
    for key in ("groups", "rewards", "rollout", "published"):
        if sc.get(key):
            raise ValueError(f"the reference does not support {key}")
    if any(v for v in _section(sc, "initial").values()):
        raise ValueError("the reference does not support an initial state")
    if _section(sc, "red_list").get("min_grade"):
        raise ValueError("the reference does not support a red list")

    time = _section(sc, "time")
    start_date = dt.date.fromisoformat(str(time.get("start", "2018-01-01")))
    end_date = dt.date.fromisoformat(str(time.get("end", "2020-12-31")))
    days = (end_date - start_date).days + 1

    pop = _section(sc, "population")
    regions = pop.get("regions", "census2020")
    if not isinstance(regions, list) or any(float(r["urban_share"]) != 1.0 for r in regions):
        raise ValueError("the reference needs custom regions, every one all urban")
    if float(pop.get("child_share", 0.21)) != 0.0 or float(pop.get("senior_share", 0.187)) != 0:
        raise ValueError("the reference needs child_share = senior_share = 0")
    classes = (int(pop.get("propensity_classes", 8)), int(pop.get("prosocial_classes", 4)))

    score = _section(sc, "score")
    start, lo, hi = (int(score.get(k, d)) for k, d in (("start", 1000), ("min", 0), ("max", 2000)))
    frac = Fraction(str(_number(score.get("recovery_per_day", 0.0), "recovery_per_day")))
    q, p = frac.denominator, frac.numerator
    grades = [(str(g["name"]), int(g["min"])) for g in score.get("grades", [])]

    sv = _section(sc, "surveillance")
    if sv.get("coverage_urban") is not None:
        coverage = _number(sv["coverage_urban"], "coverage_urban")
    else:  # every agent urban: u = 1 in docs/model.md's formula
        cams = _number(sv.get("cameras", 0.0), "cameras")
        size = float(pop.get("size", 1_411_778_724))
        c = _number(sv.get("coverage_per_camera_per_person", 0.5), "coverage")
        share = _number(sv.get("urban_camera_share", 0.8), "urban_camera_share")
        coverage = -math.expm1(-c * cams * share / size)

    behaviours = []
    for b in sc.get("behaviours", []):
        channel = b["channel"]
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel}")
        if "adult" not in b.get("ages", ["adult", "senior"]):
            raise ValueError("the reference's people are all adults; a behaviour must be theirs")
        prop = b.get("propensity", "rule_breaking")
        if prop == "rule_breaking" and classes[0] != 1 or prop == "pro_social" and classes[1] != 1:
            raise ValueError("the reference needs one propensity class")
        if channel == "camera":
            fnir = _number(b.get("fnir", sv.get("fnir", 0.05)), "fnir")
            fpir = _number(b.get("fpir", sv.get("fpir", 0.001)), "fpir")
            q_right, q_wrong = coverage * (1 - fnir), coverage * fnir * fpir
        else:
            q_right, q_wrong = _number(b.get("record_probability", 1.0), "record_probability"), 0.0
        deter = max(0.0, 1.0 - float(b.get("deterrence_elasticity", 0.0)) * q_right)
        rate = _number(b["rate"], "rate") / 365.0 * float(b.get("urban_multiplier", 1.0)) * deter
        behaviours.append(
            Behaviour(
                name=b["name"],
                channel=channel,
                change=int(b["score_change"]),
                right=rate * q_right,
                wrong=rate * q_wrong,
                listing=float(b.get("listing_probability", 1.0)) if channel == "court" else 0.0,
            )
        )

    bl = _section(sc, "blacklist")
    cl = _section(sc, "court_list")
    sanctions = []
    for m in sc.get("sanctions", []):
        if m.get("target", "person") != "person" or m.get("trigger_grades"):
            raise ValueError("the reference supports sanctions on the person, by list only")
        lists = set(m.get("trigger_lists", []))
        if lists - {"court", "blacklist"}:
            raise ValueError(f"unsupported triggers {lists}")
        sanctions.append(
            Sanction(
                m["name"], "court" in lists, "blacklist" in lists, m.get("per_year_urban", 0) / 365
            )
        )
    pay = float(cl.get("pay_per_blocked_attempt", 0.0))
    pressure = min(1.0, pay * sum(s.per_day for s in sanctions if s.court))
    out = _section(sc, "output")
    if int(out.get("snapshot_every_days", 0)) <= 0:
        raise ValueError("the reference needs output.snapshot_every_days > 0")
    return Params(
        days=days,
        start=start,
        lo=lo,
        hi=hi,
        q=q,
        p=p,
        grades=grades,
        behaviours=behaviours,
        blacklist=bool(bl.get("enabled", False)),
        entry_below=int(bl.get("entry_below", 600)),
        exit_at=int(bl.get("exit_at", 600)),
        min_stay=int(bl.get("min_stay_days", 0)),
        duration=int(cl.get("duration_days", 730)),
        extend=bool(cl.get("extend_on_new_record", True)),
        h0=-math.expm1(-float(cl.get("compliance_per_year", 0.0)) / 365.0),
        pressure=pressure,
        sanctions=sanctions,
        snapshot_every=int(out.get("snapshot_every_days", 0)),
        bin_width=int(out.get("score_bin_width", 10)),
    )


@dataclass
class RefResult:
    """Daily flows and stocks keyed like the engine's time series, and snapshots."""

    daily: dict[tuple[str, str, str], np.ndarray]
    snapshot_days: list[int] = field(default_factory=list)
    mean_score: list[float] = field(default_factory=list)
    below_start: list[int] = field(default_factory=list)
    histogram: dict[float, int] = field(default_factory=dict)  # final day: bin -> people
    scores: np.ndarray | None = None  # final exact scores (points, float)
    # completed stays in days (exit day - entry day) by (list, exit reason)
    stays: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def stay_lengths(self, kind: str, reason: str | None = None) -> np.ndarray:
        """Completed stays on ``kind`` ("blacklist" or "court_list"), for one exit reason or
        all."""
        out = [
            v
            for (k, why), vs in self.stays.items()
            if k == kind and reason in (None, why)
            for v in vs
        ]
        return np.array(out, dtype=np.int64)

    def series(self, metric: str, item: str | None = None, truth: str | None = None) -> np.ndarray:
        keys = [
            k
            for k in self.daily
            if k[0] == metric and item in (None, k[1]) and truth in (None, k[2])
        ]
        if not keys:
            raise KeyError(f"no reference series {metric!r} {item!r} {truth!r}")
        return np.sum([self.daily[k] for k in keys], axis=0)


class Reference:
    """The state of ``n`` people and the day step; :meth:`day` takes the day's event counts,
    so that a test can inject events by hand."""

    def __init__(self, params: Params, n: int, rng: np.random.Generator | None = None):
        P = self.P = params
        self.n = n
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.S = P.start * P.q
        self.lo, self.hi = P.lo * P.q, P.hi * P.q
        self.x = np.full(n, self.S, dtype=np.int64)
        self.taint = np.zeros(n, dtype=bool)
        self.bl = np.zeros(n, dtype=bool)
        self.bl_wrong = np.zeros(n, dtype=bool)
        self.bl_since = np.zeros(n, dtype=np.int64)
        self.cl = np.zeros(n, dtype=bool)
        self.cl_entry = np.zeros(n, dtype=np.int64)  # day of listing (not of a renewal)
        self.cl_until = np.full(n, NEVER, dtype=np.int64)
        T = P.days
        keys: list[tuple[str, str, str]] = []
        for b in P.behaviours:
            keys += [("events_recorded", b.name, R), ("events_recorded", b.name, W)]
        keys += [("court_list_entries", "", "")]
        keys += [
            ("court_list_exits", why, "")
            for why in ("complied", "complied_under_pressure", "expired")
        ]
        keys += [("blacklist_entries", "", R), ("blacklist_entries", "", W)]
        keys += [("blacklist_exits", "recovered", ""), ("court_listed", "", "")]
        keys += [("blacklisted", "", R), ("blacklisted", "", W)]
        for s in P.sanctions:
            keys += [("blocked_attempts", s.name, t) for t in (R, W)]
            keys += [("sanctioned_people", s.name, t) for t in (R, W)]
        keys += [("grade_holders", g, "") for g, _ in P.grades]
        self.daily = {k: np.zeros(T, dtype=np.int64) for k in keys}
        self.result = RefResult(self.daily)

    # ------------------------------------------------------------------ drawing
    def draw(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The day's recorded events per person: rightful and wrongful counts per behaviour."""
        rng, n = self.rng, self.n
        right = [poisson_counts(rng, b.right, n) for b in self.P.behaviours]
        wrong = [poisson_counts(rng, b.wrong, n) for b in self.P.behaviours]
        return right, wrong

    # ------------------------------------------------------------------ the day
    def day(self, t: int, right: list[np.ndarray], wrong: list[np.ndarray]) -> None:
        P, rng, d = self.P, self.rng, self.daily
        S = self.S
        x = self.x
        # 1. recovery toward the start, then the taint clears at or above the start
        if P.p:
            below = x < S
            x[:] = np.where(below, np.minimum(x + P.p, S), np.maximum(x - P.p, S))
            self.taint &= x < S
        # 2. the day's recorded events: sum the changes, clip once
        delta = np.zeros(self.n, dtype=np.int64)
        neg_wrong = np.zeros(self.n, dtype=bool)
        listed_by_court = np.zeros(self.n, dtype=bool)
        for b, k_r, k_w in zip(P.behaviours, right, wrong, strict=True):
            d["events_recorded", b.name, R][t] += k_r.sum()
            d["events_recorded", b.name, W][t] += k_w.sum()
            if b.change:
                delta += (k_r + k_w) * (b.change * P.q)
            if b.change < 0:
                neg_wrong |= k_w > 0
            if b.channel == "court":
                hit = np.flatnonzero(k_r)
                if hit.size:
                    lists = rng.binomial(k_r[hit], b.listing) > 0
                    listed_by_court[hit[lists]] = True
        touched = np.flatnonzero(delta)
        if touched.size:
            x[touched] = np.clip(x[touched] + delta[touched], self.lo, self.hi)
        self.taint = (self.taint | neg_wrong) & (x < S)
        # 3. court records list people (or renew a listing made before today)
        new = np.flatnonzero(listed_by_court)
        if new.size:
            fresh = new[~self.cl[new]]
            old = new[self.cl[new]]
            until = t + P.duration if P.duration > 0 else NEVER
            self.cl[fresh] = True
            self.cl_entry[fresh] = t
            self.cl_until[fresh] = until
            d["court_list_entries", "", ""][t] += fresh.size
            if P.extend and old.size:
                self.cl_until[old] = until
        # 4. list transitions on the day's final score
        if self.cl.any():
            listed = np.flatnonzero(self.cl)
            expire = listed[self.cl_until[listed] == t]
            chance = listed[(self.cl_until[listed] != t) & (self.cl_entry[listed] < t)]
            h = min(1.0, P.h0 + P.pressure)
            if h > 0 and chance.size:
                u = rng.random(chance.size)
                paid = chance[u < h]
                pressed = rng.random(paid.size) < P.pressure / h
                d["court_list_exits", "complied", ""][t] += (~pressed).sum()
                d["court_list_exits", "complied_under_pressure", ""][t] += pressed.sum()
                self._stays("court_list", "complied", t - self.cl_entry[paid[~pressed]])
                self._stays(
                    "court_list", "complied_under_pressure", t - self.cl_entry[paid[pressed]]
                )
                self.cl[paid] = False
            d["court_list_exits", "expired", ""][t] += expire.size
            self._stays("court_list", "expired", t - self.cl_entry[expire])
            self.cl[expire] = False
            if new.size and not P.extend:  # today's records on listings that ended today
                back = new[~self.cl[new]]
                self.cl[back] = True
                self.cl_entry[back] = t
                self.cl_until[back] = t + P.duration if P.duration > 0 else NEVER
                d["court_list_entries", "", ""][t] += back.size
        if P.blacklist:
            out = self.bl & (x >= P.exit_at * P.q) & (t >= self.bl_since + P.min_stay)
            enter = ~self.bl & (x < P.entry_below * P.q)
            d["blacklist_exits", "recovered", ""][t] += out.sum()
            self._stays("blacklist", "recovered", t - self.bl_since[out])
            self.bl[out] = False
            self.bl_wrong[out] = False
            d["blacklist_entries", "", W][t] += (enter & self.taint).sum()
            d["blacklist_entries", "", R][t] += (enter & ~self.taint).sum()
            self.bl |= enter
            self.bl_since[enter] = t
            self.bl_wrong[enter] = self.taint[enter]
            d["blacklisted", "", W][t] = (self.bl & self.bl_wrong).sum()
            d["blacklisted", "", R][t] = (self.bl & ~self.bl_wrong).sum()
        d["court_listed", "", ""][t] = self.cl.sum()
        # 5. sanctions: attempts by the affected, all blocked
        for s in P.sanctions:
            rightful = (self.cl if s.court else False) | (
                self.bl & ~self.bl_wrong if s.blacklist else False
            )
            affected = (self.cl if s.court else False) | (self.bl if s.blacklist else False)
            rightful = np.asarray(rightful, dtype=bool)
            affected = np.asarray(affected, dtype=bool)
            tries = rng.poisson(s.per_day, affected.sum())
            truth_r = rightful[affected]
            d["blocked_attempts", s.name, R][t] += tries[truth_r].sum()
            d["blocked_attempts", s.name, W][t] += tries[~truth_r].sum()
            d["sanctioned_people", s.name, R][t] = truth_r.sum()
            d["sanctioned_people", s.name, W][t] = (~truth_r).sum()
        # 6. stocks by grade, snapshots
        higher = 0  # people at or above the previous (higher) grade's minimum
        for g, gmin in P.grades:
            at_least = int((x >= gmin * P.q).sum())
            d["grade_holders", g, ""][t] = at_least - higher
            higher = at_least
        k = P.snapshot_every
        if (k and (t + 1) % k == 0) or t == P.days - 1:
            self.snapshot(t)

    def _stays(self, kind: str, reason: str, days: np.ndarray) -> None:
        if days.size:
            self.result.stays.setdefault((kind, reason), []).extend(days.tolist())

    def snapshot(self, t: int) -> None:
        P, res = self.P, self.result
        res.snapshot_days.append(t)
        res.mean_score.append(float(self.x.sum()) / P.q / self.n)
        res.below_start.append(int((self.x < self.S).sum()))
        if t == P.days - 1:
            bins = (self.x - self.lo) // (P.bin_width * P.q)
            values, counts = np.unique(bins, return_counts=True)
            res.histogram = {
                float(P.lo + v * P.bin_width): int(c) for v, c in zip(values, counts, strict=True)
            }
            res.scores = self.x / P.q

    def run(self) -> RefResult:
        for t in range(self.P.days):
            right, wrong = self.draw()
            self.day(t, right, wrong)
        return self.result


def simulate(scenario: Mapping[str, Any], n: int, seed: int) -> RefResult:
    """Run the reference on ``n`` people with its own random stream, keyed by ``seed`` and by
    the scenario (a CRC of its JSON), so that different scenarios run on the same seeds draw
    independent streams (the engine's streams are keyed differently, by its own scheme)."""
    key = zlib.crc32(json.dumps(scenario, sort_keys=True, default=str).encode())
    rng = np.random.default_rng([seed, key])
    return Reference(parse(scenario), n, rng).run()
