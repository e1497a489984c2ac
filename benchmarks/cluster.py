"""One national year in one process against the same run sharded over a Dask LocalCluster, and a
sweep of many runs locally and on the cluster (issue: beyond one machine).

    python benchmarks/cluster.py                       # N = 10^7, a 64-run sweep (a few minutes)
    python benchmarks/cluster.py --agents 100000000    # add 10^8 (or 1411778724: all people)

Each measurement of one run is in a process of its own, so peak memory (max RSS) is its own:
the one-process run uses as many threads as the cluster has workers; the cluster's workers have
one thread each and are warmed first by a run of 100,000 agents (fresh workers import the
package and load the compiled kernels once, which is printed apart). Prints a table; with
--json, writes the figures to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
YEAR = ["time.end=2018-12-31", "output.raw_counts=true"]


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(kind: str, n: int, workers: int) -> dict:
    import socialcreditsim as scs

    sim = scs.Sim("national", n_agents=n, seed=1, threads=workers, overrides=YEAR)
    if kind == "local":
        t0 = time.perf_counter()
        res = sim.run()
        wall = time.perf_counter() - t0
        days = res.manifest["timings"]["days_s"]
        return {"wall_s": wall, "peak_bytes": [_peak()], "days_s": days}
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0",
            memory_limit=0,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        t0 = time.perf_counter()  # workers import the package and load the compiled kernels
        warm = scs.Sim("national", n_agents=100_000, seed=1, overrides=YEAR)
        warm.run(cluster=client)
        first_use = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = sim.run(cluster=client)
        wall = time.perf_counter() - t0
        peaks = list(client.run(_peak).values())
    return {
        "wall_s": wall,
        "peak_bytes": peaks,
        "driver_peak_bytes": _peak(),
        "workers_first_use_s": first_use,
        "days_s": res.manifest["timings"]["days_s"],
    }


def _sweep(where: str, runs: int, workers: int) -> float:
    import socialcreditsim as scs

    sweep = scs.Sweep(
        "national",
        [f"behaviours.jaywalking.rate=6:18:{runs}"],
        n_agents=100_000,
        replicates=1,
        overrides=["time.end=2018-12-31"],
        processes=None if where == "cluster" else workers,
        cluster=f"local:{workers}" if where == "cluster" else None,
    )
    t0 = time.perf_counter()
    sweep.run()
    return time.perf_counter() - t0


def _measure(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, nargs="*", default=[10_000_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sweep-runs", type=int, default=64)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "sweep":
            print(json.dumps({"wall_s": _sweep(rest[0], int(rest[1]), int(rest[2]))}))
        else:
            print(json.dumps(_child(kind, int(rest[0]), int(rest[1]))))
        return
    w = args.workers
    rows = []
    print(f"national year, one process ({w} threads) vs a LocalCluster of {w} workers x 1 thread")
    for n in args.agents:
        _measure(["local", "100000", str(w)])  # compile and cache the kernels
        local = _measure(["local", str(n), str(w)])
        cluster = _measure(["cluster", str(n), str(w)])
        over = cluster["wall_s"] / local["wall_s"] - 1
        rows.append({"n": n, "local": local, "cluster": cluster, "overhead": over})
        print(
            f"N={n:>13,}  one process {local['wall_s']:7.1f} s, "
            f"{local['peak_bytes'][0] / 2**30:5.2f} GiB | cluster {cluster['wall_s']:7.1f} s "
            f"({over:+.1%}), per worker "
            + ", ".join(f"{b / 2**30:.2f}" for b in cluster["peak_bytes"])
            + f" GiB, driver {cluster['driver_peak_bytes'] / 2**30:.2f} GiB; fresh workers"
            f" first take {cluster['workers_first_use_s']:.1f} s (a run of 100,000 agents)"
        )
    sweep = {}
    if args.sweep_runs:
        for where in ("local", "cluster"):
            sweep[where] = _measure(["sweep", where, str(args.sweep_runs), str(w)])["wall_s"]
        print(
            f"sweep of {args.sweep_runs} runs (100,000 agents, a year): local processes "
            f"{sweep['local']:.1f} s, cluster {sweep['cluster']:.1f} s"
        )
    if args.json:
        out = HERE / "results" / "cluster.json"
        out.write_text(json.dumps({"workers": w, "runs": rows, "sweep_s": sweep}, indent=2))
        print(f"written to {out}")


if __name__ == "__main__":
    main()
