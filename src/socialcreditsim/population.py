"""The synthetic population: regions, localities, age bands, groups, propensities, households.

No per-agent attribute array is stored here. Agents are laid out in order, so every attribute is
implied by position (MODEL.md section 2):

- regions are cut into an urban and a rural part, each cut into localities of
  ``locality_size`` agents (the last one of a part may be smaller);
- inside a locality come first its children, then its scored people (adults, then seniors);
- scored people are sorted into *blocks* by (age band, group, rule-breaking class, pro-social
  class), so a block is a contiguous range of people with the same rates;
- children are linked to parents (adults of the same locality) by an arithmetic rule, so a
  person's children and a child's parent are found in O(1) without a household array.

Person ids are positions in this order (0 .. N-1). Only scored people have state arrays
(``engine.State``), indexed by *scored index*.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .draws import multinomial
from .jit import nb
from .rng import new_stream
from .scenario import Scenario

__all__ = ["Population", "build_population", "propensity_class_means"]

AGE_ADULT, AGE_SENIOR = 0, 1

# the population's random stream: one per locality, on a day and purpose no kernel uses
# (kernels.py: purposes 0-3, day -1 for the state at the start)
POP_DAY, P_POPULATION = -2, 10


def propensity_class_means(shape: float, classes: int) -> np.ndarray:
    """Mean of a gamma(shape, mean 1) propensity inside each of ``classes`` equal-probability bins.

    Integrated numerically on a fine logarithmic grid (deterministic), then rescaled so the
    class means average exactly 1. Computed once a process for each shape and number of classes
    (14 to 40 ms a call, two calls a population).
    """
    return np.array(_class_means(float(shape), int(classes)))


@functools.lru_cache(maxsize=32)
def _class_means(shape: float, classes: int) -> tuple[float, ...]:
    if classes == 1:
        return (1.0,)
    u = np.linspace(np.log(1e-300), np.log(1 + 80 / np.sqrt(shape)), 400_001)
    x = np.exp(u)
    dens = np.exp(shape * np.log(shape) + shape * u - shape * x - math.lgamma(shape))  # pdf * x
    du = u[1] - u[0]
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2) * du])
    mass = np.concatenate([[0.0], np.cumsum((dens[1:] * x[1:] + dens[:-1] * x[:-1]) / 2) * du])
    cdf /= cdf[-1]
    edges = np.interp(np.linspace(0, 1, classes + 1), cdf, mass)
    means = np.diff(edges) * classes
    return tuple((means / means.mean()).tolist())


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder rounding of ``total`` by ``weights`` (deterministic, exact sum)."""
    exact = total * weights / weights.sum()
    base = np.floor(exact).astype(np.int64)
    rest = total - int(base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:rest]] += 1
    return base


def _coprime_stride(n: int) -> int:
    s = max(1, int(n * 0.6180339887)) | 1
    while math.gcd(s, n) != 1:
        s += 2
    return s % n if n > 1 else 0


@dataclass(frozen=True)
class Population:
    """Where everybody is, by locality, and what their block says about them."""

    n_agents: int
    scale: float  # people represented by one agent (P / N)
    region_names: list[str]
    # per locality
    loc_region: np.ndarray  # int16
    loc_urban: np.ndarray  # bool
    loc_start: np.ndarray  # int64 person id of the first person
    loc_children: np.ndarray  # int32
    loc_scored_start: np.ndarray  # int64 scored index of the first scored person
    loc_scored: np.ndarray  # int32
    loc_adults: np.ndarray  # int32 (non-senior scored people; parents come from these)
    loc_parents: np.ndarray  # int32 number of adults with children
    loc_stride: np.ndarray  # int64 parent permutation stride (coprime to loc_adults)
    loc_stride_inv: np.ndarray  # int64 its inverse modulo loc_adults
    blocks: np.ndarray  # int32 (n_loc, n_blocks + 1) block offsets inside the scored range
    # per block
    block_age: np.ndarray  # int8: 0 adult, 1 senior
    block_group: np.ndarray  # int8: 0 none, g + 1 for scenario group g
    block_rclass: np.ndarray  # int8
    block_pclass: np.ndarray  # int8
    r_values: np.ndarray  # float64 rule-breaking propensity per class
    p_values: np.ndarray  # float64 pro-social propensity per class

    @property
    def n_localities(self) -> int:
        return len(self.loc_region)

    @property
    def n_scored(self) -> int:
        return int(self.loc_scored.sum())

    @property
    def n_children(self) -> int:
        return int(self.loc_children.sum())

    @property
    def n_blocks(self) -> int:
        return len(self.block_age)

    def locality_of_person(self, person: np.ndarray | int) -> np.ndarray:
        return np.searchsorted(self.loc_start, person, side="right") - 1

    def scored_index(self, person: int) -> int | None:
        """Scored index of a person id, or None for a child."""
        loc = int(self.locality_of_person(person))
        off = person - int(self.loc_start[loc]) - int(self.loc_children[loc])
        return None if off < 0 else int(self.loc_scored_start[loc]) + off

    def person_of_scored(self, scored: np.ndarray) -> np.ndarray:
        scored = np.asarray(scored, dtype=np.int64)
        loc = np.searchsorted(self.loc_scored_start, scored, side="right") - 1
        return self.loc_start[loc] + self.loc_children[loc] + (scored - self.loc_scored_start[loc])

    def describe(self, scored: np.ndarray) -> dict[str, np.ndarray]:
        """Attributes of scored people, read off the layout (vectorised)."""
        scored = np.asarray(scored, dtype=np.int64)
        loc = np.searchsorted(self.loc_scored_start, scored, side="right") - 1
        off = scored - self.loc_scored_start[loc]
        b = (self.blocks[loc] <= off[:, None]).sum(axis=1) - 1
        adults = self.loc_adults[loc].astype(np.int64)
        parents = self.loc_parents[loc].astype(np.int64)
        kids = self.loc_children[loc].astype(np.int64)
        slot = (off * self.loc_stride_inv[loc]) % np.maximum(adults, 1)
        has = (off < adults) & (slot < parents)
        safe = np.maximum(parents, 1)
        n_kids = -(-(slot + 1) * kids // safe) - -(-slot * kids // safe)
        return {
            "locality": loc,
            "region": np.array(self.region_names, dtype=object)[self.loc_region[loc]],
            "urban": self.loc_urban[loc],
            "age_band": np.where(self.block_age[b] == AGE_ADULT, "adult", "senior"),
            "group_index": self.block_group[b].astype(np.int64),
            "propensity_class": self.block_rclass[b].astype(np.int64),
            "rule_breaking_propensity": self.r_values[self.block_rclass[b]],
            "children": np.where(has, n_kids, 0),
        }

    def describe_scored(self, scored: int) -> dict[str, object]:
        """Attributes of one scored person."""
        one = self.describe(np.array([scored]))
        return {k: v[0].item() if isinstance(v[0], np.generic) else v[0] for k, v in one.items()}


@nb.njit(cache=True)
def children_count(
    offset: int, n_children: int, n_adults: int, n_parents: int, stride_inv: int
) -> int:
    """Number of children of the scored person at ``offset`` in its locality (0 for seniors)."""
    if offset >= n_adults or n_parents == 0:
        return 0
    slot = (offset * stride_inv) % n_adults
    if slot >= n_parents:
        return 0
    lo = -(-slot * n_children // n_parents)
    hi = -(-(slot + 1) * n_children // n_parents)
    return hi - lo


@nb.njit(cache=True)
def _draw_localities(
    seed: int,
    sizes: np.ndarray,
    age_p: np.ndarray,
    adult_w: np.ndarray,
    senior_w: np.ndarray,
    blocks: np.ndarray,
    children: np.ndarray,
    adults: np.ndarray,
    scored: np.ndarray,
) -> None:
    """Each locality's age bands, then its adults' and seniors' blocks: exact multinomial draws
    on the locality's own stream (seed, locality, day POP_DAY, purpose P_POPULATION), so the
    layout depends on nothing but the seed (not on NumPy, not on threads)."""
    ages = np.empty(3, dtype=np.int64)
    half = len(adult_w)
    counts = np.empty(2 * half, dtype=np.int64)
    for i in range(len(sizes)):
        state = new_stream(seed, i, POP_DAY, P_POPULATION)
        multinomial(state, sizes[i], age_p, ages)
        n_child, n_adult, n_senior = ages[0], ages[1], ages[2]
        if n_child and not n_adult:  # a tiny locality: somebody must be the parent
            n_child, n_adult = n_child - 1, 1
        multinomial(state, n_adult, adult_w, counts[:half])
        multinomial(state, n_senior, senior_w, counts[half:])
        total = 0
        for b in range(2 * half):
            total += counts[b]
            blocks[i, b + 1] = total
        children[i], adults[i], scored[i] = n_child, n_adult, n_adult + n_senior


def build_population(scenario: Scenario, n_agents: int, seed: int) -> Population:
    """Lay out ``n_agents`` agents for ``scenario``; the same (scenario, N, seed) gives the same."""
    pop = scenario.population
    names, shares, urban = scenario.region_table()
    per_region = _apportion(n_agents, np.asarray(shares))
    L = pop.locality_size
    loc_region, loc_urban, loc_size = [], [], []
    for r, n in enumerate(per_region):
        n_urban = int(round(n * urban[r]))
        for is_urban, part in ((True, n_urban), (False, int(n) - n_urban)):
            full, rest = divmod(part, L)
            sizes = [L] * full + ([rest] if rest else [])
            loc_region += [r] * len(sizes)
            loc_urban += [is_urban] * len(sizes)
            loc_size += sizes

    G = len(scenario.groups)
    Kr, Kp = pop.propensity_classes, pop.prosocial_classes
    group_w = np.array(
        [1 - sum(g.share for g in scenario.groups)] + [g.share for g in scenario.groups]
    )
    grid = np.indices((2, G + 1, Kr, Kp)).reshape(4, -1)
    block_w = group_w[grid[1]] / (Kr * Kp)  # within an age band
    n_blocks = grid.shape[1]

    n_loc = len(loc_size)
    blocks = np.zeros((n_loc, n_blocks + 1), dtype=np.int32)
    children = np.zeros(n_loc, dtype=np.int32)
    adults = np.zeros(n_loc, dtype=np.int32)
    scored = np.zeros(n_loc, dtype=np.int32)
    half = n_blocks // 2
    age_p = np.array([pop.child_share, 1 - pop.child_share - pop.senior_share, pop.senior_share])
    _draw_localities(
        seed,
        np.asarray(loc_size, dtype=np.int64),
        age_p,
        block_w[:half] / block_w[:half].sum(),
        block_w[half:] / block_w[half:].sum(),
        blocks,
        children,
        adults,
        scored,
    )

    parents = np.minimum(adults, np.ceil(children / pop.children_per_parent).astype(np.int32))
    stride = np.array([_coprime_stride(int(a)) for a in adults], dtype=np.int64)
    stride_inv = np.array(
        [pow(int(s), -1, int(a)) if a > 1 else 0 for s, a in zip(stride, adults, strict=True)],
        dtype=np.int64,
    )
    sizes = np.asarray(loc_size, dtype=np.int64)
    return Population(
        n_agents=n_agents,
        scale=pop.size / n_agents,
        region_names=names,
        loc_region=np.asarray(loc_region, dtype=np.int16),
        loc_urban=np.asarray(loc_urban, dtype=bool),
        loc_start=np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64),
        loc_children=children,
        loc_scored_start=np.concatenate([[0], np.cumsum(scored)[:-1]]).astype(np.int64),
        loc_scored=scored,
        loc_adults=adults,
        loc_parents=parents.astype(np.int32),
        loc_stride=stride,
        loc_stride_inv=stride_inv,
        blocks=blocks,
        block_age=grid[0].astype(np.int8),
        block_group=grid[1].astype(np.int8),
        block_rclass=grid[2].astype(np.int8),
        block_pclass=grid[3].astype(np.int8),
        r_values=propensity_class_means(pop.propensity_shape, Kr),
        p_values=propensity_class_means(pop.prosocial_shape, Kp),
    )
