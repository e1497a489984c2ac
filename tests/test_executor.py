"""Executors (executor.py): local processes and a Dask cluster give the same results in the
same order; a worker killed mid-run changes nothing; a cluster that cannot be used says why.

One LocalCluster of two single-threaded worker processes serves every test; runs are small
(national, 5,000 to 20,000 agents, two months unless a test needs longer jobs)."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import _ExecutorManagerThread
from pathlib import Path

import cloudpickle
import distributed
import pandas as pd
import pytest
from typer.testing import CliRunner

import socialcreditsim as scs
from socialcreditsim import executor as ex
from socialcreditsim.cli import app
from socialcreditsim.replicates import Job, run_jobs

SHORT = ["time.end=2018-02-28"]
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Dask workers run _late below


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


def _late(x: int) -> int:
    """Later items finish first: results come back in the reverse order of the items."""
    time.sleep(0.5 * (3 - x))
    return x * x


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.equals(b)


@pytest.mark.parametrize("where", ["local", "dask"])
def test_results_come_in_item_order(where: str, client: distributed.Client) -> None:
    seen: list[tuple[int, int]] = []
    with ex.LocalExecutor(2) if where == "local" else ex.DaskExecutor(client) as pool:
        assert pool.workers == 2 and pool.threads == 1
        out = pool.map(_late, range(4), lambda done, total: seen.append((done, total)))
    assert out == [0, 1, 4, 9]
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def _loaded(module: str) -> bool:
    return module in sys.modules


def test_preloaded_workers_start_with_their_modules_imported() -> None:
    """The report's figures are drawn in such workers: forked from a server that imported
    Matplotlib once, they do not each spend a second or two importing it."""
    with ex.LocalExecutor(2, preload=["matplotlib.pyplot"]) as pool:
        assert pool.map(_loaded, ["matplotlib.pyplot"] * 2) == [True, True]
    with ex.LocalExecutor(2) as pool:  # spawned: what the task's module imports, no more
        assert pool.map(_loaded, ["matplotlib.pyplot"] * 2) == [False, False]


def _fail_or_wait(x: int, folder: str) -> int:
    """Item 0 fails once item 1 is under way, which would wait a minute."""
    if x == 0:
        while not os.listdir(folder):
            time.sleep(0.01)
        raise ValueError("task failed")
    Path(folder, str(os.getpid())).touch()
    time.sleep(60)
    Path(folder, "finished").touch()
    return x


def test_a_failed_task_stops_the_workers_before_its_error_is_raised(tmp_path: Path) -> None:
    """A task's error (or Ctrl-C) terminates the other workers and comes up once the pool's
    thread has reaped them and released the pool's semaphores: a command that exits at once
    after it cut that thread short, and the resource tracker warned of a leaked semaphore."""
    with pytest.raises(ValueError, match="task failed"), ex.LocalExecutor(2) as pool:
        pool.map(functools.partial(_fail_or_wait, folder=str(tmp_path)), range(2))
    assert not any(isinstance(t, _ExecutorManagerThread) for t in threading.enumerate())
    (pid,) = (int(f.name) for f in tmp_path.iterdir())  # and not "finished"
    with pytest.raises(ProcessLookupError):  # ended and reaped
        os.kill(pid, 0)


def _stepping(x: int, tell: Callable[[int, int], None]) -> int:
    """Three steps of 0.4 s, each reported as it is done."""
    for step in (1, 2, 3):
        time.sleep(0.4)
        tell(step, 3)
    return -x


@pytest.mark.parametrize("where", ["in process", "local", "dask"])
def test_items_report_their_steps(where: str, client: distributed.Client) -> None:
    """With ``steps``, progress follows the steps the items report (the mean over items, never
    going back), not only the items finished: a run split into shards shows its days."""
    seen: list[tuple[int, int]] = []
    pools = {"in process": lambda: ex.LocalExecutor(1), "local": lambda: ex.LocalExecutor(2),
             "dask": lambda: ex.DaskExecutor(client)}  # fmt: skip
    with pools[where]() as pool:
        out = pool.map(_stepping, range(2), lambda d, t: seen.append((d, t)), steps=3)
    assert out == [0, -1]
    # each step reported adds 1 to the steps of both items together, so their mean passes 1,
    # 2 and 3 (with the items only, it would jump to 3 or from 1 to 3)
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_replicates_on_a_cluster_equal_local_runs(
    client: distributed.Client, tmp_path: Path
) -> None:
    def multi(**kw: object) -> scs.MultiSim:
        return scs.MultiSim(
            "national", n_agents=20_000, seed=5, replicates=3, overrides=SHORT, **kw
        )

    here = multi(processes=1).run().save(tmp_path / "here")
    there = multi(cluster=client).run().save(tmp_path / "there")
    files = sorted(p.name for p in here.glob("*.parquet"))
    assert "replicates.parquet" in files and "timeseries.parquet" in files
    assert files == sorted(p.name for p in there.glob("*.parquet"))
    for name in files:
        _frames_equal(pd.read_parquet(here / name), pd.read_parquet(there / name))
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    seeds = pd.read_parquet(there / "replicates.parquet").groupby("replicate")["seed"].first()
    assert list(seeds) == [5, 6, 7]  # in seed order, whatever order they finished in


def test_a_sweep_on_a_cluster_equals_the_local_one(client: distributed.Client) -> None:
    def sweep(**kw: object) -> scs.SweepResults:
        return scs.Sweep(
            "national",
            ["surveillance.fpir=0.0001:0.003:3"],
            n_agents=10_000,
            replicates=1,
            overrides=SHORT,
            **kw,
        ).run()

    here, there = sweep(processes=1), sweep(cluster=client)
    _frames_equal(here.points, there.points)
    _frames_equal(here.outputs, there.outputs)
    _frames_equal(here.summary(), there.summary())
    assert here.table()["point"].tolist() == [0, 1, 2]


def test_an_unreachable_scheduler_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ex, "CONNECT_TIMEOUT", 2.0)  # 10 s by default
    began = time.perf_counter()
    with pytest.raises(ex.ClusterError, match=r"cannot reach the Dask scheduler at tcp://127"):
        ex.executor_for("tcp://127.0.0.1:1")
    assert time.perf_counter() - began < 2.0 + 3
    with pytest.raises(ex.ClusterError, match="is not local:N, a scheduler address"):
        ex.executor_for("no-such-scheduler-file.json")
    with pytest.raises(ex.ClusterError, match="N must be from 1 to 1,024"):
        ex.executor_for("local:0")


def test_cli_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``run --replicates 2 --cluster local:2`` writes what the same run writes locally and
    prints the dashboard link; a scheduler out of reach exits with code 2 and one red line."""
    runner = CliRunner()
    args = ["run", "national", "-n", "5000", "--end", "2018-02-28", "--replicates", "2"]
    args += ["--no-report"]
    there = runner.invoke(app, [*args, "--out", str(tmp_path / "there"), "--cluster", "local:2"])
    assert there.exit_code == 0, there.output
    assert "Dask dashboard: http://127.0.0.1:" in there.stderr
    here = runner.invoke(app, [*args, "--out", str(tmp_path / "here"), "--quiet"])
    assert here.exit_code == 0, here.output
    for name in ("replicates.parquet", "outputs.parquet", "timeseries.parquet"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes()

    monkeypatch.setattr(ex, "CONNECT_TIMEOUT", 2.0)
    away = runner.invoke(
        app, [*args, "--out", str(tmp_path / "x"), "--cluster", "tcp://127.0.0.1:1"]
    )
    assert away.exit_code == 2
    assert away.stderr.startswith("--cluster: cannot reach the Dask scheduler at tcp://127.0.0.1:1")
    assert away.stderr.count("\n") == 1 and not (tmp_path / "x").exists()


def test_without_dask_the_message_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    with pytest.raises(ex.ClusterError, match=r"pip install .*\[cluster\]"):
        ex.executor_for("local:2")
    result = CliRunner().invoke(
        app,
        ["compare", "national", "--variant", "surveillance.fpir=0.001", "-n", "5000",
         "--replicates", "2", "--out", str(tmp_path / "c"), "--cluster", "local:2"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "[cluster]" in result.stderr and result.stderr.count("\n") == 1


def test_a_worker_killed_mid_run_changes_nothing(client: distributed.Client) -> None:
    """Kill one worker process while it runs a job: Dask runs the job again elsewhere, and
    the results are those of local runs (every job is a pure function of its arguments)."""
    sc = scs.load_scenario("national", ["time.end=2019-12-31"])  # about two seconds a job
    jobs = [Job(sc, 20_000, seed) for seed in range(4)]
    pids = client.run(os.getpid)
    killed: list[tuple[int, int, int]] = []  # (jobs done, of all jobs, the pid killed)

    def kill_once(done: int, total: int) -> None:
        if killed:
            return
        busy = [addr for addr, keys in client.processing().items() if keys]
        assert busy, "no worker is running a job"
        os.kill(pids[busy[0]], signal.SIGKILL)
        killed.append((done, total, pids[busy[0]]))

    there = run_jobs(jobs, progress=kill_once, cluster=client)
    done, total, pid = killed[0]
    assert done < total  # the kill came before the jobs finished
    assert pid not in client.run(os.getpid).values()  # that worker process is gone
    here = run_jobs(jobs, processes=1)
    assert [r.seed for r in there] == [0, 1, 2, 3]
    for a, b in zip(here, there, strict=True):
        _frames_equal(a.national, b.national)
        pd.testing.assert_series_equal(a.outputs, b.outputs, check_exact=True)


# ------------------------------------------------------------------------------ one run, sharded

SHARDED = ["time.end=2018-03-31", "population.locality_size=2048", "output.audit_sample=2000"]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    res = scs.Sim("national", n_agents=40_000, seed=5, overrides=SHARDED).run()
    return _parquet_bytes(res, tmp_path_factory.mktemp("one") / "run")


def _parquet_bytes(res: scs.Results, folder: Path) -> dict[str, bytes]:
    res.save(folder)
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.parquet"))}


@pytest.mark.parametrize("shards", [None, 1, 3])
def test_a_run_sharded_over_workers_gives_the_same_bytes(
    shards: int | None, client: distributed.Client, one_process: dict[str, bytes], tmp_path: Path
) -> None:
    """Localities split over the two workers (None: one shard a worker), into one shard or
    into more shards than workers: the Parquet files of one process, byte for byte."""
    sim = scs.Sim("national", n_agents=40_000, seed=5, overrides=SHARDED)
    seen: list[tuple[int, int]] = []
    res = sim.run(
        progress=lambda *done_total: seen.append(done_total), cluster=client, shards=shards
    )
    days = [d for d, _ in seen]
    assert {t for _, t in seen} == {90} and days == sorted(set(days)) and days[-1] == 90
    assert len(days) > 10  # progress by simulated day, not by shard
    assert res.manifest["timings"].get("shards", 1) == (shards or 2)
    assert sim.state is None
    assert _parquet_bytes(res, tmp_path / "run") == one_process


def test_cli_run_on_a_local_cluster_gives_the_same_bytes(
    one_process: dict[str, bytes], tmp_path: Path
) -> None:
    """In a fresh process, where no Dask client exists but the one --cluster starts."""
    sets = [arg for s in SHARDED for arg in ("--set", s)]
    done = subprocess.run(
        [sys.executable, "-m", "socialcreditsim", "run", "national", "--agents", "40000",
         "--seed", "5", *sets, "--cluster", "local:2", "--no-report", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Dask dashboard: http" in done.stderr
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "r").glob("*.parquet"))} == (
        one_process
    )


def test_a_worker_killed_during_a_sharded_run_changes_nothing(
    client: distributed.Client, tmp_path: Path
) -> None:
    """Kill a worker while it runs a shard: Dask runs the shard again, and the run's bytes are
    those of one process."""
    year = [*SHARDED, "time.end=2018-12-31"]
    alone = scs.Sim("national", n_agents=40_000, seed=6, overrides=year).run()
    pids = client.run(os.getpid)
    killed: list[tuple[int, int]] = []  # (shards done, of all shards)

    def kill_once(done: int, total: int) -> None:
        busy = [addr for addr, keys in client.processing().items() if keys]
        if not killed and busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append((done, total))

    sim = scs.Sim("national", n_agents=40_000, seed=6, overrides=year)
    res = sim.run(progress=kill_once, cluster=client, shards=4)
    assert killed and killed[0][0] < killed[0][1]  # the kill came before the shards finished
    assert _parquet_bytes(res, tmp_path / "a") == _parquet_bytes(alone, tmp_path / "b")


def _in_group(pgid: int, word: bytes) -> bool:
    """Whether a process of the group has ``word`` in its command line."""
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and os.getpgid(int(proc.name)) == pgid:
                if word in (proc / "cmdline").read_bytes():
                    return True
        except (OSError, ProcessLookupError):
            continue
    return False


def _ctrl_c_when(proc: subprocess.Popen[str], word: bytes, wait: float) -> str:
    """Ctrl-C to the command's process group ``wait`` seconds after a process with ``word`` in
    its command line appears; the command's error output, once every process of the group
    has ended."""
    t0 = time.monotonic()
    while not _in_group(proc.pid, word):
        assert proc.poll() is None and time.monotonic() - t0 < 60, proc.stderr.read()
        time.sleep(0.01)
    time.sleep(wait)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    t0 = time.monotonic()
    while True:  # every process of the group ends
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() - t0 < 10, "processes outlived the command"
        time.sleep(0.05)
    return err


def test_ctrl_c_while_the_report_workers_get_ready_is_one_message(tmp_path: Path) -> None:
    """Ctrl-C in a terminal reaches the whole process group, the report's forkserver too, which
    is importing Matplotlib for the first seconds of a run (``start_preloaded``): the command
    alone acts on it, says so once, and leaves no process behind."""
    temporary = set(Path(tempfile.gettempdir()).iterdir())
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialcreditsim", "run", "national", "--agents", "1000000",
         "--end", "2018-12-31", "-q", "--out", str(tmp_path / "run")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    err = _ctrl_c_when(proc, b"forkserver", 0.5)  # well into its imports (about two seconds)
    assert proc.returncode == 130, err
    assert "interrupted; nothing was written" in err
    assert "Traceback" not in err, err
    # and no temporary folder (it held the forkserver's socket)
    assert set(Path(tempfile.gettempdir()).iterdir()) == temporary


def test_ctrl_c_while_replicates_start_is_one_message(tmp_path: Path) -> None:
    """The same for replicates, whose workers are spawned and import the engine for their first
    second (``LocalExecutor``): they start with Ctrl-C blocked, and the command stops them and
    releases what their pool held."""
    temporary = set(Path(tempfile.gettempdir()).iterdir())
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialcreditsim", "run", "national", "--agents", "200000",
         "--end", "2018-03-31", "--replicates", "2", "--no-report", "--out", str(tmp_path / "r")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    err = _ctrl_c_when(proc, b"multiprocessing.spawn", 0.2)  # a worker is importing
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "leaked" not in err, err  # the pool's semaphores are released on the way out
    assert set(Path(tempfile.gettempdir()).iterdir()) == temporary
