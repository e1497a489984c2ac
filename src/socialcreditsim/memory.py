"""Memory: what a run will need, predicted before any work starts, and what this machine has.

The engine, the ensembles (``replicates``), the executors and the CLI's ``--dry-run`` all ask
here, so a run too big for the memory is refused in a second with the estimate, never by the
operating system after minutes of work (docs/reliability.md).
"""

from __future__ import annotations

import datetime as dt
import math
import os

import numpy as np

from . import kernels as kn
from .scenario import Scenario, schedule_values
from .surveillance import coverage

__all__ = [
    "NotEnoughMemory",
    "available_memory",
    "estimate_memory",
    "estimate_shard_memory",
]

STATE_BYTES = 5  # per scored person: score and last (int16), flags (uint8)


class NotEnoughMemory(RuntimeError):
    """The run would not fit in memory; the message gives the estimate."""


def capacities(sc: Scenario, scored_per_locality: int) -> tuple[int, int]:
    """Initial calendar chunks and listed-table slots per locality (both grow when a day needs
    it)."""
    ini = sc.initial
    spread = 1.0 if ini.score_sd > 0 else 0.0
    revisits = int(
        256
        + scored_per_locality
        * (0.02 + min(1.0, ini.court_listed_share + ini.blacklisted_share + spread))
    )
    n_days = (sc.time.end - sc.time.start).days + 1
    # full chunks, and a chunk begun on each day at most
    calendar = -(-revisits // kn.PER_CHUNK) + min(revisits, n_days)
    below_entry = 0.0
    if ini.score_sd > 0 and sc.blacklist.enabled:  # normal scores below the entry threshold
        z = (sc.blacklist.entry_below - sc.score.start) / ini.score_sd
        below_entry = 0.5 * (1 + math.erf(z / math.sqrt(2)))
    listed = min(1.0, ini.court_listed_share + ini.blacklisted_share + 1.5 * below_entry)
    # room for those listed during the run from the start: growing the table on the first day
    # took 1.7 s and 1.5 GB more at 1.4 billion agents
    return calendar, pow2(3 * (64 + (listed + LISTED_GROWTH) * scored_per_locality))


LISTED_GROWTH = 0.01  # people listed during a run: about 1 in 100 more (measured, national)
RUNTIME_BYTES = 255 * 2**20  # interpreter, NumPy, pandas, Arrow, Numba and the compiled kernels
TABLE_CELL_BYTES = 48  # a metric's day in a region in the result tables, as they are built


def estimate_memory(scenario: Scenario, n_agents: int) -> dict[str, int]:
    """Predicted peak memory of a run, by part, in bytes, before any work is done; the parts
    add up to the peak.

    Sized like the engine allocates (``capacities``); measured within 10% for N >= 10^7
    (benchmarks/run.py prints both). The peak comes either during the days, with the books
    (listed people, calendar, snapshot counters, appeals), or at the end, when the result
    tables are built and the books are gone: "result tables" is what the end needs beyond the
    books (at 10^7 agents the end is the peak, from 10^8 on the days are).
    """
    pop = scenario.population
    n_days = (scenario.time.end - scenario.time.start).days + 1
    L = pop.locality_size
    n_regions = len(scenario.region_table()[0])
    n_loc = int(np.ceil(n_agents / L)) + 2 * n_regions  # each region's urban and rural tail
    scored = int(n_agents * (1 - pop.child_share))
    per_loc = min(L, n_agents) * (1 - pop.child_share)
    # (the national year's calendar stays within its first capacity: 359 of 474 chunks in the
    # busiest locality at 10^7 agents)
    calendar, listed = capacities(scenario, int(per_loc))
    appeals_entries = int(1.5 * per_loc / 8)  # pending: no more than revisits, 1 in 8 scored
    n_blocks = 2 * (len(scenario.groups) + 1) * pop.propensity_classes * pop.prosocial_classes
    n_bins = (scenario.score.max - scenario.score.min) // scenario.output.score_bin_width + 1
    n_groups = len(scenario.groups) + 1
    n_measures = len(scenario.sanctions) + len(scenario.rewards)
    n_cols = kn.N_SNAP + max(1, len(scenario.score.grades)) + 2 * n_measures
    n_metrics = (
        kn.FB * len(scenario.behaviours)
        + kn.N_LIST_FLOWS
        + kn.N_LIST_STOCKS
        + 6 * n_measures
        + max(1, len(scenario.score.grades))
    )
    books = {
        "listed people": n_loc * listed * 12,
        "calendar": n_loc * (n_days * 8 + calendar * 4 * (1 + kn.PER_CHUNK)),
        "snapshots": n_loc * 2 * 8 * (n_bins + (6 + n_groups + pop.propensity_classes) * n_cols),
        "appeals": n_loc * (n_days * 8 + appeals_entries * 20) if appeals_on(scenario) else 0,
    }
    cells = n_days * (n_regions + 1) * n_metrics  # a metric's day in a region (or the nation)
    return {
        "state": scored * STATE_BYTES,
        **books,
        "layout": n_loc * (n_blocks + 1) * 4 * 2,
        "time series": cells * 8 * 2,  # each day's flows and stocks, kept all run
        "audit": int(min(scenario.output.audit_sample, scored) * _audit_bytes(scenario, n_days)),
        "result tables": max(0, cells * TABLE_CELL_BYTES - sum(books.values())),
        "runtime": RUNTIME_BYTES,
    }


def appeals_on(sc: Scenario) -> bool:
    """Whether the run keeps an appeals calendar (MODEL.md section 10)."""
    return sc.appeals.probability > 0


def estimate_shard_memory(scenario: Scenario, n_agents: int, shards: int) -> int:
    """Predicted peak memory of one worker of a run split into ``shards`` (``run_shard``): what
    grows with the people is divided among the shards; the runtime and the daily series by
    region are whole in every worker (measured at 1.4 billion over 2 workers: 4.27 GiB each)."""
    parts = estimate_memory(scenario, n_agents)
    whole = parts["runtime"] + parts["time series"]
    return whole + (sum(parts.values()) - whole) // max(1, shards)


AUDIT_RECORD_BYTES = 200  # a record in the day's arrays, their concatenation and the table
AUDIT_PERSON_BYTES = 200  # an audited person's row of people.parquet, while it is built


def _audit_bytes(sc: Scenario, n_days: int) -> float:
    """An audited person's audit memory: their recorded events at each behaviour's highest rate,
    recording probability (camera coverage) and urban or rural multiplier, times 2 for what the
    events bring (shamings, grade and sanction changes, attempts: 1.35 times on ``national``),
    plus the records of the start."""
    days = [sc.time.start + dt.timedelta(days=t) for t in range(n_days)]
    _, shares, urban = sc.region_table()
    urban_share = float(np.dot(shares, urban) / sum(shares))
    cov = max(float(c.max()) for c in coverage(sc, days, sc.population.size, urban_share))
    recorded = 0.0
    for b in sc.behaviours:
        rate = max(schedule_values(b.rate, days))
        q = cov if b.channel == "camera" else max(schedule_values(b.record_probability, days))
        group = 1 + sum(g.share * (g.rate_multipliers.get(b.name, 1.0) - 1) for g in sc.groups)
        recorded += rate * q * max(b.urban_multiplier, b.rural_multiplier) * group
    records = 2 * recorded * n_days / 365 + 4  # an upper bound: rollout and ages not counted
    return records * AUDIT_RECORD_BYTES + AUDIT_PERSON_BYTES


def available_memory() -> int:
    """Bytes this machine can give a run now (MemAvailable; all memory where it is unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def pow2(x: float) -> int:
    """The power of two at or above ``x``, at least 64: the size of a hash table's slots."""
    return 1 << max(6, int(np.ceil(np.log2(max(x, 1)))))
