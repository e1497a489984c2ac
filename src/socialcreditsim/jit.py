"""Numba, as this package's kernels load it (``from .jit import nb``).

On its first compilation or cache load, Numba imports ``numba.np.arraymath``, which imports
SciPy's BLAS (about half a second, at every start of every command) only to learn whether
``np.dot`` of two vectors may call it. No kernel here does linear algebra, so that check is
answered "no" while ``arraymath`` is imported, here; everything else keeps Numba's own
``ensure_blas``, and SciPy is imported where it is used (statistics, the calibration).
"""

from __future__ import annotations

import importlib

import numba as nb
import numba.np.linalg

__all__ = ["nb"]


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
