"""The engine: builds the state and runs the days (MODEL.md sections 7 and 8).

``Sim(scenario, n_agents=..., seed=...).run()`` returns :class:`~socialcreditsim.results.Results`.
The day loop is Python; everything per person or per event is in ``kernels`` (Numba).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import checkpoint as ckpt
from . import kernels as kn
from .audit import audit_sample
from .behaviours import COURT, BehaviourModel
from .memory import NotEnoughMemory, appeals_on, available_memory, capacities, estimate_memory, pow2
from .population import Population, build_population
from .results import Results
from .sanctions import Measures, compile_measures
from .scenario import Scenario, ScenarioError, check_whole, load_scenario
from .scoring import recovery_rate
from .series import TimeseriesLayout
from .tables import build_results, snapshot_rows

__all__ = ["Shard", "Sim", "combine", "locality_work", "run_shard", "shard_ranges"]


class Sim:
    """One run of one scenario on N agents with one seed.

    >>> res = Sim("rongcheng", n_agents=100_000, seed=1).run()   # doctest: +SKIP
    >>> res.headline()                                             # doctest: +SKIP
    """

    def __init__(
        self,
        scenario: str | Path | dict[str, Any] | Scenario = "national",
        n_agents: int = 1_000_000,
        seed: int = 0,
        overrides: list[str] | dict[str, Any] | None = None,
        threads: int | None = None,
    ):
        # None: one per core, and one per half a million scored people
        self.threads = None if threads is None else check_whole(threads, "threads", 1, 1024)
        self.scenario = load_scenario(scenario, overrides)
        if not self.scenario.behaviours:  # a scenario may describe only a population; a run not
            raise ScenarioError(
                "behaviours: a run needs at least one [[behaviours]] table (without behaviours"
                " nothing is ever recorded or scored)"
            )
        size = self.scenario.population.size
        self.n_agents = check_whole(
            n_agents, "n_agents", 1, size, "each agent stands for at least one person of"
            " population.size"
        )  # fmt: skip
        self.seed = check_whole(seed, "seed", 0, 2**63 - 1)
        self.results: Results | None = None
        # after run(): the final state, for inspection and tests
        self.population: Population | None = None
        self.state: kn.State | None = None
        self.measures: Measures | None = None

    def check_memory(self) -> int:
        """Raise :class:`NotEnoughMemory` if the run cannot fit; return the estimate in bytes."""
        need = sum(estimate_memory(self.scenario, self.n_agents).values())
        have = available_memory()
        if need > have:
            raise NotEnoughMemory(
                f"--agents {self.n_agents:,}: the run needs about {need / 2**30:.1f} GiB but only "
                f"{have / 2**30:.1f} GiB is available; use fewer agents"
            )
        return need

    def run(
        self,
        progress: Callable[[int, int], None] | None = None,
        cluster: Any = None,
        shards: int | None = None,
        checkpoint: ckpt.Checkpointing | None = None,
    ) -> Results:
        """Run every day; ``progress(done, total)`` is called after each simulated day.

        With ``cluster`` (a Dask ``Client``, ``"local:N"``, a scheduler address or file; see
        docs/cluster.md) or ``shards``, the localities are split into ``shards`` ranges
        (default: one per worker), each run by a worker (on the cluster, else in local
        processes); the results are byte-identical to one process, and progress counts the
        days the shards have simulated, on average. The final state (``self.state``) is then
        not brought back.

        ``checkpoint``: write the whole state into ``checkpoint.folder`` every
        ``checkpoint.every`` days (each shard its own, ``checkpoint.py``), and with
        ``checkpoint.resume`` first continue from the checkpoint there, split as it was; the
        results are byte-identical to a run without. The folder is left for the caller to
        remove once the results are saved.
        """
        split = None
        if checkpoint is not None:
            checkpoint = dataclasses.replace(checkpoint, folder=checkpoint.folder.absolute())
            split = ckpt.read_split(checkpoint.folder) if checkpoint.resume else None
            if split is not None and shards is not None and shards != len(split):
                raise ckpt.CheckpointError(
                    f"{checkpoint.folder}: the run was split into {len(split)} shards; resume it"
                    f" with {len(split)} shards (or leave the number out)"
                )
            if checkpoint.resume and split is None and (cluster is not None or shards):
                raise ckpt.CheckpointError(
                    f"{checkpoint.folder}: the checkpoint of a run in one process; resume it in"
                    " one process (without a cluster or shards)"
                )
        if cluster is None:  # on a cluster, each worker holds only its shard
            self.check_memory()
        sc, n, seed = self.scenario, self.n_agents, self.seed
        self.population = pop = build_population(sc, n, seed)
        self.measures = compile_measures(sc)
        if split is not None and not ckpt.covers(split, pop.n_localities):
            raise ckpt.CheckpointError(
                f"{checkpoint.folder / ckpt.SPLIT}: its shards {split} do not cover the"
                f" {pop.n_localities} localities of this run"
            )
        if cluster is None and shards is None and split is None:
            whole = run_shard(
                sc, n, seed, 0, pop.n_localities, self.threads, progress, pop, checkpoint, True
            )
            self.state, parts = whole.state, [whole]
        else:
            from .executor import executor_for

            n_days = (sc.time.end - sc.time.start).days + 1
            with executor_for(cluster, threads=self.threads) as ex:
                ranges = split or shard_ranges(
                    pop, shards or ex.workers, locality_work(sc, pop, seed)
                )
                if checkpoint is not None and split is None:
                    ckpt.save_split(checkpoint.folder, ranges)
                # the population's layout goes with each shard (1.7 MB at 10^8 agents, faster
                # to send than to build again)
                jobs = [
                    ShardJob(sc, n, seed, lo, hi, self.threads or 1, pop,
                             None if checkpoint is None else checkpoint.shard(lo, hi))
                    for lo, hi in ranges
                ]  # fmt: skip
                parts = ex.map(_run_shard_job, jobs, progress, steps=n_days)
            self.state = None
        self.results = combine(sc, pop, seed, parts)
        return self.results


@dataclass
class Shard:
    """What localities ``lo`` to ``hi`` produced over a whole run: per-day sums by region, the
    snapshots summed by (region, urban or rural) cell, and the audit records by day (index 0:
    the state at the start). Localities share nothing between days, so shards of one run are
    independent, and their sums are the run's (``combine``)."""

    lo: int
    hi: int
    flows: np.ndarray  # (days, regions, flows)
    stocks: np.ndarray  # (days, regions, stocks)
    scans: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]  # (day, hist, stats, child)
    audit: list[np.ndarray]
    timings: dict[str, float]
    state: kn.State | None = None


WORK_PER_EVENT = 2.0  # a recorded event costs about what two scored person-years cost
WORK_SAMPLE_DAYS = 30  # the events of the run are estimated from every 30th day


def locality_work(sc: Scenario, pop: Population, seed: int) -> np.ndarray:
    """What each locality costs to run, in scored person-years: its scored people (their start
    and snapshots) plus :data:`WORK_PER_EVENT` times its expected recorded events (measured with
    benchmarks/kernels.py on ``national`` at 10^7: 84 ns a person-year, 158 ns an event). The
    events come from the day tables of every 30th day: rollout, urban and rural rates and
    cameras make them differ by region, up to 30% between the two halves of ``national``."""
    n_days = (sc.time.end - sc.time.start).days + 1
    sample = list(range(0, n_days, WORK_SAMPLE_DAYS))
    days = [sc.time.start + dt.timedelta(days=t) for t in range(n_days)]
    beh = BehaviourModel(sc, pop, days, seed)
    events = np.zeros(pop.n_localities)
    for t in sample:
        d = beh.day_tables(t)
        events += (d.lam_right + d.lam_wrong).sum(axis=1)
    return pop.loc_scored * (n_days / 365) + WORK_PER_EVENT * events * (n_days / len(sample))


def shard_ranges(
    pop: Population, shards: int, work: np.ndarray | None = None
) -> list[tuple[int, int]]:
    """``shards`` contiguous ranges of localities with about as much ``work`` each (per
    locality, e.g. :func:`locality_work`; default: the scored people)."""
    shards = max(1, min(shards, pop.n_localities))
    cum = np.cumsum(pop.loc_scored if work is None else work)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, shards) / shards, side="right")
    edges = np.unique(np.concatenate([[0], cuts, [pop.n_localities]]))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


class ShardJob(NamedTuple):
    """What a worker needs to run one shard of a run (``run_shard``)."""

    scenario: Scenario
    n_agents: int
    seed: int
    lo: int
    hi: int
    threads: int
    population: Population
    checkpoint: ckpt.Checkpointing | None


def _run_shard_job(job: ShardJob, progress: Callable[[int, int], None]) -> Shard:
    sc, n, seed, lo, hi, threads, pop, checkpoint = job
    return run_shard(sc, n, seed, lo, hi, threads, progress, pop, checkpoint)


def run_shard(
    sc: Scenario,
    n_agents: int,
    seed: int,
    lo: int,
    hi: int,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    pop: Population | None = None,
    checkpoint: ckpt.Checkpointing | None = None,
    keep_state: bool = False,
) -> Shard:
    """Run localities ``lo`` to ``hi`` of a run for every day. Everything is indexed as in the
    whole run (random streams by locality and day), and only the range's part of each array is
    ever written, so memory is the range's: untouched pages of the whole-run arrays are never
    allocated by the operating system. ``pop``: the run's population, if already built.
    ``checkpoint``: where and how often to save the state after a day, and whether to continue
    from the saved one. ``keep_state``: keep the final state (``Shard.state``) for inspection."""
    t0 = time.perf_counter()
    n_days = (sc.time.end - sc.time.start).days + 1
    days = [sc.time.start + dt.timedelta(days=i) for i in range(n_days)]
    meta = ckpt.run_meta(sc, n_agents, seed, lo, hi)
    saved = None
    if checkpoint is not None and checkpoint.resume:  # refused before any work if not this run's
        saved = ckpt.load(checkpoint.folder, meta)
    pop = pop or build_population(sc, n_agents, seed)
    if not 0 <= lo < hi <= pop.n_localities:
        raise ValueError(f"localities {lo} to {hi}: not a range of 0 to {pop.n_localities}")
    beh = BehaviourModel(sc, pop, days, seed)
    measures = compile_measures(sc)
    K = _params(sc, pop, measures, beh, n_days, seed)
    L = kn.Layout(
        pop.loc_scored_start,
        pop.loc_scored,
        pop.loc_children,
        pop.loc_adults,
        pop.loc_parents,
        pop.loc_stride_inv,
        pop.loc_urban,
        pop.blocks,
    )
    S = kn.new_state(pop.n_scored)
    layout = TimeseriesLayout(sc, beh.names)
    regions = _GroupSum(pop.loc_region, len(pop.region_names), lo, hi)
    flows = np.zeros((n_days, regions.n, layout.n_flows), dtype=np.int64)
    stocks = np.zeros((n_days, regions.n, layout.n_stocks), dtype=np.int64)
    snap = _Snapshots(sc, pop, days, lo, hi)
    # by default a thread per half a million scored people at most: below that, handing each
    # day to threads costs more than it brings (the output is the same either way)
    scored = int(pop.loc_scored[lo:hi].sum())
    threads = threads or min(len(os.sched_getaffinity(0)), max(1, scored // 500_000))
    par = kn.Parallel(lo, hi, threads)
    try:
        if saved is None:
            first, spent = 0, 0.0
            ini = sc.initial
            cap, lcap = capacities(sc, int(pop.loc_scored.max()))
            B = _books(pop.n_localities, lo, hi, n_days, cap, layout, lcap, appeals_on(sc))
            audit = [_stack(par(
                kn.init_state, K, L, S, kn.state_bytes(S), B, ini.court_listed_share,
                ini.blacklisted_share, ini.score_sd
            ))]  # fmt: skip
            t_init = time.perf_counter() - t0
        else:
            day, arrays = saved
            B, audit, t_init, spent = _restore(arrays, S, beh, flows, stocks, snap)
            first = day + 1
            if progress is not None:
                progress(first, n_days)
        t_days = time.perf_counter()
        counts = np.zeros((pop.n_localities, len(beh.names), 4), dtype=np.int64)
        discretion = np.zeros(pop.n_localities, dtype=np.int64)
        d = beh.empty_tables(K.ap_on)
        for t in range(first, n_days):
            beh.day_tables(t, K.ap_on, d)
            par(
                kn.plan_day, K.seed, t, d.lam_right, d.lam_wrong, d.lam_missed, d.lam_deterred,
                beh.lam_discretion, counts, discretion,
            )  # fmt: skip
            B = _make_room(par, B, counts, discretion, lo, hi, t, K.ap_on)
            audit.append(_stack(par(
                kn.apply_day, K, L, S, B, t, d.rate, d.q_right, counts, discretion,
                d.know_right, d.know_wrong,
            )))  # fmt: skip
            regions.sum(B.flows, flows[t])
            regions.sum(B.stocks, stocks[t])
            if snap.due(t):
                snap.take(par, K, L, S, B, t)
            if checkpoint is not None and checkpoint.due(t, n_days):
                done_s = spent + time.perf_counter() - t_days
                state = _loop_state(S, B, beh, flows, stocks, snap, audit, t_init, done_s)
                ckpt.save(checkpoint.folder, t, state, {**meta, "every": checkpoint.every})
            if progress is not None:
                progress(t + 1, n_days)
    finally:
        par.close()
    timings = {"init_s": t_init, "days_s": spent + time.perf_counter() - t_days, "threads": threads}
    return Shard(lo, hi, flows, stocks, snap.scans, audit, timings, S if keep_state else None)


def _loop_state(
    S: kn.State,
    B: kn.Books,
    beh: BehaviourModel,
    flows: np.ndarray,
    stocks: np.ndarray,
    snap: _Snapshots,
    audit: list[np.ndarray],
    init_s: float,
    days_s: float,
) -> dict[str, np.ndarray]:
    """Everything the day loop carries from one day to the next, as named arrays (``counts``
    is not among them: each day's plan overwrites it)."""
    shapes = [(snap.cells.n, *a.shape[1:]) for a in (snap.hist, snap.stats, snap.child)]
    scans = [
        np.stack([s[j + 1] for s in snap.scans]) if snap.scans else np.zeros((0, *shape), np.int64)
        for j, shape in enumerate(shapes)
    ]
    assert beh.perceived is not None, "a checkpoint is taken after a day"
    return {
        "state": S.flags.base,
        **{f"books_{name}": a for name, a in zip(kn.Books._fields, B, strict=True)},
        "perceived": beh.perceived,
        "flows": flows,
        "stocks": stocks,
        "scan_days": np.array([s[0] for s in snap.scans], dtype=np.int64),
        "scan_hist": scans[0],
        "scan_stats": scans[1],
        "scan_child": scans[2],
        "audit": np.concatenate(audit),
        "audit_sizes": np.array([len(a) for a in audit], dtype=np.int64),
        "timings": np.array([init_s, days_s]),
    }


def _restore(
    arrays: dict[str, np.ndarray],
    S: kn.State,
    beh: BehaviourModel,
    flows: np.ndarray,
    stocks: np.ndarray,
    snap: _Snapshots,
) -> tuple[kn.Books, list[np.ndarray], float, float]:
    """Put a checkpoint's arrays (``_loop_state``) back into the loop's state; return the books,
    the audit records by day, and the seconds spent initialising and running days before."""
    S.flags.base[...] = arrays["state"]
    beh.perceived = arrays["perceived"]
    flows[...] = arrays["flows"]
    stocks[...] = arrays["stocks"]
    snap.scans = [
        (int(t), h, st, c)
        for t, h, st, c in zip(
            arrays["scan_days"],
            arrays["scan_hist"],
            arrays["scan_stats"],
            arrays["scan_child"],
            strict=True,
        )
    ]
    audit = np.split(arrays["audit"], np.cumsum(arrays["audit_sizes"])[:-1])
    B = kn.Books(*(arrays[f"books_{name}"] for name in kn.Books._fields))
    init_s, days_s = (float(x) for x in arrays["timings"])
    return B, audit, init_s, days_s


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def combine(sc: Scenario, pop: Population, seed: int, shards: list[Shard]) -> Results:
    """The results of a run from its shards, in any order: counts and snapshot cells are
    summed, and the audit table is sorted by person and day (a person's records of a day all
    come from the person's shard, in the order they were made)."""
    n_days = (sc.time.end - sc.time.start).days + 1
    days = [sc.time.start + dt.timedelta(days=i) for i in range(n_days)]
    measures = compile_measures(sc)
    names = [b.name for b in sc.behaviours]
    frames = []
    for k, (t, *_) in enumerate(shards[0].scans):
        hist, stats, child = (sum(s.scans[k][j] for s in shards) for j in (1, 2, 3))
        frames.append(snapshot_rows(days[t], sc, pop, hist, stats, child))
    audit = [a for s in shards for a in s.audit]
    first = shards[0].timings
    timings = {
        "init_s": max(s.timings["init_s"] for s in shards),
        "days_s": max(s.timings["days_s"] for s in shards),
        "threads": first["threads"],
    }
    if len(shards) > 1:
        timings["shards"] = len(shards)
    return build_results(
        scenario=sc,
        population=pop,
        seed=seed,
        days=days,
        layout=TimeseriesLayout(sc, names),
        flows=sum(s.flows for s in shards),
        stocks=sum(s.stocks for s in shards),
        snapshots=frames,
        audit=audit,
        measures=measures,
        behaviour_names=names,
        timings=timings,
    )


def _params(
    sc: Scenario, pop: Population, measures: Measures, beh: BehaviourModel, n_days: int, seed: int
) -> kn.Params:
    stride, offset = audit_sample(pop.n_scored, sc.output.audit_sample, seed)
    bl, court, ap = sc.blacklist, sc.court_list, sc.appeals
    grade_min = np.array([g.min for g in sc.score.grades], dtype=np.int64)
    return kn.Params(
        seed=seed,
        n_days=n_days,
        start=sc.score.start,
        smin=sc.score.min,
        smax=sc.score.max,
        rate=recovery_rate(sc.score.recovery_per_day, sc.score.min, sc.score.max),
        grade_table=_grade_table(grade_min, sc.score.min, sc.score.max),
        grade_up=np.concatenate([[NO_GRADE], grade_min[:-1]]).astype(np.int64),
        grade_dn=np.concatenate([grade_min[:-1], [-NO_GRADE]]).astype(np.int64),
        bl_on=bl.enabled,
        bl_entry=bl.entry_below,
        bl_exit=bl.exit_at,
        bl_min_stay=bl.min_stay_days,
        court_duration=court.duration_days,
        court_extend=court.extend_on_new_record,
        court_base=float(-np.expm1(-court.compliance_per_year / 365.0)),
        court_pay=court.pay_per_blocked_attempt,
        repair=float(-np.expm1(-court.repair_per_year / 365.0)),
        repair_after=court.repair_after_days,
        disc_duration=sc.discretionary_listing.duration_days,
        disc_block_rate=beh.disc_block_rate,
        ap_on=appeals_on(sc),
        ap_prob=ap.probability,
        ap_unaware=ap.unaware_factor,
        ap_undisclosed=ap.undisclosed_factor,
        ap_disclosure=ap.disclosure,
        ap_delay=ap.delay_days,
        ap_random=ap.random_delay,
        ap_success_w=ap.success_wrongful,
        ap_success_r=ap.success_rightful,
        b_appealable=(beh.change < 0) | (beh.channel == COURT),
        block_group=pop.block_group.astype(np.int64),
        m_list=measures.list_mask,
        m_grade=measures.grade_mask,
        m_target=measures.target,
        m_rate_u=measures.per_day_urban,
        m_rate_r=measures.per_day_rural,
        m_reward=measures.is_reward,
        b_channel=beh.channel,
        b_change=beh.change,
        b_shaming=beh.shaming,
        b_listing=beh.listing,
        block_factor=beh.block_factor,
        block_record=beh.block_record,
        block_court=beh.block_court,
        audit_stride=stride,
        audit_offset=offset,
        audit_magic=kn.divisibility_magic(stride, pop.n_scored),
    )


NO_GRADE = 1 << 30  # a threshold no score reaches


def _grade_table(grade_min: np.ndarray, smin: int, smax: int) -> np.ndarray:
    """Grade index (0 = highest) of every score from smin to smax, as ``scoring.grade_of``."""
    scores = np.arange(smin, smax + 1)
    if len(grade_min) == 0:
        return np.zeros(len(scores), dtype=np.int8)
    return (
        (scores[:, None] < grade_min[None, :])
        .sum(axis=1)
        .clip(max=len(grade_min) - 1)
        .astype(np.int8)
    )


def _books(
    n_loc: int,
    lo: int,
    hi: int,
    n_days: int,
    cap: int,
    layout: TimeseriesLayout,
    lcap: int,
    appeals: bool,
) -> kn.Books:
    """Counters, calendars and listed-people tables of every locality, written (so allocated
    by the operating system) for localities ``lo`` to ``hi`` only; the appeals calendar only
    if the scenario has appeals."""

    def calendar(days: int, cap: int, columns: int, counters: int) -> tuple[np.ndarray, ...]:
        meta = np.zeros((n_loc, counters), dtype=np.int32)
        meta[:, kn.CAL_FREE] = -1
        heads = np.zeros((n_loc, days, 2), dtype=np.int32)  # first chunk or entry (-1), count
        heads[lo:hi, :, 0] = -1
        return heads, np.zeros((n_loc, cap, columns), dtype=np.int32), meta

    heads, cal, meta = calendar(n_days, cap, 1 + kn.PER_CHUNK, 4)
    meta[:, kn.CAL_NO_ROOM] = n_days  # no day has a chunk yet
    app_head, app, app_meta = calendar(n_days, 64, 5, 3) if appeals else calendar(1, 1, 5, 3)
    listed = np.zeros((n_loc, lcap, 3), dtype=np.int32)
    listed[lo:hi] = kn.LS_EMPTY
    return kn.Books(
        flows=np.zeros((n_loc, layout.n_flows), dtype=np.int64),
        stocks=np.zeros((n_loc, layout.n_stocks), dtype=np.int64),
        cal_head=heads,
        cal=cal,
        cal_meta=meta,
        listed=listed,
        listed_meta=np.zeros((n_loc, 1), dtype=np.int32),
        app_head=app_head,
        app=app,
        app_meta=app_meta,
    )


def _make_room(
    par: kn.Parallel,
    B: kn.Books,
    counts: np.ndarray,
    discretion: np.ndarray,
    lo: int,
    hi: int,
    t: int,
    appeals: bool,
) -> kn.Books:
    """The books of localities ``lo`` to ``hi`` with room for whatever day ``t``'s visits may
    add (``kn.room_short``): revisit chunks, appeal entries, and listed-people tables kept
    under half full (grown when they could not be)."""
    cal_short, live, app_short = par.one(kn.room_short, B, counts, discretion, lo, hi, t, appeals)
    if cal_short > 0:
        B = B._replace(cal=_grown(B.cal, lo, hi, cal_short))
    if app_short > 0:
        B = B._replace(app=_grown(B.app, lo, hi, app_short))
    if 2 * live > B.listed.shape[1]:
        new = np.zeros((B.listed.shape[0], pow2(3 * live), 3), dtype=np.int32)
        kn.rehash_listed(lo, hi, B.listed, new, B.listed_meta)
        B = B._replace(listed=new)
    return B


def _grown(old: np.ndarray, lo: int, hi: int, short: int) -> np.ndarray:
    """``old`` with at least ``short`` more rows a locality (twice as many, at least)."""
    cap = old.shape[1]
    new = np.zeros((old.shape[0], max(2 * cap, cap + short), old.shape[2]), dtype=old.dtype)
    new[lo:hi, :cap] = old[lo:hi]
    return new


class _GroupSum:
    """Sums per-locality arrays of localities ``lo`` to ``hi`` into ``n`` groups by ``key`` (a
    group per locality)."""

    def __init__(self, key: np.ndarray, n: int, lo: int, hi: int):
        self.key, self.n, self.lo, self.hi = key.astype(np.int64), n, lo, hi

    def sum(self, per_loc: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The sums, into ``out`` if given (a C-contiguous array of the sums' shape)."""
        if out is None:
            out = np.empty((self.n,) + per_loc.shape[1:], dtype=per_loc.dtype)
        rows = per_loc.reshape(len(per_loc), -1)
        kn.group_sum(rows, self.key, self.lo, self.hi, out.reshape(self.n, -1))
        return out


class _Snapshots:
    """Whole-population scans on the first day of each month (or every k days) and the last,
    of localities ``lo`` to ``hi``, summed by cell (region, urban or rural: ``cells``)."""

    def __init__(self, sc: Scenario, pop: Population, days: list[dt.date], lo: int, hi: int):
        every = sc.output.snapshot_every_days
        n = len(days)
        if every:
            self.days = set(range(every - 1, n, every))
        else:
            self.days = {t for t, d in enumerate(days) if d.day == 1}
        self.days.add(n - 1)
        self.width = sc.output.score_bin_width
        self.cells = _GroupSum(cells(pop), 2 * len(pop.region_names), lo, hi)
        n_bins = (sc.score.max - sc.score.min) // self.width + 1
        n_grades = max(1, len(sc.score.grades)) + 2 * (len(sc.sanctions) + len(sc.rewards))
        n_groups, n_classes = len(sc.groups) + 1, len(pop.r_values)
        self.block_rows = np.stack(
            [1 + pop.block_age, 3 + pop.block_group, 3 + n_groups + pop.block_rclass], axis=1
        ).astype(np.int64)
        n_rows = 3 + n_groups + n_classes
        self.hist = np.zeros((pop.n_localities, n_bins), dtype=np.int64)
        self.stats = np.zeros((pop.n_localities, n_rows, kn.N_SNAP + n_grades), dtype=np.int64)
        self.child = np.zeros((pop.n_localities, 3), dtype=np.int64)
        self.scans: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []

    def due(self, t: int) -> bool:
        return t in self.days

    def take(
        self, par: kn.Parallel, K: kn.Params, L: kn.Layout, S: kn.State, B: kn.Books, t: int
    ) -> None:
        hist, stats, child = self.hist, self.stats, self.child
        par(
            kn.snapshot, K, L, kn.state_bytes(S), t, self.width, hist, stats, child,
            self.block_rows, B.listed, B.stocks,
        )  # fmt: skip
        self.scans.append((t, *(self.cells.sum(a) for a in (hist, stats, child))))


def cells(pop: Population) -> np.ndarray:
    """Each locality's snapshot cell: 2 x region, + 1 when rural."""
    return 2 * pop.loc_region.astype(np.int64) + (~pop.loc_urban).astype(np.int64)
