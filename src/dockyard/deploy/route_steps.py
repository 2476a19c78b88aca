"""The ingress's part of a deploy's plan: which image each of its two containers
runs, and the steps the planner cannot see by comparing definitions.

- ``ingress_images``: builds the ingress image; the holder keeps the image it
  runs, so a new image replaces Caddy alone;
- ``route_steps``: a step that loads the routes when the running ingress routes
  otherwise than the spec says; Caddy replaced with (or after) its holder; a
  holder started in place of an ingress of one container. Pure: what the
  ingress runs was read when the environment was observed
  (``dockyard.deploy.observed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.deploy.observed import Observed
from dockyard.deploy.routing import routing_table
from dockyard.discovery.agent import agent_images
from dockyard.discovery.caddy import caddy_config
from dockyard.discovery.ingress import ingress_build
from dockyard.discovery.metrics import prometheus_images
from dockyard.engines.images import Images
from dockyard.events import Event, Reporter
from dockyard.plan.desired import ingress_of
from dockyard.plan.ingress import HOLDER_SERVICE, INGRESS_SERVICE
from dockyard.plan.model import ActualState, ActualTask, DesiredState, IngressDef, Plan, Step
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.supervise.build import supervisor_images


def ingress_images(
    engine: Images, env: LoadedEnvironment, actual: ActualState, report: Reporter
) -> dict[str, str]:
    """Build the ingress image of ``env`` unless the engine has it, and say which
    image its holder runs: ``{"ingress": tag, "ingress-holder": image}``, or nothing
    when the environment has no ingress. The image is built on the engine, from
    files that ship with Dockyard; it is not pushed. The supervisor's image comes
    along (``dockyard.supervise``).

    The holder only waits, so it keeps the image it runs while the engine has
    that image: a new ingress image replaces Caddy alone, which loses no request,
    and not the holder, whose replacement closes the public port for a moment
    (``actual``: what runs)."""
    supervisor = {
        **supervisor_images(engine, env, report),
        **agent_images(engine, env, report),
        **prometheus_images(engine, env, report),
    }
    if ingress_of(env) is None:
        return supervisor
    holder = _holder_image(engine, actual)
    request = ingress_build(env.spec.ingress.base_image)
    if not engine.image_present(request.tag):
        report(Event("build", request.service, f"building {request.tag}"))

        def progress(line: str) -> None:
            report(Event("output", request.service, line))

        engine.build(request, progress)
    return {**supervisor, INGRESS_SERVICE: request.tag, HOLDER_SERVICE: holder or request.tag}


def _holder_image(engine: Images, actual: ActualState) -> str | None:
    for task in actual.tasks_of(HOLDER_SERVICE):
        image = task.definition.main.image if task.definition else None
        if image is not None and engine.image_present(image):
            return image
    return None


def route_steps(desired: DesiredState, observed: Observed, steps: Plan) -> Plan:
    """``steps``, plus a step that loads the ingress's routes when nothing else would
    and the running ingress routes otherwise than the spec says (a route was added,
    a replica died). A holder that is started again brings a new Caddy: the old
    one would be left in the old holder's namespace."""
    ingress = desired.ingress
    if ingress is None:
        return steps
    actual = observed.actual
    steps = _holder_takes_over(actual, steps)
    steps = _caddy_follows_holder(actual, steps, cut_off=observed.ingress.cut_off)
    if steps.changes:
        return steps  # applying any change ends with loading the routes
    caddy = _serving(desired, ingress, actual)
    if caddy is None:
        return steps
    seen = observed.ingress.caddys.get(caddy.task)
    loaded = seen.config() if seen is not None else None
    if loaded is not None and _in_step(loaded, ingress, actual):
        return steps
    step = Step(
        action="replace",
        target="routes",
        name=ingress.service,
        reason="the ingress routes otherwise than the spec and the healthy replicas say",
    )
    return steps.model_copy(update={"steps": [*steps.steps, step]})


def _serving(desired: DesiredState, ingress: IngressDef, actual: ActualState) -> ActualTask | None:
    """The running Caddy a deploy drives: of two (a deploy killed mid-upgrade), the
    one that runs the desired definition."""
    wanted = next((s.task.spec_hash() for s in desired.services if s.name == ingress.service), None)
    running = [t for t in actual.tasks_of(ingress.service) if t.running and t.main is not None]
    running.sort(key=lambda t: t.spec_hash != wanted)
    return running[0] if running else None


def _in_step(loaded: Mapping[str, Any], ingress: IngressDef, actual: ActualState) -> bool:
    """Whether the ingress runs the config ``actual`` calls for (only the apps say
    what is routed). A replica whose health check failed a moment ago may stay
    listed: the ingress's own health check keeps requests off it."""
    return any(
        loaded.get("apps") == caddy_config(routing_table(ingress, actual, running=r)).get("apps")
        for r in (False, True)
    )


def _holder_takes_over(actual: ActualState, steps: Plan) -> Plan:
    """``steps`` with a first holder started in place of an ingress of one container
    (what Dockyard ran before the split): that one publishes the host port the
    holder needs, so it goes first, and the new Caddy joins the holder after."""
    holder = next((s for s in steps.steps if s.name == HOLDER_SERVICE), None)
    if holder is None or holder.action != "create":
        return steps
    single = [
        t
        for t in actual.tasks_of(INGRESS_SERVICE)
        if t.definition is None or t.definition.joins is None
    ]
    if not single:
        return steps
    takeover = holder.model_copy(
        update={
            "action": "replace",
            "start": [],
            "replace": [single[0].task],
            "reason": "the ingress of one container gives its port and names to a holder",
        }
    )
    return steps.model_copy(update={"steps": [takeover if s is holder else s for s in steps.steps]})


def _caddy_follows_holder(actual: ActualState, steps: Plan, *, cut_off: bool) -> Plan:
    """``steps`` with Caddy replaced when its holder is replaced, or was started
    again since Caddy started (Caddy would stay in the old, empty namespace)."""
    holder = next((s for s in steps.steps if s.name == HOLDER_SERVICE), None)
    caddy = next((s for s in steps.steps if s.name == INGRESS_SERVICE), None)
    if holder is None or caddy is None or caddy.replace or caddy.action == "create":
        return steps
    tasks = [t.task for t in actual.tasks_of(INGRESS_SERVICE)]
    if not tasks:
        return steps
    if holder.action != "noop":
        reason = "its holder is replaced: a new Caddy joins the new namespace"
    elif cut_off:
        reason = "its holder restarted after it: Caddy is in a namespace of its own"
    else:
        return steps
    follow = caddy.model_copy(
        update={
            "action": "replace",
            "replace": [tasks[0]],
            "stop": [t for t in caddy.stop if t != tasks[0]],
            "reason": reason,
        }
    )
    return steps.model_copy(update={"steps": [follow if s is caddy else s for s in steps.steps]})
