"""The synthetic population: regions, localities, age bands, propensities, households."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numba as nb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from socialcreditsim import load_scenario
from socialcreditsim.draws import SMALL_MEAN, binomial, multinomial
from socialcreditsim.population import (
    Population,
    build_population,
    children_count,
    propensity_class_means,
)
from socialcreditsim.rng import new_stream

Z = 5.0  # sigmas allowed for multinomial draws
# Chi-square tests: under the null hypothesis (the draws follow the exact distribution), Pearson's
# statistic over cells of expected count >= 5 (rarer values pooled into one cell) is chi-square
# with cells - 1 degrees of freedom; a case fails when its tail probability is below ALPHA, so a
# correct generator fails one case with probability 1e-6 (the streams are seeded, so a run that
# passes always passes).
ALPHA = 1e-6


def chi2_tail(observed: dict[Any, int], expected: dict[Any, float]) -> tuple[float, int]:
    """Pearson's statistic's tail probability and the degrees of freedom, for ``observed``
    counts by value against ``expected`` counts by value (every value of the support, so their
    total is the number of draws); values expected fewer than 5 times are pooled into one cell,
    and an observed value outside ``expected`` counts against the pooled cell."""
    big = [k for k, e in expected.items() if e >= 5]
    obs = [observed.get(k, 0) for k in big]
    exp = [expected[k] for k in big]
    n = sum(observed.values())
    rest_o, rest_e = n - sum(obs), sum(expected.values()) - sum(exp)
    if rest_e > 0 or rest_o > 0:
        obs.append(rest_o)
        exp.append(max(rest_e, 1e-12))
    o, e = np.asarray(obs, dtype=float), np.asarray(exp)
    chi2 = float(((o - e) ** 2 / e).sum())
    df = len(o) - 1
    return float(stats.chi2.sf(chi2, df)), df


def by_value(x: np.ndarray) -> dict[int, int]:
    values, counts = np.unique(x, return_counts=True)
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


def binomial_expected(n: int, p: float, draws: int) -> dict[int, float]:
    k = np.arange(n + 1)
    return dict(zip(k.tolist(), (draws * stats.binom.pmf(k, n, p)).tolist(), strict=True))


def population(n_agents: int, seed: int = 1, **pop: Any) -> tuple[Any, Population]:
    groups = pop.pop("groups", [])
    sc = load_scenario({"population": pop, "groups": groups})
    return sc, build_population(sc, n_agents, seed)


def loc_sizes(p: Population) -> np.ndarray:
    return np.diff(np.append(p.loc_start, p.n_agents))


def children_per_scored(p: Population) -> list[np.ndarray]:
    """children_count of every scored person, locality by locality."""
    out = []
    for i in range(p.n_localities):
        out.append(
            np.array(
                [
                    children_count(
                        off,
                        int(p.loc_children[i]),
                        int(p.loc_adults[i]),
                        int(p.loc_parents[i]),
                        int(p.loc_stride_inv[i]),
                    )
                    for off in range(int(p.loc_scored[i]))
                ],
                dtype=np.int64,
            )
        )
    return out


pop_params = st.fixed_dictionaries(
    {
        "locality_size": st.sampled_from([64, 100, 257, 1024, 16384]),
        "child_share": st.floats(0.0, 0.45),
        "senior_share": st.floats(0.0, 0.45),
        "children_per_parent": st.floats(1.0, 3.0),
        "propensity_classes": st.integers(1, 10),
        "prosocial_classes": st.integers(1, 5),
        "propensity_shape": st.floats(0.3, 5.0),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(pp=pop_params, n_agents=st.integers(1, 60_000), seed=st.integers(0, 2**32))
def test_layout(pp: dict[str, Any], n_agents: int, seed: int) -> None:
    sc, p = population(n_agents, seed, **pp)
    names, shares, urban = sc.region_table()
    sizes = loc_sizes(p)
    L = sc.population.locality_size

    # every agent is in exactly one locality, localities are contiguous and not too big
    assert sizes.sum() == n_agents
    assert (sizes >= 1).all() and (sizes <= L).all()
    assert p.loc_start[0] == 0 and (np.diff(p.loc_start) == sizes[:-1]).all()
    assert (p.loc_children + p.loc_scored == sizes).all()
    assert (p.loc_adults <= p.loc_scored).all() and (p.loc_adults >= 0).all()

    # each locality is in one region and is urban or rural; region by region, urban first
    assert p.loc_urban.dtype == bool
    assert (np.diff(p.loc_region.astype(int)) >= 0).all()
    for r in range(len(names)):
        u = p.loc_urban[p.loc_region == r]
        assert (np.diff(u.astype(int)) <= 0).all(), "urban localities come before rural ones"
        # at most one incomplete locality per urban or rural part of a region
        for part in (True, False):
            s = sizes[(p.loc_region == r) & (p.loc_urban == part)]
            assert (s[:-1] == L).all()

    # region shares and urban shares follow the census within rounding
    per_region = np.bincount(p.loc_region, weights=sizes, minlength=len(names))
    assert per_region.sum() == n_agents
    assert np.all(np.abs(per_region - n_agents * np.asarray(shares)) < 1 + 1e-9)
    per_urban = np.bincount(p.loc_region, weights=sizes * p.loc_urban, minlength=len(names))
    assert np.all(np.abs(per_urban - per_region * np.asarray(urban)) <= 0.5 + 1e-9)

    # blocks: a partition of each locality's scored people, adults first
    half = p.n_blocks // 2
    assert p.blocks.shape == (p.n_localities, p.n_blocks + 1)
    assert (p.blocks[:, 0] == 0).all() and (p.blocks[:, -1] == p.loc_scored).all()
    assert (np.diff(p.blocks, axis=1) >= 0).all()
    assert (p.blocks[:, half] == p.loc_adults).all()
    assert (p.block_age[:half] == 0).all() and (p.block_age[half:] == 1).all()
    assert np.isclose(p.r_values.mean(), 1.0) and np.isclose(p.p_values.mean(), 1.0)
    assert len(p.r_values) == pp["propensity_classes"]
    assert len(p.p_values) == pp["prosocial_classes"]


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(pp=pop_params, n_agents=st.integers(1, 20_000), seed=st.integers(0, 2**32))
def test_every_child_has_one_adult_parent(pp: dict[str, Any], n_agents: int, seed: int) -> None:
    """Children are linked to parents by arithmetic: the children counts of a locality's scored
    people add up to its children, and only adults (not seniors) have children."""
    _, p = population(n_agents, seed, **pp)
    per_scored = children_per_scored(p)
    for i, kids in enumerate(per_scored):
        a = int(p.loc_adults[i])
        assert (kids >= 0).all()
        assert (kids[a:] == 0).all(), f"locality {i}: a senior has children"
        assert kids.sum() == p.loc_children[i], (
            f"locality {i}: {p.loc_children[i]} children, {a} adults, "
            f"{p.loc_scored[i] - a} seniors, but {kids.sum()} children have a parent"
        )
        assert (kids > 0).sum() == min(p.loc_parents[i], p.loc_children[i])


def test_no_orphans_in_a_national_population() -> None:
    """The last locality of a region's urban or rural part can be tiny; its children still need
    a parent. (National scenario, N = 1,278,575, seed 1: one locality of a single child.)"""
    p = build_population(load_scenario("national"), 1_278_575, 1)
    orphaned = (p.loc_children > 0) & (p.loc_parents == 0)
    assert not orphaned.any(), (
        f"{int(p.loc_children[orphaned].sum())} children in {int(orphaned.sum())} localities "
        "without adults have no parent"
    )


def test_households_national() -> None:
    """The built-in national scenario: parents have about children_per_parent children."""
    sc, p = population(200_000, 3)
    per_scored = np.concatenate(children_per_scored(p))
    assert per_scored.sum() == p.n_children
    parents = per_scored[per_scored > 0]
    assert abs(parents.mean() - sc.population.children_per_parent) < 0.05
    assert parents.max() - parents.min() <= 1  # children are spread evenly over parents


def test_age_shares_near_the_scenario() -> None:
    for child, senior, seed in ((0.21, 0.187, 1), (0.05, 0.4, 2), (0.3, 0.0, 3)):
        sc, p = population(
            300_000, seed, child_share=child, senior_share=senior, locality_size=4096
        )
        n = p.n_agents
        seniors = int(p.loc_scored.sum() - p.loc_adults.sum())
        for got, share in ((p.n_children, child), (seniors, senior)):
            sigma = math.sqrt(n * share * (1 - share))
            assert abs(got - n * share) <= Z * sigma + 1, (got, n * share)
        # and locality by locality (each is one multinomial draw)
        sizes = loc_sizes(p)
        sd = np.sqrt(sizes * child * (1 - child))
        assert (np.abs(p.loc_children - sizes * child) <= Z * sd + 1).all()


def test_propensity_class_means() -> None:
    for shape in (0.5, 1.0, 2.0, 7.0):
        for k in (1, 2, 4, 8, 16):
            m = propensity_class_means(shape, k)
            assert len(m) == k
            assert m.mean() == pytest.approx(1.0, abs=1e-12)
            assert (np.diff(m) > 0).all()  # classes are ordered by propensity
            assert (m > 0).all()
    # gamma(shape=1) octiles in closed form: the top bin's mean is E[X | X > ln 8] = 1 + ln 8,
    # the bottom one's 8 E[X; X < ln 8/7] = 1 - 7 ln(8/7). The trapezoid rule on 400,001
    # log-spaced points is off by 2.5e-6 and 4.5e-8 relative (measured): 1e-5 leaves room for
    # that and nothing else
    m = propensity_class_means(1.0, 8)
    assert m[-1] == pytest.approx(1 + math.log(8), rel=1e-5)
    assert m[0] == pytest.approx(1 - 7 * math.log(8 / 7), rel=1e-5)
    # computed once a process, handed out as a new array each time: an edit stays the caller's
    m[:] = 0.0
    assert propensity_class_means(1.0, 8)[-1] == pytest.approx(1 + math.log(8), rel=1e-5)


def test_population_is_deterministic() -> None:
    _, a = population(50_000, 9)
    _, b = population(50_000, 9)
    _, c = population(50_000, 10)
    for f in ("loc_children", "loc_scored", "loc_adults", "blocks"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.blocks, c.blocks)


def test_groups_take_their_share_of_adults() -> None:
    groups = [{"name": "journalists", "share": 0.05}, {"name": "petitioners", "share": 0.1}]
    sc, p = population(200_000, 4, groups=groups)
    counts = np.diff(p.blocks, axis=1).sum(axis=0)
    n = counts.sum()
    for g, share in ((1, 0.05), (2, 0.1)):
        got = counts[p.block_group == g].sum()
        assert abs(got - n * share) <= Z * math.sqrt(n * share * (1 - share))


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    n_agents=st.integers(1, 50_000),
    seed=st.integers(0, 1000),
    locality_size=st.sampled_from([64, 333, 16384]),
)
def test_person_scored_round_trip(n_agents: int, seed: int, locality_size: int) -> None:
    _, p = population(n_agents, seed, locality_size=locality_size)
    scored = np.arange(p.n_scored)
    persons = p.person_of_scored(scored)
    assert (np.diff(persons) > 0).all() and persons.max(initial=-1) < n_agents
    rng = np.random.default_rng(seed)
    for a in rng.choice(p.n_scored, size=min(200, p.n_scored), replace=False):
        assert p.scored_index(int(persons[a])) == a
    # children are exactly the persons that are not scored
    children = np.setdiff1d(np.arange(n_agents), persons)
    assert len(children) == p.n_children
    for c in rng.choice(children, size=min(100, len(children)), replace=False):
        assert p.scored_index(int(c)) is None
    # describe_scored agrees with the layout
    for a in rng.choice(p.n_scored, size=min(50, p.n_scored), replace=False):
        d = p.describe_scored(int(a))
        loc = d["locality"]
        assert p.loc_scored_start[loc] <= a < p.loc_scored_start[loc] + p.loc_scored[loc]
        assert p.region_names[p.loc_region[loc]] == d["region"]
        off = int(a - p.loc_scored_start[loc])
        assert d["age_band"] == ("adult" if off < p.loc_adults[loc] else "senior")


# ------------------------------------------------------------------ exact draws (draws.py)


@nb.njit
def _binomials(seed: int, n: int, p: float, size: int) -> np.ndarray:
    state = new_stream(seed, 0, 0, 0)
    out = np.empty(size, dtype=np.int64)
    for i in range(size):
        out[i] = binomial(state, n, p)
    return out


@nb.njit
def _multinomials(seed: int, n: int, weights: np.ndarray, size: int) -> np.ndarray:
    state = new_stream(seed, 0, 0, 0)
    out = np.empty((size, len(weights)), dtype=np.int64)
    for i in range(size):
        multinomial(state, n, weights, out[i])
    return out


# both methods (search from 0 below a mean of SMALL_MEAN, from the mode above), each side of the
# switch, p above 1/2 (drawn as n minus a draw at 1 - p), tiny p, n = 1, and the sizes of a
# national locality's age bands (65,536 at 0.21) and of its blocks (40,000 at 0.028)
BINOMIAL_CASES = [
    (1, 0.5),
    (10, 0.3),
    (7, 1e-9),
    (1000, 0.0299),
    (300, 0.93),
    (1000, 0.0301),
    (5000, 0.7),
    (40000, 0.028),
    (65536, 0.21),
]


@pytest.mark.parametrize(("n", "p"), BINOMIAL_CASES)
def test_binomial_is_exact(n: int, p: float) -> None:
    """200,000 draws against the exact Bin(n, p) probabilities (chi-square, ALPHA above)."""
    draws = 200_000
    x = _binomials(n, n, p, draws)
    assert x.min() >= 0 and x.max() <= n
    tail, df = chi2_tail(by_value(x), binomial_expected(n, p, draws))
    assert tail > ALPHA, (n, p, tail, df)
    # and the mean: within Z standard errors sqrt(n p q / draws)
    assert abs(x.mean() - n * p) < Z * math.sqrt(n * p * (1 - p) / draws) + 1e-12
    small = BINOMIAL_CASES.index((n, p)) < 5  # the first five search from 0, the rest the mode
    assert (n * min(p, 1 - p) < SMALL_MEAN) == small


def test_binomial_edges() -> None:
    state = new_stream(1, 2, 3, 4)
    assert binomial(state, 0, 0.5) == 0 and binomial(state, 5, 0.0) == 0
    assert binomial(state, 5, 1.0) == 5 and binomial(state, -1, 0.5) == 0


def test_multinomial_is_exact_jointly() -> None:
    """The joint law of sequential binomials: 100,000 draws of 8 over unnormalised weights
    (2, 0, 5, 3) against every composition's multinomial probability (chi-square, ALPHA above);
    the zero weight never gets anybody."""
    draws, n = 100_000, 8
    weights = np.array([2.0, 0.0, 5.0, 3.0])
    x = _multinomials(5, n, weights, draws)
    assert (x.sum(axis=1) == n).all() and (x[:, 1] == 0).all()
    p = weights / weights.sum()
    expected = {
        c: draws * float(stats.multinomial.pmf(c, n, p))
        for c in itertools.product(range(n + 1), repeat=4)
        if sum(c) == n and c[1] == 0
    }
    observed: dict[Any, int] = {}
    for row in map(tuple, x.tolist()):
        observed[row] = observed.get(row, 0) + 1
    tail, df = chi2_tail(observed, expected)
    assert df >= 30 and tail > ALPHA, (tail, df)


def test_population_counts_follow_their_multinomial() -> None:
    """Each locality's children, seniors and block counts: a multinomial of its size over the
    age shares, then of its adults (seniors) over the block weights, so a count of one kind in a
    locality is Bin(size, share of that kind): the age share times the block's share of its age
    band. Checked on the ~20,000 full localities of 64 (chi-square each, ALPHA above). The
    tiny-locality rule (a child becomes the parent when no adult is drawn) acts with probability
    (1 - 0.603)^64 ~ 1e-26 here, so it is left out of the expectation."""
    size, n_loc = 64, 20_000
    groups = [{"name": "g", "share": 0.1}]
    sc, p = population(
        size * n_loc,
        7,
        locality_size=size,
        child_share=0.21,
        senior_share=0.187,
        propensity_classes=2,
        prosocial_classes=1,
        groups=groups,
    )
    full = loc_sizes(p) == size  # but the last locality of each region's urban or rural part
    n_full = int(full.sum())
    assert n_full > 0.99 * n_loc
    half = p.n_blocks // 2
    in_band = np.array([0.9, 0.9, 0.1, 0.1]) / 2  # group weight / classes, within a band
    assert half == 4
    counts = np.diff(p.blocks, axis=1)[full]
    kinds = [(p.loc_children[full], 0.21), ((p.loc_scored - p.loc_adults)[full], 0.187)]
    adult = 1 - 0.21 - 0.187
    kinds += [(counts[:, b], adult * in_band[b]) for b in range(half)]
    kinds += [(counts[:, half + b], 0.187 * in_band[b]) for b in range(half)]
    for j, (got, share) in enumerate(kinds):
        tail, df = chi2_tail(by_value(got), binomial_expected(size, share, n_full))
        assert tail > ALPHA, (j, share, tail, df)


def test_population_uses_no_numpy_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every draw comes from the project's own streams (rng.py), so the layout does not depend
    on NumPy's version: building a population with NumPy's generators disabled still works."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a NumPy random generator was used")

    for name in ("default_rng", "Generator", "RandomState", "SeedSequence", "seed"):
        monkeypatch.setattr(np.random, name, refuse)
    p = build_population(load_scenario("national"), 300_000, 5)
    assert p.n_scored > 0
