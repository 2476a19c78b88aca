"""A Prometheus file_sd targets file, kept as a registrar: the entries whose port
serves metrics, one target group each, written whole at each change (to a new file
that is then renamed over the old, so Prometheus never reads half of one)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dockyard.discovery.registrars.base import Entry, RegistrarError


def target_groups(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """The file_sd groups of the entries that serve metrics: the target
    ``address:port``, the path as ``__metrics_path__``, and the labels env, service,
    replica, container and port."""
    groups = [
        {
            "targets": [f"{e.address}:{e.port}"],
            "labels": {
                "__metrics_path__": e.metrics or "/metrics",
                "env": e.environment,
                "service": e.service,
                "replica": str(e.replica),
                "container": e.container,
                "port": e.port_name,
                "task": e.task,
            },
        }
        for e in entries
        if e.metrics is not None
    ]
    return sorted(groups, key=lambda g: (g["labels"]["service"], g["labels"]["replica"]))


class FileSdRegistrar:
    """Keeps ``path`` holding the target groups of the environment's entries."""

    kind = "file_sd"

    def __init__(self, environment: str, path: str) -> None:
        self.environment = environment
        self.path = Path(path)
        self._written: str | None = None

    def _write(self, entries: Sequence[Entry]) -> None:
        text = json.dumps(target_groups(entries), indent=1, sort_keys=True) + "\n"
        if text == self._written:
            return
        partial = self.path.with_name(f".{self.path.name}.new")
        try:
            partial.write_text(text)
            partial.chmod(0o644)
            os.replace(partial, self.path)
        except OSError as e:
            raise RegistrarError(
                f"cannot write the targets file {self.path}: {e.strerror or e}",
                hint="the metrics volume must be mounted there, writable",
            ) from e
        self._written = text

    def register(self, entries: Sequence[Entry]) -> None:
        self._write(entries)

    def deregister(self, entries: Sequence[Entry]) -> None:
        """Nothing to do alone: ``sync`` rewrites the whole file."""

    def sync(self, entries: Sequence[Entry]) -> None:
        self._write(entries)

    def close(self) -> None:
        """The file stays: Prometheus keeps scraping what it last held."""
