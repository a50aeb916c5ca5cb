"""Measured process trees: peak RSS with children, CPU time, limits, and nothing left behind."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import psutil

from harness.envs.base import Limits
from harness.measure import run_measured

MB = 1024 * 1024


def py(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_exit_code_output_and_cpu_time() -> None:
    r = run_measured(
        py("""
        import sys, time
        t = time.process_time()
        while time.process_time() - t < 0.5:
            pass
        print('out'); print('err', file=sys.stderr); sys.exit(3)
    """),
        timeout_s=30,
    )
    assert r.exit_code == 3
    assert r.stdout.strip() == "out" and r.stderr.strip() == "err"
    assert 0.45 <= r.cpu_s <= 5.0
    assert r.wall_s >= 0.45
    assert not r.timed_out and not r.oom_killed
    assert r.how["cpu"].startswith("user+system")


def test_peak_rss_includes_children() -> None:
    # the parent stays small; a child holds ~150 MB for a while
    child = "b = bytearray(150 * 1024 * 1024); import time; time.sleep(0.8)"
    r = run_measured(
        py(f"""
        import subprocess, sys
        subprocess.run([sys.executable, '-c', {child!r}], check=True)
    """),
        timeout_s=60,
    )
    assert r.exit_code == 0
    assert r.peak_rss_bytes is not None and r.peak_rss_bytes >= 150 * MB
    assert r.peak_rss_bytes < 1024 * MB


def test_timeout_kills_the_whole_tree(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    r = run_measured(
        py(f"""
        import os, subprocess, sys, time
        kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])]
        # a grandchild that leaves the process group and the session
        kids.append(subprocess.Popen([sys.executable, '-c',
            'import os, time; os.setsid(); time.sleep(300)']))
        with open({str(pids)!r}, 'w') as fh:
            fh.write(' '.join(str(p) for p in [os.getpid()] + [k.pid for k in kids]))
        time.sleep(300)
    """),
        timeout_s=3,
    )
    assert r.timed_out and r.exit_code == -9
    assert 2.5 <= r.wall_s < 30
    listed = [int(p) for p in pids.read_text().split()]
    assert len(listed) == 3
    time.sleep(0.2)
    assert [p for p in listed if alive(p)] == []


def test_daemon_left_behind_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon"
    r = run_measured(["bash", "-c", f"(setsid sleep 300 & echo $! > {pidfile}); exit 0"], timeout_s=30)
    assert r.exit_code == 0
    time.sleep(0.2)
    assert not alive(int(pidfile.read_text()))


def test_memory_limit_kills_the_tree() -> None:
    r = run_measured(
        py("""
        import time
        blocks = []
        for _ in range(40):
            blocks.append(bytearray(50 * 1024 * 1024)); time.sleep(0.05)
        time.sleep(30)
    """),
        timeout_s=60,
        limits=Limits(memory_bytes=300 * MB),
    )
    assert r.oom_killed and not r.timed_out
    assert r.exit_code == -9
    assert r.wall_s < 30
    assert r.peak_rss_bytes is not None and r.peak_rss_bytes > 300 * MB


def test_cpu_limit_by_affinity() -> None:
    r = run_measured(
        py("import os; print(len(os.sched_getaffinity(0)))"), timeout_s=30, limits=Limits(cpus=1)
    )
    assert r.stdout.strip() == "1"
    assert "affinity" in r.how["cpu_limit"]


def test_missing_command() -> None:
    r = run_measured(["/nonexistent/binary-xyz"], timeout_s=5)
    assert r.exit_code == 127 and "cannot start" in r.stderr


def test_no_gpu_note_or_measured() -> None:
    r = run_measured(py("pass"), timeout_s=30)
    from harness import gpu

    if gpu.has_gpu():
        assert r.how["gpu"].startswith("summed NVML")
    else:
        assert r.how["gpu"].startswith("no GPU:") and r.peak_gpu_bytes is None


def test_interrupt_takes_the_tree_down(tmp_path: Path) -> None:
    import signal

    import pytest

    pids = tmp_path / "pids"

    class Interrupted(Exception):
        pass

    def on_alarm(signum: int, frame: object) -> None:
        raise Interrupted

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 1.5)
    try:
        with pytest.raises(Interrupted):
            run_measured(
                py(f"""
                import os, subprocess, sys, time
                kid = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])
                open({str(pids)!r}, 'w').write(f"{{os.getpid()}} {{kid.pid}}")
                time.sleep(300)
            """),
                timeout_s=120,
            )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    listed = [int(p) for p in pids.read_text().split()]
    time.sleep(0.2)
    assert [p for p in listed if alive(p)] == []


DAEMON = """
import os, signal, sys, time
pidfile = sys.argv[1]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with open(pidfile, "w") as fh:
            fh.write(str(os.getpid()))
        # no HARNESS_PROCESS_TREE mark, another session, an orphan: only a subreaper still sees it
        os.execve("/bin/sleep", ["sleep", "300"], {"PATH": "/bin"})
    os._exit(0)
while not os.path.exists(pidfile) or not open(pidfile).read():
    time.sleep(0.02)
"""


def test_contained_run_kills_a_double_forked_setsid_daemon(tmp_path: Path) -> None:
    from harness.proctree import contained

    pidfile = tmp_path / "daemon"
    with contained():
        r = run_measured([sys.executable, "-c", DAEMON, str(pidfile)], timeout_s=30)
        assert r.exit_code == 0
        daemon = int(pidfile.read_text())
        time.sleep(0.2)
        assert not alive(daemon)  # adopted by this subreaper, found and killed by the run itself
    assert not alive(daemon)


def test_sigterm_in_a_contained_block_kills_the_tree_and_removes_temp_dirs(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    pids = tmp_path / "pids"
    harness = f"""
import sys
from harness.measure import run_measured
from harness.proctree import contained
try:
    with contained():
        run_measured([sys.executable, "-c", "import os, time; open({str(pids)!r}, 'w').write(str(os.getpid()));"
                      " time.sleep(300)"], timeout_s=120)
except KeyboardInterrupt as exc:
    print("interrupted:", exc, flush=True)
    sys.exit(130)
"""
    proc = subprocess.Popen([sys.executable, "-c", harness], env=os.environ | {"TMPDIR": str(tmp)},
                            stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    run = int(pids.read_text())
    assert [p.name for p in tmp.iterdir()] != []  # the run's temporary folder exists meanwhile
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted: signal SIGTERM" in out
    time.sleep(0.2)
    assert not alive(run)
    assert list(tmp.iterdir()) == []
