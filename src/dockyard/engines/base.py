"""What every engine is, and ``Engine``: everything one host does.

An engine is made of small protocols, one per concern, each in its module:

- :class:`EngineBase` (here): its name, and whether it answers;
- ``environment.Environments``: what runs for an environment (and removing a task
  of it); its network and volumes;
- ``replicas.Replicas``: one replica at a time: start it, wait until it is ready,
  check that it stays so;
- ``images.Images``: build, look up, pull, tag, push and remove images;
- ``oneoff.OneOffs``: one-off tasks (migrations, smoke tests);
- ``access.ContainerAccess``: a command run in a container, its logs;
- ``converge.ConvergesServices``: rolling services out natively (a cluster engine),
  where one host offers ``Replicas`` and Dockyard rolls them.

``Platform`` is what every engine has (all but ``Replicas`` and
``ConvergesServices``); ``Engine`` adds ``Replicas``: one host.
Callers name the narrowest one they use; which ones an engine has is what
:func:`~dockyard.engines.capabilities.capabilities` tells.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from dockyard.engines.access import ContainerAccess
from dockyard.engines.environment import Environments
from dockyard.engines.images import Images
from dockyard.engines.oneoff import OneOffs
from dockyard.engines.replicas import Replicas


@runtime_checkable
class EngineBase(Protocol):
    """What every engine has: a name and a way to check that it answers."""

    name: str  # the engine's kind, as the environment file names it

    def ping(self) -> str:
        """The engine's version; raises EngineUnreachable when nothing answers."""
        ...


@runtime_checkable
class Platform(EngineBase, Environments, Images, OneOffs, ContainerAccess, Protocol):
    """What every engine an environment deploys to has, one host or a cluster: the
    commands (plan, release, status, down) take this. How it rolls services out,
    through ``Replicas`` or ``ConvergesServices``, is the deploy's business
    (:func:`~dockyard.deploy.apply.converger_for`)."""


@runtime_checkable
class Engine(Platform, Replicas, Protocol):
    """An engine that does everything one host does (the ``docker`` engine): it runs
    tasks one replica at a time, so Dockyard rolls its services out itself."""
