"""Bad input through the CLI: located, actionable, non-zero, and the engine untouched.

Every case points the environment at an engine address where nothing answers:
an error about the *input* (not "engine unreachable") proves the input was
checked before any engine was contacted, so nothing could have changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.acceptance.conftest import Example

pytestmark = pytest.mark.acceptance

UNREACHABLE = "tcp://127.0.0.1:1"


def _env_file(ex: Example) -> Path:
    return ex.repo / "environments" / f"{ex.env}.yaml"


def _edit_yaml(path: Path, change: Callable[[dict[str, object]], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _spec(ex: Example, service: str) -> Path:
    return ex.service_dir(service) / "dockyard.yaml"


def _main(data: dict[str, object]) -> dict[str, object]:
    containers = data["containers"]
    assert isinstance(containers, dict)
    return next(c for c in containers.values() if not c.get("sidecar"))


def _append(path: Path, text: str) -> Path:
    path.write_text(path.read_text() + text)
    return path


def yaml_syntax(ex: Example) -> tuple[Path, str]:
    return _append(_spec(ex, "web"), "broken: [unclosed\n"), "broken"


def unknown_key(ex: Example) -> tuple[Path, str]:
    return _append(_spec(ex, "api"), "deplyo: {}\n"), "deplyo"


def wrong_type(ex: Example) -> tuple[Path, str]:
    ex.set_param("api", "replicas", "three")
    return ex.service_dir("api") / "params" / f"{ex.env}.yaml", "replicas"


def missing_param(ex: Example) -> tuple[Path, str]:
    path = _spec(ex, "api")
    _edit_yaml(path, lambda d: d.setdefault("params", {}).update({"region_code": {"type": "str"}}))
    return path, "region_code"


def undefined_interpolation(ex: Example) -> tuple[Path, str]:
    path = _spec(ex, "api")
    _edit_yaml(path, lambda d: _main(d).setdefault("env", {}).update({"ZONE": "${zone_nmae}"}))
    return path, "ZONE"


def duplicate_service(ex: Example) -> tuple[Path, str]:
    path = _env_file(ex)

    def dup(d: dict[str, object]) -> None:
        services = d["services"]
        assert isinstance(services, list)
        services.append(dict(services[-1]))

    _edit_yaml(path, dup)
    return path, "- name: web"


def port_clash(ex: Example) -> tuple[Path, str]:
    """web publishes the host port the environment's ingress serves on."""
    path = _spec(ex, "web")
    _edit_yaml(path, lambda d: d["containers"]["web"]["ports"][0].update(publish=ex.web_port))
    return path, "publish"


def missing_dockerfile(ex: Example) -> tuple[Path, str]:
    (ex.service_dir("worker") / "Dockerfile").unlink()
    return _spec(ex, "worker"), "build"


def unknown_dependency(ex: Example) -> tuple[Path, str]:
    path = _spec(ex, "worker")
    _edit_yaml(path, lambda d: d.update({"depends_on": ["queue"]}))
    return path, "queue"


def duplicate_key(ex: Example) -> tuple[Path, str]:
    return _append(_spec(ex, "web"), "service: web\n"), "service: web"


@dataclass
class Case:
    id: str
    make: Callable[[Example], tuple[Path, str]]
    code: str
    text: str  # in the message or hint


CASES = [
    Case("yaml syntax", yaml_syntax, "DY101", ""),
    Case("unknown key", unknown_key, "DY102", "deploy"),
    Case("wrong type", wrong_type, "DY103", "int"),
    Case("missing param", missing_param, "DY106", "region_code"),
    Case("undefined ${}", undefined_interpolation, "DY105", "zone_nmae"),
    Case("duplicate service", duplicate_service, "DY108", "web"),
    Case("port clash", port_clash, "DY109", "port"),
    Case("missing Dockerfile", missing_dockerfile, "DY110", "Dockerfile"),
    Case("unknown dependency", unknown_dependency, "DY111", "queue"),
    Case("duplicate key", duplicate_key, "DY107", "service"),
]

LOCATION = re.compile(r"--> (\S+):(\d+):(\d+)")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_located_and_changes_nothing(example: Example, case: Case) -> None:
    _edit_yaml(_env_file(example), lambda d: d.update({"engine": {"host": UNREACHABLE}}))
    path, needle = case.make(example)
    run = example.dockyard("deploy", example.env, check=False)
    output = run.out + run.err
    assert run.code == 1, output
    assert f"error[{case.code}]" in output, output
    assert case.text in output, output
    assert "Traceback" not in output
    assert "DY301" not in output, "the engine must not be contacted for bad input"
    match = LOCATION.search(output)
    assert match, f"no file:line:column in:\n{output}"
    assert Path(match.group(1)).name == path.name, output
    lines = path.read_text().splitlines()
    line = int(match.group(2))
    if needle:
        assert needle.split(":")[0] in lines[line - 1] or case.code == "DY101", (
            f"line {line} is {lines[line - 1]!r}, expected it to mention {needle!r}"
        )


def test_unknown_environment_suggests_the_right_one(example: Example) -> None:
    run = example.dockyard("validate", "locl", check=False)
    assert run.code == 1
    assert "DY202" in run.err and "local" in run.err


def test_engine_unreachable_is_explained(example: Example) -> None:
    _edit_yaml(_env_file(example), lambda d: d.update({"engine": {"host": UNREACHABLE}}))
    run = example.dockyard("plan", example.env, check=False)
    assert run.code == 1
    assert "DY301" in run.err and "127.0.0.1:1" in run.err
    assert "hint" in run.err and "Traceback" not in run.err


def test_validate_json_reports_errors_as_data(example: Example) -> None:
    unknown_key(example)
    run = example.dockyard("validate", example.env, "--json", check=False)
    assert run.code == 1
    data = run.json()
    assert data["ok"] is False
    (error,) = [e for e in data["errors"] if e["code"] == "DY102"]
    assert error["location"]["line"] > 0 and error["hint"]
