"""A run or a comparison working in a background thread, with the progress the page reads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np


class Cancelled(Exception):
    """The user pressed Cancel."""


class Job:
    """A run or a comparison working in a background thread; the page reads its progress."""

    lock = threading.Lock()  # one at a time on this machine: the kernels use every core

    def __init__(
        self,
        what: str,
        work: Callable[[Callable[[int, int], None]], Any],
        finished: Callable[[], None] = lambda: None,
    ) -> None:
        """``work(progress)`` is done in the job's thread, which calls ``finished()`` at its
        end (the page shows the result then, not at its next look at the progress)."""
        self.what, self.work, self.on_finish = what, work, finished
        self.done = self.total = 0
        self.started = time.monotonic()
        self.cancel = threading.Event()
        self.result: Any = None
        self.error: str | None = None
        self.finished = False
        self.thread = threading.Thread(target=self._run, daemon=True, name="dashboard-job")

    def progress(self, done: int, total: int) -> None:
        """The engine's progress callback; raises Cancelled once Cancel is pressed."""
        self.done, self.total = done, total
        if self.cancel.is_set():
            raise Cancelled

    def _run(self) -> None:
        """Do the work in the job's thread, one job at a time on this machine."""
        try:
            with Job.lock:
                self.started = time.monotonic()
                self.result = self.work(self.progress)
        except Cancelled:
            self.error = "cancelled; nothing was written"
        except Exception as exc:  # shown on the page: the server stays up
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.finished = True
            self.on_finish()

    def status(self) -> str:
        """The progress as the page shows it, with an estimate of the time left."""
        took = time.monotonic() - self.started
        if not self.total:
            return f"{self.what}: starting ({took:.0f} s)"
        eta = took / self.done * (self.total - self.done) if self.done else float("nan")
        eta_text = f", about {eta:.0f} s left" if np.isfinite(eta) else ""
        return f"{self.what}: {self.done:,} of {self.total:,} ({took:.0f} s{eta_text})"
