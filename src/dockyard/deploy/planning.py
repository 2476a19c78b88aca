"""A release's whole plan, from data. Pure: no engine or store I/O.

The plan is one value: the steps between desired and actual state
(``dockyard.plan.diff``), the ingress's own steps (``route_steps``: Caddy follows
its holder, the routes are loaded when the ingress routes otherwise), and the
one-off tasks the release runs or skips (``tasks``). Everything it is computed
from was read before: what runs and what the ingress routes
(``dockyard.deploy.observed``), and the task runs so far (``TaskHistory``).
"""

from __future__ import annotations

from collections.abc import Collection

from dockyard.deploy.observed import Observed
from dockyard.deploy.route_steps import route_steps
from dockyard.deploy.tasks import TaskHistory, task_steps
from dockyard.plan.diff import plan
from dockyard.plan.model import DesiredState, Plan


def release_plan(
    desired: DesiredState,
    observed: Observed,
    only: Collection[str] | None = None,
    history: TaskHistory | None = None,
    *,
    rerun_tasks: bool = False,
) -> Plan:
    """The plan from ``observed`` to ``desired`` (of ``only``: others are left alone).
    With a task ``history`` the plan lists the one-off tasks a release runs or skips
    (all before-deploy ones with ``rerun_tasks``); without one, none (a rollback
    runs none, and a plan without a state store cannot tell)."""
    steps = route_steps(desired, observed, plan(desired, observed.actual, only))
    if history is None:
        return steps
    tasks = task_steps(desired, history, only, changes=bool(steps.changes), rerun=rerun_tasks)
    return steps.model_copy(update={"tasks": tasks})
