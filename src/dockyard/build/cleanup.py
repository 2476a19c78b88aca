"""Removing an environment's images from its engine (``dockyard down ENV --images``).

What is the environment's:

* every image labelled with its project and its name (``dockyard.project``,
  ``dockyard.env``): the builds made for it, and with them their names under the
  environment's namespace (``dockyard/<project>/`` or ``<registry>/<project>/``);
* the names under that namespace that its containers and recorded releases ran
  (``<registry>/<project>/<service>@sha256:...``), pulled for it, whoever built them.

Nothing else is touched: not the base image, not Dockyard's own images (the
ingress image, which every environment on the engine shares), not another
project's, and not a name another environment gave an image. An image that a
container still uses is left, with a note. The registry is never changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from dockyard.build.naming import LABEL_PROJECT, namespace, project_of
from dockyard.engines.images import Images
from dockyard.engines.model import ImageSelection, RemovedImage
from dockyard.events import Event, Reporter, silent
from dockyard.plan.model import LABEL_ENV, ActualState
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.state import StateStore

HISTORY_LIMIT = 100_000
"""Releases read back for the images they ran: every one, in practice."""


def used_refs(actual: ActualState, store: StateStore | None = None) -> set[str]:
    """The image references the environment's containers run and its releases recorded."""
    refs = {
        c.image for t in actual.tasks if t.definition is not None for c in t.definition.containers
    }
    if store is not None:
        for release in store.history(actual.environment, limit=HISTORY_LIMIT):
            refs.update(s.image for s in release.services)
    return refs


def selection(env: LoadedEnvironment, used: Iterable[str] = ()) -> ImageSelection:
    """What of the engine's images is ``env``'s: see the module's docstring."""
    project = project_of(env)
    prefix = namespace(env.spec.registry, project)
    return ImageSelection(
        labels={LABEL_PROJECT: project, LABEL_ENV: env.name},
        namespace=prefix,
        refs=frozenset(r for r in used if r.startswith(prefix + "/")),
    )


def remove_images(
    engine: Images,
    env: LoadedEnvironment,
    used: Iterable[str] = (),
    report: Reporter = silent,
) -> list[RemovedImage]:
    """Remove ``env``'s images from its engine; ``used`` are the references its
    containers and releases ran (:func:`used_refs`, read before the containers go)."""
    results = engine.remove_images(selection(env, used))
    for r in results:
        what = ", ".join(r.names) or r.image_id[:19]
        if r.deleted:
            report(Event("stop", "", f"removed image {what}"))
        elif r.names:
            report(Event("stop", "", f"removed {what} ({r.note})"))
        else:
            report(Event("stop", "", f"kept image {what}: {r.note}"))
    return results
