"""Rollout by region: nothing is recorded in a region before it joins, everything is from its join
date on, and events happen and are counted throughout (MODEL.md section 6)."""

from __future__ import annotations

import numpy as np

from minimal import minimal, run

Z = 5.0


def test_regions_join_on_their_dates() -> None:
    """Three regions: Pilot joins before the run starts (so from day 0), Later on day 50
    (2020-02-20), Never is named by no step. "tax" (0.1 events a person-day, recorded with
    probability 0.5) follows the rollout; "court" (0.01 a person-day, always recorded) does
    not.

    True events are Poisson with mean 0.1 x people x days in every region; recorded tax events
    are Poisson with mean 0.05 x people a day where joined (tolerance Z sqrt(mean); on day 50
    alone about 320 +- 89, so joining a day late or early fails) and exactly 0 elsewhere; court
    records are Poisson with mean 0.01 x people a day everywhere, from day 0."""
    days, join = 80, 50
    regions = [
        {"name": "Pilot", "share": 1.0, "urban_share": 1.0},
        {"name": "Later", "share": 1.0, "urban_share": 0.5},
        {"name": "Never", "share": 1.0, "urban_share": 0.0},
    ]
    behaviours = [
        {
            "name": "tax",
            "channel": "records",
            "rate": 36.5,
            "record_probability": 0.5,
            "score_change": 0,
            "propensity": "none",
        },
        {
            "name": "court",
            "channel": "records",
            "rate": 3.65,
            "score_change": 0,
            "propensity": "none",
            "follows_rollout": False,
        },
    ]
    sc = minimal(
        days=days,
        behaviours=behaviours,
        population={"regions": regions, "locality_size": 2048},
        rollout=[
            {"date": "2019-06-01", "regions": ["Pilot"]},
            {"date": "2020-02-20", "regions": ["Later"]},
        ],
    )
    res, sim = run(sc, n_agents=24_000)
    pop = sim.population
    joined_from = {"Pilot": 0, "Later": join, "Never": days}

    def close(got: np.ndarray, expected: float, what: str) -> None:
        assert abs(got.sum() - expected) < Z * np.sqrt(expected), (what, got.sum(), expected)

    for r, name in enumerate(pop.region_names):
        n = pop.loc_scored[pop.loc_region == r].sum()
        true = res.series("events_true", "tax", region=name).to_numpy()
        tax = res.series("events_recorded", "tax", region=name).to_numpy()
        court = res.series("events_recorded", "court", region=name).to_numpy()
        close(true, 0.1 * n * days, f"{name}: true tax events")
        close(court, 0.01 * n * days, f"{name}: court records")
        close(court[:10], 0.01 * n * 10, f"{name}: court records, first days")
        first = joined_from[name]
        assert tax[:first].sum() == 0, name
        if first < days:
            close(tax[first : first + 1], 0.05 * n, f"{name}: tax records on the join day")
            close(tax[first:], 0.05 * n * (days - first), f"{name}: tax records after joining")
        assert (res.series("events_recorded", "tax", truth="wrongful", region=name) == 0).all()
    assert set(joined_from) == set(pop.region_names)
