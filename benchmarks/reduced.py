"""The reduced model for the framework comparison, written twice: idiomatic Mesa 3 and a
socialcreditsim scenario. Four behaviours recorded with a probability, a score with daily
recovery toward the start, and a blacklist with entry and exit thresholds."""

from __future__ import annotations

from typing import Any

# name, events per person-year, recording probability, score change
BEHAVIOURS = [
    ("jaywalking", 12.0, 0.3, -5),
    ("littering", 4.0, 0.2, -10),
    ("tax_evasion", 0.05, 0.5, -50),
    ("volunteering", 1.0, 0.5, 10),
]
START, LOW, HIGH, RECOVERY = 1000, 0, 2000, 1
ENTRY, EXIT = 960, 990


def scenario(days: int) -> dict[str, Any]:
    """The reduced model as a socialcreditsim scenario."""
    import datetime as dt

    end = dt.date(2020, 1, 1) + dt.timedelta(days=days - 1)
    return {
        "meta": {"name": "reduced"},
        "time": {"start": "2020-01-01", "end": end.isoformat()},
        "population": {
            "regions": [{"name": "all", "share": 1.0, "urban_share": 1.0}],
            "child_share": 0.0,
            "senior_share": 0.0,
            "propensity_classes": 1,
            "prosocial_classes": 1,
        },
        "behaviours": [
            {
                "name": n,
                "channel": "records",
                "rate": r,
                "record_probability": q,
                "score_change": c,
                "propensity": "none",
            }
            for n, r, q, c in BEHAVIOURS
        ],
        "score": {"start": START, "min": LOW, "max": HIGH, "recovery_per_day": RECOVERY},
        "blacklist": {"enabled": True, "entry_below": ENTRY, "exit_at": EXIT},
        "output": {"audit_sample": 0, "snapshot_every_days": days, "raw_counts": True},
    }


def mesa_model(n_agents: int, seed: int) -> Any:
    """The reduced model in idiomatic Mesa 3: one Agent object per person, shuffle_do."""
    import mesa

    probs = [(rate / 365.0 * q, change) for _, rate, q, change in BEHAVIOURS]

    class Person(mesa.Agent):
        def __init__(self, model: mesa.Model) -> None:
            super().__init__(model)
            self.score = START
            self.blacklisted = False

        def step(self) -> None:
            if self.score < START:
                self.score = min(START, self.score + RECOVERY)
            elif self.score > START:
                self.score = max(START, self.score - RECOVERY)
            rnd = self.random.random
            for p, change in probs:
                if rnd() < p:
                    self.score = min(HIGH, max(LOW, self.score + change))
            if self.blacklisted and self.score >= EXIT:
                self.blacklisted = False
            elif not self.blacklisted and self.score < ENTRY:
                self.blacklisted = True

    class Reduced(mesa.Model):
        def __init__(self) -> None:
            super().__init__(rng=seed)
            Person.create_agents(self, n_agents)

        def step(self) -> None:
            self.agents.shuffle_do("step")

    return Reduced()
