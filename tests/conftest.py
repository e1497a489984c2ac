"""Shared fixtures: a temporary directory of the session, and the browser the report test drives,
installed by the test setup itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get install -y --no-install-recommends chromium"


@pytest.fixture(scope="session", autouse=True)
def _temporary_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' temporary files, and those of the commands and workers they start, go below
    pytest's own folder, which pytest prunes: a command killed (SIGKILL) leaves its
    multiprocessing folder behind, and the tests kill several."""
    folder = str(tmp_path_factory.mktemp("tmp"))
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = tempfile.tempdir = folder
    yield
    tempfile.tempdir = None
    if before is None:
        del os.environ["TMPDIR"]
    else:
        os.environ["TMPDIR"] = before


def _find_chromium() -> str | None:
    found = shutil.which("chromium")
    return found or (CHROMIUM if Path(CHROMIUM).is_file() else None)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium: found on the PATH, else installed with apt-get when running as root
    (CI), else the test fails with the command that installs it (no browser download)."""
    found = _find_chromium()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in ("apt-get update", INSTALL):
            done = subprocess.run(cmd.split(), env=env, capture_output=True, text=True)
            if done.returncode != 0:
                pytest.fail(f"'{cmd}' failed ({done.returncode}):\n{done.stderr[-2000:]}")
        found = _find_chromium()
    if found is None:
        pytest.fail(
            f"the report's browser test needs Debian's chromium; install it with"
            f" 'sudo apt-get update && sudo {INSTALL}' (never 'playwright install')"
        )
    return found
