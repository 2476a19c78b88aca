"""Loading a valid environment: values, types, precedence and locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import Location, SpecErrors
from dockyard.spec import LoadedEnvironment, load_environment, load_service

VALID = Path(__file__).parent / "cases" / "valid"


@pytest.fixture(scope="module")
def env() -> LoadedEnvironment:
    return load_environment(VALID, "local")


def test_services_in_file_order(env: LoadedEnvironment) -> None:
    assert env.name == "local"
    assert [s.name for s in env.services] == ["api", "worker"]
    assert env.path == VALID / "environments" / "local.yaml"
    api = env.service("api")
    assert api.source == VALID / "services" / "api"
    assert api.path == VALID / "services" / "api" / "dockyard.yaml"
    assert api.params_path == VALID / "services" / "api" / "params" / "local.yaml"
    assert env.service("worker").params_path is None


def test_whole_reference_keeps_the_type(env: LoadedEnvironment) -> None:
    deploy = env.service("api").spec.deploy
    assert deploy.replicas == 1
    assert isinstance(deploy.replicas, int)


def test_reference_inside_text(env: LoadedEnvironment) -> None:
    api = env.service("api").spec.containers["api"]
    assert api.command == ["python3", "-m", "shop.api", "--workers=2"]
    assert api.env["LOG_LEVEL"] == "debug"
    assert api.env["RATIO"] == "1.0"  # a float param, given as the integer 1
    assert api.env["DEBUG"] == "false"


def test_dollar_escape(env: LoadedEnvironment) -> None:
    api = env.service("api").spec.containers["api"]
    assert api.env["TEMPLATE"] == "${not_a_param} costs $5"


def test_precedence_default_environment_params_file(env: LoadedEnvironment) -> None:
    api = env.service("api").params
    worker = env.service("worker").params
    assert api["workers"] == 2  # the default only
    assert api["log_level"] == "debug"  # environment file over the default
    assert worker["replicas"] == 2  # environment file over the default
    assert api["replicas"] == 1  # params file over the environment file
    assert worker["base_image"] == "debian:bookworm"
    assert env.service("worker").spec.containers["worker"].image == "debian:bookworm"


def test_environment_params_apply_only_to_declared(env: LoadedEnvironment) -> None:
    assert "log_level" not in env.service("worker").params


def test_environment_file_interpolates_its_own_params(env: LoadedEnvironment) -> None:
    db = env.spec.accessories["db"]
    assert db.build is not None
    assert db.build.args == {"BASE_IMAGE": "debian:bookworm"}


def test_durations_and_sizes(env: LoadedEnvironment) -> None:
    api = env.service("api").spec
    health = api.containers["api"].health
    assert health is not None
    assert health.timeout == 0.5
    assert health.interval == 1.0
    assert api.deploy.health_timeout == 120.0
    assert env.spec.accessories["db"].health is not None
    assert env.spec.accessories["db"].health.interval == 0.5
    resources = api.containers["api"].resources
    assert resources is not None
    assert resources.memory == 256 * 1024 * 1024


def test_locators_point_at_nodes(env: LoadedEnvironment) -> None:
    api = env.service("api")
    spec_file = VALID / "services" / "api" / "dockyard.yaml"
    assert api.locate(("deploy", "replicas")) == Location(spec_file, 25, 13)
    # a missing node falls back to its nearest parent: here the key `deploy`
    assert api.locate(("deploy", "max_surge")) == Location(spec_file, 24, 1)
    assert env.locate is not None
    env_file = VALID / "environments" / "local.yaml"
    assert env.locate(("services", 1, "source")) == Location(env_file, 20, 28)


def test_load_service_on_its_own() -> None:
    worker = load_service(VALID / "services" / "worker", "local")
    assert worker.params == {"replicas": 1, "base_image": "debian:bookworm-slim"}
    assert worker.spec.deploy.replicas == 1


def test_load_service_reports_missing_params() -> None:
    with pytest.raises(SpecErrors) as info:
        load_service(VALID / "services" / "api", "local")  # base_image comes from the env file
    assert [e.code for e in info.value.errors] == ["DY106"]
    assert "base_image" in info.value.errors[0].message
