"""Behaviours: who does what how often, how it may be recorded, and deterrence (MODEL.md 3).

For each behaviour the engine needs, every day and for every locality, the rate per person and
the probability that an event is recorded against its doer (and, for cameras, against a wrong
person). Rates factor into a per-behaviour base (schedule), a per-locality factor (urban or
rural, deterrence) and a per-block factor (age band, group, propensity class), so the daily
tables are small: (localities x behaviours), never per person.

Rollout: a behaviour that ``follows_rollout`` (the default) is recorded only in localities that
have joined; one that does not (the courts' list, national since 2013) is recorded everywhere.

Deterrence: the rate is multiplied by max(0, 1 - elasticity x perceived), where the perceived
probability of being recorded follows the real one as an exponential average with a lag of
``perception_lag_days``; it starts at the real value of the first day (the system was known).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from .population import Population
from .scenario import Scenario, schedule_values
from .surveillance import attribution

__all__ = ["BehaviourModel", "CHANNELS"]

CHANNELS = ("records", "court", "online", "camera")
CAMERA = CHANNELS.index("camera")
COURT = CHANNELS.index("court")


class BehaviourModel:
    """Static per-behaviour tables plus the daily deterrence state."""

    def __init__(self, scenario: Scenario, pop: Population, days: list[dt.date]):
        bs = scenario.behaviours
        self.names = [b.name for b in bs]
        self.channel = np.array([CHANNELS.index(b.channel) for b in bs], dtype=np.int8)
        self.change = np.array([b.score_change for b in bs], dtype=np.int32)
        self.shaming = np.array([b.shaming_probability for b in bs])
        self.listing = np.array([b.listing_probability for b in bs])
        self.elasticity = np.array([b.deterrence_elasticity for b in bs])
        self.lag = np.array([b.perception_lag_days for b in bs])
        self.follows_rollout = np.array([b.follows_rollout for b in bs], dtype=bool)
        sv = scenario.surveillance
        self.fnir = np.array([sv.fnir if b.fnir is None else b.fnir for b in bs])
        self.fpir = np.array([sv.fpir if b.fpir is None else b.fpir for b in bs])
        mult = np.array([[b.rural_multiplier, b.urban_multiplier] for b in bs]).reshape(-1, 2)
        self.loc_mult = mult[:, pop.loc_urban.astype(int)].T  # (n_loc, B)
        self.rate = (
            np.array([schedule_values(b.rate, days) for b in bs]).reshape(len(bs), -1).T / 365.0
        )
        self.record = (
            np.array([schedule_values(b.record_probability, days) for b in bs])
            .reshape(len(bs), -1)
            .T
        )

        groups = scenario.groups
        g_rate = np.ones((len(bs), len(groups) + 1))
        for gi, g in enumerate(groups):
            for bi, b in enumerate(bs):
                g_rate[bi, gi + 1] = g.rate_multipliers.get(b.name, 1.0)
        ages = ("adult", "senior")
        self.block_factor = np.zeros((len(bs), pop.n_blocks))
        for bi, b in enumerate(bs):
            age_ok = np.isin(np.array(ages)[pop.block_age], b.ages)
            prop = {
                "rule_breaking": pop.r_values[pop.block_rclass],
                "pro_social": pop.p_values[pop.block_pclass],
                "none": np.ones(pop.n_blocks),
            }[b.propensity]
            self.block_factor[bi] = age_ok * g_rate[bi, pop.block_group] * prop
        self.group_record = np.array([1.0] + [g.record_multiplier for g in groups])
        self.block_record = self.group_record[pop.block_group]
        # people x block factor, summed by group: (localities, behaviours, groups)
        weight = np.diff(pop.blocks, axis=1)[:, None, :] * self.block_factor[None, :, :]
        self.group_weight = np.stack(
            [weight[:, :, pop.block_group == g].sum(axis=2) for g in range(len(groups) + 1)],
            axis=2,
        )
        self.block_court = np.array([1.0] + [g.court_listing_multiplier for g in groups])[
            pop.block_group
        ]
        self.perceived: np.ndarray | None = None

    def day_tables(
        self, t: int, joined: np.ndarray, cov: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For day ``t``, each (localities x behaviours): the rate per person-day, the probability
        an event is recorded against its doer, and the expected numbers of events recorded
        rightly, recorded wrongly and not recorded. Advances the perceived probabilities."""
        is_cam = self.channel == CAMERA
        j = (joined[:, None] | ~self.follows_rollout[None, :]).astype(float)
        cam_right, cam_wrong = attribution(cov[:, None], self.fnir, self.fpir)
        q_right = j * np.where(is_cam, cam_right, self.record[t][None, :])
        q_wrong = j * np.where(is_cam, cam_wrong, 0.0)
        if self.perceived is None:
            self.perceived = q_right.copy()
        else:
            self.perceived += (q_right - self.perceived) / self.lag
        deter = np.maximum(0.0, 1.0 - self.elasticity * self.perceived)
        rate = self.rate[t][None, :] * self.loc_mult * deter
        total = rate * self.group_weight.sum(axis=2)
        capped = np.minimum(1.0, q_right[:, :, None] * self.group_record[None, None, :])
        lam_right = rate * (self.group_weight * capped).sum(axis=2)
        lam_wrong = np.minimum(total * q_wrong, total - lam_right)
        lam_missed = np.maximum(0.0, total - lam_right - lam_wrong)
        return rate, q_right, lam_right, lam_wrong, lam_missed
