"""Checkpoint and resume: a run continued from a checkpoint, in process or after SIGKILL, writes
the same Parquet bytes as a run never interrupted; checkpoints of another run are refused."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import socialcreditsim
from socialcreditsim import Sim
from socialcreditsim import checkpoint as ckpt
from socialcreditsim.cli import app

TABLES = ("audit", "people", "snapshots", "timeseries")
SHORT = ["time.end=2018-03-01"]  # 60 days, snapshots on 3 of them
CLI_RUN = ["national", "--agents", "20000", "--seed", "1", "--end", "2018-06-30", "--threads", "1"]
CLI_RUN += ["-q", "--no-report"]


def parquet_bytes(folder: Path) -> dict[str, bytes]:
    return {t: (folder / f"{t}.parquet").read_bytes() for t in TABLES}


def saved(res: socialcreditsim.Results, folder: Path) -> dict[str, bytes]:
    res.save(folder)
    return parquet_bytes(folder)


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def day29(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], Path]:
    """An uninterrupted run's tables, and a copy of the checkpoint a run with checkpoints every
    10 days wrote after day 29 (before the one of day 39 replaced it)."""
    base = tmp_path_factory.mktemp("ckpt")
    plain = saved(Sim("national", 20_000, 1, SHORT, threads=1).run(), base / "plain")
    keep = base / "day29"
    write = ckpt.save

    def save_and_keep(folder: Path, day: int, arrays: dict, meta: dict) -> Path:
        file = write(folder, day, arrays, meta)
        if day == 29:
            keep.mkdir()
            shutil.copy(file, keep / ckpt.FILE)
        return file

    mp = pytest.MonkeyPatch()
    mp.setattr(ckpt, "save", save_and_keep)
    try:
        every = ckpt.Checkpointing(base / "ck", every=10)
        with_ckpt = saved(
            Sim("national", 20_000, 1, SHORT, threads=1).run(checkpoint=every), base / "b"
        )
    finally:
        mp.undo()
    assert with_ckpt == plain, "writing checkpoints changed the results"
    assert ckpt.read_meta(base / "ck")["day"] == 49  # the last before day 59, the last day
    return plain, keep


def test_resume_in_process_is_byte_identical(
    day29: tuple[dict[str, bytes], Path], tmp_path: Path
) -> None:
    plain, keep = day29
    folder = tmp_path / "ck"
    shutil.copytree(keep, folder)
    days: list[int] = []
    resume = ckpt.Checkpointing(folder, every=10, resume=True)
    sim = Sim("national", 20_000, 1, SHORT, threads=1)
    res = sim.run(progress=lambda done, total: days.append(done), checkpoint=resume)
    assert days[0] == 30 and days[-1] == 60  # the progress continues from the checkpoint
    assert saved(res, tmp_path / "resumed") == plain


def test_a_sharded_run_resumes_split_as_it_was(
    day29: tuple[dict[str, bytes], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run split into 2 shards checkpoints each shard into its own folder; resumed with one
    shard at day 29 and the other at day 49 (as a kill can leave them), it writes the bytes of
    a run never interrupted. The shards run one after the other in this process (as many
    threads as cores: one local worker), so that the checkpoints can be caught as written."""
    plain, _ = day29
    threads = len(os.sched_getaffinity(0))
    folder, keep = tmp_path / "ck", tmp_path / "day29"
    write = ckpt.save

    def save_and_keep(where: Path, day: int, arrays: dict, meta: dict) -> Path:
        file = write(where, day, arrays, meta)
        if day == 29:
            (keep / where.name).mkdir(parents=True)
            shutil.copy(file, keep / where.name / ckpt.FILE)
        return file

    monkeypatch.setattr(ckpt, "save", save_and_keep)
    every = ckpt.Checkpointing(folder, every=10)
    sim = Sim("national", 20_000, 1, SHORT, threads=threads)
    assert saved(sim.run(shards=2, checkpoint=every), tmp_path / "a") == plain
    split = ckpt.read_split(folder)
    assert split is not None and len(split) == 2
    shards = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert shards == sorted(f"localities-{lo}-{hi}" for lo, hi in split)
    assert sorted(p.name for p in keep.iterdir()) == shards
    shutil.copy(keep / shards[0] / ckpt.FILE, folder / shards[0] / ckpt.FILE)  # back to day 29
    meta = ckpt.read_meta(folder)
    assert meta["shards"] == split and meta["day"] in (29, 49)
    days: list[int] = []
    resume = ckpt.Checkpointing(folder, every=10, resume=True)
    sim = Sim("national", 20_000, 1, SHORT, threads=threads)
    res = sim.run(progress=lambda done, total: days.append(done), checkpoint=resume)
    assert res.manifest["timings"]["shards"] == 2  # split as it was, though no shards were asked
    # the first shard goes on from day 30 of 60 (on average 15, then up to 30), the second
    # from day 50 (on average 55)
    assert days[0] == 15 and 30 in days and 31 not in days and 55 in days
    assert days == sorted(days) and days[-1] == 60
    assert saved(res, tmp_path / "resumed") == plain
    with pytest.raises(ckpt.CheckpointError, match="split into 2 shards; resume it with 2"):
        Sim("national", 20_000, 1, SHORT, threads=threads).run(shards=3, checkpoint=resume)


def test_a_checkpoint_of_one_process_resumes_in_one_process(
    day29: tuple[dict[str, bytes], Path],
) -> None:
    _, keep = day29
    resume = ckpt.Checkpointing(keep, resume=True)
    with pytest.raises(ckpt.CheckpointError, match="of a run in one process; resume it in one"):
        Sim("national", 20_000, 1, SHORT, threads=1).run(shards=2, checkpoint=resume)


@pytest.mark.parametrize("split", [[], ["--cluster", "local:2"]], ids=["one process", "cluster"])
def test_resume_after_sigkill_is_byte_identical(split: list[str], tmp_path: Path) -> None:
    """Kill a run (in one process, or split over the two workers of a LocalCluster) at a random
    moment after its first checkpoint, then resume it (on a new LocalCluster)."""
    env = {**os.environ, "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "socialcreditsim", "run"]
    whole = subprocess.run(
        [*cmd, *CLI_RUN, "--out", str(tmp_path / "whole")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "killed"
    folder = ckpt.folder_for(out)
    proc = subprocess.Popen(
        [*cmd, *CLI_RUN, *split, "--checkpoint-every", "10d", "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while (
            not any(folder.glob(f"**/{ckpt.FILE}"))
            and proc.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        assert any(folder.glob(f"**/{ckpt.FILE}")), "no checkpoint appeared"
        time.sleep(random.Random(11).uniform(0.0, 0.8))  # a random day, maybe while writing one
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists(), "the run finished before it was killed; kill it sooner"
    meta = ckpt.read_meta(folder)
    assert meta["day"] >= 9 and (meta["day"] + 1) % 10 == 0
    assert len(meta.get("shards", [0])) == (2 if split else 1)
    resumed = subprocess.run(
        [*cmd, "--resume", str(out), *split, "-q", "--no-report", "--threads", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert parquet_bytes(out) == parquet_bytes(tmp_path / "whole")
    assert not ckpt.folder_for(out).exists()  # removed once the run folder is written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed", "whole"]


@pytest.mark.parametrize(
    ("seed", "overrides", "version", "says"),
    [
        (2, SHORT, None, "its seed is 1, this run's is 2"),
        (1, ["time.end=2018-03-02"], None, "another scenario (it differs in time.end)"),
        (1, SHORT, "9.9", "its socialcreditsim version is"),
    ],
)
def test_checkpoint_of_another_run_is_refused(
    day29: tuple[dict[str, bytes], Path],
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    overrides: list[str],
    version: str | None,
    says: str,
) -> None:
    _, keep = day29
    if version is not None:
        monkeypatch.setattr(socialcreditsim.version, "__version__", version)
    resume = ckpt.Checkpointing(keep, resume=True)
    with pytest.raises(
        ckpt.CheckpointError, match="checkpoint.npz: a checkpoint of another"
    ) as exc:
        Sim("national", 20_000, seed, overrides, threads=1).run(checkpoint=resume)
    assert says in str(exc.value)


def test_resume_of_missing_or_damaged_checkpoint_fails_with_one_line(
    day29: tuple[dict[str, bytes], Path], tmp_path: Path
) -> None:
    result = invoke("run", "--resume", str(tmp_path / "none"))
    file = tmp_path / "none.checkpoint" / ckpt.FILE
    assert result.exit_code == 2
    assert result.output.strip() == f"{file}: missing; there is no checkpoint to resume from"
    _, keep = day29
    damaged = tmp_path / "run.checkpoint"
    damaged.mkdir()
    data = (keep / ckpt.FILE).read_bytes()
    (damaged / ckpt.FILE).write_bytes(data[: len(data) // 2])
    result = invoke("run", "--resume", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith(f"{damaged / ckpt.FILE}: damaged")


def test_resume_refuses_options_that_change_the_run(tmp_path: Path) -> None:
    result = invoke("run", "--resume", str(tmp_path / "run"), "--seed", "1", "--agents", "5")
    assert result.exit_code == 2
    assert "leave out --agents, --seed" in result.output


def test_run_refuses_an_earlier_runs_checkpoint(
    day29: tuple[dict[str, bytes], Path], tmp_path: Path
) -> None:
    _, keep = day29
    shutil.copytree(keep, tmp_path / "run.checkpoint")
    result = invoke("run", *CLI_RUN, "--checkpoint-every", "10", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert f"--resume {tmp_path / 'run'}" in result.output


@pytest.mark.parametrize("every", ["0", "0d", "1.5d", "-3", "30w", "d", "thirty"])
def test_bad_checkpoint_every_is_refused(every: str, tmp_path: Path) -> None:
    result = invoke("run", *CLI_RUN, f"--checkpoint-every={every}", "--out", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert (
        f"--checkpoint-every {every}: expected a whole number of days of at least 1"
        in result.output
    )
    assert not any(tmp_path.iterdir())


def test_checkpoint_every_not_with_replicates() -> None:
    result = invoke("run", *CLI_RUN, "--checkpoint-every", "30d", "--replicates", "2")
    assert result.exit_code == 2
    assert "only a single run can be checkpointed, not --replicates" in result.output


def test_checkpoint_is_written_atomically(tmp_path: Path) -> None:
    arrays = {"a": np.arange(10)}
    ckpt.save(tmp_path, 3, arrays, {"x": 1})
    ckpt.save(tmp_path, 7, arrays, {"x": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [ckpt.FILE]  # no temporary file left
    with np.load(tmp_path / ckpt.FILE) as npz:
        assert '"day": 7' in str(npz["meta"])


def test_checkpoint_that_cannot_be_written_fails_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    ckpt.folder_for(out).write_text("")  # a file where the checkpoint folder would be
    result = invoke("run", *CLI_RUN, "--checkpoint-every", "10", "--out", str(out))
    assert result.exit_code == 2
    file = ckpt.folder_for(out) / ckpt.FILE
    assert result.output.startswith(f"{file}: cannot be written")
    assert len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.checkpoint"]  # nothing else left
