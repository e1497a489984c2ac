"""The report of a folder: ``report.html`` (self-contained, opens offline) and every figure as
``figures/<name>.png`` and ``.svg`` for papers.

:func:`write_report` reads a run folder (a replicates folder gives medians and bands), a
comparison folder or a sweep folder, by its ``manifest.json``. The figures are data: each entry
of :data:`RUN_FIGURES`, :data:`COMPARE_FIGURES` and :data:`SWEEP_FIGURES` names a figure, its
title, its caption (what is counted and how it is scaled) and the function that builds it and the
table of its numbers. The HTML embeds the SVG files as data URIs, and every number of a table
carries its exact value (``<td data-value="...">``) beside the rounded one it shows.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import os
import shutil
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FixedFormatter, FixedLocator

from . import plots, version
from .executor import LocalExecutor, WorkersUnavailable, start_preloaded
from .folders import read_json
from .lists import BLACKLIST_EXIT_REASONS, COURT_EXIT_REASONS
from .results import Results
from .scenario import Scenario
from .series import (
    SeriesError,
    SeriesSpec,
    headline_outputs,
    outputs,
    series_spec,
    simulated_series,
)

__all__ = ["COMPARE_FIGURES", "RUN_FIGURES", "SWEEP_FIGURES", "Figure", "RunFolder", "write_report"]

Line = pd.DataFrame  # date index; median (and lower, upper for replicates)
Built = tuple[Any, pd.DataFrame | None] | None  # (matplotlib figure or None, table) or nothing


@dataclass(frozen=True)
class Figure:
    """One entry of a report: ``figures/<name>.*``, a title, a caption (``{scale}``, ``{band}``
    and ``{first}`` are filled in from the folder) and its builder, which returns the figure
    (or None: a table only) and the table of its numbers, or None where the folder has nothing
    to show."""

    name: str
    title: str
    caption: str
    build: Callable[[Any], Built]


@dataclass
class _Section:
    """A figure of the report as drawn: its image files' bytes (None: a table only) and the
    HTML of its table ("" if none)."""

    name: str
    title: str
    caption: str
    png: bytes | None
    svg: bytes | None
    table: str


# ------------------------------------------------------------------------------ run folders


class RunFolder:
    """What the run figures read (here and in the dashboard): the national lines, the snapshots
    and the scenario of a run folder; for a replicates folder the lines are medians and bands
    over the replicates, the rest is the first replicate's. ``manifest``: the folder's, if
    already read."""

    def __init__(self, folder: Path, manifest: dict[str, Any] | None = None):
        manifest = read_json(folder) if manifest is None else manifest
        self.replicates = "replicates" in manifest
        if self.replicates:
            from .replicates import MultiResults

            self.multi = MultiResults.load(folder)
            self.res = self.multi.first
        else:
            self.res = Results.load(folder)
            ts = self.res.timeseries
            nat = ts[ts["region"] == "national"]
            self.wide = nat.pivot(index="date", columns=["metric", "item", "truth"], values="value")
        self.manifest = self.res.manifest
        self.scenario: Scenario = self.res.scenario
        self.snapshots = self.res.snapshots

    def line(
        self,
        metric: str,
        item: str | None = None,
        truth: str | None = None,
        cumulative: bool = False,
    ) -> Line:
        """A national series summed over items and truths left unspecified."""
        if self.replicates:
            return self.multi.series_band(metric, item, truth, cumulative)
        cols = self.wide.columns
        sel = cols.get_level_values("metric") == metric
        for level, value in (("item", item), ("truth", truth)):
            if value is not None:
                sel &= cols.get_level_values(level) == value
        s = self.wide.loc[:, sel].sum(axis=1)
        return (s.cumsum() if cumulative else s).to_frame("median")

    def people(self, spec: SeriesSpec) -> Line:
        """A published series as simulated, in people (``series.simulated_series``)."""
        if not self.replicates:
            return simulated_series(self.res, spec).to_frame("median")
        band = self.line(spec.metric, spec.item, cumulative=spec.cumulative)
        scale = self.manifest["scale"] if self.manifest["counts"] == "raw" else 1.0
        return band * scale + spec.offset

    def stats(self, name: str, row: pd.Series) -> dict[str, float]:
        """Table cells of one point of a line: the value, or the median and band."""
        if not self.replicates:
            return {name: float(row["median"])}
        lo, hi = self.multi.band
        return {
            f"{name} (median)": float(row["median"]),
            f"{name} ({lo:g}th pct)": float(row["lower"]),
            f"{name} ({hi:g}th pct)": float(row["upper"]),
        }

    def texts(self) -> dict[str, str]:
        m = self.manifest
        per = f"{m['scale']:,.1f} people"
        if m["counts"] == "raw":
            scale = f"Counts are raw agent counts, not scaled (each agent stands for {per})."
        else:
            scale = f"Counts are scaled to the population: each agent stands for {per}."
        band = first = ""
        if self.replicates:
            lo, hi = self.multi.band
            band = (
                f" Lines are the median of {len(self.multi.seeds)} replicates; the shaded band runs"
                f" from their {lo:g}th to their {hi:g}th percentile."
            )
            first = f" From the first replicate (seed {m['seed']})."
        return {"scale": scale, "band": band, "first": first}

    def header(self) -> list[tuple[str, str]]:
        m = self.manifest
        seeds = str(m["seed"])
        if self.replicates:
            s = self.multi.seeds
            seeds = f"{s[0]} to {s[-1]} ({len(s)} replicates)"
        return [
            ("scenario", m["scenario"]),
            ("agents (N)", f"{m['n_agents']:,}"),
            ("population", f"{m['population']:,}"),
            ("people per agent", f"{m['scale']:,.1f}"),
            ("counts", m["counts"]),
            ("seed", seeds),
            ("period", f"{m['start']} to {m['end']}"),
            ("version", f"socialcreditsim {m['version']}"),
        ]


def _end_table(run: RunFolder, panels: Mapping[str, Mapping[str, Line]], key: str) -> pd.DataFrame:
    """The last value of every line: one row per panel, the lines side by side; for a single
    run with rightful and wrongful lines, the wrongful share too."""
    rows = []
    for title, lines in panels.items():
        row: dict[str, Any] = {key: title}
        for label, line in lines.items():
            row |= run.stats(label, line.iloc[-1])
        if not run.replicates and {"rightful", "wrongful"} <= set(lines):
            total = row["rightful"] + row["wrongful"]
            row["wrongful share"] = row["wrongful"] / total if total > 0 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _truths(run: RunFolder, metric: str, item: str, cumulative: bool = False) -> dict[str, Line]:
    return {t: run.line(metric, item, t, cumulative) for t in ("rightful", "wrongful")}


def _headline(run: RunFolder) -> Built:
    labels = headline_outputs(run.scenario)
    if run.replicates:
        summary = run.multi.summary().set_index("output")
        rows = [
            {"figure": label} | run.stats("value", summary.loc[key])
            for key, label in labels.items()
        ]
    else:
        values = outputs(run.res)
        rows = [{"figure": label, "value": float(values[key])} for key, label in labels.items()]
    return None, pd.DataFrame(rows)


def _published(run: RunFolder) -> Built:
    sc = run.scenario
    if not sc.published:
        return None
    start, end = pd.Timestamp(sc.time.start), pd.Timestamp(sc.time.end)
    rows, lines, points = [], {}, {}
    for fig in sc.published:
        row: dict[str, Any] = {"date": str(fig.date), "series": fig.series, "unit": fig.unit}
        row["published"] = float(fig.value)
        date = pd.Timestamp(fig.date)
        try:
            spec = series_spec(fig.series, sc)
        except SeriesError as exc:
            rows.append(row | {"note": f"not covered: {exc}", "source": fig.source})
            continue
        if not start <= date <= end:
            note = f"not covered: the run covers {start.date()} to {end.date()}"
            rows.append(row | {"note": note, "source": fig.source})
            continue
        if fig.series not in lines:
            lines[fig.series] = run.people(spec)
        at = lines[fig.series].loc[date]
        row |= run.stats("simulated", at)
        row["simulated / published"] = float(at["median"]) / fig.value
        rows.append(row | {"note": "", "source": fig.source})
        points.setdefault(fig.series, {})[date] = fig.value
    panels = {s: (lines[s], pd.Series(points[s])) for s in lines}
    figure = plots.published_grid(panels, "people / person-times") if panels else None
    return figure, pd.DataFrame(rows)


def _sanctions(run: RunFolder) -> Built:
    names = [m.name for m in run.scenario.sanctions]
    if not names:
        return None
    panels = {n: _truths(run, "sanctioned_people", n) for n in names}
    return plots.truth_grid(panels, "rightful"), _end_table(run, panels, "sanction")


def _blocked(run: RunFolder) -> Built:
    names = [m.name for m in run.scenario.sanctions]
    if not names:
        return None
    panels = {n: _truths(run, "blocked_attempts", n, cumulative=True) for n in names}
    return plots.truth_grid(panels, "rightful"), _end_table(run, panels, "sanction")


def _lists(run: RunFolder) -> Built:
    sc = run.scenario
    stocks = {"court list": run.line("court_listed")}
    flows = {"court list: entries": run.line("court_list_entries", cumulative=True)}
    for reason in ("complied", "complied_under_pressure", "expired"):
        flows[f"court list: exits ({reason})"] = run.line(
            "court_list_exits", reason, cumulative=True
        )
    if sc.blacklist.enabled:
        for truth in ("rightful", "wrongful"):
            stocks[f"blacklist ({truth})"] = run.line("blacklisted", truth=truth)
            flows[f"blacklist: entries ({truth})"] = run.line(
                "blacklist_entries", truth=truth, cumulative=True
            )
        flows["blacklist: exits (recovered)"] = run.line(
            "blacklist_exits", "recovered", cumulative=True
        )
    if sc.red_list.min_grade:
        stocks["red list"] = run.line("red_listed")
    panels = {
        "People on the lists (end of day)": stocks,
        "Entries and exits since the start": flows,
    }
    rows = [
        {"series": label} | run.stats("value", line.iloc[-1])
        for lines in panels.values()
        for label, line in lines.items()
    ]
    return plots.line_grid(panels, "people"), pd.DataFrame(rows)


def _shamings(run: RunFolder) -> Built:
    names = [b.name for b in run.scenario.behaviours if b.shaming_probability > 0]
    if not names:
        return None
    panels = {n: _truths(run, "shamings", n, cumulative=True) for n in names}
    return plots.truth_grid(panels, "rightful"), _end_table(run, panels, "behaviour")


def _snap(run: RunFolder, dimension: str, metric: str | None = None) -> pd.DataFrame:
    snap = run.snapshots
    if snap.empty:
        return snap
    sel = snap["dimension"] == dimension
    if metric is not None:
        sel &= snap["metric"] == metric
    return snap[sel]


def _scores(run: RunFolder) -> Built:
    hist = _snap(run, "national", "score_histogram")
    if hist.empty:
        return None
    wide = hist.pivot(index="bin", columns="date", values="value").fillna(0.0)
    dates = wide.columns[np.unique(np.linspace(0, len(wide.columns) - 1, 5).round().astype(int))]
    shares = wide[dates] / wide[dates].sum()
    shares.columns = [str(d)[:10] for d in dates]
    table = shares.rename(columns=lambda d: f"share on {d}").reset_index()
    table["bin"] = table["bin"].astype(float)
    return plots.score_histograms(shares), table.rename(columns={"bin": "score bin start"})


def _grades(run: RunFolder) -> Built:
    grades = [g.name for g in run.scenario.score.grades]
    snap = _snap(run, "national")
    if not grades or snap.empty:
        return None
    snap = snap[snap["metric"].str.startswith("share_grade_")]
    wide = snap.pivot(index="date", columns="metric", values="value")
    shares = wide[[f"share_grade_{g}" for g in grades]].set_axis(grades, axis=1)
    table = shares.rename(columns=lambda g: f"share {g}")
    table.insert(0, "date", [str(d)[:10] for d in table.index])
    return plots.stacked_shares(shares, "share of scored people"), table.reset_index(drop=True)


SHARES = {  # snapshot metric -> table column
    "people": "people",
    "mean_score": "mean score",
    "share_court_listed": "share court listed",
    "share_blacklisted_rightful": "share blacklisted rightful",
    "share_blacklisted_wrongful": "share blacklisted wrongful",
    "share_sanctioned_rightful": "share sanctioned rightful",
    "share_sanctioned_wrongful": "share sanctioned wrongful",
}


def _last_snapshot(run: RunFolder, dimensions: Sequence[str]) -> pd.DataFrame:
    """One row per (dimension, category) at the last snapshot: people, mean score, shares."""
    snap = run.snapshots
    if snap.empty:
        return snap
    last = snap[(snap["date"] == snap["date"].max()) & snap["dimension"].isin(dimensions)]
    last = last[last["metric"].isin(list(SHARES))]
    wide = last.pivot(index=["dimension", "category"], columns="metric", values="value")
    wide = wide.reindex(columns=list(SHARES)).rename(columns=SHARES)
    order = {d: i for i, d in enumerate(dimensions)}
    keys = wide.index.to_frame(index=False)
    wide = wide.iloc[np.lexsort((np.arange(len(wide)), keys["dimension"].map(order)))]
    return wide.reset_index()


def _bars(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    return (
        frame.set_index("category")[[f"share {what} rightful", f"share {what} wrongful"]]
        .set_axis(["rightful", "wrongful"], axis=1)
        .fillna(0.0)
    )


def _regions(run: RunFolder) -> Built:
    table = _last_snapshot(run, ["region"])
    if table.empty:
        return None
    table = table.drop(columns="dimension").rename(columns={"category": "region"})
    by = table.rename(columns={"region": "category"})
    panels = {"Barred by a sanction": _bars(by, "sanctioned")}
    if run.scenario.blacklist.enabled:
        panels["On the score blacklist"] = _bars(by, "blacklisted")
    panels["On the courts' list"] = by.set_index("category")[["share court listed"]].set_axis(
        ["listed"], axis=1
    )
    return plots.category_bars(panels, "share of the region's people"), table


WHO = {
    "urban_rural": "Urban or rural",
    "age_band": "Age band",
    "propensity": "Rule-breaking propensity",
    "group": "Group",
}


def _who(run: RunFolder) -> Built:
    table = _last_snapshot(run, list(WHO))
    if table.empty:
        return None
    panels = {
        WHO[d]: _bars(part, "sanctioned") for d, part in table.groupby("dimension", sort=False)
    }
    return plots.category_bars(panels, "share of the category's people"), table


def _disparities(run: RunFolder) -> Built:
    """Relative risk of being listed and barred by category (``disparities.py``): the figure
    for groups, urban or rural and age bands; the table adds regions."""
    from .disparities import PLOTTED, disparities, label, plot

    if run.snapshots.empty:
        return None
    frame = disparities(run.res)
    national = frame[frame["dimension"] == "national"].set_index("metric")["share"]
    shown = ["court_listed"]
    if national.get("listed_at_discretion", 0.0) > 0:  # where the scenario lists at discretion
        shown.append("listed_at_discretion")
    if run.scenario.blacklist.enabled:
        shown.append("blacklisted")
    shown.append("sanctioned")
    part = frame[frame["metric"].isin(shown)]
    wide = part.pivot_table(
        index=["dimension", "category"],
        columns="metric",
        values=["share", "relative_risk"],
        sort=False,
        dropna=False,
    )
    table = part.drop_duplicates(["dimension", "category"])[["dimension", "category", "people"]]
    table = table.set_index(["dimension", "category"])
    for m in shown:
        table[f"share {label(m)}"] = wide[("share", m)]
        table[f"RR {label(m)}"] = wide[("relative_risk", m)]
    wrongful = frame[frame["metric"] == "sanctioned/wrongful_share"]
    table["wrongful share of the barred"] = wrongful.set_index(["dimension", "category"])["share"]
    figure = plot(frame, [m for m in PLOTTED if m in shown])
    return figure, table.reset_index()


# totals over a run of every national series: rows (metric, item, truth), a column a replicate
Totals = pd.DataFrame


def _run_totals(run: RunFolder) -> Totals:
    if run.replicates:
        return _replicate_totals(run.multi.series)
    return run.wide.sum().to_frame(0)


def _replicate_totals(series: pd.DataFrame) -> Totals:
    """Per replicate, the national series summed over the run (stocks: person-days)."""
    keys = ["metric", "item", "truth", "replicate"]
    return series.groupby(keys, observed=True)["value"].sum().unstack("replicate")


def _total(
    totals: Totals, metric: str, item: str | None = None, truth: str | None = None
) -> np.ndarray:
    """One total per replicate, summed over items and truths left unspecified (0 if the run has
    no such series: made before it existed)."""
    sel = totals.index.get_level_values("metric") == metric
    for level, value in (("item", item), ("truth", truth)):
        if value is not None:
            sel &= totals.index.get_level_values(level) == value
    return totals.loc[sel].sum(axis=0).to_numpy(dtype=float)


def _has_due_process(totals: Totals) -> bool:
    """Whether some replicate deterred or chilled an act, listed at discretion, had an appeal
    or a credit repair."""
    return any(
        (_total(totals, metric, item) > 0).any()
        for metric, item in (
            ("events_deterred", None),
            ("court_list_entries", "at_discretion"),
            ("appeals", None),
            ("court_list_exits", "repaired"),
        )
    )


def _due_process_rows(sc: Scenario, totals: Totals) -> list[tuple[str, np.ndarray]]:
    """The rows of the due-process table: a label and its value in each replicate."""
    rows = []
    for b in sc.behaviours:
        if b.chilled_by is not None:
            label = f"lawful acts forgone: {b.name} (chilled by {b.chilled_by})"
        elif b.deterrence_elasticity > 0:
            label = f"events prevented by deterrence: {b.name}"
        else:
            continue
        rows.append((label, _total(totals, "events_deterred", b.name)))
    rows.append(("listings at discretion", _total(totals, "court_list_entries", "at_discretion")))
    whose = (
        ("records", "rightful", "rightful records"),
        ("records", "wrongful", "wrongful records"),
        ("at_discretion", None, "listings at discretion"),
    )
    for metric in ("appeals", "corrections"):
        for item, truth, label in whose:
            rows.append((f"{metric}: {label}", _total(totals, metric, item, truth)))
    for item, truth, label in (
        ("records", "wrongful", "a wrongful record"),
        ("at_discretion", None, "a listing at discretion"),
    ):
        days = _total(totals, "correction_days", item, truth)
        n = _total(totals, "corrections", item, truth)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(n > 0, days / n, np.nan)
        rows.append((f"mean days from {label} to its correction", mean))
    for reason in COURT_EXIT_REASONS:
        rows.append(
            (
                f"court list exits: {reason.replace('_', ' ')}",
                _total(totals, "court_list_exits", reason),
            )
        )
    if sc.blacklist.enabled:
        for reason in BLACKLIST_EXIT_REASONS:
            rows.append((f"blacklist exits: {reason}", _total(totals, "blacklist_exits", reason)))
    if sc.sanctions:
        for truth in ("rightful", "wrongful"):
            value = _total(totals, "sanctioned_people_any", truth=truth)
            rows.append((f"sanction-days ({truth})", value))
    return rows


def _band(values: np.ndarray, band: tuple[float, float]) -> pd.Series:
    """Median and band over replicates, of those with a value."""
    from .replicates import percentiles

    values = values[np.isfinite(values)]
    if not len(values):
        return pd.Series({"median": np.nan, "lower": np.nan, "upper": np.nan})
    med, lo, hi = percentiles(values, band)
    return pd.Series({"median": med, "lower": lo, "upper": hi})


def _due_process(run: RunFolder) -> Built:
    totals = _run_totals(run)
    if not _has_due_process(totals):
        return None
    sc = run.scenario
    rows = []
    for label, values in _due_process_rows(sc, totals):
        if run.replicates:
            rows.append({"figure": label} | run.stats("value", _band(values, run.multi.band)))
        else:
            rows.append({"figure": label, "value": float(values[0])})
    panels: dict[str, dict[str, Line]] = {}
    for title, lines in (
        (
            "Acts prevented or forgone since the start",
            [
                (f"{b.name} (forgone)" if b.chilled_by else b.name, "events_deterred", b.name, None)
                for b in sc.behaviours
                if b.chilled_by is not None or b.deterrence_elasticity > 0
            ],
        ),
        (
            "Appeals lodged since the start",
            [
                ("rightful records", "appeals", "records", "rightful"),
                ("wrongful records", "appeals", "records", "wrongful"),
                ("listings at discretion", "appeals", "at_discretion", None),
            ],
        ),
        (
            "Corrections and exits since the start",
            [
                ("corrections", "corrections", None, None),
                ("court list: exits (corrected)", "court_list_exits", "corrected", None),
                ("blacklist: exits (corrected)", "blacklist_exits", "corrected", None),
                ("court list: exits (repaired)", "court_list_exits", "repaired", None),
            ],
        ),
        (
            "People at the end of each day",
            [
                ("listed at discretion", "court_listed_at_discretion", None, None),
                ("barred through a wrongful record", "sanctioned_people_any", None, "wrongful"),
            ],
        ),
    ):
        stock = title.startswith("People")
        drawn = {
            label: run.line(metric, item, truth, cumulative=not stock)
            for label, metric, item, truth in lines
            if (_total(totals, metric, item, truth) > 0).any()  # not a line at zero
        }
        if drawn:
            panels[title] = drawn
    figure = plots.line_grid(panels, "count") if panels else None
    return figure, pd.DataFrame(rows)


RUN_FIGURES: tuple[Figure, ...] = (
    Figure(
        "headline",
        "Headline figures",
        "National figures at the end of the run (people on lists, people barred) or summed over"
        " it (new listings, blocked attempts, recorded events, shamings); 'wrongly' counts only"
        " what a wrongly attributed record caused. {scale}{band}",
        _headline,
    ),
    Figure(
        "published",
        "Against published figures",
        "Simulated national series (lines) and the published figures for them (dots). Simulated"
        " values are people or person-times, scaled up from raw counts where the run kept them,"
        " cumulative series including the count the scenario gives from before its start. A"
        " figure whose date lies outside the run, or whose series names a sanction the scenario"
        " does not have, is listed as not covered.{band}",
        _published,
    ),
    Figure(
        "sanctions",
        "People barred",
        "People barred by each sanction at the end of each day: rightful (blue, left axis) and"
        " wrongful (red, right axis: barred through a wrongly attributed record). {scale}{band}",
        _sanctions,
    ),
    Figure(
        "blocked_attempts",
        "Blocked attempts",
        "Attempts blocked by each sanction (person-times: every purchase or application refused),"
        " summed from the start of the run: rightful (blue, left axis) and wrongful (red, right"
        " axis). {scale}{band}",
        _blocked,
    ),
    Figure(
        "lists",
        "Lists: stocks and flows",
        "Left: people on the courts' list of dishonest judgment debtors, the score blacklist"
        " (rightful and wrongful) and the red list at the end of each day. Right: entries and"
        " exits (by reason) summed from the start of the run. {scale}{band}",
        _lists,
    ),
    Figure(
        "shamings",
        "Public shaming",
        "Times a person was shown on a public screen, by behaviour, summed from the start of the"
        " run: rightful (blue, left axis) and wrongful (red, right axis: somebody else's act)."
        " {scale}{band}",
        _shamings,
    ),
    Figure(
        "due_process",
        "Secrecy and due process",
        "Deterrence acts only on people who know a rule is scored, and a lawful act may be"
        " forgone for fear of a scored one (chilling); a court may list people without a debt"
        " (at discretion); a successful appeal reverses a record and ends the listing or"
        " blacklisting that rested on it (exit 'corrected'), and credit repair ends court"
        " listings (exit 'repaired'). Lines (where not zero throughout): acts prevented by"
        " deterrence and lawful acts forgone by behaviour, appeals lodged, corrections and the"
        " exits they and credit repair caused, summed from the start of the run; people listed"
        " at discretion and people barred only through a wrongly attributed record, at the end"
        " of each day. The table sums the run; sanction-days are people barred by at least one"
        " sanction, summed over the days. {scale}{band}",
        _due_process,
    ),
    Figure(
        "scores",
        "Score distribution",
        "Share of scored people in each score bin (by bin start; log scale) on up to five"
        " snapshot dates. Shares do not depend on scaling.{first}",
        _scores,
    ),
    Figure(
        "grades",
        "Grades",
        "Share of scored people holding each grade, at each monthly snapshot. Shares do not"
        " depend on scaling.{first}",
        _grades,
    ),
    Figure(
        "regions",
        "By region",
        "Share of each region's people barred by at least one sanction, on the score blacklist"
        " (rightful and wrongful) and on the courts' list, at the last snapshot. The table's"
        " 'people' column is a count. {scale}{first}",
        _regions,
    ),
    Figure(
        "who",
        "Who is hit",
        "Share of each category's people barred by at least one sanction, rightful (blue) and"
        " wrongful (red), at the last snapshot, by urban or rural home, age band (children: barred"
        " through a parent), rule-breaking propensity class and targeted group. The table's"
        " 'people' column is a count. {scale}{first}",
        _who,
    ),
    Figure(
        "disparities",
        "Disparities",
        "Relative risk (RR): a category's share of people on the courts' list, on the score"
        " blacklist and barred by at least one sanction, divided by the national share (1: the"
        " national rate; shaded: from half to twice it). Shares are averages over the run in"
        " person-days, of scored people (children: barred through a parent, against the"
        " national share). The table adds regions and the wrongful share of the barred;"
        " 'socialcreditsim disparities' gives every sanction and intervals over replicate"
        " runs. {scale}{first}",
        _disparities,
    ),
)


# ------------------------------------------------------------------------------ comparisons


class _Study:
    """What the comparison and sweep figures share: the manifest's facts and the captions'
    texts (counts as in the runs, from the scenario of the first arm or the sweep)."""

    manifest: dict[str, Any]
    scenario: Scenario
    band: tuple[float, float]

    def texts(self) -> dict[str, str]:
        per = f"{self.scenario.population.size / self.manifest['n_agents']:,.1f} people"
        if self.scenario.output.raw_counts:
            scale = f"Counts are raw agent counts, not scaled (each agent stands for {per})."
        else:
            scale = f"Counts are scaled to the population: each agent stands for {per}."
        lo, hi = self.band
        n = len(self.manifest["seeds"])
        band = (
            f" Medians over {n} replicate{'s' if n > 1 else ''} with the same seeds everywhere;"
            f" bands and intervals run from the {lo:g}th to the {hi:g}th percentile."
        )
        return {"scale": scale, "band": band, "first": ""}

    def header(self) -> list[tuple[str, str]]:
        m, sc = self.manifest, self.scenario
        seeds = m["seeds"]
        return [
            ("agents (N)", f"{m['n_agents']:,}"),
            ("population", f"{sc.population.size:,}"),
            ("counts", "raw" if sc.output.raw_counts else "scaled to the population"),
            ("seeds", f"{seeds[0]} to {seeds[-1]} ({len(seeds)} replicates)"),
            ("period", f"{sc.time.start} to {sc.time.end}"),
            ("version", f"socialcreditsim {m['version']}"),
        ]


class _Compare(_Study):
    def __init__(self, folder: Path):
        from .compare import CompareResults

        self.cmp = CompareResults.load(folder)
        self.manifest, self.band = self.cmp.manifest, self.cmp.band
        self.scenario = self.cmp.scenario(self.cmp.arms[0])

    def header(self) -> list[tuple[str, str]]:
        arms = ", ".join(self.cmp.arms) + " (the first is the baseline)"
        return [("arms", arms), *super().header()]


def _compare_series(c: _Compare) -> Built:
    panels = c.cmp.panels()
    if not panels:
        return None
    rows = [
        {"series": title, "arm": arm} | {k: float(line[k].iloc[-1]) for k in line.columns}
        for title, lines in panels.items()
        for arm, line in lines.items()
    ]
    return plots.line_grid(panels, "people / person-times"), pd.DataFrame(rows)


def _compare_differences(c: _Compare) -> Built:
    d = c.cmp.table()
    if d.empty:
        return None
    base = d["baseline_median"].where(d["baseline_median"] != 0)
    rel = pd.DataFrame(
        {
            "label": d["figure"],
            "arm": d["arm"],
            "median": d["diff_median"] / base,
            "lower": d["diff_lower"] / base,
            "upper": d["diff_upper"] / base,
        }
    ).dropna(subset=["median"])
    figure = (
        plots.forest(rel, "difference from the baseline (share of its median)")
        if len(rel)
        else None
    )
    table = d[
        [
            "arm",
            "figure",
            "baseline_median",
            "arm_median",
            "diff_median",
            "diff_lower",
            "diff_upper",
        ]
    ]
    return figure, table.rename(columns=lambda k: k.replace("_", " "))


def _compare_outputs(c: _Compare) -> Built:
    labels = headline_outputs(c.scenario)
    summary = c.cmp.summary()
    order = {key: i for i, key in enumerate(labels)}
    summary = summary[summary["output"].isin(list(labels))]
    summary = summary.iloc[
        np.lexsort((summary["output"].map(order), summary["arm"].map(c.cmp.arms.index)))
    ]
    summary.insert(1, "figure", summary["output"].map(labels))
    return None, summary.drop(columns=["output"]).reset_index(drop=True)


def _compare_due_process(c: _Compare) -> Built:
    series = c.cmp.series
    rows = []
    for arm in c.cmp.arms:
        totals = _replicate_totals(series[series["arm"] == arm])
        if _has_due_process(totals):
            rows += [
                {"arm": arm, "figure": label} | dict(_band(values, c.band))
                for label, values in _due_process_rows(c.cmp.scenario(arm), totals)
            ]
    return (None, pd.DataFrame(rows)) if rows else None


COMPARE_FIGURES: tuple[Figure, ...] = (
    Figure(
        "compare_differences",
        "Differences from the baseline",
        "Each arm minus the baseline, as a share of the baseline's median (figures whose"
        " baseline median is zero are left out of the plot; the table gives every difference in"
        " counts). {scale}{band}",
        _compare_differences,
    ),
    Figure(
        "compare_series",
        "Arms side by side",
        "National series of every arm, one line per arm. {scale}{band}",
        _compare_series,
    ),
    Figure(
        "compare_outputs",
        "Headline figures by arm",
        "National headline figures of every arm over its replicates: at the end of the run for"
        " stocks, summed over it for flows. {scale}{band}",
        _compare_outputs,
    ),
    Figure(
        "compare_due_process",
        "Secrecy and due process by arm",
        "For each arm with acts prevented by deterrence or forgone by chilling, listings at"
        " discretion, appeals or credit repair: the table of the run reports' 'Secrecy and due"
        " process' section (sums over the run; sanction-days are people barred by at least one"
        " sanction, summed over the days), median and band over its replicates. {scale}{band}",
        _compare_due_process,
    ),
)


# ------------------------------------------------------------------------------ sweeps


class _Sweep(_Study):
    def __init__(self, folder: Path):
        from .sweep import SweepResults

        self.sw = SweepResults.load(folder)
        self.manifest, self.band, self.scenario = self.sw.manifest, self.sw.band, self.sw.scenario

    def header(self) -> list[tuple[str, str]]:
        sw = self.sw
        return [
            ("scenario", self.scenario.meta.name),
            ("method", sw.method),
            ("parameters", ", ".join(sw.parameters)),
            ("points", f"{len(sw.points):,}"),
            ("targets", ", ".join(sw.targets)),
            *super().header(),
        ]


def _sweep_outputs(s: _Sweep) -> Built:
    sw = s.sw
    summary = sw.summary()
    summary = summary[summary["output"].isin(sw.targets)].merge(sw.points, on="point")
    columns = ["point", *sw.parameters, "output", "median", "lower", "upper", "mean", "sd", "n"]
    figure = plots.sweep_grid(sw.panels(), scatter=sw.method == "sobol")
    return figure, summary[columns].reset_index(drop=True)


def _sweep_sobol(s: _Sweep) -> Built:
    if s.sw.sobol is None or s.sw.sobol.empty:
        return None
    return plots.sobol_bars(s.sw.sobol), s.sw.sobol.reset_index(drop=True)


SWEEP_FIGURES: tuple[Figure, ...] = (
    Figure(
        "sweep_outputs",
        "Outputs against parameters",
        "Each target output against each swept parameter: for a grid, the median over replicates"
        " at each point with its band as error bars; for a Sobol design, one dot per point"
        " (median over replicates). {scale}{band}",
        _sweep_outputs,
    ),
    Figure(
        "sweep_sobol",
        "Sensitivity (Sobol indices)",
        "Share of each output's variance due to each parameter alone (S1) and with its"
        " interactions (ST), with confidence intervals.",
        _sweep_sobol,
    ),
)


# ------------------------------------------------------------------------------ writing


def write_report(folder: str | Path, processes: int | None = 1) -> Path:
    """Write ``folder/report.html`` and ``folder/figures/*.png|svg`` for a run, replicates,
    comparison or sweep folder; returns the HTML's path.

    Drawing is nearly all of a report's time: ``processes`` draws the figures in that many
    worker processes (None: one per core, as the command line does), with the same bytes. Like
    any multiprocessing, that needs a script's work under ``if __name__ == "__main__":``."""
    folder = Path(folder)
    if not (folder / "manifest.json").is_file():
        raise FileNotFoundError(
            f"{folder} has no manifest.json: not a run, comparison or sweep folder"
        )
    manifest = read_json(folder)
    figures = _figures(manifest.get("kind"))
    n = min(len(os.sched_getaffinity(0)) if processes is None else processes, len(figures))
    drawn = None
    if n > 1:  # the workers read the folder; this process only writes what they drew
        try:
            with LocalExecutor(n, preload=(__name__,)) as ex:
                drawn = ex.map(functools.partial(_draw_in_worker, str(folder)), figures)
        except (WorkersUnavailable, BrokenProcessPool) as exc:  # they cannot start, or died
            warnings.warn(
                f"the report is drawn in this process: its worker processes failed ({exc})",
                RuntimeWarning,
                stacklevel=2,
            )
    if drawn is not None:
        title, header = drawn[0][1:]
        sections = [d[0] for d in drawn]
    else:
        source = _source(folder, manifest)
        title, header = _title(source), source.header()
        sections = [_draw(source, spec) for spec in figures]
    return _write(folder, title, header, [s for s in sections if s is not None])


def warm() -> None:
    """Start the server that forks the report's worker processes with this module imported
    (``executor.start_preloaded``), so that a report written later starts drawing at once."""
    start_preloaded((__name__,))


def _figures(kind: str | None) -> tuple[Figure, ...]:
    return {"compare": COMPARE_FIGURES, "sweep": SWEEP_FIGURES}.get(kind or "", RUN_FIGURES)


def _source(folder: Path, manifest: dict[str, Any]) -> Any:
    """What a folder's figures read, by its kind."""
    kind = manifest.get("kind")
    if kind == "compare":
        return _Compare(folder)
    if kind == "sweep":
        return _Sweep(folder)
    return RunFolder(folder, manifest)


def _title(source: Any) -> str:
    if isinstance(source, _Compare):
        return f"Comparison: {' vs '.join(source.cmp.arms)}"
    if isinstance(source, _Sweep):
        return f"{source.scenario.meta.name}: {source.sw.method} sweep"
    return f"{source.manifest['scenario']}: {'replicates' if source.replicates else 'run'}"


def _draw(source: Any, spec: Figure) -> _Section | None:
    """One figure of the report, drawn as PNG and SVG, with its caption and table."""
    built = spec.build(source)
    if built is None:
        return None
    figure, table = built
    png = svg = None
    if figure is not None:
        png, svg = _render(figure)
    shown = ""
    if table is not None and len(table):
        shown = _table(table, open_=len(table) <= 20 or figure is None)
    return _Section(spec.name, spec.title, spec.caption.format(**source.texts()), png, svg, shown)


_WORKER_SOURCE: dict[str, Any] = {}  # in a report's worker process: its folder's source


def _draw_in_worker(
    folder: str, spec: Figure
) -> tuple[_Section | None, str, list[tuple[str, str]]]:
    """:func:`_draw` in a worker process, which reads the folder once for all its figures;
    with the report's title and header, which are cheap once the folder is read."""
    source = _WORKER_SOURCE.get(folder)
    if source is None:
        _WORKER_SOURCE.clear()
        source = _WORKER_SOURCE[folder] = _source(Path(folder), read_json(Path(folder)))
    return _draw(source, spec), _title(source), source.header()


def _write(
    folder: Path, title: str, header: list[tuple[str, str]], sections: list[_Section]
) -> Path:
    _remove_leftovers(folder)
    out = folder / f".figures-{os.getpid()}.partial"
    out.mkdir()
    try:
        return _write_into(folder, out, title, header, sections)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _write_into(
    folder: Path, out: Path, title: str, header: list[tuple[str, str]], sections: list[_Section]
) -> Path:
    """Write the figures into ``out``, then swap them and report.html into place, so an
    interrupted report leaves the previous one whole."""
    body = []
    for s in sections:
        caption = html.escape(s.caption)
        if s.png is None or s.svg is None:
            shown = f'<p class="caption">{caption}</p>'
        else:
            (out / f"{s.name}.png").write_bytes(s.png)
            (out / f"{s.name}.svg").write_bytes(s.svg)
            data = base64.b64encode(s.svg).decode("ascii")
            shown = (
                f'<figure data-name="{s.name}"><img src="data:image/svg+xml;base64,{data}"'
                f' alt="{html.escape(s.title)}"><figcaption>{caption}</figcaption></figure>'
            )
        body.append(
            f'<section id="{s.name}"><h2>{html.escape(s.title)}</h2>{shown}{s.table}</section>'
        )
    toc = "".join(f'<li><a href="#{s.name}">{html.escape(s.title)}</a></li>' for s in sections)
    facts = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in header)
    doc = TEMPLATE.format(
        title=html.escape(title),
        css=CSS,
        facts=facts,
        toc=toc,
        body="\n".join(body),
        version=version.__version__,
    )
    tmp = folder / f".report-{os.getpid()}.html.partial"  # a plain file: the umask applies
    old = folder / f".figures-{os.getpid()}.old"
    try:
        tmp.write_text(doc, encoding="utf-8")
        if (folder / "figures").exists():
            os.replace(folder / "figures", old)
        os.replace(out, folder / "figures")
        os.replace(tmp, folder / "report.html")
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(old, ignore_errors=True)
    return folder / "report.html"


def _remove_leftovers(folder: Path) -> None:
    """Remove what a report killed while writing left in ``folder`` (its process is gone)."""
    for p in [*folder.glob(".figures-*.*"), *folder.glob(".report-*.html.partial")]:
        pid = p.name.split("-", 1)[1].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _render(fig: Any) -> tuple[bytes, bytes]:
    """The figure as PNG and as SVG."""
    png, svg = io.BytesIO(), io.BytesIO()
    _fix_date_ticks(fig)
    with plt.rc_context(plots.STYLE):
        fig.savefig(png, format="png", dpi=150, metadata={"Software": None})
        fig.set_layout_engine("none")  # laid out by the first save: the second reuses it
        fig.savefig(svg, format="svg", metadata={"Date": None})
    plt.close(fig)
    return png.getvalue(), svg.getvalue()


def _fix_date_ticks(fig: Any) -> None:
    """Give each date axis the ticks and labels its locator and formatter give now, as fixed
    ones: Matplotlib asks them again at every layout pass and draw of both files, and the date
    locator builds a dateutil rule each time (a tenth of drawing a figure). The same files."""
    for ax in fig.axes:
        axis = ax.xaxis
        locator, formatter = axis.get_major_locator(), axis.get_major_formatter()
        if isinstance(locator, mdates.AutoDateLocator):
            ticks = locator()
            fixed = FixedFormatter(formatter.format_ticks(ticks))
            fixed.set_offset_string(formatter.get_offset())
            axis.set_major_locator(FixedLocator(ticks))
            axis.set_major_formatter(fixed)


def _table(frame: pd.DataFrame, open_: bool) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    formats = [_format(str(c)) for c in frame.columns]
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for v, fmt in zip(values, formats, strict=True):
            if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool):
                x = float(v)
                cells.append(
                    "<td></td>"
                    if np.isnan(x)
                    else f'<td class="num" data-value="{x!r}">{fmt(x)}</td>'
                )
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<details{' open' if open_ else ''}><summary>Numbers ({len(frame):,} rows)</summary>"
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></details>"
    )


def _format(column: str) -> Callable[[float], str]:
    """How a column's numbers are shown: shares as percentages, scores to a tenth, counts whole
    (small values to three significant digits)."""
    if "share" in column or column.startswith("simulated /"):
        return "{:.2%}".format
    if "score" in column or column.startswith("S1") or column.startswith("ST"):
        return "{:,.4g}".format
    return _number


def _number(x: float) -> str:
    if abs(x) >= 100 or x.is_integer():
        return f"{x:,.0f}"
    return f"{x:,.3g}"


CSS = """
:root { --ink: #1d232b; --muted: #5b6573; --line: #e2e6eb; --accent: #1f4e79; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  Arial, sans-serif; color: var(--ink); background: #f6f7f9; }
header { background: var(--accent); color: #fff; padding: 28px 0 22px; }
.wrap { max-width: 1120px; margin: 0 auto; padding: 0 28px; }
header h1 { margin: 0 0 12px; font-size: 26px; font-weight: 650; }
header dl { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr));
  gap: 6px 24px; margin: 0; }
header dt { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; opacity: .75; }
header dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
nav { background: #fff; border-bottom: 1px solid var(--line); padding: 12px 0; position: sticky;
  top: 0; z-index: 1; }
nav ol { margin: 0; padding: 0; list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px;
  counter-reset: toc; }
nav li { counter-increment: toc; font-size: 14px; }
nav li::before { content: counter(toc) ". "; color: var(--muted); }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
main { padding: 8px 0 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 18px 24px;
  margin: 22px 0; scroll-margin-top: 64px; }
h2 { margin: 0 0 10px; font-size: 20px; font-weight: 650; }
figure { margin: 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 6px auto; }
figcaption, .caption { color: var(--muted); font-size: 13.5px; max-width: 80ch; margin-top: 6px; }
details { margin-top: 12px; }
summary { cursor: pointer; color: var(--accent); font-size: 14px; }
.scroll { overflow-x: auto; max-height: 520px; overflow-y: auto; margin-top: 8px; }
table { border-collapse: collapse; font-size: 13px; width: max-content; min-width: 50%; }
th { position: sticky; top: 0; background: #eef1f5; text-align: left; font-weight: 600; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
footer { color: var(--muted); font-size: 12px; padding-bottom: 30px; }
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header><div class="wrap"><h1>{title}</h1><dl>{facts}</dl></div></header>
<nav><div class="wrap"><ol>{toc}</ol></div></nav>
<main class="wrap">
{body}
</main>
<footer class="wrap">Written by socialcreditsim {version}. The people are synthetic.</footer>
</body>
</html>
"""
