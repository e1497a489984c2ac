"""Behaviours: rates, recording by thinning, and deterrence (MODEL.md section 9)."""

from __future__ import annotations

import numpy as np
import pytest

from minimal import minimal, run, total

Z = 5.0


@pytest.mark.parametrize(("elasticity", "q"), [(0.0, 0.4), (0.5, 0.4), (1.5, 0.5)])
def test_deterrence(elasticity: float, q: float) -> None:
    """With elasticity e and constant recording probability q, the true rate is base x (1 - e q),
    floored at 0. True events are Poisson, so the tolerance is Z sqrt(expected)."""
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
    assert abs(true - expected) < Z * np.sqrt(max(expected, 1.0))
    recorded = total(res, "events_recorded", truth="rightful")
    assert abs(recorded - q * expected) < Z * np.sqrt(max(q * expected, 1.0))


def test_perceived_probability_lags_the_real_one() -> None:
    """When monitoring jumps, behaviour adjusts gradually (exponential lag), not at once."""
    beh = {
        "name": "post",
        "channel": "online",
        "rate": 20.0,
        "record_probability": [["2020-01-01", 0.0], ["2020-02-01", 0.0], ["2020-02-02", 0.5]],
        "deterrence_elasticity": 1.0,
        "perception_lag_days": 30,
        "score_change": 0,
        "propensity": "none",
    }
    res, _ = run(minimal(days=200, behaviours=[beh]), n_agents=20_000)
    true = res.series("events_true").to_numpy()
    before, just_after, late = true[:31].mean(), true[33:36].mean(), true[150:].mean()
    assert late == pytest.approx(before * 0.5, rel=0.1)
    assert just_after > 0.85 * before


def test_propensity_scales_rates() -> None:
    """Rates scale with the propensity class means, which average to 1: totals are unchanged."""
    beh = {"name": "offence", "channel": "records", "rate": 10.0, "score_change": 0}
    sc = minimal(
        days=60, behaviours=[beh], population={"propensity_classes": 8, "propensity_shape": 0.5}
    )
    res, sim = run(sc, n_agents=50_000)
    expected = sim.population.n_scored * 60 * 10 / 365
    assert abs(total(res, "events_true") - expected) < Z * np.sqrt(expected) + 0.01 * expected
