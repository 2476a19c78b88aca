"""Running a command in a running container (``docker exec``).

:func:`exec_in` runs a short command without a terminal and without standard
input; its standard output and error come back as one text, in the order the
engine recorded them, and the engine's operation timeout bounds the wait.

:func:`attach` runs one with the caller's input and output attached, over the
connection the engine hands over (a terminal, or output in frames), for as
long as it runs.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
from typing import BinaryIO, cast

import docker

from dockyard.engines.access import Terminal

EXIT_CODE_WAIT = 5.0
"""Seconds to wait for the engine to record the exit code once the output has ended."""
POLL_INTERVAL = 0.02
RESIZE_POLL = 0.5
"""Seconds between two looks at the terminal's size while nothing else happens."""
CHUNK = 65536


def exec_in(api: docker.APIClient, container_id: str, argv: list[str]) -> tuple[int, str]:
    """Run ``argv`` in the container; returns its exit code and combined output."""
    created = api.exec_create(container_id, argv, stdout=True, stderr=True, stdin=False, tty=False)
    exec_id = created["Id"]
    raw = api.exec_start(exec_id, tty=False, stream=False, demux=False)
    output = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
    return _exit_code(api, exec_id), output


def _exit_code(api: docker.APIClient, exec_id: str) -> int:
    """The output ends as the process exits, and the engine records the exit code
    a moment later; until it does, inspect says it still runs."""
    deadline = time.monotonic() + EXIT_CODE_WAIT
    while True:
        info = api.exec_inspect(exec_id)
        code = info.get("ExitCode")
        if not info.get("Running") and code is not None:
            return int(code)
        if time.monotonic() >= deadline:
            return -1
        time.sleep(POLL_INTERVAL)


def attach(api: docker.APIClient, container_id: str, argv: list[str], io: Terminal) -> int:
    """Run ``argv`` in the container with ``io`` attached (``docker exec -i`` or
    ``-it``): input is forwarded until its end, output copied as it comes, the
    terminal's size followed. Returns the command's exit code."""
    created = api.exec_create(
        container_id,
        argv,
        stdout=True,
        stderr=True,
        stdin=io.stdin is not None,
        tty=io.tty,
    )
    exec_id = created["Id"]
    hijacked = api.exec_start(exec_id, tty=io.tty, socket=True)
    sock = cast(socket.socket, getattr(hijacked, "_sock", hijacked))
    sock.settimeout(None)
    try:
        _pump(api, exec_id, sock, io)
    finally:
        hijacked.close()
    return _exit_code(api, exec_id)


def _pump(api: docker.APIClient, exec_id: str, sock: socket.socket, io: Terminal) -> None:
    """Copy between ``io`` and the exec's connection until the command's output ends."""
    inputs = [io.stdin.fileno()] if io.stdin is not None else []
    size: tuple[int, int] | None = None
    pending = b""  # without a terminal, output comes in frames: 8 bytes of header, then data
    while True:
        if io.tty and io.size is not None and io.size() != size:
            size = io.size()
            api.exec_resize(exec_id, height=size[0], width=size[1])
        readable, _, _ = select.select([sock, *inputs], [], [], RESIZE_POLL)
        if inputs and inputs[0] in readable:
            data = os.read(inputs[0], CHUNK)
            if data:
                sock.sendall(data)
            else:  # the end of the input: the command's standard input is closed
                inputs = []
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
        if sock not in readable:
            continue
        data = sock.recv(CHUNK)
        if not data:
            return
        if io.tty:
            _write(io.stdout, data)
            continue
        pending += data
        while len(pending) >= 8:
            length = int.from_bytes(pending[4:8], "big")
            if len(pending) < 8 + length:
                break
            stream, frame = pending[0], pending[8 : 8 + length]
            pending = pending[8 + length :]
            _write(io.stderr if stream == 2 else io.stdout, frame)


def _write(out: BinaryIO, data: bytes) -> None:
    out.write(data)
    out.flush()
