"""Scores and lazy recovery: the M/D/1 score deficit of MODEL.md section 9."""

from __future__ import annotations

import numpy as np
import pytest

from minimal import final_snapshot, minimal, run
from socialcreditsim.scoring import crossing_day, grade_of, recover, recovery_ticks

Z = 5.0  # sigmas: a false alarm about once in 3.5 million runs


def test_recovery_ticks_are_the_closest_fraction() -> None:
    assert recovery_ticks(1.0) == (1, 1)
    assert recovery_ticks(0.1) == (1, 10)
    assert recovery_ticks(2.5) == (5, 2)
    assert recovery_ticks(0.0) == (0, 1)


def test_lazy_recovery_equals_daily_recovery() -> None:
    """Bringing a score up to date in one step equals stepping it day by day."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        points, every = int(rng.integers(1, 5)), int(rng.integers(1, 12))
        score, start = int(rng.integers(0, 2000)), 1000
        last, day = int(rng.integers(0, 100)), int(rng.integers(100, 400))
        stepped = score
        for d in range(last + 1, day + 1):
            if d % every == 0 and stepped != start:
                stepped = (
                    min(start, stepped + points)
                    if stepped < start
                    else max(start, stepped - points)
                )
        assert recover(score, last, day, start, points, every) == stepped


def test_crossing_day_is_the_first_day_at_the_target() -> None:
    for score, target in ((900, 960), (1040, 1030), (700, 1000)):
        day = crossing_day(score, 17, target, 1000, 3, 7)
        if score < target:
            assert recover(score, 17, day, 1000, 3, 7) >= target
            assert recover(score, 17, day - 1, 1000, 3, 7) < target
        else:
            assert recover(score, 17, day, 1000, 3, 7) < target
            assert recover(score, 17, day - 1, 1000, 3, 7) >= target
    assert crossing_day(1000, 5, 960, 1000, 1, 1) == -1


def test_grades() -> None:
    mins = np.array([1050, 1030, 960, 850, 600, 0])
    assert [grade_of(s, mins) for s in (1100, 1030, 1000, 849, 0)] == [0, 1, 2, 4, 5]


@pytest.mark.parametrize("points_per_day", [1, 2])
def test_md1_score_deficit(points_per_day: int) -> None:
    """One behaviour at rate lam a day, change -d, recovery r a day, rho = lam d / r < 1.

    The deficit below the start is the workload of a discrete-time M/D/1 queue observed at the
    end of each day (recovery tick first, then the day's events): W' = max(W - r, 0) + d A with
    A ~ Poisson(lam). Exactly: P(W > 0) = rho and E[W] = lam d^2 / (2 r (1 - rho)) + r rho / 2,
    the Pollaczek-Khinchine mean plus r rho / 2 for the discreteness of days. People are
    independent, so the tolerance is Z standard errors of the population mean and share.
    """
    d, rho = 20, 0.5
    lam = rho * points_per_day / d  # events per person-day
    beh = {
        "name": "offence",
        "channel": "records",
        "rate": lam * 365,
        "score_change": -d,
        "propensity": "none",
    }
    sc = minimal(
        days=1500,
        behaviours=[beh],
        score={"start": 1000, "min": -30000, "max": 2000, "recovery_per_day": points_per_day},
        output={"score_bin_width": 1},
    )
    res, sim = run(sc, n_agents=250_000)
    deficit = 1000 - np.array(
        [
            recover(int(s), int(t), 1499, 1000, points_per_day, 1)
            for s, t in zip(sim.state.score, sim.state.last, strict=True)
        ]
    )
    assert deficit.min() >= 0
    n = len(deficit)
    share = (deficit > 0).mean()
    assert abs(share - rho) < Z * np.sqrt(rho * (1 - rho) / n)
    exact = lam * d**2 / (2 * points_per_day * (1 - rho)) + points_per_day * rho / 2
    pk = lam * d**2 / (2 * points_per_day * (1 - rho))
    se = deficit.std() / np.sqrt(n)
    assert abs(deficit.mean() - exact) < Z * se
    assert abs(deficit.mean() - pk) < Z * se + points_per_day * rho / 2
    # the snapshot tables say the same
    snap = final_snapshot(res)
    mean = snap[snap["metric"] == "mean_score"]["value"].iloc[0]
    assert mean == pytest.approx(1000 - deficit.mean(), abs=1e-9)
