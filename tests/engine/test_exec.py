"""Commands attached to the caller (``dockyard exec``) and what an inspect of a
container tells ``status``, against a real engine."""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import docker
import docker.errors
import pytest

from dockyard.engines.access import Terminal
from dockyard.engines.docker import DockerEngine

from .support import Run, wait_for

pytestmark = pytest.mark.engine


@pytest.fixture
def running(client: docker.DockerClient, test_run: Run, web_image: str) -> Iterator[str]:
    container = client.containers.run(web_image, detach=True, labels=test_run.labels)
    wait_for(lambda: container.exec_run(["true"]).exit_code == 0, 20, "the container")
    yield container.id or ""
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)


def attached(stdin: bytes | None, tty: bool = False) -> tuple[Terminal, io.BytesIO, io.BytesIO]:
    """A Terminal whose input is ``stdin`` (through a pipe, as a shell gives it)."""
    out, err = io.BytesIO(), io.BytesIO()
    reader = None
    if stdin is not None:
        read, write = os.pipe()

        def feed() -> None:
            os.write(write, stdin)
            os.close(write)

        threading.Thread(target=feed, daemon=True).start()
        reader = os.fdopen(read, "rb", buffering=0)
    return Terminal(stdin=reader, stdout=out, stderr=err, tty=tty), out, err  # type: ignore[arg-type]


def test_the_exit_code_and_both_streams_come_back(engine: DockerEngine, running: str) -> None:
    terminal, out, err = attached(None)
    script = "echo out; echo err >&2; exit 7"
    assert engine.attach(running, ["sh", "-c", script], terminal) == 7
    assert (out.getvalue(), err.getvalue()) == (b"out\n", b"err\n")


def test_input_is_forwarded_to_its_end(engine: DockerEngine, running: str) -> None:
    data = b"".join(b"line %d\n" % i for i in range(20000))  # more than one socket buffer
    terminal, out, _ = attached(data)
    assert engine.attach(running, ["sh", "-c", "cat; echo done"], terminal) == 0
    assert out.getvalue() == data + b"done\n"


def test_a_terminal_of_the_callers_size(engine: DockerEngine, running: str) -> None:
    out = io.BytesIO()
    terminal = Terminal(stdin=None, stdout=out, stderr=out, tty=True, size=lambda: (33, 101))
    code = engine.attach(running, ["sh", "-c", "sleep 0.5; tty; stty size; exit 4"], terminal)
    assert code == 4
    lines = out.getvalue().decode().split("\r\n")
    assert lines[0].startswith("/dev/pts/")
    assert lines[1] == "33 101"


def test_a_program_that_is_not_in_the_image(engine: DockerEngine, running: str) -> None:
    terminal, out, err = attached(None)
    code = engine.attach(running, ["no-such-program"], terminal)
    assert code in (126, 127)
    assert b"no-such-program" in out.getvalue() + err.getvalue()


def test_details_tell_since_when_it_runs_and_its_image(
    engine: DockerEngine, client: docker.DockerClient, running: str, web_image: str
) -> None:
    details = engine.details(running)
    assert details is not None
    assert details.started is not None and details.started <= datetime.now(UTC)
    assert details.image_id == client.images.get(web_image).id
    assert details.image_digests == []  # built here, never pushed
    assert details.restarts == 0
    client.containers.get(running).remove(force=True)
    assert engine.details(running) is None
