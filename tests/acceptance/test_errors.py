"""Bad input through the CLI: located, actionable, non-zero, and the engine untouched.

Every case points the environment at an engine address where nothing answers:
an error about the *input* (not "engine unreachable") proves the input was
checked before any engine was contacted, so nothing could have changed.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.acceptance.conftest import Example, Run

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


# ------------------------------------------------------------ hostile input

MEMORY_LIMIT = 512 * 1024 * 1024
HANG_GUARD = 300  # seconds; only so that a hang cannot stall the suite, not a measure


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _validate(ex: Example) -> Run:
    """``dockyard validate`` in an address space of 512 MiB: a regression fails, and
    cannot take the machine's memory."""
    proc = subprocess.run(
        [sys.executable, "-m", "dockyard", "-C", str(ex.repo), "validate", ex.env],
        capture_output=True,
        text=True,
        preexec_fn=_limit_memory,
        timeout=HANG_GUARD,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def billion_laughs(ex: Example) -> tuple[Path, str]:
    lines = ['x-l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"x-l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return _append(_spec(ex, "web"), "\n".join(lines) + "\n"), "x-l4:"


def deep_nesting(ex: Example) -> tuple[Path, str]:
    return _append(_spec(ex, "web"), "x-deep: " + "[" * 5000 + "]" * 5000 + "\n"), "x-deep"


def huge_file(ex: Example) -> tuple[Path, str]:
    return _append(_spec(ex, "web"), "# " + "x" * (50 * 1024 * 1024) + "\n"), ""


def binary_file(ex: Example) -> tuple[Path, str]:
    path = _spec(ex, "worker")
    path.write_bytes(b"\x7fELF\x02\x01\x01\0\0\0\x1b[2J" + bytes(range(256)))
    return path, ""


def _env(ex: Example, service: str, name: str, value: str) -> tuple[Path, str]:
    path = _spec(ex, service)
    _edit_yaml(path, lambda d: _main(d).setdefault("env", {}).update({name: value}))
    return path, name


def env_name_with_equals(ex: Example) -> tuple[Path, str]:
    return _env(ex, "api", "PATH=/tmp/evil", "x")


def nul_in_value(ex: Example) -> tuple[Path, str]:
    return _env(ex, "api", "GREETING", "hello\0world")


def five_mb_value(ex: Example) -> tuple[Path, str]:
    return _env(ex, "api", "PAYLOAD", "x" * (5 * 1024 * 1024))[0], ""


def long_value(ex: Example) -> tuple[Path, str]:
    return _env(ex, "api", "PAYLOAD", "x" * (200 * 1024))


def tiny_memory(ex: Example) -> tuple[Path, str]:
    path = _spec(ex, "api")
    _edit_yaml(path, lambda d: _main(d).update({"resources": {"memory": "1k"}}))
    return path, "memory"


def context_outside(ex: Example) -> tuple[Path, str]:
    path = _spec(ex, "api")
    _edit_yaml(path, lambda d: d["image"].update({"build": "../worker"}))
    return path, "build"


def accessory_context_at_repo_root(ex: Example) -> tuple[Path, str]:
    path = _env_file(ex)
    (ex.repo / "Dockerfile").write_text("FROM scratch\n")
    _edit_yaml(path, lambda d: d["accessories"]["db"]["build"].update({"build": ".."}))
    return path, "build"


HOSTILE = [
    Case("billion laughs", billion_laughs, "DY121", "100,000 YAML nodes"),
    Case("5,000 levels deep", deep_nesting, "DY122", "64 levels"),
    Case("50 MB file", huge_file, "DY119", "larger than 1 MiB"),
    Case("binary file", binary_file, "DY120", "NUL byte"),
    Case("env name with =", env_name_with_equals, "DY123", "PATH=/tmp/evil"),
    Case("NUL byte in a value", nul_in_value, "DY124", "NUL byte"),
    Case("5 MB value", five_mb_value, "DY119", "larger than 1 MiB"),
    Case("200 KiB value", long_value, "DY125", "at most 128 KiB"),
    Case("memory 1k", tiny_memory, "DY126", "6 MiB"),
    Case("build context outside the service repo", context_outside, "DY128", "outside"),
    Case(
        "accessory built from the repo root", accessory_context_at_repo_root, "DY128", ".dockyard/"
    ),
]


@pytest.mark.fault
@pytest.mark.parametrize("case", HOSTILE, ids=[c.id for c in HOSTILE])
def test_hostile_input_is_refused_by_validate(example: Example, case: Case) -> None:
    _edit_yaml(_env_file(example), lambda d: d.update({"engine": {"host": UNREACHABLE}}))
    path, needle = case.make(example)
    run = _validate(example)
    output = run.out + run.err
    assert run.code == 1, output
    assert f"error[{case.code}]" in output, output
    assert case.text in output, output
    assert "Traceback" not in output and "internal error" not in output, output
    assert "DY301" not in output, "validate must not contact the engine"
    match = LOCATION.search(output)
    assert match, f"no file:line:column in:\n{output}"
    assert Path(match.group(1)).name == path.name, output
    line = int(match.group(2))
    if needle:
        text = path.read_text().splitlines()[line - 1]
        assert needle in text, f"line {line} is {text!r}, expected it to mention {needle!r}"
    else:
        assert line == 1, output


@pytest.mark.fault
def test_markup_in_user_text_prints_literally(example: Example) -> None:
    key = "x-[red]:x:[bold]x[/bold]"
    _append(_spec(example, "web"), f'"{key}": 1\n')
    run = example.dockyard("validate", example.env, check=False)
    assert run.code == 1
    assert f"unknown key `{key}`" in run.err, run.err
    assert f'"{key}": 1' in run.err, run.err  # the excerpt of the file
    assert "❌" not in run.err
