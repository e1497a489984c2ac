"""Sweeps: outputs over a grid of parameter values, and global sensitivity (Sobol indices).

``socialcreditsim sweep national --vary blacklist.entry_below=800:950:4 --vary
surveillance.fpir=0.0001:0.003:3`` runs every point of the 4 x 3 grid (values evenly spaced
from lo to hi, whole numbers for whole-number fields) ``replicates`` times with the same seeds
at every point (common random numbers), and summarises each output at each point as a median
and band (``replicates.py``).

``--sobol N`` instead samples the box ``key=lo:hi`` of each parameter with Saltelli's scheme
(SALib: N (D + 2) points for D parameters, N a power of two) and estimates, for each chosen
output, first-order (S1) and total (ST) Sobol indices with 95% bootstrap confidence intervals:
S1 is the share of the output's variance due to the parameter alone, ST the share it has a hand
in, interactions included. The output at a point is its mean over the replicates. Fields are
named by dotted path as in ``--set``; ``key*=lo:hi`` varies a factor on the field (a number or
every point of a schedule), as in ``calibrate``.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import version
from .calibrate import FitParameter, parse_fit
from .folders import read_parquet
from .replicates import (
    DEFAULT_BAND,
    Job,
    check_band,
    check_processes,
    output_summary,
    processes_for,
    replicate_seeds,
    run_jobs,
    stack_outputs,
)
from .results import Finish, read_manifest, save_folder
from .scenario import Scenario, ScenarioError, check_strings, check_whole, load_scenario
from .series import check_output, headline_outputs

if TYPE_CHECKING:
    import distributed
    import matplotlib.figure

__all__ = ["Sweep", "SweepResults", "parse_vary"]

CONFIDENCE = 0.95
_GRID = re.compile(r"^(?P<box>[^=]+=[^:]+:[^:]+):(?P<n>[^:]+)$")


@dataclass(frozen=True)
class Varied:
    """A varied field: its box, and for a grid the number of values."""

    param: FitParameter
    n: int = 0

    def values(self) -> list[float]:
        """The grid values, evenly spaced from lo to hi (rounded for whole-number fields)."""
        xs = np.linspace(self.param.lo, self.param.hi, self.n)
        return [float(round(x)) if self.param.whole else float(x) for x in xs]


MAX_POINTS_PER_VARY = 1000
MAX_RUNS = 100_000  # points x replicates of one sweep: far beyond what a machine runs in a day


def parse_vary(text: str, scenario: Scenario, grid: bool) -> Varied:
    """Parse ``key=lo:hi:n`` (grid) or ``key=lo:hi`` (Sobol) and check it against the scenario:
    the field exists and takes numbers, and both ends are valid values of it."""
    n = 0
    box = text
    if grid:
        m = _GRID.match(text.strip())
        if m is None:
            raise ValueError(
                f"--vary {text!r}: expected key=lo:hi:n (n values from lo to hi), for example"
                " blacklist.entry_below=800:950:4"
            )
        box = m["box"]
        try:
            n = int(m["n"])
        except ValueError:
            n = 0
        if not 2 <= n <= MAX_POINTS_PER_VARY:
            raise ScenarioError(
                f"--vary {text}: n must be a whole number, at least 2 and at most"
                f" {MAX_POINTS_PER_VARY:,}"
            )
    elif text.count(":") != 1:
        raise ValueError(f"--vary {text!r}: with --sobol give a box key=lo:hi, no count")
    return Varied(parse_fit(box, scenario, flag="--vary"), n)


@dataclass
class SweepResults:
    """Outputs at every point of a sweep, with their bands, and Sobol indices for a Sobol
    sweep."""

    method: str  # "grid" or "sobol"
    parameters: list[str]  # dotted keys (a factor's key ends in "*")
    points: pd.DataFrame  # point, one column per parameter
    outputs: pd.DataFrame  # point, replicate, seed, output, value
    targets: list[str]  # the outputs of interest
    manifest: dict[str, Any]
    sobol: pd.DataFrame | None = None  # output, parameter, S1, S1_conf, ST, ST_conf
    band: tuple[float, float] = DEFAULT_BAND
    path: Path | None = None

    @property
    def scenario(self) -> Scenario:
        return load_scenario(self.manifest["scenario"])

    def summary(self) -> pd.DataFrame:
        """Median, band, mean and sd over replicates of every output at every point."""
        return output_summary(self.outputs, self.band, by=["point"])

    def table(self) -> pd.DataFrame:
        """One row per point: the parameter values and the median of each target output."""
        s = self.summary()
        s = s[s["output"].isin(self.targets)]
        wide = s.pivot(index="point", columns="output", values="median")[self.targets]
        return self.points.merge(wide, left_on="point", right_index=True)

    def save(self, out: str | Path, overwrite: bool = False, finish: Finish | None = None) -> Path:
        """Write ``points.parquet``, ``outputs.parquet``, ``summary.parquet``, ``sobol.parquet``
        (Sobol sweeps), the resolved scenario and the manifest, atomically (``finish``: see
        ``results.save_folder``)."""
        tables = {"points": self.points, "outputs": self.outputs, "summary": self.summary()}
        if self.sobol is not None:
            tables["sobol"] = self.sobol
        self.path = save_folder(
            out,
            tables=tables,
            texts={"scenario.toml": self.scenario.to_toml()},
            manifest=self.manifest,
            overwrite=overwrite,
            finish=finish,
        )
        return self.path

    @classmethod
    def load(cls, path: str | Path) -> SweepResults:
        """Read a folder written by :meth:`save`."""
        path = Path(path)
        manifest = read_manifest(path, "sweep", ("method", "vary", "targets", "band", "scenario"))
        sobol = path / "sobol.parquet"
        return cls(
            method=manifest["method"],
            parameters=[v["key"] for v in manifest["vary"]],
            points=read_parquet(path, "points"),
            outputs=read_parquet(path, "outputs"),
            targets=manifest["targets"],
            manifest=manifest,
            sobol=read_parquet(path, "sobol") if sobol.is_file() else None,
            band=tuple(manifest["band"]),
            path=path,
        )

    def panels(self) -> dict[tuple[str, str], pd.DataFrame]:
        """Per (target output, parameter): the parameter's value (x), the output's median and
        band at every point, and the values of the other parameters there (others)."""
        s = self.summary()
        s = s[s["output"].isin(self.targets)].merge(self.points, on="point")
        panels = {}
        for p in self.parameters:
            others = [q for q in self.parameters if q != p]
            label = (
                s[others].map("{:g}".format).radd([f"{q}=" for q in others]).agg(", ".join, axis=1)
            )
            frame = s.assign(x=s[p], others=label if others else "")
            for t in self.targets:
                panels[(t, p)] = frame.loc[
                    frame["output"] == t, ["x", "median", "lower", "upper", "others"]
                ]
        return panels

    def plot(self) -> matplotlib.figure.Figure:
        """Each target output against each parameter (Sobol indices: the report)."""
        from .plots import sweep_grid

        return sweep_grid(self.panels(), scatter=self.method == "sobol")


class Sweep:
    """A grid sweep (``sobol=None``) or a Sobol sensitivity analysis (``sobol=N``).

    >>> Sweep("national", ["surveillance.fpir=0.0001:0.003:4"], n_agents=100_000,
    ...       replicates=5).run().table()                                 # doctest: +SKIP
    """

    def __init__(
        self,
        scenario: str | Path | dict[str, Any] | Scenario,
        vary: Sequence[str],
        n_agents: int = 100_000,
        seed: int = 0,
        replicates: int | None = None,
        targets: Sequence[str] = (),
        sobol: int | None = None,
        overrides: list[str] | dict[str, Any] | None = None,
        band: Sequence[float] = DEFAULT_BAND,
        processes: int | None = None,
        cluster: str | distributed.Client | None = None,
    ):
        self.scenario = load_scenario(scenario, overrides)
        vary = check_strings(vary, "vary")
        targets = check_strings(targets, "targets")
        if not vary:
            raise ScenarioError("nothing to vary: give at least one --vary")
        from .engine import Sim  # the same checks of agents and seed as a single run

        n_agents = Sim(self.scenario, n_agents=n_agents, seed=seed).n_agents
        if sobol is not None:
            sobol = check_whole(sobol, "sobol", 2, 2**20)
        if sobol is not None and (sobol < 2 or sobol & (sobol - 1)):
            raise ValueError(f"--sobol {sobol}: N must be a power of two (e.g. 64, 128, 256)")
        self.method = "grid" if sobol is None else "sobol"
        self.varied = [parse_vary(v, self.scenario, grid=sobol is None) for v in vary]
        keys = [v.param.key for v in self.varied]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"--vary names {twice} more than once")
        replicates = check_whole(
            replicates if replicates is not None else (1 if sobol else 5), "replicates", 1, 10_000
        )
        self.targets = [check_output(t, self.scenario) for t in targets] or list(
            headline_outputs(self.scenario)
        )
        self.band = check_band(band)
        self.n_agents, self.seed, self.sobol = n_agents, seed, sobol
        self.processes = check_processes(processes)
        self.cluster = cluster  # a Dask cluster to run on (executor.py), else this machine
        self.seeds = replicate_seeds(seed, replicates)
        n_points = (
            math.prod(v.n for v in self.varied) if sobol is None else sobol * (len(self.varied) + 2)
        )
        if n_points * replicates > MAX_RUNS:
            raise ScenarioError(
                f"the sweep would make {n_points:,} points x {replicates:,} replicates ="
                f" {n_points * replicates:,} runs; at most {MAX_RUNS:,}"
            )
        self.points = self._points()

    @property
    def names(self) -> list[str]:
        return [v.param.key + ("*" if v.param.factor else "") for v in self.varied]

    def _problem(self) -> dict[str, Any]:
        return {
            "num_vars": len(self.varied),
            "names": self.names,
            "bounds": [[v.param.lo, v.param.hi] for v in self.varied],
        }

    def _points(self) -> pd.DataFrame:
        if self.sobol is None:
            values = np.array(list(itertools.product(*(v.values() for v in self.varied))))
        else:
            from SALib.sample import sobol

            values = sobol.sample(
                self._problem(), self.sobol, calc_second_order=False, seed=self.seed
            )
            for j, v in enumerate(self.varied):
                if v.param.whole:
                    values[:, j] = np.round(values[:, j])
        frame = pd.DataFrame(values, columns=self.names)
        frame.insert(0, "point", np.arange(len(frame)))
        return frame

    @functools.cached_property
    def scenarios(self) -> list[Scenario]:
        """The scenario of every point (validated once: a Sobol design has hundreds)."""
        out = []
        for row in self.points[self.names].itertuples(index=False):
            assignments = {
                v.param.key: v.param.override(x) for v, x in zip(self.varied, row, strict=True)
            }
            out.append(self.scenario.with_overrides(assignments, source="--vary"))
        return out

    def jobs(self) -> list[Job]:
        return [Job(sc, self.n_agents, s) for sc in self.scenarios for s in self.seeds]

    def check_memory(self) -> int:
        """How many processes the runs will use; :class:`NotEnoughMemory` if one does not fit."""
        return processes_for(self.jobs(), self.processes)

    def run(self, progress: Callable[[int, int], None] | None = None) -> SweepResults:
        """Run every point and replicate; ``progress(done, runs)`` after each run."""
        reps = run_jobs(self.jobs(), self.processes, progress, cluster=self.cluster)
        r = len(self.seeds)
        outs = pd.concat(
            [stack_outputs(reps[p * r : (p + 1) * r], point=p) for p in range(len(self.points))],
            ignore_index=True,
        )
        manifest = {
            "software": "socialcreditsim",
            "version": version.__version__,
            "kind": "sweep",
            "method": self.method,
            "n_agents": self.n_agents,
            "seeds": self.seeds,
            "band": list(self.band),
            "sobol_n": self.sobol,
            "vary": [
                {"key": name, "lo": v.param.lo, "hi": v.param.hi, "n": v.n or None}
                for name, v in zip(self.names, self.varied, strict=True)
            ],
            "targets": self.targets,
            "scenario": self.scenario.model_dump(mode="json"),
        }
        return SweepResults(
            method=self.method,
            parameters=self.names,
            points=self.points,
            outputs=outs,
            targets=self.targets,
            manifest=manifest,
            sobol=self._indices(outs) if self.sobol else None,
            band=self.band,
        )

    def _indices(self, outs: pd.DataFrame) -> pd.DataFrame:
        """Sobol indices of every target from the mean output at each point."""
        from SALib.analyze import sobol

        means = outs.groupby(["output", "point"])["value"].mean()
        rows = []
        for target in self.targets:
            y = means.loc[target].reindex(self.points["point"]).to_numpy(dtype=float)
            if not np.isfinite(y).all() or np.ptp(y) == 0:
                nan = [math.nan] * 4
                rows += [(target, name, *nan) for name in self.names]
                continue
            si = sobol.analyze(
                self._problem(),
                y,
                calc_second_order=False,
                conf_level=CONFIDENCE,
                seed=self.seed,
            )
            for j, name in enumerate(self.names):
                rows.append(
                    (target, name, si["S1"][j], si["S1_conf"][j], si["ST"][j], si["ST_conf"][j])
                )
        return pd.DataFrame(rows, columns=["output", "parameter", "S1", "S1_conf", "ST", "ST_conf"])
