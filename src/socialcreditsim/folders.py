"""Output folders on disk: held for the whole run, written whole or not at all, read back with
any damage named.

A run, comparison, sweep or calibration writes into ``.<name>.partial-XXXX`` beside its output
folder and renames it when complete, so an interrupted run leaves nothing that looks finished.
The temporary folder is created (and the location checked) before any work starts and is held
by an advisory lock (``flock``) for as long as the writing process lives:

- a second run given the same output is refused at once, instead of both writing it;
- a temporary folder whose owner died (kill -9, power loss) is unlocked: the next output into
  the same parent folder removes it and says so;
- a folder that cannot be written (read-only, below a file, a system folder) is refused before
  the run, and a disk that fills up while writing gives one message and leaves nothing behind.

Reading goes through :func:`read_json` and :func:`read_parquet`, which name the damaged file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DATE",
    "DamagedFolder",
    "OutputError",
    "Reservation",
    "atomic_folder",
    "check_output",
    "destination",
    "json_object",
    "read_json",
    "read_parquet",
]

DATE = "datetime64[ms]"  # the unit of dates in the tables: the one pandas reads Parquet dates in
MARK = ".socialcreditsim-partial"  # inside every temporary folder: the owner's process id
PARTIAL = ".partial-"


class OutputError(OSError):
    """An output folder that cannot be written: the message names it and says why."""


class DamagedFolder(ValueError):
    """A file of a results folder that is missing, truncated or not what it should be."""


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


class Reservation:
    """An output folder held from before the work until :meth:`commit` renames it into place.

    Raises :class:`FileExistsError` when ``out`` is a file or a folder that is not empty (unless
    ``overwrite``), :class:`OutputError` when another live process holds the same output or the
    location cannot be written.
    """

    def __init__(self, out: str | Path, overwrite: bool = False):
        self.path = Path(out)
        self.overwrite = overwrite
        self.cleaned: list[Path] = []  # temporary folders of dead runs, removed here
        self._fd = -1
        self._done = False
        check_output(self.path, overwrite)
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            why = _why(exc)
            raise OutputError(f"{self.path}: cannot create the folder {parent}: {why}") from None
        self.cleaned = _remove_dead(parent)
        _refuse_if_busy(self.path)
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}{PARTIAL}", dir=parent))
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write in {parent}: {_why(exc)}") from None
        self._fd = os.open(self.tmp, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            try:
                (self.tmp / MARK).write_text(f"{os.getpid()}\n")
            except OSError as exc:
                raise OutputError(f"{self.path}: cannot write in {parent}: {_why(exc)}") from None
            umask = os.umask(0)  # mkdtemp makes the folder private; give it the usual permissions
            os.umask(umask)
            self.tmp.chmod(0o777 & ~umask)
            _refuse_if_busy(self.path, mine=self.tmp)  # two runs that started together
        except BaseException:
            self.abort()
            raise

    def commit(self) -> Path:
        """Rename the temporary folder to the output and release it."""
        out = self.path
        try:
            if out.is_dir() and any(out.iterdir()):
                if not self.overwrite:  # someone else wrote it meanwhile
                    raise FileExistsError(f"{out}: was written by something else during this run")
                shutil.rmtree(out)
            os.replace(self.tmp, out)
            (out / MARK).unlink()  # after the rename: a kill in between leaves a whole folder
        except OSError as exc:
            self.abort()
            if isinstance(exc, FileExistsError):
                raise
            raise OutputError(f"{out}: cannot write it: {_why(exc)}; nothing was written") from exc
        self._release()
        return out

    def abort(self) -> None:
        """Remove the temporary folder and release the output."""
        if not self._done:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        self._done = True
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        if kind is not None:
            self.abort()
        elif not self._done:
            self.commit()


def check_output(out: Path, overwrite: bool = False) -> None:
    """Refuse an output that is a file, a folder that is not empty (unless ``overwrite``) or
    lies below a file, before any work; the messages start with the path."""
    if str(out) in ("", "."):
        raise FileExistsError(f"{out!s}: name an output folder")
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: is a file, not a folder; choose another output folder")
    if out.is_dir() and not overwrite and any(out.iterdir()):
        raise FileExistsError(f"{out}: already exists and is not empty; choose another folder")
    for above in out.parents:
        if above.exists():
            if not above.is_dir():
                raise OutputError(f"{out}: {above} is a file, not a folder")
            break


def _owner(tmp: Path) -> int | None:
    """The process id written in a temporary folder, or None where it is not one of ours."""
    try:
        return int((tmp / MARK).read_text().strip() or -1)
    except (OSError, ValueError):
        return None


def _held(tmp: Path) -> bool:
    """Whether a live process holds this temporary folder's lock."""
    try:
        fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    finally:
        os.close(fd)  # also releases a lock taken just now
    return False


def _partials(parent: Path, name: str = "*") -> list[Path]:
    return sorted(p for p in parent.glob(f".{name}{PARTIAL}*") if _owner(p) is not None)


def _remove_dead(parent: Path) -> list[Path]:
    """Remove the temporary folders in ``parent`` whose writer is gone; return them."""
    dead = [p for p in _partials(parent) if not _held(p)]
    for p in dead:
        shutil.rmtree(p, ignore_errors=True)
    return dead


def _refuse_if_busy(out: Path, mine: Path | None = None) -> None:
    for p in _partials(out.parent, glob_escape(out.name)):
        if p != mine and _held(p):
            raise OutputError(
                f"{out}: another run (process {_owner(p)}) is writing this folder; wait for it"
                " to finish or choose another output folder"
            )


def glob_escape(name: str) -> str:
    """``name`` with the characters glob treats specially taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def destination(out: str | Path | Reservation) -> Path:
    """The folder that ``out`` (a path or a reservation) ends up as."""
    return out.path if isinstance(out, Reservation) else Path(out)


@contextlib.contextmanager
def atomic_folder(out: str | Path | Reservation, overwrite: bool = False) -> Iterator[Path]:
    """A temporary folder that becomes ``out`` when the block succeeds and is removed when it
    fails. ``out`` may be a :class:`Reservation` held since before the work; it is committed
    here. A full disk or other write error becomes one :class:`OutputError`."""
    held = out if isinstance(out, Reservation) else Reservation(out, overwrite)
    try:
        yield held.tmp
    except OSError as exc:
        held.abort()
        if isinstance(exc, (FileExistsError, OutputError)):
            raise
        raise OutputError(
            f"{held.path}: writing failed ({_why(exc)}); nothing was written"
        ) from exc
    except BaseException:
        held.abort()
        raise
    held.commit()


def read_json(
    folder: Path, name: str = "manifest.json", keys: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A JSON object with ``keys`` from ``folder/name``; FileNotFoundError or DamagedFolder
    naming the file."""
    file = folder / name
    try:
        value = json.loads(file.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{file}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedFolder(f"{file}: damaged, cannot be read ({exc})") from None
    return json_object(file, value, keys)


def json_object(
    file: Path, value: Any, keys: tuple[str, ...], what: str = "", error: type = DamagedFolder
) -> dict[str, Any]:
    """``value`` read from ``file``, checked to be a JSON object with ``keys``; otherwise
    ``error`` saying so, naming the file (and ``what`` in it was read, e.g. "its description")."""
    what = f"{what} " if what else ""
    if not isinstance(value, dict):
        raise error(f"{file}: damaged, {what + 'is ' if what else ''}not a JSON object")
    missing = [k for k in keys if k not in value]
    if missing:
        raise error(f"{file}: damaged, {what}lacks {', '.join(missing)}")
    return value


def read_parquet(folder: Path, name: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A table from ``folder/name.parquet`` that has ``columns``; errors name the file."""
    import pandas as pd
    import pyarrow as pa

    file = folder / f"{name}.parquet"
    try:
        frame = pd.read_parquet(file)
    except FileNotFoundError:
        raise FileNotFoundError(f"{file}: missing") from None
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise DamagedFolder(f"{file}: damaged or truncated ({exc})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DamagedFolder(f"{file}: damaged, lacks the columns {', '.join(missing)}")
    return frame
