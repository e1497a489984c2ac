"""The README's worked example is what `socialcreditsim run` prints today: its figures and the
person's story, checked against a run of the quickstart command (national, 1,000,000 agents,
seed 0), so that a model change that moves them makes the README change with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcreditsim.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
ENV = {"COLUMNS": "250"}  # wide tables: no cell is cut


def _example() -> tuple[list[str], str, list[str]]:
    """The worked example's table rows, the audited person and the story's lines."""
    text = README.read_text()
    section = text[text.index("## A worked example") :]
    blocks = re.findall(r"```[a-z]*\n(.*?)```", section, flags=re.DOTALL)
    rows = [line for line in blocks[0].splitlines() if line.startswith(("│", "┃"))]
    command, *story = blocks[1].splitlines()
    return rows, command.split()[-1], story


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split("[│┃]", line.strip().strip("│┃"))]


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("readme") / "run"
    done = CliRunner().invoke(app, ["run", "--no-report", "--out", str(out)], env=ENV)
    assert done.exit_code == 0, done.output
    return done.output, out


def test_the_figures_are_those_printed(printed: tuple[str, Path]) -> None:
    output, _ = printed
    shown = {cells[0]: cells for cells in map(_cells, output.splitlines()) if len(cells) > 2}
    rows, _, _ = _example()
    assert len(rows) >= 6
    for row in rows:
        cells = _cells(row)
        assert shown.get(cells[0]) == cells, f"README: {cells}\nprinted: {shown.get(cells[0])}"


def test_the_story_is_the_persons(printed: tuple[str, Path]) -> None:
    _, out = printed
    _, person, story = _example()
    done = CliRunner().invoke(app, ["explain", str(out), person], env=ENV)
    assert done.exit_code == 0, done.output
    told = done.output.splitlines()
    at = -1
    gap = True  # the README's first line is the story's first
    for line in story:
        if line == "...":
            gap = True
            continue
        assert line in told[at + 1 :], f"not in the story, or out of order: {line}"
        found = told.index(line, at + 1)
        assert gap or found == at + 1, f"README skips lines before: {line}"
        at, gap = found, False
    assert story[0] == told[0]
