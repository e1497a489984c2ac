"""Arrow columns and tables made from NumPy buffers, with the types pandas would have given
them (categories as dictionaries, NaN as null, text as UTF-8): the engine's result tables are
built so and written to Parquet as they are (``results.py``), and become DataFrames only when
read. ``pa.array`` and ``pa.table`` would import pandas to ask whether a column is one of its
own: half a second that a run writing its folder does not need."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["arrow_column", "arrow_table"]


def arrow_column(x: np.ndarray | list[str], names: list[str] | None = None) -> pa.Array:
    """A column as an Arrow array made from its buffers, as pandas would have made it: a NaN
    is null, text is UTF-8; with ``names``, ``x`` holds codes into them (a dictionary array,
    pandas' categories, the codes in the smallest integers that hold them, as pandas keeps
    them)."""
    if names is not None:
        codes = np.asarray(x).astype(np.min_scalar_type(-len(names)), copy=False)
        return pa.DictionaryArray.from_arrays(arrow_column(codes), arrow_column(names))
    x = np.asarray(x)
    if x.dtype.kind in "OU":  # text: UTF-8 bytes and where each value starts
        data = [str(v).encode() for v in x.tolist()]
        ends = np.cumsum([0] + [len(b) for b in data], dtype=np.int64)
        buffers = [None, pa.py_buffer(ends.astype(np.int32)), pa.py_buffer(b"".join(data))]
        return pa.Array.from_buffers(pa.string(), len(x), buffers)
    x = np.ascontiguousarray(x)
    if x.dtype == np.bool_:  # (Arrow keeps a bit a value)
        return pa.Array.from_buffers(pa.bool_(), len(x), [None, _bits(x)])
    valid, nulls = None, 0
    if x.dtype.kind == "f":
        missing = np.isnan(x)
        nulls = int(missing.sum())
        valid = _bits(~missing) if nulls else None
    buffers = [valid, pa.py_buffer(x)]
    return pa.Array.from_buffers(pa.from_numpy_dtype(x.dtype), len(x), buffers, null_count=nulls)


def _bits(x: np.ndarray) -> pa.Buffer:
    return pa.py_buffer(np.packbits(x, bitorder="little"))


def arrow_table(columns: dict[str, pa.Array | np.ndarray]) -> pa.Table:
    """A table of named columns (NumPy ones made with :func:`arrow_column`)."""
    arrays = [c if isinstance(c, pa.Array) else arrow_column(c) for c in columns.values()]
    return pa.Table.from_arrays(arrays, names=list(columns))
