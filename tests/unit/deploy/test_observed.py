"""Observing reads what the ingress routes once, through ``Engine.exec``. A
scripted ``exec`` stands in for the engine (tests/engine/test_ingress_upgrade.py
runs the real thing)."""

from __future__ import annotations

import json
import threading
from typing import cast

import pytest

from dockyard.deploy.observed import CaddySeen, observe
from dockyard.discovery.ingress import UNREACHABLE, IngressError
from dockyard.engines.base import Engine
from dockyard.plan.ingress import HOLDER_SERVICE, INGRESS_SERVICE
from dockyard.plan.model import ActualContainer, ActualState, ActualTask

ENV = "t"
ROUTED: dict[str, object] = {"apps": {"http": {"servers": {}}}}


def task(service: str, container_id: str, status: str = "running") -> ActualTask:
    main = ActualContainer(
        id=container_id, name=f"{ENV}-{service}-1", container="c", role="main", status=status
    )
    return ActualTask(
        task=f"{ENV}-{service}-1",
        service=service,
        kind="accessory",
        replica=1,
        spec_hash="h",
        containers=[main],
    )


class Scripted:
    """An engine that observes ``actual`` and answers ``exec``: each container's
    namespace from ``spaces``, Caddy's config with ``admin`` (exit code, output)."""

    def __init__(self, actual: ActualState, spaces: dict[str, str], admin: tuple[int, str]) -> None:
        self.actual = actual
        self.spaces = spaces
        self.admin = admin
        self.observed = 0
        self.asked: list[str] = []

    def observe(self, environment: str) -> ActualState:
        self.observed += 1
        return self.actual

    def exec(self, container_id: str, argv: list[str]) -> tuple[int, str]:
        self.asked.append(container_id)
        if argv[3:5] == ["GET", "/config/"]:
            return self.admin
        return 0, self.spaces[container_id] + "\n"


def answer(status: int, body: object) -> tuple[int, str]:
    return 0, json.dumps({"status": status, "body": json.dumps(body)}) + "\n"


def ingress(holder_status: str = "running") -> ActualState:
    tasks = [task(HOLDER_SERVICE, "h1", holder_status), task(INGRESS_SERVICE, "c1")]
    return ActualState(environment=ENV, tasks=tasks)


def test_what_caddy_routes_and_its_namespace_are_read_with_what_runs() -> None:
    engine = Scripted(ingress(), {"h1": "net:[1]", "c1": "net:[2]"}, answer(200, ROUTED))

    seen = observe(cast(Engine, engine), ENV)

    assert engine.observed == 1
    assert seen.ingress.caddys == {f"{ENV}-{INGRESS_SERVICE}-1": CaddySeen(ROUTED)}
    assert seen.ingress.cut_off
    assert sorted(engine.asked) == ["c1", "c1", "h1"]  # one config, two namespaces


def test_a_caddy_that_does_not_answer_yet_is_seen_without_a_config() -> None:
    silent = (UNREACHABLE, json.dumps({"unreachable": "no socket"}))
    engine = Scripted(ingress(holder_status="exited"), {}, silent)

    seen = observe(cast(Engine, engine), ENV)

    assert seen.ingress.caddys[f"{ENV}-{INGRESS_SERVICE}-1"] == CaddySeen(None)
    assert not seen.ingress.cut_off  # no running holder: nothing to compare
    assert engine.asked == ["c1"]


def test_an_answer_that_makes_no_sense_is_kept_for_the_plan_that_needs_it() -> None:
    engine = Scripted(ingress(), {"h1": "net:[1]", "c1": "net:[1]"}, (126, "python3: not found"))

    (caddy,) = observe(cast(Engine, engine), ENV).ingress.caddys.values()

    with pytest.raises(IngressError, match="python3: not found"):
        caddy.config()


def test_nothing_is_asked_of_an_environment_without_an_ingress() -> None:
    engine = Scripted(ActualState(environment=ENV), {}, (0, ""))

    seen = observe(cast(Engine, engine), ENV)

    assert (seen.ingress.caddys, seen.ingress.cut_off, engine.asked) == ({}, False, [])


class Forgetful(Scripted):
    """Docker 20.10 under load: an exec now and then exits 0 with none of its output."""

    def __init__(self, *args: object, lose: int) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.lose = lose
        self.lock = threading.Lock()  # observing asks from several threads at once

    def exec(self, container_id: str, argv: list[str]) -> tuple[int, str]:
        with self.lock:
            lost = self.lose > 0
            self.lose -= 1
            if lost:
                self.asked.append(container_id)
        if lost:
            return 0, ""
        with self.lock:
            return super().exec(container_id, argv)


def test_a_lost_exec_output_is_asked_again_not_taken_for_another_namespace() -> None:
    same = {"h1": "net:[1]", "c1": "net:[1]"}
    engine = Forgetful(ingress(), same, answer(200, ROUTED), lose=2)
    seen = observe(cast(Engine, engine), ENV)
    assert not seen.ingress.cut_off
    assert seen.ingress.caddys == {f"{ENV}-{INGRESS_SERVICE}-1": CaddySeen(ROUTED)}
    assert len(engine.asked) == 5  # three questions, two of them twice


def test_output_lost_every_time_decides_nothing() -> None:
    engine = Forgetful(ingress(), {"h1": "net:[1]", "c1": "net:[2]"}, answer(200, ROUTED), lose=99)
    seen = observe(cast(Engine, engine), ENV)
    assert not seen.ingress.cut_off  # unknown: the next look decides
    assert seen.ingress.caddys[f"{ENV}-{INGRESS_SERVICE}-1"].error is not None
