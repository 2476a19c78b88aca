"""Whether a lock holder's process still runs, judged from ``/proc``.

A holder records where its process id means something (``space``: the boot of
the kernel and the PID namespace it ran in) and when its process started
(field 22 of ``/proc/<pid>/stat``, clock ticks after boot). A process that
reads the lock in the same space can tell for sure that the holder is dead: its
pid is gone, it is a zombie, or the pid now belongs to a process that started
at another time. Anywhere else — another host, another container, a system
without ``/proc`` — nothing is judged and the lease decides, as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Liveness:
    """What this process can tell about a holder. ``alive`` is None when it cannot
    tell (the holder ran elsewhere): then only the lease counts."""

    alive: bool | None
    reason: str

    @property
    def dead(self) -> bool:
        return self.alive is False

    def describe(self) -> str:
        """``dead (pid 1234 is gone)``, ``alive (pid 1234 runs)``, ``unknown (...)``."""
        word = {True: "alive", False: "dead", None: "unknown"}[self.alive]
        return f"{word} ({self.reason})"


def pid_space() -> str | None:
    """Where this process's pid means something: ``<boot id>/<pid namespace>``;
    None without ``/proc``."""
    try:
        boot = (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
        namespace = os.readlink(PROC / "self" / "ns" / "pid")
    except OSError:
        return None
    return f"{boot}/{namespace}" if boot and namespace else None


def start_time(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks after boot; None when it does
    not exist (or has exited and waits to be reaped)."""
    stat = _stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return None
    try:
        return int(stat[19])
    except (IndexError, ValueError):
        return None


def judge(pid: int, started: int | None, space: str | None) -> Liveness:
    """Whether the process ``pid`` that started at ``started`` in ``space`` runs."""
    here = pid_space()
    if space is None or here is None or space != here:
        return Liveness(None, "on another host: its lease decides")
    stat = _stat(pid)
    if stat is None:
        return Liveness(False, f"pid {pid} is gone")
    if stat[0] in ("Z", "X"):
        return Liveness(False, f"pid {pid} has exited")
    now = start_time(pid)
    if started is not None and now is not None and now != started:
        return Liveness(False, f"pid {pid} now belongs to another process")
    return Liveness(True, f"pid {pid} runs")


def _stat(pid: int) -> list[str] | None:
    """Fields 3 onwards of ``/proc/<pid>/stat`` (state first); None when it is gone.
    The command name (field 2) may hold spaces and parentheses: split after its
    last ``)``."""
    if pid <= 0:
        return None
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 1 :].split()
