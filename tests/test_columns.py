"""Arrow columns from NumPy buffers (columns.py): what pyarrow's own conversion makes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from socialcreditsim.columns import arrow_column


@pytest.mark.parametrize(
    "column",
    [
        np.array([1.5, np.nan, -0.0, np.inf]),
        np.array([], dtype=float),
        np.array([3, -1, 2**40], dtype=np.int64),
        np.array([-3, 7], dtype=np.int8),
        np.array([True, False, True, True, False, False, True, False, True]),
        np.array(["2018-01-01", "2020-02-29"], dtype="datetime64[ms]"),
        np.array(["", "Zürich", "北京", "a"], dtype=object),
        np.array(["rightful", "", "wrongful", "rightful", "北京", "", "wrongful"], dtype=object),
        np.random.default_rng(3).choice(["event", "grade_change", "Zürich", ""], 1000),
        np.array(["national", "Guangdong"]),
        np.array([], dtype=object),
    ],
)
def test_arrow_columns_are_what_pyarrow_makes_of_them(column: np.ndarray) -> None:
    """The engine's tables are built from NumPy buffers (``pa.array`` would import pandas):
    the same arrays as pyarrow's own conversion of the same column, a NaN made null."""
    expected = pa.array(column.tolist() if column.dtype == object else column, from_pandas=True)
    if column.dtype == object and len(column) == 0:
        expected = pa.array([], pa.string())
    got = arrow_column(column)
    got.validate(full=True)
    assert got.equals(expected)
    codes = np.array([1, 0, 1], dtype=np.int8)
    names = ["a", "b"]
    assert arrow_column(codes, names).equals(pa.DictionaryArray.from_arrays(codes, names))
