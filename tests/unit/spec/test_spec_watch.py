"""``deploy.watch``: seconds, or a mapping with the error-rate and latency limits;
bad values are errors located at the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import DockyardError, SpecErrors
from dockyard.plan.model import WatchDef
from dockyard.spec import load_service

SPEC = """service: worker
containers:
  worker:
    image: debian:bookworm-slim
    command: [python3, -m, shop.worker]
deploy:
  watch: {watch}
"""


def load(tmp_path: Path, watch: str) -> object:
    (tmp_path / "dockyard.yaml").write_text(SPEC.format(watch=watch))
    return load_service(tmp_path, "local").spec.deploy.watch


def error(tmp_path: Path, watch: str) -> DockyardError:
    with pytest.raises(DockyardError) as info:
        load(tmp_path, watch)
    raised = info.value
    (found,) = raised.errors if isinstance(raised, SpecErrors) else [raised]
    return found


@pytest.mark.parametrize(("text", "seconds"), [("12s", 12.0), ("30", 30.0), ("1m", 60.0)])
def test_the_number_form_stays_valid(tmp_path: Path, text: str, seconds: float) -> None:
    watch = load(tmp_path, text)
    assert watch.seconds == seconds  # type: ignore[attr-defined]
    assert watch.max_error_rate == 0.05  # type: ignore[attr-defined]


def test_the_mapping_form(tmp_path: Path) -> None:
    watch = load(
        tmp_path, "{seconds: 30, max_error_rate: 2%, min_requests: 50, max_latency_p95: 300ms}"
    )
    assert (watch.seconds, watch.max_error_rate, watch.min_requests, watch.max_latency_p95) == (  # type: ignore[attr-defined]
        30.0,
        0.02,
        50,
        0.3,
    )


def test_defaults_when_left_out(tmp_path: Path) -> None:
    (tmp_path / "dockyard.yaml").write_text(SPEC.split("deploy:")[0])
    watch = load_service(tmp_path, "local").spec.deploy.watch
    assert (watch.seconds, watch.max_error_rate, watch.min_requests, watch.max_latency_p95) == (
        5.0,
        0.05,
        20,
        None,
    )
    assert WatchDef().seconds == 0.0  # a definition made in code is not watched unless asked


@pytest.mark.parametrize(
    ("text", "at", "message"),
    [
        (
            "{seconds: 30, max_error_rate: 150%}",
            "150%",
            "`deploy.watch.max_error_rate`: expected at most 1",
        ),
        (
            "{seconds: 30, max_error_rate: lots}",
            "lots",
            "`deploy.watch.max_error_rate`: expected a number",
        ),
        ("{min_requests: 0}", "0", "`deploy.watch.min_requests`: expected at least 1"),
        ("{max_latency_p95: soon}", "soon", "`deploy.watch.max_latency_p95`"),
        ("abc", "abc", "`deploy.watch`: 'abc' is not a duration"),
        ("-3", "-3", "`deploy.watch`: expected at least 0"),
    ],
)
def test_bad_values_are_located(tmp_path: Path, text: str, at: str, message: str) -> None:
    found = error(tmp_path, text)
    column = len("  watch: ") + text.index(at) + 1
    assert message in found.message
    assert found.location is not None and (found.location.line, found.location.column) == (
        7,
        column,
    )


def test_a_misspelt_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    found = error(tmp_path, "{seconds: 30, max_eror_rate: 0.1}")
    assert "unknown key `max_eror_rate` in `deploy.watch`" in found.message
    assert found.hint is not None and "max_error_rate" in found.hint
