"""Rollout: the day each locality joins the system (MODEL.md section 6).

A step names regions (all their localities join on its date) or a share (by its date, that share
of all localities has joined; localities join in a fixed order drawn from the seed). Without
steps, everybody has joined from the start. Before a locality joins, events happen and are
counted but nothing is recorded there.
"""

from __future__ import annotations

import numpy as np

from .population import Population
from .scenario import Scenario

__all__ = ["join_days"]

NOT_YET = np.iinfo(np.int32).max


def join_days(scenario: Scenario, pop: Population, seed: int) -> np.ndarray:
    """Day index (from the scenario start, may be negative) on which each locality joins."""
    n = pop.n_localities
    if not scenario.rollout:
        return np.zeros(n, dtype=np.int32)
    out = np.full(n, NOT_YET, dtype=np.int64)
    order = np.random.default_rng([seed, 2]).permutation(n)
    start = scenario.time.start
    for step in sorted(scenario.rollout, key=lambda s: s.date):
        day = (step.date - start).days
        if step.regions:
            idx = [pop.region_names.index(r) for r in step.regions]
            chosen = np.isin(pop.loc_region, idx)
        else:
            chosen = np.zeros(n, dtype=bool)
            chosen[order[: int(round(step.share * n))]] = True
        out[chosen] = np.minimum(out[chosen], day)
    return np.clip(out, -(2**31), NOT_YET).astype(np.int32)
