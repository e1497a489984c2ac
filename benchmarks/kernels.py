"""Where a run's time goes, kernel by kernel: the national year at N agents.

    python benchmarks/kernels.py 100000000            # one thread
    python benchmarks/kernels.py 100000000 --threads 2

Prints the seconds spent in each Numba kernel (``init_state``, ``plan_day``, ``apply_day``,
``snapshot``) and the whole ``Sim.run()``. Run it twice, alternating with another checkout
(``PYTHONPATH=OTHER/src python benchmarks/kernels.py N``), to compare two versions of the
engine on a shared machine.
"""

from __future__ import annotations

import argparse
import collections
import time

import socialcreditsim as scs
from socialcreditsim import kernels as kn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("agents", type=int)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    spent: collections.Counter[str] = collections.Counter()
    call = kn.Parallel.__call__

    def timed(self: kn.Parallel, kernel, *rest):  # noqa: ANN001, ANN002, ANN202
        t0 = time.perf_counter()
        out = call(self, kernel, *rest)
        spent[kernel.__name__] += time.perf_counter() - t0
        return out

    kn.Parallel.__call__ = timed
    sim = scs.Sim(
        "national",
        n_agents=args.agents,
        seed=1,
        threads=args.threads,
        overrides=["time.end=2018-12-31", "output.raw_counts=true"],
    )
    t0 = time.perf_counter()
    sim.run()
    total = time.perf_counter() - t0
    print(" ".join(f"{k} {v:.2f} s" for k, v in spent.items()), f"run {total:.2f} s")


if __name__ == "__main__":
    main()
