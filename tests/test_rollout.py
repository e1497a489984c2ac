"""Rollout: the order in which localities join (a uniform shuffle on the project's streams) and
the day each locality joins (MODEL.md section 6)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import numpy as np
import pytest
from scipy import stats

from socialcreditsim import load_scenario
from socialcreditsim.population import build_population
from socialcreditsim.rollout import NOT_YET, join_days, join_order

# Chi-square tests: under the null hypothesis (every permutation equally likely), Pearson's
# statistic over k equally likely cells, each expected >= 5 times, is chi-square with k - 1
# degrees of freedom; a case fails when its tail probability is below ALPHA, so a correct shuffle
# fails with probability 1e-6 (the seeds are fixed, so a run that passes always passes).
ALPHA = 1e-6


def uniform_tail(counts: np.ndarray) -> float:
    expected = np.full(len(counts), counts.sum() / len(counts))
    assert expected[0] >= 5
    return float(stats.chisquare(counts, expected).pvalue)


def test_join_order_is_a_uniform_permutation() -> None:
    """48,000 seeds: each of the 24 orders of 4 localities about 2,000 times; and, for 10
    localities, where locality 0 lands and which one comes first, uniform over the 10 places."""
    perms = {p: i for i, p in enumerate(itertools.permutations(range(4)))}
    counts = np.zeros(24, dtype=np.int64)
    for seed in range(48_000):
        counts[perms[tuple(join_order(seed, 4).tolist())]] += 1
    assert uniform_tail(counts) > ALPHA, counts
    where, first = np.zeros(10, dtype=np.int64), np.zeros(10, dtype=np.int64)
    for seed in range(20_000):
        order = join_order(seed, 10)
        assert sorted(order.tolist()) == list(range(10))
        where[int(np.flatnonzero(order == 0)[0])] += 1
        first[order[0]] += 1
    assert uniform_tail(where) > ALPHA, where
    assert uniform_tail(first) > ALPHA, first
    assert join_order(3, 0).size == 0 and join_order(3, 1).tolist() == [0]


def scenario(steps: list[dict[str, Any]] | None = None) -> Any:
    steps = steps or [
        {"date": "2018-01-01", "share": 0.3},
        {"date": "2019-01-01", "share": 0.6},
        {"date": "2020-01-01", "share": 1.0},
    ]
    return load_scenario(
        {"population": {"locality_size": 64}, "rollout": steps, "time": {"start": "2018-06-01"}}
    )


def test_shares_join_in_a_nested_order_of_the_seed() -> None:
    """By each step's date exactly round(share x localities) have joined, the earlier ones
    among the later ones, in the order join_order draws for the seed."""
    sc = scenario()
    pop = build_population(sc, 300_000, 2)
    n = pop.n_localities
    days = join_days(sc, pop, 2)
    start = sc.time.start
    for share, date in ((0.3, dt.date(2018, 1, 1)), (0.6, dt.date(2019, 1, 1)), (1.0, None)):
        if date is None:
            assert (days < NOT_YET).all()
            continue
        day = (date - start).days
        assert (days <= day).sum() == round(share * n)
    order = join_order(2, n)
    assert np.all(np.diff(days[order]) >= 0), "localities join in the drawn order"
    again = join_days(sc, pop, 2)
    np.testing.assert_array_equal(days, again)
    assert not np.array_equal(days, join_days(sc, pop, 3))


def test_regions_join_on_their_date_whatever_the_seed() -> None:
    sc = scenario(
        steps=[
            {"date": "2018-03-01", "regions": ["Guangdong", "Shandong"]},
            {"date": "2019-03-01", "share": 1.0},
        ]
    )
    pop = build_population(sc, 300_000, 4)
    for seed in (4, 5):
        days = join_days(sc, pop, seed)
        named = np.isin(np.asarray(pop.region_names)[pop.loc_region], ["Guangdong", "Shandong"])
        assert (days[named] == (dt.date(2018, 3, 1) - sc.time.start).days).all()
        assert (days[~named] == (dt.date(2019, 3, 1) - sc.time.start).days).all()


def test_rollout_uses_no_numpy_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The join order comes from the project's streams, not NumPy's (whose output may change
    between versions)."""
    sc = scenario()
    pop = build_population(sc, 100_000, 1)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a NumPy random generator was used")

    for name in ("default_rng", "Generator", "RandomState", "SeedSequence", "seed"):
        monkeypatch.setattr(np.random, name, refuse)
    days = join_days(sc, pop, 1)
    assert (days <= (dt.date(2018, 1, 1) - sc.time.start).days).sum() == round(
        0.3 * pop.n_localities
    )
