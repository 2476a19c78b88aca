"""Hostile spec files are refused by ``dockyard validate`` in bounded memory.

Each file runs through the CLI in a subprocess whose address space is limited
to 512 MiB, so that a regression fails here (a MemoryError, an internal error)
instead of taking the machine's memory. The refusal must be the located error
of its limit, with no traceback.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.errors import SpecErrors
from dockyard.spec import load_environment
from dockyard.spec.limits import MAX_FILE_BYTES

pytestmark = pytest.mark.fault

MEMORY_LIMIT = 512 * 1024 * 1024
HANG_GUARD = 300  # seconds; only so that a hang cannot stall the suite, not a measure


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def billion_laughs() -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return "service: api\n" + "\n".join(lines) + "\n"


def deep_flow() -> str:
    return "service: api\nx: " + "[" * 5000 + "]" * 5000 + "\n"


def deep_block() -> str:
    return "service: api\nx:\n" + "- " * 5000 + "v\n"


def huge() -> str:
    return "service: api\nx: " + "a" * (50 * 1024 * 1024) + "\n"


def _repo(tmp: Path, spec: str) -> Path:
    (tmp / "environments").mkdir()
    (tmp / "environments" / "local.yaml").write_text(
        "environment: local\nservices:\n  - {name: api, source: ../api}\n"
    )
    (tmp / "api").mkdir()
    (tmp / "api" / "dockyard.yaml").write_text(spec)
    return tmp


CASES: list[tuple[str, Callable[[], str], str, str]] = [
    ("billion laughs", billion_laughs, "DY121", ":6:"),
    ("5,000 levels of flow lists", deep_flow, "DY122", ":2:"),
    ("5,000 levels of block lists", deep_block, "DY122", ":3:"),
    ("a 50 MB file", huge, "DY119", ":1:1"),
]


@pytest.mark.parametrize(("name", "make", "code", "line"), CASES, ids=[c[0] for c in CASES])
def test_hostile_spec_is_refused_in_bounded_memory(
    tmp_path: Path, name: str, make: Callable[[], str], code: str, line: str
) -> None:
    repo = _repo(tmp_path, make())
    run = subprocess.run(
        [sys.executable, "-m", "dockyard", "-C", str(repo), "validate", "local"],
        capture_output=True,
        text=True,
        preexec_fn=_limit_memory,
        timeout=HANG_GUARD,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert f"error[{code}]" in output, output
    assert f"dockyard.yaml{line}" in output, output
    assert "Traceback" not in output and "internal error" not in output, output


def test_the_size_is_checked_before_the_file_is_parsed(tmp_path: Path) -> None:
    """One byte over the bound is refused even when the rest is valid YAML."""
    spec = "service: api\n# " + "x" * MAX_FILE_BYTES + "\n"
    repo = _repo(tmp_path, spec)

    with pytest.raises(SpecErrors) as info:
        load_environment(repo, "local")
    (error,) = info.value.errors
    assert error.code == "DY119"
    assert "larger than 1 MiB" in error.message


def test_a_file_of_exactly_the_bound_is_read(tmp_path: Path) -> None:
    head = "service: api\ncontainers: {api: {image: debian}}\n# "
    spec = head + "x" * (MAX_FILE_BYTES - len(head) - 1) + "\n"
    assert len(spec.encode()) == MAX_FILE_BYTES
    repo = _repo(tmp_path, spec)

    assert load_environment(repo, "local").service("api").spec.service == "api"
