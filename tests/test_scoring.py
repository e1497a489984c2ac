"""Scores and exact lazy recovery (scoring.py), and the M/D/1 score deficit of MODEL.md 9."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimal import final_snapshot, minimal, records, run
from socialcreditsim.scoring import (
    NO_DAY,
    _reciprocal,
    canonical,
    exact_score,
    first_day_at_or_above,
    first_day_below,
    floor_score,
    grade_of,
    recovery_fraction,
    recovery_rate,
)

Z = 5.0  # sigmas: a false alarm about once in 3.5 million runs
START = 1000


def test_recovery_fraction_is_exact_for_decimal_rates() -> None:
    assert recovery_fraction(1.0) == (1, 1, 0)
    assert recovery_fraction(0.1) == (1, 10, 1)
    assert recovery_fraction(0.03) == (3, 100, 67)  # 3 * 67 = 201 = 1 mod 100
    assert recovery_fraction(2.5) == (5, 2, 1)
    assert recovery_fraction(0.0) == (0, 1, 0)
    assert recovery_fraction(1 / 3)[:2] == (1, 3)
    with pytest.raises(ValueError, match="recovery_per_day"):
        recovery_fraction(1e-5)
    with pytest.raises(ValueError, match="score.min - 5 >= -32768"):
        recovery_rate(2.5, -32766, 1000)  # a base score could fall below the int16 range


@given(d=st.integers(1, 10_000), n=st.integers(0, 2**31 - 1))
def test_division_by_a_reciprocal_is_exact(d: int, n: int) -> None:
    mul, shift = _reciprocal(d)
    assert (n * mul) >> shift == n // d and n * mul < 2**63


def step(x: int, p: int, q: int) -> int:
    """One day of recovery toward the start, by definition (MODEL.md section 5), for a score
    written in units of 1/q points."""
    return min(q * START, x + p) if x < q * START else max(q * START, x - p)


rates = st.sampled_from(["0", "1", "0.1", "0.03", "0.37", "2.5", "7"])
days = st.lists(
    st.tuples(st.integers(1, 60), st.integers(-150, 150)), min_size=1, max_size=8
)  # (days since the previous event, the event's change)


@settings(max_examples=120, deadline=None)
@given(rate=rates, events=days)
def test_lazy_recovery_is_daily_recovery_exactly(rate: str, events: list[tuple[int, int]]) -> None:
    """A person's score kept as (base, base day), brought up to date only on event days, is
    on every day the score that recovers by r = p/q every day, exactly; and the crossing days
    of ``first_day_at_or_above`` (a rising score) and ``first_day_below`` (a falling one) are
    the first days of the truth."""
    lo, hi = 700, 1300
    R = recovery_rate(float(rate), lo, hi)
    p, q = R.p, R.q
    x = q * START  # the truth, in units of 1/q points
    V, L = START, 0
    t = 0
    for gap, change in events:
        for _ in range(gap):  # the truth, day by day, and the lazy score on each day
            t += 1
            x = step(x, p, q)
            assert exact_score(V, L, t, START, R) == x
        x = min(q * hi, max(q * lo, x + q * change))  # clipped once
        X = min(q * hi, max(q * lo, exact_score(V, L, t, START, R) + q * change))
        V, L = canonical(X, t, START, R)
        assert t - q < L <= t
        assert exact_score(V, L, t, START, R) == x
        assert floor_score(x, R) == x // q
        # the first day on which each threshold is crossed, by stepping the truth (a crossing
        # can only come before the score is back at the start)
        thresholds = (850, 960, START, 1030)
        first: dict[int, int] = {}
        y, d = x, t
        while y != q * START and p > 0:
            d += 1
            y = step(y, p, q)
            for thr in thresholds:
                if (y >= q * thr) != (x >= q * thr) and thr not in first:
                    first[thr] = d
        for thr in thresholds:
            if V < START and x < q * thr:
                assert first_day_at_or_above(V, L, thr, START, R) == first.get(thr, NO_DAY)
            if V > START and x >= q * thr:
                assert first_day_below(V, L, thr, START, R) == first.get(thr, NO_DAY)


def test_grades() -> None:
    mins = np.array([1050, 1030, 960, 850, 600, 0])
    assert [grade_of(s, mins) for s in (1100, 1030, 1000, 849, 0)] == [0, 1, 2, 4, 5]


def deficit_distribution(lam: float, d: int, p: int, q: int, days: int) -> np.ndarray:
    """Exact distribution, in units of 1/q points, of the deficit below the start at the end
    of day ``days - 1`` of a person who starts at the start: W = max(W - r, 0) + d A each day
    (recovery first, then the day's events), A ~ Poisson(lam), W_-1 = 0."""
    from scipy.stats import poisson

    size = 60 * d * q  # 60 events' worth of deficit: about rho^60 = 1e-18 beyond it
    pk = poisson.pmf(np.arange(0, 40), lam)
    pk = pk[pk > 1e-300]
    w = np.zeros(size)
    w[0] = 1.0
    for _ in range(days):
        served = np.zeros(size)
        served[0] = w[: p + 1].sum()
        served[1 : size - p] = w[p + 1 :]
        w = np.zeros(size)
        for k, pr in enumerate(pk):
            shift = k * d * q
            if shift < size:
                w[shift:] += pr * served[: size - shift]
    assert 1 - w.sum() < 1e-9, "truncated too much"
    return w


@pytest.mark.parametrize(("per_day", "d"), [(1.0, 20), (2.0, 20), (0.5, 20), (0.03, 1)], ids=str)
def test_md1_score_deficit(per_day: float, d: int) -> None:
    """One behaviour at rate lam a day, change -d, recovery r a day, rho = lam d / r = 1/2.

    The deficit below the start is the workload of a discrete-time M/D/1 queue observed at the
    end of each day: W' = max(W - r, 0) + d A with A ~ Poisson(lam). Its exact distribution on
    the last day is computed by iterating the chain from W = 0 (``deficit_distribution``), and
    the engine's share of people below the start and mean deficit must match it within Z
    standard errors (people are independent). In the steady state the share is rho and the mean
    lam d^2 / (2 r (1 - rho)) (Pollaczek-Khinchine) up to the discreteness of days; for whole
    recovery the discrete correction is exactly r rho / 2, also checked.
    """
    rho, n_days = 0.5, 1500
    p, q, _ = recovery_fraction(per_day)
    lam = rho * per_day / d  # events per person-day
    sc = minimal(
        days=n_days,
        behaviours=[records("offence", lam * 365, -d)],
        score={"start": START, "min": -30000, "max": 2000, "recovery_per_day": per_day},
        output={"score_bin_width": 1},
    )
    res, sim = run(sc, n_agents=250_000)
    v = sim.state.score.astype(np.int64)
    last = sim.state.last.astype(np.int64)
    deficit = np.maximum(0, q * (START - v) - p * (n_days - 1 - last)) / q  # points
    n = len(deficit)
    w = deficit_distribution(lam, d, p, q, n_days)
    points = np.arange(len(w)) / q
    share, mean = 1 - w[0], float((w * points).sum())
    sd = np.sqrt(float((w * points**2).sum()) - mean**2)
    assert abs((deficit > 0).mean() - share) < Z * np.sqrt(share * (1 - share) / n)
    assert abs(deficit.mean() - mean) < Z * sd / np.sqrt(n)
    pk = lam * d**2 / (2 * per_day * (1 - rho))
    if q == 1:  # the closed form, once the chain has forgotten its start
        assert share == pytest.approx(rho, abs=1e-6)
        assert mean == pytest.approx(pk + per_day * rho / 2, rel=1e-6)
    else:  # up to the discreteness of days: within one day's recovery of each share
        assert abs(share - rho) < 0.05 * rho and abs(mean - pk) < 0.1 * pk
    # the snapshot tables say the same
    snap = final_snapshot(res)
    mean_score = snap[snap["metric"] == "mean_score"]["value"].iloc[0]
    assert mean_score == pytest.approx(START - deficit.mean(), abs=1e-9)
