"""Regression baseline: summary figures of fixed-seed runs, compared exactly.

Runs are byte-reproducible, so any change in these figures is a change in the model or its
random streams. When that is on purpose, update the baseline and commit it with the change:

    SCS_UPDATE_BASELINE=1 python -m pytest tests/test_baseline.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

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


@pytest.mark.parametrize("name", sorted(RUNS))
def test_baseline(name: str) -> None:
    stored = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    now = summary(name)
    if os.environ.get("SCS_UPDATE_BASELINE"):
        stored[name] = now
        BASELINE.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
        pytest.skip("baseline updated")
    assert name in stored, "no baseline yet: run with SCS_UPDATE_BASELINE=1"
    changed = {k: (stored[name].get(k), v) for k, v in now.items() if stored[name].get(k) != v}
    assert not changed, f"figures changed (baseline, now): {changed}"
