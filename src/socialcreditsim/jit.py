"""Numba, as this package's kernels load it (``from .jit import nb``), and ``Kernel``: a kernel
called day after day without Numba typing its arguments again at every call.

Two costs of every command's start are cut here:

- On its first compilation or cache load, Numba imports ``numba.np.arraymath``, which imports
  SciPy's BLAS (about half a second) only to learn whether ``np.dot`` of two vectors may call
  it. No kernel here does linear algebra, so that check is answered "no" while ``arraymath`` is
  imported, here; everything else keeps Numba's own ``ensure_blas``, and SciPy is imported
  where it is used (statistics, the calibration).
- Loading a kernel from Numba's cache first installed every lowering registry of Numba, which
  only compiling uses (``_load_cached``), and parsed the LLVM bitcode cached beside the
  kernel's machine code, which only compiling another function that calls it uses
  (``_unserialize``).
"""

from __future__ import annotations

import importlib
import struct
from typing import Any

import llvmlite.binding as ll
import numba as nb
import numba.np.linalg
from numba.core.caching import Cache
from numba.core.codegen import CPUCodeLibrary, JITCodeLibrary
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


def elf_symbols(obj: bytes) -> set[str] | None:
    """The names of the functions and variables an ELF64 little-endian object file defines
    (None if ``obj`` is not one): what Numba reads from a library's LLVM module."""
    if obj[:6] != b"\x7fELF\x02\x01":
        return None
    (shoff,) = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    # each section's type, offset, size and linked section
    sections = [struct.unpack_from("<4xI16xQQI", obj, shoff + k * shentsize) for k in range(shnum)]
    names = set()
    for kind, offset, size, link in sections:
        if kind != 2:  # SHT_SYMTAB
            continue
        strings = sections[link][1]
        for name, info, index in struct.iter_unpack("<IBxH16x", obj[offset : offset + size]):
            if name and index and info & 0xF != 4:  # defined, and not the source file's name
                start = strings + name
                names.add(obj[start : obj.index(b"\0", start)].decode())
    return names


_numba_unserialize = JITCodeLibrary._unserialize.__func__
_numba_module_for_linking = CPUCodeLibrary._get_module_for_linking


def _unserialize(cls: type, codegen: Any, state: tuple) -> Any:
    """``JITCodeLibrary._unserialize`` of a library cached as machine code, without parsing the
    LLVM bitcode cached beside it (0.1 s of the 1M command's start): the names the library
    defines, which Numba read from that bitcode, are read from the machine code's symbol
    table, and the bitcode is parsed only if another library is linked with this one
    (``_module_for_linking``). Anything else is unserialized as Numba does."""
    name, kind, data = state
    engine = codegen._engine
    names = elf_symbols(data[0]) if kind == "object" else None
    if names is None or not isinstance(getattr(engine, "_defined_symbols", None), set):
        return _numba_unserialize(cls, codegen, state)
    self = codegen.create_library(name)
    self.enable_object_caching()
    self._set_compiled_object(data[0])
    self._cached_bitcode = data[1]
    self._finalize_final_module()
    engine._defined_symbols |= names
    return self


def _module_for_linking(self: Any) -> Any:
    """Numba's ``_get_module_for_linking``, after parsing the bitcode ``_unserialize`` kept."""
    bitcode = self.__dict__.pop("_cached_bitcode", None)
    if bitcode is not None:
        self._shared_module = ll.parse_bitcode(bitcode)
    return _numba_module_for_linking(self)


if all(
    hasattr(CPUCodeLibrary, name)
    for name in ("enable_object_caching", "_set_compiled_object", "_finalize_final_module")
):  # (else a Numba whose libraries changed: its own way)
    JITCodeLibrary._unserialize = classmethod(_unserialize)
    CPUCodeLibrary._get_module_for_linking = _module_for_linking


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
