"""Do LocalClusters close cleanly? Many clusters opened, used and closed in a loop; stray tracebacks counted.

    python -m bench.cluster_close [--clusters 40] [--neighbour] [--orders plain,lab] [--quick]

distributed's workers heartbeat the scheduler about every 0.5 s. When a worker closes, it stops its
heartbeat timer and, a few awaits later, closes its connection pool; a heartbeat already in flight at that
moment fails with ``CommClosedError: ConnectionPool closing`` and the worker logs "Failed to communicate with
scheduler during heartbeat" with a whole traceback (dask/distributed#7192), from the worker's own process.

Each order runs in a subprocess of its own (worker processes write to the same stderr), which opens
``--clusters`` clusters one after the other — alternately ``processes=True`` 2×1 and ``processes=False`` 1×2,
as the exported local-cluster notebook does —, computes four small tasks on each and closes it:

* ``plain``: what a script writes, ``client.close(); cluster.close()``;
* ``lab``: the lab's order (:func:`core.engines.cluster.close_cluster`): every worker's heartbeat is stopped
  and any heartbeat in flight awaited first, then the client and the cluster are closed;
* ``exported``: what the exported notebook and script do (:mod:`core.engines.code`): ``plain`` plus the
  exported prelude.

The stderr of each subprocess is read afterwards: the count of ``Traceback`` lines and of heartbeat
failures is the result. Goal: 0 for ``lab`` and ``exported`` (``plain`` shows how often the race hits).
``--neighbour`` runs it all beside :mod:`bench.neighbour` (one core burnt in random bursts), which makes the
race far likelier: a loaded scheduler answers heartbeats late.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from bench._common import machine_line, parser, resolve_repeats, table

CHILD = textwrap.dedent('''
    import logging, sys, time
    import dask
    from dask import delayed
    from distributed import Client, LocalCluster
    ORDER, CLUSTERS, SLOW = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    logging.getLogger("distributed").setLevel(logging.ERROR)  # INFO chatter is not what is counted
    if ORDER == "exported":
        from core.engines.code import STOP_HEARTBEATS
        exec(STOP_HEARTBEATS)

    def slow_heartbeats(dask_scheduler, delay):
        """The scheduler answers every heartbeat ``delay`` s late, as a loaded one does: the race made likely."""
        import asyncio
        answer = dask_scheduler.handlers["heartbeat_worker"]

        async def late(*args, **kwargs):
            await asyncio.sleep(delay)
            return answer(*args, **kwargs)

        dask_scheduler.handlers["heartbeat_worker"] = late

    def work(i):
        return sum(range(20_000 + i))

    if __name__ == "__main__":
        for c in range(CLUSTERS):
            processes = c % 2 == 0
            cluster = LocalCluster(processes=processes, n_workers=2 if processes else 1,
                                   threads_per_worker=1 if processes else 2, dashboard_address="127.0.0.1:0")
            client = Client(cluster)
            if ORDER == "lab":
                from core.engines.quiet import HeartbeatGuard
                client.register_plugin(HeartbeatGuard())  # as the lab's clusters have it, from their start
            if SLOW > 0:
                client.run_on_scheduler(slow_heartbeats, delay=SLOW)
            dask.compute(*[delayed(work)(i) for i in range(4)], scheduler=client)
            # As the exported comparison does between its arms: pure Python in this process (the sync arm),
            # while the scheduler's event loop, in a thread of this process, waits for the GIL to answer the
            # workers' heartbeats; then the cluster is closed right after.
            t_end = time.perf_counter() + 0.6 + 0.6 * (c % 3) / 2
            while time.perf_counter() < t_end:
                work(c)
            if ORDER == "lab":
                from core.engines.cluster import close_cluster
                close_cluster(client, cluster)
            elif ORDER == "exported":
                client.run(stop_heartbeats); client.close(); cluster.close()
            else:
                client.close(); cluster.close()
        print("done", CLUSTERS, file=sys.stderr)
''')


def run_order(order: str, clusters: int, slow_s: float) -> dict[str, object]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, order, str(clusters), str(slow_s)], capture_output=True,
                          text=True, timeout=60 * clusters)
    err = proc.stderr
    return {"order": order, "clusters": clusters, "late_s": slow_s, "seconds": round(time.perf_counter() - t0, 1),
            "tracebacks": err.count("Traceback"),
            "heartbeat_failures": err.count("Failed to communicate with scheduler during heartbeat"),
            "other_stderr_lines": sum(1 for line in err.splitlines() if line.strip() and not line.startswith(
                ("done", "Traceback", "  ", "distributed.comm.core.CommClosedError", "OSError", "During",
                 "The above", "tornado.", "distributed.worker - ERROR - Failed"))),
            "exit": proc.returncode}


def run_export(runs: int) -> dict[str, object]:
    """The exported local-cluster script, run ``runs`` times where the lab is not importable: runs whose stderr
    is not empty (the learner's take-home must end cleanly every time)."""
    import tempfile
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "gil-lab-local-cluster.py"
        subprocess.run([sys.executable, "-m", "core", "export", "--preset", "local-cluster", "--format", "py",
                        "--output", str(script)], cwd=repo, check=True, capture_output=True)
        noisy, failed, t0 = 0, 0, time.perf_counter()
        for _ in range(runs):
            proc = subprocess.run([sys.executable, str(script)], cwd=tmp, capture_output=True, text=True,
                                  timeout=300, env={k: v for k, v in __import__("os").environ.items()
                                                    if k != "PYTHONPATH"})
            noisy += bool(proc.stderr.strip())
            failed += proc.returncode != 0
            if proc.stderr.strip() and noisy == 1:
                print(proc.stderr[-2000:], file=sys.stderr)
    return {"order": "exported script", "clusters": 2 * runs, "late_s": 0.0,
            "seconds": round(time.perf_counter() - t0, 1), "tracebacks": noisy, "heartbeat_failures": "",
            "other_stderr_lines": "", "exit": failed}


def main() -> None:
    p = parser(__doc__, repeats=1, quick_repeats=1, quick_help="6 clusters per order")
    p.add_argument("--clusters", type=int, default=40, help="clusters per order (default 40)")
    p.add_argument("--orders", default="plain,lab,exported")
    p.add_argument("--neighbour", action="store_true", help="beside bench.neighbour (one core in bursts)")
    p.add_argument("--export-runs", type=int, default=0, metavar="N",
                   help="also run the exported local-cluster script N times; its column 'tracebacks' then counts"
                        " runs with anything on stderr")
    p.add_argument("--late", type=float, default=0.0, metavar="S",
                   help="the scheduler answers every heartbeat S seconds late (a loaded scheduler; 0.4 makes the"
                        " race likely at every close)")
    args = p.parse_args()
    clusters = 6 if args.quick else args.clusters
    repeats = resolve_repeats(args)
    orders = [o.strip() for o in args.orders.split(",") if o.strip()]
    rows = []
    if args.neighbour:
        from bench.neighbour import neighbour

        with neighbour():
            rows = [run_order(o, clusters, args.late) for o in orders for _ in range(repeats)]
            rows += [run_export(args.export_runs)] if args.export_runs else []
    else:
        rows = [run_order(o, clusters, args.late) for o in orders for _ in range(repeats)]
        rows += [run_export(args.export_runs)] if args.export_runs else []
    print(machine_line())
    print(f"{clusters} clusters per run, alternately processes=True 2x1 and processes=False 1x2"
          + (", beside the neighbour" if args.neighbour else ""))
    keys = list(rows[0])
    print(table(keys, [[r[k] for k in keys] for r in rows]))
    bad = [r for r in rows if r["order"] != "plain" and (r["tracebacks"] or r["heartbeat_failures"] or r["exit"])]
    print("goal: 0 tracebacks for lab and exported:", "met" if not bad else "NOT met")


if __name__ == "__main__":
    main()
