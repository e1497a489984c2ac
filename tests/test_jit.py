"""Numba as the kernels load it (socialcreditsim/jit.py): without SciPy's BLAS, which Numba
would import at every start only to learn whether ``np.dot`` may call it."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import numba.np.linalg
from socialcreditsim import kernels
from socialcreditsim.rng import uniform, new_stream

uniform(new_stream(1, 2, 3, 4))  # a kernel called: Numba's registries loaded
assert "scipy.linalg" not in sys.modules, "SciPy's linear algebra was imported"
import numba.np.arraymath
# only the import-time check was answered; everything else keeps Numba's own function
assert numba.np.linalg.ensure_blas is numba.np.arraymath.ensure_blas
assert numba.np.linalg.ensure_blas.__module__ == "numba.np.linalg"
"""


def test_kernels_load_without_scipy_linear_algebra() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
