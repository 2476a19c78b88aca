"""The docker engine: one Docker Engine (local socket, ``tcp://`` or ``ssh://``) through docker-py.

Modules: ``connection`` (client, error translation), ``build``, ``run``
(creating a task's containers), ``observe`` (reading tasks back from labels),
``readiness`` (waiting for health), ``labels``; ``engine`` ties them together.
"""

from dockyard.engines.docker.engine import DockerEngine

__all__ = ["DockerEngine"]
