"""Numba, as this package's kernels load it (``from .jit import nb``), and ``Kernel``: a kernel
called day after day without Numba typing its arguments again at every call.

Two costs of every command's start are cut here:

- On its first compilation or cache load, Numba imports ``numba.np.arraymath``, which imports
  SciPy's BLAS (about half a second) only to learn whether ``np.dot`` of two vectors may call
  it. No kernel here does linear algebra, so that check is answered "no" while ``arraymath`` is
  imported, here; everything else keeps Numba's own ``ensure_blas``, and SciPy is imported
  where it is used (statistics, the calibration).
- Loading a kernel from Numba's cache first installed every lowering registry of Numba, which
  only compiling uses (``_load_cached``).
"""

from __future__ import annotations

import importlib
from typing import Any

import numba as nb
import numba.np.linalg
from numba.core.caching import Cache
from numba.core.runtime import rtsys

try:  # (Numba's own, not public: without it every call goes through the dispatcher)
    from numba._dispatcher import compute_fingerprint
except ImportError:  # pragma: no cover - a Numba that moved it
    compute_fingerprint = None

__all__ = ["Kernel", "nb"]


def _without_blas() -> None:
    raise ImportError("socialcreditsim's kernels do no linear algebra")


def _load_arraymath() -> None:
    ensure_blas = getattr(numba.np.linalg, "ensure_blas", None)
    if ensure_blas is None:  # a Numba without that check: nothing to skip
        return
    numba.np.linalg.ensure_blas = _without_blas
    try:
        arraymath = importlib.import_module("numba.np.arraymath")
    finally:
        numba.np.linalg.ensure_blas = ensure_blas
    arraymath.ensure_blas = ensure_blas


_load_arraymath()


def _load_cached(self: Any, sig: Any, target_context: Any) -> Any:
    """``numba.core.caching.Cache.load_overload`` without its refresh of the target context.
    The refresh imports and installs every lowering registry of Numba (about 0.2 s at every
    start), which code loaded from the cache does not use; the compiler refreshes the contexts
    itself before it compiles, and a lowering not yet installed is found by a refresh then.
    What the loaded code calls, Numba's runtime, is initialized here."""
    rtsys.initialize(target_context)
    with self._guard_against_spurious_io_errors():
        return self._load_overload(sig, target_context)


if all(
    hasattr(Cache, name)
    for name in ("load_overload", "_load_overload", "_guard_against_spurious_io_errors")
):  # (else a Numba that changed its cache: its own way)
    Cache.load_overload = _load_cached


class Kernel:
    """A Numba kernel that a run calls day after day with the same tuples of arrays. Numba's
    dispatcher types every argument at every call, every field of every tuple: an
    ``apply_day`` call on an empty range took 14 us, 4 us of them the compiled code and the
    unboxing of its four NamedTuples' 70 arrays. Once the dispatcher has made a call with a
    tuple among its arguments, later calls go straight to the compiled code it used as long as
    each argument is the object then passed or, if not a tuple, has the fingerprint the
    dispatcher types by (an array's dtype, dimensions, layout and flags; a number's kind): 6 us
    for that call. Tuples are immutable, and the engine never changes the dtype or shape of an
    array in place. Any other call goes through the dispatcher, which may compile, and is
    remembered in turn. Kernels without tuple arguments always go through the dispatcher,
    which types plain arrays and numbers quickly. Hold one for a run only: it keeps the
    arguments it was last called with."""

    def __init__(self, dispatcher: Any):
        self.dispatcher = dispatcher
        self._bound: tuple[tuple, tuple, Any] | None = None  # (arguments, fingerprints, entry)
        # (not a plain function, as with NUMBA_DISABLE_JIT=1)
        self._binds = compute_fingerprint is not None and hasattr(dispatcher, "overloads")

    def __call__(self, *args: Any) -> Any:
        bound = self._bound  # (one read: threads may call while another call rebinds)
        if bound is not None and _same_kinds(args, *bound[:2]):
            return bound[2](*args)
        out = self.dispatcher(*args)
        if self._binds:
            self._binds = any(isinstance(a, tuple) for a in args)
            self._bound = self._entry(args) if self._binds else None
        return out

    def _entry(self, args: tuple) -> tuple[tuple, tuple, Any] | None:
        """The arguments, their fingerprints and the compiled entry point the dispatcher chose
        for them (None where it cannot be told)."""
        overloads = self.dispatcher.overloads
        if len(overloads) == 1:
            signature = next(iter(overloads))
        else:  # (slow, but only when a kernel has several compiled versions)
            signature = tuple(self.dispatcher.typeof_pyval(a) for a in args)
        compiled = overloads.get(signature)
        try:
            prints = tuple(map(compute_fingerprint, args))
        except NotImplementedError:  # a kind the dispatcher types the slow way
            return None
        entry = getattr(compiled, "entry_point", None)
        return None if entry is None else (args, prints, entry)


def _same_kinds(args: tuple, held: tuple, prints: tuple) -> bool:
    if len(args) != len(held):
        return False
    try:
        for a, h, p in zip(args, held, prints, strict=True):
            if a is not h and (isinstance(a, tuple) or compute_fingerprint(a) != p):
                return False
    except NotImplementedError:
        return False
    return True
