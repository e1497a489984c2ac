"""Surveillance: base rates of face recognition (MODEL.md section 9, Rudmin 2006)."""

from __future__ import annotations

import numpy as np
import pytest

from minimal import camera, minimal, run, total
from socialcreditsim.surveillance import screening

Z = 5.0


def test_rudmin_arithmetic() -> None:
    s = screening(innocent_searches=300e6, target_searches=1000, sensitivity=0.4, fpir=1e-4)
    assert s.wrongful == pytest.approx(30_000)
    assert s.rightful == pytest.approx(400)
    assert s.ppv == pytest.approx(0.0132, abs=5e-5)


def test_wrongful_attributions_are_searches_times_fpir() -> None:
    """S searches of people who did nothing (nothing of theirs to identify: FNIR 1) give
    S x FPIR wrongful attributions, Poisson: tolerance Z sqrt(expected)."""
    fpir = 1e-3
    sc = minimal(
        days=60,
        behaviours=[camera("passing", 365.0, 1.0, fpir)],
        surveillance={"coverage_urban": 1.0, "coverage_rural": 1.0},
    )
    res, _ = run(sc, n_agents=50_000)
    searches = total(res, "events_true")
    wrongful = total(res, "events_recorded", truth="wrongful")
    assert total(res, "events_recorded", truth="rightful") == 0
    assert abs(wrongful - searches * fpir) < Z * np.sqrt(searches * fpir)


def test_ppv_reproduces_rudmin() -> None:
    """Innocents searched at FPIR 1e-4 and targets found with sensitivity 0.4, in Rudmin's
    ratio of 1,000 targets to 300 million people: the share of rightful alerts is the PPV
    0.0132. Tolerance: Z standard errors of the ratio (delta method, Poisson counts)."""
    n, days = 100_000, 365
    innocents = camera("passing", 365.0, 1.0, 1e-4)
    target_rate = 365.0 * 1000 / 300e6  # target searches per person-year, in Rudmin's ratio
    targets = camera("wanted", target_rate, 0.6, 0.0)
    sc = minimal(
        days=days,
        behaviours=[innocents, targets],
        surveillance={"coverage_urban": 1.0, "coverage_rural": 1.0},
    )
    res, sim = run(sc, n_agents=n)
    right = total(res, "events_recorded", truth="rightful")
    wrong = total(res, "events_recorded", truth="wrongful")
    searches = sim.population.n_scored * days
    expect = screening(searches, searches * 1000 / 300e6, 0.4, 1e-4)
    ppv = right / (right + wrong)
    # Var(ppv) for independent Poisson R, W: (W^2 var R + R^2 var W) / (R + W)^4
    se = (
        np.sqrt(expect.wrongful**2 * expect.rightful + expect.rightful**2 * expect.wrongful)
        / (expect.rightful + expect.wrongful) ** 2
    )
    assert abs(ppv - expect.ppv) < Z * se
    assert abs(ppv - 0.0132) < Z * se
