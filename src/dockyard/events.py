"""Progress events the library emits; the CLI decides how to show them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

EventKind = Literal[
    "phase", "build", "output", "task", "start", "ready", "route", "stop", "info", "warn"
]
"""``output``: a line of build or push output; ``task``: a line a one-off task (a
migration) wrote; ``route``: a replica joined or left the ingress's rotation, or
finished draining."""


@dataclass(frozen=True)
class Event:
    kind: EventKind
    subject: str  # the service, accessory or object concerned ("" for the environment)
    message: str


Reporter = Callable[[Event], None]


def silent(_: Event) -> None:
    """A reporter that drops every event."""
