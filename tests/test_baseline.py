"""Regression baseline: summary figures of fixed-seed runs, and a digest of every value of
every table of one run, compared exactly.

Runs are byte-reproducible, so any change in these figures is a change in the model or its
random streams; an optimisation must leave all of them as they are, at any thread count. When a
change is on purpose, update the baseline and commit it with the change:

    SCS_UPDATE_BASELINE=1 python -m pytest tests/test_baseline.py
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pytest

import socialcreditsim as scs

BASELINE = Path(__file__).with_name("baseline.json")
RUNS = {
    "national": ("national", 50_000, ["time.end=2018-12-31"]),
    "court-list": ("court-list", 30_000, ["time.end=2016-12-31"]),
    "rongcheng": ("rongcheng", 20_000, ["time.end=2016-12-31"]),
    "shenzhen-crossings": ("shenzhen-crossings", 20_000, []),
}


def summary(name: str) -> dict[str, float]:
    scenario, n, overrides = RUNS[name]
    res = scs.Sim(scenario, n_agents=n, seed=2024, overrides=overrides, threads=1).run()
    figures = {row.figure: round(float(row.value), 6) for row in res.headline().itertuples()}
    for row in res.sanctions().itertuples():
        figures[f"barred: {row.sanction}"] = round(float(row.people_barred), 6)
        figures[f"blocked attempts: {row.sanction}"] = round(float(row.blocked_attempts), 6)
    figures["audit records"] = len(res.audit)
    return figures


def _compare(name: str, now: dict[str, float] | dict[str, str]) -> None:
    """``now`` against the stored figures of ``name`` (or stored, when updating)."""
    stored = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    if os.environ.get("SCS_UPDATE_BASELINE"):
        stored[name] = now
        BASELINE.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
        pytest.skip("baseline updated")
    assert name in stored, "no baseline yet: run with SCS_UPDATE_BASELINE=1"
    changed = {k: (stored[name].get(k), v) for k, v in now.items() if stored[name].get(k) != v}
    assert not changed, f"figures changed (baseline, now): {changed}"


@pytest.mark.parametrize("name", sorted(RUNS))
def test_baseline(name: str) -> None:
    _compare(name, summary(name))


# every mechanism of the engine at work: secret rules, chilling, discretion (national), appeals
# and credit repair switched on, grades and rewards (national), a start with listed people
DIGEST_RUN = ("national", 20_000, 7, ["time.end=2018-12-31", "appeals.probability=0.4",
              "appeals.success_rightful=0.1", "court_list.repair_per_year=0.2",
              "initial.court_listed_share=0.01"])  # fmt: skip


def digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's column names, types and every value, row by row (as NumPy and
    pandas hash them, so that it does not depend on how Parquet encodes the file)."""
    h = hashlib.sha256(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("threads", [1, 2])
def test_every_table_of_a_run_is_unchanged(threads: int) -> None:
    """The values of every table (timeseries, snapshots, audit, people) of a fixed-seed run,
    with one thread and with two: what an optimisation may not change."""
    scenario, n, seed, overrides = DIGEST_RUN
    res = scs.Sim(scenario, n_agents=n, seed=seed, overrides=overrides, threads=threads).run()
    assert all(len(getattr(res, name)) for name in scs.results.TABLES)
    _compare("digests", {name: digest(getattr(res, name)) for name in scs.results.TABLES})
