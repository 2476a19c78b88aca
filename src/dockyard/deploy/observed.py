"""What runs, read once for a plan: the engine's tasks and what its ingress routes.

``observe`` asks the engine what runs for an environment (``Environments.observe``)
and, when an ingress runs, asks it through ``ContainerAccess.exec`` what it routes:
every running Caddy for the config it runs, and the holder and each Caddy for
their network namespace. Planning works on the value it returns and reads
nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from dockyard.deploy.routing import IngressEngine
from dockyard.discovery.ingress import IngressClient, IngressUnavailable, exec_printing
from dockyard.errors import EngineError, EngineUnreachable
from dockyard.parallel import both, gather
from dockyard.plan.ingress import HOLDER_SERVICE, INGRESS_SERVICE
from dockyard.plan.model import ActualState


@dataclass(frozen=True)
class CaddySeen:
    """What one running Caddy answered when asked for the config it runs."""

    loaded: Mapping[str, Any] | None  # None: its admin API did not answer (starting)
    error: EngineError | None = None  # why its config could not be read otherwise

    def config(self) -> Mapping[str, Any] | None:
        """The config it runs; None when it did not answer. Raises what made its
        answer unreadable: a plan that needs it cannot be made."""
        if self.error is not None:
            raise self.error
        return self.loaded


@dataclass(frozen=True)
class IngressSeen:
    """What the environment's ingress runs; empty when no Caddy runs."""

    caddys: Mapping[str, CaddySeen] = field(default_factory=dict)  # by task id
    cut_off: bool = False  # a running Caddy is in another namespace than its holder


@dataclass(frozen=True)
class Observed:
    """What runs for one environment, as a plan starts from it."""

    actual: ActualState
    ingress: IngressSeen = field(default_factory=IngressSeen)


def observe(engine: IngressEngine, environment: str) -> Observed:
    """Read what runs for ``environment``, its ingress included."""
    actual = engine.observe(environment)
    return Observed(actual, read_ingress(engine, actual))


def read_ingress(engine: IngressEngine, actual: ActualState) -> IngressSeen:
    """Ask the ingress that runs in ``actual`` what it routes. Every question is an
    exec into a container of its own; they are asked at the same time."""
    reads = {
        t.task: partial(_config, engine, t.main.id)
        for t in actual.tasks_of(INGRESS_SERVICE)
        if t.running and t.main is not None
    }
    caddys, cut_off = both(lambda: gather(reads), partial(_cut_off, engine, actual))
    return IngressSeen(caddys=caddys, cut_off=cut_off)


def _config(engine: IngressEngine, container_id: str) -> CaddySeen:
    try:
        return CaddySeen(IngressClient(engine, container_id).config())
    except IngressUnavailable:
        return CaddySeen(None)  # starting or restarting: loading the routes will wait for it
    except EngineUnreachable:
        raise
    except EngineError as e:
        return CaddySeen(None, e)


_NETNS = ["python3", "-c", "import os; print(os.readlink('/proc/1/ns/net'))"]
"""Prints the network namespace of a container's first process."""


def _cut_off(engine: IngressEngine, actual: ActualState) -> bool:
    """Whether a running Caddy is in another network namespace than the running
    holder's: Docker gives a container that restarts a new namespace, and one
    that joined the old one keeps it (and still counts as running)."""
    holders = [t.main for t in actual.tasks_of(HOLDER_SERVICE) if t.running and t.main]
    caddys = [t.main for t in actual.tasks_of(INGRESS_SERVICE) if t.running and t.main]
    if len(holders) != 1 or not caddys:
        return False
    spaces = gather({c.id: partial(_namespace, engine, c.id) for c in [*holders, *caddys]})
    if None in spaces.values():
        return False  # one stopped meanwhile: the next look decides
    return len(set(spaces.values())) > 1


def _namespace(engine: IngressEngine, container_id: str) -> str | None:
    """The network namespace of the container's first process; None when it cannot be read."""
    try:
        code, output = exec_printing(engine, container_id, _NETNS)
    except EngineError:
        return None
    space = output.strip()
    return space if code == 0 and space.startswith("net:[") else None
