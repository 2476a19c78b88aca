"""Data-driven spec errors: each folder under cases/ is a tiny environment repo.

``expect.yaml`` in the folder names the environment to load (``local`` by
default) and the errors loading must report, in order: code, file (relative to
the case), line, column, and substrings of the message and the hint. A case
with ``errors: []`` must load.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from dockyard.errors import DockyardError, SpecErrors
from dockyard.spec import load_environment

CASES = Path(__file__).parent / "cases"


def _cases() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if (p / "expect.yaml").is_file())


def _seen(error: DockyardError, case: Path) -> dict[str, object]:
    seen: dict[str, object] = {"code": error.code, "message": error.message, "hint": error.hint}
    if error.location is not None:
        seen["file"] = Path(os.path.relpath(error.location.file, case)).as_posix()
        seen["line"] = error.location.line
        seen["column"] = error.location.column
    return seen


@pytest.mark.parametrize("name", _cases())
def test_case(name: str) -> None:
    case = CASES / name
    expect = yaml.safe_load((case / "expect.yaml").read_text())
    environment = expect.get("environment", "local")
    expected = expect.get("errors") or []
    if not expected:
        load_environment(case, environment)
        return
    with pytest.raises(DockyardError) as info:
        load_environment(case, environment)
    raised = info.value
    errors = raised.errors if isinstance(raised, SpecErrors) else [raised]
    seen = [_seen(e, case) for e in errors]
    assert len(seen) == len(expected), seen
    for got, want in zip(seen, expected, strict=True):
        assert got["code"] == want["code"], got
        for key in ("file", "line", "column"):
            if key in want:
                assert got.get(key) == want[key], (key, got)
        assert want["message"] in str(got["message"]), got
        if "hint" in want:
            assert want["hint"] in str(got["hint"]), got


def test_every_case_has_expectations() -> None:
    folders = sorted(p.name for p in CASES.iterdir() if p.is_dir())
    assert folders == _cases()
