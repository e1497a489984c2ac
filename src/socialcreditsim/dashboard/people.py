"""The People view's list: the audited people of a run and the sanctions each was barred from."""

from __future__ import annotations

import pandas as pd

from ..results import Results


def audited_people(res: Results) -> pd.DataFrame:
    """The audited people (``Results.people``) with ``barred_from`` and
    ``wrongly_barred_from``: the sanctions that barred them during the run, and those that
    barred them through a wrongly attributed record (comma-separated; empty: none)."""
    a = res.audit
    names = [m.name for m in res.scenario.sanctions]
    starts = a[(a["kind"] == "measure_start") & a["item"].astype(str).isin(names)]
    people = res.people.copy()
    wrongly = starts[starts["truth"] == "wrongful"]
    for column, part in (("barred_from", starts), ("wrongly_barred_from", wrongly)):
        by = part.groupby("person")["item"].agg(lambda s: ", ".join(sorted(set(map(str, s)))))
        people[column] = people["person"].map(by).fillna("")
    return people
