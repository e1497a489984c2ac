"""Rollout: the day each locality joins the system (MODEL.md section 6).

A step names regions (all their localities join on its date) or a share (by its date, that share
of all localities has joined; localities join in a fixed order drawn from the seed,
:func:`join_order`). Without steps, everybody has joined from the start. Before a locality joins,
events happen and are counted but nothing is recorded there.
"""

from __future__ import annotations

import numpy as np

from .draws import shuffle
from .jit import nb
from .population import Population
from .rng import new_stream
from .scenario import Scenario

__all__ = ["join_days", "join_order"]

NOT_YET = np.iinfo(np.int32).max

# the stream of the join order: no locality's (locality 0, day -2, a purpose nobody else uses;
# kernels.py uses 0-3, population.py 10, audit.py 12)
P_ROLLOUT = 11


@nb.njit(cache=True)
def join_order(seed: int, n: int) -> np.ndarray:
    """The order in which ``share`` steps take localities: a uniform random permutation of
    0 .. n-1 (Fisher-Yates on the project's stream for ``seed``)."""
    order = np.arange(n)
    shuffle(new_stream(seed, 0, -2, P_ROLLOUT), order)
    return order


def join_days(scenario: Scenario, pop: Population, seed: int) -> np.ndarray:
    """Day index (from the scenario start, may be negative) on which each locality joins."""
    n = pop.n_localities
    if not scenario.rollout:
        return np.zeros(n, dtype=np.int32)
    out = np.full(n, NOT_YET, dtype=np.int64)
    order = join_order(seed, n)
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
