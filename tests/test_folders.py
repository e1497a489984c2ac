"""Output folders under faults (issue 10): a run killed at any point leaves no folder that looks
complete and no temporary folder that the next run does not remove and name; SIGTERM and Ctrl-C
say what happened; two runs cannot both write one folder; an unwritable place or a full disk is
one clear message with nothing left behind; a damaged run folder names the damaged file."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from socialcreditsim import Results
from socialcreditsim.cli import app
from socialcreditsim.folders import (
    MARK,
    DamagedFolder,
    OutputError,
    Reservation,
    atomic_folder,
    read_json,
    read_parquet,
)

RUN = [sys.executable, "-m", "socialcreditsim", "run", "national", "--agents", "20000",
       "--seed", "1", "--end", "2018-03-31", "--threads", "1", "-q"]  # fmt: skip


def env() -> dict[str, str]:
    """The commands' environment, read when each starts (conftest.py sets TMPDIR)."""
    return {**os.environ, "COLUMNS": "200"}


def partials(parent: Path) -> list[Path]:
    return sorted(parent.glob(".*.partial-*"))


def start(out: Path, *extra: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*RUN, *extra, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        **kw,  # type: ignore[arg-type]
    )


def wait_for(check, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < timeout, "timed out waiting"
        time.sleep(0.02)


def complete_or_absent(out: Path, when: str = "") -> bool:
    """True when ``out`` does not exist, False when it is a whole run folder; anything else (a
    folder that looks finished but is not) fails, saying ``when`` it was killed."""
    if not out.exists():
        return True
    try:
        Results.load(out)  # every table and the manifest read back
    except (OSError, ValueError) as exc:
        pytest.fail(f"killed when {when}: {out} exists but is not whole ({exc})")
    assert (out / "report.html").is_file() and not (out / MARK).exists(), when
    return False


# ------------------------------------------------------------------------------ reservations


def test_reservation_holds_the_output_against_a_second_writer(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with Reservation(out) as first:
        (first.tmp / "a.txt").write_text("a")
        # flock locks of two open files conflict even in one process: this is what a second
        # process sees
        with pytest.raises(OutputError, match=f"another run \\(process {os.getpid()}\\)"):
            Reservation(out)
        assert len(partials(tmp_path)) == 1  # the refused one left nothing
    assert (out / "a.txt").read_text() == "a" and not (out / MARK).exists()
    assert partials(tmp_path) == []


def test_dead_writers_folders_are_removed_and_named(tmp_path: Path) -> None:
    dead = Reservation(tmp_path / "x")
    dead._release()  # its process died: the lock is gone, the folder stays
    (tmp_path / ".keep.partial-user").mkdir()  # not ours (no mark): never touched
    live = Reservation(tmp_path / "y")
    assert live.cleaned == [dead.tmp] and not dead.tmp.exists()
    assert (tmp_path / ".keep.partial-user").is_dir()
    assert Reservation(tmp_path / "z").cleaned == []  # a live writer's folder is kept
    live.abort()
    assert not live.tmp.exists()


def test_failure_inside_removes_everything(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        (tmp / "x").write_text("x")
        raise RuntimeError("boom")
    with pytest.raises(OutputError, match="writing failed .*nothing was written"):
        with atomic_folder(out) as tmp:
            raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "where, error, message",
    [
        ("a-file", FileExistsError, "is a file, not a folder"),
        ("a-file/below", OutputError, "is a file, not a folder"),
        ("full/folder", FileExistsError, "already exists and is not empty"),
        ("/proc/scs-out", OutputError, "cannot write in /proc"),
        ("/proc/scs/out", OutputError, "cannot create the folder /proc/scs"),
    ],
)
def test_unwritable_outputs_are_refused_before_any_work(
    tmp_path: Path, where: str, error: type[Exception], message: str
) -> None:
    (tmp_path / "a-file").write_text("")
    (tmp_path / "full" / "folder").mkdir(parents=True)
    (tmp_path / "full" / "folder" / "x").write_text("")
    with pytest.raises(error, match=message):
        Reservation(tmp_path / where)


def test_cli_refuses_an_unwritable_output_before_the_run(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    result = CliRunner().invoke(app, ["run", "--agents", "1000", "--out", "/proc/scs-out"])
    assert result.exit_code == 2 and "--out /proc/scs-out: cannot write in /proc" in result.stderr
    assert time.perf_counter() - t0 < 20  # refused before the population is built


# ------------------------------------------------------------------------------ killed runs


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted run folder, report included."""
    out = tmp_path_factory.mktemp("whole") / "run"
    done = subprocess.run([*RUN, "--out", str(out)], capture_output=True, text=True, env=env())
    assert done.returncode == 0, done.stderr
    return out


def _written(out: Path, file: str) -> bool:
    """Whether ``file`` is written yet, in a temporary folder of ``out`` or in ``out``."""
    folders = [out, *out.parent.glob(f".{out.name}.partial-*")]
    return any((p / file).exists() for p in folders)


# when each kill comes: after a milestone of the run, plus a random delay (seconds)
KILLS = [
    ("the output is reserved (building, days)", MARK, 0.0, 1.5),
    ("tables being written", "timeseries.parquet", 0.0, 0.2),
    ("the report under way", "manifest.json", 0.0, 0.3),
    ("figures being written", "manifest.json", 0.3, 3.0),
]


def test_sigkill_at_random_points_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    """Each killed run leaves no output or a whole one; what it leaves in the parent folder is
    removed by the next run there, which names it."""
    rng = random.Random(10)
    left: list[Path] = []  # temporary folders of the runs killed so far
    stops = 0
    for k, (when, milestone, lo, hi) in enumerate([*KILLS, ("the run is over", MARK, 99, 99)]):
        out = tmp_path / f"run{k}"
        proc = start(out, *(["--end", "2018-01-05"] if k == len(KILLS) else []))
        if k < len(KILLS):
            wait_for(lambda o=out, m=milestone, p=proc: _written(o, m) or p.poll() is not None)
            time.sleep(rng.uniform(lo, hi))
            proc.kill()
        _, err = proc.communicate(timeout=300)
        err = " ".join(err.split())
        for p in left:
            assert f"removed {p}: left by a run that was killed" in err, (when, err)
        stops += complete_or_absent(out, when)
        left = partials(tmp_path)
        assert all(p.name.startswith(f".{out.name}.partial-") for p in left), left
    assert stops == len(KILLS), "each kill should come before the end of its run"
    assert left == []


@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 143, "terminated"),
                                             (signal.SIGINT, 130, "interrupted")])  # fmt: skip
def test_sigterm_and_ctrl_c_say_so_and_leave_nothing(
    tmp_path: Path, sig: int, code: int, word: str
) -> None:
    # the kernels compiled and cached first (a test before may have killed a run while Numba
    # wrote its cache): the signal is to stop a run, not a first-use compile
    warm = subprocess.run([*RUN, "--no-report", "--out", str(tmp_path / "warm")], env=env())
    assert warm.returncode == 0
    shutil.rmtree(tmp_path / "warm")
    out = tmp_path / "run"
    temporary = set(Path(tempfile.gettempdir()).iterdir())
    proc = start(out)
    wait_for(lambda: partials(tmp_path))  # the output is reserved: the run has begun
    time.sleep(1.0)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert f"{word}; nothing was written" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
    # nor in the temporary directory: the report's forkserver kept its socket there
    assert set(Path(tempfile.gettempdir()).iterdir()) == temporary


def test_two_runs_on_one_out_cannot_both_write_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = start(out)  # with the report: it takes a while after the output is reserved
    wait_for(lambda: partials(tmp_path))
    second = subprocess.run(
        [*RUN, "--no-report", "--out", str(out)], capture_output=True, text=True, env=env()
    )
    assert second.returncode == 2
    assert f"--out {out}: another run (process {first.pid}) is writing this folder" in " ".join(
        second.stderr.split()
    )
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert json.loads((out / "manifest.json").read_text())["seed"] == 1
    assert partials(tmp_path) == []


# ------------------------------------------------------------------------------ full disk


def _limit_file_size() -> None:  # in the child: writes past 256 KiB fail with EFBIG
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))


def test_a_file_too_large_to_write_is_one_message_and_nothing_left(tmp_path: Path) -> None:
    """Stands in for a full disk everywhere: the file size limit fails a write the same way."""
    out = tmp_path / "run"
    done = subprocess.run(
        [*RUN, "--end", "2018-01-20", "--out", str(out)],
        capture_output=True, text=True, env=env(), preexec_fn=_limit_file_size,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "File too large" in done.stderr and "nothing was written" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)],
        capture_output=True, text=True,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()}); the file-size"
                    " limit test stands in for a full disk")  # fmt: skip
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_is_one_message_and_nothing_left(small_disk: Path) -> None:
    out = small_disk / "run"
    done = subprocess.run(
        [*RUN, "--end", "2018-01-20", "--out", str(out)], capture_output=True, text=True, env=env()
    )
    assert done.returncode == 2, done.stderr
    assert "No space left on device" in done.stderr and "nothing was written" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(small_disk.iterdir()) == []


# ------------------------------------------------------------------------------ damaged folders


def _damage(folder: Path, how: str) -> str:
    """Damage a copy of a run folder; returns the name of the file the message must name."""
    if how == "manifest not JSON":
        (folder / "manifest.json").write_text("{not json")
        return "manifest.json"
    if how == "manifest not an object":
        (folder / "manifest.json").write_text("[1, 2]")
        return "manifest.json"
    if how == "manifest lacks its scenario":
        m = json.loads((folder / "manifest.json").read_text())
        del m["resolved_scenario"]
        (folder / "manifest.json").write_text(json.dumps(m))
        return "manifest.json"
    if how == "scenario in manifest broken":
        m = json.loads((folder / "manifest.json").read_text())
        m["resolved_scenario"]["score"]["start"] = "high"
        (folder / "manifest.json").write_text(json.dumps(m))
        return "manifest.json"
    table, what = how.split(" ", 1)
    file = folder / f"{table}.parquet"
    if what == "missing":
        file.unlink()
    elif what == "empty":
        file.write_bytes(b"")
    elif what == "truncated":
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    elif what == "wrong table":
        shutil.copy(folder / "people.parquet" if table != "people" else folder / "audit.parquet",
                    file)  # fmt: skip
    return file.name


DAMAGE = [
    "manifest not JSON",
    "manifest not an object",
    "manifest lacks its scenario",
    "scenario in manifest broken",
    *(f"{t} {w}" for t in ("timeseries", "audit", "people") for w in ("missing", "empty",
                                                                     "truncated", "wrong table")),
    "snapshots truncated",
]  # fmt: skip


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_run_folders_name_the_damaged_file(
    tmp_path: Path, whole_run: Path, how: str
) -> None:
    folder = tmp_path / "run"
    shutil.copytree(whole_run, folder)
    person = str(pd.read_parquet(folder / "people.parquet")["person"].iloc[0])
    name = _damage(folder, how)
    for args in (["report", str(folder)], ["explain", str(folder)],
                 ["explain", str(folder), person], ["query", str(folder), "select 1"]):  # fmt: skip
        result = CliRunner().invoke(app, args, env={"COLUMNS": "1000"})
        assert result.exit_code == 2, (args, result.output, result.exception)
        assert str(folder / name) in result.stderr, (args, result.stderr)


def test_readers_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text("{")
    with pytest.raises(DamagedFolder, match="m.json: damaged"):
        read_json(tmp_path, "m.json")
    with pytest.raises(FileNotFoundError, match="t.parquet: missing"):
        read_parquet(tmp_path, "t")
    with pytest.raises(TypeError, match="expected a folder path, got NoneType"):
        Results.load(None)  # type: ignore[arg-type]


def test_report_leftovers_of_a_killed_report_are_removed(tmp_path: Path, whole_run: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(whole_run, folder)
    dead = 2**22 + 1  # above pid_max's default: no such process
    (folder / f".figures-{dead}.partial").mkdir()
    (folder / f".report-{dead}.html.partial").write_text("half")
    before = {p.name for p in (folder / "figures").iterdir()}
    result = CliRunner().invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    assert {p.name for p in (folder / "figures").iterdir()} == before
