"""Comparisons: arms, paired differences under common random numbers, the folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socialcreditsim as scs
from socialcreditsim.compare import compare_folders, make_arms

SHORT = ["time.end=2018-02-28"]
SMALL = {"n_agents": 5_000, "replicates": 3, "sets": SHORT, "seed": 2}


def test_arms_are_scenarios_then_variants() -> None:
    arms = make_arms(
        ["national"], ["surveillance.fpir=0.001", "score.start=900; blacklist.entry_below=500"]
    )
    assert [a.label for a in arms] == [
        "national",
        "surveillance.fpir=0.001",
        "score.start=900; blacklist.entry_below=500",
    ]
    assert arms[1].scenario.surveillance.fpir == 0.001
    assert arms[2].scenario.score.start == 900 and arms[2].scenario.blacklist.entry_below == 500
    assert [a.label for a in make_arms(["national", "rongcheng"])] == ["national", "rongcheng"]


@pytest.mark.parametrize(
    ("scenarios", "variants", "message"),
    [
        (["national"], [], "needs two arms"),
        (["national"], ["surveillance.fpr=0.1"], "--variant surveillance.fpr: unknown field"),
        (["national"], ["surveillance.fpir=2"], r"at most 1 \(a probability\)"),
        (["national", "national"], [], "more than once"),
        (["national"], [" ; "], "expected KEY=VALUE"),
    ],
)
def test_bad_arms_are_refused_before_any_run(
    scenarios: list[str], variants: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_arms(scenarios, variants)


def test_paired_differences_under_common_random_numbers() -> None:
    """The same seeds in every arm: a variant that changes nothing differs by exactly zero in
    every replicate; one without wrongful records differs by minus the baseline's."""
    start = scs.load_scenario("national").score.start
    res = scs.Comparison(
        ["national"], [f"score.start={start}", "surveillance.fpir=0"], **SMALL
    ).run()
    d = res.differences.set_index(["arm", "output"])
    same = d.loc[f"score.start={start}"]
    assert (same[["diff_median", "diff_lower", "diff_upper", "diff_mean"]] == 0).all().all()
    wrong = d.loc[("surveillance.fpir=0", "events_recorded/wrongful")]
    base = res.outputs.query("arm == 'national' and output == 'events_recorded/wrongful'")
    assert base["value"].min() > 0
    assert wrong["arm_median"] == 0
    assert wrong["diff_median"] == -np.median(base["value"])
    assert wrong["diff_lower"] <= wrong["diff_median"] <= wrong["diff_upper"]
    assert wrong["diff_ci_lower"] <= wrong["diff_mean"] <= wrong["diff_ci_upper"]
    table = res.table()
    assert list(table["arm"].unique()) == res.arms[1:]
    assert table["figure"].str.contains("wrongly recorded events").any()


def test_folder_is_reproducible_from_the_seed(tmp_path) -> None:  # noqa: ANN001
    first = scs.Comparison(["national"], ["surveillance.fpir=0.001"], **SMALL).run()
    second = scs.Comparison(["national"], ["surveillance.fpir=0.001"], **SMALL).run()
    a, b = first.save(tmp_path / "a"), second.save(tmp_path / "b")
    for name in ("series", "outputs", "differences", "summary"):
        assert (a / f"{name}.parquet").read_bytes() == (b / f"{name}.parquet").read_bytes()
    again = scs.CompareResults.load(a)
    pd.testing.assert_frame_equal(again.differences, first.differences)
    assert again.scenario(again.arms[1]).surveillance.fpir == 0.001
    assert (a / "arm2.toml").is_file()
    band = again.series_band(again.arms[1], "events_recorded", truth="wrongful")
    assert (band["lower"] <= band["upper"]).all()
    with pytest.raises(FileNotFoundError, match="not a compare folder"):
        scs.CompareResults.load(tmp_path)


def test_finished_folders_compare_as_the_comparison_run(tmp_path) -> None:  # noqa: ANN001
    """Two replicates folders run with the same agents and seeds compare pair by pair exactly
    as a comparison that runs the same arms; folders with other seeds are refused."""
    variant = "surveillance.fpir=0.001"
    n, reps, seed = SMALL["n_agents"], SMALL["replicates"], SMALL["seed"]
    base = scs.MultiSim("national", n, seed, reps, overrides=SHORT).run().save(tmp_path / "base")
    arm = scs.MultiSim("national", n, seed, reps, overrides=[*SHORT, variant]).run()
    res = compare_folders([base, arm.save(tmp_path / "variant")])
    run = scs.Comparison(["national"], [variant], **SMALL).run()
    assert res.arms == ["base", "variant"]
    got = res.differences.drop(columns="arm").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, run.differences.drop(columns="arm"))
    assert (got["diff_median"] != 0).any()
    again = scs.CompareResults.load(res.save(tmp_path / "compared"))
    assert again.scenario("variant").surveillance.fpir == 0.001
    other = scs.Sim("national", n_agents=n, seed=seed + 7, overrides=SHORT).run()
    with pytest.raises(ValueError, match="same agents, seeds and period"):
        compare_folders([base, other.save(tmp_path / "other")])
