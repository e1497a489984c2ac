"""Replicates: seeds, independence from the number of processes, bands and their coverage of an
exact distribution of MODEL.md section 9, the folder they write."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import socialcreditsim as scs
from minimal import camera, minimal
from socialcreditsim import replicates as rp
from socialcreditsim.memory import NotEnoughMemory
from socialcreditsim.series import outputs

Z = 5.0
SMALL = {"n_agents": 5_000, "overrides": ["time.end=2018-02-28"]}


def test_seeds_follow_the_base_seed() -> None:
    assert rp.replicate_seeds(7, 3) == [7, 8, 9]
    assert rp.replicate_seeds(2**63 - 1, 2) == [2**63 - 1, 0]


def test_replicates_are_the_runs_of_their_seeds_whatever_the_processes() -> None:
    one = scs.MultiSim("national", seed=3, replicates=3, processes=1, **SMALL).run()
    two = scs.MultiSim("national", seed=3, replicates=3, processes=2, **SMALL).run()
    pd.testing.assert_frame_equal(one.outputs, two.outputs)
    pd.testing.assert_frame_equal(one.series, two.series)
    alone = scs.Sim("national", seed=4, **SMALL).run()
    second = one.outputs[one.outputs["replicate"] == 1].set_index("output")["value"]
    pd.testing.assert_series_equal(second, outputs(alone), check_names=False)
    assert one.seeds == [3, 4, 5]


def test_bands_are_weibull_percentiles_of_the_replicates() -> None:
    values = np.arange(1.0, 20.0)  # 19 values: the 10th and 90th percentiles are the 2nd, 18th
    med, lo, hi = rp.percentiles(values, (10, 90))
    assert (med, lo, hi) == (10.0, 2.0, 18.0)
    with pytest.raises(ValueError, match="0 <= LO < 50 < HI <= 100"):
        rp.check_band((50, 90))


def test_bands_cover_an_exact_distribution_at_their_nominal_level() -> None:
    """MODEL.md section 9: searches of people who did nothing give S x FPIR wrongful
    attributions a day, independent from day to day; here S is every scored person, so each
    day's count is Poisson with mean n_scored x FPIR. The band of 19 replicates covers the
    exact distribution, averaged over days, with the nominal probability. Coverage on one day
    is Beta(16, 4) for the 10-90 band (Beta(10, 10) for 25-75), so the tolerance is Z of its
    standard errors over the days. The midpoint rule counts half of the end points' mass."""
    fpir, days = 0.5, 200
    sc = minimal(
        days=days,
        behaviours=[camera(fpir=fpir)],
        surveillance={"coverage_urban": 1.0, "coverage_rural": 1.0},
    )
    multi = scs.MultiSim(sc, n_agents=20_000, seed=11, replicates=19).run()
    mean = multi.first.manifest["n_scored"] * fpir
    wide = (
        multi.series.query("metric == 'events_recorded' and truth == 'wrongful'")
        .pivot(index="date", columns="replicate", values="value")
        .to_numpy()
    )
    assert wide.shape == (days, 19)
    for band, (a, b) in (((10, 90), (16, 4)), ((25, 75), (10, 10))):
        _, lo, hi = rp.percentiles(wide, band, axis=1)
        covered = (
            stats.poisson.cdf(hi - 1, mean)
            - stats.poisson.cdf(lo, mean)
            + 0.5 * (stats.poisson.pmf(lo, mean) + stats.poisson.pmf(hi, mean))
        )
        nominal = (band[1] - band[0]) / 100
        se = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)) / days)
        assert abs(covered.mean() - nominal) < Z * se, (band, covered.mean())
    bands = multi.bands.query("metric == 'events_recorded' and truth == 'wrongful'")
    assert np.array_equal(bands["lower"].to_numpy(), rp.percentiles(wide, (10, 90), axis=1)[1])


def test_folder_is_a_run_folder_with_the_replicates(tmp_path) -> None:  # noqa: ANN001
    multi = scs.MultiSim("national", seed=1, replicates=2, **SMALL).run()
    path = multi.save(tmp_path / "reps")
    again = rp.MultiResults.load(path)
    pd.testing.assert_frame_equal(again.outputs, multi.outputs)
    assert again.seeds == [1, 2] and again.band == (10.0, 90.0)
    assert scs.Results.load(path).manifest["seed"] == 1
    head = again.headline()
    assert (head["lower"] <= head["median"]).all() and (head["median"] <= head["upper"]).all()
    band = again.series_band("blocked_attempts", "flights", cumulative=True)
    assert band["median"].is_monotonic_increasing
    with pytest.raises(FileNotFoundError, match="without replicates"):
        rp.MultiResults.load(multi.first.save(tmp_path / "plain"))


def test_processes_fit_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = scs.MultiSim("national", replicates=4, **SMALL).jobs()
    need = sum(scs.estimate_memory(jobs[0].scenario, jobs[0].n_agents).values())
    monkeypatch.setattr(rp, "available_memory", lambda: int(1.5 * need))
    assert rp.processes_for(jobs, processes=4) == 1
    monkeypatch.setattr(rp, "available_memory", lambda: need // 2)
    with pytest.raises(NotEnoughMemory, match="one run needs about"):
        rp.processes_for(jobs)


@pytest.mark.parametrize("processes", [1, 2])
def test_threads_are_those_of_each_replicate_run(processes: int) -> None:
    """``threads`` is the number of threads of every replicate run, whether the replicates run
    one after another here (whose default is automatic: one thread for so small a run) or in
    worker processes (default one); the first replicate's manifest says how many it had."""
    multi = scs.MultiSim(
        "national", seed=3, replicates=2, processes=processes, threads=2, **SMALL
    ).run()
    assert multi.first.manifest["timings"]["threads"] == 2
    plain = scs.MultiSim("national", seed=3, replicates=2, processes=processes, **SMALL).run()
    assert plain.first.manifest["timings"]["threads"] == 1
    pd.testing.assert_frame_equal(multi.outputs, plain.outputs)  # the same results either way


def test_threads_lower_the_default_number_of_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``threads`` per run, one process per ``threads`` cores unless told otherwise."""
    jobs = scs.MultiSim("national", replicates=6, **SMALL).jobs()
    monkeypatch.setattr(rp.os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setattr(rp, "available_memory", lambda: 2**50)
    assert rp.processes_for(jobs) == 6
    assert rp.processes_for(jobs, threads=2) == 4
    assert rp.processes_for(jobs, threads=3) == 2
    assert rp.processes_for(jobs, threads=16) == 1
    assert rp.processes_for(jobs, processes=5, threads=4) == 5


def test_a_replicate_travels_small_and_comes_back_the_same() -> None:
    """What a worker sends back is pickled with categories (a quarter of the size) and read
    back as the same frame, dtypes included."""
    import pickle

    rep = rp._do(rp.Job(scs.load_scenario("national", ["time.end=2018-03-31"]), 5_000, 1), 1)
    data = pickle.dumps(rep)
    back = pickle.loads(data)
    pd.testing.assert_frame_equal(back.national, rep.national, check_exact=True)
    assert back.national.dtypes.equals(rep.national.dtypes)
    assert len(data) < 0.5 * len(pickle.dumps(rep.national))
