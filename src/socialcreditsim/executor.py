"""Executors: the one place where independent work runs in parallel.

An executor maps a function over items and returns the results in item order, whatever order
they finish in, calling ``progress(done, total)`` after each; or, for items that report their own
steps (the days of a run's shard), as their steps are done. Replicates, comparisons, sweeps
and calibration (``replicates.run_jobs``) and a run split into shards (``engine``) all go
through it, so they run alike on:

* :class:`LocalExecutor`: this machine, in this process (one worker) or in spawned worker
  processes (several), or in processes forked from a server that imported the modules they
  need once (``preload``: the report's figures); on any error, Ctrl-C or SIGTERM the workers are
  terminated at once.
* :class:`DaskExecutor`: a Dask cluster (the optional ``cluster`` extra): ``local:N`` starts a
  ``LocalCluster`` of N single-threaded worker processes on this machine (closed on exit), a
  scheduler address (``tcp://host:8786``) or a scheduler file (as ``dask-scheduler
  --scheduler-file`` and dask-jobqueue write) connects to a running one, and a
  ``distributed.Client`` is used as it is (and left open). Dask runs a task again elsewhere when
  its worker dies, which is safe because every task here is a pure function of its arguments
  (a run depends only on its scenario, N and seed).

Dask is imported only on the Dask path, so importing the package costs nothing more.
See docs/cluster.md.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import queue
import re
import shutil
import signal
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from .memory import NotEnoughMemory, available_memory

if TYPE_CHECKING:
    import distributed

__all__ = [
    "CONNECT_TIMEOUT",
    "ClusterError",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "WorkersUnavailable",
    "executor_for",
    "release_before_exit",
    "start_preloaded",
]

CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler before giving up
INSTALL = "pip install 'socialcreditsim[cluster]' (or pip install -e '.[cluster]' in a clone)"
_LOCAL = re.compile(r"^local:(?P<n>\d+)$")
_ADDRESS = re.compile(r"^([a-z0-9+]+://)?(\[[0-9a-fA-F:]+\]|[^/\s:\[\]]+):\d+$")  # tcp://host:8786

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]


class ClusterError(ValueError):
    """A cluster that cannot be used: Dask is missing, the address is malformed or the scheduler
    cannot be reached. The message starts with ``cluster:`` and says what to do."""


class WorkersUnavailable(RuntimeError):
    """Worker processes could not start on this machine (no ``/dev/shm`` for their queues'
    semaphores in some sandboxes and containers, a limit on processes): work that can run in
    this process instead does so (the report's figures)."""


class Steps:
    """Progress by steps within the items (``Executor.map(steps=...)``): each item reports the
    steps it has done, and ``progress(done, total)`` is told the steps done by all the items
    together, in units of one item's steps (their mean, rounded down), so that a run split into
    shards reports simulated days. ``progress`` is called in the thread that called ``map``,
    and never goes back (an item run again after its worker died reports its steps again)."""

    def __init__(self, n_items: int, steps: int, progress: Progress | None):
        self.done = [0] * n_items
        self.steps, self.progress = steps, progress
        self.shown = 0

    def tell(self, item: int, done: int) -> None:
        """Item ``item`` has done ``done`` of its steps."""
        self.done[item] = max(self.done[item], done)
        mean = sum(self.done) // len(self.done)
        if mean > self.shown and self.progress is not None:
            self.shown = mean
            self.progress(mean, self.steps)


@dataclass(frozen=True)
class _QueueTell:
    """An item's reporter in a worker process: sends (item, done) to the parent's queue."""

    queue: Any
    item: int

    def __call__(self, done: int, total: int) -> None:
        self.queue.put((self.item, done))


@dataclass(frozen=True)
class _DaskTell:
    """An item's reporter on a Dask worker: an event of ``topic`` that the client subscribes to
    (``Client.subscribe_topic``)."""

    topic: str
    item: int

    def __call__(self, done: int, total: int) -> None:
        from distributed import get_worker

        get_worker().log_event(self.topic, [self.item, done])


class Executor(ABC):
    """Runs a function over independent items in parallel; a context manager that closes what
    it started."""

    workers: int = 1  # tasks that run at once
    threads: int | None = None  # threads each task is to use (None: the task decides)
    dashboard: str | None = None  # a link to watch the work (Dask's dashboard)

    @abstractmethod
    def map(
        self,
        fn: Callable[..., R],
        items: Iterable[T],
        progress: Progress | None = None,
        steps: int | None = None,
    ) -> list[R]:
        """``[fn(item) for item in items]``, run in parallel; ``progress(done, total)`` after
        each item finishes. With ``steps``, each item is a task of that many steps that reports
        them: ``fn(item, tell)`` calls ``tell(done, steps)`` as it goes (a picklable callable),
        and ``progress`` follows the steps (:class:`Steps`)."""

    @abstractmethod
    def close(self) -> None:
        """Release what this executor started."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LocalExecutor(Executor):
    """This machine: in this process with one worker, else ``processes`` spawned processes.

    ``threads`` is what each task is told to use: as given, else automatic in this process and
    one in each worker process (one process per core). With ``preload`` (module names), the
    workers are forked from a server process that imported those modules once
    (:func:`start_preloaded`), where the platform has one: they begin at once instead of
    importing them each."""

    def __init__(self, processes: int = 1, threads: int | None = None, preload: Sequence[str] = ()):
        self.workers = max(1, processes)
        self.threads = threads if threads is not None or self.workers == 1 else 1
        self.preload = tuple(preload)

    def map(
        self,
        fn: Callable[..., R],
        items: Iterable[T],
        progress: Progress | None = None,
        steps: int | None = None,
    ) -> list[R]:
        items = list(items)
        if not items:
            return []
        told = None if steps is None else Steps(len(items), steps, progress)
        if self.workers == 1:
            out = []
            for i, item in enumerate(items):
                if told is None:
                    out.append(fn(item))
                    if progress is not None:
                        progress(len(out), len(items))
                else:
                    out.append(fn(item, lambda done, _total, i=i: told.tell(i, done)))
            return out
        results: list[Any] = [None] * len(items)
        ctx = _context(self.preload)
        with contextlib.ExitStack() as stack:
            try:
                with _deaf_children():  # the pool starts its processes as tasks are submitted
                    pool = stack.enter_context(
                        ProcessPoolExecutor(
                            min(self.workers, len(items)), mp_context=ctx, initializer=_worker_start
                        )
                    )
                    stack.push(_stop_on_error(pool))
                    manager = None if told is None else stack.enter_context(ctx.Manager())
                    steps_queue = None if manager is None else manager.Queue()
                    pending: dict[Future[R], int] = {}
                    for i, item in enumerate(items):
                        tell = () if told is None else (_QueueTell(steps_queue, i),)
                        pending[pool.submit(fn, item, *tell)] = i
            except OSError as exc:  # (not an error of a task: those come with their results)
                raise WorkersUnavailable(f"worker processes cannot start here: {exc}") from exc
            done = 0
            while pending:
                finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                if told is not None:
                    _drain(steps_queue, told)
                for fut in finished:
                    i = pending.pop(fut)
                    results[i] = fut.result()
                    done += 1
                    if told is not None:
                        told.tell(i, steps)  # its last report may still be on the way
                    elif progress is not None:
                        progress(done, len(items))
        return results

    def close(self) -> None:
        """Nothing to release: each :meth:`map` closes its own worker processes."""


@contextlib.contextmanager
def _deaf_children() -> Iterator[None]:
    """Processes started inside keep SIGINT blocked for good (the signal mask passes through
    fork and exec): a Ctrl-C in a terminal reaches the whole process group, and spawned workers
    still importing printed tracebacks; it is this process's to act on (it stops its workers).
    This thread gets a Ctrl-C of that moment when the block ends (a blocked signal waits), or
    another thread takes it at once."""
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # when it starts its process, it unblocks SIGINT after
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _worker_start() -> None:
    """In each worker process: end when the parent does, even killed. A worker waiting for its
    next task holds both ends of its task queue, so it would wait for ever, and hold the
    parent's output pipes open (a shell pipeline, or a test reading the killed command's output,
    never ends)."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_end_with, args=(parent.sentinel,), daemon=True).start()


def _end_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])  # ready when the parent's end closes
    os._exit(1)


def _context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """How worker processes start. Spawned workers start clean (no threads inherited from this
    process) and load the kernels from Numba's on-disk cache; forked from the server of
    :func:`start_preloaded`, they start as clean, with ``preload`` imported (the server runs no
    Python thread but its loop; the native threads its imports start, OpenBLAS's and Arrow's
    allocator's, prepare for a fork)."""
    if preload and "forkserver" in multiprocessing.get_all_start_methods():
        start_preloaded(preload)
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def start_preloaded(modules: Sequence[str]) -> None:
    """Start, in the background, the server that forks this process's preloaded workers, with
    ``modules`` imported (Python's ``forkserver``), so that a :class:`LocalExecutor` with
    ``preload`` later starts its workers at once: call it before other work, as the command line
    does when a run is to write its report. The first call's modules count; the server lasts as
    long as this process. Nothing where the platform has no forkserver."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(list(modules))
    # the server, and the workers it forks, ignore SIGINT (an ignored signal stays ignored
    # across exec; a blocked one does not stay blocked here): Ctrl-C in a terminal reaches the
    # whole process group, and is this process's to act on (it stops its workers); a server
    # still importing its modules printed a traceback (handlers are set in the main thread only)
    if threading.current_thread() is not threading.main_thread():
        forkserver.ensure_running()
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, handler)


def release_before_exit() -> None:
    """What multiprocessing's exit handlers do, for a process about to end by ``os._exit``,
    where they do not run: kill the server of :func:`start_preloaded`, if it runs, release the
    named semaphores of worker pools' queues (else its resource tracker warns of leaked
    semaphores), and remove multiprocessing's temporary folder, which held the server's socket.
    The handlers themselves removed the folder first, and a server still serving then printed a
    traceback. Best effort: it reads multiprocessing's private state, and a process that is
    ending has nothing better to do on failure."""
    from multiprocessing import forkserver, process, util

    with contextlib.suppress(AttributeError, OSError):
        server = forkserver._forkserver
        if server._forkserver_pid is not None:
            os.kill(server._forkserver_pid, signal.SIGKILL)
            server._stop()  # closes its pipe, reaps it and removes its socket
    with contextlib.suppress(Exception):
        util._run_finalizers(0)  # those of priority 0 and up: semaphores, queues' threads
    folder = process.current_process()._config.get("tempdir")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def _drain(steps: Any, told: Steps, wait: float = 0.0) -> None:
    """Pass on what the workers reported since the last look, waiting up to ``wait`` seconds
    for the first report."""
    try:
        item, done = steps.get(timeout=wait) if wait else steps.get_nowait()
        while True:
            told.tell(item, done)
            item, done = steps.get_nowait()
    except queue.Empty:
        return


def _stop_on_error(pool: ProcessPoolExecutor) -> Callable[..., bool]:
    """An exit callback for ``pool``: on any error (a task's, Ctrl-C, SIGTERM), terminate its
    workers (a signal reaches this process only, and Ctrl-C in a terminal reaches workers that
    block it), then wait for the pool's own thread to reap them and release the queues'
    semaphores. Without that wait, the command's exit could come between that thread's
    unlinking of a semaphore and its word to the resource tracker, which then warned of a
    leaked semaphore."""

    def on_exit(exc_type: type[BaseException] | None, *_: object) -> bool:
        if exc_type is not None:
            _stop_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)
        return False

    return on_exit


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers now (Python 3.14 has ``terminate_workers`` for this)."""
    stop = getattr(pool, "terminate_workers", None)
    if stop is not None:
        stop()
        return
    for proc in list((pool._processes or {}).values()):
        proc.terminate()


def _distributed() -> ModuleType:
    """The ``distributed`` package, or a :class:`ClusterError` that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"cluster: running on a Dask cluster needs Dask: {INSTALL}") from None
    return distributed


class DaskExecutor(Executor):
    """A Dask cluster: ``cluster`` is a ``distributed.Client``, ``local:N``, a scheduler address
    or a scheduler file (module docstring), reached within ``timeout`` seconds (default
    :data:`CONNECT_TIMEOUT`). Each task uses ``threads`` threads (default one: a worker runs one
    task per core)."""

    def __init__(
        self,
        cluster: str | distributed.Client,
        threads: int | None = None,
        timeout: float | None = None,
    ):
        dd = _distributed()
        timeout = CONNECT_TIMEOUT if timeout is None else timeout
        self._owned: list[Any] = []  # what this executor started, closed in reverse order
        try:
            if isinstance(cluster, dd.Client):
                self.client = cluster
            elif isinstance(cluster, str):
                self.client = self._connect(dd, cluster.strip(), timeout)
            else:
                raise ClusterError(
                    "cluster: expected local:N, a scheduler address (tcp://host:8786), a"
                    f" scheduler file or a distributed.Client; got {cluster!r}"
                )
            self.workers = max(1, sum(self.client.nthreads().values()))  # 1 until workers join
            self.dashboard = self.client.dashboard_link or None
        except BaseException:
            self.close()
            raise
        self.threads = threads or 1

    def _connect(self, dd: ModuleType, text: str, timeout: float) -> distributed.Client:
        local = _LOCAL.match(text)
        if local is not None:
            n = int(local["n"])
            if not 1 <= n <= 1024:
                raise ClusterError(f"cluster: {text}: N must be from 1 to 1,024 workers")
            cluster = dd.LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
            )
            self._owned.append(cluster)
            client = dd.Client(cluster, timeout=timeout, set_as_default=False)
            self._owned.append(client)
            return client
        if _ADDRESS.match(text):
            where, how = text, {"address": text}
        elif Path(text).is_file():
            where, how = f"{text} (scheduler file)", {"scheduler_file": text}
        else:
            raise ClusterError(
                f"cluster: {text!r} is not local:N, a scheduler address (tcp://host:8786) or an"
                " existing scheduler file"
            )
        try:
            client = dd.Client(**how, timeout=timeout, set_as_default=False)
        except (OSError, ValueError) as exc:
            raise ClusterError(
                f"cluster: cannot reach the Dask scheduler at {where}: {exc}"
            ) from None
        self._owned.append(client)
        return client

    def check_memory(self, need: int) -> None:
        """:class:`~socialcreditsim.memory.NotEnoughMemory` if no worker's memory limit holds
        a task that needs ``need`` bytes (workers without a limit hold anything)."""
        limits = [
            w.get("memory_limit") or 0 for w in self.client.scheduler_info()["workers"].values()
        ]
        if limits and all(0 < limit < need for limit in limits):
            raise NotEnoughMemory(
                f"one run needs about {need / 2**30:.1f} GiB but the Dask workers have at most"
                f" {max(limits) / 2**30:.1f} GiB each; use fewer agents or bigger workers"
            )

    def map(
        self,
        fn: Callable[..., R],
        items: Iterable[T],
        progress: Progress | None = None,
        steps: int | None = None,
    ) -> list[R]:
        from distributed import as_completed

        items = list(items)
        told, topic = None, f"socialcreditsim-steps-{uuid.uuid4().hex}"
        events: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
        if steps is not None:
            told = Steps(len(items), steps, progress)
            # the handler runs in the client's event loop: it only queues, this thread tells
            self.client.subscribe_topic(topic, lambda event: events.put(tuple(event[1])))
            args: list[list[Any]] = [items, [_DaskTell(topic, i) for i in range(len(items))]]
        else:
            args = [items]
        # pure=False: every item is a task of its own, even where two items are equal
        futures = self.client.map(fn, *args, pure=False)
        pending = {fut.key: i for i, fut in enumerate(futures)}
        results: list[Any] = [None] * len(items)
        finished = as_completed(futures, loop=self.client.loop)
        try:
            for done in range(1, len(items) + 1):
                while told is not None and not finished.has_ready():
                    _drain(events, told, wait=0.2)
                fut = next(finished)
                i = pending.pop(fut.key)
                results[i] = fut.result()
                fut.release()  # the worker may drop it now
                if told is not None:
                    told.tell(i, steps)  # its last report may still be on the way
                elif progress is not None:
                    progress(done, len(items))
        except BaseException:
            self.client.cancel([f for f in futures if f.key in pending])
            raise
        finally:
            if told is not None:
                self.client.unsubscribe_topic(topic)
        return results

    def close(self) -> None:
        """Close the client and the LocalCluster this executor started (a client it was given
        stays open)."""
        for thing in reversed(self._owned):
            thing.close()
        self._owned.clear()


def executor_for(
    cluster: str | distributed.Client | None = None,
    processes: int | None = None,
    threads: int | None = None,
    jobs_need_bytes: int | None = None,
) -> Executor:
    """The executor to use: a :class:`DaskExecutor` on ``cluster`` where one is given, else a
    :class:`LocalExecutor` of ``processes`` processes (default: one per core, or per
    ``threads`` cores, no more than memory holds when each job needs ``jobs_need_bytes``).
    On a cluster, ``jobs_need_bytes`` is checked against the workers' memory limits and
    ``processes`` does not apply. A missing Dask or an unreachable scheduler raise
    :class:`ClusterError`."""
    if cluster is not None:
        ex = DaskExecutor(cluster, threads)
        if jobs_need_bytes is not None:
            try:
                ex.check_memory(jobs_need_bytes)
            except BaseException:
                ex.close()
                raise
        return ex
    if processes is None:
        processes = max(1, len(os.sched_getaffinity(0)) // (threads or 1))
        if jobs_need_bytes:
            processes = max(1, min(processes, available_memory() // jobs_need_bytes))
    return LocalExecutor(processes, threads)
