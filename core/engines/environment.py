"""What a cluster has, and whether the lab's tasks can run there: versions, workers, hosts.

A cluster someone else started can differ from this client in ways that matter. Checked on connect
(:func:`check`), from distributed's own ``Client.get_versions`` (Python and packages of this client,
the scheduler and every worker):

* **errors** (the run cannot work, so it does not start): the task code travels as Python bytecode
  (:mod:`core.engines.shipping`), which only the same Python minor version runs (Python 3.12 loads
  3.11's and then dies of a segmentation fault on it: seen); a package the
  workload's tasks import (NumPy, threadpoolctl) missing on a worker; NumPy missing on the scheduler
  for the ``transfer`` workload, whose graph carries a NumPy array the scheduler must unpickle.
* **warnings** (the run works, but say so, in ONE line): any other difference of Python, dask,
  distributed, cloudpickle or the workload's packages between this client, the scheduler and the
  workers (distributed's own check prints a multi-line table as a Python warning instead).

:func:`describe` is what a result says about the cluster that ran it: every worker (address, host,
threads, memory limit, pid, Python and package versions) and the number of distinct hosts.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from core.workloads import WORKLOADS, host_of

# Reported for every worker, and compared between this client, the scheduler and the workers.
PACKAGES = ("dask", "distributed", "cloudpickle", "numpy", "threadpoolctl")
ALWAYS_COMPARED = ("python", "dask", "distributed", "cloudpickle")
_SHOWN = 3  # workers named in a message before "and N more"


def fetch_versions(client: Any) -> dict[str, Any]:
    """``client.get_versions`` with the packages the lab's workloads import (threadpoolctl is not in its list)."""
    return client.get_versions(check=False, packages=[p for p in PACKAGES if p == "threadpoolctl"])


def python_version(info: dict[str, Any] | None) -> str | None:
    """``3.11.7`` from a ``get_versions`` entry (distributed writes ``3.11.7.final.0``); None if unknown."""
    raw = ((info or {}).get("packages") or {}).get("python")
    return ".".join(str(raw).split(".")[:3]) if raw else None


def _package(info: dict[str, Any] | None, name: str) -> str | None:
    if name == "python":
        return python_version(info)
    return ((info or {}).get("packages") or {}).get(name)


def _minor(version: str | None) -> str | None:
    return ".".join(version.split(".")[:2]) if version else None


def _workers_text(addresses: list[str], total: int) -> str:
    shown = sorted(addresses)[:_SHOWN]
    more = len(addresses) - len(shown)
    who = ", ".join(shown) + (f" and {more} more" if more else "")
    if len(addresses) == total and total > 1:
        return f"all {total} workers ({who})"
    return ("worker " if len(addresses) == 1 else "workers ") + who


def check(versions: dict[str, Any], *, workload: str, ship: bool) -> tuple[list[str], list[str]]:
    """``(errors, warnings)`` about running ``workload`` on the cluster ``versions`` describes.

    ``versions`` is ``Client.get_versions(check=False)`` (:func:`fetch_versions`): ``client``,
    ``scheduler`` and ``workers`` (address -> entry). ``ship``: the task code travels by value.
    Each message names what differs and where; the warnings come as one line.
    """
    client = versions.get("client") or {}
    scheduler = versions.get("scheduler") or {}
    workers: dict[str, Any] = dict(versions.get("workers") or {})
    total = len(workers)
    needs = WORKLOADS[workload].packages if workload in WORKLOADS else ()
    errors: list[str] = []

    here = python_version(client)
    if ship and here:
        other = _group(workers, python_version)
        for version, addresses in sorted(other.items(), key=lambda kv: str(kv[0])):
            if version is not None and _minor(version) != _minor(here):
                errors.append(
                    f"{_workers_text(addresses, total)} {'run' if len(addresses) > 1 else 'runs'} Python {version}"
                    f" and this client Python {here}: the lab sends its task code as Python {_minor(here)} bytecode,"
                    f" which only Python {_minor(here)} can run (another version loads it, then crashes on it) —"
                    " run the cluster on that Python (or install the lab there and use --no-ship)"
                )
    for package in needs:
        missing = [address for address, info in workers.items() if not _package(info, package)]
        if missing:
            errors.append(
                f"{package} is not installed on {_workers_text(missing, total)}, and {workload} tasks import it:"
                f" pip install {package} there"
            )
    if workload == "transfer" and scheduler and not _package(scheduler, "numpy"):
        errors.append("numpy is not installed on the scheduler, and a transfer graph carries a NumPy array that the"
                      " scheduler must unpickle: pip install numpy there")

    differences = []
    for package in (*ALWAYS_COMPARED, *(p for p in needs if p not in ALWAYS_COMPARED)):
        mine = _package(client, package)
        where: list[str] = []
        theirs = _package(scheduler, package)
        if package in ALWAYS_COMPARED and scheduler and theirs != mine:  # the scheduler imports no workload
            where.append(f"{theirs or 'none'} on the scheduler")
        groups = _group(workers, lambda info, name=package: _package(info, name))
        for version, addresses in sorted(groups.items(), key=lambda kv: str(kv[0])):
            if version != mine and not (version is None and package in needs):  # missing: an error above
                where.append(f"{version or 'none'} on {_workers_text(addresses, total)}")
        if where:
            differences.append(f"{package} {mine or 'none'} here, " + ", ".join(where))
    warnings = []
    if differences:
        warnings.append("versions differ between this client and the cluster: " + "; ".join(differences)
                        + " (the runs work; results from different versions may not compare)")
    return errors, warnings


def _group(workers: dict[str, Any], value: Any) -> dict[Any, list[str]]:
    """Worker addresses grouped by ``value(entry)``."""
    out: dict[Any, list[str]] = {}
    for address, info in workers.items():
        out.setdefault(value(info), []).append(address)
    return out


def _run_everywhere(client: Any, func: Any) -> dict[str, Any]:
    """``client.run(func)`` on every worker; a worker that cannot answer (it just left) is left out."""
    try:
        answers = client.run(func, on_error="return")
    except Exception:  # a cluster in trouble: the description goes without it
        return {}
    return {address: value for address, value in answers.items() if not isinstance(value, BaseException)}


def describe(client: Any, identities: dict[str, dict[str, Any]], versions: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    """The cluster behind ``client``: ``hosts`` (distinct), ``workers`` (one dict each) and ``scheduler``.

    ``identities`` is the scheduler's view of its workers (:func:`core.engines.cluster.current_workers`):
    address, threads, memory limit, name. The scheduler does not know a worker's pid or hostname, so
    every worker is asked (two ``client.run`` calls of standard-library functions, which any worker
    can unpickle). A worker's ``host`` is its network address, or its hostname when it listens on
    loopback or in-process (:func:`core.workloads.host_of`, the same rule as each task's ``host``).
    """
    versions = versions if versions is not None else fetch_versions(client)
    pids = _run_everywhere(client, os.getpid)
    hostnames = _run_everywhere(client, socket.gethostname)
    entries = versions.get("workers") or {}
    workers = []
    for address, ident in sorted(identities.items()):
        entry = entries.get(address)
        hostname = hostnames.get(address)
        limit = ident.get("memory_limit")
        workers.append({
            "address": address,
            "name": str(ident.get("name", address)),
            "host": host_of(address, hostname or socket.gethostname()),
            "hostname": hostname,
            "threads": int(ident.get("nthreads", 0)),
            "memory_limit_bytes": int(limit) if limit else None,
            "pid": pids.get(address),
            "python": python_version(entry),
            "packages": {p: _package(entry, p) for p in PACKAGES},
        })
    scheduler = versions.get("scheduler")
    return {
        "hosts": len({w["host"] for w in workers}),
        "workers": workers,
        "scheduler": {"address": str(client.scheduler.address), "python": python_version(scheduler),
                      "packages": {p: _package(scheduler, p) for p in PACKAGES}},
    }
