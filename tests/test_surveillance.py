"""Surveillance: coverage from the camera schedule, attribution, shaming, and the base rates of
face recognition (MODEL.md sections 4 and 9, Rudmin 2006)."""

from __future__ import annotations

import numpy as np

from minimal import camera, minimal, run, total

Z = 5.0
EVERYWHERE = {"coverage_urban": 1.0, "coverage_rural": 1.0}


def test_wrongful_attributions_are_searches_times_fpir() -> None:
    """S searches of people who did nothing (nothing of theirs to identify: FNIR 1) give
    S x FPIR wrongful attributions, Poisson: tolerance Z sqrt(expected)."""
    fpir = 1e-3
    sc = minimal(days=60, behaviours=[camera("passing", 365.0, 1.0, fpir)], surveillance=EVERYWHERE)
    res, _ = run(sc, n_agents=50_000)
    searches = total(res, "events_true")
    wrongful = total(res, "events_recorded", truth="wrongful")
    assert total(res, "events_recorded", truth="rightful") == 0
    assert abs(wrongful - searches * fpir) < Z * np.sqrt(searches * fpir)


def test_ppv_reproduces_rudmin() -> None:
    """Rudmin's case at full size: 300 million searches of innocents at FPIR 1e-4 and 1,000
    searches of targets found with sensitivity 0.4 (FNIR 0.6): 30,000 wrongful and 400 rightful
    alerts expected, PPV = 400 / 30,400 = 0.01316.

    About 790,000 scored agents searched once a day for 380 days make the 300 million; the
    targets' rate is in Rudmin's ratio of 1,000 to 300 million. R rightful and W wrongful alerts
    are independent Poisson counts, so by the delta method Var(PPV) = (W^2 Var R + R^2 Var W) /
    (R + W)^4 = (W^2 R + R^2 W) / (R + W)^4: se = 6.5e-4 at R = 400, W = 30,000, and the
    tolerance Z se = 0.0033.

    Power: with sensitivity 0.6 the PPV would be 600 / 30,600 = 0.01961, with se 7.9e-4; the
    test passes it only if the PPV falls below 0.01316 + 0.0033 = 0.01643, 4.0 of its standard
    errors below its mean: probability 3e-5. So a sensitivity of 0.6 instead of 0.4 fails."""
    n, days = 1_000_000, 380
    innocents = camera("passing", 365.0, 1.0, 1e-4)
    targets = camera("wanted", 365.0 * 1000 / 300e6, 0.6, 0.0)
    sc = minimal(days=days, behaviours=[innocents, targets], surveillance=EVERYWHERE)
    res, sim = run(sc, n_agents=n)
    searches = sim.population.n_scored * days
    assert abs(searches / 300e6 - 1) < 0.01
    right = total(res, "events_recorded", truth="rightful")
    wrong = total(res, "events_recorded", truth="wrongful")
    assert total(res, "events_recorded", item="wanted", truth="wrongful") == 0
    assert total(res, "events_recorded", item="passing", truth="rightful") == 0
    R = 0.4 * searches * 1000 / 300e6  # expected rightful alerts, 400 at 300 million searches
    W = 1e-4 * searches  # expected wrongful alerts, 30,000
    expected = R / (R + W)
    se = np.sqrt(W**2 * R + R**2 * W) / (R + W) ** 2
    ppv = right / (right + wrong)
    assert abs(ppv - expected) < Z * se
    assert abs(expected - 0.0132) < 1e-4  # Rudmin's figure, at this size


def test_coverage_from_the_camera_schedule() -> None:
    """Coverage from cameras: 1 - exp(-c x cameras x share / people), urban (80% of the cameras,
    the urban people) and rural (20%, the rural people), with c = 0.5 and 1 million people half
    urban. 200,000 cameras for 30 days, then 1,000,000 for 30 days: urban coverage 0.148 then
    0.551, rural 0.039 then 0.181.

    Rightful camera records in a region and window are Poisson with mean people x days x
    coverage x (1 - FNIR) (one event a person-day, FNIR 0.2, FPIR 0): tolerance Z sqrt(mean),
    1.5-6% of each count. Ignoring coverage, swapping the urban and rural shares or holding the
    first camera count moves some count by a factor of 1.8 or more."""
    c, urban_cams, fnir, size = 0.5, 0.8, 0.2, 1_000_000
    cams_before, cams_after, switch, days = 2e5, 1e6, 30, 60
    regions = [
        {"name": "Town", "share": 1.0, "urban_share": 1.0},
        {"name": "Country", "share": 1.0, "urban_share": 0.0},
    ]
    sc = minimal(
        days=days,
        behaviours=[camera("crossing", 365.0, fnir, 0.0)],
        population={"regions": regions, "size": size},
        surveillance={
            "cameras": [
                ["2020-01-01", cams_before],
                ["2020-01-30", cams_before],  # day 29
                ["2020-01-31", cams_after],  # day 30
            ],
            "coverage_per_camera_per_person": c,
            "urban_camera_share": urban_cams,
        },
    )
    res, sim = run(sc, n_agents=20_000)
    pop = sim.population
    u = pop.loc_scored[pop.loc_urban].sum() / pop.n_scored  # share of scored agents urban
    assert abs(u - 0.5) < 0.01
    recorded = {
        name: res.series("events_recorded", truth="rightful", region=name).to_numpy()
        for name in ("Town", "Country")
    }
    for cams, lo, hi in ((cams_before, 0, switch), (cams_after, switch, days)):
        for name, urban, share, people in (
            ("Town", True, urban_cams, size * u),
            ("Country", False, 1 - urban_cams, size * (1 - u)),
        ):
            coverage = 1 - np.exp(-c * cams * share / people)
            n = pop.loc_scored[pop.loc_urban == urban].sum()
            expected = n * (hi - lo) * coverage * (1 - fnir)
            got = recorded[name][lo:hi].sum()
            assert abs(got - expected) < Z * np.sqrt(expected), (name, lo, got, expected)
    assert total(res, "events_recorded", truth="wrongful") == 0


def test_shaming_probability_below_one() -> None:
    """Each recorded camera event, rightful or wrongful, is shown on a screen with probability
    0.3: shamings are binomial given the recorded events, so shamed / recorded has standard
    error sqrt(0.3 x 0.7 / recorded) and the tolerance is Z of them: 0.008 for the ~83,000
    rightful records, 0.017 for the ~18,000 wrongful ones. Doubling the probability, or never
    shaming a wrongful record, fails."""
    p = 0.3
    beh = camera("jaywalking", 36.5, 0.3, 0.5) | {"shaming_probability": p}
    sc = minimal(days=30, behaviours=[beh], surveillance=EVERYWHERE)
    res, _ = run(sc, n_agents=50_000)
    for truth in ("rightful", "wrongful"):
        recorded = total(res, "events_recorded", truth=truth)
        shamed = total(res, "shamings", truth=truth)
        assert recorded > 10_000, truth
        assert abs(shamed / recorded - p) < Z * np.sqrt(p * (1 - p) / recorded), truth
