"""Disparities: who is listed and barred, per person, against the national rate (MODEL.md
sections 2 and 10).

:func:`disparities` reads the snapshots of one run, or of several runs of one scenario with
different seeds (replicates), and gives for every category of a dimension (targeted group,
region, urban or rural, age band; propensity class on request) the share of its people

- on the courts' list (``court_listed``) and listed at discretion (``listed_at_discretion``),
- on the score blacklist (``blacklisted``), barred by at least one sanction (``sanctioned``) and
  by each (``sanctioned:<sanction>``), holding a reward (``rewarded``, ``rewarded:<reward>``),
- and, of the blacklisted and of the barred, the share that is wrongful
  (``blacklisted/wrongful_share``, ``sanctioned/wrongful_share``, ``sanctioned:<s>/wrongful_share``:
  wrongful / (rightful + wrongful), NaN where nobody is),

each with its **relative risk**: the category's share divided by the national share of the same
metric (NaN where the national share is 0). The national row stays in the table as the
reference (relative risk 1). Metrics a run's snapshots do not have are left out.

**Shares are time averages over the run, in person-days.** A snapshot (a whole-population scan)
counts for the days since the snapshot before it, the first for the days since the start: the
weights add up to the days of the run, and the people of a category do not change during a run,
so the average is person-days on the list over person-days of the category. With evenly spaced
snapshots (``output.snapshot_every_days``) it is their plain mean; with the default monthly
snapshots the last day, which follows the first of its month closely, does not weigh as much as a
whole month. A wrongful share is the ratio of the averages: wrongful person-days over barred
person-days.

**Whose shares.** The national row and every category but children count scored people (adults
and seniors). The age band ``child`` has only what children are barred from through a parent;
its relative risk compares that share with the national share of scored people barred.

**Replicates and the interval.** With several runs, ``share`` and ``people`` are means over the
runs, and ``relative_risk`` is the mean of the runs' relative risks with a 95% confidence
interval for it, ``rr_low`` to ``rr_high`` = mean ± t(0.975, n - 1) s / sqrt(n), s the standard
deviation of the n runs' relative risks (the lower end no less than 0). Student's t rather than
the normal 1.96, because replicates are few: with 3 runs a ±1.96 s / sqrt(n) interval covers
the mean about 81% of the time, not 95% (``compare`` gives its mean differences the same kind
of interval). It says how well the runs pin down the scenario's expected relative risk at this
number of agents, not where one more run would fall (for that, the percentile bands of
``replicates.py``). ``replicates`` counts the runs in which the relative risk is defined; with
one, ``rr_low`` and ``rr_high`` are NaN.

A replicates folder (``run --replicates``) keeps the snapshots of its first replicate only, so
it gives that replicate's table; for an interval, pass the runs themselves (``Sim(...).run()``
with seeds ``s, s + 1, ...``, or their run folders to ``socialcreditsim disparities``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .results import Results

if TYPE_CHECKING:
    import matplotlib.figure

    from .replicates import MultiResults

__all__ = [
    "ALL_DIMENSIONS",
    "COLUMNS",
    "CONFIDENCE",
    "DIMENSIONS",
    "DIMENSION_WORDS",
    "PLOTTED",
    "disparities",
    "label",
    "plot",
    "run_shares",
    "time_weights",
]

DIMENSIONS = ("group", "region", "urban_rural", "age_band")
ALL_DIMENSIONS = (*DIMENSIONS, "propensity")
COLUMNS = [
    "dimension",
    "category",
    "metric",
    "people",
    "share",
    "relative_risk",
    "rr_low",
    "rr_high",
    "replicates",
]
CONFIDENCE = 0.95
PLOTTED = ("court_listed", "blacklisted", "sanctioned")  # the report's figure, by default
WRONGFUL_SHARE = "/wrongful_share"
KEYS = ["dimension", "category"]
# metric stems first in this order, then any other in the order the snapshots have them
STEMS = ("court_listed", "listed_at_discretion", "blacklisted", "sanctioned", "rewarded")
WORDS = {
    "court_listed": "court listed",
    "listed_at_discretion": "listed at discretion",
    "blacklisted": "blacklisted",
    "sanctioned": "barred",
    "rewarded": "rewarded",
}
DIMENSION_WORDS = {
    "national": "national",
    "group": "group",
    "region": "region",
    "urban_rural": "urban or rural",
    "age_band": "age band",
    "propensity": "propensity",
}


def label(metric: str) -> str:
    """A metric of the table in words: ``sanctioned:flights/wrongful_share`` is
    "barred: flights, wrongful share"."""
    name, wrongful, _ = metric.partition(WRONGFUL_SHARE)
    stem, _, item = name.partition(":")
    words = WORDS.get(stem, stem.replace("_", " "))
    if item:
        words += f": {item}"
    return words + (", wrongful share" if wrongful else "")


# ------------------------------------------------------------------------------ one run


def time_weights(dates: np.ndarray, start: Any) -> np.ndarray:
    """The days each snapshot of ``dates`` (one per row) stands for: those since the snapshot
    before, the first since the ``start`` of the run, its own day included in each."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    days = np.unique(dates)  # sorted
    first = np.datetime64(str(start), "D") if start is not None else days[0]
    prev = np.concatenate([[min(first, days[0]) - np.timedelta64(1, "D")], days[:-1]])
    weights = (days - prev).astype(np.int64).astype(float)
    return weights[np.searchsorted(days, dates)]


def _parse(raw: str) -> tuple[str, str, str]:
    """A snapshot metric ``share_<stem>[_rightful|_wrongful][:<item>]`` as (name, part, stem):
    name ``<stem>[:<item>]``, part "rightful", "wrongful" or "" (not split by truth)."""
    base, colon, item = raw.removeprefix("share_").partition(":")
    part = ""
    for truth in ("rightful", "wrongful"):
        if base.endswith(f"_{truth}"):
            base, part = base.removesuffix(f"_{truth}"), truth
    return base + colon + item, part, base


def _metrics(raw: Sequence[str]) -> list[tuple[str, dict[str, str]]]:
    """The table's metrics from the snapshot metrics a run has (:func:`_parse`), in order: each
    with its parts by truth ("" where not split); a split one is followed by its wrongful share."""
    found: dict[str, dict[str, str]] = {}
    stems: dict[str, str] = {}
    for r in raw:
        name, part, stem = _parse(r)
        found.setdefault(name, {})[part] = r
        stems[name] = stem
    rank = {s: i for i, s in enumerate(STEMS)}
    seen = list(found)
    order = sorted(
        seen,
        key=lambda n: (
            rank.get(stems[n], len(STEMS)),
            seen.index(next(m for m in seen if stems[m] == stems[n])),  # a stem's names together
            ":" in n,  # the total before its items
            seen.index(n),
        ),
    )
    out = []
    for name in order:
        parts = found[name]
        out.append((name, parts))
        if "wrongful" in parts and "rightful" in parts:
            out.append((name + WRONGFUL_SHARE, parts))
    return out


def run_shares(res: Results, dimensions: Sequence[str] = DIMENSIONS) -> pd.DataFrame:
    """One run's table: dimension, category, metric, people, share and relative_risk (module
    docstring), the national reference first, then the ``dimensions`` in that order."""
    dimensions = _check_dimensions(dimensions)
    snap = res.snapshots
    where = res.path if res.path is not None else f"the run with seed {res.manifest.get('seed')}"
    need = {"date", "dimension", "category", "metric", "value"}
    if snap.empty or not need <= set(snap.columns):
        raise ValueError(f"{where}: has no snapshots, so no shares by category")
    metric = snap["metric"].astype(str)
    keep = snap["dimension"].isin(["national", *dimensions]) & (
        (metric == "people")
        | (metric.str.startswith("share_") & ~metric.str.startswith("share_grade_"))
    )
    part = pd.DataFrame(
        {
            "dimension": snap.loc[keep, "dimension"].astype(str),
            "category": snap.loc[keep, "category"].astype(str),
            "metric": metric[keep],
            "value": snap.loc[keep, "value"].astype(float),
        }
    )
    dates = snap.loc[keep, "date"].to_numpy().astype("datetime64[D]")
    part["w"] = time_weights(dates, res.manifest.get("start"))
    part["wv"] = part["w"] * part["value"]
    sums = part.groupby([*KEYS, "metric"], sort=False)[["wv", "w"]].sum()
    mean = (sums["wv"] / sums["w"]).unstack("metric")
    rows = list(dict.fromkeys(sums.index.droplevel("metric")))
    rank = {d: i for i, d in enumerate(["national", *dimensions])}
    rows.sort(key=lambda key: rank[key[0]])  # stable: categories as the snapshots have them
    mean = mean.reindex(pd.MultiIndex.from_tuples(rows, names=KEYS))
    if ("national", "national") not in mean.index:
        raise ValueError(f"{where}: its snapshots have no national row")
    raw = [m for m in dict.fromkeys(part["metric"]) if m != "people"]
    columns: dict[str, pd.Series] = {}
    present: dict[str, pd.Series] = {}
    for name, parts in _metrics(raw):
        cols = mean[list(parts.values())]
        present[name] = cols.notna().any(axis=1)
        if name.endswith(WRONGFUL_SHARE):
            total = cols[parts["rightful"]] + cols[parts["wrongful"]]
            columns[name] = cols[parts["wrongful"]] / total.where(total > 0)
        else:
            columns[name] = cols.sum(axis=1, min_count=1)
    shares = pd.DataFrame(columns, index=mean.index)
    national = shares.loc[("national", "national")]
    rr = shares / national.where(national > 0)
    n_rows, n_metrics = shares.shape
    index = shares.index.to_frame(index=False)
    people = mean["people"] if "people" in mean else pd.Series(np.nan, index=mean.index)
    out = pd.DataFrame(
        {
            "dimension": np.repeat(index["dimension"].to_numpy(), n_metrics),
            "category": np.repeat(index["category"].to_numpy(), n_metrics),
            "metric": np.tile(np.array(shares.columns, dtype=object), n_rows),
            "people": np.repeat(people.to_numpy(dtype=float), n_metrics),
            "share": shares.to_numpy(dtype=float).ravel(),
            "relative_risk": rr.to_numpy(dtype=float).ravel(),
        }
    )
    keep_rows = pd.DataFrame(present, index=mean.index).to_numpy().ravel()
    return out[keep_rows].reset_index(drop=True)


# ------------------------------------------------------------------------------ replicates


def _check_dimensions(dimensions: Sequence[str] | str) -> list[str]:
    if isinstance(dimensions, str):
        dimensions = [dimensions]
    bad = [d for d in dimensions if d not in ALL_DIMENSIONS]
    if bad:
        raise ValueError(f"dimension {bad[0]}: expected some of {', '.join(ALL_DIMENSIONS)}")
    return list(dict.fromkeys(dimensions))


def _name(res: Results, i: int) -> str:
    return str(res.path) if res.path is not None else f"run {i + 1} (seed {res.manifest['seed']})"


def _runs(results: Results | MultiResults | Iterable[Results]) -> list[Results]:
    """The runs to summarise: one, the first replicate of a replicates folder, or several runs
    of one scenario and number of agents with different seeds (ValueError otherwise)."""
    from .replicates import MultiResults

    if isinstance(results, Results):
        return [results]
    if isinstance(results, MultiResults):
        return [results.first]  # the others' snapshots are not kept (module docstring)
    if isinstance(results, (str, bytes)) or not isinstance(results, Iterable):
        raise TypeError(
            f"disparities: expected Results, MultiResults or a sequence of Results, got"
            f" {type(results).__name__}"
        )
    runs = list(results)
    if not runs:
        raise ValueError("disparities: no runs given")
    for i, res in enumerate(runs):
        if not isinstance(res, Results):
            raise TypeError(f"disparities: item {i + 1} is a {type(res).__name__}, not Results")
    first = runs[0]

    def scenario(res: Results) -> str:
        return json.dumps(res.manifest.get("resolved_scenario"), sort_keys=True, default=str)

    seen: dict[Any, str] = {}
    for i, res in enumerate(runs):
        name = _name(res, i)
        if i and scenario(res) != scenario(first):
            raise ValueError(
                f"{name}: not a replicate of {_name(first, 0)}: its scenario differs; replicates"
                " are runs of one scenario with different seeds"
            )
        if i and res.manifest.get("n_agents") != first.manifest.get("n_agents"):
            raise ValueError(
                f"{name}: not a replicate of {_name(first, 0)}: it has"
                f" {res.manifest.get('n_agents'):,} agents, not {first.manifest.get('n_agents'):,}"
            )
        seed = res.manifest.get("seed")
        if seed in seen:
            raise ValueError(
                f"{name} and {seen[seed]} have the same seed {seed}: replicates need different"
                " seeds (the same seed gives the same run)"
            )
        seen[seed] = name
    return runs


def disparities(
    results: Results | MultiResults | Iterable[Results],
    dimensions: Sequence[str] = DIMENSIONS,
) -> pd.DataFrame:
    """Per-capita shares listed, barred and rewarded by category, with their relative risk
    against the national share and, over replicates, its 95% interval (module docstring).

    ``results``: one run, a :class:`~socialcreditsim.replicates.MultiResults` (its first
    replicate) or several runs of one scenario with different seeds. ``dimensions``: some of
    :data:`ALL_DIMENSIONS`. Columns: :data:`COLUMNS`; one row per (dimension, category, metric),
    the national reference first."""
    # Student's t quantile (what scipy.stats.t.ppf returns): scipy.special loads in a fifth of
    # the second scipy.stats takes, and only here
    from scipy.special import stdtrit

    runs = _runs(results)
    dimensions = _check_dimensions(dimensions)
    tables = [run_shares(res, dimensions) for res in runs]
    both = pd.concat(tables, ignore_index=True)
    g = both.groupby([*KEYS, "metric"], sort=False)
    out = g[["people", "share"]].mean()
    rr = g["relative_risk"]
    n = rr.count()
    out["relative_risk"] = rr.mean()
    sd = rr.std(ddof=1)
    t = pd.Series(stdtrit(np.maximum(n - 1, 1), 0.5 + CONFIDENCE / 2), index=n.index)
    half = (t * sd / np.sqrt(n)).where(n >= 2)
    out["rr_low"] = (out["relative_risk"] - half).clip(lower=0.0)  # a risk is not negative
    out["rr_high"] = out["relative_risk"] + half
    out["replicates"] = n.astype(np.int64)
    out = out.reset_index()
    rank = {d: i for i, d in enumerate(["national", *dimensions])}
    order = np.lexsort((np.arange(len(out)), out["dimension"].map(rank).to_numpy()))
    return out.iloc[order][COLUMNS].reset_index(drop=True)


# ------------------------------------------------------------------------------ plot


def plot(
    frame: pd.DataFrame,
    metrics: Sequence[str] = PLOTTED,
    dimensions: Sequence[str] = ("group", "urban_rural", "age_band"),
) -> matplotlib.figure.Figure | None:
    """Relative risk by category, one panel per metric of ``metrics`` that has a national share
    above 0: a dot per category (with its interval, over replicates), a line at 1 and a band
    from half to twice the national rate; None where no panel has anything to show."""
    import matplotlib.pyplot as plt

    from . import plots

    part = frame[frame["dimension"].isin(dimensions) & frame["metric"].isin(metrics)]
    part = part[part["relative_risk"].notna()]
    shown = [m for m in metrics if (part["metric"] == m).any()]
    if not shown:
        return None
    cats = list(dict.fromkeys(zip(part["dimension"], part["category"], strict=True)))
    ticks = [f"{DIMENSION_WORDS.get(d, d)}: {c}" for d, c in cats]
    with plt.rc_context(plots.STYLE):
        fig, axes = plt.subplots(
            1,
            len(shown),
            figsize=(3.4 * len(shown) + 1.4, 0.9 + 0.28 * len(cats)),
            sharey=True,
            squeeze=False,
            constrained_layout=True,
        )
        y = np.arange(len(cats))
        for ax, m in zip(axes[0], shown, strict=True):
            rows = part[part["metric"] == m].set_index(KEYS).reindex(cats)
            ax.axvspan(0.5, 2.0, color="#eef1f5", zorder=0)
            ax.axvline(1.0, color="#555", lw=0.8)
            rr = rows["relative_risk"].to_numpy(dtype=float)
            lo, hi = rows["rr_low"].to_numpy(dtype=float), rows["rr_high"].to_numpy(dtype=float)
            err = np.nan_to_num(np.vstack([rr - lo, hi - rr]), nan=0.0)
            ax.errorbar(
                rr, y, xerr=err, fmt="o", ms=4, capsize=2, color=plots.RIGHTFUL, clip_on=False
            )  # a relative risk of 0 sits on the axis, whole
            ax.set_xlim(left=0)
            ax.set_yticks(y, ticks)
            ax.grid(axis="y", visible=False)
            ax.set_title(label(m))
            ax.set_xlabel("relative risk (national = 1)")
        axes[0][0].invert_yaxis()
    return fig
