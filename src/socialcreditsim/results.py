"""Results of a run: tables in memory, Parquet on disk, headline figures (MODEL.md section 8).

A run folder holds

- ``timeseries.parquet``: one row per (date, region, metric, item, truth); ``region`` is a
  province or ``national``; counts are scaled to the population (P/N) unless the scenario's
  ``output.raw_counts`` is set. Flows (entries, events, attempts) are per day; stocks (listed,
  sanctioned, grade holders) are at the end of the day.
- ``snapshots.parquet``: one row per (date, dimension, category, metric, bin): score histograms,
  mean scores, grade shares and who is hit, nationally and by region, urban or rural, age band,
  propensity class and group.
- ``audit.parquet``: every recorded event, list entry and exit, sanction and blocked attempt of
  the audited sample, and ``people.parquet``: who they are.
- ``manifest.json`` and ``scenario.toml``: the resolved scenario, seed, N, P, version, timings,
  and the versions of Python and the libraries that made the run (``versions``).

Folders are written under a temporary name and renamed when complete, so an interrupted run
leaves nothing that looks finished.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .folders import (
    DamagedFolder,
    Reservation,
    atomic_folder,
    destination,
    read_json,
    read_parquet,
)
from .lists import BLACKLIST_EXIT_REASONS, COURT_EXIT_REASONS
from .scenario import Scenario, load_scenario

if TYPE_CHECKING:
    import matplotlib.figure

    from .population import Population
    from .sanctions import Measures

__all__ = ["Results", "TimeseriesLayout", "TABLES", "library_versions"]

TABLES = ("timeseries", "snapshots", "audit", "people")
# what reading a run folder relies on (a snapshots table may be empty: no snapshot days)
TABLE_COLUMNS = {
    "timeseries": ("date", "region", "metric", "item", "truth", "value"),
    "snapshots": (),
    "audit": ("person", "date", "kind", "item", "truth", "value", "score"),
    "people": ("person", "region"),
}
MANIFEST_KEYS = ("scenario", "seed", "n_agents", "scale", "counts", "start", "end",
                 "resolved_scenario")  # fmt: skip
DATE = "datetime64[ms]"  # the unit pandas reads Parquet dates back in
AGE_NAMES = ("adult", "senior")


def _version() -> str:
    from . import __version__

    return __version__


def library_versions() -> dict[str, str]:
    """The versions of Python and of the libraries that make and write a run's numbers."""
    import platform

    import numba
    import pydantic

    return {
        "python": platform.python_version(),
        "socialcreditsim": _version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
        "pydantic": pydantic.__version__,
    }


class TimeseriesLayout:
    """Names of the per-locality flow and stock counters the kernels fill, in kernel order."""

    def __init__(self, sc: Scenario, behaviours: list[str], measures: Measures):
        R, W = "rightful", "wrongful"
        flows: list[tuple[str, str, str]] = []
        for b in behaviours:
            flows += [
                ("events_true", b, ""),
                ("events_recorded", b, R),
                ("events_recorded", b, W),
                ("shamings", b, R),
                ("shamings", b, W),
                ("events_deterred", b, ""),  # a lawful behaviour's: acts forgone (chilling)
            ]
        flows += [("court_list_entries", "", ""), ("court_list_entries", "at_discretion", "")]
        flows += [("court_list_exits", reason, "") for reason in COURT_EXIT_REASONS]
        flows += [("blacklist_entries", "", R), ("blacklist_entries", "", W)]
        flows += [("blacklist_exits", reason, "") for reason in BLACKLIST_EXIT_REASONS]
        for metric in ("appeals", "corrections"):
            flows += [(metric, "records", R), (metric, "records", W), (metric, "at_discretion", "")]
        flows += [("correction_days", "records", W), ("correction_days", "at_discretion", "")]
        stocks: list[tuple[str, str, str]] = [
            ("court_listed", "", ""),
            ("court_listed_at_discretion", "", ""),
            ("blacklisted", "", R),
            ("blacklisted", "", W),
            ("sanctioned_people_any", "", R),
            ("sanctioned_people_any", "", W),
        ]
        for name, reward in zip(measures.names, measures.is_reward, strict=True):
            verb = "reward_uses" if reward else "blocked_attempts"
            who = "rewarded" if reward else "sanctioned"
            flows += [(verb, name, R), (verb, name, W)]
            stocks += [
                (f"{who}_people", name, R),
                (f"{who}_people", name, W),
                (f"{who}_children", name, R),
                (f"{who}_children", name, W),
            ]
        grades = [g.name for g in sc.score.grades] or ["all"]
        stocks += [("grade_holders", g, "") for g in grades]
        self.flows, self.stocks = flows, stocks
        self.n_flows, self.n_stocks = len(flows), len(stocks)
        self.grades = grades
        red = sc.red_list.min_grade
        self.red_grades = grades[: grades.index(red) + 1] if red else []


def _long_timeseries(
    days: list[dt.date],
    regions: list[str],
    layout: TimeseriesLayout,
    flows: np.ndarray,
    stocks: np.ndarray,
    scale: float,
) -> pd.DataFrame:
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

    def column(codes: np.ndarray, names: list[str], reps: int, tile: int) -> pd.Categorical:
        return pd.Categorical.from_codes(np.tile(np.repeat(codes, reps), tile), names)

    parts = []
    for k in range(3):
        names = sorted({c[k] for c in cols})
        parts.append((np.array([names.index(c[k]) for c in cols]), names))
    frame = pd.DataFrame(
        {
            "date": np.repeat(np.array(days, dtype="datetime64[D]"), n_r * n_m).astype(DATE),
            "region": column(np.arange(n_r), regions + ["national"], n_m, n_d),
            "metric": column(parts[0][0], parts[0][1], 1, n_d * n_r),
            "item": column(parts[1][0], parts[1][1], 1, n_d * n_r),
            "truth": column(parts[2][0], parts[2][1], 1, n_d * n_r),
            "value": data,
        }
    )
    return frame


def snapshot_rows(
    date: dt.date,
    sc: Scenario,
    pop: Population,
    hist: np.ndarray,
    stats: np.ndarray,
    child: np.ndarray,
) -> pd.DataFrame:
    """Aggregate one whole-population scan, summed by cell (``engine.cells``: 2 x region, + 1
    when rural), into long rows by dimension and category; people counts are scaled to the
    population unless the scenario asks for raw counts."""
    from . import kernels as kn
    from .sanctions import compile_measures
    from .scoring import recovery_fraction

    measures = compile_measures(sc)
    scale = 1.0 if sc.output.raw_counts else pop.scale
    q = recovery_fraction(sc.score.recovery_per_day)[1]  # the scan sums q times the scores
    grades = [g.name for g in sc.score.grades] or ["all"]
    groups = ["general"] + [g.name for g in sc.groups]
    rows: list[tuple[str, str, str, float, float]] = []

    def add(dim: str, cat: str, s: np.ndarray) -> None:
        n = int(s[kn.SN_N])
        if n == 0:
            return
        rows.append((dim, cat, "people", np.nan, n * scale))
        rows.append((dim, cat, "mean_score", np.nan, s[kn.SN_SCORE] / (q * n)))
        for col, name in (
            (kn.SN_COURT, "share_court_listed"),
            (kn.SN_BL_R, "share_blacklisted_rightful"),
            (kn.SN_BL_W, "share_blacklisted_wrongful"),
            (kn.SN_SANC_R, "share_sanctioned_rightful"),
            (kn.SN_SANC_W, "share_sanctioned_wrongful"),
            (kn.SN_REWARD, "share_rewarded"),
        ):
            rows.append((dim, cat, name, np.nan, s[col] / n))
        rows.append((dim, cat, "share_listed_at_discretion", np.nan, s[kn.SN_DISC] / n))
        for g, name in enumerate(grades):
            rows.append((dim, cat, f"share_grade_{name}", np.nan, s[kn.N_SNAP + g] / n))
        per_measure = kn.N_SNAP + len(grades)
        for m, (name, reward) in enumerate(zip(measures.names, measures.is_reward, strict=True)):
            right, wrong = s[per_measure + 2 * m], s[per_measure + 2 * m + 1]
            if reward:
                rows.append((dim, cat, f"share_rewarded:{name}", np.nan, (right + wrong) / n))
            else:
                rows.append((dim, cat, f"share_sanctioned_rightful:{name}", np.nan, right / n))
                rows.append((dim, cat, f"share_sanctioned_wrongful:{name}", np.nan, wrong / n))

    by_cell = stats[:, 0]
    add("national", "national", by_cell.sum(axis=0))
    for r, name in enumerate(pop.region_names):
        add("region", name, by_cell[2 * r : 2 * r + 2].sum(axis=0))
    for rural, name in ((0, "urban"), (1, "rural")):
        add("urban_rural", name, by_cell[rural::2].sum(axis=0))
    rows_total = stats.sum(axis=0)  # rows: everybody, 2 age bands, groups, propensity classes
    for a, name in enumerate(AGE_NAMES):
        add("age_band", name, rows_total[1 + a])
    for g, name in enumerate(groups):
        add("group", name, rows_total[3 + g])
    k = len(pop.r_values)
    for c in range(k):
        add(
            "propensity",
            f"class {c + 1} of {k} (mean {pop.r_values[c]:.2f})",
            rows_total[3 + len(groups) + c],
        )
    kids = child.sum(axis=0)
    if kids[kn.SC_N]:
        rows.append(("age_band", "child", "people", np.nan, kids[kn.SC_N] * scale))
        rows.append(
            (
                "age_band",
                "child",
                "share_sanctioned_rightful",
                np.nan,
                kids[kn.SC_R] / kids[kn.SC_N],
            )
        )
        rows.append(
            (
                "age_band",
                "child",
                "share_sanctioned_wrongful",
                np.nan,
                kids[kn.SC_W] / kids[kn.SC_N],
            )
        )
    width = sc.output.score_bin_width
    nat = hist.sum(axis=0)
    for b in np.flatnonzero(nat):
        rows.append(
            ("national", "national", "score_histogram", sc.score.min + b * width, nat[b] * scale)
        )
    reg = hist[0::2] + hist[1::2]
    for r, b in zip(*np.nonzero(reg), strict=True):
        rows.append(
            (
                "region",
                pop.region_names[r],
                "score_histogram",
                sc.score.min + b * width,
                reg[r, b] * scale,
            )
        )
    frame = pd.DataFrame(rows, columns=["dimension", "category", "metric", "bin", "value"])
    frame.insert(0, "date", np.datetime64(date, "D").astype(DATE))
    return frame


def write_report(folder: Path) -> None:
    """Write ``report.html`` and its figures into a finished folder (``report.py``)."""
    from .report import write_report as write

    write(folder)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """One table as zstd-compressed Parquet."""
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, compression="zstd")


def read_manifest(path: Path, kind: str, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The manifest of a comparison or sweep folder; FileNotFoundError if it is not one,
    DamagedFolder if it cannot be read."""
    if not (path / "manifest.json").is_file():
        raise FileNotFoundError(f"{path} is not a {kind} folder (no manifest.json)")
    manifest = read_json(path, keys=keys)
    if manifest.get("kind") != kind:
        raise FileNotFoundError(f"{path} is not a {kind} folder (its manifest.json says otherwise)")
    return manifest


def save_folder(
    out: str | Path | Reservation,
    *,
    run: Results | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    texts: dict[str, str] | None = None,
    manifest: dict[str, Any] | None = None,
    overwrite: bool = False,
    report: bool = False,
) -> Path:
    """Write a folder atomically: a run's tables (``run``), more Parquet ``tables`` and text
    files by name, the ``manifest``, then the report if asked. ``out`` may be a folder reserved
    before the work (``folders.Reservation``)."""
    with atomic_folder(out, overwrite) as tmp:
        if run is not None:
            run.write(tmp)
        for name, frame in (tables or {}).items():
            write_parquet(frame, tmp / f"{name}.parquet")
        for name, text in (texts or {}).items():
            (tmp / name).write_text(text)
        if manifest is not None:
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        if report:
            write_report(tmp)
    return destination(out)


@dataclass
class Results:
    """Tables of one run, with the manifest that says how they were made."""

    timeseries: pd.DataFrame
    snapshots: pd.DataFrame
    audit: pd.DataFrame
    people: pd.DataFrame
    manifest: dict[str, Any]
    path: Path | None = None
    _scenario: Scenario | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- building
    @classmethod
    def build(
        cls,
        *,
        scenario: Scenario,
        population: Population,
        seed: int,
        days: list[dt.date],
        layout: TimeseriesLayout,
        flows: np.ndarray,
        stocks: np.ndarray,
        snapshots: list[pd.DataFrame],
        audit: list[np.ndarray],
        measures: Measures,
        behaviour_names: list[str],
        timings: dict[str, float],
    ) -> Results:
        from .audit import audit_frame, people_frame

        raw = scenario.output.raw_counts
        scale = 1.0 if raw else population.scale
        ts = _long_timeseries(days, population.region_names, layout, flows, stocks, scale)
        manifest = {
            "software": "socialcreditsim",
            "version": _version(),
            "versions": library_versions(),
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
        return cls(
            timeseries=ts,
            snapshots=pd.concat(snapshots, ignore_index=True) if snapshots else pd.DataFrame(),
            audit=audit_frame(audit, population, days, behaviour_names, measures, layout.grades),
            people=people,
            manifest=manifest,
            _scenario=scenario,
        )

    @property
    def scenario(self) -> Scenario:
        if self._scenario is None:
            self._scenario = load_scenario(self.manifest["resolved_scenario"])
        return self._scenario

    # ---------------------------------------------------------------- disk
    def save(self, out: str | Path, overwrite: bool = False, report: bool = False) -> Path:
        """Write the run folder atomically (with ``report.html`` and its figures if asked);
        refuses to replace an existing one unless asked."""
        self.path = save_folder(out, run=self, overwrite=overwrite, report=report)
        return self.path

    def write(self, folder: Path) -> None:
        """Write the tables, the resolved scenario and the manifest into ``folder``."""
        for name in TABLES:
            write_parquet(getattr(self, name), folder / f"{name}.parquet")
        (folder / "scenario.toml").write_text(self.scenario.to_toml())
        (folder / "manifest.json").write_text(json.dumps(self.manifest, indent=2, default=str))

    @classmethod
    def load(cls, path: str | Path) -> Results:
        """Read a run folder written by :meth:`save`; a missing or damaged file raises
        FileNotFoundError or ``DamagedFolder`` (a ValueError) naming it."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"Results.load: expected a folder path, got {type(path).__name__}")
        path = Path(path)
        if not (path / "manifest.json").is_file():
            raise FileNotFoundError(f"{path} is not a run folder (no manifest.json)")
        manifest = read_json(path, keys=MANIFEST_KEYS)
        try:
            if not isinstance(manifest["resolved_scenario"], dict):
                raise ValueError("not a table")
            scenario = load_scenario(manifest["resolved_scenario"])
        except ValueError as exc:
            raise DamagedFolder(
                f"{path / 'manifest.json'}: damaged, its resolved_scenario does not load: {exc}"
            ) from None
        tables = {name: read_parquet(path, name, TABLE_COLUMNS[name]) for name in TABLES}
        return cls(**tables, manifest=manifest, path=path, _scenario=scenario)

    # ---------------------------------------------------------------- reading
    def series(
        self,
        metric: str,
        item: str | None = None,
        truth: str | None = None,
        region: str = "national",
        cumulative: bool = False,
    ) -> pd.Series:
        """One daily series, summed over items and truths left unspecified."""
        ts = self.timeseries
        sel = (ts["metric"] == metric) & (ts["region"] == region)
        if item is not None:
            sel &= ts["item"] == item
        if truth is not None:
            sel &= ts["truth"] == truth
        if not sel.any():
            known = sorted(ts["metric"].unique())
            raise KeyError(
                f"no rows for metric={metric!r} item={item!r} truth={truth!r} "
                f"region={region!r}; metrics are {known}"
            )
        out = ts[sel].groupby("date", observed=True)["value"].sum()
        return out.cumsum() if cumulative else out

    def headline(self) -> pd.DataFrame:
        """The figures a reader wants first, national, scaled, at the end of the run."""
        from .audit import headline_rows

        return headline_rows(self)

    def sanctions(self) -> pd.DataFrame:
        """Per sanction: people and children barred at the end, blocked attempts over the run."""
        from .audit import sanction_rows

        return sanction_rows(self)

    def explain(self, person: int) -> str:
        """A sampled person's story in plain words."""
        from .audit import explain

        return explain(self, person)

    def query(self, sql: str, limit: int | None = None) -> pd.DataFrame:
        """DuckDB SQL over the tables (timeseries, snapshots, audit, people): the first
        ``limit`` rows of the result, or all of them."""
        frames, rows = [], 0
        for frame in self.query_batches(sql):
            frames.append(frame)
            rows += len(frame)
            if limit is not None and rows >= limit:
                break
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return out if limit is None else out.head(limit)

    def query_batches(self, sql: str) -> Iterator[pd.DataFrame]:
        """The result of ``sql`` in batches of a few thousand rows, fetched as they are read.

        The SQL runs in this process on an in-memory copy of the tables, with no access to
        files, the network or extensions, and settings locked (docs/reliability.md): it can
        neither read nor change anything outside the run's own tables."""
        import duckdb

        if not sql.strip().strip(";").strip():
            raise ValueError("the SQL is empty; e.g. SELECT * FROM people LIMIT 5")
        con = duckdb.connect(
            config={
                "enable_external_access": False,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            }
        )
        for name in TABLES:
            con.register(name, getattr(self, name))
        con.execute("SET lock_configuration = true")
        cursor = con.execute(sql)
        if cursor is None or cursor.description is None:  # only comments
            raise ValueError("the SQL has no statement; e.g. SELECT * FROM people LIMIT 5")
        frame = cursor.fetch_df_chunk()
        yield frame  # even when empty: it carries the columns
        while len(frame):
            frame = cursor.fetch_df_chunk()
            if len(frame):
                yield frame

    def plot(self) -> matplotlib.figure.Figure:
        """Sanctions, lists, shamings and the score distribution over time, in one figure."""
        from .plots import overview

        return overview(self)
