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

Awareness (MODEL.md section 10): only the share k who know a behaviour is scored respond, so the
rate is multiplied by (1 - k) + k x max(0, 1 - elasticity x perceived): on average base x
(1 - k e q). k is by behaviour, urban or rural, day (``rules.published`` raises it) and, where
groups declare awareness multipliers, by group. A lawful behaviour ``chilled_by`` a scored one
is never recorded; among those who know the scored one is, its rate is multiplied by max(0,
1 - chilling_elasticity x perceived probability of the scored one). The events that deterrence
or chilling prevent are counted (``lam_deterred``).

Appeals need to know whether the person a record is against knows the rule: for a wrongful
record, anybody in the place, so k; for a rightful one, somebody who did it, which those who know
do less: k x response / ((1 - k) + k x response) (``know_wrongful``, ``know_rightful``).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import numpy as np

from .population import Population
from .rollout import join_days
from .scenario import Scenario, schedule_values
from .surveillance import attribution, coverage

__all__ = ["BehaviourModel", "CHANNELS", "DayTables"]

CHANNELS = ("records", "court", "online", "camera")
CAMERA = CHANNELS.index("camera")
COURT = CHANNELS.index("court")


class DayTables(NamedTuple):
    """One day's tables, each (localities x behaviours[, groups])."""

    rate: np.ndarray  # (L, B, G or 1) events per person-day by group (1: the same for all),
    # before the age and propensity factor
    q_right: np.ndarray  # (L, B) probability an event is recorded against its doer
    lam_right: np.ndarray  # (L, B) expected events recorded rightly
    lam_wrong: np.ndarray  # (L, B) ... recorded against a wrong person
    lam_missed: np.ndarray  # (L, B) ... not recorded
    lam_deterred: np.ndarray  # (L, B) ... prevented by deterrence or chilling
    know_right: np.ndarray  # (L, B, G or 1) the doer of a rightful record knows the rule
    know_wrong: np.ndarray  # (L, B, G or 1) the person of a wrongful record knows the rule


class BehaviourModel:
    """Static per-behaviour tables, camera coverage and the day each locality joins the
    system, plus the daily deterrence state."""

    def __init__(self, scenario: Scenario, pop: Population, days: list[dt.date], seed: int):
        bs = scenario.behaviours
        urban_share = float(pop.loc_scored[pop.loc_urban].sum() / max(pop.n_scored, 1))
        self.coverage = coverage(scenario, days, scenario.population.size, urban_share)
        self.loc_urban = pop.loc_urban
        self.joined_day = join_days(scenario, pop, seed)
        self.names = [b.name for b in bs]
        self.channel = np.array([CHANNELS.index(b.channel) for b in bs], dtype=np.int8)
        self.change = np.array([b.score_change for b in bs], dtype=np.int32)
        self.shaming = np.array([b.shaming_probability for b in bs])
        self.listing = np.array([b.listing_probability for b in bs])
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
        # people x block factor, summed by group: (localities, behaviours, groups), one group's
        # blocks at a time (all blocks at once: 0.4 GB at 1.4 billion agents)
        people = np.diff(pop.blocks, axis=1)
        self.group_weight = np.stack(
            [
                (people[:, None, g] * self.block_factor[None, :, g]).sum(axis=2)
                for g in (pop.block_group == k for k in range(len(groups) + 1))
            ],
            axis=2,
        )
        self.people = self.group_weight.sum(axis=2)  # (localities, behaviours)
        self.weight_of_group = np.ascontiguousarray(self.group_weight.transpose(2, 0, 1))
        self.block_court = np.array([1.0] + [g.court_listing_multiplier for g in groups])[
            pop.block_group
        ]
        self.perceived: np.ndarray | None = None

        # awareness (module docstring): a chilled behaviour responds to its scored neighbour
        index = {b.name: i for i, b in enumerate(bs)}
        self.fear = np.array([index.get(b.chilled_by or b.name) for b in bs], dtype=np.int64)
        self.response = np.array([b.deterrence_elasticity + b.chilling_elasticity for b in bs])
        self.responds = self.response > 0
        rules = scenario.rules
        aware = np.ones((2, len(days), len(bs)))  # rural, urban
        for bi, b in enumerate(bs):
            rural = b.awareness if b.awareness_rural is None else b.awareness_rural
            aware[1, :, bi] = schedule_values(b.awareness, days)
            aware[0, :, bi] = schedule_values(rural, days)
        if rules.published is not None:
            after = np.array([d >= rules.published for d in days])
            aware[:, after] = np.maximum(aware[:, after], rules.awareness_when_published)
        self.aware = aware[:, :, self.fear]  # a chilled behaviour: who know its neighbour
        self.group_aware = np.ones((len(bs), len(groups) + 1))
        for gi, g in enumerate(groups):
            for bi in range(len(bs)):
                name = bs[self.fear[bi]].name
                self.group_aware[bi, gi + 1] = g.awareness_multipliers.get(name, 1.0)
        self.by_group = bool((self.group_aware != 1.0).any())
        self.urban = pop.loc_urban
        self.n_groups = len(groups) + 1

        # listings at discretion (MODEL.md section 10): per block by its group, and their
        # expected number a day in each locality; everywhere, whatever the rollout
        disc = scenario.discretionary_listing
        per_group = [disc.per_year] + [
            disc.per_year if g.discretionary_listing_per_year is None
            else g.discretionary_listing_per_year
            for g in groups
        ]  # fmt: skip
        self.disc_block_rate = np.array(per_group)[pop.block_group] / 365.0
        self.lam_discretion = (np.diff(pop.blocks, axis=1) * self.disc_block_rate).sum(axis=1)

    def day_tables(self, t: int, appeals: bool = False) -> DayTables:
        """The tables of day ``t`` (``DayTables``); advances the perceived probabilities.
        ``appeals``: fill the awareness tables appeals need (else they are empty)."""
        joined = self.joined_day <= t
        cov_u, cov_r = self.coverage
        cov = np.where(self.loc_urban, cov_u[t], cov_r[t])
        is_cam = self.channel == CAMERA
        j = (joined[:, None] | ~self.follows_rollout[None, :]).astype(float)
        cam_right, cam_wrong = attribution(cov[:, None], self.fnir, self.fpir)
        q_right = j * np.where(is_cam, cam_right, self.record[t][None, :])
        q_wrong = j * np.where(is_cam, cam_wrong, 0.0)
        if self.perceived is None:
            self.perceived = q_right.copy()
        else:
            self.perceived += (q_right - self.perceived) / self.lag
        response = np.maximum(0.0, 1.0 - self.response * self.perceived[:, self.fear])
        k = np.where(self.urban[:, None], self.aware[1, t], self.aware[0, t])  # (L, B)
        base = self.rate[t][None, :] * self.loc_mult
        people = self.people
        if self.by_group:
            capped = np.minimum(1.0, q_right[:, :, None] * self.group_record[None, None, :])
            k = np.minimum(1.0, k[:, :, None] * self.group_aware[None, :, :])  # (L, B, G)
            factor = (1.0 - k) + k * response[:, :, None]
            rate = base[:, :, None] * factor
            total = (rate * self.group_weight).sum(axis=2)
            lam_right = (rate * self.group_weight * capped).sum(axis=2)
        else:  # one factor for every group (as many multiplications as before awareness)
            factor = (1.0 - k) + k * response
            rate2 = base * factor
            total = rate2 * people
            # the sum over groups of their weight times their capped probability, group by
            # group: the same sum in the same order as over a (L, B, G) product, 5 times faster
            recorded = self.weight_of_group[0] * np.minimum(1.0, q_right * self.group_record[0])
            for w, record in zip(self.weight_of_group[1:], self.group_record[1:], strict=True):
                recorded += w * np.minimum(1.0, q_right * record)
            lam_right = rate2 * recorded
            rate = rate2[:, :, None]  # one rate for every group
        lam_wrong = np.minimum(total * q_wrong, total - lam_right)
        lam_missed = np.maximum(0.0, total - lam_right - lam_wrong)
        lam_deterred = np.where(self.responds, np.maximum(0.0, base * people - total), 0.0)
        if appeals:  # (L, B, 1) where every group knows alike, as ``rate``
            if k.ndim == 2:
                k, factor = k[:, :, None], factor[:, :, None]
            know_wrong = k
            know_right = np.divide(
                k * response[:, :, None], factor, out=np.zeros_like(k), where=factor > 0
            )
        else:
            know_wrong = know_right = np.zeros((1, 1, 1))
        return DayTables(
            rate, q_right, lam_right, lam_wrong, lam_missed, lam_deterred, know_right, know_wrong
        )
