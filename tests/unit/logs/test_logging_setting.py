"""The environment's ``logging:`` setting: checked with locations, carried to every
container, and out of the definitions (and their hashes) while it is not set."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.engines.docker.run import log_config
from dockyard.errors import DockyardError, SpecErrors
from dockyard.plan.desired import with_logging
from dockyard.plan.model import ContainerDef, LogDef, OneOffDef, ServiceDef, TaskDef
from dockyard.spec import load_environment
from dockyard.spec.logconfig import LoggingConfig


def load(tmp_path: Path, logging: str) -> object:
    (tmp_path / "environments").mkdir(parents=True)
    (tmp_path / "environments" / "local.yaml").write_text(f"environment: local\n{logging}")
    return load_environment(tmp_path, "local")


def failure(tmp_path: Path, logging: str) -> DockyardError:
    with pytest.raises(DockyardError) as caught:
        load(tmp_path, logging)
    error = caught.value
    return error.errors[0] if isinstance(error, SpecErrors) else error


def test_a_driver_and_its_options_load(tmp_path: Path) -> None:
    env = load(
        tmp_path,
        "logging:\n  driver: syslog\n  options:\n    syslog-address: tcp://127.0.0.1:5514\n"
        "    syslog-format: rfc5424micro\n    tag: '{{.Name}}'\n",
    )
    config = env.spec.logging  # type: ignore[attr-defined]
    assert config == LoggingConfig(
        driver="syslog",
        options={
            "syslog-address": "tcp://127.0.0.1:5514",
            "syslog-format": "rfc5424micro",
            "tag": "{{.Name}}",
        },
    )


def test_an_unknown_option_points_at_its_key_and_suggests_one(tmp_path: Path) -> None:
    error = failure(tmp_path, "logging:\n  driver: json-file\n  options:\n    max-sise: 10m\n")
    assert "no option 'max-sise'" in error.message and "did you mean `max-size`?" in error.message
    assert error.location is not None
    assert (error.location.line, error.location.column) == (5, 5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("max-size: 10 MB", "'10 MB' is not a size"),
        ("max-file: 0", "'0' is not a number of files"),
        ("compress: yes please", "is not true or false"),
        ("mode: sometimes", "not one of blocking, non-blocking"),
    ],
)
def test_a_bad_value_points_at_it(tmp_path: Path, options: str, message: str) -> None:
    error = failure(tmp_path, f"logging:\n  options:\n    {options}\n")
    assert message in error.message, error.message
    assert error.location is not None and error.location.line == 4


def test_an_address_needs_its_scheme_and_gelf_needs_one(tmp_path: Path) -> None:
    error = failure(
        tmp_path, "logging:\n  driver: syslog\n  options: {syslog-address: 127.0.0.1:514}\n"
    )
    assert "write udp://HOST:PORT or tcp://HOST:PORT" in error.message
    error = failure(tmp_path / "gelf", "logging: {driver: gelf}\n")
    assert "needs the option gelf-address" in error.message


def test_an_unknown_driver_lists_the_drivers(tmp_path: Path) -> None:
    error = failure(tmp_path, "logging: {driver: splunk}\n")
    assert "json-file" in error.message + (error.hint or "")
    assert error.location is not None and error.location.line == 2


def service() -> ServiceDef:
    main = ContainerDef(name="api", image="i")
    task = OneOffDef(service="api", name="migrate", container=main)
    return ServiceDef(
        name="api",
        task=TaskDef(containers=[main, main.model_copy(update={"name": "s", "sidecar": True})]),
        tasks=[task],
    )


def test_the_setting_reaches_every_container_and_changes_the_hash() -> None:
    before = service()
    assert with_logging({"api": before}, None)["api"] == before  # no setting: the same hash
    after = with_logging(
        {"api": before}, LoggingConfig(driver="local", options={"max-size": "5m"})
    )["api"]
    log = LogDef(driver="local", options={"max-size": "5m"})
    assert [c.log for c in after.task.containers] == [log, log]
    assert after.tasks[0].container.log == log
    assert after.task.spec_hash() != before.task.spec_hash()
    assert '"log"' not in before.task.canonical()
    # Where a task's output goes does not make it another task (it is not run again).
    assert after.tasks[0].definition_hash() == before.tasks[0].definition_hash()


def test_containers_without_the_setting_get_rotated_json_files() -> None:
    assert log_config(None) == {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}
    assert log_config(LogDef(driver="syslog")) == {"Type": "syslog", "Config": {}}
