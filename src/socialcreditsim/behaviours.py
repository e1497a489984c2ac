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

from .jit import Kernel, nb
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
        cov_u, cov_r = coverage(scenario, days, scenario.population.size, urban_share)
        self.names = [b.name for b in bs]
        self.channel = np.array([CHANNELS.index(b.channel) for b in bs], dtype=np.int8)
        self.change = np.array([b.score_change for b in bs], dtype=np.int32)
        self.shaming = np.array([b.shaming_probability for b in bs])
        self.listing = np.array([b.listing_probability for b in bs])
        sv = scenario.surveillance
        mult = np.array([[b.rural_multiplier, b.urban_multiplier] for b in bs]).reshape(-1, 2)

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
        group_record = np.array([1.0] + [g.record_multiplier for g in groups])
        self.block_record = group_record[pop.block_group]
        # people x block factor, summed by group: (localities, behaviours, groups), one group's
        # blocks at a time (all blocks at once: 0.4 GB at 1.4 billion agents)
        people = np.diff(pop.blocks, axis=1)
        group_weight = np.stack(
            [
                (people[:, None, g] * self.block_factor[None, :, g]).sum(axis=2)
                for g in (pop.block_group == k for k in range(len(groups) + 1))
            ],
            axis=2,
        )
        self.block_court = np.array([1.0] + [g.court_listing_multiplier for g in groups])[
            pop.block_group
        ]
        self.perceived: np.ndarray | None = None

        # awareness (module docstring): a chilled behaviour responds to its scored neighbour
        index = {b.name: i for i, b in enumerate(bs)}
        fear = np.array([index.get(b.chilled_by or b.name) for b in bs], dtype=np.int64)
        response = np.array([b.deterrence_elasticity + b.chilling_elasticity for b in bs])
        rules = scenario.rules
        aware = np.ones((2, len(days), len(bs)))  # rural, urban
        for bi, b in enumerate(bs):
            rural = b.awareness if b.awareness_rural is None else b.awareness_rural
            aware[1, :, bi] = schedule_values(b.awareness, days)
            aware[0, :, bi] = schedule_values(rural, days)
        if rules.published is not None:
            after = np.array([d >= rules.published for d in days])
            aware[:, after] = np.maximum(aware[:, after], rules.awareness_when_published)
        aware = np.ascontiguousarray(aware[:, :, fear])  # a chilled behaviour: who know its
        # scored neighbour
        group_aware = np.ones((len(bs), len(groups) + 1))
        for gi, g in enumerate(groups):
            for bi in range(len(bs)):
                name = bs[fear[bi]].name
                group_aware[bi, gi + 1] = g.awareness_multipliers.get(name, 1.0)

        self._static = _Static(
            joined_day=join_days(scenario, pop, seed),
            follows_rollout=np.array([b.follows_rollout for b in bs], dtype=bool),
            urban=pop.loc_urban,
            cov_u=np.asarray(cov_u, dtype=float),
            cov_r=np.asarray(cov_r, dtype=float),
            channel=self.channel,
            fnir=np.array([sv.fnir if b.fnir is None else b.fnir for b in bs], dtype=float),
            fpir=np.array([sv.fpir if b.fpir is None else b.fpir for b in bs], dtype=float),
            record=np.array([schedule_values(b.record_probability, days) for b in bs], dtype=float)
            .reshape(len(bs), -1)
            .T.copy(),
            lag=np.array([b.perception_lag_days for b in bs], dtype=float),
            fear=fear,
            response=response,
            aware=aware,
            rate=np.array([schedule_values(b.rate, days) for b in bs], dtype=float)
            .reshape(len(bs), -1)
            .T
            / 365.0,
            loc_mult=mult[:, pop.loc_urban.astype(int)].T.copy(),  # (n_loc, B)
            people=group_weight.sum(axis=2),  # (localities, behaviours)
            group_weight=group_weight,
            group_record=group_record,
            group_aware=group_aware,
            by_group=bool((group_aware != 1.0).any()),
        )
        self._tables = Kernel(_day_tables)

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

    def day_tables(self, t: int, appeals: bool = False, out: DayTables | None = None) -> DayTables:
        """The tables of day ``t`` (``DayTables``); advances the perceived probabilities.
        ``appeals``: fill the awareness tables appeals need (else they are zeros of one cell).
        ``out``: tables to fill (``empty_tables``), as a run does day after day: making and
        returning eight arrays a day took 5 us of the day's 60 us of Python at 100,000 agents."""
        first = self.perceived is None
        if self.perceived is None:
            self.perceived = np.empty_like(self._static.people)
        out = self.empty_tables(appeals) if out is None else out
        if appeals and out.know_right.shape != out.rate.shape:
            raise ValueError("day_tables(appeals=True) needs tables made by empty_tables(True)")
        self._tables(self._static, t, first, appeals, self.perceived, out)
        return out

    def empty_tables(self, appeals: bool = False) -> DayTables:
        """Tables of the shapes ``day_tables`` fills."""
        n_l, n_b = self._static.people.shape
        n_r = len(self._static.group_record) if self._static.by_group else 1
        lb = (n_l, n_b)
        know = (n_l, n_b, n_r) if appeals else (1, 1, 1)
        return DayTables(
            np.empty((n_l, n_b, n_r)), np.empty(lb), np.empty(lb), np.empty(lb), np.empty(lb),
            np.empty(lb), np.zeros(know), np.zeros(know),
        )  # fmt: skip


class _Static(NamedTuple):
    """What the day tables are made of, as ``BehaviourModel`` holds it (the kernel's input):
    L localities, B behaviours, G groups (the general population first), T days."""

    joined_day: np.ndarray  # (L,) the day each locality joins the system
    follows_rollout: np.ndarray  # (B,) recorded only where the locality has joined
    urban: np.ndarray  # (L,)
    cov_u: np.ndarray  # (T,) camera coverage, urban
    cov_r: np.ndarray  # (T,) ... rural
    channel: np.ndarray  # (B,) index in CHANNELS
    fnir: np.ndarray  # (B,)
    fpir: np.ndarray  # (B,)
    record: np.ndarray  # (T, B) probability an event is recorded (channels but cameras)
    lag: np.ndarray  # (B,) perception lag, days
    fear: np.ndarray  # (B,) the behaviour whose recording deters it (itself, or for a chilled
    # one its scored neighbour)
    response: np.ndarray  # (B,) deterrence plus chilling elasticity
    aware: np.ndarray  # (2, T, B) who know the rule, rural and urban
    rate: np.ndarray  # (T, B) events per person-day, before the factors below
    loc_mult: np.ndarray  # (L, B) urban or rural multiplier
    people: np.ndarray  # (L, B) people weighted by their block factors
    group_weight: np.ndarray  # (L, B, G) ... by group
    group_record: np.ndarray  # (G,) record probability multiplier
    group_aware: np.ndarray  # (B, G) awareness multiplier
    by_group: bool  # some group's awareness differs: rates by group


@nb.njit(cache=True, inline="always")
def _group_sum(x: np.ndarray) -> float:
    """The sum over the groups (at most 8: ``scenario.MAX_GROUPS`` and the general population)
    as NumPy's ``sum`` adds them, one by one below 8 and pairwise at 8, so the tables are the
    same to the bit as the array expressions they replace."""
    if len(x) < 8:
        total = 0.0
        for v in x:
            total += v
        return total
    return ((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7]))


@nb.njit(cache=True)
def _day_tables(
    T: _Static, t: int, first: bool, appeals: bool, perceived: np.ndarray, out: DayTables
) -> None:
    """``DayTables`` of day ``t`` into ``out``, advancing ``perceived`` (set to the real
    probability on the ``first`` day). A loop over localities and behaviours: as NumPy
    expressions over the (L, B) arrays, some forty calls a day took 0.2 ms at 63 localities
    (0.2 s of a 1M-agent run)."""
    n_l, n_b = T.people.shape
    n_g = len(T.group_record)
    q_right = out.q_right
    q_wrong = np.empty((n_l, n_b))
    for i in range(n_l):
        joined = T.joined_day[i] <= t
        cov = T.cov_u[t] if T.urban[i] else T.cov_r[t]
        for b in range(n_b):
            j = 1.0 if joined or not T.follows_rollout[b] else 0.0
            if T.channel[b] == CAMERA:
                right, wrong = attribution(cov, T.fnir[b], T.fpir[b])
            else:
                right, wrong = T.record[t, b], 0.0
            q_right[i, b] = j * right
            q_wrong[i, b] = j * wrong
            if first:
                perceived[i, b] = q_right[i, b]
            else:
                perceived[i, b] += (q_right[i, b] - perceived[i, b]) / T.lag[b]
    n_r = n_g if T.by_group else 1  # rates by group, or one for every group
    rate, lam_right, lam_wrong, lam_missed = out.rate, out.lam_right, out.lam_wrong, out.lam_missed
    lam_deterred, know_right, know_wrong = out.lam_deterred, out.know_right, out.know_wrong
    weighted = np.empty(n_g)
    recorded = np.empty(n_g)
    for i in range(n_l):
        aware = T.aware[1 if T.urban[i] else 0, t]
        for b in range(n_b):
            q = q_right[i, b]
            response = max(0.0, 1.0 - T.response[b] * perceived[i, T.fear[b]])
            base = T.rate[t, b] * T.loc_mult[i, b]
            people = T.people[i, b]
            for g in range(n_r):
                k = min(1.0, aware[b] * T.group_aware[b, g]) if T.by_group else aware[b]
                factor = (1.0 - k) + k * response
                r = base * factor
                rate[i, b, g] = r
                if appeals:
                    know_wrong[i, b, g] = k
                    know_right[i, b, g] = k * response / factor if factor > 0 else 0.0
                if T.by_group:
                    weighted[g] = r * T.group_weight[i, b, g]
                    recorded[g] = weighted[g] * min(1.0, q * T.group_record[g])
            if T.by_group:
                total = _group_sum(weighted)
                right = _group_sum(recorded)
            else:  # the sum over groups of their weight times their capped probability
                r = rate[i, b, 0]
                total = r * people
                w = T.group_weight[i, b, 0] * min(1.0, q * T.group_record[0])
                for g in range(1, n_g):
                    w += T.group_weight[i, b, g] * min(1.0, q * T.group_record[g])
                right = r * w
            wrong = min(total * q_wrong[i, b], total - right)
            lam_right[i, b] = right
            lam_wrong[i, b] = wrong
            lam_missed[i, b] = max(0.0, total - right - wrong)
            lam_deterred[i, b] = max(0.0, base * people - total) if T.response[b] > 0 else 0.0
