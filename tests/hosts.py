"""Clusters like real ones, for the external-cluster tests: separate hosts, nothing of the lab on them.

Every process of such a cluster (``dask scheduler``, ``dask worker``) is started the way a user starts
one: in a directory of its own, with an environment in which the lab is *not* importable (no
repository on ``PYTHONPATH``, the working directory a temporary one; :func:`lab_is_importable` checks
it). Where this machine allows it (root, and ``ip`` from iproute2), each process gets a network
namespace of its own (``ip netns add`` + a veth pair on one bridge): its own address, like a separate
host, reachable from the test process through the bridge. Elsewhere every "host" is loopback
(:class:`Loopback`), with the reason (:func:`netns_unavailable`) so that tests can say why they skip.

Cleanup is the fixtures' job, failure or not: :meth:`Process.stop` stops a process and everything it
started, :meth:`Network.close` deletes the namespaces and the bridge. Namespaces left by a test run that
was killed are removed by the next one (their names carry the pid of the run that made them).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tests.helpers import free_port

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 20
_PREFIX = "gil"  # gil<pid><n>br (bridge), gil<pid><n>h<k> (namespace), gil<pid><n>v<k> (veth): ≤ 15 characters
_NETWORKS = iter("abcdefghijklmnopqrstuvwxyz")  # <n>: one letter per Network of this process


# --- environments where the lab is not importable -------------------------------------------------------


def lab_free_env(path: list[str | Path] | None = None) -> dict[str, str]:
    """This process's environment without any Python path: a cluster host's, which knows nothing of the lab.

    ``path``: directories to put on ``PYTHONPATH`` instead (a patched package, or the repository for
    the old no-ship way).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONSAFEPATH")}
    if path:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in path)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def lab_is_importable(cwd: Path, env: dict[str, str], prefix: list[str] | None = None,
                      python: list[str] | None = None) -> tuple[bool, str]:
    """Whether ``import core.workloads`` works for a process started like the cluster's (and its stderr)."""
    out = subprocess.run([*(prefix or []), *(python or [sys.executable]), "-c", "import core.workloads"],
                         cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    return out.returncode == 0, out.stderr


def site_without(tmp: Path, excluded: tuple[str, ...]) -> Path:
    """A directory of links to this interpreter's site-packages, minus the distributions ``excluded``.

    With ``python -S`` (no site) and this directory on ``PYTHONPATH`` a process has dask and
    distributed but, really, no NumPy: neither its modules nor its metadata are on the path.
    """
    site = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()))
    out = tmp / "site"
    out.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(rf"^({'|'.join(re.escape(e) for e in excluded)})([-_.].*)?$", re.IGNORECASE)
    for entry in site.iterdir():
        if not pattern.match(entry.name) and not entry.name.endswith(".pth"):
            (out / entry.name).symlink_to(entry)
    return out


def patched_version(tmp: Path, package: str, version: str) -> Path:
    """A copy of ``package`` whose installed metadata says ``version`` (the code is the real one).

    Put first on a worker's ``PYTHONPATH``, it is what that worker imports and what distributed's
    version check reads (``importlib.metadata``): a worker with a different ``package`` version, cheaply.
    """
    import importlib.metadata as md

    dist = md.distribution(package)
    module = Path(dist.locate_file(package))
    out = tmp / f"patched-{package}"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(module, out / package)
    info = out / f"{package}-{version}.dist-info"
    info.mkdir()
    metadata = (dist.read_text("METADATA") or f"Metadata-Version: 2.1\nName: {package}\n")
    (info / "METADATA").write_text(re.sub(r"(?m)^Version: .*$", f"Version: {version}", metadata))
    return out


# --- hosts ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Host:
    """Where a process runs: an address, and the command prefix that puts a process there."""

    ip: str
    prefix: tuple[str, ...] = ()
    name: str = "loopback"


def netns_unavailable() -> str | None:
    """Why separate network namespaces cannot be made here, or None when they can.

    ``GIL_LAB_TEST_LOOPBACK=1`` says no, to run the same tests on loopback where namespaces do work.
    """
    if os.environ.get("GIL_LAB_TEST_LOOPBACK"):
        return "GIL_LAB_TEST_LOOPBACK is set"
    if sys.platform != "linux":
        return f"network namespaces are Linux-only (this is {sys.platform})"
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add); running as an ordinary user"
    if shutil.which("ip") is None:
        return "`ip` (Debian's iproute2) is not installed"
    name = f"{_PREFIX}{os.getpid()}probe"
    out = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if out.returncode != 0:
        return f"`ip netns add` failed here: {out.stderr.strip() or out.returncode}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {out.stderr.strip()}")
    return out


def _remove_stale() -> None:
    """Namespaces and bridges of earlier test runs that were killed before they could clean up."""
    pattern = re.compile(rf"^{_PREFIX}(\d+)([a-z](h\d+|v\d+|br)|probe)$")
    names = [line.split()[0] for line in _ip("netns", "list", check=False).stdout.splitlines() if line.strip()]
    links = re.findall(r"^\d+: ([^:@]+)", _ip("-o", "link", "show", check=False).stdout, re.MULTILINE)
    for name in [*names, *links]:
        m = pattern.match(name)
        if m and not psutil.pid_exists(int(m[1])):
            _ip("netns" if name in names else "link", "del", name, check=False)


class Network:
    """Separate hosts: a bridge here, and for each host a network namespace joined to it by a veth pair.

    The subnet is a random ``10.x.y.0/24`` that no route of this machine uses; this namespace is
    ``.1`` on the bridge, hosts are ``.2``, ``.3``, … Each namespace has its loopback up, so a
    process there can also talk to itself.
    """

    def __init__(self) -> None:
        _remove_stale()
        self.tag = f"{_PREFIX}{os.getpid()}{next(_NETWORKS)}"
        self.bridge = f"{self.tag}br"
        self.hosts: list[Host] = []
        routes = _ip("-4", "route", "show", "table", "all", check=False).stdout
        for _ in range(50):
            self.subnet = f"10.{random.randint(64, 250)}.{random.randint(1, 250)}"
            if f"{self.subnet}." not in routes:
                break
        _ip("link", "add", self.bridge, "type", "bridge")
        try:
            _ip("addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except Exception:
            self.close()
            raise

    def add_host(self) -> Host:
        k = len(self.hosts) + 1
        ns, veth, peer, ip = f"{self.tag}h{k}", f"{self.tag}v{k}", f"{self.tag}p{k}", f"{self.subnet}.{k + 1}"
        try:
            _ip("netns", "add", ns)
            self.hosts.append(Host(ip, ("ip", "netns", "exec", ns), ns))
            _ip("link", "add", veth, "type", "veth", "peer", "name", peer)
            _ip("link", "set", peer, "netns", ns)
            _ip("link", "set", veth, "master", self.bridge)
            _ip("link", "set", veth, "up")
            _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", peer)
            _ip("-n", ns, "link", "set", peer, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        except Exception:
            self.close()
            raise
        return self.hosts[-1]

    def close(self) -> None:
        """Delete every namespace (its end of the veth goes with it) and the bridge."""
        for host in self.hosts:
            _ip("netns", "del", host.name, check=False)
        for k in range(1, len(self.hosts) + 1):
            _ip("link", "del", f"{self.tag}v{k}", check=False)
        _ip("link", "del", self.bridge, check=False)
        self.hosts = []

    def leftovers(self) -> list[str]:
        """Namespaces or links of this network that still exist (there should be none after close)."""
        names = _ip("netns", "list", check=False).stdout + _ip("-o", "link", "show", check=False).stdout
        return sorted(set(re.findall(rf"\b{self.tag}(?:h|v|p|br)\d*\b", names)))


class Loopback:
    """Every host is this machine's loopback (where network namespaces are unavailable)."""

    def add_host(self) -> Host:
        return Host("127.0.0.1")

    def close(self) -> None:
        pass

    def leftovers(self) -> list[str]:
        return []


# --- processes --------------------------------------------------------------------------------------------


@dataclass
class Process:
    """One ``dask scheduler`` / ``dask worker`` command, its log, and a stop that leaves nothing behind."""

    popen: subprocess.Popen[bytes]
    log: Path
    host: Host
    children: list[psutil.Process] = field(default_factory=list)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> list[psutil.Process]:
        """SIGTERM, then SIGKILL to the process group; return descendants that outlived it (should be none)."""
        with contextlib.suppress(psutil.NoSuchProcess):
            self.children = psutil.Process(self.popen.pid).children(recursive=True)
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(STOP_TIMEOUT_S)
        _, alive = psutil.wait_procs(self.children, timeout=STOP_TIMEOUT_S)
        for straggler in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                straggler.kill()
        return alive


def start(host: Host, args: list[str], workdir: Path, log_name: str, env: dict[str, str],
          python: list[str] | None = None) -> Process:
    """``python -m dask ARGS`` (what the ``dask`` command runs) on ``host``, from ``workdir``, with ``env``."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{log_name}.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen([*host.prefix, *(python or [sys.executable]), "-m", "dask", *args], cwd=workdir,
                                 env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return Process(popen, log, host)


def start_scheduler(host: Host, workdir: Path, env: dict[str, str]) -> tuple[Process, str]:
    """``dask scheduler`` on ``host``; returns it and its address once it accepts connections."""
    port = 8786 if host.prefix else free_port()  # a namespace has every port to itself
    proc = start(host, ["scheduler", "--host", host.ip, "--port", str(port), "--no-dashboard"], workdir,
                 "scheduler", env)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host.ip, port), timeout=1):
            return proc, f"tcp://{host.ip}:{port}"
        if proc.popen.poll() is not None or time.monotonic() > deadline:
            proc.stop()
            raise RuntimeError(f"the scheduler did not start:\n{proc.tail()}")
        time.sleep(0.1)


def start_worker(host: Host, address: str, workdir: Path, env: dict[str, str], *, name: str, nthreads: int = 1,
                 nanny: bool = True, python: list[str] | None = None) -> Process:
    """``dask worker ADDRESS`` on ``host``, listening on its address (wait for it with :func:`wait_for_workers`)."""
    args = ["worker", address, "--nthreads", str(nthreads), "--host", host.ip, "--name", name, "--no-dashboard",
            "--nanny" if nanny else "--no-nanny"]
    return start(host, args, workdir, name, env, python)


@contextlib.contextmanager
def client(address: str, timeout: float = START_TIMEOUT_S) -> Iterator[Any]:
    """A test's own ``distributed.Client``, without distributed's multi-line version-mismatch warning."""
    from distributed import Client
    from distributed.versions import VersionMismatchWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VersionMismatchWarning)
        made = Client(address, set_as_default=False, timeout=timeout)
    with made:
        yield made


def wait_for_workers(address: str, n: int, processes: list[Process]) -> dict[str, dict]:
    """Wait until the scheduler at ``address`` has ``n`` workers; return their identities."""
    from core.engines.cluster import current_workers

    try:
        with client(address) as c:
            c.wait_for_workers(n, timeout=START_TIMEOUT_S)
            return current_workers(c)
    except Exception as exc:
        logs = "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in processes)
        raise RuntimeError(f"{n} worker(s) did not join {address}: {exc}\n{logs}") from exc


def stop_heartbeats(address: str) -> None:
    """Before a cluster is stopped: every worker stops heartbeating, with none left in flight (best effort).

    A worker that closes (SIGTERM) while a heartbeat is in flight logs a traceback from its own process
    (dask/distributed#7192). The function is the exported code's (:data:`core.engines.code.STOP_HEARTBEATS`),
    defined in a namespace no worker can import, so cloudpickle sends it by value: these workers import
    nothing of the lab.
    """
    from core.engines.code import STOP_HEARTBEATS

    namespace: dict[str, Any] = {"__name__": "gil_lab_test_stop_heartbeats"}
    exec(STOP_HEARTBEATS, namespace)
    with contextlib.suppress(Exception), client(address, timeout=10) as c:  # a scheduler already gone: nothing to do
        c.run(namespace["stop_heartbeats"])


def stop_all(processes: list[Process], address: str | None = None) -> list[psutil.Process]:
    """Stop workers before schedulers (the order a user would), return every straggler.

    With the scheduler's ``address``, the workers' heartbeats are stopped first (:func:`stop_heartbeats`).
    """
    if address is not None:
        stop_heartbeats(address)
    stragglers: list[psutil.Process] = []
    for proc in reversed(processes):
        stragglers += proc.stop()
    return stragglers


def one_line_error(run: Any) -> str:
    """The one stderr line of a failed CLI run: exit status 1, ``python -m core: error: …``, no traceback."""
    assert run.returncode == 1, (run.returncode, run.stdout[-500:], run.stderr[-2000:])
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m core: error: "), run.stderr
    assert "Traceback" not in run.stderr
    return lines[0]
