"""``OneOffs``: tasks that run once to completion (a migration, a smoke test).

On one host a one-off task is a container of its own; a cluster engine would
run it as a job. Either way it joins the environment's network, its output
streams as it comes, and nothing of it is left once it ended.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from dockyard.engines.model import NO_SECRETS, OneOffResult, ProgressFn, SecretValues
from dockyard.plan.model import DesiredState, OneOffDef


@runtime_checkable
class OneOffs(Protocol):
    """Run one-off tasks, and clean up after runs that were killed."""

    def run_oneoff(
        self,
        desired: DesiredState,
        task: OneOffDef,
        release: str,
        output: ProgressFn,
        secrets: SecretValues = NO_SECRETS,
    ) -> OneOffResult:
        """Run ``task`` on the environment's network (so it reaches accessories and
        services by name) with the files of its secrets (values in ``secrets``),
        pass every output line to ``output`` as it comes, kill it
        when ``task.timeout`` passes, remove what ran it, and return how it ended.
        Interrupting the caller (KeyboardInterrupt) kills and removes it too."""
        ...

    def remove_oneoffs(self, environment: str, deploy_only: bool = False) -> list[str]:
        """Remove the one-off task containers of ``environment`` that a killed run left
        behind (with ``deploy_only``, not those of manual runs, which may be in use);
        returns their names."""
        ...
