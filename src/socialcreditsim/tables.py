"""How a run's counters and records become its tables (MODEL.md section 8): the daily series in
long form, the rows of each snapshot, and the :class:`~socialcreditsim.results.Results` that holds
them with the manifest. The engine calls this once, at the end of a run (``engine.combine``).

The tables are built in Arrow, written to Parquet as they are and made DataFrames when first
read: the columns pandas would make (categories as dictionaries, dates in milliseconds, a
missing number as null), without importing it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from . import kernels as kn
from .audit import audit_frame, people_frame
from .columns import arrow_column, arrow_table
from .folders import DATE
from .population import Population
from .results import Results, library_versions
from .sanctions import Measures, compile_measures
from .scenario import Scenario
from .scoring import recovery_fraction
from .series import TimeseriesLayout

__all__ = ["build_results", "long_timeseries", "snapshot_rows"]

AGE_NAMES = ("adult", "senior")


def long_timeseries(
    days: list[dt.date],
    regions: list[str],
    layout: TimeseriesLayout,
    flows: np.ndarray,
    stocks: np.ndarray,
    scale: float,
) -> pa.Table:
    """The daily counters by region (``flows`` and ``stocks``: days x regions x counters, as
    ``layout`` names them) as the long table, one row per (date, region, metric, item, truth),
    with the national sums and the red list (the sum of its grades) added, times ``scale``."""
    values = np.concatenate([flows, stocks], axis=2)  # (days, regions, metrics)
    values = np.concatenate([values, values.sum(axis=1, keepdims=True)], axis=1)
    cols = layout.flows + layout.stocks
    if layout.red_grades:
        idx = [
            len(layout.flows) + layout.stocks.index(("grade_holders", g, ""))
            for g in layout.red_grades
        ]
        values = np.concatenate([values, values[:, :, idx].sum(axis=2, keepdims=True)], axis=2)
        cols = cols + [("red_listed", "", "")]
    n_d, n_r, n_m = values.shape
    data = values.reshape(-1) if scale == 1.0 else values.reshape(-1) * scale

    def column(codes: np.ndarray, names: list[str], reps: int, tile: int) -> pa.Array:
        """Codes into ``names``, repeated and tiled (in the small integers the column keeps)."""
        small = np.min_scalar_type(-len(names))
        return arrow_column(np.tile(np.repeat(codes.astype(small), reps), tile), names)

    parts = []
    for k in range(3):
        names = sorted({c[k] for c in cols})
        parts.append((np.array([names.index(c[k]) for c in cols]), names))
    return arrow_table(
        {
            "date": np.repeat(np.array(days, dtype="datetime64[D]").astype(DATE), n_r * n_m),
            "region": column(np.arange(n_r), regions + ["national"], n_m, n_d),
            "metric": column(parts[0][0], parts[0][1], 1, n_d * n_r),
            "item": column(parts[1][0], parts[1][1], 1, n_d * n_r),
            "truth": column(parts[2][0], parts[2][1], 1, n_d * n_r),
            "value": data,
        }
    )


def snapshot_rows(
    date: dt.date,
    sc: Scenario,
    pop: Population,
    hist: np.ndarray,
    stats: np.ndarray,
    child: np.ndarray,
) -> pa.Table:
    """Aggregate one whole-population scan, summed by cell (``engine.cells``: 2 x region, + 1
    when rural), into long rows by dimension and category; people counts are scaled to the
    population unless the scenario asks for raw counts. Built column by column: a row object
    each (thousands a snapshot) set off a full collection of the garbage collector."""
    measures = compile_measures(sc)
    scale = 1.0 if sc.output.raw_counts else pop.scale
    q = recovery_fraction(sc.score.recovery_per_day)[1]  # the scan sums q times the scores
    grades = [g.name for g in sc.score.grades] or ["all"]
    groups = ["general"] + [g.name for g in sc.groups]

    # the categories' counts (one row each), and the metrics of every category from them
    by_cell = stats[:, 0]
    rows_total = stats.sum(axis=0)  # rows: everybody, 2 age bands, groups, propensity classes
    k = len(pop.r_values)
    cats = (
        [("national", "national", by_cell.sum(axis=0))]
        + [("region", name, by_cell[2 * r : 2 * r + 2].sum(axis=0))
           for r, name in enumerate(pop.region_names)]
        + [("urban_rural", name, by_cell[rural::2].sum(axis=0))
           for rural, name in ((0, "urban"), (1, "rural"))]
        + [("age_band", name, rows_total[1 + a]) for a, name in enumerate(AGE_NAMES)]
        + [("group", name, rows_total[3 + g]) for g, name in enumerate(groups)]
        + [("propensity", f"class {c + 1} of {k} (mean {pop.r_values[c]:.2f})",
            rows_total[3 + len(groups) + c]) for c in range(k)]
    )  # fmt: skip
    cats = [c for c in cats if c[2][kn.SN_N] != 0]
    S = np.array([c[2] for c in cats]).reshape(len(cats), stats.shape[-1])
    n = S[:, kn.SN_N]
    metrics = {
        "people": n * scale,
        "mean_score": S[:, kn.SN_SCORE] / (q * n),
        "share_court_listed": S[:, kn.SN_COURT] / n,
        "share_blacklisted_rightful": S[:, kn.SN_BL_R] / n,
        "share_blacklisted_wrongful": S[:, kn.SN_BL_W] / n,
        "share_sanctioned_rightful": S[:, kn.SN_SANC_R] / n,
        "share_sanctioned_wrongful": S[:, kn.SN_SANC_W] / n,
        "share_rewarded": S[:, kn.SN_REWARD] / n,
        "share_listed_at_discretion": S[:, kn.SN_DISC] / n,
    }
    for g, name in enumerate(grades):
        metrics[f"share_grade_{name}"] = S[:, kn.N_SNAP + g] / n
    per_measure = kn.N_SNAP + len(grades)
    for m, (name, reward) in enumerate(zip(measures.names, measures.is_reward, strict=True)):
        right, wrong = S[:, per_measure + 2 * m], S[:, per_measure + 2 * m + 1]
        if reward:
            metrics[f"share_rewarded:{name}"] = (right + wrong) / n
        else:
            metrics[f"share_sanctioned_rightful:{name}"] = right / n
            metrics[f"share_sanctioned_wrongful:{name}"] = wrong / n
    n_met = len(metrics)
    dims = [np.repeat(np.array([c[0] for c in cats], dtype=object), n_met)]
    names = [np.repeat(np.array([c[1] for c in cats], dtype=object), n_met)]
    mets = [np.tile(np.array(list(metrics), dtype=object), len(cats))]
    bins = [np.full(len(cats) * n_met, np.nan)]
    values = [np.column_stack(list(metrics.values())).reshape(-1)]

    def add(dim: str, cat: object, metric: object, b: np.ndarray, v: np.ndarray) -> None:
        """Rows of one dimension; ``cat`` and ``metric``: one for all, or one a row."""
        for col, x in ((dims, dim), (names, cat), (mets, metric)):
            col.append(np.full(len(v), x, dtype=object) if isinstance(x, str) else x)
        bins.append(b)
        values.append(v)

    kids = child.sum(axis=0)
    if kids[kn.SC_N]:
        add(
            "age_band",
            "child",
            np.array(["people", "share_sanctioned_rightful", "share_sanctioned_wrongful"], object),
            np.full(3, np.nan),
            np.array([kids[kn.SC_N] * scale, kids[kn.SC_R] / kids[kn.SC_N],
                      kids[kn.SC_W] / kids[kn.SC_N]]),
        )  # fmt: skip
    width = sc.output.score_bin_width
    nat = hist.sum(axis=0)
    b = np.flatnonzero(nat)
    add("national", "national", "score_histogram", sc.score.min + b * width, nat[b] * scale)
    reg = hist[0::2] + hist[1::2]
    r, b = np.nonzero(reg)
    regions = np.array(pop.region_names, dtype=object)
    add("region", regions[r], "score_histogram", sc.score.min + b * width, reg[r, b] * scale)
    n_rows = sum(len(v) for v in values)
    return arrow_table(
        {
            "date": np.full(n_rows, np.datetime64(date, "D").astype(DATE)),
            "dimension": np.concatenate(dims),
            "category": np.concatenate(names),
            "metric": np.concatenate(mets),
            "bin": np.concatenate(bins).astype(float),
            "value": np.concatenate(values).astype(float),
        }
    )


def build_results(
    *,
    scenario: Scenario,
    population: Population,
    seed: int,
    days: list[dt.date],
    layout: TimeseriesLayout,
    flows: np.ndarray,
    stocks: np.ndarray,
    snapshots: list[pa.Table],
    audit: list[np.ndarray],
    measures: Measures,
    behaviour_names: list[str],
    timings: dict[str, float],
) -> Results:
    """The Results of a run: its counters, snapshot rows and audit records made tables, with
    the manifest (what made them, how counts are scaled, the resolved scenario, timings)."""
    raw = scenario.output.raw_counts
    scale = 1.0 if raw else population.scale
    ts = long_timeseries(days, population.region_names, layout, flows, stocks, scale)
    versions = library_versions()
    manifest = {
        "software": "socialcreditsim",
        "version": versions["socialcreditsim"],
        "versions": versions,
        "scenario": scenario.meta.name,
        "seed": seed,
        "n_agents": population.n_agents,
        "population": scenario.population.size,
        "scale": population.scale,
        "counts": "raw" if raw else "scaled to the population",
        "start": str(days[0]),
        "end": str(days[-1]),
        "n_localities": population.n_localities,
        "n_scored": population.n_scored,
        "n_children": population.n_children,
        "timings": timings,
        "resolved_scenario": scenario.model_dump(mode="json"),
    }
    people = people_frame(scenario, population, seed)
    manifest["audited"] = len(people)
    return Results(
        timeseries=ts,
        snapshots=pa.concat_tables(snapshots) if snapshots else pa.Table.from_arrays([], []),
        audit=audit_frame(audit, population, days, behaviour_names, measures, layout.grades),
        people=people,
        manifest=manifest,
        _scenario=scenario,
    )
