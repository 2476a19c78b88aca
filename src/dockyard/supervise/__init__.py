"""The supervisor: a small container in each environment that keeps it running
between deploys.

Docker's restart policies do not cover a container that was killed (``docker
kill``), and a sidecar stays in its main container's old network namespace when
the main restarts. The supervisor runs on the engine itself, watches the
environment's container events through the engine's socket, starts again what
should run and restarts a main container's sidecars when the main restarts.

- ``build``: the supervisor image (files that ship with Dockyard, built on the
  engine) and the hook a deploy calls to have it;
- ``image/supervisor.py``: the program, stdlib only; it runs in the container.

The accessory's definition is in ``dockyard.plan.supervisor``. See
docs/architecture.md, "Keeping an environment running".
"""

from dockyard.plan.supervisor import SUPERVISOR_SERVICE, supervisor_service
from dockyard.supervise.build import supervisor_build, supervisor_images

__all__ = ["SUPERVISOR_SERVICE", "supervisor_build", "supervisor_images", "supervisor_service"]
