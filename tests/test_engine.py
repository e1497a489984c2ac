"""The engine: invariants of a run, reproducibility across threads, the audit trail.

Each Hypothesis example runs a whole (small) simulation, so examples are few and short; the
invariants checked are exact (raw counts), not statistical.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import socialcreditsim as scs
from socialcreditsim import engine, lists
from socialcreditsim import kernels as kn
from socialcreditsim.behaviours import BehaviourModel
from socialcreditsim.engine import _grown
from socialcreditsim.population import children_count
from socialcreditsim.results import TABLES
from socialcreditsim.sanctions import TARGET_CHILDREN, TARGET_PERSON, affected
from socialcreditsim.scoring import grade_of
from socialcreditsim.tables import AGE_NAMES

START = dt.date(2018, 1, 1)
GRADES = [("AAA", 1050), ("AA", 1030), ("A", 960), ("B", 850), ("C", 600)]


# ------------------------------------------------------------------------------- scenarios


def scenario(
    *,
    days: int = 90,
    jaywalk_change: int = -60,
    rumour_change: int = -40,
    court_change: int = -100,
    good_change: int = 20,
    recovery: float = 0.5,
    smin: int = 0,
    smax: int = 1300,
    bl_enabled: bool = True,
    bl_entry: int = 850,
    bl_exit: int = 960,
    bl_min_stay: int = 30,
    fnir: float = 0.1,
    fpir: float = 0.3,
    cov_urban: float = 0.6,
    cov_rural: float = 0.2,
    shaming: float = 0.2,
    listing: float = 0.8,
    court_rate: float = 0.5,
    court_duration: int = 60,
    court_extend: bool = True,
    compliance: float = 2.0,
    pay: float = 0.1,
    init_court: float = 0.0,
    init_bl: float = 0.0,
    score_sd: float = 0.0,
    rollout: bool = False,
    audit_sample: int = 10_000_000,  # the most allowed: more than the agents, so everybody
    locality_size: int = 512,
) -> dict[str, Any]:
    """A compact scenario with every mechanism: cameras, courts, lists, grades, sanctions on
    people and on children, rewards, groups, rollout; raw counts and (by default) everybody
    audited."""
    grades = [{"name": n, "min": m} for n, m in GRADES] + [{"name": "D", "min": smin}]
    lists_ = ["court", "blacklist"] if bl_enabled else ["court"]
    sc: dict[str, Any] = {
        "meta": {"name": "engine-test"},
        "time": {"start": START, "end": START + dt.timedelta(days=days - 1)},
        "population": {
            "size": 10_000_000,
            "regions": [
                {"name": "North", "share": 0.5, "urban_share": 0.7},
                {"name": "South", "share": 0.3, "urban_share": 0.4},
                {"name": "East", "share": 0.2, "urban_share": 0.9},
            ],
            "locality_size": locality_size,
            "propensity_classes": 4,
            "prosocial_classes": 2,
        },
        "groups": [
            {
                "name": "journalists",
                "share": 0.05,
                "rate_multipliers": {"rumours": 5.0},
                "record_multiplier": 2.0,
                "court_listing_multiplier": 1.5,
            }
        ],
        "behaviours": [
            {
                "name": "jaywalking",
                "channel": "camera",
                "rate": 20.0,
                "rural_multiplier": 0.5,
                "score_change": jaywalk_change,
                "shaming_probability": shaming,
                "deterrence_elasticity": 0.3,
            },
            {
                "name": "rumours",
                "channel": "online",
                "rate": 2.0,
                "record_probability": [[START, 0.2], [START + dt.timedelta(days=days), 0.5]],
                "score_change": rumour_change,
            },
            {
                "name": "defaulting",
                "channel": "court",
                "rate": court_rate,
                "record_probability": 0.9,
                "listing_probability": listing,
                "score_change": court_change,
                "follows_rollout": False,
            },
            {
                "name": "volunteering",
                "channel": "records",
                "rate": 6.0,
                "record_probability": 0.5,
                "propensity": "pro_social",
                "score_change": good_change,
            },
        ],
        "surveillance": {
            "coverage_urban": cov_urban,
            "coverage_rural": cov_rural,
            "fnir": fnir,
            "fpir": fpir,
        },
        "score": {
            "start": 1000,
            "min": smin,
            "max": smax,
            "recovery_per_day": recovery,
            "grades": grades,
        },
        "blacklist": {
            "enabled": bl_enabled,
            "entry_below": bl_entry,
            "exit_at": bl_exit,
            "min_stay_days": bl_min_stay,
        },
        "court_list": {
            "duration_days": court_duration,
            "extend_on_new_record": court_extend,
            "compliance_per_year": compliance,
            "pay_per_blocked_attempt": pay,
        },
        "red_list": {"min_grade": "AA"},
        "sanctions": [
            {
                "name": "flights",
                "trigger_lists": lists_,
                "per_year_urban": 6.0,
                "per_year_rural": 2.0,
            },
            {"name": "hotels", "trigger_lists": ["court"], "per_year_urban": 3.0},
            {
                "name": "internet",
                "trigger_lists": lists_[1:],
                "trigger_grades": ["C", "D"],
                "per_year_urban": 12.0,
                "per_year_rural": 12.0,
            },
            {
                "name": "school",
                "trigger_lists": lists_,
                "target": "children",
                "per_year_urban": 2.0,
                "per_year_rural": 1.0,
            },
            {
                "name": "jobs",
                "trigger_grades": ["D"],
                "target": "both",
                "per_year_urban": 1.0,
                "per_year_rural": 1.0,
            },
        ],
        "rewards": [
            {
                "name": "energy",
                "trigger_lists": ["red"],
                "per_year_urban": 12.0,
                "per_year_rural": 12.0,
            },
            {"name": "dating", "trigger_grades": ["AAA"], "target": "both", "per_year_urban": 2.0},
        ],
        "initial": {
            "court_listed_share": init_court,
            "blacklisted_share": init_bl if bl_enabled else 0.0,
            "score_sd": score_sd,
        },
        "output": {
            "raw_counts": True,
            "audit_sample": audit_sample,
            "snapshot_every_days": 30,
            "score_bin_width": 10,
        },
    }
    if rollout:
        sc["rollout"] = [
            {"date": START, "share": 0.5},
            {"date": START + dt.timedelta(days=days // 2), "share": 1.0},
        ]
    return sc


def run(sc: dict[str, Any] | str, n_agents: int, seed: int, threads: int = 1, **kw: Any):
    sim = scs.Sim(sc, n_agents=n_agents, seed=seed, threads=threads, **kw)
    return sim, sim.run()


# ------------------------------------------------------------------------------- helpers


def daily(res: scs.Results, metric: str, region: str = "national", **sel: str) -> np.ndarray:
    """One metric per day (summed over unspecified items and truths), zero-filled."""
    ts = res.timeseries
    m = (ts["metric"] == metric) & (ts["region"] == region)
    for k, v in sel.items():
        m &= ts[k] == v
    dates = np.sort(ts["date"].unique())
    out = ts[m].groupby("date", observed=True)["value"].sum().reindex(dates, fill_value=0)
    return out.to_numpy()


def final_value(res: scs.Results, metric: str, region: str = "national", **sel: str) -> float:
    return float(daily(res, metric, region, **sel)[-1])


def exact_scores(sim: scs.Sim, day: int) -> tuple[np.ndarray, int]:
    """q times the scores on ``day``, and q, by the recovery rule of scoring.py written out
    independently (numpy): a base score V on base day L recovers toward the start by r = p/q
    points a day, so q times the score is q V +- p (day - L), stopped at the start."""
    sc = sim.scenario.score
    r = Fraction(repr(sc.recovery_per_day)).limit_denominator(10_000)
    p, q = r.numerator, r.denominator
    v = sim.state.score.astype(np.int64)
    gained = p * (day - sim.state.last.astype(np.int64))
    up = np.minimum(q * sc.start, q * v + gained)
    down = np.maximum(q * sc.start, q * v - gained)
    return np.where(v < sc.start, up, np.where(v > sc.start, down, q * v)), q


def recovered_scores(sim: scs.Sim, day: int) -> np.ndarray:
    """Scores on ``day``, rounded down (``exact_scores``)."""
    x, q = exact_scores(sim, day)
    return x // q


def listing_days(sim: scs.Sim, res: scs.Results) -> tuple[np.ndarray, np.ndarray]:
    """Per scored person, from the audit trail: the day of the last blacklist entry (day 0 for
    people listed at the start, who entered earlier), and the day the last court listing or
    extension expires if nobody pays (the audit's value; the listing ends on that day or
    before). Where unknown (not audited): int64 min and -1."""
    pop = sim.population
    since = np.full(pop.n_scored, np.iinfo(np.int64).min, dtype=np.int64)
    until = np.full(pop.n_scored, -1, dtype=np.int64)
    au = res.audit
    if au.empty:
        return since, until
    person = au["person"].to_numpy(dtype=np.int64)
    loc = np.searchsorted(pop.loc_start, person, side="right") - 1
    scored = pop.loc_scored_start[loc] + person - pop.loc_start[loc] - pop.loc_children[loc]
    day = (pd.to_datetime(au["date"]) - pd.Timestamp(sim.scenario.time.start)).dt.days.to_numpy()
    kind = au["kind"].astype(str).to_numpy()
    for k in np.flatnonzero(kind == "blacklist_entry"):  # rows are in date order per person
        since[scored[k]] = day[k]
    for k in np.flatnonzero(np.isin(kind, ["court_list_entry", "court_list_extended"])):
        until[scored[k]] = au["value"].iat[k]
    return since, until


def affected_array(flags: np.ndarray, list_mask: int, grade_mask: int) -> np.ndarray:
    """``sanctions.affected`` for every person (checked against it on all 256 flag bytes)."""
    lut = np.array(
        [affected(np.uint8(f), np.uint8(list_mask), np.int64(grade_mask)) for f in range(256)],
        dtype=np.int8,
    )
    return lut[flags]


def scored_offsets(pop) -> tuple[np.ndarray, np.ndarray]:
    """(locality, offset inside the locality's scored range) of every scored person."""
    loc = np.repeat(np.arange(pop.n_localities), pop.loc_scored)
    off = np.arange(pop.n_scored) - pop.loc_scored_start[loc]
    return loc, off


def children_of_scored(pop) -> np.ndarray:
    loc, off = scored_offsets(pop)
    return np.array(
        [
            children_count(
                int(o),
                int(pop.loc_children[i]),
                int(pop.loc_adults[i]),
                int(pop.loc_parents[i]),
                int(pop.loc_stride_inv[i]),
            )
            for i, o in zip(loc, off, strict=True)
        ],
        dtype=np.int64,
    )


def trigger_holds(sc: scs.Scenario, measure: Any, flags: np.ndarray) -> np.ndarray:
    """Whether a measure's declared trigger holds, read from the scenario (not from the
    compiled masks): its lists, its grades, the red list."""
    names = [g.name for g in sc.score.grades]
    grade = flags >> lists.GRADE_SHIFT
    hold = np.zeros(len(flags), dtype=bool)
    if "court" in measure.trigger_lists:
        hold |= (flags & lists.CL) != 0
    if "blacklist" in measure.trigger_lists:
        hold |= (flags & lists.BL) != 0
    if "red" in measure.trigger_lists:
        hold |= grade <= names.index(sc.red_list.min_grade)
    for g in measure.trigger_grades:
        hold |= grade == names.index(g)
    return hold


def check_last_snapshot(sim: scs.Sim, res: scs.Results, kids: np.ndarray) -> None:
    """The last snapshot (the final state, brought up to date) against the state counted person
    by person, in every category: people, mean score, grades, lists, who is sanctioned and
    rewarded, and children sanctioned through a parent. The snapshot skips runs of untouched
    people and counts them by block; here nobody is skipped."""
    sc, pop, S, M = sim.scenario, sim.population, sim.state, sim.measures
    T = (sc.time.end - sc.time.start).days
    flags = S.flags.astype(np.int64)
    x, q = exact_scores(sim, T)
    counts: dict[str, np.ndarray] = {
        "people": np.ones(len(flags)),
        "mean_score": x / q,
        "share_court_listed": (flags & lists.CL) != 0,
        "share_blacklisted_rightful": ((flags & lists.BL) != 0) & ((flags & lists.BLW) == 0),
        "share_blacklisted_wrongful": (flags & lists.BLW) != 0,
    }
    for g, grade in enumerate(sc.score.grades):
        counts[f"share_grade_{grade.name}"] = (flags >> lists.GRADE_SHIFT) == g
    person = np.zeros((3, len(flags)), dtype=bool)  # sanctioned rightfully, wrongfully; rewarded
    child = np.zeros((2, len(flags)), dtype=bool)  # children sanctioned rightfully, wrongfully
    for k, m in enumerate(list(sc.sanctions) + list(sc.rewards)):
        aff = affected_array(S.flags, int(M.list_mask[k]), int(M.grade_mask[k]))
        if M.is_reward[k]:
            if M.target[k] & TARGET_PERSON:
                counts[f"share_rewarded:{m.name}"] = aff > 0
                person[2] |= aff > 0
            continue
        if M.target[k] & TARGET_PERSON:
            counts[f"share_sanctioned_rightful:{m.name}"] = aff == 1
            counts[f"share_sanctioned_wrongful:{m.name}"] = aff == 2
            person[0] |= aff == 1
            person[1] |= aff == 2
        if M.target[k] & TARGET_CHILDREN:
            child[0] |= aff == 1
            child[1] |= aff == 2
    counts["share_sanctioned_rightful"] = person[0]
    counts["share_sanctioned_wrongful"] = person[1] & ~person[0]
    counts["share_rewarded"] = person[2]
    # each person's block: the last block of their locality that starts at or before them
    n_blk = pop.blocks.shape[1] - 1
    starts = (pop.loc_scored_start[:, None] + pop.blocks[:, :-1]).ravel()
    block = (np.searchsorted(starts, np.arange(pop.n_scored), side="right") - 1) % n_blk
    groups = ["general"] + [g.name for g in sc.groups]
    classes = [
        f"class {c + 1} of {len(pop.r_values)} (mean {m:.2f})" for c, m in enumerate(pop.r_values)
    ]
    categories = {
        "national": np.full(len(flags), "national", dtype=object),
        "age_band": np.array(AGE_NAMES, dtype=object)[pop.block_age[block]],
        "group": np.array(groups, dtype=object)[pop.block_group[block]],
        "propensity": np.array(classes, dtype=object)[pop.block_rclass[block]],
    }
    snap = res.snapshots
    last = snap[(snap["date"] == snap["date"].max()) & snap["bin"].isna()]
    got = last.set_index(["dimension", "category", "metric"])["value"]
    for dimension, of in categories.items():
        for category in np.unique(of):
            who = of == category
            n = who.sum()
            for metric, hit in counts.items():
                want = hit[who].sum() / (1 if metric == "people" else n)
                assert got[dimension, category, metric] == pytest.approx(want, rel=1e-12), (
                    dimension, category, metric
                )  # fmt: skip
    n_children = pop.loc_children.sum()
    sanctioned = kids[child[0]].sum(), kids[child[1] & ~child[0]].sum()
    assert got["age_band", "child", "people"] == n_children
    assert got["age_band", "child", "share_sanctioned_rightful"] * n_children == pytest.approx(
        sanctioned[0]
    )
    assert got["age_band", "child", "share_sanctioned_wrongful"] * n_children == pytest.approx(
        sanctioned[1]
    )


# ------------------------------------------------------------------------------- invariants

params = st.fixed_dictionaries(
    {
        "days": st.integers(20, 120),
        "jaywalk_change": st.integers(-250, 0),
        "rumour_change": st.integers(-150, 30),
        "court_change": st.integers(-300, 0),
        "good_change": st.integers(0, 120),
        "recovery": st.sampled_from([0.0, 0.1, 0.37, 1.0, 3.0, 25.0]),
        "smin": st.sampled_from([0, 300, 590]),
        "smax": st.sampled_from([1040, 1100, 1300]),
        "bl_enabled": st.booleans(),
        "bl_entry": st.integers(600, 990),
        "bl_gap": st.integers(0, 150),
        "bl_min_stay": st.integers(0, 60),
        "fnir": st.floats(0.0, 1.0),
        "fpir": st.floats(0.0, 1.0),
        "cov_urban": st.floats(0.0, 1.0),
        "cov_rural": st.floats(0.0, 1.0),
        "shaming": st.floats(0.0, 1.0),
        "listing": st.floats(0.0, 1.0),
        "court_duration": st.integers(0, 90),
        "court_extend": st.booleans(),
        "compliance": st.sampled_from([0.0, 1.0, 20.0]),
        "pay": st.sampled_from([0.0, 0.2, 1.0]),
        "init_court": st.sampled_from([0.0, 0.0, 0.05]),
        "init_bl": st.sampled_from([0.0, 0.0, 0.05]),
        "score_sd": st.sampled_from([0.0, 0.0, 30.0, 150.0]),
        "rollout": st.booleans(),
        "locality_size": st.sampled_from([64, 300, 2048]),
    }
)


def check_invariants(sim: scs.Sim, res: scs.Results, p: dict[str, Any]) -> None:
    sc = sim.scenario
    pop, S, M = sim.population, sim.state, sim.measures
    n_days = (sc.time.end - sc.time.start).days + 1
    T = n_days - 1
    smin, smax = sc.score.min, sc.score.max
    flags = S.flags

    # --- scores within bounds: recovered state, snapshots, audit; the stored base score
    # (scoring.py) lies less than one day's recovery p beyond the score it stands for
    p = Fraction(repr(sc.score.recovery_per_day)).limit_denominator(10_000).numerator
    assert S.score.min() > smin - max(p, 1) and S.score.max() < smax + max(p, 1)
    s_now = recovered_scores(sim, T)
    assert s_now.min() >= smin and s_now.max() <= smax
    snap = res.snapshots
    hist = snap[(snap["metric"] == "score_histogram") & (snap["dimension"] == "national")]
    assert hist["bin"].min() >= smin and hist["bin"].max() <= smax
    per_date = hist.groupby("date")["value"].sum()
    assert (per_date == pop.n_scored).all()
    # the last snapshot is the final state, brought up to date
    last_hist = hist[hist["date"] == hist["date"].max()]
    width = sc.output.score_bin_width
    expect = np.bincount((s_now - smin) // width)
    got = np.zeros_like(expect)
    got[((last_hist["bin"].to_numpy() - smin) // width).astype(int)] = last_hist["value"]
    np.testing.assert_array_equal(got, expect)
    ev = res.audit[res.audit["kind"] == "event"]
    assert ev["score"].between(smin, smax).all()

    # --- flags are coherent and up to date (lazy recovery fired every due transition)
    BL, BLW, CL, CLX = (int(x) for x in (lists.BL, lists.BLW, lists.CL, lists.CLX))
    assert not np.any((flags & BLW) & ~((flags & BL) * 2)), "wrongful bit without blacklisting"
    assert not np.any((flags & CLX) & ~((flags & CL) * 2)), "expiry bit without court listing"
    grade_min = np.array([g.min for g in sc.score.grades], dtype=np.int64)
    want_grade = np.array([grade_of(int(s), grade_min) for s in s_now])
    np.testing.assert_array_equal(flags >> lists.GRADE_SHIFT, want_grade)
    on_cl = (flags & CL) != 0
    on_bl = (flags & BL) != 0
    if not sc.blacklist.enabled:
        assert not on_bl.any()
    since, until = listing_days(sim, res)
    known = until >= 0
    assert (until[on_cl & known] > T).all(), "a court listing outlived its expiry day"
    if sc.blacklist.enabled:
        known = since > np.iinfo(np.int64).min
        overdue = (
            on_bl
            & known
            & (s_now >= sc.blacklist.exit_at)
            & (T >= since + sc.blacklist.min_stay_days)
        )
        assert not overdue.any(), f"{overdue.sum()} people should have left the blacklist"
        below = ~on_bl & (s_now < sc.blacklist.entry_below)
        assert not below.any(), f"{below.sum()} people below the entry threshold not blacklisted"

    # --- list stocks = start + entries - exits (exact, raw counts), nationally and by region
    for region in pop.region_names + ["national"]:
        court = daily(res, "court_listed", region)
        court_in = daily(res, "court_list_entries", region)
        court_out = daily(res, "court_list_exits", region)
        np.testing.assert_array_equal(np.diff(court), (court_in - court_out)[1:])
        bl = daily(res, "blacklisted", region)
        bl_in = daily(res, "blacklist_entries", region)
        bl_out = daily(res, "blacklist_exits", region)
        np.testing.assert_array_equal(np.diff(bl), (bl_in - bl_out)[1:])
        court0 = court[0] - court_in[0] + court_out[0]
        bl0 = bl[0] - bl_in[0] + bl_out[0]
        assert court0 >= 0 and bl0 >= 0
        if region == "national":
            if sc.initial.court_listed_share == 0:
                assert court0 == 0
                assert court[-1] == court_in.sum() - court_out.sum()
            if sc.initial.blacklisted_share == 0 and sc.initial.score_sd == 0:
                assert bl0 == 0
                assert bl[-1] == bl_in.sum() - bl_out.sum()
    assert final_value(res, "court_listed") == on_cl.sum()
    assert final_value(res, "blacklisted", truth="rightful") == (on_bl & ((flags & BLW) == 0)).sum()
    assert final_value(res, "blacklisted", truth="wrongful") == ((flags & BLW) != 0).sum()
    for g, grade in enumerate(sc.score.grades):
        assert final_value(res, "grade_holders", item=grade.name) == (want_grade == g).sum()

    # --- recorded events: rightful <= true, wrongful only by camera, totals add up
    for b in sc.behaviours:
        true = daily(res, "events_true", item=b.name)
        right = daily(res, "events_recorded", item=b.name, truth="rightful")
        wrong = daily(res, "events_recorded", item=b.name, truth="wrongful")
        both = daily(res, "events_recorded", item=b.name)
        np.testing.assert_array_equal(right + wrong, both)
        assert (right <= true).all() and (right + wrong <= true).all()
        if b.channel != "camera" or sc.surveillance.fpir == 0:
            assert wrong.sum() == 0
        if b.channel != "camera" or b.shaming_probability == 0:
            assert daily(res, "shamings", item=b.name).sum() == 0
        assert (daily(res, "shamings", item=b.name) <= both).all()

    # --- no sanction or reward without its trigger; children only through a listed parent
    kids = children_of_scored(pop)
    loc, off = scored_offsets(pop)
    assert (kids[off >= pop.loc_adults[loc]] == 0).all(), "seniors have no children"
    measures = list(sc.sanctions) + list(sc.rewards)
    assert M.names == [m.name for m in measures]
    for k, m in enumerate(measures):
        aff = affected_array(flags, int(M.list_mask[k]), int(M.grade_mask[k]))
        hold = trigger_holds(sc, m, flags)
        np.testing.assert_array_equal(aff > 0, hold, err_msg=f"trigger of {m.name}")
        who = "rewarded" if M.is_reward[k] else "sanctioned"
        for code, truth in ((1, "rightful"), (2, "wrongful")):
            hit = aff == code
            people = final_value(res, f"{who}_people", item=m.name, truth=truth)
            children = final_value(res, f"{who}_children", item=m.name, truth=truth)
            if M.target[k] & TARGET_PERSON:
                assert people == hit.sum(), (m.name, truth)
            else:
                assert people == 0
            if M.target[k] & TARGET_CHILDREN:
                assert children == kids[hit].sum(), (m.name, truth)
            else:
                assert children == 0
        if m.target != "person" and not hold.any():
            assert final_value(res, f"{who}_children", item=m.name) == 0
    check_last_snapshot(sim, res, kids)
    # attempts: everybody is audited here, so the audit's attempts rows are everybody's
    # attempts. Given the stocks, a measure's attempts are Poisson with mean rate / 365 x the
    # sum over days of the units affected (people and/or children). Where the urban and rural
    # rates are equal that mean is known from the national stocks (tolerance 5 sqrt(mean));
    # otherwise it lies between the two rates' means (the same tolerance outside them). None
    # at all when nobody was ever affected.
    att = res.audit[res.audit["kind"] == "attempts"]
    for k, m in enumerate(measures):
        who = "rewarded" if M.is_reward[k] else "sanctioned"
        units = 0.0
        if M.target[k] & TARGET_PERSON:
            units += daily(res, f"{who}_people", item=m.name).sum()
        if M.target[k] & TARGET_CHILDREN:
            units += daily(res, f"{who}_children", item=m.name).sum()
        lo, hi = sorted((m.per_year_urban, m.per_year_rural))
        got = att.loc[att["item"] == m.name, "value"].sum()
        margin = 5 * np.sqrt(max(units * hi / 365, 1.0))
        assert units * lo / 365 - margin < got < units * hi / 365 + margin, (m.name, got, units)
        if units == 0:
            assert got == 0, m.name


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(p=params, seed=st.integers(0, 2**32), n_agents=st.integers(2_000, 20_000))
def test_invariants(p: dict[str, Any], seed: int, n_agents: int) -> None:
    p = dict(p)
    p["bl_exit"] = min(1000, p["bl_entry"] + p.pop("bl_gap"))
    sim, res = run(scenario(**p), n_agents, seed)
    check_invariants(sim, res, p)


def test_invariants_when_everybody_untouched_is_rewarded() -> None:
    """The red list from grade A, the start grade: people never touched hold the reward too, so
    the snapshot cannot count them as a block's untouched people alone; their children hold
    another one, which is not theirs."""
    sc = scenario(days=90, rollout=True, init_court=0.02, locality_size=300)
    sc["red_list"] = {"min_grade": "A"}
    # a reward for the children of grade B alone: held by no scored person
    sc["rewards"].append(
        {"name": "tuition", "trigger_grades": ["B"], "target": "children", "per_year_urban": 1.0}
    )
    sim, res = run(sc, 12_000, 3)
    untouched = (sim.state.score == 1000) & (sim.state.flags >> lists.GRADE_SHIFT == 2)
    assert untouched.mean() > 0.2
    check_invariants(sim, res, {})


def test_invariants_busy_run() -> None:
    """A fixed run where every list, sanction and reward is exercised, with a spread start."""
    p = dict(
        days=150,
        jaywalk_change=-120,
        recovery=1.0,
        bl_entry=850,
        bl_exit=960,
        bl_min_stay=20,
        init_court=0.03,
        init_bl=0.03,
        rollout=True,
        fnir=0.3,
        fpir=0.5,
        good_change=40,
    )
    sim, res = run(scenario(**p), 20_000, 7)
    check_invariants(sim, res, p)
    # the run is not trivially quiet
    for metric in (
        "court_list_entries",
        "court_list_exits",
        "blacklist_entries",
        "blacklist_exits",
        "shamings",
    ):
        assert daily(res, metric).sum() > 0, metric
    assert daily(res, "events_recorded", truth="wrongful").sum() > 0
    assert daily(res, "blacklist_entries", truth="wrongful").sum() > 0
    for name in ("flights", "school", "jobs", "energy", "dating"):
        assert (
            daily(res, "sanctioned_people", item=name).sum()
            + daily(res, "rewarded_people", item=name).sum()
            + daily(res, "sanctioned_children", item=name).sum()
            > 0
        ), name


def test_initial_scores_below_the_entry_threshold_are_blacklisted() -> None:
    """A score spread at the start (initial.score_sd) must obey the blacklist rule too: at the end
    of a run nobody off the blacklist has a score below its entry threshold."""
    sc = scenario(
        days=10,
        score_sd=120.0,
        court_rate=0.0,
        jaywalk_change=0,
        rumour_change=0,
        good_change=0,
        recovery=0.0,
    )
    sim, res = run(sc, 5_000, 3)
    s_now = recovered_scores(sim, 9)
    off_bl = (sim.state.flags & lists.BL) == 0
    below = off_bl & (s_now < sim.scenario.blacklist.entry_below)
    assert not below.any(), f"{below.sum()} people below the entry threshold are not blacklisted"


def test_nobody_listed_means_no_children_sanctioned() -> None:
    sc = scenario(
        days=40,
        court_rate=0.0,
        jaywalk_change=0,
        rumour_change=0,
        court_change=0,
        init_court=0.0,
        init_bl=0.0,
    )
    sim, res = run(sc, 10_000, 5)
    assert not (sim.state.flags & (lists.CL | lists.BL)).any()
    for name in ("school", "flights"):
        assert daily(res, "sanctioned_children", item=name).sum() == 0
        assert daily(res, "sanctioned_people", item=name).sum() == 0
        assert daily(res, "blocked_attempts", item=name).sum() == 0


def test_full_audit_matches_the_time_series() -> None:
    """With everybody audited, the audit trail and the time series count the same things."""
    sim, res = run(scenario(days=60, init_court=0.02, fpir=0.5), 8_000, 11)
    assert len(res.people) == sim.population.n_scored
    au = res.audit
    for b in sim.scenario.behaviours:
        for truth in ("rightful", "wrongful"):
            n = ((au["kind"] == "event") & (au["item"] == b.name) & (au["truth"] == truth)).sum()
            assert n == daily(res, "events_recorded", item=b.name, truth=truth).sum()
            n = ((au["kind"] == "shamed") & (au["item"] == b.name) & (au["truth"] == truth)).sum()
            assert n == daily(res, "shamings", item=b.name, truth=truth).sum()
    during = au["truth"] != "at_start"  # the state at the start is audited too
    assert (au["truth"] == "at_start").any()
    kind = au["kind"]
    assert ((kind == "court_list_entry") & during).sum() == daily(res, "court_list_entries").sum()
    assert (kind == "court_list_exit").sum() == daily(res, "court_list_exits").sum()
    assert ((kind == "blacklist_entry") & during).sum() == daily(res, "blacklist_entries").sum()
    assert (kind == "blacklist_exit").sum() == daily(res, "blacklist_exits").sum()
    for reason in ("complied", "complied_under_pressure", "expired"):
        n = ((kind == "court_list_exit") & (au["truth"] == reason)).sum()
        assert n == daily(res, "court_list_exits", item=reason).sum()
    for m, reward in zip(sim.measures.names, sim.measures.is_reward, strict=True):
        verb = "reward_uses" if reward else "blocked_attempts"
        for truth in ("rightful", "wrongful"):
            att = au[(au["kind"] == "attempts") & (au["item"] == m) & (au["truth"] == truth)]
            assert att["value"].sum() == daily(res, verb, item=m, truth=truth).sum(), (m, truth)


# ------------------------------------------------------------------------------- reproducibility

REPRO = ["time.end=2018-03-15", "output.audit_sample=500", "output.snapshot_every_days=20"]


def _save(res: scs.Results, path: Path) -> dict[str, bytes]:
    res.save(path)
    return {name: (path / f"{name}.parquet").read_bytes() for name in TABLES}


@pytest.fixture(scope="module")
def national_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    out = {}
    for key, seed, threads in (("s1t1", 1, 1), ("s1t2", 1, 2), ("s2t1", 2, 1)):
        _, res = run("national", 30_000, seed, threads=threads, overrides=REPRO)
        out[key] = _save(res, tmp_path_factory.mktemp(key) / "run")
    return out


def test_same_seed_same_bytes_whatever_the_threads(national_runs) -> None:
    for name in TABLES:
        assert national_runs["s1t1"][name] == national_runs["s1t2"][name], name


def test_different_seeds_differ(national_runs) -> None:
    for name in ("timeseries", "snapshots", "audit"):
        assert national_runs["s1t1"][name] != national_runs["s2t1"][name], name


def test_reproducible_with_every_mechanism(tmp_path: Path) -> None:
    """The busy test scenario, small localities (many ranges), 1 and 2 threads, twice."""
    sc = scenario(
        days=50,
        init_court=0.03,
        init_bl=0.03,
        rollout=True,
        locality_size=128,
        audit_sample=3000,
        score_sd=30.0,
    )
    saved = []
    for k, threads in enumerate((1, 2, 2)):
        _, res = run(sc, 12_000, 9, threads=threads)
        saved.append(_save(res, tmp_path / f"r{k}"))
    assert saved[0] == saved[1] == saved[2]


# ------------------------------------------------------------------------------- audit trail


def _check_trail(res: scs.Results, sc: scs.Scenario) -> list[str]:
    """Problems found in the audited people's histories (empty when the trail is coherent)."""
    problems: list[str] = []
    au = res.audit
    assert set(au["person"]) <= set(res.people["person"])
    for person, rows in au.groupby("person", sort=False):
        on_bl = on_cl = False
        active: set[str] = set()
        dates = rows["date"].to_numpy()
        if (np.diff(dates) < np.timedelta64(0, "D")).any():
            problems.append(f"person {person}: records out of date order")
        for r in rows.itertuples(index=False):
            k = r.kind
            if k == "blacklist_entry":
                on_bl = True
            elif k == "blacklist_exit":
                if not on_bl:
                    problems.append(f"person {person}: blacklist_exit on {r.date} without entry")
                on_bl = False
            elif k == "court_list_entry":
                on_cl = True
            elif k == "court_list_exit":
                if not on_cl:
                    problems.append(f"person {person}: court_list_exit on {r.date} without entry")
                on_cl = False
            elif k == "measure_start":
                active.add(r.item)
            elif k == "measure_end":
                if r.item not in active:
                    problems.append(
                        f"person {person}: measure_end {r.item} on {r.date} without start"
                    )
                active.discard(r.item)
            elif k == "event":
                if not sc.score.min <= r.score <= sc.score.max:
                    problems.append(f"person {person}: score {r.score} out of bounds")
    return problems


def test_audit_trail_is_consistent() -> None:
    """Entries before exits, starts before ends, scores in bounds (nobody listed at the start)."""
    sim, res = run(scenario(days=120, fpir=0.5, jaywalk_change=-100), 10_000, 4)
    assert (res.audit["kind"] == "blacklist_exit").any()
    assert (res.audit["kind"] == "measure_end").any()
    assert _check_trail(res, sim.scenario) == []


def test_audit_trail_explains_people_listed_at_the_start() -> None:
    """People already listed (or spread to a grade) at the start: their later exits and ends must
    still be preceded by an entry or start in the trail, else their story cannot be explained.

    The built-in national scenario starts with 0.63% of people on the court list."""
    sim, res = run(
        "national", 20_000, 1, overrides=["time.end=2018-06-30", "output.audit_sample=100000"]
    )
    problems = _check_trail(res, sim.scenario)
    assert problems == [], f"{len(problems)} problems, e.g. {problems[:3]}"


def test_audit_trail_consistent_with_initial_blacklist() -> None:
    sim, res = run(scenario(days=120, init_bl=0.05, init_court=0.05, score_sd=40.0), 6_000, 8)
    problems = _check_trail(res, sim.scenario)
    assert problems == [], f"{len(problems)} problems, e.g. {problems[:3]}"


def test_explain_matches_the_trail() -> None:
    sim, res = run(scenario(days=60), 4_000, 2)
    au = res.audit
    person = int(au[au["kind"] == "event"]["person"].value_counts().index[0])
    text = res.explain(person)
    for r in au[au["person"] == person].itertuples(index=False):
        assert str(r.date)[:10] in text
        if r.kind == "event":
            assert f"'{r.item}'" in text


def test_dates_within_the_run() -> None:
    sim, res = run(scenario(days=30), 3_000, 6)
    d = pd.to_datetime(res.audit["date"])
    assert d.min() >= pd.Timestamp(START)
    assert d.max() <= pd.Timestamp(START + dt.timedelta(days=29))


@settings(max_examples=300, deadline=None)
@given(
    stride=st.one_of(st.integers(1, 64), st.integers(1, 2**32 - 1)),
    a=st.integers(0, 2**32 - 1),
    offset=st.integers(0, 2**32 - 1),
)
def test_the_audit_sample_test_is_the_remainder(stride: int, a: int, offset: int) -> None:
    """The sample test by multiplication (``divisibility_magic``) says what ``a % stride ==
    offset`` says, for every number below 2^32, near multiples too, and with a division above."""
    offset %= stride
    near = a - a % stride + offset  # a sampled number near a, and its neighbours
    for n in (a, near - 1, near, near + 1, near + stride):
        if 0 <= n < 2**32:
            for n_max in (2**32 - 1, 2**33):
                magic = kn.divisibility_magic(stride, n_max)
                assert kn.in_sample(n, stride, offset, magic) == (n % stride == offset), (n, n_max)
    assert not kn.in_sample(a, 0, 0, np.uint64(0))


# ------------------------------------------------------------------------------- memory


def test_memory_estimate_counts_regions_and_bounds_the_audit() -> None:
    """The estimate grows with the number of regions (each has two tail localities and its own
    series) and bounds what a full audit takes: measured on a run that audits everybody."""
    one = {"population": {"regions": [{"name": "A", "share": 1.0, "urban_share": 0.5}]}}
    many = {"population": {"regions": [{"name": f"R{i}", "share": 1.0, "urban_share": 0.5}
                                       for i in range(256)]}}  # fmt: skip
    base = scs.load_scenario("national").model_dump(mode="json")
    base = {**base, "rollout": []}  # its steps name the census regions
    few, lots = (scs.estimate_memory(scs.load_scenario(base | d), 100_000) for d in (one, many))
    assert lots["layout"] > few["layout"] and lots["time series"] > 100 * few["time series"]
    sim = scs.Sim("national", n_agents=5_000, seed=2, overrides=[
        "output.audit_sample=10000000", "time.end=2018-06-30"])  # fmt: skip
    res = sim.run()
    used = res.audit.memory_usage(deep=True).sum() + res.people.memory_usage(deep=True).sum()
    predicted = scs.estimate_memory(sim.scenario, 5_000)["audit"]
    assert len(res.people) == sim.population.n_scored
    assert used < predicted < 50 * used, (used, predicted)


def test_memory_estimate_takes_the_larger_of_the_days_and_the_end() -> None:
    """The books of the days (listed people, calendar, snapshot counters) are freed before the
    result tables are built, so the peak is the larger of the two: the end's tables count only
    beyond the books, which grow with the agents while the tables do not."""
    sc = scs.load_scenario("national")
    small, mid, big = (scs.estimate_memory(sc, n) for n in (10**6, 10**7, 10**9))

    def books(p: dict[str, int]) -> int:
        return p["listed people"] + p["calendar"] + p["snapshots"] + p["appeals"]

    end = small["result tables"] + books(small)
    assert books(small) < books(mid) < end and mid["result tables"] + books(mid) == end
    assert big["result tables"] == 0 and books(big) > end


# ------------------------------------------------------------------------------- shards


def _table_bytes(res: scs.Results, folder: Path) -> dict[str, bytes]:
    res.save(folder)
    return {name: (folder / f"{name}.parquet").read_bytes() for name in TABLES}


@pytest.mark.parametrize("cuts", [[], [40], [1, 2], [10, 30, 31, 60]])
def test_shards_of_localities_give_the_same_bytes(cuts: list[int], tmp_path: Path) -> None:
    """A run cut into ranges of localities, each run alone (as on a cluster's workers) and
    combined, writes the same Parquet bytes as the whole run in one piece."""
    small = ["time.end=2018-04-30", "population.locality_size=1024", "output.audit_sample=3000"]
    sim = scs.Sim("national", n_agents=30_000, seed=4, overrides=small)
    whole = _table_bytes(sim.run(), tmp_path / "whole")
    sc, pop = sim.scenario, sim.population
    edges = [0, *cuts, pop.n_localities]
    parts = [engine.run_shard(sc, 30_000, 4, lo, hi, threads=1)
             for lo, hi in zip(edges[:-1], edges[1:], strict=True)][::-1]  # fmt: skip
    assert all(p.state is None for p in parts)
    combined = engine.combine(sc, pop, 4, parts)
    assert _table_bytes(combined, tmp_path / "parts") == whole


def test_a_calendar_that_grows_gives_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Started with 8 chunks of revisits a locality, enough for the start, the revisit calendar
    grows as the days need (``kernels.room_short``: room for the day's revisits, bounded
    before they are made, from the days with no room left that the kernels count) and the run
    writes the same bytes as one sized from the start."""
    small = ["time.end=2018-04-30", "population.locality_size=1024", "output.audit_sample=3000"]
    sized = _table_bytes(scs.Sim("national", 30_000, seed=4, overrides=small).run(), tmp_path / "a")
    capacities = engine.capacities
    monkeypatch.setattr(engine, "capacities", lambda sc, n: (8, capacities(sc, n)[1]))
    grown = []
    monkeypatch.setattr(engine, "_grown", lambda *a: grown.append(a[0].shape) or _grown(*a))

    def checked(par: Any, B: Any, counts: Any, disc: Any, lo: int, hi: int, t: int, *a) -> Any:
        # the kernels' count of days not yet taken with no room in their first chunk
        no_room = (B.cal_head[lo:hi, t:, 1] % kn.PER_CHUNK == 0).sum(axis=1)
        assert (B.cal_meta[lo:hi, kn.CAL_NO_ROOM] == no_room).all()
        return make_room(par, B, counts, disc, lo, hi, t, *a)

    make_room = engine._make_room
    monkeypatch.setattr(engine, "_make_room", checked)
    small_start = scs.Sim("national", 30_000, seed=4, overrides=small).run()
    assert len(grown) >= 2 and grown[0][1] == 8  # grown from 8 chunks, more than once
    assert _table_bytes(small_start, tmp_path / "b") == sized


def test_shards_balance_the_expected_work() -> None:
    """Cut by the work estimated from every 30th day, the two halves of the national year hold
    about as much work, counted with the events of every day: within 5% of the mean (measured
    0.8%; the sampled days and the 63 localities, each about 3% of a half, are the only error),
    where a cut by people leaves 17% (30% in the events alone)."""
    sc = scs.load_scenario("national", ["time.end=2018-12-31"])
    pop = engine.build_population(sc, 1_000_000, 1)
    n_days = (sc.time.end - sc.time.start).days + 1
    days = [sc.time.start + dt.timedelta(days=t) for t in range(n_days)]
    beh = BehaviourModel(sc, pop, days, 1)
    events = np.zeros(pop.n_localities)
    for t in range(n_days):
        d = beh.day_tables(t)
        events += (d.lam_right + d.lam_wrong).sum(axis=1)
    work = pop.loc_scored + engine.WORK_PER_EVENT * events

    def halves(ranges: list[tuple[int, int]]) -> np.ndarray:
        share = np.array([work[lo:hi].sum() for lo, hi in ranges])
        return abs(share / share.mean() - 1)

    assert halves(engine.shard_ranges(pop, 2)).max() > 0.15  # what a cut by people leaves
    assert halves(engine.shard_ranges(pop, 2, engine.locality_work(sc, pop, 1))).max() < 0.05


def test_shard_ranges_balance_the_scored_people() -> None:
    sc = scs.load_scenario("national", ["population.locality_size=1024"])
    pop = engine.build_population(sc, 200_000, 0)
    for k in (1, 2, 3, 8):
        ranges = engine.shard_ranges(pop, k)
        assert ranges[0][0] == 0 and ranges[-1][1] == pop.n_localities and len(ranges) == k
        assert all(a[1] == b[0] for a, b in zip(ranges[:-1], ranges[1:], strict=True))
        sizes = [pop.loc_scored[lo:hi].sum() for lo, hi in ranges]
        assert max(sizes) - min(sizes) <= 2 * pop.loc_scored.max()
