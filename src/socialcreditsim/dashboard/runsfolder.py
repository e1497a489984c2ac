"""What the browser may name on the machine: the entries directly under the runs folder, picked
from lists the server made; anything else is refused with a message."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd


def safe_child(folder: Path, name: str) -> Path:
    """``folder / name`` for a name of an entry directly under ``folder``; anything else (a path,
    '..', a link out of it, a name not there) is refused with a message."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise ValueError(f"{name!r}: only the name of an entry of the runs folder is accepted")
    path = folder / name
    if not path.exists() or path.resolve().parent != folder.resolve():
        raise ValueError(f"{name!r}: not in the runs folder")
    return path


def run_folders(runs: Path) -> pd.DataFrame:
    """The run and comparison folders directly under ``runs``, newest first."""
    rows = []
    for p in runs.iterdir() if runs.is_dir() else []:
        if p.is_dir() and not p.is_symlink() and (p / "manifest.json").is_file():
            try:
                m = json.loads((p / "manifest.json").read_text())
            except (OSError, ValueError):
                continue
            rows.append({
                "folder": p.name,
                "kind": m.get("kind", "run"),
                "scenario": m.get("scenario", ", ".join(a.get("label", "") for a in
                                                         m.get("arms", []))),
                "agents": m.get("n_agents"),
                "seed": m.get("seed", (m.get("seeds") or [None])[0]),
                "written": dt.datetime.fromtimestamp(p.stat().st_mtime).strftime("%Y-%m-%d %H:%M"),
            })  # fmt: skip
    cols = ["folder", "kind", "scenario", "agents", "seed", "written"]
    return pd.DataFrame(rows, columns=cols).sort_values("written", ascending=False)
