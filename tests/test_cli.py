"""The command line, driven through Typer's test runner on tiny, fast runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from socialcreditsim import Results, engine, load_scenario, memory
from socialcreditsim.cli import app

TINY = ["--agents", "20000", "--end", "2018-03-31", "--threads", "1", "--seed", "3"]
FILES = {
    "timeseries.parquet",
    "snapshots.parquet",
    "audit.parquet",
    "people.parquet",
    "manifest.json",
    "scenario.toml",
}
REPORT = {"report.html", "figures"}
ENV = {"COLUMNS": "200"}  # wide tables, so rows are not wrapped in the captured output


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), env=ENV)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cli") / "run"
    result = invoke("run", "national", *TINY, "--out", str(out))
    assert result.exit_code == 0, result.output
    return out, result.stdout


def test_run_writes_folder_and_prints_headline(run_dir: tuple[Path, str]) -> None:
    out, stdout = run_dir
    assert {p.name for p in out.iterdir()} == FILES | REPORT
    assert "report:" in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["n_agents"], manifest["seed"], manifest["end"]) == (20000, 3, "2018-03-31")
    assert "headline figures" in stdout
    assert "court list: people listed (now)" in stdout
    assert "wrongful share" in stdout
    assert str(out) in stdout
    # values are scaled to the population and printed with thousands separators
    assert any("," in line and "recorded events" in line for line in stdout.splitlines())


def test_run_default_out_and_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("run", *TINY, "--end", "2018-01-10", "--quiet")
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("national-20000-seed3-")
    assert {p.name for p in folder.iterdir()} == FILES | REPORT
    assert result.stdout.strip() == str(Path("runs") / folder.name)


def test_a_quiet_run_builds_no_summary_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_shown(self: Results) -> None:
        raise AssertionError("a quiet run computed a table it does not print")

    monkeypatch.setattr(Results, "headline", not_shown)
    monkeypatch.setattr(Results, "sanctions", not_shown)
    out = tmp_path / "run"
    result = invoke(
        "run", *TINY, "--end", "2018-01-10", "--quiet", "--no-report", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)


def test_a_run_that_writes_its_folder_never_imports_pandas(tmp_path: Path) -> None:
    """``run --quiet --no-report`` builds its tables in Arrow and writes them as they are:
    pandas (half a second to import) is for reading them. Fails as soon as a module the run
    imports imports pandas at its top, or a table is built as a DataFrame."""
    out = tmp_path / "run"
    argv = ["socialcreditsim", "run", *TINY, "--end", "2018-01-10", "-q", "--no-report"]
    code = (
        "import sys\n"
        f"sys.argv = {argv + ['--out', str(out)]!r}\n"
        "from socialcreditsim.__main__ import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in sys.modules if m == 'pandas' or m.startswith('pandas.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
    assert {p.name for p in out.iterdir()} == FILES
    assert len(Results.load(out).timeseries) > 0


def test_run_refuses_nonempty_out(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = invoke("run", *TINY, "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "not empty" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_scenarios_lists_national() -> None:
    result = invoke("scenarios")
    assert result.exit_code == 0, result.output
    assert "national" in result.stdout
    assert "CBS News" in result.stdout


def test_show_prints_loadable_toml(tmp_path: Path) -> None:
    result = invoke("show", "national", "--set", "score.start=900")
    assert result.exit_code == 0, result.output
    path = tmp_path / "mine.toml"
    path.write_text(result.stdout)
    sc = load_scenario(path)
    assert sc.score.start == 900
    assert sc.model_dump() == load_scenario("national", ["score.start=900"]).model_dump()


def test_bad_set_exits_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("run", *TINY, "--set", "score.nope=1", "--out", "out")
    assert result.exit_code == 2
    assert "score.nope" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_bad_set_on_show_exits_2() -> None:
    result = invoke("show", "national", "--set", "behaviours.nobody.rate=1")
    assert result.exit_code == 2
    assert "nobody" in result.output


def test_malformed_scenario_file_names_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text('[meta]\nname = "bad"\n\n[score]\nstart = 1000\nbogus = 3\n')
    result = invoke("run", str(bad), *TINY)
    assert result.exit_code == 2
    assert str(bad) in result.output
    assert "score.bogus" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["bad.toml"]


def test_start_after_end_names_the_options() -> None:
    result = invoke("run", "--start", "2021-01-01", "--dry-run")
    assert result.exit_code == 2
    assert "--start/--end" in result.output


def test_dry_run_prints_estimate_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    result = invoke("run", *TINY, "--dry-run", "--out", str(out))
    assert result.exit_code == 0, result.output
    for part in ("state", "calendar", "snapshot", "runtime", "total", "GiB"):
        assert part in result.stdout
    assert "20,000" in result.stdout and "1,411,778,724" in result.stdout
    assert "time.end=2018-03-31" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_run_too_big_for_memory_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "available_memory", lambda: 2**20)
    out = tmp_path / "out"
    result = invoke("run", *TINY, "--out", str(out))
    assert result.exit_code == 2
    assert "GiB" in result.output
    assert not out.exists()


def test_interrupt_exits_130_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self, progress=None, **_):  # noqa: ANN001, ANN003, ANN202
        progress(1, 90)
        raise KeyboardInterrupt

    monkeypatch.setattr(engine.Sim, "run", interrupted)
    out = tmp_path / "out"
    result = invoke("run", *TINY, "--out", str(out))
    assert result.exit_code == 130
    assert "interrupted; nothing was written" in result.output
    assert list(tmp_path.iterdir()) == []


# ``python -m`` on a module that replaces Sim.run by ``{body}`` (``run`` is the real one) and
# runs the command: a signal's path through libraries, which the test runner's process cannot
# show. (With -m, CPython ends by SIGINT where it marked a KeyboardInterrupt unhandled.)
SIGNALLED = """
import os, signal, sys
from socialcreditsim import cli, engine
run = engine.Sim.run
def patched(self, progress=None, **kw):
    {body}
engine.Sim.run = patched
sys.argv = ["socialcreditsim", *sys.argv[1:]]
cli.main()
"""
SIGINT_SELF = "os.kill(os.getpid(), signal.SIGINT)"


@pytest.mark.parametrize(
    "body",
    [
        # a library that catches the KeyboardInterrupt and goes on (Numba's first load of the
        # kernels did): the run ends, but its folder is not put in place
        f"try:\n        {SIGINT_SELF}\n    except KeyboardInterrupt:\n        pass\n"
        "    return run(self, progress=progress, **kw)",
        # a KeyboardInterrupt raised inside exec() (SciPy's import, under Numba's): CPython then
        # ends the process by SIGINT (-2) unless the command exits on its own
        f"exec({SIGINT_SELF + '; import time; time.sleep(60)'!r})",
    ],
    ids=["swallowed by a library", "through exec"],
)
def test_ctrl_c_exits_130_and_writes_nothing_whatever_the_libraries_do(
    tmp_path: Path, body: str
) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "signalled.py").write_text(SIGNALLED.format(body=body))
    out = tmp_path / "runs" / "out"
    done = subprocess.run(
        [sys.executable, "-m", "signalled", "run", *TINY, "--no-report", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path / "code",
    )
    assert done.returncode == 130, done.stderr
    assert "interrupted; nothing was written" in done.stderr
    assert list(out.parent.iterdir()) == []


def test_explain_person_prints_story(run_dir: tuple[Path, str]) -> None:
    out, _ = run_dir
    audit = pd.read_parquet(out / "audit.parquet")
    people = pd.read_parquet(out / "people.parquet")
    person = int(audit["person"].value_counts().index[0])
    assert person in set(people["person"])
    result = invoke("explain", str(out), str(person))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Person {person}:")
    assert len(result.stdout.splitlines()) > 2


def test_explain_without_id_lists_people(run_dir: tuple[Path, str]) -> None:
    out, _ = run_dir
    audit = pd.read_parquet(out / "audit.parquet")
    top = audit["person"].value_counts()
    result = invoke("explain", str(out))
    assert result.exit_code == 0, result.output
    assert "records" in result.stdout and "anything wrongful" in result.stdout
    assert f" {top.index[0]} " in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 10


def test_explain_unknown_person_and_not_a_run(run_dir: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = run_dir
    result = invoke("explain", str(out), "999999999")
    assert result.exit_code == 2
    assert "999999999" in result.output and "not in this run" in result.output
    result = invoke("explain", str(tmp_path))
    assert result.exit_code == 2
    assert "not a run folder" in result.output


def test_query_returns_rows(run_dir: tuple[Path, str]) -> None:
    out, _ = run_dir
    sql = "select region, count(*) as n from people group by region order by n desc"
    result = invoke("query", str(out), sql)
    assert result.exit_code == 0, result.output
    assert "region" in result.stdout and "Guangdong" in result.stdout


def test_query_limits_rows_and_csv(run_dir: tuple[Path, str]) -> None:
    out, _ = run_dir
    sql = "select person, region from people order by person"
    n = len(pd.read_parquet(out / "people.parquet"))
    result = invoke("query", str(out), sql)
    assert result.exit_code == 0, result.output
    assert "showing the first 50 rows; use --csv" in result.stdout
    result = invoke("query", str(out), sql, "--csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "person,region" and len(lines) == n + 1


def test_query_error_exits_2(run_dir: tuple[Path, str]) -> None:
    out, _ = run_dir
    result = invoke("query", str(out), "select * from nowhere")
    assert result.exit_code == 2
    assert "nowhere" in result.output


@pytest.mark.parametrize(
    "sql",
    [
        "select * from read_csv('/etc/passwd')",
        "copy people to '{tmp}/copy.csv'",
        "attach '{tmp}/new.db'",
        "install httpfs",
        "load httpfs",
        "set enable_external_access = true",
        "select * from glob('/*')",
        "export database '{tmp}/export'",
    ],
)
def test_query_reaches_nothing_outside_the_run(
    run_dir: tuple[Path, str], tmp_path: Path, sql: str
) -> None:
    out, _ = run_dir
    result = invoke("query", str(out), sql.format(tmp=tmp_path))
    assert result.exit_code == 2, result.output
    assert "query failed" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sql", ["", "  ;  ", "/* only a comment */"])
def test_query_without_a_statement_says_so(run_dir: tuple[Path, str], sql: str) -> None:
    result = invoke("query", str(run_dir[0]), sql)
    assert result.exit_code == 2 and "query failed: the SQL" in result.stderr


def test_query_fetches_only_the_rows_it_shows(run_dir: tuple[Path, str]) -> None:
    """Ten billion rows would not fit in memory: only the first batch is fetched."""
    result = invoke("query", str(run_dir[0]), "select * from range(10000000000)")
    assert result.exit_code == 0, result.output
    assert "showing the first 50 rows" in result.stdout


def test_python_dash_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "socialcreditsim", "scenarios"],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "national" in result.stdout


STUDY = ["--agents", "5000", "--seed", "2", "--set", "time.end=2018-02-28"]


def test_run_replicates_prints_bands_and_writes_them(tmp_path: Path) -> None:
    out = tmp_path / "reps"
    result = invoke(
        "run", *TINY, "--end", "2018-01-31", "--replicates", "3", "--band", "25:75",
        "--no-report", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "25th to 75th percentile" in result.stdout
    assert FILES | {
        "replicates.parquet",
        "outputs.parquet",
        "bands.parquet",
        "summary.parquet",
    } == {p.name for p in out.iterdir()}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replicates"] == {"seeds": [3, 4, 5], "band": [25.0, 75.0]}


def test_compare_prints_differences_and_writes_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = invoke(
        "compare", "national", "--variant", "surveillance.fpir=0", "--replicates", "2",
        *STUDY, "--no-report", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "surveillance.fpir=0 against national" in result.stdout
    assert "wrongly recorded events" in result.stdout
    assert {"series.parquet", "differences.parquet", "arm1.toml", "arm2.toml"} <= {
        p.name for p in out.iterdir()
    }


def test_sweep_prints_points_and_writes_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    result = invoke(
        "sweep", "national", "--vary", "surveillance.fpir=0.001:0.05:2", "--output",
        "events_recorded/wrongful", "--replicates", "1", *STUDY, "--no-report", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "surveillance.fpir" in result.stdout and "0.05" in result.stdout
    assert pd.read_parquet(out / "points.parquet")["surveillance.fpir"].tolist() == [0.001, 0.05]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "national"], "needs two arms"),
        (["compare", "national", "--variant", "score.strat=1"], "--variant score.strat"),
        (["sweep", "national", "--vary", "score.start=1:2"], "expected key=lo:hi:n"),
        (["sweep", "national", "--vary", "score.start=900:1000:2", "--output", "x"], "'x'"),
        (["run", "--replicates", "2", "--band", "90:10"], "--band 90:10"),
        (["compare", "national", "--variant", "behaviours.jaywalking.rate=nan"], "NaN"),
        (["compare", "national", "--variant", "blacklist.enabled=yes"], "'yes'"),
        (["sweep", "national", "--vary", "score.start=900:1000:10000000"], "at most 1,000"),
        (
            [
                "sweep",
                "national",
                "--vary",
                "score.start=900:1000:1000",
                "--vary",
                "score.max=1100:2000:1000",
            ],
            "at most 100,000",
        ),
        (["sweep", "national", "--vary", "score.start=1e20:1e21:3"], "16-bit"),
    ],
)
def test_studies_refuse_bad_input_before_any_run(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    result = invoke(*args, "--out", str(out))
    assert result.exit_code == 2
    assert message in result.stderr
    assert not out.exists()


def test_studies_dry_run_says_what_would_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(
        "sweep", "national", "--vary", "surveillance.fpir=0.001:0.05:3", "--replicates", "2",
        *STUDY, "--dry-run", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "6 (2 seeds each)" in result.stdout and "nothing was run" in result.stdout
    assert not out.exists()


def test_run_replicates_honours_threads(tmp_path: Path) -> None:
    """--threads with --replicates is the number of threads of each replicate run."""
    out = tmp_path / "reps"
    result = invoke(
        "run", "--agents", "5000", "--end", "2018-01-31", "--seed", "3", "--replicates", "2",
        "--threads", "2", "--no-report", "--quiet", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["timings"]["threads"] == 2
    assert manifest["replicates"]["seeds"] == [3, 4]


# ------------------------------------------------------------------ bad input (issue 10)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--set", "population.size=1"], ["--agents: expected", "from 1 to 1 ", "population.size"]),
        (["--set", "behaviours.jaywalking.rate=nan"], ["behaviours.jaywalking.rate", "NaN"]),
        (["--set", "blacklist.enabled=yes"], ["blacklist.enabled", "'yes'"]),
        (["--set", "score.start=true"], ["score.start", "True"]),
        (["--set", "x=" + "[" * 100_000], ["--set x", "nested more than"]),
        (["--start", "1900-01-01"], ["--start/--end", "30,000 days"]),
        (["--seed", "-1"], ["--seed"]),
        (["--agents", "2.5"], ["--agents"]),
        (["--threads", "0"], ["--threads"]),
    ],
)
def test_bad_options_exit_2_with_one_message_and_write_nothing(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    out = tmp_path / "out"
    result = invoke("run", "national", *TINY[:2], *args, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for frag in fragments:
        assert frag in result.output, f"{frag!r} not in {result.output!r}"
    assert not out.exists()


def test_default_agents_are_capped_at_the_population() -> None:
    """rongcheng has 700,000 people: by default it runs 700,000 agents, not a million."""
    result = invoke("run", "rongcheng", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "700,000 standing for 700,000 people" in result.stdout
    result = invoke("run", "rongcheng", "--agents", "700001", "--dry-run")
    assert result.exit_code == 2
    assert "--agents: expected a whole number from 1 to 700,000" in result.output


def test_bad_deep_scenario_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 100_000 + "]" * 100_000)
    result = invoke("run", str(path), "--dry-run")
    assert result.exit_code == 2
    assert f"{path}: nested more than" in result.output
    assert "Traceback" not in result.output


def test_scenario_without_behaviours_is_shown_but_not_run(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("")
    assert invoke("show", str(path)).exit_code == 0
    result = invoke("run", str(path), "--dry-run")
    assert result.exit_code == 2
    assert "behaviours: a run needs at least one" in result.output


def test_dry_run_on_a_cluster_shows_memory_per_worker() -> None:
    """A run split over the workers: each holds its share of the people, and the runtime and
    the daily series whole."""
    result = invoke("run", "--agents", "100000000", "--dry-run", "--cluster", "local:4")
    assert result.exit_code == 0, result.output
    assert "per worker, over 4 workers" in result.stdout
    sc = load_scenario("national")
    total = memory.estimate_memory(sc, 100_000_000)
    per = [memory.estimate_shard_memory(sc, 100_000_000, k) for k in (1, 2, 4)]
    assert per[0] == sum(total.values()) > per[1] > per[2] > total["runtime"] + total["time series"]
    result = invoke("run", "--agents", "100000", "--dry-run", "--cluster", "tcp://10.0.0.1:8786")
    assert "per worker, over 16 workers" in result.stdout  # not contacted: a few sizes


def test_the_command_runs_with_the_libraries_frozen_out_of_collections(monkeypatch) -> None:
    import gc

    import socialcreditsim.__main__ as entry
    from socialcreditsim import cli

    seen = {}
    monkeypatch.setattr(
        cli, "main", lambda: seen.update(frozen=gc.get_freeze_count(), on=gc.isenabled())
    )
    try:
        entry.main()
    finally:
        gc.unfreeze()
    # every object alive once the command line is loaded is frozen, and collections go on
    assert seen["frozen"] > 10_000
    assert seen["on"]
