"""Small hand-built scenarios for tests whose answer is known exactly (MODEL.md section 9)."""

from __future__ import annotations

from typing import Any

import numpy as np

import socialcreditsim as scs


def minimal(*, days: int = 365, behaviours: list[dict[str, Any]], **parts: Any) -> dict[str, Any]:
    """One urban region, no grades, lists or sanctions unless given; raw counts."""
    end = np.datetime64("2020-01-01") + np.timedelta64(days - 1, "D")
    scenario: dict[str, Any] = {
        "meta": {"name": "test"},
        "time": {"start": "2020-01-01", "end": str(end)},
        "population": {
            "size": 1_000_000,
            "regions": [{"name": "Testland", "share": 1.0, "urban_share": 1.0}],
            "propensity_classes": 1,
            "prosocial_classes": 1,
        },
        "behaviours": behaviours,
        "output": {"raw_counts": True, "audit_sample": 0, "snapshot_every_days": days},
    }
    for key, value in parts.items():
        scenario[key] = {**scenario.get(key, {}), **value} if isinstance(value, dict) else value
    return scenario


def records(name: str, rate: float, change: int, **more: Any) -> dict[str, Any]:
    """A records-channel behaviour at ``rate`` a person-year, no propensity."""
    return {
        "name": name,
        "channel": "records",
        "rate": rate,
        "score_change": change,
        "propensity": "none",
        **more,
    }


def camera(
    name: str = "passing", rate: float = 365.0, fnir: float = 1.0, fpir: float = 0.0
) -> dict:
    """A camera behaviour with no score change and no propensity: with FNIR 1 (the default) it
    is searches of people who did nothing, so every record is wrongful."""
    return {
        "name": name,
        "channel": "camera",
        "rate": rate,
        "score_change": 0,
        "propensity": "none",
        "fnir": fnir,
        "fpir": fpir,
    }


def run(scenario: dict[str, Any], n_agents: int, seed: int = 1) -> tuple[scs.Results, scs.Sim]:
    sim = scs.Sim(scenario, n_agents=n_agents, seed=seed, threads=1)
    return sim.run(), sim


def total(res: scs.Results, metric: str, **sel: str) -> float:
    return float(res.series(metric, **sel).sum())


def final_snapshot(res: scs.Results) -> Any:
    snap = res.snapshots
    return snap[(snap["date"] == snap["date"].max()) & (snap["dimension"] == "national")]
