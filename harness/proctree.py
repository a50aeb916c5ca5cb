"""Process-tree containment for a harness process: nothing it starts may outlive it.

A harness process that runs builds and experiments (``harness evaluate``, a batch worker) makes
itself a *child subreaper* (``PR_SET_CHILD_SUBREAPER``): a process that double-forks and calls
``setsid`` is re-parented to it instead of to init, so :func:`kill_descendants` still finds it.
It can also ask to die with its parent (``PR_SET_PDEATHSIG``). :func:`terminate_as_interrupt`
turns SIGTERM (and SIGHUP) into ``KeyboardInterrupt``, so a ``kill`` takes the same clean-up path
as Ctrl-C (running trees killed, temporary folders removed).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
from collections.abc import Iterator

import psutil

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> None:
    """Linux prctl(2) with an int argument; a no-op elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the caller's own cleanup still applies
        pass


def kill_descendants(timeout_s: float = 3.0, spare: frozenset[int] = frozenset()) -> None:
    """Terminate, then kill, every process this one started (however deep), except ``spare`` pids."""
    try:
        children = [c for c in psutil.Process().children(recursive=True) if c.pid not in spare]
    except psutil.Error:
        return
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=timeout_s)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(alive, timeout=1.0)  # reap them (we are their parent or subreaper)


def become_subreaper(*, die_with_parent: bool = False) -> bool:
    """Adopt the orphans of every descendant; optionally die (SIGTERM) with the parent. False when
    the parent had already died before the death signal was armed."""
    parent = os.getppid()
    if die_with_parent:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    return not die_with_parent or os.getppid() == parent


def _interrupt(signum: int, _frame: object) -> None:
    signal.signal(signum, signal.SIG_IGN)  # one clean-up, however many signals follow
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def contained(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGHUP)) -> Iterator[None]:
    """Run the block as a subreaper with ``signals`` raising ``KeyboardInterrupt``; on the way out
    (normally, on an exception or a signal) every remaining descendant is killed and reaped."""
    if threading.current_thread() is not threading.main_thread():
        signals = ()  # handlers can only be installed by the main thread
    previous = {sig: signal.getsignal(sig) for sig in signals}
    for sig in signals:
        signal.signal(sig, _interrupt)
    become_subreaper()
    try:
        yield
    finally:
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)
        try:
            kill_descendants(timeout_s=2.0)
        finally:
            prctl(PR_SET_CHILD_SUBREAPER, 0)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
