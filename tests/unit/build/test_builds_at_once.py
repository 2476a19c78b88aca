"""The example's images build at the same time on an engine that runs several
builds at once, one after the other on one that does not, and a failed build
starts no other.

A fake engine stands in for Docker's builds (tests/engine/test_build.py builds
for real); the example's specs and sources are the real ones.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from pathlib import Path
from typing import cast

import pytest

from dockyard.build.images import build_environment
from dockyard.engines.base import BuildRequest, Engine, ProgressFn
from dockyard.errors import BuildError
from dockyard.events import Event
from dockyard.spec import load_environment
from dockyard.spec.loaded import LoadedEnvironment

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
BUILT = ["db", "api", "worker", "web"]  # the example's images, in file order
DEADLINE = 10.0


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> LoadedEnvironment:
    root = tmp_path_factory.mktemp("builds") / "examples"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns("__pycache__", ".dockyard"))
    return load_environment(root / "platform", "local")


class Builder:
    """Builds by waiting: the builds of a group of ``at_once`` wait until the whole
    group builds, so builds one after the other never finish. ``fail`` names the
    one that fails."""

    def __init__(self, at_once: int | None, fail: str | None = None) -> None:
        if at_once is not None:
            self.builds_at_once = at_once
        self.fail = fail
        self.met = threading.Barrier(at_once or 1, timeout=DEADLINE)
        self.asked: list[str] = []
        self.finished: list[str] = []

    def build(self, request: BuildRequest, progress: ProgressFn) -> str:
        self.asked.append(request.service)
        progress(f"Step 1/1 : FROM base ({request.service})")
        if request.service == self.fail:
            self.met.abort()  # the others of its group build on
            raise BuildError(f"building {request.tag} failed")
        with contextlib.suppress(threading.BrokenBarrierError):
            self.met.wait()
        self.finished.append(request.service)
        return f"sha256:{request.service:0<64}"


def test_images_build_at_the_same_time(example: LoadedEnvironment) -> None:
    events: list[Event] = []
    engine = Builder(at_once=4)  # the four builds meet: none waits for another to end
    built = build_environment(cast(Engine, engine), example, report=events.append)
    assert [b.service for b in built] == BUILT
    assert [b.image_id[7:10] for b in built] == ["db0", "api", "wor", "web"]
    # Each build's output is reported under its own service.
    output = [(e.subject, e.message) for e in events if e.kind == "output"]
    assert sorted(output) == sorted((s, f"Step 1/1 : FROM base ({s})") for s in BUILT)


def test_an_engine_that_says_nothing_builds_one_after_the_other(
    example: LoadedEnvironment,
) -> None:
    engine = Builder(at_once=None)
    built = build_environment(cast(Engine, engine), example)
    assert [b.service for b in built] == engine.asked == BUILT


def test_a_failed_build_starts_no_other(example: LoadedEnvironment) -> None:
    engine = Builder(at_once=1, fail="db")
    with pytest.raises(BuildError, match="failed"):
        build_environment(cast(Engine, engine), example)
    assert engine.asked == ["db"]


def test_a_build_under_way_finishes_when_another_fails(example: LoadedEnvironment) -> None:
    engine = Builder(at_once=2, fail="api")  # db and api start together
    with pytest.raises(BuildError, match="failed"):
        build_environment(cast(Engine, engine), example)
    assert engine.asked[:2] in (["db", "api"], ["api", "db"])
    assert "db" in engine.finished
