"""Exact discrete draws on the project's counter-based streams (``rng.py``).

Everything random in a run comes from ``rng.new_stream`` streams, never from NumPy's generators,
so results do not depend on NumPy's version. This module adds what ``rng.py`` lacks:

- :func:`binomial`: exact inversion. For a small mean (n min(p, 1 - p) < 30) a sequential search
  up from 0; above, a search that starts at the mode and walks outwards, one step down then one
  step up: any fixed order of the support inverts a uniform exactly, and this order makes the
  expected number of steps about 1.6 standard deviations. Probabilities come from the mode's
  (``lgamma``) by the exact ratio f(k+1) / f(k) = (n - k) p / ((k + 1) q). Exact but for
  floating-point rounding: the probabilities are off by a relative 1e-10 or so at a locality's
  sizes (1e-9 at a million). Should rounding leave the uniform above the total of the computed
  probabilities, the draw starts again with a fresh uniform. A draw costs about 1.6 standard
  deviations of steps (a national locality, its age bands and 256 blocks: about 26 us).
- :func:`multinomial`: sequential conditional binomials, X_j ~ Bin(n - X_1 - ... - X_{j-1},
  p_j / (p_j + ... + p_k)), exact; the tail sums are summed from the end, so a category of zero
  weight gets nothing and the last category with weight takes the rest.
- :func:`shuffle`: Fisher-Yates on a stream.
"""

from __future__ import annotations

import math

import numpy as np

from .jit import nb
from .rng import randint, uniform

__all__ = ["binomial", "multinomial", "shuffle", "SMALL_MEAN"]

SMALL_MEAN = 30.0  # below this n min(p, q), search up from 0; above, from the mode


@nb.njit(cache=True)
def _binomial_small(state: np.ndarray, n: int, p: float) -> int:
    """Bin(n, p) by sequential search from 0 (p <= 1/2, n p small, so q^n does not underflow)."""
    q = 1.0 - p
    ratio = p / q
    f0 = math.exp(n * math.log1p(-p))
    while True:
        u = uniform(state)
        k = 0
        f = f0
        while u >= f:
            u -= f
            k += 1
            if k > n:
                break
            f *= ratio * (n - k + 1) / k
        if k <= n:
            return k


@nb.njit(cache=True)
def _binomial_mode(state: np.ndarray, n: int, p: float) -> int:
    """Bin(n, p) by a search that starts at the mode and alternates down and up."""
    q = 1.0 - p
    m = min(int((n + 1) * p), n)
    fm = math.exp(
        math.lgamma(n + 1.0)
        - math.lgamma(m + 1.0)
        - math.lgamma(n - m + 1.0)
        + m * math.log(p)
        + (n - m) * math.log1p(-p)
    )
    down = q / p  # f(k - 1) / f(k) = k q / ((n - k + 1) p)
    up = p / q  # f(k + 1) / f(k) = (n - k) p / ((k + 1) q)
    while True:
        u = uniform(state) - fm
        if u < 0.0:
            return m
        lo, hi, flo, fhi = m, m, fm, fm
        while lo > 0 or hi < n:
            if lo > 0:
                flo *= down * lo / (n - lo + 1)
                lo -= 1
                u -= flo
                if u < 0.0:
                    return lo
            if hi < n:
                fhi *= up * (n - hi) / (hi + 1)
                hi += 1
                u -= fhi
                if u < 0.0:
                    return hi


@nb.njit(cache=True)
def binomial(state: np.ndarray, n: int, p: float) -> int:
    """An exact Bin(n, p) draw from ``state`` (module docstring)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    flip = p > 0.5
    pp = 1.0 - p if flip else p
    if n * pp < SMALL_MEAN:
        k = _binomial_small(state, n, pp)
    else:
        k = _binomial_mode(state, n, pp)
    return n - k if flip else k


@nb.njit(cache=True)
def multinomial(state: np.ndarray, n: int, weights: np.ndarray, out: np.ndarray) -> None:
    """An exact multinomial draw of ``n`` over ``weights`` (not necessarily normalised, >= 0)
    into ``out``, by sequential conditional binomials."""
    k = len(weights)
    tail = np.empty(k)
    s = 0.0
    for j in range(k - 1, -1, -1):
        s += weights[j]
        tail[j] = s
    rest = n
    for j in range(k):
        if rest == 0 or weights[j] <= 0.0:
            out[j] = 0
            continue
        x = binomial(state, rest, weights[j] / tail[j])  # 1 when nothing weighs after j
        out[j] = x
        rest -= x
    if rest:  # only if every weight is zero: nothing to draw from
        out[k - 1] += rest


@nb.njit(cache=True)
def shuffle(state: np.ndarray, a: np.ndarray) -> None:
    """Shuffle ``a`` in place (Fisher-Yates: every permutation equally likely)."""
    for i in range(len(a) - 1, 0, -1):
        j = randint(state, i + 1)
        a[i], a[j] = a[j], a[i]
