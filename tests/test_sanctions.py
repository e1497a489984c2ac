"""Sanctions and rewards: blocked attempts at the urban and rural rates, children barred through
a listed parent, the red list and rewards by grade (MODEL.md section 5).

Every expected value is computed in closed form from the scenario; counts are Poisson or
binomial, so each tolerance is Z standard errors of that distribution.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from minimal import minimal, run, total
from socialcreditsim import lists

Z = 5.0
REGIONS = [
    {"name": "Town", "share": 1.0, "urban_share": 1.0},
    {"name": "Country", "share": 1.0, "urban_share": 0.0},
]
# nothing happens: a behaviour nobody does (a scenario with no behaviours at all does not run:
# BehaviourModel cannot reshape its empty rate table)
IDLE = [{"name": "idle", "channel": "records", "rate": 0.0, "score_change": 0}]
LISTED_SHARE = 0.1
# name: (target, attempts a year urban, rural)
SANCTIONS = {
    "flights": ("person", 6.0, 2.0),
    "school": ("children", 3.0, 1.0),
    "jobs": ("both", 1.5, 0.5),
}


@pytest.fixture(scope="module")
def listed_run():
    """A tenth of scored people court-listed at the start, for good (listings never expire,
    nobody pays), barred from flights, their children from private schools, both from jobs."""
    sc = minimal(
        days=300,
        behaviours=IDLE,
        population={"regions": REGIONS, "locality_size": 4096},
        initial={"court_listed_share": LISTED_SHARE},
        court_list={"duration_days": 0, "compliance_per_year": 0.0},
        sanctions=[
            {
                "name": name,
                "trigger_lists": ["court"],
                "target": target,
                "per_year_urban": urban,
                "per_year_rural": rural,
            }
            for name, (target, urban, rural) in SANCTIONS.items()
        ],
    )
    return run(sc, n_agents=100_000, seed=3)


def children_by_layout(pop) -> np.ndarray:
    """Children of every scored person by the linking rule of docs/model.md 1.7, written out
    here: in a locality with C children and A adults, min(A, ceil(C / 1.4)) parents; the adult at
    offset o has slot o x stride^-1 mod A, and parent slot s has the children ceil(s C / P) ..
    ceil((s + 1) C / P) - 1. Seniors have none."""
    out = np.zeros(pop.n_scored, dtype=np.int64)
    for i in range(pop.n_localities):
        A, C = int(pop.loc_adults[i]), int(pop.loc_children[i])
        P = min(A, math.ceil(C / 1.4))
        assert P == pop.loc_parents[i]
        if P == 0:
            continue
        slot = np.arange(A, dtype=np.int64) * int(pop.loc_stride_inv[i]) % A
        ceil_hi = -((-(slot + 1) * C) // P)  # ceil((s + 1) C / P)
        ceil_lo = -((-slot * C) // P)
        kids = np.where(slot < P, ceil_hi - ceil_lo, 0)
        start = int(pop.loc_scored_start[i])
        out[start : start + A] = kids
    return out


def test_blocked_attempts_at_urban_and_rural_rates(listed_run) -> None:
    """Every affected person (or child) tries the barred thing at the locality's yearly rate:
    given the stock, a region's blocked attempts are Poisson with mean rate / 365 x the sum over
    days of the units affected (people for flights, children for school, both for jobs).
    Tolerance Z sqrt(mean): 4-10% of the town's counts (20,000 flights, 2,600 school, 6,200
    jobs attempts), 6-17% of the country's (a third of those); swapping the urban and rural
    rates moves them by a factor of 3, counting a parent but not the children for "both" moves
    jobs attempts by a fifth."""
    res, sim = listed_run
    for region, rate_column in (("Town", 1), ("Country", 2)):
        listed = res.series("court_listed", region=region)
        assert listed.nunique() == 1 and listed.iloc[0] > 1000  # nobody leaves
        for name, spec in SANCTIONS.items():
            people = res.series("sanctioned_people", item=name, region=region)
            children = res.series("sanctioned_children", item=name, region=region)
            units = {"person": people, "children": children, "both": people + children}[spec[0]]
            if spec[0] != "children":
                assert (people == listed).all(), name
            expected = units.sum() * spec[rate_column] / 365
            got = total(res, "blocked_attempts", item=name, region=region)
            assert abs(got - expected) < Z * np.sqrt(expected), (region, name, got, expected)
    assert total(res, "sanctioned_people", item="school") == 0


def test_children_are_barred_through_a_listed_parent(listed_run) -> None:
    """Children sanctioned = the children of the listed people, exactly, by the linking rule;
    and since each child has exactly one parent, listed with probability 0.1 independently,
    their number has mean 0.1 x children and variance 0.1 x 0.9 x the sum over parents of their
    children squared: tolerance Z standard deviations (about 13% of the ~2,100 expected)."""
    res, sim = listed_run
    pop = sim.population
    kids = children_by_layout(pop)
    assert kids.sum() == pop.n_children  # every child has a parent, exactly one
    listed = (sim.state.flags & lists.CL) != 0
    assert abs(listed.mean() - LISTED_SHARE) < Z * np.sqrt(0.09 / pop.n_scored)
    barred = res.series("sanctioned_children", item="school").iloc[-1]
    assert barred == kids[listed].sum()
    assert res.series("sanctioned_children", item="jobs").iloc[-1] == barred
    mean = LISTED_SHARE * pop.n_children
    sd = np.sqrt(LISTED_SHARE * (1 - LISTED_SHARE) * (kids**2).sum())
    assert abs(barred - mean) < Z * sd
    snap = res.snapshots
    child = snap[(snap["category"] == "child") & (snap["date"] == snap["date"].max())]
    share = child.set_index("metric")["value"]
    assert share["people"] == pop.n_children
    assert share["share_sanctioned_rightful"] == pytest.approx(barred / pop.n_children)


def normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_red_list_and_rewards_by_grade() -> None:
    """Starting scores 1000 + 20 z, rounded, and nothing happens after: grades A >= 1010,
    B >= 990, C >= 960, D below; red list from B up. Each person is in a grade independently,
    so holders are binomial: the red list (B and up, score >= 990, i.e. z >= -0.525) holds
    Phi(0.525) = 70.0% of scored people, grade C (z in [-2.025, -0.525)) 27.9%, grade D 2.1%;
    tolerance Z sqrt(n p (1 - p)).

    People holding the reward triggered by the red list are exactly the red list; uses are
    Poisson with mean rate / 365 x the sum over days of the holders (with their children for a
    reward on both), at the urban and rural rates: tolerance Z sqrt(mean)."""
    sd, days = 20.0, 60
    grades = [
        {"name": "A", "min": 1010},
        {"name": "B", "min": 990},
        {"name": "C", "min": 960},
        {"name": "D", "min": 0},
    ]
    measures = {
        "discount": ({"trigger_lists": ["red"]}, "person", 12.0, 4.0),
        "loan": ({"trigger_grades": ["C"]}, "both", 2.0, 1.0),
    }
    sc = minimal(
        days=days,
        behaviours=IDLE,
        population={"regions": REGIONS, "locality_size": 4096},
        score={"start": 1000, "min": 0, "max": 2000, "grades": grades},
        red_list={"min_grade": "B"},
        initial={"score_sd": sd},
        rewards=[
            {"name": name, **trigger, "target": target, "per_year_urban": u, "per_year_rural": r}
            for name, (trigger, target, u, r) in measures.items()
        ],
        sanctions=[{"name": "internet", "trigger_grades": ["D"], "per_year_urban": 1.0}],
    )
    res, sim = run(sc, n_agents=40_000)
    n = sim.population.n_scored
    z_b, z_c = (990 - 0.5 - 1000) / sd, (960 - 0.5 - 1000) / sd
    for metric, item, p in (
        ("red_listed", None, 1 - normal_cdf(z_b)),
        ("grade_holders", "C", normal_cdf(z_b) - normal_cdf(z_c)),
        ("grade_holders", "D", normal_cdf(z_c)),
        ("sanctioned_people", "internet", normal_cdf(z_c)),
    ):
        held = res.series(metric, item).to_numpy()
        assert (held == held[0]).all(), metric  # nothing moves
        assert abs(held[0] - n * p) < Z * np.sqrt(n * p * (1 - p)), (metric, item, held[0], n * p)
    red = res.series("red_listed")
    assert (red == res.series("grade_holders", "A") + res.series("grade_holders", "B")).all()
    assert (res.series("rewarded_people", "discount") == red).all()
    assert (res.series("rewarded_people", "loan") == res.series("grade_holders", "C")).all()
    for region, column in (("Town", 2), ("Country", 3)):
        for name, spec in measures.items():
            units = res.series("rewarded_people", name, region=region)
            if spec[1] == "both":
                units = units + res.series("rewarded_children", name, region=region)
            expected = units.sum() * spec[column] / 365
            got = total(res, "reward_uses", item=name, region=region)
            assert abs(got - expected) < Z * np.sqrt(expected), (region, name, got, expected)
    assert total(res, "rewarded_children", item="loan") > 0
    assert total(res, "reward_uses", truth="wrongful") == 0
