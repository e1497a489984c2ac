"""The synthetic population: regions, localities, age bands, propensities, households."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcreditsim import load_scenario
from socialcreditsim.population import (
    Population,
    build_population,
    children_count,
    propensity_class_means,
)

Z = 5.0  # sigmas allowed for multinomial draws


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
    # the mean of a gamma(shape=1) top-octile bin: E[X | X > q_7/8] = 1 + ln 8
    m = propensity_class_means(1.0, 8)
    assert m[-1] == pytest.approx(1 + math.log(8), rel=0.01)


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
