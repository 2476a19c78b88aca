"""A private etcd server (Debian's etcd-server) for the tests and benches: its own
data folder and free ports on 127.0.0.1, stopped and removed afterwards."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .support import free_port


@contextmanager
def etcd_server(timeout: float = 30.0) -> Iterator[str]:
    """Run etcd until the block ends; yields its client URL."""
    binary = shutil.which("etcd")
    if binary is None:
        raise RuntimeError("etcd is missing: run scripts/bootstrap.sh --tests (etcd-server)")
    folder = Path(tempfile.mkdtemp(prefix="dockyard-etcd-"))
    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    log = (folder / "etcd.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            "--name=test",
            f"--data-dir={folder / 'data'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=test=http://127.0.0.1:{peer}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as answer:
                    if json.load(answer).get("health") == "true":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"etcd did not start: {(folder / 'etcd.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def etcd_keys(url: str, prefix: str) -> dict[str, dict[str, object]]:
    """What etcd holds under ``prefix``: key -> the JSON value (read with the v3
    gateway, independently of the registrar)."""
    end = bytearray(prefix.encode())
    end[-1] += 1
    body = json.dumps(
        {
            "key": base64.b64encode(prefix.encode()).decode(),
            "range_end": base64.b64encode(end).decode(),
        }
    ).encode()
    request = urllib.request.Request(f"{url}/v3/kv/range", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=2) as answer:
        data = json.load(answer)
    return {
        base64.b64decode(kv["key"]).decode(): json.loads(base64.b64decode(kv["value"]))
        for kv in data.get("kvs") or []
    }
