"""The command line: run scenarios, list and show them, explain people and query runs.

``socialcreditsim run national --agents 100000`` runs a scenario and writes a run folder;
``scenarios``, ``show``, ``explain``, ``query`` and ``disparities`` read scenarios and run folders;
``calibrate`` fits scenario fields to published figures (``calibrate.py``); ``--cluster`` runs
the work of ``run``, ``compare``, ``sweep`` and ``calibrate`` on a Dask cluster (``executor.py``).
Errors the user can fix (a bad scenario, a bad ``--set``, a folder in the way, a run too big for
memory, a folder that cannot be written, a scheduler out of reach) print one message in red and
exit with code 2; Ctrl-C
exits with 130 and SIGTERM with 143, leaving nothing half-written (``folders.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import os
import re
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from . import checkpoint as ckpt
from .engine import Sim
from .executor import DaskExecutor, release_before_exit
from .folders import OutputError, Reservation, check_output
from .memory import NotEnoughMemory, estimate_memory, estimate_shard_memory
from .results import Results
from .scenario import DEFAULT_BAND, ScenarioError, builtin_scenarios, check_band, load_scenario

if TYPE_CHECKING:
    import pandas as pd

    from .sweep import SweepResults

# The modules of replicates, comparisons, sweeps and the calibration (and pandas, which they and
# the summary tables are built on) are imported by the commands that use them: a run that only
# writes its folder needs none of them, and pandas alone takes half a second to import.

__all__ = ["app", "main"]

DEFAULT_AGENTS = 1_000_000
MAX_ROWS = 50
EXPLAIN_LIST = 10
GIB = 2**30

app = typer.Typer(
    name="socialcreditsim",
    help="Simulate social credit systems on synthetic populations, from one city to 1.4 billion.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a scenario field by dotted path, e.g. score.start=1000 (repeatable).",
    ),
]


QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar or table; print the folder.")
]
BandOption = Annotated[
    str,
    typer.Option(
        metavar="LO:HI",
        help="Percentiles of the band around the median of replicates (Weibull positions).",
    ),
]
ReportOption = Annotated[
    bool,
    typer.Option(
        "--report/--no-report", help="Write report.html and figures/ (PNG and SVG) at the end."
    ),
]
StudyDryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Say how many runs, on how many processes, and stop."),
]
ProcessesOption = Annotated[
    int | None,
    typer.Option(min=1, help="Parallel runs (default: one per core, fewer if memory is short)."),
]
ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        metavar="ADDRESS",
        help="Run on a Dask cluster: local:N (a LocalCluster of N workers on this machine), a"
        " scheduler address (tcp://host:8786) or a scheduler file; needs pip install -e"
        " '.\\[cluster]'",
    ),
]


def _date_option(help: str) -> Any:
    return typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD", help=help)


# ------------------------------------------------------------------ helpers
def _out() -> Console:
    return Console()


def _err() -> Console:
    return Console(stderr=True)


# The Python API's argument names, as the options that set them (messages name what was typed).
_OPTION_OF = {"n_agents": "--agents", "seed": "--seed", "threads": "--threads",
              "replicates": "--replicates", "processes": "--processes",
              "cluster": "--cluster"}  # fmt: skip


def _fail(message: object, code: int = 2) -> NoReturn:
    """Print one message in red on stderr and exit."""
    text = str(message)
    head, sep, rest = text.partition(": ")
    if sep and head in _OPTION_OF:
        text = f"{_OPTION_OF[head]}: {rest}"
    _err().print(text, style="red", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that what was half-written is removed on the way out."""


_signalled: list[int] = []  # the SIGINT and SIGTERM received, in order
STOPPED = (128 + signal.SIGINT, 128 + signal.SIGTERM)  # the exit codes of a command they stop


def _on_signal(signum: int, frame: Any) -> NoReturn:
    """Ctrl-C raises KeyboardInterrupt and SIGTERM ``Terminated``, and both are recorded: a
    library that catches the exception on its way up (a SIGINT in Numba's first load of the
    kernels or in an import was at times lost: the run went on and wrote its folder) cannot
    undo the record, which :func:`_stop_if_signalled` raises again."""
    _signalled.append(signum)
    _stop_if_signalled()


def _stop_if_signalled() -> None:
    """Raise the first signal received, if any (called after each day of a single run, and
    before any output folder is put in place)."""
    if _signalled:
        raise Terminated if _signalled[0] == signal.SIGTERM else KeyboardInterrupt


@contextlib.contextmanager
def _stoppable(what: str = "nothing was written") -> Iterator[None]:
    """Ctrl-C and SIGTERM end the command with one message, exit 130 or 143."""
    try:
        yield
    except KeyboardInterrupt as exc:
        if isinstance(exc, Terminated):
            _fail(f"terminated; {what}", code=STOPPED[1])
        _fail(f"interrupted; {what}", code=STOPPED[0])


def _check_out(out: Path) -> None:
    try:
        check_output(out)
    except OSError as exc:
        _fail(f"--out {exc}")


def _reserve(out: Path) -> Reservation:
    """Hold the output folder from now on (refused at once if another run holds it or it cannot
    be written); say which folders of killed runs were removed on the way."""
    try:
        slot = Reservation(out)
    except OSError as exc:
        _fail(f"--out {exc}")
    for p in slot.cleaned:
        _err().print(
            f"removed {p}: left by a run that was killed", style="dim", markup=False, soft_wrap=True
        )
    return slot


@contextlib.contextmanager
def _connect(address: str | None, need: int | None, quiet: bool = False) -> Iterator[Any]:
    """The Dask cluster of ``--cluster`` (None without it), reached before any run and closed
    after; its dashboard link goes to stderr. Dask missing, a scheduler out of reach or workers
    with less memory than one run ``need``s exit with code 2."""
    if address is None:
        yield None
        return
    try:
        ex = DaskExecutor(address)
    except ValueError as exc:
        _fail(exc)
    with ex:
        if need is not None:
            try:
                ex.check_memory(need)
            except NotEnoughMemory as exc:
                _fail(exc)
        if ex.dashboard and not quiet:
            _err().print(
                f"Dask dashboard: {ex.dashboard}",
                style="dim",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        yield ex.client


def _num(x: float) -> str:
    """A figure with thousands separators; fractions only where they matter."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if float(x).is_integer() or abs(x) >= 10_000:
        return f"{x:,.0f}"
    return f"{x:,.2f}"


def _share(x: float) -> str:
    if x is None or math.isnan(x):
        return ""
    if x == 0:
        return "0%"
    return "<0.01%" if x < 1e-4 else f"{x:.2%}"


def _cell(v: Any) -> str:
    """One value of a query result, shown as a person would write it."""
    import pandas as pd

    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return f"{v:.6g}" if abs(v) < 1e6 else f"{v:.0f}"
    return "" if v is None or v is pd.NA or v is pd.NaT else str(v)


def _load_run(run_dir: Path) -> Results:
    try:
        return Results.load(run_dir)
    except FileNotFoundError as exc:
        _fail(exc if str(exc).startswith(str(run_dir)) else f"{run_dir}: not a run folder: {exc}")
    except (OSError, ValueError) as exc:
        _fail(f"{run_dir}: cannot read this run folder: {exc}")


def _default_out(name: str, agents: int, seed: int) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "scenario"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{safe}-{agents}-seed{seed}-{stamp}"


def _headline_table(res: Results) -> Table:
    table = Table(title=escape(f"{res.manifest['scenario']}: headline figures"))
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("wrongful", justify="right")
    table.add_column("wrongful share", justify="right")
    for row in res.headline().itertuples(index=False):
        table.add_row(
            escape(row.figure), _num(row.value), _num(row.wrongful), _share(row.wrongful_share)
        )
    return table


def _sanctions_table(res: Results) -> Table | None:
    frame = res.sanctions()
    if frame.empty:
        return None
    since = frame["blocked_attempts_since_list_began"].notna().any()
    table = Table(title="sanctions (people now, blocked attempts over the run)")
    for col in (
        "sanction",
        "people barred",
        "wrongly",
        "children barred",
        "blocked attempts",
        "wrongly",
    ) + (("attempts since the list began",) if since else ()):
        table.add_column(col, justify="left" if col == "sanction" else "right")
    for r in frame.itertuples(index=False):
        cells = [
            escape(r.sanction),
            _num(r.people_barred),
            _share(r.people_wrongful_share),
            _num(r.children_barred),
            _num(r.blocked_attempts),
            _share(r.attempts_wrongful_share),
        ]
        if since:
            cells.append(_num(r.blocked_attempts_since_list_began))
        table.add_row(*cells)
    return table


def _dry_run(
    sim: Sim, source: str, overrides: list[str], out: Path, cluster: str | None = None
) -> None:
    sc = sim.scenario
    n_days = (sc.time.end - sc.time.start).days + 1
    pop = sc.population.size
    params = Table(title="run parameters", show_header=False)
    params.add_column("parameter", style="bold")
    params.add_column("value")
    params.add_row(
        "scenario", escape(sc.meta.name + (f" (from {source})" if source != sc.meta.name else ""))
    )
    params.add_row("period", f"{sc.time.start} to {sc.time.end} ({n_days:,} days)")
    params.add_row(
        "agents",
        f"{sim.n_agents:,} standing for {pop:,} people "
        f"(1 agent = {pop / sim.n_agents:,.1f} people)",
    )
    params.add_row("seed", str(sim.seed))
    params.add_row("threads", str(sim.threads or "automatic"))
    params.add_row("overrides", escape("\n".join(overrides)) or "none")
    params.add_row("output folder", escape(str(out)))
    parts = estimate_memory(sc, sim.n_agents)
    mem = Table(title="predicted peak memory")
    mem.add_column("part")
    mem.add_column("GiB", justify="right")
    for name, size in parts.items():
        mem.add_row(name, f"{size / GIB:,.3f}")
    mem.add_row("total", f"{sum(parts.values()) / GIB:,.3f}", style="bold")
    if cluster is not None:  # one shard a worker; the number of workers of an address is unknown
        local = re.fullmatch(r"local:(\d+)", cluster)
        for k in [int(local[1])] if local else [2, 4, 8, 16]:
            per = estimate_shard_memory(sc, sim.n_agents, k)
            mem.add_row(f"per worker, over {k} workers", f"{per / GIB:,.3f}", style="bold")
    console = _out()
    console.print(params)
    console.print(mem)
    try:
        sim.check_memory()
    except NotEnoughMemory as exc:
        console.print(f"would not fit: {exc}", style="red", markup=False, soft_wrap=True)
    else:
        console.print("fits in the memory available now; dry run, nothing was run or written")


# ------------------------------------------------------------------ commands
@app.command()
def run(
    ctx: typer.Context,
    scenario: Annotated[
        str, typer.Argument(help="A built-in scenario name or a scenario TOML file.")
    ] = "national",
    agents: Annotated[
        int | None,
        typer.Option(
            "--agents",
            "-n",
            min=1,
            show_default=False,
            help="Simulated agents; they stand for the scenario's population.size "
            "(1,411,778,724 by default), counts are scaled up; at most population.size "
            f"[default: {DEFAULT_AGENTS:,}, or population.size if smaller]",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, max=2**63 - 1, help="Random seed.")] = 0,
    start: Annotated[dt.datetime | None, _date_option("First day (sets time.start).")] = None,
    end: Annotated[dt.datetime | None, _date_option("Last day (sets time.end).")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Run folder to write, which must not exist or be empty "
            "(default: runs/<scenario>-<N>-seed<S>-<timestamp>)."
        ),
    ] = None,
    set_: SetOption = None,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker threads (default: one per core, fewer for small runs); with --replicates,"
            " threads of each replicate run (default one each, one process per core).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the parameters and predicted memory; stop.")
    ] = False,
    quiet: QuietOption = False,
    replicates: Annotated[
        int,
        typer.Option(
            min=1,
            help="Runs with the seeds SEED, SEED+1, ... in parallel processes; tables and the"
            " report show their median and band.",
        ),
    ] = 1,
    band: BandOption = "10:90",
    report: ReportOption = True,
    cluster: ClusterOption = None,
    checkpoint_every: Annotated[
        str | None,
        typer.Option(
            "--checkpoint-every",
            metavar="DAYS",
            help="Save the whole state every DAYS simulated days (30d or 30) into OUT.checkpoint/"
            " beside the run folder, so that --resume OUT continues the run after a crash; the"
            " folder is removed once the run folder is written.",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            metavar="RUN_DIR",
            help="Continue a run that was killed from its last checkpoint (RUN_DIR.checkpoint/),"
            " with the scenario, agents and seed it was started with, and write RUN_DIR; the"
            " result is byte for byte that of a run never interrupted. A run split over a"
            " --cluster continues split as it was (give --cluster again to use one).",
        ),
    ] = None,
) -> None:
    """Run a scenario and write a run folder (Parquet tables, manifest, resolved scenario,
    report.html)."""
    checkpointing = checkpoint_every is not None or resume is not None
    left = "nothing was written"
    if checkpointing:
        left += f"; continue from the last checkpoint with --resume {resume or out or 'RUN_DIR'}"
    with _stoppable(left):
        lo_hi = _band(band)
        every = _every_days(checkpoint_every)
        if resume is not None:
            _refuse_with_resume(ctx)
            _resume(resume, every, threads, quiet, report, cluster)
            return
        if every is not None and replicates > 1:
            _fail("--checkpoint-every: only a single run can be checkpointed, not --replicates")
        _run(
            scenario,
            agents,
            seed,
            start,
            end,
            out,
            set_ or [],
            threads,
            dry_run,
            quiet,
            replicates,
            lo_hi,
            report,
            cluster,
            every,
        )


def _every_days(text: str | None) -> int | None:
    """Days between checkpoints from ``--checkpoint-every`` (``30d`` or ``30``)."""
    if text is None:
        return None
    match = re.fullmatch(r"(\d+)d?", text.strip())
    if match is None or int(match[1]) < 1:
        _fail(
            f"--checkpoint-every {text}: expected a whole number of days of at least 1, e.g. 30d"
            " or 30"
        )
    return int(match[1])


# what --resume takes from the checkpoint, or cannot change
_NOT_WITH_RESUME = ("scenario", "agents", "seed", "start", "end", "out", "set_", "dry_run",
                    "replicates", "band")  # fmt: skip


def _refuse_with_resume(ctx: typer.Context) -> None:
    """Refuse the options that would change a resumed run (given at all, even with the value
    it was started with: the checkpoint says what the run is). Sources are compared by name:
    Typer carries its own copy of Click, whose ``ParameterSource`` is not ``click``'s."""
    sources = {p.name: ctx.get_parameter_source(p.name) for p in ctx.command.params}
    given = [
        p.opts[0] if p.opts[0].startswith("-") else p.opts[0].upper()
        for p in ctx.command.params
        if p.name in _NOT_WITH_RESUME and getattr(sources[p.name], "name", "DEFAULT") != "DEFAULT"
    ]
    if given:
        _fail(
            f"--resume: the run continues with the scenario, agents, seed and dates it was"
            f" started with and writes RUN_DIR; leave out {', '.join(given)}"
        )


def _resume(
    run_dir: Path,
    every: int | None,
    threads: int | None,
    quiet: bool,
    report: bool,
    cluster: str | None,
) -> None:
    """Continue the run into ``run_dir`` from its checkpoint, checkpointing every ``every`` days
    (default: as often as the run did); a run split into shards continues split as it was, here
    or on the ``cluster``."""
    folder = ckpt.folder_for(run_dir)
    try:
        meta = ckpt.read_meta(folder)
        sim = Sim(meta["scenario"], n_agents=meta["n_agents"], seed=meta["seed"], threads=threads)
    except (ScenarioError, ValueError) as exc:  # ValueError: CheckpointError included
        _fail(exc)
    try:
        check_output(run_dir)
    except OSError as exc:
        _fail(f"--resume {exc}")
    if cluster is None:
        try:
            sim.check_memory()
        except NotEnoughMemory as exc:
            _fail(exc)
    every = every if every is not None else meta.get("every")
    _single(sim, run_dir, quiet, report, cluster, ckpt.Checkpointing(folder, every, resume=True))


def _band(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(":"))
        return check_band((lo, hi))
    except ValueError as exc:
        _fail(
            f"--band {text}: {exc}" if ":" in text else f"--band {text}: expected LO:HI, e.g. 10:90"
        )


def _run(
    source: str,
    agents: int | None,
    seed: int,
    start: dt.datetime | None,
    end: dt.datetime | None,
    out: Path | None,
    sets: list[str],
    threads: int | None,
    dry_run: bool,
    quiet: bool,
    replicates: int = 1,
    band: tuple[float, float] = DEFAULT_BAND,
    report: bool = True,
    cluster: str | None = None,
    checkpoint_every: int | None = None,
) -> None:
    dates = [f"time.{k}={d.date().isoformat()}" for k, d in (("start", start), ("end", end)) if d]
    try:
        sc = load_scenario(source, sets or None)
        if dates:
            sc = sc.with_overrides(dates, source="--start/--end")
        if agents is None:
            agents = min(DEFAULT_AGENTS, sc.population.size)
        sim = Sim(sc, n_agents=agents, seed=seed, threads=threads)
    except (ScenarioError, ValueError) as exc:
        _fail(exc)
    out = out if out is not None else _default_out(sc.meta.name, agents, seed)
    _check_out(out)
    if dry_run:
        _dry_run(sim, source, sets + dates, out, cluster if replicates == 1 else None)
        return
    need = sum(estimate_memory(sc, agents).values())
    if cluster is None:  # on a cluster its workers hold the runs (or the shards of one)
        try:
            sim.check_memory()
        except NotEnoughMemory as exc:
            _fail(exc)
    if replicates > 1:
        from .replicates import MultiSim

        finish = _report_writer(report)
        with (
            _connect(cluster, need, quiet) as client,
            _reserve(out) as slot,
            _runs_bar(replicates, "replicates", quiet) as progress,
        ):
            multi = MultiSim(
                sc, agents, seed, replicates, band=band, threads=threads, cluster=client
            )
            results = multi.run(progress=progress)
            path = _save(results, slot, finish)
        _done(
            path, quiet, lambda: [_band_table(results.headline(), results.band, "headline figures")]
        )
        return
    checkpoint = None
    if checkpoint_every is not None:
        checkpoint = ckpt.Checkpointing(ckpt.folder_for(out), checkpoint_every)
        if any((checkpoint.folder / name).exists() for name in (ckpt.FILE, ckpt.SPLIT)):
            _fail(
                f"{checkpoint.folder}: holds the checkpoint of an earlier run into {out}; continue"
                f" it with --resume {out}, or remove the folder"
            )
    _single(sim, out, quiet, report, cluster, checkpoint)


def _single(
    sim: Sim,
    out: Path,
    quiet: bool,
    report: bool,
    cluster: str | None,
    checkpoint: ckpt.Checkpointing | None,
) -> None:
    """One run into ``out`` (split into shards over the ``cluster``'s workers where one is
    given), with a progress bar over simulated days; with a ``checkpoint``, its folder is
    removed once the run folder is written."""
    sc = sim.scenario
    n_days = (sc.time.end - sc.time.start).days + 1
    finish = _report_writer(report)
    with (
        _connect(cluster, None, quiet) as client,  # a shard of the run needs less than all of it
        _reserve(out) as slot,
        _bar("days", quiet) as bar,
    ):
        if not quiet:
            bar.console.print(
                "building the population; compiling kernels on first use (cached afterwards)",
                style="dim",
                highlight=False,
            )
            if checkpoint is not None and checkpoint.every is not None:
                bar.console.print(
                    f"checkpoints every {checkpoint.every} days in {checkpoint.folder}",
                    style="dim",
                    markup=False,
                    highlight=False,
                )
        task = bar.add_task("preparing", total=n_days)

        def progress(day: int, total: int) -> None:
            if threading.current_thread() is threading.main_thread():
                _stop_if_signalled()
            date = sc.time.start + dt.timedelta(days=day - 1)
            bar.update(task, completed=day, total=total, description=f"simulated {date}")

        try:
            res = sim.run(progress=progress, cluster=client, checkpoint=checkpoint)
        except ckpt.CheckpointError as exc:
            _fail(exc)
        bar.update(task, description="writing the run folder" + (" and report" if report else ""))
        path = _save(res, slot, finish)
    if checkpoint is not None:
        shutil.rmtree(checkpoint.folder, ignore_errors=True)
    _done(path, quiet, lambda: [_headline_table(res), _sanctions_table(res)])


def _report_writer(report: bool) -> Callable[..., Any] | None:
    """The report writer where a report is asked for, loaded before the output is held and the
    run begins: a Ctrl-C during Matplotlib's import was at times lost (the run went on, wrote
    its folder and exited 0), which tests/test_folders.py caught."""
    if not report:
        return None
    from .report import warm, write_report  # matplotlib: only when a report is written

    warm()  # the report's worker processes get ready on another core while the run goes on
    return functools.partial(write_report, processes=None)


def _save(results: Any, out: Reservation, finish: Callable[..., Any] | None) -> Path:
    """Save any results object's folder atomically into the folder held for it, with its report
    (``finish``) if asked; a folder in the way or a full disk is the user's error."""

    def complete(folder: Path) -> None:
        if finish is not None:
            finish(folder)
        _stop_if_signalled()  # the folder is not put in place after a Ctrl-C, even one lost

    try:
        return results.save(out, finish=complete)
    except (FileExistsError, OutputError) as exc:
        _fail(exc)


def _done(path: Path, quiet: bool, tables: Callable[[], list[Table | None]]) -> None:
    """Say where the results are; with the tables, built only when they are shown (their
    queries took 0.1 s of a quiet 1M run)."""
    console = _out()
    if quiet:
        console.print(str(path), markup=False, highlight=False, soft_wrap=True)
        return
    for table in tables():
        if table is not None:
            console.print(table)
    console.print(f"results written to {path}", markup=False, highlight=False, soft_wrap=True)
    if (path / "report.html").is_file():
        console.print(
            f"report: {path / 'report.html'}", markup=False, highlight=False, soft_wrap=True
        )


def _bar(unit: str, quiet: bool) -> Progress:
    """A progress bar on stderr counting ``unit``, with the time elapsed and left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("elapsed,"),
        TimeRemainingColumn(),
        TextColumn("left"),
        console=_err(),
        disable=quiet,
    )


@contextlib.contextmanager
def _runs_bar(total: int, what: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over whole runs, with the time left."""
    with _bar(what, quiet) as bar:
        task = bar.add_task("running", total=total)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            if done == total:
                bar.update(task, description="writing")

        yield progress


def _band_table(frame: pd.DataFrame, band: tuple[float, float], title: str) -> Table:
    """Median and band of outputs over replicates, one row per figure."""
    lo, hi = (f"{x:g}" for x in band)
    table = Table(title=escape(title), caption=f"band: {lo}th to {hi}th percentile of the runs")
    table.add_column("figure")
    for col in ("median", "band"):
        table.add_column(col, justify="right")
    for r in frame.itertuples(index=False):
        table.add_row(escape(r.figure), _num(r.median), f"{_num(r.lower)} to {_num(r.upper)}")
    return table


@app.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    table = Table(title="built-in scenarios")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("description")
    for name, description in builtin_scenarios().items():
        table.add_row(escape(name), escape(description))
    _out().print(table)


@app.command()
def show(
    scenario: Annotated[str, typer.Argument(help="A built-in scenario name or a TOML file.")],
    set_: SetOption = None,
) -> None:
    """Print the resolved scenario as TOML, every field included (redirect it to edit it)."""
    try:
        sc = load_scenario(scenario, set_ or None)
    except ScenarioError as exc:
        _fail(exc)
    typer.echo(sc.to_toml(), nl=False)


@app.command()
def explain(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `run`.")],
    person: Annotated[
        int | None, typer.Argument(help="An audited person's id (omit to list some).")
    ] = None,
) -> None:
    """Tell an audited person's story; without PERSON_ID, list the people with most records."""
    res = _load_run(run_dir)
    if person is not None:
        try:
            story = res.explain(person)
        except KeyError as exc:
            if (res.people["person"] == person).any():
                raise  # a bug in the story, not an unknown person
            _fail(exc.args[0] if exc.args else exc)
        typer.echo(story)
        return
    people, audit = res.people, res.audit
    if people.empty:
        _out().print("this run audited nobody (output.audit_sample = 0)")
        return
    records = audit.groupby("person").size().rename("records")
    wrongful = (audit["truth"] == "wrongful").groupby(audit["person"]).any().rename("wrongful")
    top = people[["person", "region"]].join(records, on="person").join(wrongful, on="person")
    top = top.fillna({"records": 0, "wrongful": False})
    top = top.sort_values(["records", "person"], ascending=[False, True]).head(EXPLAIN_LIST)
    table = Table(
        title="audited people with the most records", caption=f"{len(people):,} people audited"
    )
    table.add_column("person", justify="right")
    table.add_column("region")
    table.add_column("records", justify="right")
    table.add_column("anything wrongful")
    for row in top.itertuples(index=False):
        table.add_row(
            str(row.person),
            escape(row.region),
            f"{int(row.records):,}",
            "yes" if row.wrongful else "no",
        )
    console = _out()
    console.print(table)
    console.print(
        f"tell one story with: socialcreditsim explain {run_dir} PERSON_ID",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def query(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `run`.")],
    sql: Annotated[
        str, typer.Argument(help="DuckDB SQL over timeseries, snapshots, audit, people.")
    ],
    csv: Annotated[bool, typer.Option("--csv", help="Print every row as CSV instead.")] = False,
) -> None:
    """Run SQL over a run's tables (timeseries, snapshots, audit, people), in memory, with no
    access to files, the network or extensions."""
    import duckdb
    import pandas as pd

    res = _load_run(run_dir)
    try:
        if csv:
            for i, batch in enumerate(res.query_batches(sql)):
                typer.echo(batch.to_csv(index=False, header=i == 0), nl=False)
            return
        frame = res.query(sql, limit=MAX_ROWS + 1)
    except (duckdb.Error, ValueError) as exc:
        _fail(f"query failed: {exc}")
    table = Table()
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(escape(str(col)), justify="right" if numeric else "left")
    for row in frame.head(MAX_ROWS).itertuples(index=False, name=None):
        table.add_row(*(escape(_cell(v)) for v in row))
    console = _out()
    console.print(table)
    if len(frame) > MAX_ROWS:
        console.print(f"showing the first {MAX_ROWS} rows; use --csv for all of them")


# the metrics `disparities` shows by default, where the runs have them (disparities.py)
DISPARITY_METRICS = ("court_listed", "listed_at_discretion", "blacklisted", "sanctioned",
                     "sanctioned/wrongful_share")  # fmt: skip
HIGH_RR, LOW_RR = 2.0, 0.5  # relative risks shown in colour


@app.command()
def disparities(
    runs: Annotated[
        list[Path],
        typer.Argument(
            metavar="RUN",
            help="A run folder, or the run folders of replicates (one scenario, different seeds):"
            " the relative risk then has a 95% interval.",
        ),
    ],
    dimension: Annotated[
        list[str] | None,
        typer.Option(
            "--dimension",
            "-d",
            metavar="DIMENSION",
            help="group, region, urban_rural, age_band or propensity (repeatable; default: the"
            " first four).",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            metavar="METRIC",
            help="A metric to show, e.g. sanctioned:flights or blacklisted/wrongful_share"
            " (repeatable; default: court_listed, listed_at_discretion, blacklisted, sanctioned"
            " and sanctioned/wrongful_share, where the runs have them).",
        ),
    ] = None,
    csv: Annotated[
        bool, typer.Option("--csv", help="Print every row as CSV instead (all metrics by default).")
    ] = False,
) -> None:
    """Per-capita shares listed and barred by group, region, urban or rural and age band, and
    their relative risk against the national share (time averages over the run)."""
    from .disparities import DIMENSIONS
    from .disparities import disparities as table_of

    loaded = []
    for path in runs:
        res = _load_run(path)
        if "replicates" in res.manifest:
            _err().print(
                f"{path}: a replicates folder keeps the snapshots of its first replicate (seed"
                f" {res.manifest['seed']}) only; for an interval give each replicate's run folder",
                style="dim",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        loaded.append(res)
    try:
        frame = table_of(loaded, dimension or DIMENSIONS)
    except ValueError as exc:
        text = str(exc)
        _fail(f"--{text}" if text.startswith("dimension ") else text)
    known = list(dict.fromkeys(frame["metric"]))
    unknown = [m for m in metric or [] if m not in known]
    if unknown:
        _fail(f"--metric {unknown[0]}: the runs have no such metric; they have {', '.join(known)}")
    if csv:
        if metric:
            frame = frame[frame["metric"].isin(metric)]
        typer.echo(frame.to_csv(index=False), nl=False)
        return
    if metric:
        shown = list(dict.fromkeys(metric))
    else:
        national = frame[frame["dimension"] == "national"].set_index("metric")["share"]
        shown = [
            m
            for m in DISPARITY_METRICS
            if m in national.index
            and (national[m.removesuffix("/wrongful_share")] > 0)  # NaN: False
        ]
    console = _out()
    for table in _disparity_tables(frame, shown):
        console.print(table)
    n = len(loaded)
    interval = (
        f"95% interval of the mean RR over {n} runs (Student's t) below it"
        if n > 1
        else "one run: give replicate runs (one scenario, other seeds) for a 95% interval"
    )
    console.print(
        "share: of the category's people, averaged over the run (person-days); RR: relative risk,"
        f" the share over the national share (above {HIGH_RR:g} red, below {LOW_RR:g} blue);"
        f" {interval}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _ratio(x: float) -> str:
    if x is None or math.isnan(x):
        return ""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}"


def _disparity_tables(frame: pd.DataFrame, metrics: list[str]) -> list[Table]:
    """One table a dimension: a row a category (the national reference first), a share and a
    relative risk (with its interval, over replicates) a metric."""
    from rich.text import Text

    from .disparities import DIMENSION_WORDS, label

    def cells(rows: pd.DataFrame, interval: bool = True) -> list[Any]:
        by = rows.set_index("metric")
        out: list[Any] = [f"{float(rows['people'].iloc[0]):,.0f}"]  # a mean over replicates
        for m in metrics:
            if m not in by.index:
                out += ["", ""]
                continue
            r = by.loc[m]
            rr = float(r["relative_risk"])
            text = _ratio(rr)
            if interval and not math.isnan(r["rr_low"]):
                text += f"\n{_ratio(float(r['rr_low']))} to {_ratio(float(r['rr_high']))}"
            style = "bold red" if rr > HIGH_RR else "bold blue" if rr < LOW_RR else ""
            out += [_share(float(r["share"])), Text(text, style=style)]
        return out

    national = cells(frame[frame["dimension"] == "national"], interval=False)  # 1 to 1
    tables = []
    rest = frame[frame["dimension"] != "national"]
    for dim, part in rest.groupby("dimension", sort=False):
        table = Table(title=escape(f"by {DIMENSION_WORDS.get(str(dim), str(dim))}"))
        table.add_column("category")
        table.add_column("people", justify="right")
        for m in metrics:
            table.add_column(escape(label(m)), justify="right")
            table.add_column("RR", justify="right")
        table.add_row("national (reference)", *national, style="dim")
        for cat, rows in part.groupby("category", sort=False):
            table.add_row(escape(str(cat)), *cells(rows))
        tables.append(table)
    return tables


AgentsOption = Annotated[
    int, typer.Option("--agents", "-n", min=1, help="Simulated agents per run.")
]
SeedOption = Annotated[int, typer.Option(min=0, max=2**63 - 1, help="Base random seed.")]


def _out_option(what: str) -> Any:
    return typer.Option(
        help="Folder to write, which must not exist or be empty"
        f" (default: runs/{what}-<N>-seed<S>-<timestamp>)."
    )


def _study(
    make: Callable[[], Any],
    out: Path,
    quiet: bool,
    report: bool,
    dry_run: bool,
    cluster: str | None = None,
) -> tuple[Any, Path]:
    """Build a comparison or sweep (every check before any run), run it with a bar over runs,
    here or on the Dask ``cluster``, and save it; errors the user can fix exit with code 2,
    Ctrl-C with 130. A dry run says what would run and stops."""
    _check_out(out)
    try:
        study = make()
        # on a cluster, the workers' memory is checked once connected (_connect)
        processes = study.check_memory() if cluster is None else None
    except (ScenarioError, ValueError, NotEnoughMemory) as exc:
        _fail(exc)
    if cluster is not None and study.processes is not None:
        _fail("--processes and --cluster: on a cluster its workers run the runs; give one of them")
    from .replicates import job_memory

    jobs = study.jobs()
    need = job_memory(jobs)
    if dry_run:
        table = Table(title="dry run", show_header=False)
        n = len(study.seeds)
        table.add_row("runs", f"{len(jobs):,} ({n} seed{'s' if n > 1 else ''} each)")
        if cluster is None:
            table.add_row("parallel processes", str(processes))
        else:
            table.add_row("runs on", escape(f"the Dask cluster {cluster} (not contacted)"))
        table.add_row("predicted peak memory of a run", f"{need / GIB:,.2f} GiB")
        table.add_row("output folder", escape(str(out)))
        _out().print(table)
        _out().print("dry run: nothing was run or written")
        raise typer.Exit()
    finish = _report_writer(report)
    with (
        _stoppable(),
        _connect(cluster, need, quiet) as client,
        _reserve(out) as slot,
        _runs_bar(len(jobs), "runs", quiet) as bar,
    ):
        study.cluster = client
        results = study.run(progress=bar)
        path = _save(results, slot, finish)
    return results, path


@app.command()
def compare(
    scenarios: Annotated[
        list[str],
        typer.Argument(
            help="One or more built-in scenario names or TOML files; the first is the baseline."
        ),
    ],
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            metavar="KEY=VALUE[;KEY=VALUE]",
            help="The first scenario with these overrides, as one more arm (repeatable).",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="Override a field in every arm."),
    ] = None,
    agents: AgentsOption = 100_000,
    replicates: Annotated[
        int, typer.Option(min=2, help="Runs per arm, the same seeds in every arm.")
    ] = 10,
    seed: SeedOption = 0,
    band: BandOption = "10:90",
    out: Annotated[Path | None, _out_option("compare")] = None,
    processes: ProcessesOption = None,
    report: ReportOption = True,
    quiet: QuietOption = False,
    dry_run: StudyDryRunOption = False,
    cluster: ClusterOption = None,
) -> None:
    """Run scenarios (or one scenario and --variant's) side by side; print and write the paired
    differences of their figures, with bands and 95% intervals."""
    from .compare import Comparison

    lo_hi = _band(band)
    results, path = _study(
        lambda: Comparison(
            scenarios,
            variant or [],
            set_ or [],
            n_agents=agents,
            seed=seed,
            replicates=replicates,
            band=lo_hi,
            processes=processes,
        ),
        out or _default_out("compare", agents, seed),
        quiet,
        report,
        dry_run,
        cluster,
    )
    _done(path, quiet, lambda: [_diff_table(results, arm) for arm in results.arms[1:]])


def _diff_table(results: Any, arm: str) -> Table:
    lo, hi = (f"{x:g}" for x in results.band)
    base = results.arms[0]
    table = Table(
        title=escape(f"{arm} against {base}"),
        caption=f"{len(results.manifest['seeds'])} runs each, the same seeds; band: {lo}th to"
        f" {hi}th percentile of the paired differences; 95% interval of their mean",
    )
    for col in ("figure", "baseline", "arm", "difference", "band", "95% interval of the mean"):
        table.add_column(col, justify="left" if col == "figure" else "right")
    frame = results.table()
    for r in frame[frame["arm"] == arm].itertuples(index=False):
        table.add_row(
            escape(r.figure),
            _num(r.baseline_median),
            _num(r.arm_median),
            _num(r.diff_median),
            f"{_num(r.diff_lower)} to {_num(r.diff_upper)}",
            f"{_num(r.diff_ci_lower)} to {_num(r.diff_ci_upper)}",
        )
    return table


@app.command()
def sweep(
    scenario: Annotated[str, typer.Argument(help="A built-in scenario name or a TOML file.")],
    vary: Annotated[
        list[str],
        typer.Option(
            "--vary",
            metavar="KEY=LO:HI:N",
            help="A field to vary over N values from LO to HI (with --sobol: KEY=LO:HI); KEY*=..."
            " varies a factor on a number or a schedule (repeatable).",
        ),
    ],
    sobol: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Sobol sensitivity instead of a grid: N (a power of two) Saltelli base samples.",
        ),
    ] = None,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            metavar="KEY",
            help="An output to summarise, e.g. blacklisted/wrongful or blocked_attempts:flights"
            " (repeatable; default: the headline figures).",
        ),
    ] = None,
    set_: SetOption = None,
    agents: AgentsOption = 100_000,
    replicates: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Runs per point, the same seeds at every point (default: 5; 1 with --sobol).",
        ),
    ] = None,
    seed: SeedOption = 0,
    band: BandOption = "10:90",
    out: Annotated[Path | None, _out_option("sweep-<scenario>")] = None,
    processes: ProcessesOption = None,
    report: ReportOption = True,
    quiet: QuietOption = False,
    dry_run: StudyDryRunOption = False,
    cluster: ClusterOption = None,
) -> None:
    """Run a scenario over a grid of field values, or estimate Sobol sensitivity indices;
    print and write the outputs at every point."""
    from .sweep import Sweep

    lo_hi = _band(band)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(scenario).stem)
    results, path = _study(
        lambda: Sweep(
            scenario,
            vary,
            n_agents=agents,
            seed=seed,
            replicates=replicates,
            targets=output or [],
            sobol=sobol,
            overrides=set_ or None,
            band=lo_hi,
            processes=processes,
        ),
        out or _default_out(f"sweep-{name}", agents, seed),
        quiet,
        report,
        dry_run,
        cluster,
    )
    _done(path, quiet, lambda: _sweep_tables(results))


def _sweep_tables(results: SweepResults) -> list[Table]:
    """The sweep's tables: outputs at each point, and the Sobol indices if asked."""
    table = Table(title="outputs at each point (median of the runs)")
    frame = results.table()
    for col in frame.columns:
        table.add_column(escape(str(col)), justify="right")
    for row in frame.head(MAX_ROWS).itertuples(index=False):
        params, outs = row[: 1 + len(results.parameters)], row[1 + len(results.parameters) :]
        table.add_row(*(_cell(v) for v in params), *(_num(v) for v in outs))
    tables = [table]
    if results.sobol is not None:
        sob = Table(title="Sobol indices (95% bootstrap intervals)")
        for col in ("output", "parameter", "S1", "ST"):
            sob.add_column(col, justify="left" if col in ("output", "parameter") else "right")
        for r in results.sobol.itertuples(index=False):
            sob.add_row(
                escape(r.output),
                escape(r.parameter),
                f"{r.S1:.2f} ± {r.S1_conf:.2f}",
                f"{r.ST:.2f} ± {r.ST_conf:.2f}",
            )
        tables.append(sob)
    return tables


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="A folder written by run, compare or sweep.")],
) -> None:
    """Write report.html and figures/ (PNG and SVG) for a run, comparison or sweep folder."""
    from .report import write_report

    try:
        with _stoppable("the previous report is unchanged"):
            path = write_report(folder, processes=None)
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    except OSError as exc:
        _fail(f"{folder}: cannot write the report: {exc.strerror or exc}")
    _out().print(f"report: {path}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def calibrate(
    scenario: Annotated[str, typer.Argument(help="A built-in scenario name or a TOML file.")],
    fit: Annotated[
        list[str],
        typer.Option(
            "--fit",
            metavar="KEY=LO:HI",
            help="A field to fit between LO and HI, by dotted path as --set (repeatable);"
            " KEY*=LO:HI fits a factor on a number or a whole schedule.",
        ),
    ],
    agents: Annotated[
        int, typer.Option("--agents", "-n", min=1, help="Simulated agents per run.")
    ] = 100_000,
    replicates: Annotated[
        int, typer.Option(min=1, help="Runs per trial (seeds SEED, SEED+1, ...), averaged.")
    ] = 2,
    budget: Annotated[
        float, typer.Option(min=1, help="Seconds to search; the best fit so far is kept.")
    ] = 300.0,
    trials: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many trials (default: no limit).")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, max=2**63 - 1, help="Base random seed.")] = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder to write calibrated.toml, fit.csv, fit.png; must not exist or be empty"
            " (default: runs/<scenario>-calibrated-<N>-seed<S>-<timestamp>)."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Override a scenario field before fitting, e.g. time.end=2017-12-31.",
        ),
    ] = None,
    targets: Annotated[
        Path | None,
        typer.Option(
            "--targets",
            metavar="FILE.csv",
            help="Published figures: date,series,value,unit,status,source (docs/validation.md);"
            " default: the scenario's own \\[\\[published]] figures.",
        ),
    ] = None,
    cluster: ClusterOption = None,
) -> None:
    """Fit scenario fields to published figures; write the calibrated scenario and the fit."""
    from . import calibrate as calibration

    try:
        sc = load_scenario(scenario, set_ or None)
        goal, params, _ = calibration.prepare(  # every check, before any work
            sc,
            targets,
            fit,
            n_agents=agents,
            replicates=replicates,
            budget=budget,
            trials=trials,
            seed=seed,
            local=cluster is None,
        )
    except (ScenarioError, calibration.CalibrationError, NotEnoughMemory, ValueError) as exc:
        _fail(exc)
    if out is None:
        out = _default_out(f"{sc.meta.name}-calibrated", agents, seed)
    _check_out(out)

    with (
        _stoppable(),
        _connect(cluster, sum(estimate_memory(sc, agents).values())) as client,
        _reserve(out) as slot,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=_err(),
        ) as bar,
    ):
        bar.console.print(
            f"fitting {len(params)} parameter(s) to {len(goal)} figures: {agents:,} agents,"
            f" {replicates} replicate(s) a trial, budget {budget:,.0f} s",
            style="dim",
            highlight=False,
            markup=False,
        )
        task = bar.add_task("first trial (compiles kernels on first use)", total=trials or budget)

        def progress(n: int, seconds: float, best: float) -> None:
            bar.update(
                task,
                completed=n if trials else min(seconds, budget),
                description=f"trial {n}: best error {best:.4g}"
                f" (rms log error {math.sqrt(best):.1%})",
            )

        result = calibration.calibrate(
            sc,
            targets,
            fit,
            n_agents=agents,
            replicates=replicates,
            budget=budget,
            trials=trials,
            seed=seed,
            progress=progress,
            cluster=client,
        )
        bar.update(task, description="writing the results")
        try:
            path = result.save(slot)
        except (FileExistsError, OutputError) as exc:
            _fail(exc)

    source = targets.name if targets is not None else result.targets_file
    table = Table(title=escape(f"{sc.meta.name}: fit to {source}"))
    for col in (
        "date",
        "series",
        "published",
        "simulated",
        "error",
        f"within {calibration.TOLERANCE:.0%}",
    ):
        table.add_column(col, justify="left" if col in ("date", "series") else "right")
    for r in result.table.itertuples(index=False):
        good = abs(r.relative_error) <= calibration.TOLERANCE
        table.add_row(
            str(r.date),
            escape(r.series),
            f"{r.target:,.0f}",
            f"{r.simulated:,.0f}",
            f"{r.relative_error:+.1%}",
            "yes" if good else "[red]NO[/red]",
        )
    console = _out()
    console.print(table)
    for line in result.fitted_lines():
        console.print(f"fitted: {line}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"error (mean squared log error) {result.start_objective:.4g} at the start, "
        f"{result.objective:.4g} fitted; {result.trials} trials in {result.seconds:,.0f} s "
        f"(stopped: {result.stopped})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        result.verdict(),
        style="green" if result.ok else "bold red",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"results written to {path}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def dashboard(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to serve on (0: any free).")
    ] = 5006,
    runs: Annotated[
        Path, typer.Option(help="The runs folder: the page reads and writes only inside it.")
    ] = Path("runs"),
    host: Annotated[
        str,
        typer.Option(help="Address to serve on; anything but 127.0.0.1 lets other machines in."),
    ] = "127.0.0.1",
) -> None:
    """Open the dashboard: a local web page to edit a scenario's levers, run it, read and compare
    the results and people's stories (docs/dashboard.md). Ctrl-C stops it (exit 0)."""
    try:
        from .dashboard import serve
    except ImportError as exc:
        _fail(f"the dashboard needs Panel: python -m pip install -e . ({exc})")
    if host not in ("127.0.0.1", "localhost"):
        _err().print(
            f"warning: serving on {host}: anybody who can reach it can run simulations here and"
            " delete run folders under the runs folder",
            style="yellow",
            markup=False,
            soft_wrap=True,
        )

    def ready(url: str) -> None:
        _out().print(f"dashboard: {url} (Ctrl-C stops it)", markup=False, highlight=False)

    try:
        serve(runs, port=port, host=host, ready=ready)
    except Terminated:
        _fail("dashboard stopped (terminated)", code=128 + signal.SIGTERM)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how the dashboard is meant to stop
    except OSError as exc:
        _fail(f"--port {port}: cannot serve: {exc.strerror or exc}")
    _err().print("dashboard stopped", markup=False, highlight=False)


def main() -> None:
    """Entry point of the ``socialcreditsim`` console script."""
    _signalled.clear()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    try:
        app(prog_name="socialcreditsim")
    except SystemExit as exc:
        if not _signalled or exc.code not in STOPPED:
            raise
        # stopped by a signal, everything cleaned up on the way: exit with the command's code
        # now. CPython (3.11, 3.12) marks a KeyboardInterrupt that went through exec() as
        # unhandled, even once caught (SciPy's import runs exec, under Numba's first load of
        # the kernels), and would end the process by SIGINT instead, even after a SIGTERM
        release_before_exit()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exc.code)


if __name__ == "__main__":
    main()
