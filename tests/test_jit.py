"""Numba as the kernels load it (socialcreditsim/jit.py): without SciPy's BLAS, which Numba
would import at every start only to learn whether ``np.dot`` may call it; and ``Kernel``, which
calls the compiled code without typing the same arguments again."""

from __future__ import annotations

import subprocess
import sys
from typing import NamedTuple

import numba as nb
import numpy as np
import pytest

from socialcreditsim import jit
from socialcreditsim.jit import Kernel

CHECK = """
import sys
import numba.np.linalg
from socialcreditsim import kernels
from socialcreditsim.rng import uniform, new_stream

uniform(new_stream(1, 2, 3, 4))  # a kernel called (compiled, or loaded from the cache)
assert "scipy.linalg" not in sys.modules, "SciPy's linear algebra was imported"
import numba.np.arraymath
# only the import-time check was answered; everything else keeps Numba's own function
assert numba.np.linalg.ensure_blas is numba.np.arraymath.ensure_blas
assert numba.np.linalg.ensure_blas.__module__ == "numba.np.linalg"
"""


def test_kernels_load_without_scipy_linear_algebra() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


CACHED = """
import numba.core.registry
from socialcreditsim.rng import uniform, new_stream

print(uniform(new_stream(1, 2, 3, 4)), sum(uniform.stats.cache_hits.values()))
print(len(numba.core.registry.cpu_target.target_context._registries))
"""


def test_kernels_load_from_the_cache_without_numbas_lowering_registries() -> None:
    """Installing them took about 0.2 s of every command's start, and code loaded from the
    cache does not use them: a fresh process that finds its kernels compiled leaves them be,
    and gets what the process that compiled them got."""
    runs = [subprocess.run([sys.executable, "-c", CACHED], capture_output=True, text=True)
            for _ in range(2)]  # fmt: skip
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    value, hits, registries = runs[1].stdout.split()
    assert int(hits) == 1  # the second process loaded the first one's kernel
    assert value == runs[0].stdout.split()[0]
    assert registries == "0"


class _Pair(NamedTuple):
    a: np.ndarray
    b: np.ndarray


@nb.njit
def _weighted(p: _Pair, x: np.ndarray, k: int) -> float:
    return (p.a * x).sum() + k * p.b.sum()


def test_kernel_calls_the_compiled_code_only_for_arguments_it_has_typed() -> None:
    """Every call gives what the dispatcher gives, whatever changes between calls: the values
    in the tuple's arrays, another array of the same kind, a number, or an array of another
    dtype or layout, a new tuple (each typed anew by the dispatcher, which compiles for it).
    Were an argument of another kind given to the compiled code of the first, the float array
    would be read as integers and the sum would be wrong."""
    p = _Pair(np.arange(4, dtype=np.int64), np.ones(4, dtype=np.int64))
    run = Kernel(_weighted)
    x = np.arange(4, dtype=np.int64)
    assert run(p, x, 1) == _weighted(p, x, 1) == 18.0
    entry = run._bound[2]
    p.a[0] = 10  # the same tuple with other values: read at the call
    assert run(p, x + 1, 2) == 10 * 1 + 1 * 2 + 2 * 3 + 3 * 4 + 2 * 4
    assert run._bound[2] is entry  # still bound: the same kinds
    xf = np.linspace(0.5, 2.0, 4)
    assert run(p, xf, 1) == _weighted(p, xf, 1)  # another dtype: the dispatcher compiles
    assert len(_weighted.overloads) == 2 and run._bound[2] is not entry
    assert run(p, x[::2].repeat(2), 1) == _weighted(p, x[::2].repeat(2), 1)
    strided = np.arange(8, dtype=np.int64)[::2]  # another layout
    assert run(p, strided, 1) == _weighted(p, strided, 1)
    q = _Pair(np.ones(4), np.ones(4))  # a new tuple, of floats
    assert run(q, xf, 3) == _weighted(q, xf, 3) == xf.sum() + 12
    assert run(p, x, 1) == _weighted(p, x, 1)


def test_kernel_without_tuples_or_compiled_code_calls_the_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A kernel of plain arrays goes through Numba's dispatcher, which types them quickly;
    a plain function (Numba's JIT disabled) is called as it is; and with a Numba that no
    longer offers the dispatcher's fingerprints, every call goes through the dispatcher."""
    total = nb.njit(lambda x: x.sum())
    run = Kernel(total)
    assert run(np.arange(5)) == 10 and run._bound is None
    assert Kernel(lambda x: x + 1)(1) == 2
    monkeypatch.setattr(jit, "compute_fingerprint", None)
    p = _Pair(np.arange(4, dtype=np.int64), np.ones(4, dtype=np.int64))
    run = Kernel(_weighted)
    x = np.arange(4, dtype=np.int64)
    assert run(p, x, 1) == run(p, x, 1) == _weighted(p, x, 1) and run._bound is None
