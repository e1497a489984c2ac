"""Shared fixtures: the browser the report test drives, installed by the test setup itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get install -y --no-install-recommends chromium"


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
