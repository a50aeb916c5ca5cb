"""Run one command as a measured, contained process tree.

The command starts in a new session (its own process group). While it runs, a sampler sums the
RSS of every process in the tree (psutil) and the GPU memory of those pids (NVML), adapting its
interval so that sampling costs well under 1% of a core. When the root exits, ``os.wait4`` adds the
kernel's view: the peak RSS of the largest waited-for process and the CPU time of the root and all
of its waited-for descendants. A timeout or a memory limit kills the *whole* tree (the process
group, every descendant seen, and anything left in the session); so does a normal exit, for
daemons the command left behind. Nothing outlives ``run_measured``.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from harness import gpu
from harness.envs.base import Limits, ProcessResult

BASE_INTERVAL_S = 0.1
MAX_INTERVAL_S = 0.5
COST_BUDGET = 0.005  # fraction of one core the sampler may use
OUTPUT_CAP = 2_000_000  # characters kept of each stream (the tail)
TREE_ENV = "HARNESS_PROCESS_TREE"  # a mark every descendant inherits, to find those that escape


@dataclass
class _Tree:
    """Processes seen in the tree, keyed by pid with their create time (pids get reused)."""

    root: int
    token: str
    seen: dict[int, float] = field(default_factory=dict)

    def processes(self) -> list[psutil.Process]:
        procs: list[psutil.Process] = []
        try:
            root = psutil.Process(self.root)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            pass
        for p in procs:
            with contextlib.suppress(psutil.Error):
                self.seen.setdefault(p.pid, p.create_time())
        return procs

    def survivors(self) -> list[psutil.Process]:
        """Every process of the tree still alive: seen ones, the session, their descendants, and
        processes started after the root that carry the tree's mark (they escaped the session)."""
        table = _proc_table()
        alive: set[int] = set()
        for pid, created in list(self.seen.items()):
            with contextlib.suppress(psutil.Error):
                if abs(psutil.Process(pid).create_time() - created) <= 0.01:
                    alive.add(pid)
        root_start = self.seen.get(self.root, 0.0)
        me = os.getpid()
        for pid, (_, ppid, session, started) in table.items():
            if pid == me or pid in alive:
                continue
            if session == self.root or (started >= root_start - 0.01 and _has_mark(pid, self.token)):
                alive.add(pid)
            elif ppid == me and pid != self.root and started >= root_start - 0.01:
                alive.add(pid)  # an orphan of the tree adopted by this process (a child subreaper)
        children: dict[int, list[int]] = {}
        for pid, (_, ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        todo = list(alive)
        while todo:
            for child in children.get(todo.pop(), []):
                if child not in alive and child != me:
                    alive.add(child)
                    todo.append(child)
        found = []
        for pid in alive:
            if pid in table and table[pid][0] != "Z":
                with contextlib.suppress(psutil.Error):
                    found.append(psutil.Process(pid))
        return found


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _boot_time() -> float:
    return psutil.boot_time()


def _proc_table() -> dict[int, tuple[str, int, int, float]]:
    """pid -> (state, ppid, session id, start time as epoch seconds), one /proc read per process."""
    table: dict[int, tuple[str, int, int, float]] = {}
    boot = _boot_time()
    try:
        entries = os.listdir("/proc")
    except OSError:
        entries = []
    if not entries:  # no procfs: psutil's slower, portable view
        for p in psutil.process_iter(["ppid", "status", "create_time"]):
            with contextlib.suppress(OSError, psutil.Error):
                state = "Z" if p.info["status"] == psutil.STATUS_ZOMBIE else "R"
                table[p.pid] = (state, p.info["ppid"] or 0, os.getsid(p.pid), p.info["create_time"] or 0.0)
        return table
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        rest = data[data.rindex(b")") + 2 :].split()
        table[int(name)] = (rest[0].decode(), int(rest[1]), int(rest[3]), boot + int(rest[19]) / _CLOCK_TICKS)
    return table


def _has_mark(pid: int, token: str) -> bool:
    try:
        return psutil.Process(pid).environ().get(TREE_ENV) == token
    except (OSError, psutil.Error):
        return False


def _is_running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _kill_tree(tree: _Tree) -> None:
    """SIGKILL the process group, then every survivor, until none is left (the root is not reaped)."""
    with contextlib.suppress(OSError):
        os.killpg(tree.root, signal.SIGKILL)
    quiet = 0
    for _ in range(8):
        left = [p for p in tree.survivors() if p.pid != tree.root]
        if not left:
            # a process caught between fork, setsid and exec can be missed once (its /proc entry is in
            # flux): only two empty sweeps in a row, a moment apart, count as "none left"
            quiet += 1
            if quiet == 2:
                return
            time.sleep(0.05)
            continue
        quiet = 0
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(left, timeout=0.2)  # zombies of a non-reaping init count as gone


def _kill_and_reap(tree: _Tree) -> tuple[int, Any]:
    """Kill the whole tree, then reap the root; its wait status and rusage."""
    _kill_tree(tree)
    with contextlib.suppress(OSError):
        os.kill(tree.root, signal.SIGKILL)
    _, status, rusage = os.wait4(tree.root, 0)
    return status, rusage


def _pidfd(pid: int) -> int | None:
    """A file descriptor that becomes readable when pid exits (Linux 5.3+), so exits are seen at once."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _wait_exit(pidfd: int | None, seconds: float) -> None:
    if pidfd is None:
        time.sleep(seconds)
    else:
        select.select([pidfd], [], [], seconds)


def _affinity(cpus: float | None) -> list[int] | None:
    if not cpus:
        return None
    available = sorted(os.sched_getaffinity(0))
    return available[: max(1, min(len(available), round(cpus)))]


def _read_tail(path: Path) -> str:
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size > OUTPUT_CAP:
            fh.seek(size - OUTPUT_CAP)
        return fh.read().decode("utf-8", errors="replace")


def run_measured(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    limits: Limits | None = None,
    measure_gpu: bool = True,
) -> ProcessResult:
    """Run argv to completion (or until killed) and return what it did and what it used."""
    limits = limits or Limits()
    cpus = _affinity(limits.cpus)
    gpu_note = gpu.gpu_note() if measure_gpu else "not measured (GPU not used by this run)"

    def _preexec() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    token = uuid.uuid4().hex
    child_env = dict(os.environ if env is None else env) | {TREE_ENV: token}
    with tempfile.TemporaryDirectory(prefix="harness-run-") as tmp:
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            started = time.perf_counter()
            try:
                proc = subprocess.Popen(
                    list(argv),
                    cwd=cwd,
                    env=child_env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    preexec_fn=_preexec if cpus is not None else None,
                )
            except OSError as exc:
                return ProcessResult(
                    exit_code=127,
                    wall_s=0.0,
                    cpu_s=0.0,
                    peak_rss_bytes=None,
                    stderr=f"cannot start {argv[0]}: {exc}",
                    how={"error": str(exc)},
                )
            tree = _Tree(proc.pid, token)
            with contextlib.suppress(psutil.Error):
                tree.seen[proc.pid] = psutil.Process(proc.pid).create_time()
            pidfd = _pidfd(proc.pid)
            peak_rss = 0
            peak_gpu: int | None = None
            timed_out = oom = False
            interval, sampling_s, samples = BASE_INTERVAL_S, 0.0, 0
            status, rusage = 0, None
            try:
                while True:
                    pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                    if pid == proc.pid:
                        rusage = ru
                        break
                    t0 = time.perf_counter()
                    procs = tree.processes()
                    rss = 0
                    for p in procs:
                        with contextlib.suppress(psutil.Error):
                            rss += p.memory_info().rss
                    peak_rss = max(peak_rss, rss)
                    if measure_gpu and not gpu_note:
                        used = gpu.memory_of_pids([p.pid for p in procs])
                        if used is not None:
                            peak_gpu = max(peak_gpu or 0, used)
                    cost = time.perf_counter() - t0
                    sampling_s += cost
                    samples += 1
                    interval = min(MAX_INTERVAL_S, max(BASE_INTERVAL_S, cost / COST_BUDGET))
                    elapsed = time.perf_counter() - started
                    if limits.memory_bytes and rss > limits.memory_bytes:
                        oom = True
                    elif timeout_s is not None and elapsed > timeout_s:
                        timed_out = True
                    if oom or timed_out:
                        status, rusage = _kill_and_reap(tree)
                        break
                    remaining = (timeout_s - elapsed) if timeout_s is not None else interval
                    _wait_exit(pidfd, max(0.005, min(interval, remaining)))
            except BaseException:  # interrupted (Ctrl-C, a bug): take the whole tree down with us
                _kill_and_reap(tree)
                raise
            finally:
                if pidfd is not None:
                    os.close(pidfd)
            wall = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            _kill_tree(tree)  # daemons the command left behind
        stdout, stderr = _read_tail(out_path), _read_tail(err_path)
    kernel_peak = rusage.ru_maxrss * 1024 if rusage is not None else 0
    cpu_s = (rusage.ru_utime + rusage.ru_stime) if rusage is not None else 0.0
    how = {
        "rss": "max of the tree's summed RSS sampled with psutil and the largest waited-for "
        "process's ru_maxrss from os.wait4",
        "cpu": "user+system time of the command and its waited-for descendants (os.wait4 rusage)",
        "gpu": gpu_note or "summed NVML per-process memory of the tree's pids, sampled",
        "sample_interval_s": f"{BASE_INTERVAL_S}-{MAX_INTERVAL_S} (adaptive)",
        "samples": str(samples),
        "sampling_cost_fraction": f"{(sampling_s / wall) if wall > 0 else 0.0:.4f}",
    }
    if cpus is not None:
        how["cpu_limit"] = f"affinity to {len(cpus)} CPU(s)"
    if limits.memory_bytes:
        how["memory_limit"] = f"watchdog kills the tree above {limits.memory_bytes} bytes of summed RSS"
    return ProcessResult(
        exit_code=proc.returncode,
        wall_s=wall,
        cpu_s=cpu_s,
        peak_rss_bytes=max(peak_rss, kernel_peak) or None,
        peak_gpu_bytes=peak_gpu,
        timed_out=timed_out,
        oom_killed=oom,
        stdout=stdout,
        stderr=stderr,
        how=how,
    )
