"""Plots of runs, replicates, comparisons and sweeps: what a reader would rather look at than read.

Every function returns a matplotlib Figure (Agg backend) and draws what it is given; the report
(``report.py``) and the results' ``plot()`` methods choose the data and write the captions, so
this module knows no results class (a run is read through ``series.Run``). A *line* is a
DataFrame indexed by date with a ``median`` column (the value itself for a single run) and, for
replicates, ``lower`` and ``upper`` columns drawn as a shaded band around it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter  # noqa: E402

if TYPE_CHECKING:
    import matplotlib.axes
    import matplotlib.figure

    from .scenario import Scenario
    from .series import Run

__all__ = [
    "category_bars",
    "counted",
    "forest",
    "line_grid",
    "overview",
    "overview_panels",
    "published_grid",
    "score_histograms",
    "sobol_bars",
    "stacked_shares",
    "sweep_grid",
    "truth_grid",
]

P = ParamSpec("P")
Lines = Mapping[str, pd.DataFrame]  # label -> line (module docstring)
RIGHTFUL, WRONGFUL = "#1f4e79", "#c0392b"
STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "socialcreditsim",
}


def _styled(func: Callable[P, matplotlib.figure.Figure]) -> Callable[P, matplotlib.figure.Figure]:
    """Draw under the house style."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> matplotlib.figure.Figure:
        with plt.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def _grid(n: int, ncols: int, width: float = 3.6, height: float = 2.6) -> tuple[Any, list[Any]]:
    """A figure of ``n`` panels in rows of ``ncols``; unused cells are hidden."""
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(width * ncols, height * nrows),
        constrained_layout=True,
        squeeze=False,
    )
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _dates(ax: matplotlib.axes.Axes) -> None:
    loc = mdates.AutoDateLocator(minticks=3, maxticks=6)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _draw(
    ax: matplotlib.axes.Axes, line: pd.DataFrame, label: str, color: Any = None, style: str = "-"
) -> None:
    """A median line, and its band where the line has one."""
    (drawn,) = ax.plot(line.index, line["median"], style, color=color, label=label, lw=1.4)
    if "lower" in line:
        ax.fill_between(
            line.index, line["lower"], line["upper"], color=drawn.get_color(), alpha=0.2
        )


def _human(x: float, _pos: int | None = None) -> str:
    """A count in few characters: 950, 12k, 3.5M, 1.4B."""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def _counts(ax: matplotlib.axes.Axes) -> None:
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(_human))


@_styled
def line_grid(panels: Mapping[str, Lines], ylabel: str, ncols: int = 2) -> matplotlib.figure.Figure:
    """One panel per title, each with its labelled lines on one axis."""
    fig, axes = _grid(len(panels), ncols, width=5.2, height=3.0)
    for ax, (title, lines) in zip(axes, panels.items(), strict=True):
        for label, line in lines.items():
            _draw(ax, line, label)
        _over_time(ax, title, ylabel)
    return fig


def _over_time(ax: matplotlib.axes.Axes, title: str, ylabel: str) -> None:
    """Title, counts on the y axis, dates on the x axis, a legend."""
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    _counts(ax)
    _dates(ax)
    ax.legend()


@_styled
def truth_grid(
    panels: Mapping[str, Lines], ylabel: str, ncols: int = 3
) -> matplotlib.figure.Figure:
    """One panel per title: its ``rightful`` line on the left axis, its ``wrongful`` line on a
    right-hand axis of its own (in red), so that the small wrongful counts stay readable."""
    fig, axes = _grid(len(panels), ncols)
    for ax, (title, lines) in zip(axes, panels.items(), strict=True):
        right = ax.twinx()
        right.grid(False)
        for axis, truth, color in ((ax, "rightful", RIGHTFUL), (right, "wrongful", WRONGFUL)):
            _draw(axis, lines[truth], truth, color)
            axis.tick_params(axis="y", colors=color)
            axis.set_ylim(bottom=0, top=max(1.0, axis.get_ylim()[1]))
            _counts(axis)
        right.spines["right"].set_visible(True)
        ax.set_title(title)
        ax.set_ylabel(ylabel, color=RIGHTFUL)
        right.set_ylabel("wrongful", color=WRONGFUL)
        _dates(ax)
    return fig


@_styled
def published_grid(
    panels: Mapping[str, tuple[pd.DataFrame, pd.Series]], ylabel: str
) -> matplotlib.figure.Figure:
    """One panel per series: the simulated line, with the published figures as dots."""
    fig, axes = _grid(len(panels), 2, width=5.2, height=3.0)
    for ax, (title, (line, published)) in zip(axes, panels.items(), strict=True):
        _draw(ax, line, "simulated", RIGHTFUL)
        ax.plot(published.index, published.values, "o", color=WRONGFUL, label="published")
        _over_time(ax, title, ylabel)
    return fig


@_styled
def score_histograms(hist: pd.DataFrame) -> matplotlib.figure.Figure:
    """Share of scored people per score bin (columns: dates; index: bin start), log scale."""
    fig, ax = plt.subplots(figsize=(8, 3.6), constrained_layout=True)
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, hist.shape[1]))
    for color, (date, share) in zip(colors, hist.items(), strict=True):
        ax.step(share.index, share.to_numpy(), where="post", color=color, label=str(date)[:10])
    ax.set_yscale("log")
    ax.set_xlabel("score (bin start)")
    ax.set_ylabel("share of scored people")
    ax.legend(title="date")
    return fig


@_styled
def stacked_shares(shares: pd.DataFrame, ylabel: str) -> matplotlib.figure.Figure:
    """Shares over time (index: dates; columns: categories, stacked in column order)."""
    fig, ax = plt.subplots(figsize=(8, 3.4), constrained_layout=True)
    colors = plt.get_cmap("RdYlGn")(np.linspace(0.95, 0.05, shares.shape[1]))
    ax.stackplot(shares.index, shares.T.to_numpy(), labels=shares.columns, colors=colors)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel(ylabel)
    _dates(ax)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), reverse=True)
    return fig


@_styled
def category_bars(panels: Mapping[str, pd.DataFrame], xlabel: str) -> matplotlib.figure.Figure:
    """One panel per title: a horizontal bar per category (index), stacking the columns
    (``rightful`` then ``wrongful``) as shares."""
    n_bars = max(len(f) for f in panels.values())
    fig, axes = _grid(len(panels), 2 if n_bars < 12 else len(panels), 4.6, 0.9 + 0.2 * n_bars)
    for ax, (title, frame) in zip(axes, panels.items(), strict=True):
        left = np.zeros(len(frame))
        y = np.arange(len(frame))
        for col in frame.columns:
            color = WRONGFUL if col == "wrongful" else RIGHTFUL
            ax.barh(y, frame[col], left=left, color=color, label=col, height=0.7)
            left += frame[col].to_numpy()
        ax.set_yticks(y, frame.index)
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        ax.set_title(title)
        ax.set_xlabel(xlabel)
    _legend(fig, axes)
    return fig


def _legend(fig: matplotlib.figure.Figure, axes: list[Any]) -> None:
    """One legend for the figure, above the panels, with every label once."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    if len(seen) > 1:
        fig.legend(seen.values(), seen.keys(), loc="outside upper right", ncols=len(seen))


@_styled
def forest(diffs: pd.DataFrame, xlabel: str) -> matplotlib.figure.Figure:
    """Differences with intervals: one row per ``label``, one marker per ``arm`` (columns
    label, arm, median, lower, upper), and a line at zero."""
    labels = list(dict.fromkeys(diffs["label"]))
    arms = list(dict.fromkeys(diffs["arm"]))
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.32 * len(labels) * max(1, len(arms) / 2)))
    step = 0.6 / max(1, len(arms))
    for k, arm in enumerate(arms):
        part = diffs[diffs["arm"] == arm].set_index("label").reindex(labels)
        y = np.arange(len(labels)) + (k - (len(arms) - 1) / 2) * step
        err = [part["median"] - part["lower"], part["upper"] - part["median"]]
        ax.errorbar(part["median"], y, xerr=err, fmt="o", ms=4, capsize=2, label=arm)
    ax.axvline(0, color="#555", lw=0.8)
    ax.set_yticks(np.arange(len(labels)), labels)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    ax.set_xlabel(xlabel)
    ax.legend(loc="lower right")
    fig.set_layout_engine("constrained")
    return fig


@_styled
def sweep_grid(
    panels: Mapping[tuple[str, str], pd.DataFrame], scatter: bool
) -> matplotlib.figure.Figure:
    """One panel per (output, parameter): the output against the parameter's value (columns
    x, median, lower and upper drawn as error bars, a line per value of the ``others`` column;
    or a scatter of x against median)."""
    outputs = list(dict.fromkeys(o for o, _ in panels))
    params = list(dict.fromkeys(p for _, p in panels))
    fig, axes = plt.subplots(
        len(outputs),
        len(params),
        figsize=(3.6 * len(params), 2.6 * len(outputs)),
        constrained_layout=True,
        squeeze=False,
    )
    for (output, param), frame in panels.items():
        ax = axes[outputs.index(output), params.index(param)]
        if scatter:
            ax.plot(frame["x"], frame["median"], ".", color=RIGHTFUL, alpha=0.5, ms=4)
        for group, part in () if scatter else frame.groupby("others", sort=False):
            part = part.sort_values("x")
            err = [part["median"] - part["lower"], part["upper"] - part["median"]]
            ax.errorbar(part["x"], part["median"], yerr=err, fmt="o-", ms=4, capsize=2, label=group)
        ax.set_xlabel(param)
        ax.set_ylabel(output)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        _counts(ax)
        if frame["others"].nunique() > 1 and not scatter:
            ax.legend()
    return fig


@_styled
def sobol_bars(sobol: pd.DataFrame) -> matplotlib.figure.Figure:
    """First-order (S1) and total (ST) Sobol indices with confidence intervals, one panel per
    output (columns output, parameter, S1, S1_conf, ST, ST_conf)."""
    outputs = list(dict.fromkeys(sobol["output"]))
    fig, axes = _grid(len(outputs), 2, 4.6, 0.9 + 0.35 * sobol["parameter"].nunique())
    for ax, output in zip(axes, outputs, strict=True):
        part = sobol[sobol["output"] == output]
        y = np.arange(len(part))
        for offset, (key, color) in ((-0.18, ("S1", RIGHTFUL)), (0.18, ("ST", WRONGFUL))):
            ax.barh(
                y + offset,
                part[key],
                xerr=part[f"{key}_conf"],
                height=0.36,
                color=color,
                label=key,
                capsize=2,
            )
        ax.set_yticks(y, part["parameter"])
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.set_title(output)
        ax.set_xlabel("share of the output's variance")
        ax.legend(loc="lower right")
    return fig


# ------------------------------------------------------------------------------ quick looks

LineOf = Callable[..., pd.DataFrame]  # (metric, item=None, truth=None, cumulative=False) -> line


def counted(manifest: Mapping[str, Any]) -> str:
    """The unit of a run's counts, for an axis label."""
    return "agents (raw)" if manifest["counts"] == "raw" else "people (scaled)"


def overview_panels(line: LineOf, sc: Scenario) -> dict[str, dict[str, pd.DataFrame]]:
    """The panels of a run's overview: people barred (all and wrongly) by sanction, list stocks
    and blocked attempts, each line drawn by ``line``."""
    names = [m.name for m in sc.sanctions]
    lists = {"court list": line("court_listed")}
    if sc.blacklist.enabled:
        lists["blacklist"] = line("blacklisted")
    panels = {
        "People barred, by sanction": {n: line("sanctioned_people", n) for n in names},
        "People on lists": lists,
        "Blocked attempts since the start": {
            n: line("blocked_attempts", n, cumulative=True) for n in names
        },
        "Wrongly barred, by sanction": {n: line("sanctioned_people", n, "wrongful") for n in names},
    }
    return {k: v for k, v in panels.items() if v}


def overview(res: Run) -> matplotlib.figure.Figure:
    """People barred (all and wrongly), list stocks and blocked attempts over time."""

    def line(
        metric: str, item: str | None = None, truth: str | None = None, cumulative: bool = False
    ) -> pd.DataFrame:
        return res.series(metric, item, truth, cumulative=cumulative).to_frame("median")

    m = res.manifest
    fig = line_grid(overview_panels(line, res.scenario), counted(m))
    fig.suptitle(f"{m['scenario']}: N={m['n_agents']:,}, seed {m['seed']}")
    return fig
