"""Plots of one run: what a reader would rather look at than read."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

if TYPE_CHECKING:
    import matplotlib.figure

    from .results import Results

__all__ = ["overview"]


def overview(res: Results) -> matplotlib.figure.Figure:
    """Four panels: people sanctioned, list stocks, blocked attempts, score distribution."""
    sc = res.scenario
    scale = "people (scaled to the population)" if res.manifest["counts"] != "raw" else "agents"
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), constrained_layout=True)
    ax = axes[0, 0]
    for m in sc.sanctions:
        for truth, style in (("rightful", "-"), ("wrongful", "--")):
            s = res.series("sanctioned_people", m.name, truth)
            if s.abs().sum() or truth == "rightful":
                ax.plot(s.index, s.values, style, label=f"{m.name} ({truth})")
    ax.set_title("People barred, by sanction")
    ax.set_ylabel(scale)
    ax = axes[0, 1]
    ax.plot(*_xy(res.series("court_listed")), label="court list")
    if sc.blacklist.enabled:
        ax.plot(*_xy(res.series("blacklisted", truth="rightful")), label="blacklist (rightful)")
        ax.plot(
            *_xy(res.series("blacklisted", truth="wrongful")), "--", label="blacklist (wrongful)"
        )
    ax.set_title("People on lists")
    ax.set_ylabel(scale)
    ax = axes[1, 0]
    for m in sc.sanctions:
        ax.plot(*_xy(res.series("blocked_attempts", m.name, cumulative=True)), label=m.name)
    ax.set_title("Blocked attempts since the start (cumulative person-times)")
    ax = axes[1, 1]
    snap = res.snapshots
    hist = snap[(snap["metric"] == "score_histogram") & (snap["dimension"] == "national")]
    for date in sorted(hist["date"].unique())[:: max(1, len(hist["date"].unique()) // 4)]:
        h = hist[hist["date"] == date]
        ax.step(h["bin"], h["value"] / h["value"].sum(), where="post", label=str(date)[:10])
    ax.set_yscale("log")
    ax.set_title("Score distribution (share of scored people)")
    ax.set_xlabel("score")
    for a in axes.flat:
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=8)
    fig.suptitle(
        f"{res.manifest['scenario']}: N={res.manifest['n_agents']:,}, seed {res.manifest['seed']}"
    )
    return fig


def _xy(series):  # noqa: ANN001, ANN202
    return series.index, series.values
