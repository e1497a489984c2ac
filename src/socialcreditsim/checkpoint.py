"""Checkpoints of long runs: the engine's whole state at the end of a day, written atomically,
so that a run that was killed continues from there and writes the same bytes as a run that was
not (every random draw is keyed by seed, locality, day and purpose, so the state after a day and
the day's index are all that the next days need).

A run into ``OUT`` keeps its checkpoint in the visible sibling folder ``OUT.checkpoint/`` (see
:func:`folder_for`), never inside the temporary ``.OUT.partial-*`` folder, which the next run
into the same parent removes (``folders.py``). A run split into shards of localities (in local
processes or on a Dask cluster) keeps its split in ``shards.json`` there and each shard's
checkpoint in a folder of its own, ``localities-LO-HI/``, written by the worker that runs it (on
a cluster the folder must be on a file system the workers share); a resumed run uses the same
split, on any number of workers, and each shard continues from its own last day. A checkpoint
folder holds one file, ``checkpoint.npz``:
uncompressed NumPy arrays (fast to write for gigabytes) and, as the array ``meta``, a JSON
description (package version, resolved scenario, agents, seed, range of localities, day). One
file, so the arrays and their description are replaced together: each checkpoint is written to
a temporary file beside it, synced, then renamed over the previous one (``os.replace``); a kill
while writing leaves the previous checkpoint whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import version
from .folders import json_object
from .scenario import Scenario

__all__ = [
    "CheckpointError",
    "Checkpointing",
    "FILE",
    "folder_for",
    "load",
    "read_meta",
    "read_split",
    "run_meta",
    "save",
    "save_split",
]

FILE = "checkpoint.npz"
SPLIT = "shards.json"  # the ranges of localities of a run split into shards
FORMAT = 2  # the layout of the arrays (2: revisits in chunks); another layout is refused


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged or from another run: the message names the file
    and says what differs."""


@dataclass(frozen=True)
class Checkpointing:
    """How a run checkpoints: into ``folder``, at the end of every ``every`` days (None: never),
    and whether it first continues from the checkpoint there (``resume``)."""

    folder: Path
    every: int | None = None
    resume: bool = False

    def due(self, t: int, n_days: int) -> bool:
        """Whether to checkpoint after day ``t`` (never after the last: the run is then done)."""
        return self.every is not None and (t + 1) % self.every == 0 and t < n_days - 1

    def shard(self, lo: int, hi: int) -> Checkpointing:
        """How the shard of localities ``lo`` to ``hi`` checkpoints: in a folder of its own,
        resuming only where it had written a checkpoint (else it starts from the first day)."""
        folder = self.folder / f"localities-{lo}-{hi}"
        return Checkpointing(folder, self.every, self.resume and (folder / FILE).exists())


def folder_for(out: str | Path) -> Path:
    """The checkpoint folder of a run into ``out``: ``out.checkpoint`` beside it."""
    out = Path(out)
    return out.with_name(out.name + ".checkpoint")


def run_meta(sc: Scenario, n_agents: int, seed: int, lo: int, hi: int) -> dict[str, Any]:
    """What identifies the run a checkpoint belongs to; the day is added when saving."""
    return {
        "format": FORMAT,
        "version": version.__version__,
        "scenario": json.loads(json.dumps(sc.model_dump(mode="json"))),
        "n_agents": n_agents,
        "seed": seed,
        "localities": [lo, hi],
    }


def save(folder: Path, day: int, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Path:
    """Write ``arrays`` and ``meta`` (with ``day``, the last day done) as the checkpoint in
    ``folder``, replacing the previous one atomically; return the file. A folder that cannot be
    written or a full disk is a :class:`CheckpointError` naming the file; the previous
    checkpoint then remains."""
    file, tmp = folder / FILE, folder / f".{FILE}.partial"
    text = json.dumps({**meta, "day": day})
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez(fh, meta=np.array(text), **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, file)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)  # the rename itself survives a power loss
        finally:
            os.close(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise CheckpointError(
            f"{file}: cannot be written ({exc.strerror or exc}); the run stopped, an earlier"
            " checkpoint there remains"
        ) from exc
    return file


def save_split(folder: Path, ranges: list[tuple[int, int]]) -> None:
    """Record, before any shard checkpoints, how a run is split into ranges of localities."""
    file, tmp = folder / SPLIT, folder / f".{SPLIT}.partial"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"format": FORMAT, "shards": ranges}))
        os.replace(tmp, file)
    except OSError as exc:
        raise CheckpointError(f"{file}: cannot be written ({exc.strerror or exc})") from exc


def read_split(folder: Path) -> list[tuple[int, int]] | None:
    """The ranges of localities of a run split into shards that checkpointed into ``folder``;
    None for a run in one process (or no checkpoint)."""
    file = folder / SPLIT
    if not file.is_file():
        return None
    try:
        ranges = json.loads(file.read_text())["shards"]
        out = [(int(lo), int(hi)) for lo, hi in ranges]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{file}: damaged, cannot be read ({exc})") from None
    if not out or any(not 0 <= lo < hi for lo, hi in out):
        raise CheckpointError(f"{file}: damaged, its ranges of localities are {ranges}")
    return out


def covers(ranges: list[tuple[int, int]], n_localities: int) -> bool:
    """Whether ``ranges`` are contiguous and cover localities 0 to ``n_localities``."""
    starts, ends = [lo for lo, _ in ranges], [hi for _, hi in ranges]
    return starts[0] == 0 and ends[-1] == n_localities and starts[1:] == ends[:-1]


def read_meta(folder: Path) -> dict[str, Any]:
    """The description of the checkpoint in ``folder`` (of a run split into shards: of its
    first shard that has one, with ``shards``, the split); :class:`CheckpointError` naming the
    file when it is missing or damaged."""
    split = read_split(folder)
    if split is None:
        with _open(folder) as npz:
            return _meta(folder / FILE, npz)
    shards = [Checkpointing(folder).shard(lo, hi).folder for lo, hi in split]
    written = [sub for sub in shards if (sub / FILE).exists()]
    if not written:
        raise CheckpointError(
            f"{folder}: no shard of the run has written a checkpoint yet; there is nothing to"
            " resume from"
        )
    with _open(written[0]) as npz:
        return {**_meta(written[0] / FILE, npz), "shards": split}


def load(folder: Path, expect: dict[str, Any]) -> tuple[int, dict[str, np.ndarray]]:
    """The last day done and the arrays of the checkpoint in ``folder``, after checking that it
    belongs to the run ``expect`` describes (:func:`run_meta`): another version, scenario,
    number of agents, seed or range is refused with a :class:`CheckpointError` saying which."""
    file = folder / FILE
    with _open(folder) as npz:
        meta = _meta(file, npz)
        for key, what in (
            ("format", "checkpoint format"),
            ("version", "socialcreditsim version"),
            ("n_agents", "number of agents"),
            ("seed", "seed"),
            ("localities", "range of localities"),
        ):
            if meta[key] != expect[key]:
                raise CheckpointError(
                    f"{file}: a checkpoint of another run: its {what} is {meta[key]}, this run's"
                    f" is {expect[key]}"
                )
        if meta["scenario"] != expect["scenario"]:
            where = ", ".join(_differences(meta["scenario"], expect["scenario"])[:3])
            raise CheckpointError(
                f"{file}: a checkpoint of another scenario (it differs in {where})"
            )
        try:
            arrays = {k: npz[k] for k in npz.files if k != "meta"}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise CheckpointError(f"{file}: damaged, cannot be read ({exc})") from None
    return int(meta["day"]), arrays


def _open(folder: Path) -> Any:
    file = folder / FILE
    try:
        return np.load(file, allow_pickle=False)
    except FileNotFoundError:
        raise CheckpointError(f"{file}: missing; there is no checkpoint to resume from") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"{file}: damaged, cannot be read ({exc})") from None


def _meta(file: Path, npz: Any) -> dict[str, Any]:
    try:
        meta = json.loads(str(npz["meta"]))
    except (KeyError, OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"{file}: damaged, its description cannot be read ({exc})") from None
    keys = ("format", "version", "scenario", "n_agents", "seed", "localities", "day")
    return json_object(file, meta, keys, "its description", CheckpointError)


def _differences(a: Any, b: Any, at: str = "") -> list[str]:
    """The dotted keys where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(a.keys() | b.keys())
            for d in _differences(a.get(k), b.get(k), f"{at}.{k}" if at else k)
        ]
    return [] if a == b else [at or "the whole"]
