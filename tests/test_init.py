"""The package's public names (socialcreditsim/__init__.py): each one loads, and a bare import
loads none of the heavy libraries, so that a command pays only for what it runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import sys
import socialcreditsim as scs
heavy = ("numba", "pandas", "pyarrow", "matplotlib")
assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]
assert set(scs.__all__) <= set(dir(scs))
assert sorted(scs.__all__) == sorted(scs._HOME)
for name in scs.__all__:
    assert getattr(scs, name).__name__ == name
assert scs.Sim.__module__ == "socialcreditsim.engine"
"""


def test_every_public_name_loads_and_a_bare_import_loads_no_engine() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_an_unknown_name_is_an_attribute_error() -> None:
    import socialcreditsim as scs

    with pytest.raises(AttributeError, match="no attribute 'Simulation'"):
        scs.Simulation  # noqa: B018
