"""What a release will do, computed one way for every command that deploys.

``prepare`` runs the pipeline ``observe → ship → desire → plan`` once: it reads
what runs (the ingress's routes included) while the images build, ships them, describes the
desired state, reads the task runs that decide which one-off tasks run, and
plans (``dockyard.deploy.planning``, pure). ``dockyard plan`` stops there;
``release``, ``rollback`` and ``promote`` go on to apply what it returns.

Where the images come from is the one thing the commands differ in (``Source``):
a release builds and pushes them, a plan builds them only, a promotion carries
them from another environment, and a rollback takes the whole desired state an
earlier release recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from dockyard.build.images import BuiltImage
from dockyard.deploy import secret_values
from dockyard.deploy.observed import Observed, observe
from dockyard.deploy.planning import release_plan
from dockyard.deploy.route_steps import ingress_images
from dockyard.deploy.ship import Shipped, build, ship_built
from dockyard.deploy.tasks import task_history
from dockyard.engines.base import Platform
from dockyard.events import Event, Reporter, silent
from dockyard.parallel import both
from dockyard.plan import desire
from dockyard.plan.model import ActualState, DesiredState, Plan
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.state import StateStore


@dataclass(frozen=True)
class Build:
    """Build the environment's images (cached); push them unless ``push`` is False
    (a plan names new images by their local ID)."""

    push: bool = True
    force: bool = False


@dataclass(frozen=True)
class Carried:
    """Images carried from another environment (service → reference): a promotion."""

    images: Mapping[str, str]


@dataclass(frozen=True)
class Recorded:
    """The desired state an earlier release recorded: a rollback."""

    desired: DesiredState


Source = Build | Carried | Recorded
"""Where a release's images come from."""


@dataclass(frozen=True)
class Planned:
    """What a release will do, and what it was computed from."""

    desired: DesiredState
    observed: Observed
    plan: Plan
    shipped: Mapping[str, Shipped] = field(default_factory=dict)  # what ``Build`` built

    @property
    def actual(self) -> ActualState:
        return self.observed.actual


def _go_on() -> None:
    """A check that never stops the pipeline."""


def prepare(
    engine: Platform,
    env: LoadedEnvironment,
    source: Source,
    only: Collection[str] | None = None,
    *,
    store: StateStore | None = None,
    rerun_tasks: bool = False,
    report: Reporter = silent,
    check: Callable[[], None] = _go_on,
) -> Planned:
    """Observe ``env`` once, ship its images from ``source``, describe the desired
    state of ``env`` (of ``only``) and plan it. With the ``store``, the plan lists
    the one-off tasks a release would run or skip. ``check`` runs once the images
    are ready and may raise to stop (the deploy lock uses it when its lease was
    lost during a long build)."""
    report(Event("phase", "", "reading what runs"))
    if isinstance(source, Build):  # the build does not need what runs: both at once
        observed, built = both(
            partial(observe, engine, env.name),
            partial(build, engine, env, only, force=source.force, report=report),
        )
    else:
        observed, built = observe(engine, env.name), []
    desired, shipped = _desired(engine, env, source, only, observed.actual, built, report)
    check()
    history = task_history(store, desired, only) if store is not None else None
    steps = release_plan(desired, observed, only, history, rerun_tasks=rerun_tasks)
    return Planned(desired, observed, steps, shipped)


def _desired(
    engine: Platform,
    env: LoadedEnvironment,
    source: Source,
    only: Collection[str] | None,
    actual: ActualState,
    built: Sequence[BuiltImage],
    report: Reporter,
) -> tuple[DesiredState, dict[str, Shipped]]:
    """The desired state, and the images shipped for it (``built``, by a ``Build``).
    A service whose build matches what runs keeps its running digest."""
    if isinstance(source, Recorded):
        return source.desired, {}
    shipped: dict[str, Shipped] = {}
    if isinstance(source, Build):
        shipped = ship_built(
            engine, env, built, actual=actual, push_images=source.push, report=report
        )
        images = {name: s.image for name, s in shipped.items()}
    else:
        images = dict(source.images)
    images.update(ingress_images(engine, env, actual, report))
    return desire(env, images, only, secret_values.catalog(env, only)), shipped
