"""Spec + image IDs → desired state, over a small valid environment repo."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dockyard.errors import SpecError
from dockyard.plan import desire
from dockyard.plan.containers import health_def
from dockyard.plan.model import ContainerDef, PortDef, TaskDef
from dockyard.spec import load_environment
from dockyard.spec.environment import IngressConfig
from dockyard.spec.loaded import LoadedEnvironment
from dockyard.spec.models import Health
from tests.unit.plan.states import IMAGES

REPO = Path(__file__).resolve().parents[1] / "spec" / "cases" / "valid"


@pytest.fixture(scope="module")
def env() -> LoadedEnvironment:
    return load_environment(REPO, "local")


def test_dependencies_come_first_and_volumes_are_named_per_environment(
    env: LoadedEnvironment,
) -> None:
    state = desire(env, IMAGES)
    names = [s.name for s in state.services]
    assert names.index("db") < names.index("api")
    assert state.network == "dockyard-local"
    assert state.volumes == ["dockyard-local-pgdata"]
    assert state.service("db").kind == "accessory"
    assert state.labels == {"team": "shop"}


def test_params_and_images_flow_into_the_task(env: LoadedEnvironment) -> None:
    api = desire(env, IMAGES).service("api")
    main = api.task.main
    assert api.replicas == 1  # params/local.yaml beats the environment's 2
    assert main.image == "sha256:api"
    assert main.env["LOG_LEVEL"] == "debug"
    assert main.command == ["python3", "-m", "shop.api", "--workers=2"]
    assert main.memory == 256 * 1024**2 and main.cpus == 0.5
    assert main.ports[0].publish == 8080 and main.ports[0].host_ip == "127.0.0.1"
    assert api.health_timeout == 120.0


def test_same_inputs_same_hash_new_image_new_hash(env: LoadedEnvironment) -> None:
    first = desire(env, IMAGES).service("api").task.spec_hash()
    again = desire(env, dict(IMAGES)).service("api").task.spec_hash()
    changed = desire(env, {**IMAGES, "api": "sha256:other"}).service("api").task.spec_hash()
    assert first == again != changed


def test_missing_image_is_an_error(env: LoadedEnvironment) -> None:
    with pytest.raises(SpecError, match="no image was built for 'api'"):
        desire(env, {"db": "sha256:db", "worker": "sha256:w"})


@pytest.mark.parametrize(
    ("health", "expect"),
    [
        (Health(command=["pg_isready"]), ["CMD", "pg_isready"]),
        (Health(http="/healthz", port="http"), "http://127.0.0.1:8000/healthz"),
        (Health(tcp=True, port=8000), "nc -z -w 2 127.0.0.1 8000"),
    ],
)
def test_health_checks_become_commands(health: Health, expect: object) -> None:
    test = health_def(health, [PortDef(name="http", port=8000)]).test
    if isinstance(expect, list):
        assert test == expect
    else:
        assert test[0] == "CMD-SHELL" and str(expect) in test[1]


def test_proxied_services_are_reached_through_the_ingress(env: LoadedEnvironment) -> None:
    state = desire(env, IMAGES)
    assert state.ingress is not None
    (proxy,) = state.ingress.proxied  # worker has no port
    assert (proxy.service, proxy.ports) == ("api", [8000])
    assert (proxy.health_path, proxy.health_port, proxy.health_timeout) == ("/healthz", 8000, 0.5)
    api = state.service("api")
    assert api.task.aliases == []  # the ingress holds the name `api`
    assert api.depends_on[0] == "ingress"
    ingress, holder = state.service("ingress"), state.service("ingress-holder")
    assert holder.kind == "accessory" and holder.task.aliases == ["api"]
    assert holder.task.main.sysctls["net.ipv4.tcp_migrate_req"] == "1"
    assert ingress.kind == "accessory" and ingress.task.aliases == []
    assert ingress.task.main.image == IMAGES["ingress"]
    # Without a running holder to keep its image, the holder runs the ingress image.
    assert holder.task.main.image == IMAGES["ingress"]
    assert ingress.task.joins is not None and ingress.task.joins.startswith(
        "local-ingress-holder-1-"
    )
    assert state.service("worker").task.aliases is None
    names = [s.name for s in state.services]
    assert names.index("ingress-holder") < names.index("ingress") < names.index("api")
    kept = desire(env, {**IMAGES, "ingress-holder": "sha256:old"}).service("ingress-holder")
    assert kept.task.main.image == "sha256:old"


def test_without_an_ingress_services_keep_their_names(env: LoadedEnvironment) -> None:
    spec = env.spec.model_copy(update={"ingress": IngressConfig(enabled=False)})
    state = desire(replace(env, spec=spec), IMAGES)
    assert state.ingress is None
    assert "ingress" not in [s.name for s in state.services]
    assert state.service("api").task.aliases is None


def test_fields_added_later_leave_old_hashes_alone() -> None:
    container = ContainerDef(name="api", image="sha256:api")
    task = TaskDef(containers=[container])
    assert "aliases" not in task.canonical() and "sysctls" not in task.canonical()
    assert task.spec_hash() != TaskDef(containers=[container], aliases=[]).spec_hash()
    tuned = container.model_copy(update={"sysctls": {"net.core.somaxconn": "1024"}})
    assert task.spec_hash() != TaskDef(containers=[tuned]).spec_hash()


def test_logging_reaches_every_container_and_the_ingress_joins_its_holder_as_made(
    env: LoadedEnvironment,
) -> None:
    from dockyard.plan.ingress import holder_task
    from dockyard.plan.model import LogDef
    from dockyard.spec.logconfig import LoggingConfig

    plain = desire(env, IMAGES)
    logging = LoggingConfig(driver="local", options={"max-size": "5m"})
    logged = desire(replace(env, spec=env.spec.model_copy(update={"logging": logging})), IMAGES)
    log = LogDef(driver="local", options={"max-size": "5m"})
    for service in logged.services:
        assert all(c.log == log for c in service.task.containers), service.name
        assert all(t.container.log == log for t in service.tasks), service.name
    assert all(c.log is None for s in plain.services for c in s.task.containers)
    holder = logged.service("ingress-holder")
    assert logged.service("ingress").task.joins == holder_task(logged.environment, holder)
    assert holder.task.spec_hash() != plain.service("ingress-holder").task.spec_hash()
