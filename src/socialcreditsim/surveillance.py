"""Cameras, coverage and face-recognition attribution (MODEL.md section 4).

A public event happens in view with the day's coverage of its locality (urban or rural). An event
in view is identified correctly with probability 1 - FNIR; otherwise, with probability FPIR, it is
attributed to a wrong person drawn from the adults of the same locality; else nobody is
identified. The engine draws the three outcomes as independent thinned Poisson streams.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from .jit import nb
from .scenario import Scenario, schedule_values

__all__ = ["coverage", "attribution"]


def coverage(
    scenario: Scenario, days: list[dt.date], population: float, urban_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Daily probability that a public event is in a camera's view, (urban, rural).

    Either the scenario's given schedules, or a saturating function of cameras per person:
    ``1 - exp(-k * cameras / people)`` with the cameras split between urban and rural people by
    ``urban_camera_share``.
    """
    s = scenario.surveillance
    if s.coverage_urban is not None and s.coverage_rural is not None:
        return (
            np.asarray(schedule_values(s.coverage_urban, days)),
            np.asarray(schedule_values(s.coverage_rural, days)),
        )
    cams = np.asarray(schedule_values(s.cameras, days))
    urban_people = max(population * urban_share, 1.0)
    rural_people = max(population * (1 - urban_share), 1.0)
    k = s.coverage_per_camera_per_person
    cov_u = 1 - np.exp(-k * cams * s.urban_camera_share / urban_people)
    cov_r = 1 - np.exp(-k * cams * (1 - s.urban_camera_share) / rural_people)
    if s.coverage_urban is not None:
        cov_u = np.asarray(schedule_values(s.coverage_urban, days))
    if s.coverage_rural is not None:
        cov_r = np.asarray(schedule_values(s.coverage_rural, days))
    return cov_u, cov_r


@nb.njit(cache=True, inline="always")
def attribution(cov: float, fnir: float, fpir: float) -> tuple[float, float]:
    """Per true event: probability it is recorded against its doer, and against a wrong person."""
    return cov * (1 - fnir), cov * fnir * fpir
