"""Counter-based random streams for Numba kernels.

A stream is keyed by (seed, locality, day, purpose), never by thread (MODEL.md section 8), so a
run gives the same bytes whatever the number of threads. The generator is splitmix64: a 64-bit
counter, hashed. ``state`` is a one-element uint64 array, advanced in place.
"""

from __future__ import annotations

import math

import numpy as np

from .jit import nb

__all__ = ["new_stream", "uniform", "poisson", "geometric_days", "randint"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@nb.njit(cache=True)
def _mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True)
def new_stream(seed: int, locality: int, day: int, purpose: int) -> np.ndarray:
    """A fresh stream for one (seed, locality, day, purpose)."""
    h = _mix(np.uint64(seed) + _GOLDEN)
    h = _mix(h ^ (np.uint64(locality) * np.uint64(0xD6E8FEB86659FD93)))
    h = _mix(h ^ (np.uint64(day + 1) * np.uint64(0xA0761D6478BD642F)))
    h = _mix(h ^ (np.uint64(purpose + 1) * np.uint64(0xE7037ED1A0B428DB)))
    s = np.empty(1, dtype=np.uint64)
    s[0] = h
    return s


@nb.njit(cache=True)
def uniform(state: np.ndarray) -> float:
    """Uniform on [0, 1) with 53 random bits."""
    state[0] += _GOLDEN
    return (_mix(state[0]) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True)
def randint(state: np.ndarray, n: int) -> int:
    """Uniform integer in [0, n)."""
    return min(int(uniform(state) * n), n - 1)


@nb.njit(cache=True)
def _log_factorial(k: float) -> float:
    return math.lgamma(k + 1.0)


@nb.njit(cache=True)
def poisson(state: np.ndarray, lam: float) -> int:
    """Poisson draw: inversion below mean 10, Hormann's PTRS transformed rejection above."""
    if lam <= 0.0:
        return 0
    if lam < 10.0:
        k = 0
        p = math.exp(-lam)
        s = p
        u = uniform(state)
        while u > s:
            k += 1
            p *= lam / k
            s += p
            if k > 1000:
                break
        return k
    b = 0.931 + 2.53 * math.sqrt(lam)
    a = -0.059 + 0.02483 * b
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = uniform(state) - 0.5
        v = uniform(state)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= v_r:
            return int(k)
        if k < 0 or (us < 0.013 and v > us):
            continue
        # the rest only here, about one draw in ten: the same numbers, later
        inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
        if (math.log(v) + math.log(inv_alpha) - math.log(a / (us * us) + b)) <= (
            -lam + k * math.log(lam) - _log_factorial(k)
        ):
            return int(k)


@nb.njit(cache=True)
def geometric_days(state: np.ndarray, p: float) -> int:
    """Days until the first success of a daily Bernoulli(p), >= 1; a huge number if p == 0."""
    if p <= 0.0:
        return 1 << 30
    if p >= 1.0:
        return 1
    u = uniform(state)
    return 1 + int(math.log(1.0 - u) / math.log(1.0 - p))
