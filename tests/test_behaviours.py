"""Behaviours: rates, recording by thinning, deterrence, urban and rural multipliers, groups and
propensity (MODEL.md sections 2, 3 and 9).

Every expected value is computed in closed form from the scenario; every count compared with it
is Poisson or binomial, so each tolerance is Z standard errors of that distribution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimal import minimal, run, total
from socialcreditsim import behaviours
from socialcreditsim.population import propensity_class_means
from socialcreditsim.scenario import MAX_GROUPS

Z = 5.0


def snapshot_by(res, dimension: str) -> pd.DataFrame:
    """The last snapshot of one dimension: a row per category, a column per metric."""
    snap = res.snapshots
    last = snap[(snap["date"] == snap["date"].max()) & (snap["dimension"] == dimension)]
    return last.pivot_table(index="category", columns="metric", values="value", aggfunc="sum")


def recorded_by(res, dimension: str) -> pd.DataFrame:
    """People and recorded events per category of the last snapshot, for behaviours that take
    exactly one point per recorded event from a start of 1000 (no recovery, no bound reached):
    a category's recorded events are its people times its mean deficit below the start."""
    by = snapshot_by(res, dimension)
    people = by["people"].round().astype(np.int64)
    events = (people * (1000 - by["mean_score"])).round().astype(np.int64)
    return pd.DataFrame({"people": people, "events": events})


# ------------------------------------------------------------------------------ deterrence


@pytest.mark.parametrize(
    ("elasticity", "q"), [(0.0, 0.4), (0.5, 0.4), (1.5, 0.5), (2.0, 0.5), (2.5, 0.5)]
)
def test_deterrence(elasticity: float, q: float) -> None:
    """With elasticity e and constant recording probability q, the true rate is base x (1 - e q),
    floored at 0 (e q = 0, 0.2, 0.75; and e q = 1 and 1.25, where nobody does it at all: the
    perceived probability starts at the real one). True events are Poisson, so the tolerance is
    Z sqrt(expected); at e q >= 1 the count must be exactly 0."""
    base = 10.0
    beh = {
        "name": "offence",
        "channel": "records",
        "rate": base,
        "record_probability": q,
        "deterrence_elasticity": elasticity,
        "score_change": 0,
        "propensity": "none",
    }
    days = 120
    res, sim = run(minimal(days=days, behaviours=[beh]), n_agents=50_000)
    person_days = sim.population.n_scored * days
    expected = person_days * base / 365 * max(0.0, 1 - elasticity * q)
    true = total(res, "events_true")
    recorded = total(res, "events_recorded", truth="rightful")
    if expected == 0:
        assert true == 0 and recorded == 0
        return
    assert abs(true - expected) < Z * np.sqrt(expected)
    assert abs(recorded - q * expected) < Z * np.sqrt(q * expected)


def perceived_path(q: np.ndarray, lag: float) -> np.ndarray:
    """The perceived probability (docs/model.md 2.4): p_0 = q_0, p_t = p_(t-1) + (q_t -
    p_(t-1)) / lag."""
    p = np.empty(len(q))
    p[0] = q[0]
    for t in range(1, len(q)):
        p[t] = p[t - 1] + (q[t] - p[t - 1]) / lag
    return p


def test_perceived_probability_lags_the_real_one() -> None:
    """Monitoring jumps from 0 to 0.5 on day 32 (2020-02-02); the perceived probability follows
    with a lag of 30 days, so the rate falls along base x (1 - e p_t), not at once.

    Expected true events per window are the sums of n x base / 365 x (1 - e p_t), p_t from the
    recurrence; counts are Poisson: tolerance Z sqrt(expected). Days 32-39, right after the
    jump, expect 0.93 of the base rate (without a lag it would be 0.5: about 37 standard errors
    away); the last 50 days expect 0.50-0.51."""
    base, e, lag, days = 20.0, 1.0, 30, 200
    beh = {
        "name": "post",
        "channel": "online",
        "rate": base,
        "record_probability": [["2020-01-01", 0.0], ["2020-02-01", 0.0], ["2020-02-02", 0.5]],
        "deterrence_elasticity": e,
        "perception_lag_days": lag,
        "score_change": 0,
        "propensity": "none",
    }
    res, sim = run(minimal(days=days, behaviours=[beh]), n_agents=20_000)
    true = res.series("events_true").to_numpy()
    q = np.where(np.arange(days) >= 32, 0.5, 0.0)
    per_day = sim.population.n_scored * base / 365 * np.maximum(0, 1 - e * perceived_path(q, lag))
    for lo, hi in ((0, 32), (32, 40), (40, 100), (150, 200)):
        expected = per_day[lo:hi].sum()
        assert abs(true[lo:hi].sum() - expected) < Z * np.sqrt(expected), (lo, hi)


def test_deterrence_floors_at_zero_once_perception_catches_up() -> None:
    """e = 4 and q jumping from 0 to 0.5 on day 30: e q = 2. The perceived probability is
    p_t = 0.5 (1 - 0.9^(t - 29)) with a lag of 10 days, so 1 - e p_t reaches 0 on day 36
    (0.9^7 = 0.478 <= 0.5) and stays there: from day 36 on there are no true events at all
    (exact), while days 30-35 expect n x base / 365 x sum of (1 - 4 p_t) = 2.43 days' worth
    (Poisson, Z standard errors), and days 0-29 the full base rate."""
    base, e, lag, days, jump = 30.0, 4.0, 10, 80, 30
    beh = {
        "name": "protest",
        "channel": "online",
        "rate": base,
        "record_probability": [["2020-01-01", 0.0], ["2020-01-30", 0.0], ["2020-01-31", 0.5]],
        "deterrence_elasticity": e,
        "perception_lag_days": lag,
        "score_change": 0,
        "propensity": "none",
    }
    res, sim = run(minimal(days=days, behaviours=[beh]), n_agents=20_000)
    true = res.series("events_true").to_numpy()
    q = np.where(np.arange(days) >= jump, 0.5, 0.0)
    factor = np.maximum(0.0, 1 - e * perceived_path(q, lag))
    floored = int(np.argmax(factor == 0))
    assert floored == 36 and (factor[floored:] == 0).all()  # the closed form above
    per_day = sim.population.n_scored * base / 365 * factor
    for lo, hi in ((0, jump), (jump, floored)):
        expected = per_day[lo:hi].sum()
        assert abs(true[lo:hi].sum() - expected) < Z * np.sqrt(expected), (lo, hi)
    assert true[floored:].sum() == 0
    recorded = res.series("events_recorded").to_numpy()
    assert recorded[:jump].sum() == 0 and recorded[floored:].sum() == 0


# ------------------------------------------------------------------------------ where and who


def test_urban_and_rural_rate_multipliers() -> None:
    """A town (all urban), a countryside (all rural) and a mixed region (3/4 urban): true events
    per region are base x days / 365 x (urban people x 2 + rural people x 0.25), Poisson
    (tolerance Z sqrt(expected), 3-9%). Swapping the multipliers moves the town's and the
    countryside's counts by a factor of 8, the mixed region's by 2.3."""
    base, days, urban_mult, rural_mult = 10.0, 60, 2.0, 0.25
    beh = {
        "name": "littering",
        "channel": "records",
        "rate": base,
        "urban_multiplier": urban_mult,
        "rural_multiplier": rural_mult,
        "score_change": 0,
        "propensity": "none",
    }
    regions = [
        {"name": "Town", "share": 1.0, "urban_share": 1.0},
        {"name": "Country", "share": 1.0, "urban_share": 0.0},
        {"name": "Mixed", "share": 1.0, "urban_share": 0.75},
    ]
    sc = minimal(
        days=days, behaviours=[beh], population={"regions": regions, "locality_size": 1024}
    )
    res, sim = run(sc, n_agents=30_000)
    pop = sim.population
    for r, name in enumerate(pop.region_names):
        here = pop.loc_region == r
        urban = pop.loc_scored[here & pop.loc_urban].sum()
        rural = pop.loc_scored[here & ~pop.loc_urban].sum()
        expected = base * days / 365 * (urban * urban_mult + rural * rural_mult)
        got = total(res, "events_true", region=name)
        assert abs(got - expected) < Z * np.sqrt(expected), (name, got, expected)
    assert {"Town", "Country", "Mixed"} == set(pop.region_names)


GROUPS = [
    {"name": "watched", "share": 0.2, "record_multiplier": 2.0},
    {"name": "targeted", "share": 0.2, "rate_multipliers": {"post": 3.0}},
    {"name": "capped", "share": 0.1, "record_multiplier": 5.0},
    {"name": "accused", "share": 0.15, "court_listing_multiplier": 2.5},
]
# recorded posts per person-year: rate x rate multiplier x min(1, q x record multiplier)
POST_RATE, POST_Q = 20.0, 0.3
POST_RECORDED = {
    "general": POST_RATE * POST_Q,
    "watched": POST_RATE * min(1.0, POST_Q * 2.0),
    "targeted": 3.0 * POST_RATE * POST_Q,
    "capped": POST_RATE * min(1.0, POST_Q * 5.0),  # capped at 1, not 1.5
    "accused": POST_RATE * POST_Q,
}
# court records are all recorded (q = 1, so the record multipliers change nothing) and list the
# person with min(1, 0.2 x court listing multiplier)
JUDGMENT_RATE, LISTING = 2.0, 0.2
LISTED_PER_RECORD = {g: LISTING for g in POST_RECORDED} | {"accused": min(1.0, LISTING * 2.5)}


@pytest.fixture(scope="module")
def groups_run():
    days = 60
    behaviours = [
        {
            "name": "post",
            "channel": "records",
            "rate": POST_RATE,
            "record_probability": POST_Q,
            "score_change": -1,
            "propensity": "none",
        },
        {
            "name": "judgment",
            "channel": "court",
            "rate": JUDGMENT_RATE,
            "record_probability": 1.0,
            "listing_probability": LISTING,
            "score_change": 0,
            "propensity": "none",
        },
    ]
    sc = minimal(
        days=days,
        behaviours=behaviours,
        groups=GROUPS,
        court_list={"duration_days": 0, "compliance_per_year": 0.0},
    )
    res, _ = run(sc, n_agents=50_000)
    return res, days


def test_group_multipliers_on_rate_and_recording(groups_run) -> None:
    """Recorded posts per group (one point each, read off the group's mean score) are Poisson
    with mean people x days / 365 x rate x rate multiplier x min(1, q x record multiplier):
    0.3 of the rate for the general public, 0.6 for the watched (record x 2), 0.9 for the
    targeted (rate x 3), 1.0 for the capped (record x 5, capped at 1). Tolerance Z sqrt(mean),
    3-7% of each count; a missing multiplier or cap moves a group's count by half or more."""
    res, days = groups_run
    by = recorded_by(res, "group")
    assert set(by.index) == set(POST_RECORDED)
    for group, per_year in POST_RECORDED.items():
        expected = by.at[group, "people"] * days / 365 * per_year
        got = by.at[group, "events"]
        assert abs(got - expected) < Z * np.sqrt(expected), (group, got, expected)


def test_group_multiplier_on_court_listing(groups_run) -> None:
    """Listings never end here, so a person is listed at the end if at least one court record
    listed them: listing records are Poisson with rate 2 a year x the listing probability, so
    the listed share is 1 - exp(-2 x days / 365 x p): p = 0.2 (6.4%), and 0.5 for the accused
    (court listing multiplier 2.5: 15.2%). Listed people are binomial: tolerance Z sqrt(n p
    (1 - p))."""
    res, days = groups_run
    by = snapshot_by(res, "group")
    for group, p_list in LISTED_PER_RECORD.items():
        n = int(round(by.at[group, "people"]))
        share = -np.expm1(-JUDGMENT_RATE * days / 365 * p_list)
        listed = by.at[group, "share_court_listed"] * n
        assert abs(listed - n * share) < Z * np.sqrt(n * share * (1 - share)), (group, listed)


def test_propensity_moves_events_between_classes() -> None:
    """Rates scale with the rule-breaking class means (propensity_class_means: gamma of shape
    0.5 in 8 classes, 0.008 to 4.0). Each class's recorded events (one point each, read off the
    class's mean score) are Poisson with mean people x rate x days / 365 x class mean: tolerance
    Z sqrt(mean) per class (from 50% of the lowest class's ~80 events to 2% of the highest's).
    Without propensity the lowest class would have ~120 times its expected count and the
    highest a quarter of it.

    The total of true events is Poisson with mean rate x days / 365 x sum of people x class mean
    over the classes as drawn (class sizes are multinomial, so their mean is not exactly 1):
    tolerance Z sqrt(mean), no extra margin."""
    base, days, shape, classes = 10.0, 60, 0.5, 8
    beh = {"name": "offence", "channel": "records", "rate": base, "score_change": -1}
    sc = minimal(
        days=days,
        behaviours=[beh],
        population={"propensity_classes": classes, "propensity_shape": shape},
    )
    res, _ = run(sc, n_agents=60_000)
    means = propensity_class_means(shape, classes)
    by = recorded_by(res, "propensity")  # categories "class c of 8 (mean ...)"
    number = {name: int(name.split()[1]) for name in by.index}
    names = sorted(by.index, key=number.get)
    assert [number[n] for n in names] == list(range(1, classes + 1))
    weighted = 0.0
    for name, mean in zip(names, means, strict=True):
        people = by.at[name, "people"]
        expected = people * base * days / 365 * mean
        got = by.at[name, "events"]
        assert abs(got - expected) < Z * np.sqrt(max(expected, 1.0)), (name, got, expected)
        weighted += people * mean
    expected = weighted * base * days / 365
    assert abs(total(res, "events_true") - expected) < Z * np.sqrt(expected)


# ------------------------------------------------------------- awareness and chilling (MODEL 10)


def _offence(rate: float, q: float, e: float, **more: object) -> dict:
    return {
        "name": "offence",
        "channel": "records",
        "rate": rate,
        "record_probability": q,
        "deterrence_elasticity": e,
        "score_change": 0,
        "propensity": "none",
        **more,
    }


def _lawful(name: str, rate: float, **more: object) -> dict:
    """Lawful posts, chilled by a scored behaviour named 'rumours'."""
    return {
        "name": name,
        "channel": "online",
        "rate": rate,
        "record_probability": 0.0,
        "score_change": 0,
        "chilled_by": "rumours",
        **more,
    }


@pytest.mark.parametrize(("k", "e", "q"), [(0.0, 1.5, 0.4), (0.3, 1.5, 0.4), (0.7, 2.5, 0.5)])
def test_deterrence_acts_only_on_those_who_know(k: float, e: float, q: float) -> None:
    """With awareness k the mean rate is base x (1 - k e q), floored per person who knows
    (1 - k min(1, e q)); the events deterrence prevents are Poisson with the rest."""
    base, days = 10.0, 120
    res, sim = run(minimal(days=days, behaviours=[_offence(base, q, e, awareness=k)]), 50_000)
    person_days = sim.population.n_scored * days * base / 365
    response = min(1.0, e * q)
    expected = person_days * (1 - k * response)
    deterred = person_days * k * response
    assert abs(total(res, "events_true") - expected) < Z * np.sqrt(expected)
    if deterred == 0:
        assert total(res, "events_deterred") == 0
    else:
        assert abs(total(res, "events_deterred") - deterred) < Z * np.sqrt(deterred)


def test_group_awareness_and_publication() -> None:
    """A group that does not know (awareness multiplier 0) is not deterred; publishing the
    rules on a date raises everybody else's awareness from then on: day by day, the true
    events follow base x [(1 - s) (1 - k_t e q) + s], with k_t = 0.2 before and 0.9 after."""
    base, e, q, share, days = 20.0, 1.0, 0.5, 0.3, 100
    scenario = minimal(
        days=days,
        behaviours=[_offence(base, q, e, awareness=0.2)],
        groups=[{"name": "unaware", "share": share, "awareness_multipliers": {"offence": 0.0}}],
        rules={"published": "2020-02-20", "awareness_when_published": 0.9},
    )
    res, sim = run(scenario, 50_000)
    daily = res.series("events_true").to_numpy()
    published = 50  # 2020-02-20 is day 50
    pop = sim.population
    in_group = int(np.diff(pop.blocks, axis=1)[:, pop.block_group == 1].sum())
    n = pop.n_scored
    for lo, hi, k in ((0, published, 0.2), (published, days, 0.9)):
        expected = (hi - lo) * base / 365 * ((n - in_group) * (1 - k * e * q) + in_group)
        got = daily[lo:hi].sum()
        assert abs(got - expected) < Z * np.sqrt(expected), (k, got, expected)


def test_chilling_of_lawful_behaviour() -> None:
    """A lawful behaviour chilled by a scored one with awareness k, chilling elasticity c and
    recording probability q of the scored one: its rate is base x (1 - k c q), never recorded,
    and the acts forgone are counted."""
    k, c, q, base, days = 0.6, 1.2, 0.5, 30.0, 90
    posts = _lawful("lawful_posts", base, propensity="none", chilling_elasticity=c)
    rumours = _offence(1.0, q, 0.0, name="rumours", awareness=k, score_change=-1)
    res, sim = run(minimal(days=days, behaviours=[rumours, posts]), 50_000)
    person_days = sim.population.n_scored * days * base / 365
    expected, forgone = person_days * (1 - k * c * q), person_days * k * c * q
    assert abs(total(res, "events_true", item="lawful_posts") - expected) < Z * np.sqrt(expected)
    assert abs(total(res, "events_deterred", item="lawful_posts") - forgone) < Z * np.sqrt(forgone)
    assert total(res, "events_recorded", item="lawful_posts") == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("score_change", -1, "is lawful"),
        ("record_probability", 0.5, "is lawful"),
        ("chilled_by", "nothing", "not a scored behaviour"),
    ],
)
def test_a_chilled_behaviour_must_be_lawful(field: str, value: object, message: str) -> None:
    import socialcreditsim as scs

    posts = _lawful("posts", 1.0, chilling_elasticity=1.0, **{field: value})
    with pytest.raises(scs.ScenarioError, match=message):
        scs.load_scenario(minimal(behaviours=[_offence(1.0, 0.5, 0.0, name="rumours"), posts]))


def test_a_chilled_behaviour_borrows_awareness_from_its_neighbour() -> None:
    import socialcreditsim as scs

    posts = _lawful("posts", 1.0, awareness=0.5)
    with pytest.raises(scs.ScenarioError, match="set awareness there"):
        scs.load_scenario(minimal(behaviours=[_offence(1.0, 0.5, 0.0, name="rumours"), posts]))
    groups = [{"name": "g", "share": 0.1, "awareness_multipliers": {"posts": 0.5}}]
    del posts["awareness"]
    with pytest.raises(scs.ScenarioError, match="chilled behaviours, which follow"):
        scs.load_scenario(
            minimal(behaviours=[_offence(1.0, 0.5, 0.0, name="rumours"), posts], groups=groups)
        )


# ------------------------------------------------------------------------------ the day tables


@given(st.lists(st.floats(0.0, 1e6, allow_subnormal=False), min_size=1, max_size=MAX_GROUPS + 1))
@settings(max_examples=300, deadline=None)
def test_the_sum_over_groups_is_numpys_to_the_bit(x: list[float]) -> None:
    """The day tables add a rate over groups (at most MAX_GROUPS and the general population) in
    the order NumPy's ``sum`` of the (L, B, G) arrays they replaced did: event rates, and so the
    random draws, are the same as before."""
    a = np.array(x)
    assert behaviours._group_sum(a) == a[None, None, :].sum(axis=2)[0, 0]


@pytest.mark.parametrize("appeals", [False, True])
def test_day_tables_filled_day_after_day_are_the_fresh_ones(appeals: bool) -> None:
    """A run fills the same tables every day (``out``); each day's are those of a model that
    makes new ones, to the bit, with the awareness tables of appeals or without; tables made
    without them cannot take them."""
    import datetime as dt

    import socialcreditsim as scs
    from socialcreditsim.engine import build_population

    sc = scs.load_scenario("national", ["population.locality_size=4096"])
    pop = build_population(sc, 50_000, 3)
    days = [sc.time.start + dt.timedelta(days=t) for t in range(90)]
    fresh, filled = (behaviours.BehaviourModel(sc, pop, days, 3) for _ in range(2))
    out = filled.empty_tables(appeals)
    for t in range(len(days)):
        want = fresh.day_tables(t, appeals)
        assert filled.day_tables(t, appeals, out) is out
        for name, a, b in zip(want._fields, want, out, strict=True):
            assert a.shape == b.shape and np.array_equal(a, b), (t, name)
    if not appeals:
        with pytest.raises(ValueError, match="empty_tables"):
            filled.day_tables(90, True, out)
