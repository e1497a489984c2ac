"""Sweeps: grids, Sobol indices on a case whose answer is known, checks before work, the folder."""

from __future__ import annotations

import pytest

import socialcreditsim as scs
from minimal import camera, minimal
from socialcreditsim.sweep import parse_vary

SHORT = ["time.end=2018-02-28"]


def _wrongful_only(days: int = 30) -> dict:
    """Searches of people who did nothing: wrongful records are n x FPIR a day, nothing else
    depends on FPIR, and nothing at all on the width of score histogram bins."""
    return minimal(
        days=days,
        behaviours=[camera(fpir=0.01)],
        surveillance={"coverage_urban": 1.0, "coverage_rural": 1.0},
    )


def test_grid_is_every_combination_of_evenly_spaced_values() -> None:
    sweep = scs.Sweep(
        "national",
        ["surveillance.fpir=0.001:0.003:3", "blacklist.entry_below=500:650:4"],
        replicates=2,
    )
    pts = sweep.points
    assert len(pts) == 12 and list(pts["point"]) == list(range(12))
    assert sorted(pts["surveillance.fpir"].unique()) == pytest.approx([0.001, 0.002, 0.003])
    assert sorted(pts["blacklist.entry_below"].unique()) == [500, 550, 600, 650]
    assert len(sweep.jobs()) == 24
    assert sweep.scenarios[-1].blacklist.entry_below == 650


@pytest.mark.parametrize(
    ("text", "grid", "message"),
    [
        ("surveillance.fpir=0.001:0.003", True, "expected key=lo:hi:n"),
        ("surveillance.fpir=0.001:0.003:1", True, "at least 2"),
        ("surveillance.fpir=0.001:0.003:3", False, "no count"),
        ("surveillance.fpr=0:1:3", True, "unknown field"),
        ("surveillance.fpir=0.5:2:3", True, "--vary"),
        ("meta.name=0:1:2", True, "not a number"),
    ],
)
def test_bad_vary_is_refused(text: str, grid: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_vary(text, scs.load_scenario("national"), grid)


def test_bad_sweeps_are_refused_before_any_run() -> None:
    with pytest.raises(ValueError, match="power of two"):
        scs.Sweep("national", ["surveillance.fpir=0.001:0.003"], sobol=12)
    with pytest.raises(ValueError, match="unknown output 'blacklistd'"):
        scs.Sweep("national", ["surveillance.fpir=0.001:0.003:2"], targets=["blacklistd"])
    with pytest.raises(ValueError, match="more than once"):
        scs.Sweep("national", ["surveillance.fpir=0.001:0.003:2"] * 2)


def test_sobol_indices_of_a_known_case(tmp_path) -> None:  # noqa: ANN001
    """Wrongful records depend on FPIR alone (linearly, up to Poisson noise, the same seed at
    every point): its first-order index is about 1 and that of the bin width exactly 0."""
    sweep = scs.Sweep(
        _wrongful_only(),
        ["behaviours.passing.fpir=0.001:0.02", "output.score_bin_width=5:50"],
        n_agents=2_000,
        sobol=32,
        targets=["events_recorded/wrongful"],
    )
    res = sweep.run()
    si = res.sobol.set_index("parameter")
    fpir, width = si.loc["behaviours.passing.fpir"], si.loc["output.score_bin_width"]
    assert width["S1"] == 0 and width["ST"] == 0
    assert abs(fpir["S1"] - 1) < max(3 * fpir["S1_conf"], 0.05)
    assert fpir["ST"] > 0.95
    path = res.save(tmp_path / "sobol")
    again = scs.SweepResults.load(path)
    assert again.method == "sobol" and len(again.points) == 32 * 4
    assert again.sobol.equals(res.sobol)


def test_grid_folder_is_reproducible_from_the_seed(tmp_path) -> None:  # noqa: ANN001
    def run(name: str):  # noqa: ANN202
        sweep = scs.Sweep(
            "national",
            ["surveillance.fpir=0.001:0.05:2"],
            n_agents=5_000,
            replicates=2,
            overrides=SHORT,
            targets=["events_recorded/wrongful", "blacklisted"],
        )
        return sweep.run().save(tmp_path / name)

    a, b = run("a"), run("b")
    for name in ("points", "outputs", "summary"):
        assert (a / f"{name}.parquet").read_bytes() == (b / f"{name}.parquet").read_bytes()
    table = scs.SweepResults.load(a).table()
    assert list(table.columns) == [
        "point",
        "surveillance.fpir",
        "events_recorded/wrongful",
        "blacklisted",
    ]
    low, high = table["events_recorded/wrongful"]
    assert high > low
