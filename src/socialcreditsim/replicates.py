"""Replicates: one scenario run with several seeds, summarised as a median and a band.

``MultiSim("national", n_agents=100_000, replicates=10).run()`` runs the seeds ``seed, seed + 1,
...`` in parallel processes (one per core, fewer if memory is short) and returns
:class:`MultiResults`: every replicate's national time series and outputs (``series.py``), the
full tables of the first replicate, and bands.

**Bands.** The default band runs from the 10th to the 90th percentile of the replicates, around
their median. Percentiles use Weibull plotting positions (``p (R + 1)``-th of R sorted values),
for which a further replicate falls inside the band with the nominal probability (80% by
default) whatever R is, not only for large R (tests/test_replicates.py checks this against an
exact distribution of MODEL.md section 9).

Each replicate depends on its seed only, so results are the same whatever the number of
processes or threads, and on a Dask cluster (``cluster``, see ``executor.py``) the same as on
this machine. ``threads`` is the number of threads of each replicate run: by default one in
each worker process, automatic (``Sim``) when the replicates run one after another in this
process; given, it also lowers the default number of processes to one per ``threads`` cores.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .engine import Sim
from .executor import executor_for
from .folders import read_parquet
from .memory import NotEnoughMemory, available_memory, estimate_memory
from .results import Finish, Results, save_folder
from .scenario import DEFAULT_BAND, Scenario, check_band, check_whole
from .series import headline_outputs, outputs

if TYPE_CHECKING:
    import distributed
    import matplotlib.figure

__all__ = [
    "DEFAULT_BAND",
    "Job",
    "MultiResults",
    "MultiSim",
    "Replicate",
    "band_of",
    "check_band",
    "job_memory",
    "percentiles",
    "replicate_seeds",
    "run_jobs",
]

SERIES_COLUMNS = ["date", "metric", "item", "truth"]
TEXT_COLUMNS = ("metric", "item", "truth")


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """The seeds of the replicate runs: ``seed``, ``seed + 1``, ... (as ``run --seed``)."""
    return [(seed + r) % 2**63 for r in range(replicates)]


def check_processes(processes: Any) -> int | None:
    """``processes``: None (one per core) or a whole number from 1 to 1,024."""
    return None if processes is None else check_whole(processes, "processes", 1, 1024)


def percentiles(values: np.ndarray, band: Sequence[float], axis: int = 0) -> np.ndarray:
    """Median, lower and upper percentile along ``axis`` (Weibull positions, module docstring)."""
    q = [50.0, *check_band(band)]
    return np.percentile(values, q, axis=axis, method="weibull")


# ------------------------------------------------------------------------------ running


@dataclass(frozen=True)
class Job:
    """One run to do: a scenario, N and a seed; ``keep`` returns its full tables too."""

    scenario: Scenario
    n_agents: int
    seed: int
    keep: bool = False


@dataclass
class Replicate:
    """What one run sends back: its national time series and its outputs."""

    seed: int
    national: pd.DataFrame  # date, metric, item, truth, value
    outputs: pd.Series  # by output key
    results: Results | None = None  # the full tables, where the job asked for them

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to come back from a worker) with the text columns as categories: a
        national year of three years pickles to 2.5 MB instead of 9.8 MB."""
        state = dict(self.__dict__)
        state["national"] = self.national.astype({c: "category" for c in TEXT_COLUMNS})
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["national"] = state["national"].astype({c: str for c in TEXT_COLUMNS})
        self.__dict__.update(state)


def _do(job: Job, threads: int | None) -> Replicate:
    """Run one job (with ``threads`` threads, None: automatic) and keep what it sends back."""
    res = Sim(job.scenario, n_agents=job.n_agents, seed=job.seed, threads=threads).run()
    ts = res.timeseries
    national = ts[ts["region"] == "national"].drop(columns="region").reset_index(drop=True)
    for col in TEXT_COLUMNS:
        national[col] = national[col].astype(str)
    return Replicate(job.seed, national, outputs(res), res if job.keep else None)


def job_memory(jobs: Sequence[Job]) -> int:
    """The predicted peak memory of the largest of ``jobs``, in bytes."""
    return max(sum(estimate_memory(j.scenario, j.n_agents).values()) for j in jobs)


def processes_for(
    jobs: Sequence[Job], processes: int | None = None, threads: int | None = None
) -> int:
    """How many processes to run ``jobs`` on: one per core, or per ``threads`` cores when each
    run has ``threads`` threads (or ``processes``), at most one per job, and no more than memory
    holds; :class:`NotEnoughMemory` if even one run does not fit."""
    need = job_memory(jobs)
    have = available_memory()
    if need > have:
        raise NotEnoughMemory(
            f"one run needs about {need / 2**30:.1f} GiB but only {have / 2**30:.1f} GiB is"
            " available; use fewer agents"
        )
    cores = len(os.sched_getaffinity(0))
    default = max(1, cores // (threads or 1))
    return max(1, min(processes or default, len(jobs), have // need))


def run_jobs(
    jobs: Sequence[Job],
    processes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    threads: int | None = None,
    cluster: str | distributed.Client | None = None,
) -> list[Replicate]:
    """Run ``jobs`` and return their replicates in job order; ``progress(done, total)`` after
    each. They run on the Dask ``cluster`` where one is given (``executor.py``; ``processes``
    does not apply), else in parallel processes where there are cores and memory for them.
    Each run has ``threads`` threads (module docstring for the default)."""
    jobs = list(jobs)
    if cluster is None:
        executor = executor_for(processes=processes_for(jobs, processes, threads), threads=threads)
    else:
        executor = executor_for(cluster, threads=threads, jobs_need_bytes=job_memory(jobs))
    with executor:
        return executor.map(functools.partial(_do, threads=executor.threads), jobs, progress)


# ------------------------------------------------------------------------------ results


def stack_series(replicates: Sequence[Replicate], **labels: Any) -> pd.DataFrame:
    """The national series of several replicates in one long table, with a ``replicate`` and
    a ``seed`` column (and any ``labels`` as constant columns in front)."""
    frames = []
    for r, rep in enumerate(replicates):
        frame = rep.national.copy()
        frame.insert(0, "seed", rep.seed)
        frame.insert(0, "replicate", r)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    for i, (name, value) in enumerate(labels.items()):
        out.insert(i, name, value)
    return out


def stack_outputs(replicates: Sequence[Replicate], **labels: Any) -> pd.DataFrame:
    """The outputs of several replicates: one row per (replicate, output)."""
    rows = []
    for r, rep in enumerate(replicates):
        for key, value in rep.outputs.items():
            rows.append((r, rep.seed, key, value))
    out = pd.DataFrame(rows, columns=["replicate", "seed", "output", "value"])
    for i, (name, value) in enumerate(labels.items()):
        out.insert(i, name, value)
    return out


def series_bands(series: pd.DataFrame, band: Sequence[float]) -> pd.DataFrame:
    """Median and band of every national series over replicates: one row per (date, metric,
    item, truth)."""
    wide = series.pivot_table(
        index=SERIES_COLUMNS, columns="replicate", values="value", observed=True, sort=True
    )
    med, lo, hi = percentiles(wide.to_numpy(), band, axis=1)
    out = wide.index.to_frame(index=False)
    out["median"], out["lower"], out["upper"] = med, lo, hi
    return out


def output_summary(
    outs: pd.DataFrame, band: Sequence[float], by: Sequence[str] = ()
) -> pd.DataFrame:
    """Median, band, mean and standard deviation of every output over replicates."""
    keys = [*by, "output"]
    rows = []
    for key, part in outs.groupby(keys, sort=False):
        v = part["value"].to_numpy(dtype=float)
        med, lo, hi = percentiles(v, band) if np.isfinite(v).all() else (np.nan,) * 3
        sd = float(v.std(ddof=1)) if len(v) > 1 else np.nan
        rows.append((*key, med, lo, hi, float(v.mean()), sd, len(v)))
    return pd.DataFrame(rows, columns=[*keys, "median", "lower", "upper", "mean", "sd", "n"])


def band_of(
    series: pd.DataFrame,
    band: Sequence[float],
    metric: str,
    item: str | None = None,
    truth: str | None = None,
    cumulative: bool = False,
) -> pd.DataFrame:
    """Median and band over replicates of one daily series of a stacked ``series`` table
    (:func:`stack_series`), summed over items and truths left unspecified; by date."""
    sel = series["metric"] == metric
    if item is not None:
        sel &= series["item"] == item
    if truth is not None:
        sel &= series["truth"] == truth
    if not sel.any():
        raise KeyError(f"no national series for metric={metric!r} item={item!r} truth={truth!r}")
    wide = series[sel].pivot_table(index="date", columns="replicate", values="value", aggfunc="sum")
    if cumulative:
        wide = wide.cumsum()
    med, lo, hi = percentiles(wide.to_numpy(), band, axis=1)
    return pd.DataFrame({"median": med, "lower": lo, "upper": hi}, index=wide.index)


@dataclass
class MultiResults:
    """Replicates of one scenario: national series and outputs of every replicate, the full
    tables of the first, and their bands."""

    series: pd.DataFrame  # replicate, seed, date, metric, item, truth, value (national)
    outputs: pd.DataFrame  # replicate, seed, output, value
    first: Results  # every table of the first replicate (the base seed)
    band: tuple[float, float] = DEFAULT_BAND
    path: Path | None = None
    _bands: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def scenario(self) -> Scenario:
        return self.first.scenario

    @property
    def seeds(self) -> list[int]:
        return self.first.manifest["replicates"]["seeds"]

    @property
    def bands(self) -> pd.DataFrame:
        """Median and band of every national series (:func:`series_bands`)."""
        if self._bands is None:
            self._bands = series_bands(self.series, self.band)
        return self._bands

    def summary(self) -> pd.DataFrame:
        """Median, band, mean and sd over replicates of every output (``series.py``)."""
        return output_summary(self.outputs, self.band)

    def headline(self) -> pd.DataFrame:
        """The headline outputs with their labels, median and band."""
        labels = headline_outputs(self.scenario)
        summary = self.summary().set_index("output").loc[list(labels)].reset_index()
        summary.insert(0, "figure", [labels[k] for k in summary["output"]])
        return summary

    def series_band(
        self,
        metric: str,
        item: str | None = None,
        truth: str | None = None,
        cumulative: bool = False,
    ) -> pd.DataFrame:
        """One daily national series (summed over items and truths left unspecified, as
        :meth:`Results.series`), its median and band over replicates, by date."""
        return band_of(self.series, self.band, metric, item, truth, cumulative)

    def save(self, out: str | Path, overwrite: bool = False, finish: Finish | None = None) -> Path:
        """Write the run folder of the first replicate plus ``replicates.parquet`` (every
        replicate's national series), ``outputs.parquet``, ``bands.parquet`` and
        ``summary.parquet``, atomically (``finish``: see ``results.save_folder``)."""
        tables = {
            "replicates": self.series,
            "outputs": self.outputs,
            "bands": self.bands,
            "summary": self.summary(),
        }
        path = save_folder(out, run=self.first, tables=tables, overwrite=overwrite, finish=finish)
        self.path = self.first.path = path
        return path

    @classmethod
    def load(cls, path: str | Path) -> MultiResults:
        """Read a folder written by :meth:`save`."""
        path = Path(path)
        first = Results.load(path)
        info = first.manifest.get("replicates")
        if info is None or not (path / "replicates.parquet").is_file():
            raise FileNotFoundError(f"{path} is a run folder without replicates")
        return cls(
            series=read_parquet(path, "replicates"),
            outputs=read_parquet(path, "outputs"),
            first=first,
            band=tuple(info["band"]),
            path=path,
        )

    def plot(self) -> matplotlib.figure.Figure:
        """Sanctions and lists over time: the median and band of the replicates."""
        from . import plots

        m = self.first.manifest
        lo, hi = self.band
        fig = plots.line_grid(
            plots.overview_panels(self.series_band, self.scenario), plots.counted(m)
        )
        fig.suptitle(
            f"{m['scenario']}: N={m['n_agents']:,}, {len(self.seeds)} replicates"
            f" (median and {lo:g}th to {hi:g}th percentile)"
        )
        return fig


class MultiSim:
    """Several replicates of one scenario, in parallel.

    >>> multi = MultiSim("national", n_agents=100_000, replicates=10).run()  # doctest: +SKIP
    >>> multi.headline()                                                     # doctest: +SKIP
    """

    def __init__(
        self,
        scenario: str | Path | dict[str, Any] | Scenario = "national",
        n_agents: int = 1_000_000,
        seed: int = 0,
        replicates: int = 10,
        overrides: list[str] | dict[str, Any] | None = None,
        band: Sequence[float] = DEFAULT_BAND,
        processes: int | None = None,
        threads: int | None = None,
        cluster: str | distributed.Client | None = None,
    ):
        replicates = check_whole(replicates, "replicates", 1, 10_000)
        self.band = check_band(band)
        self.sim = Sim(scenario, n_agents=n_agents, seed=seed, overrides=overrides, threads=threads)
        check_processes(processes)
        self.scenario = self.sim.scenario
        self.seeds = replicate_seeds(seed, replicates)
        self.processes = processes
        self.threads = threads  # per replicate run (module docstring)
        self.cluster = cluster  # a Dask cluster to run on (executor.py), else this machine
        self.results: MultiResults | None = None

    def jobs(self) -> list[Job]:
        return [
            Job(self.scenario, self.sim.n_agents, s, keep=(r == 0))
            for r, s in enumerate(self.seeds)
        ]

    def check_memory(self) -> int:
        """How many processes the replicates will use; :class:`NotEnoughMemory` if one run
        does not fit."""
        return processes_for(self.jobs(), self.processes, self.threads)

    def run(self, progress: Callable[[int, int], None] | None = None) -> MultiResults:
        """Run every replicate; ``progress(done, replicates)`` after each."""
        reps = run_jobs(
            self.jobs(), self.processes, progress, threads=self.threads, cluster=self.cluster
        )
        first = reps[0].results
        assert first is not None
        first.manifest["replicates"] = {"seeds": self.seeds, "band": list(self.band)}
        self.results = MultiResults(
            series=stack_series(reps), outputs=stack_outputs(reps), first=first, band=self.band
        )
        return self.results

    def plot(self) -> matplotlib.figure.Figure:
        """The overview of the replicates run last (:meth:`MultiResults.plot`)."""
        if self.results is None:
            raise RuntimeError("nothing to plot yet: call run() first")
        return self.results.plot()
