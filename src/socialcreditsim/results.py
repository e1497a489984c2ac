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

A run's tables are built in Arrow (``tables.py``) and written to Parquet as they are; each
becomes a DataFrame when it is first read (``Results.timeseries`` and the others), so a run
that only writes its folder never imports pandas.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import version
from .folders import (
    DamagedFolder,
    Reservation,
    atomic_folder,
    destination,
    read_json,
    read_parquet,
)
from .scenario import Scenario, load_scenario

if TYPE_CHECKING:
    import matplotlib.figure
    import pandas as pd

__all__ = ["Results", "TABLES", "library_versions"]

TABLES = ("timeseries", "snapshots", "audit", "people")
Finish = Callable[[Path], Any]  # what completes a folder before it is put in place
# what reading a run folder relies on (a snapshots table may be empty: no snapshot days)
TABLE_COLUMNS = {
    "timeseries": ("date", "region", "metric", "item", "truth", "value"),
    "snapshots": (),
    "audit": ("person", "date", "kind", "item", "truth", "value", "score"),
    "people": ("person", "region"),
}
MANIFEST_KEYS = ("scenario", "seed", "n_agents", "scale", "counts", "start", "end",
                 "resolved_scenario")  # fmt: skip


def library_versions() -> dict[str, str]:
    """The versions of Python and of the libraries that make and write a run's numbers."""
    return dict(_versions())


@functools.cache  # (reading the installed packages' metadata took 0.7 ms a run)
def _versions() -> dict[str, str]:
    import platform

    import numba
    import pydantic

    return {
        "python": platform.python_version(),
        "socialcreditsim": version.__version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "pandas": metadata.version("pandas"),  # (without importing it: a run does not need it)
        "pyarrow": pa.__version__,
        "pydantic": pydantic.__version__,
    }


# columns whose minimum and maximum each row group records, for readers that skip row groups
# (dates and people are what tables are filtered by ranges of); the statistics of the other
# columns, dictionary-encoded categories most, took half the time of writing the daily series
STATISTICS = ("date", "person")


def write_parquet(frame: pd.DataFrame | pa.Table, path: Path) -> None:
    """One table (a DataFrame, or a run's table as the engine builds it) as zstd-compressed
    Parquet."""
    table = frame
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(frame, preserve_index=False)
    stats = [c for c in STATISTICS if c in table.column_names]
    pq.write_table(table, path, compression="zstd", write_statistics=stats)


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
    finish: Finish | None = None,
) -> Path:
    """Write a folder atomically: a run's tables (``run``), more Parquet ``tables`` and text
    files by name, the ``manifest``, then ``finish(folder)`` on the complete folder before it is
    put in place (``report.write_report``: the folder appears with its report, or not at all).
    ``out`` may be a folder reserved before the work (``folders.Reservation``)."""
    with atomic_folder(out, overwrite) as tmp:
        if run is not None:
            run.write(tmp)
        for name, frame in (tables or {}).items():
            write_parquet(frame, tmp / f"{name}.parquet")
        for name, text in (texts or {}).items():
            (tmp / name).write_text(text)
        if manifest is not None:
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        if finish is not None:
            finish(tmp)
    return destination(out)


def _table(name: str) -> property:
    """A table of ``Results`` as a DataFrame, made from the Arrow table the engine built when
    it is first read: a run that only writes its folder never imports pandas (half a second)."""

    def read(self: Results) -> pd.DataFrame:
        table = self._tables[name]
        if isinstance(table, pa.Table):
            table = self._tables[name] = table.to_pandas()
        return table

    return property(read, doc=f"The ``{name}`` table (a DataFrame).")


class Results:
    """Tables of one run, with the manifest that says how they were made."""

    timeseries = _table("timeseries")
    snapshots = _table("snapshots")
    audit = _table("audit")
    people = _table("people")

    def __init__(
        self,
        timeseries: pd.DataFrame | pa.Table,
        snapshots: pd.DataFrame | pa.Table,
        audit: pd.DataFrame | pa.Table,
        people: pd.DataFrame | pa.Table,
        manifest: dict[str, Any],
        path: Path | None = None,
        _scenario: Scenario | None = None,
    ):
        self._tables = {"timeseries": timeseries, "snapshots": snapshots, "audit": audit,
                        "people": people}  # fmt: skip
        self.manifest = manifest
        self.path = path
        self._scenario = _scenario

    def __repr__(self) -> str:
        m = self.manifest
        return f"Results(scenario={m.get('scenario')!r}, seed={m.get('seed')}, path={self.path})"

    @property
    def scenario(self) -> Scenario:
        if self._scenario is None:
            self._scenario = load_scenario(self.manifest["resolved_scenario"])
        return self._scenario

    # ---------------------------------------------------------------- disk
    def save(self, out: str | Path, overwrite: bool = False, finish: Finish | None = None) -> Path:
        """Write the run folder atomically (``finish``: see :func:`save_folder`); refuses to
        replace an existing one unless asked."""
        self.path = save_folder(out, run=self, overwrite=overwrite, finish=finish)
        return self.path

    def write(self, folder: Path) -> None:
        """Write the tables, the resolved scenario and the manifest into ``folder``."""
        for name in TABLES:
            write_parquet(self._tables[name], folder / f"{name}.parquet")
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
        import pandas as pd

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
