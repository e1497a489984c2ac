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


LINKED = """
import llvmlite.binding as ll
import numba as nb
from numba.core.codegen import JITCodeLibrary
from numba.core.registry import cpu_target
from socialcreditsim import jit
from socialcreditsim.rng import new_stream, uniform

states, parsed = [], []
unserialize = JITCodeLibrary._unserialize.__func__
JITCodeLibrary._unserialize = classmethod(
    lambda cls, codegen, state: (states.append(state), unserialize(cls, codegen, state))[1]
)
parse = ll.parse_bitcode
ll.parse_bitcode = lambda bitcode: (parsed.append(1), parse(bitcode))[1]

value = uniform(new_stream(1, 2, 3, 4))
loaded = len(parsed)


@nb.njit
def caller(k):
    return uniform(new_stream(1, 2, 3, k))


same = caller(4) == value  # compiled here: links the libraries loaded from the cache
numba_names = []
for _, _, (_, bitcode) in states:
    module = parse(bitcode)
    numba_names.append({f.name for f in module.functions if not f.is_declaration}
                       | {g.name for g in module.global_variables if not g.is_declaration})
ours = [jit.elf_symbols(machine_code) for _, _, (machine_code, _) in states]
engine = cpu_target.target_context.codegen()._engine
known = all(names <= engine._defined_symbols for names in numba_names)
print(sum(uniform.stats.cache_hits.values()), len(states), loaded, len(parsed) - loaded, same,
      ours == numba_names and known)
"""


def test_kernels_load_from_the_cache_without_parsing_their_bitcode() -> None:
    """Parsing the LLVM bitcode cached beside each kernel's machine code took 0.1 s of the 1M
    command's start, for names the machine code's symbol table has: a fresh process that finds
    its kernels compiled reads the same names from it, and parses the bitcode only when it
    compiles a function that calls them."""
    runs = [subprocess.run([sys.executable, "-c", LINKED], capture_output=True, text=True)
            for _ in range(2)]  # fmt: skip
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    hits, libraries, loaded, linked, same, names = runs[1].stdout.split()
    assert int(hits) == 1 and int(libraries) >= 2  # the kernel and what it calls
    assert int(loaded) == 0  # no bitcode parsed to load them
    assert int(linked) >= 1 and same == "True"  # parsed to link them into a new function
    assert names == "True"  # the names Numba would have read from the bitcode, and known


def test_elf_symbols_is_none_for_what_is_not_an_elf64_object() -> None:
    assert jit.elf_symbols(b"\xcf\xfa\xed\xfe" + bytes(60)) is None  # Mach-O
    assert jit.elf_symbols(b"\x7fELF\x01\x01" + bytes(58)) is None  # 32-bit ELF


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
