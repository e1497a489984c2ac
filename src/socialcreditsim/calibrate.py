"""Calibration: fit scenario fields so that runs reproduce published figures.

``socialcreditsim calibrate court-list --fit court_list.compliance_per_year=0.05:0.6`` (the
scenario's own ``[[published]]`` figures as targets) or ``... --targets FILE.csv`` runs the
scenario again and again, changing the named fields inside their boxes, until the simulated
national series come closest to the published points; it writes the fitted scenario, the fit
table and a plot.

**Targets file.** A CSV with the header ``date,series,value,unit,status,source``, one published
figure per row, as ``court_list_published.csv`` in the shared data folder. ``date``, ``series``
and ``value`` are required (``value`` positive: the fit compares logarithms); ``unit``,
``status`` and ``source`` are carried along for the reader.

**Series names** are those of ``series.py``: ``listed_cumulative``,
``flight_purchases_blocked_cumulative``, ``<metric>[:<item>][_cumulative]`` and others.

**Fit parameters.** ``key=lo:hi`` fits the field ``key`` (a dotted path, as ``--set``) between
``lo`` and ``hi``; ``key*=lo:hi`` fits a factor between ``lo`` and ``hi`` that multiplies the
field, a number or every point of a schedule (keeping its shape). Whole-number fields are
rounded; fitted values are rounded to 4 significant digits before each run, so the scenario
written is exactly the one evaluated.

**Objective.** The mean over targets of ``log(simulated / published) ** 2``, the simulated
value being the mean over ``replicates`` runs with the seeds ``seed, seed + 1, ...`` (the same
seeds for every trial: common random numbers). Runs stop at the last target date.

**Search.** Nelder-Mead (SciPy) in the unit cube of the box, on a log scale where ``lo > 0``,
from the scenario's values (the box centre where a value lies outside its box), restarted from
the best point with a smaller simplex after each convergence. It stops when the time budget
would be exceeded by another trial, after ``trials`` trials, or when restarts no longer
improve, and keeps the best. Everything but the time budget is deterministic: the same scenario,
targets, seed and ``trials`` give the same fit on any machine. With ``cluster`` the replicates of
each trial run side by side on a Dask cluster (``executor.py``), and the fit is the same.

The command line (``cli.py``) prints the fit and writes it; this module never imports it.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import version
from .engine import Sim
from .executor import DaskExecutor
from .folders import Reservation, atomic_folder, destination
from .replicates import Job, Replicate, replicate_seeds, run_jobs
from .scenario import Scenario, ScenarioError, field_value, load_scenario
from .series import SeriesError, SeriesSpec, series_spec

if TYPE_CHECKING:
    import distributed
    import matplotlib.figure

__all__ = [
    "Calibration",
    "CalibrationError",
    "FitParameter",
    "Target",
    "TOLERANCE",
    "calibrate",
    "parse_fit",
    "prepare",
    "published_targets",
    "read_targets",
]


class CalibrationError(ScenarioError):
    """Targets or fit parameters that cannot be used: the message says where and what is
    allowed."""


TOLERANCE = 0.10  # a published figure counts as fitted when within 10%
SIGNIFICANT = 4  # fitted values are rounded to this many significant digits
RATIO_FLOOR = 1e-6  # a simulated zero counts as this fraction of the target (finite error)
FIRST_STEP = 0.2  # initial simplex size, as a share of the box (transformed)
LAST_STEP = 0.0125  # restarts stop when the simplex size falls below this
REQUIRED_COLUMNS = ("date", "series", "value")

# ------------------------------------------------------------------------------ targets


@dataclass(frozen=True)
class Target:
    """One published figure: its row of the targets file and the series it names."""

    date: dt.date
    series: str
    value: float
    spec: SeriesSpec
    unit: str = ""
    status: str = ""
    source: str = ""
    line: int = 0


def read_targets(path: str | Path, scenario: Scenario) -> list[Target]:
    """Read and check a targets file against a scenario; errors name the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read the targets file: {exc.strerror}") from None
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise CalibrationError(
            f"{path}: the header must name the columns date, series, value (and may add unit,"
            f" status, source); missing {missing}, got {columns}"
        )
    start, end = scenario.time.start, scenario.time.end
    targets = []
    for row in reader:
        row = {k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str)}
        where = f"{path}, line {reader.line_num}"
        try:
            date = dt.date.fromisoformat(row["date"])
        except ValueError:
            raise CalibrationError(
                f"{where}: date {row['date']!r} is not a date like 2017-02-14"
            ) from None
        try:
            value = float(row["value"])
        except ValueError:
            value = math.nan
        if not value > 0 or math.isinf(value):
            raise CalibrationError(
                f"{where}: value {row['value']!r} must be a positive number (the fit compares"
                " logarithms)"
            )
        if not start <= date <= end:
            raise CalibrationError(
                f"{where}: date {date} is outside the scenario's time range, {start} to {end}"
            )
        try:
            spec = series_spec(row["series"], scenario)
        except SeriesError as exc:
            raise CalibrationError(f"{where}: {exc}") from None
        targets.append(
            Target(
                date,
                row["series"],
                value,
                spec,
                row.get("unit", ""),
                row.get("status", ""),
                row.get("source", ""),
                reader.line_num,
            )
        )
    if not targets:
        raise CalibrationError(f"{path}: no targets (only a header, or nothing)")
    return targets


def published_targets(scenario: Scenario) -> list[Target]:
    """The scenario's ``[[published]]`` figures inside its time range, as targets."""
    start, end = scenario.time.start, scenario.time.end
    targets = []
    for i, fig in enumerate(scenario.published):
        if not start <= fig.date <= end:
            continue
        try:
            spec = series_spec(fig.series, scenario)
        except SeriesError as exc:
            raise CalibrationError(f"published[{i}]: {exc}") from None
        targets.append(
            Target(fig.date, fig.series, fig.value, spec, fig.unit, "", fig.source, i + 1)
        )
    if not targets:
        raise CalibrationError(
            f"scenario '{scenario.meta.name}' has no published figures between {start} and {end};"
            " give --targets FILE.csv"
        )
    return targets


# ------------------------------------------------------------------------------ parameters


@dataclass(frozen=True)
class FitParameter:
    """A field to fit between ``lo`` and ``hi``, or (``factor``) a factor multiplying it."""

    key: str
    lo: float
    hi: float
    factor: bool = False
    current: Any = None  # the field's value in the scenario
    whole: bool = False  # a whole-number field

    @property
    def log(self) -> bool:
        return self.lo > 0

    def start(self) -> float:
        """The scenario's value (1 for a factor), or the box centre when outside the box."""
        x = 1.0 if self.factor else self.current
        if isinstance(x, (int, float)) and self.lo <= x <= self.hi:
            return float(x)
        return self.decode(0.5)

    def encode(self, x: float) -> float:
        if self.log:
            return math.log(x / self.lo) / math.log(self.hi / self.lo)
        return (x - self.lo) / (self.hi - self.lo)

    def decode(self, u: float) -> float:
        u = min(1.0, max(0.0, float(u)))
        x = self.lo * (self.hi / self.lo) ** u if self.log else self.lo + u * (self.hi - self.lo)
        return float(round(x)) if self.whole else _round(x)

    def override(self, x: float) -> Any:
        """The value to set the field to for the fitted value (or factor) ``x``."""
        if self.whole:
            return int(round(x))
        if not self.factor:
            return x
        if isinstance(self.current, list):
            return [(d, _round(v * x, 6)) for d, v in self.current]
        return _round(self.current * x, 6)


def _round(x: float, digits: int = SIGNIFICANT) -> float:
    return float(f"{x:.{digits}g}")


def _fmt(x: float) -> str:
    return f"{x:.{SIGNIFICANT}g}"


_FIT = re.compile(r"^\s*(?P<key>[^=*\s]+)\s*(?P<star>\*?)=\s*(?P<lo>[^:]+):(?P<hi>.+)$")


def parse_fit(text: str, scenario: Scenario, flag: str = "--fit") -> FitParameter:
    """Parse and check ``key=lo:hi`` or ``key*=lo:hi`` against a scenario: the field exists, is
    a number (or, for a factor, a number or a schedule), ``lo < hi``, and both ends are valid
    values of the field."""
    m = _FIT.match(text)
    if m is None:
        raise CalibrationError(
            f"{flag} {text!r}: expected key=lo:hi (or key*=lo:hi to fit a factor), for example"
            " court_list.compliance_per_year=0.05:0.6"
        )
    key, factor = m["key"], bool(m["star"])
    try:
        lo, hi = float(m["lo"]), float(m["hi"])
    except ValueError:
        raise CalibrationError(
            f"{flag} {text}: the bounds {m['lo']!r} and {m['hi']!r} must be numbers"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise CalibrationError(
            f"{flag} {text}: the bounds must be finite numbers, got lo {lo:g} and hi {hi:g}"
        )
    if lo >= hi:
        raise CalibrationError(f"{flag} {text}: need lo < hi, got lo {lo:g} and hi {hi:g}")
    try:
        current = field_value(scenario, key, flag)
    except ScenarioError as exc:
        raise CalibrationError(str(exc)) from None
    number = isinstance(current, (int, float)) and not isinstance(current, bool)
    if factor:
        if not (number or isinstance(current, list) and current and _is_schedule(current)):
            raise CalibrationError(
                f"{flag} {text}: {key} is {current!r}; a factor multiplies a number or a schedule"
            )
        if lo < 0:
            raise CalibrationError(f"{flag} {text}: a factor must not be negative, got lo {lo:g}")
    elif isinstance(current, list) and _is_schedule(current):
        raise CalibrationError(
            f"{flag} {text}: {key} is a schedule of {len(current)} points; fit a factor on all of"
            f" them with {key}*=LO:HI, or a constant after --set {key}=VALUE"
        )
    elif not (number or current is None):
        raise CalibrationError(f"{flag} {text}: {key} is {current!r}, not a number")
    whole = isinstance(current, int) and not isinstance(current, bool) and not factor
    param = FitParameter(key, lo, hi, factor, current, whole)
    for end in (lo, hi):
        try:
            scenario.with_overrides({key: param.override(end)}, source=f"{flag} {text}")
        except ScenarioError as exc:
            raise CalibrationError(str(exc)) from None
    return param


def _is_schedule(value: list[Any]) -> bool:
    return all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value)


# ------------------------------------------------------------------------------ the fit


@dataclass
class Calibration:
    """The outcome of :func:`calibrate`: the fitted scenario, the fit table and how it went."""

    scenario: Scenario  # with the fitted values, over the scenario's whole time range
    start_scenario: Scenario
    parameters: list[FitParameter]
    values: list[float]  # fitted value (or factor) of each parameter
    start_values: list[Any]  # the field's value before (1 for a factor)
    targets: list[Target]
    simulated: list[float]  # mean over replicates, at each target
    start_simulated: list[float]
    objective: float
    start_objective: float
    trials: int
    seconds: float
    stopped: str  # "converged", "time budget", "trials"
    n_agents: int
    seeds: list[int]
    targets_file: str = ""
    daily: dict[str, tuple[pd.Series, pd.Series]] = field(default_factory=dict, repr=False)

    @property
    def table(self) -> pd.DataFrame:
        """date, series, target, simulated, relative_error (simulated / target - 1)."""
        frame = pd.DataFrame(
            {
                "date": [t.date for t in self.targets],
                "series": [t.series for t in self.targets],
                "target": [t.value for t in self.targets],
                "simulated": self.simulated,
            }
        )
        frame["relative_error"] = frame["simulated"] / frame["target"] - 1
        return frame

    @property
    def misfits(self) -> int:
        """How many targets are off by more than :data:`TOLERANCE`."""
        return int((self.table["relative_error"].abs() > TOLERANCE).sum())

    @property
    def ok(self) -> bool:
        return self.misfits == 0

    def verdict(self) -> str:
        n = len(self.targets)
        if self.ok:
            return f"every published figure is within {TOLERANCE:.0%} ({n} of {n})"
        return (
            f"could not fit: {self.misfits} of {n} published figures are off by more than"
            f" {TOLERANCE:.0%}"
        )

    def fitted_lines(self) -> list[str]:
        lines = []
        for p, x, x0 in zip(self.parameters, self.values, self.start_values, strict=True):
            if p.factor:
                lines.append(f"{p.key} x {_fmt(x)} (box {_fmt(p.lo)}:{_fmt(p.hi)})")
            else:
                was = "unset" if x0 is None else f"{x0:g}"
                lines.append(f"{p.key} = {_fmt(x)} (box {_fmt(p.lo)}:{_fmt(p.hi)}; was {was})")
        return lines

    def table_lines(self) -> list[str]:
        width = max(len(t.series) for t in self.targets)
        lines = [
            f"{'date':<10}  {'series':<{width}}  {'published':>13}  {'simulated':>13}  {'error':>7}"
        ]
        for r in self.table.itertuples(index=False):
            flag = "" if abs(r.relative_error) <= TOLERANCE else f"  > {TOLERANCE:.0%}"
            lines.append(
                f"{r.date}  {r.series:<{width}}  {r.target:>13,.0f}  {r.simulated:>13,.0f}  "
                f"{r.relative_error:>+7.1%}{flag}"
            )
        return lines

    def to_toml(self) -> str:
        """The fitted scenario as TOML, with the fit in a header comment."""
        head = [
            f"{self.scenario.meta.name}: calibrated by `socialcreditsim calibrate`"
            f" (socialcreditsim {version.__version__})",
            "",
            f"Targets: {self.targets_file or 'given in Python'} ({len(self.targets)} figures)",
            f"Agents {self.n_agents:,}; replicates {len(self.seeds)}"
            f" (seeds {', '.join(map(str, self.seeds))}); {self.trials} trials in"
            f" {self.seconds:,.0f} s (stopped: {self.stopped})",
            "Objective, mean over targets of log(simulated / published)^2:"
            f" {self.start_objective:.4g} at the start, {self.objective:.4g} fitted",
            "",
            "Fitted:",
            *(f"  {line}" for line in self.fitted_lines()),
            "",
            "Fit (simulated: mean over the replicates):",
            *(f"  {line}" for line in self.table_lines()),
            "",
            self.verdict().capitalize() + ".",
        ]
        header = "\n".join(f"# {line}".rstrip() for line in head)
        return f"{header}\n\n{self.scenario.to_toml()}"

    def plot(self) -> matplotlib.figure.Figure:
        """The simulated series (start dashed, fitted solid) and the published points."""
        import matplotlib.dates as mdates

        plt = _pyplot()
        names = list(dict.fromkeys(t.series for t in self.targets))
        cols = min(2, len(names))
        rows = math.ceil(len(names) / cols)
        fig, axes = plt.subplots(
            rows, cols, figsize=(6 * cols, 3.6 * rows), squeeze=False, constrained_layout=True
        )
        for ax, name in zip(axes.flat, names, strict=False):
            start, best = self.daily[name]
            ax.plot(start.index, start.values, "--", color="grey", label="start")
            ax.plot(best.index, best.values, "-", label="fitted")
            pts = [t for t in self.targets if t.series == name]
            ax.plot([t.date for t in pts], [t.value for t in pts], "ko", label="published")
            ax.set_title(name, fontsize=10)
            ax.set_yscale("log")  # relative errors, as the objective sees them
            ax.set_ylabel(f"{pts[0].unit or 'count'} (log scale)")
            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            ax.legend(fontsize=8)
        for ax in list(axes.flat)[len(names) :]:
            ax.set_visible(False)
        fig.suptitle(
            f"{self.scenario.meta.name}: calibrated, N={self.n_agents:,},"
            f" {len(self.seeds)} replicates; {self.verdict()}",
            fontsize=10,
        )
        return fig

    def save(self, out: str | Path | Reservation, overwrite: bool = False) -> Path:
        """Write calibrated.toml, fit.csv and fit.png atomically (a temporary folder, renamed)."""
        with atomic_folder(out, overwrite) as tmp:
            (tmp / "calibrated.toml").write_text(self.to_toml())
            self.table.to_csv(tmp / "fit.csv", index=False)
            fig = self.plot()
            fig.savefig(tmp / "fit.png", dpi=110)
            _pyplot().close(fig)
        return destination(out)


def _pyplot() -> Any:
    """matplotlib.pyplot, with the non-interactive backend that ``plots`` selects."""
    from . import plots

    return plots.plt


class _Stop(Exception):
    """Raised inside the objective when the budget or the trials are used up."""


class _Objective:
    """Runs the replicates for a point of the unit cube; remembers every point it ran."""

    def __init__(
        self,
        scenario: Scenario,
        targets: list[Target],
        params: list[FitParameter],
        n_agents: int,
        seeds: list[int],
        threads: int | None,
        budget: float,
        trials: int | None,
        progress: Callable[[int, float, float], None] | None,
        cluster: distributed.Client | None = None,
    ):
        last = max(t.date for t in targets)
        self.run_scenario = scenario.with_overrides({"time.end": last})  # later days: no effect
        self.targets, self.params = targets, params
        self.n_agents, self.seeds, self.threads = n_agents, seeds, threads
        self.cluster = cluster
        pop = self.run_scenario.population.size
        self.scale = pop / n_agents if self.run_scenario.output.raw_counts else None
        self.budget, self.trials, self.progress = budget, trials, progress
        self.names = list(dict.fromkeys(t.series for t in targets))
        self.specs = {t.series: t.spec for t in targets}
        self.cache: dict[tuple[float, ...], float] = {}
        self.t0 = time.perf_counter()
        self.n = 0
        self.last_seconds = 0.0
        self.best: tuple[float, tuple[float, ...], list[float], dict[str, pd.Series]] | None = None
        self.first: tuple[float, tuple[float, ...], list[float], dict[str, pd.Series]] | None = None

    def series(self, rep: Replicate, spec: SeriesSpec) -> pd.Series:
        """``series.simulated_series`` of a run, from the national table its replicate brings
        back (the same rows, summed in the same order)."""
        nat = rep.national
        sel = nat["metric"] == spec.metric
        if spec.item is not None:
            sel &= nat["item"] == spec.item
        s = nat[sel].groupby("date")["value"].sum()
        if spec.cumulative:
            s = s.cumsum()
        if self.scale is not None:  # raw counts, scaled up to compare
            s = s * self.scale
        return s + spec.offset

    def overrides(self, values: Sequence[float]) -> dict[str, Any]:
        return {p.key: p.override(x) for p, x in zip(self.params, values, strict=True)}

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def __call__(self, u: np.ndarray) -> float:
        return self.evaluate(tuple(p.decode(x) for p, x in zip(self.params, u, strict=True)))

    def evaluate(self, values: tuple[float, ...]) -> float:
        if values in self.cache:
            return self.cache[values]
        if self.n and self.trials is not None and self.n >= self.trials:
            raise _Stop("trials")
        if self.n and self.elapsed() + self.last_seconds > self.budget:
            raise _Stop("time budget")
        began = time.perf_counter()
        sc = self.run_scenario.with_overrides(self.overrides(values), source="--fit")
        jobs = [Job(sc, self.n_agents, seed) for seed in self.seeds]
        # one after another here as before (each run threaded), or side by side on a cluster
        reps = run_jobs(jobs, processes=1, threads=self.threads, cluster=self.cluster)
        daily: dict[str, pd.Series] = {}
        for rep in reps:
            for name in self.names:
                s = self.series(rep, self.specs[name])
                daily[name] = s if name not in daily else daily[name] + s
        daily = {name: s / len(self.seeds) for name, s in daily.items()}
        sim = [float(daily[t.series].loc[pd.Timestamp(t.date)]) for t in self.targets]
        err = float(
            np.mean(
                [
                    math.log(max(s / t.value, RATIO_FLOOR)) ** 2
                    for s, t in zip(sim, self.targets, strict=True)
                ]
            )
        )
        self.cache[values] = err
        self.n += 1
        self.last_seconds = time.perf_counter() - began
        entry = (err, values, sim, daily)
        if self.first is None:
            self.first = entry
        if self.best is None or err < self.best[0]:
            self.best = entry
        if self.progress is not None:
            self.progress(self.n, self.elapsed(), self.best[0])
        return err


def prepare(
    scenario: Scenario,
    targets: str | Path | list[Target] | None,
    fit: Sequence[str | FitParameter],
    *,
    n_agents: int = 100_000,
    replicates: int = 2,
    budget: float = 300.0,
    trials: int | None = None,
    seed: int = 0,
    local: bool = True,
) -> tuple[list[Target], list[FitParameter], list[int]]:
    """Check everything a calibration needs before any run: the targets, the fit parameters
    (each named once), the settings and, with ``local``, that one run fits this machine's
    memory (on a cluster the runs go to the workers, whose memory the executor checks).
    Returns the targets, the parameters and the replicate seeds."""
    if targets is None:
        targets = published_targets(scenario)
    elif isinstance(targets, (str, Path)):
        targets = read_targets(targets, scenario)
    if not targets:
        raise CalibrationError("no targets to fit")
    params = [p if isinstance(p, FitParameter) else parse_fit(p, scenario) for p in fit]
    if not params:
        raise CalibrationError("nothing to fit: give at least one --fit key=lo:hi")
    keys = [p.key for p in params]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise CalibrationError(f"--fit names {twice} more than once")
    if replicates < 1:
        raise CalibrationError(f"replicates must be at least 1, got {replicates}")
    if not budget > 0:
        raise CalibrationError(f"the time budget must be positive, got {budget} s")
    if trials is not None and trials < 1:
        raise CalibrationError(f"trials must be at least 1, got {trials}")
    seeds = replicate_seeds(seed, replicates)
    if local:
        Sim(scenario, n_agents=n_agents, seed=seeds[0]).check_memory()  # raises NotEnoughMemory
    return list(targets), params, seeds


def _search(f: _Objective, params: list[FitParameter]) -> str:
    """Nelder-Mead from the scenario's values, restarted from the best point with a smaller
    simplex (module docstring); ``f`` keeps the best point. Returns why the search stopped."""
    from scipy.optimize import minimize

    step = FIRST_STEP
    try:
        f.evaluate(tuple(p.start() for p in params))  # the scenario as it is, unrounded
        while step >= LAST_STEP:
            assert f.best is not None
            best_before = f.best[0]
            centre = np.array([p.encode(x) for p, x in zip(params, f.best[1], strict=True)])
            simplex = [centre]
            for i in range(len(params)):
                vertex = centre.copy()
                vertex[i] += step if centre[i] + step <= 1 else -step
                simplex.append(vertex)
            minimize(
                f,
                centre,
                method="Nelder-Mead",
                bounds=[(0.0, 1.0)] * len(params),
                options={
                    "initial_simplex": np.array(simplex),
                    "xatol": step / 20,
                    "fatol": 1e-6,
                    "maxfev": 10**9,
                },
            )
            if f.best[0] >= best_before * (1 - 1e-3):
                step /= 2
    except _Stop as stop:
        return str(stop)
    return "converged"


def calibrate(
    scenario: str | Path | dict[str, Any] | Scenario,
    targets: str | Path | list[Target] | None,
    fit: Sequence[str | FitParameter],
    *,
    n_agents: int = 100_000,
    replicates: int = 2,
    budget: float = 300.0,
    trials: int | None = None,
    seed: int = 0,
    threads: int | None = None,
    progress: Callable[[int, float, float], None] | None = None,
    cluster: str | distributed.Client | None = None,
) -> Calibration:
    """Fit the ``fit`` fields of ``scenario`` to ``targets`` (module docstring; None: the
    scenario's ``[[published]]`` figures).

    ``progress(trials, seconds, best objective)`` is called after every trial. Everything is
    checked before the first run: bad targets or parameters raise :class:`CalibrationError`,
    a bad scenario :class:`ScenarioError`, a run too big :class:`NotEnoughMemory`. With
    ``cluster`` (a ``distributed.Client``, ``local:N``, a scheduler address or file) each
    trial's replicates run on that Dask cluster, connected to once for the whole fit.
    """
    sc = load_scenario(scenario)
    label = (
        "the scenario's [[published]] figures"
        if targets is None
        else str(targets)
        if isinstance(targets, (str, Path))
        else ""
    )
    targets, params, seeds = prepare(
        sc,
        targets,
        fit,
        n_agents=n_agents,
        replicates=replicates,
        budget=budget,
        trials=trials,
        seed=seed,
        local=cluster is None,
    )
    with contextlib.ExitStack() as stack:
        client = None if cluster is None else stack.enter_context(DaskExecutor(cluster)).client
        f = _Objective(
            sc, targets, params, n_agents, seeds, threads, budget, trials, progress, client
        )
        stopped = _search(f, params)
    assert f.best is not None and f.first is not None
    err, values, sim, daily = f.best
    err0, _, sim0, daily0 = f.first
    fitted = sc.with_overrides(f.overrides(values), source="--fit")
    note = (
        f" (calibrated to {Path(label).name if label else 'published figures'} by"
        f" socialcreditsim calibrate: {', '.join(p.key for p in params)})"
    )
    fitted = fitted.with_overrides({"meta.description": fitted.meta.description + note})
    return Calibration(
        scenario=fitted,
        start_scenario=sc,
        parameters=params,
        values=list(values),
        start_values=[p.current if not p.factor else 1.0 for p in params],
        targets=list(targets),
        simulated=sim,
        start_simulated=sim0,
        objective=err,
        start_objective=err0,
        trials=f.n,
        seconds=f.elapsed(),
        stopped=stopped,
        n_agents=n_agents,
        seeds=seeds,
        targets_file=label,
        daily={name: (daily0[name], daily[name]) for name in daily},
    )
