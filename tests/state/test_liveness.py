"""Telling whether a lock holder's process runs, from /proc, with real processes."""

from __future__ import annotations

import os
import subprocess
import sys

from dockyard.state import LockHolder
from dockyard.state.liveness import judge, pid_space, start_time

from .support import dead_holder, eventually, holder_of, sleeper


def test_this_process_is_alive() -> None:
    me = LockHolder.current("release", actor="me")
    assert me.pid == os.getpid() and me.started is not None and me.space == pid_space()
    liveness = me.liveness()
    assert liveness.alive is True
    assert liveness.describe() == f"alive (pid {os.getpid()} runs)"


def test_a_running_child_is_alive_and_a_reaped_one_is_gone() -> None:
    process = sleeper()
    try:
        holder = holder_of(process, "child")
        assert holder.liveness().alive is True
    finally:
        process.kill()
        process.wait(timeout=30)
    liveness = holder.liveness()
    assert liveness.dead
    assert liveness.describe() == f"dead (pid {process.pid} is gone)"


def test_a_killed_child_not_yet_reaped_is_dead() -> None:
    process = sleeper()
    try:
        holder = holder_of(process, "child")
        process.kill()
        eventually(lambda: start_time(process.pid) is None, "the child to become a zombie")
        liveness = holder.liveness()
        assert liveness.dead and liveness.reason == f"pid {process.pid} has exited"
    finally:
        process.kill()
        process.wait(timeout=30)


def test_a_pid_that_now_belongs_to_another_process_is_dead() -> None:
    me = LockHolder.current("release", actor="me")
    assert me.started is not None
    earlier = judge(me.pid, me.started - 1, me.space)  # "the holder started at another time"
    assert earlier.dead
    assert earlier.describe() == f"dead (pid {me.pid} now belongs to another process)"


def test_holders_elsewhere_are_not_judged() -> None:
    gone = dead_holder()
    for space in (None, "another-boot/pid:[4026531836]", f"{pid_space()}x"):
        liveness = judge(gone.pid, gone.started, space)
        assert liveness.alive is None
        assert liveness.describe() == "unknown (on another host: its lease decides)"


def test_start_time_reads_past_a_command_name_with_spaces_and_parentheses() -> None:
    rename = (
        "import ctypes, sys, time; sys.stdin.readline(); "
        "ctypes.CDLL(None).prctl(15, b'a) (b c) d', 0, 0, 0); "
        "print('renamed', flush=True); time.sleep(600)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", rename], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        before = start_time(process.pid)
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.stdout.readline() == "renamed\n"
        with open(f"/proc/{process.pid}/comm") as comm:
            assert comm.read() == "a) (b c) d\n"
        assert before is not None and start_time(process.pid) == before
    finally:
        process.kill()
        process.wait(timeout=30)
