"""Comparisons: two or more scenarios (or one scenario and variants of it) run side by side.

``socialcreditsim compare national --variant blacklist.entry_below=900`` runs the scenario as it
is (the baseline, the first arm) and with the variant, ``replicates`` times each. Every arm runs
with the same seeds (common random numbers), so replicate r of two arms differ by the rule
change and not by luck in who gets drawn; differences are taken pair by pair.

For every output (``series.py``) and arm, the table of differences gives the baseline's and the
arm's median, the median of the paired differences with the band (10th to 90th percentile by
default: where the difference of one more pair of runs falls, ``replicates.py``), and a 95%
confidence interval of the mean difference (Student's t over the pairs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import version
from .engine import Sim
from .folders import read_json, read_parquet
from .replicates import (
    DEFAULT_BAND,
    TEXT_COLUMNS,
    Job,
    MultiResults,
    Replicate,
    band_of,
    check_band,
    check_processes,
    output_summary,
    percentiles,
    processes_for,
    replicate_seeds,
    run_jobs,
    stack_outputs,
    stack_series,
)
from .results import Finish, Results, read_manifest, save_folder
from .scenario import Scenario, ScenarioError, check_strings, check_whole, load_scenario
from .series import headline_outputs, outputs

if TYPE_CHECKING:
    import distributed
    import matplotlib.figure

__all__ = [
    "Arm",
    "CompareResults",
    "Comparison",
    "compare_folders",
    "differences",
    "make_arms",
]

CONFIDENCE = 0.95
COMPARE_SERIES = (  # title, metric, truth, cumulative: the series the plots compare side by side
    ("People on the courts' list", "court_listed", None, False),
    ("People on the score blacklist", "blacklisted", None, False),
    ("Bans in force, summed over sanctions", "sanctioned_people", None, False),
    ("Wrongful bans in force, summed over sanctions", "sanctioned_people", "wrongful", False),
    ("Blocked attempts since the start", "blocked_attempts", None, True),
    ("Shamings since the start", "shamings", None, True),
)


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a label, the scenario it came from and its overrides."""

    label: str
    source: str
    overrides: tuple[str, ...]
    scenario: Scenario


def make_arms(
    scenarios: Sequence[str | Path | Scenario],
    variants: Sequence[str] = (),
    sets: Sequence[str] = (),
) -> list[Arm]:
    """The arms of a comparison: each scenario as it is, then the first scenario with each
    variant (``KEY=VALUE`` assignments separated by ``;``); ``sets`` apply to every arm.
    Everything is checked before any run."""
    if not scenarios:
        raise ValueError("compare needs at least one scenario")
    arms = []
    for src in scenarios:
        sc = load_scenario(src, list(sets) or None)
        label = sc.meta.name if isinstance(src, Scenario) else str(src)
        arms.append(Arm(label, label, tuple(sets), sc))
    for text in variants:
        assignments = [a.strip() for a in text.split(";") if a.strip()]
        if not assignments:
            raise ScenarioError(f"--variant {text!r}: expected KEY=VALUE[;KEY=VALUE...]")
        base = arms[0]
        sc = base.scenario.with_overrides(assignments, source=f"--variant {text}")
        arms.append(Arm("; ".join(assignments), base.source, (*sets, *assignments), sc))
    if len(arms) < 2:
        raise ValueError(
            "compare needs two arms: two scenarios, or a scenario and --variant KEY=VALUE"
        )
    labels = [a.label for a in arms]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise ValueError(f"the arms {twice} appear more than once; compare different ones")
    return arms


def _paired(base: np.ndarray, arm: np.ndarray, band: Sequence[float]) -> dict[str, float]:
    """Medians of both arms and the paired differences' median, band and 95% interval."""
    # Student's t quantile (what scipy.stats.t.ppf returns): scipy.special loads in a fifth of
    # the second scipy.stats takes, and only here
    from scipy.special import stdtrit

    out = {"baseline_median": float(np.median(base)), "arm_median": float(np.median(arm))}
    d = arm - base
    if not np.isfinite(d).all():
        return out
    med, lo, hi = percentiles(d, band)
    mean, n = float(d.mean()), len(d)
    half = stdtrit(n - 1, 0.5 + CONFIDENCE / 2) * d.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
    rel = med / out["baseline_median"] if out["baseline_median"] else np.nan
    return out | {
        "diff_median": med,
        "diff_lower": lo,
        "diff_upper": hi,
        "diff_mean": mean,
        "diff_ci_lower": mean - half,
        "diff_ci_upper": mean + half,
        "relative": rel,
    }


DIFF_COLUMNS = [
    "arm",
    "output",
    "figure",
    "baseline_median",
    "arm_median",
    "diff_median",
    "diff_lower",
    "diff_upper",
    "diff_mean",
    "diff_ci_lower",
    "diff_ci_upper",
    "relative",
]


def differences(
    outputs: pd.DataFrame, arms: Sequence[str], band: Sequence[float], labels: dict[str, str]
) -> pd.DataFrame:
    """Paired differences of every output, each arm against the first (module docstring);
    ``labels`` names outputs for readers (others keep their key)."""
    rows = []
    by_arm = {
        arm: part.pivot(index="output", columns="replicate", values="value")
        for arm, part in outputs.groupby("arm", sort=False)
    }
    base = by_arm[arms[0]]
    order = pd.unique(outputs["output"])
    for arm in arms[1:]:
        other = by_arm[arm]
        for output in [o for o in order if o in base.index and o in other.index]:
            row = _paired(base.loc[output].to_numpy(float), other.loc[output].to_numpy(float), band)
            rows.append({"arm": arm, "output": output, "figure": labels.get(output, output)} | row)
    return pd.DataFrame(rows, columns=DIFF_COLUMNS)


@dataclass
class CompareResults:
    """Arms run side by side: their national series, outputs and paired differences."""

    arms: list[str]
    series: pd.DataFrame  # arm, replicate, seed, date, metric, item, truth, value
    outputs: pd.DataFrame  # arm, replicate, seed, output, value
    differences: pd.DataFrame  # DIFF_COLUMNS
    manifest: dict[str, Any]
    band: tuple[float, float] = DEFAULT_BAND
    path: Path | None = None

    def scenario(self, arm: str) -> Scenario:
        """The resolved scenario of an arm."""
        info = self.manifest["arms"][self.arms.index(arm)]
        return load_scenario(info["scenario"])

    def summary(self) -> pd.DataFrame:
        """Median, band, mean and sd over replicates of every output of every arm."""
        return output_summary(self.outputs, self.band, by=["arm"])

    def table(self) -> pd.DataFrame:
        """The differences of the headline outputs (``series.headline_outputs``)."""
        keys = list(_headlines([self.scenario(arm) for arm in self.arms]))
        d = self.differences
        d = d[d["output"].isin(keys)]
        return d.iloc[np.lexsort((d["output"].map(keys.index), d["arm"].map(self.arms.index)))]

    def series_band(
        self,
        arm: str,
        metric: str,
        item: str | None = None,
        truth: str | None = None,
        cumulative: bool = False,
    ) -> pd.DataFrame:
        """One daily national series of one arm: median and band over replicates, by date."""
        part = self.series[self.series["arm"] == arm]
        return band_of(part, self.band, metric, item, truth, cumulative)

    def save(self, out: str | Path, overwrite: bool = False, finish: Finish | None = None) -> Path:
        """Write ``series.parquet``, ``outputs.parquet``, ``differences.parquet``,
        ``summary.parquet``, each arm's resolved scenario and the manifest, atomically
        (``finish``: see ``results.save_folder``)."""
        tables = {
            "series": self.series,
            "outputs": self.outputs,
            "differences": self.differences,
            "summary": self.summary(),
        }
        texts = {f"arm{i + 1}.toml": self.scenario(a).to_toml() for i, a in enumerate(self.arms)}
        self.path = save_folder(
            out,
            tables=tables,
            texts=texts,
            manifest=self.manifest,
            overwrite=overwrite,
            finish=finish,
        )
        return self.path

    @classmethod
    def load(cls, path: str | Path) -> CompareResults:
        """Read a folder written by :meth:`save`."""
        path = Path(path)
        manifest = read_manifest(path, "compare", ("arms", "band", "seeds"))
        return cls(
            arms=[a["label"] for a in manifest["arms"]],
            series=read_parquet(path, "series"),
            outputs=read_parquet(path, "outputs"),
            differences=read_parquet(path, "differences"),
            manifest=manifest,
            band=tuple(manifest["band"]),
            path=path,
        )

    def panels(self) -> dict[str, dict[str, pd.DataFrame]]:
        """The series of :data:`COMPARE_SERIES` that some arm has (not all zero): per title,
        each arm's median and band."""
        panels = {}
        for title, metric, truth, cumulative in COMPARE_SERIES:
            lines = {}
            for arm in self.arms:
                with contextlib.suppress(KeyError):  # an arm without that series
                    lines[arm] = self.series_band(arm, metric, truth=truth, cumulative=cumulative)
            if any(line["median"].abs().sum() > 0 for line in lines.values()):
                panels[title] = lines
        return panels

    def plot(self) -> matplotlib.figure.Figure:
        """The arms' headline series side by side, median and band."""
        from .plots import line_grid

        return line_grid(self.panels(), "people / person-times")


class Comparison:
    """Arms of a comparison, each run ``replicates`` times with the same seeds.

    >>> cmp = Comparison(["national"], variants=["surveillance.fpir=0.0001"],
    ...                  n_agents=100_000, replicates=10).run()          # doctest: +SKIP
    >>> cmp.table()                                                     # doctest: +SKIP
    """

    def __init__(
        self,
        scenarios: Sequence[str | Path | Scenario],
        variants: Sequence[str] = (),
        sets: Sequence[str] = (),
        n_agents: int = 100_000,
        seed: int = 0,
        replicates: int = 10,
        band: Sequence[float] = DEFAULT_BAND,
        processes: int | None = None,
        cluster: str | distributed.Client | None = None,
    ):
        replicates = check_whole(replicates, "replicates", 2, 10_000, "two give an interval")
        if isinstance(scenarios, (str, Path, Scenario)) or not isinstance(scenarios, Sequence):
            raise ScenarioError(f"scenarios: expected a list of scenarios; got {scenarios!r}")
        self.arms = make_arms(
            scenarios, check_strings(variants, "variants"), check_strings(sets, "sets")
        )
        self.band = check_band(band)
        for arm in self.arms:  # every arm checks the agents against its population
            n_agents = Sim(arm.scenario, n_agents=n_agents, seed=seed).n_agents
        self.n_agents, self.seed = n_agents, check_whole(seed, "seed", 0, 2**63 - 1)
        self.processes = check_processes(processes)
        self.cluster = cluster  # a Dask cluster to run on (executor.py), else this machine
        self.seeds = replicate_seeds(seed, replicates)

    def jobs(self) -> list[Job]:
        return [Job(a.scenario, self.n_agents, s) for a in self.arms for s in self.seeds]

    def check_memory(self) -> int:
        """How many processes the runs will use; :class:`NotEnoughMemory` if one does not fit."""
        return processes_for(self.jobs(), self.processes)

    def run(self, progress: Callable[[int, int], None] | None = None) -> CompareResults:
        """Run every arm and replicate; ``progress(done, runs)`` after each run."""
        reps = run_jobs(self.jobs(), self.processes, progress, cluster=self.cluster)
        r = len(self.seeds)
        labels = [a.label for a in self.arms]
        per_arm = [reps[i * r : (i + 1) * r] for i in range(len(self.arms))]
        series = pd.concat(
            [stack_series(p, arm=a) for a, p in zip(labels, per_arm, strict=True)],
            ignore_index=True,
        )
        outs = pd.concat(
            [stack_outputs(p, arm=a) for a, p in zip(labels, per_arm, strict=True)],
            ignore_index=True,
        )
        names = _headlines([a.scenario for a in self.arms])
        manifest = {
            "software": "socialcreditsim",
            "version": version.__version__,
            "kind": "compare",
            "n_agents": self.n_agents,
            "seeds": self.seeds,
            "band": list(self.band),
            "arms": [
                {
                    "label": a.label,
                    "source": a.source,
                    "overrides": list(a.overrides),
                    "scenario": a.scenario.model_dump(mode="json"),
                }
                for a in self.arms
            ],
        }
        return CompareResults(
            arms=labels,
            series=series,
            outputs=outs,
            differences=differences(outs, labels, self.band, names),
            manifest=manifest,
            band=self.band,
        )


def _finished(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, Results]:
    """A run folder's national series and outputs per replicate (one for a single run), and
    its (first) run."""
    if "replicates" in read_json(folder):
        multi = MultiResults.load(folder)
        return multi.series, multi.outputs, multi.first
    res = Results.load(folder)
    ts = res.timeseries
    national = ts[ts["region"] == "national"].drop(columns="region").reset_index(drop=True)
    national = national.astype(dict.fromkeys(TEXT_COLUMNS, str))
    rep = Replicate(res.manifest["seed"], national, outputs(res))
    return stack_series([rep]), stack_outputs([rep]), res


def compare_folders(
    folders: Sequence[str | Path], band: Sequence[float] = DEFAULT_BAND
) -> CompareResults:
    """Finished run folders (single runs or replicates) as a comparison, the first the
    baseline, each arm labelled by its folder's name: what :meth:`Comparison.run` gives when
    the folders were run with the same agents, seeds and period, which common random numbers
    need and which is checked (ValueError otherwise)."""
    folders = [Path(f) for f in folders]
    names = [f.name for f in folders]
    if len(folders) < 2 or len(set(names)) < len(names):
        raise ValueError(f"compare needs two or more different run folders; got {names}")
    band = check_band(band)
    loaded = [_finished(f) for f in folders]
    facts = [
        (
            res.manifest["n_agents"],
            outs.drop_duplicates("replicate")["seed"].tolist(),
            res.manifest["start"],
            res.manifest["end"],
        )
        for _, outs, res in loaded
    ]
    if any(f != facts[0] for f in facts[1:]):
        got = "; ".join(
            f"{n}: {f[0]:,} agents, seeds {f[1]}, {f[2]} to {f[3]}"
            for n, f in zip(names, facts, strict=True)
        )
        raise ValueError(
            "runs compared pair by pair need the same agents, seeds and period (common random"
            f" numbers); got {got}"
        )
    series = pd.concat(
        [stack.assign(arm=n) for n, (stack, _, _) in zip(names, loaded, strict=True)],
        ignore_index=True,
    )
    outs = pd.concat(
        [o.assign(arm=n) for n, (_, o, _) in zip(names, loaded, strict=True)], ignore_index=True
    )
    series = series[["arm", *series.columns[:-1]]]
    outs = outs[["arm", *outs.columns[:-1]]]
    scenarios = [res.scenario for _, _, res in loaded]
    manifest = {
        "software": "socialcreditsim",
        "version": version.__version__,
        "kind": "compare",
        "n_agents": facts[0][0],
        "seeds": facts[0][1],
        "band": list(band),
        "arms": [
            {"label": n, "source": n, "overrides": [], "scenario": sc.model_dump(mode="json")}
            for n, sc in zip(names, scenarios, strict=True)
        ],
    }
    return CompareResults(
        arms=names,
        series=series,
        outputs=outs,
        differences=differences(outs, names, band, _headlines(scenarios)),
        manifest=manifest,
        band=band,
    )


def _headlines(scenarios: list[Scenario]) -> dict[str, str]:
    """The headline outputs of every arm, the first arm's first: an element only one arm has
    (appeals, say) is what a comparison is about."""
    out: dict[str, str] = {}
    for sc in scenarios:
        out |= {k: v for k, v in headline_outputs(sc).items() if k not in out}
    return out
