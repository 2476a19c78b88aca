"""Building images: the ID, streamed output, and errors that say what to fix."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from dockyard.engines.docker import DockerEngine
from dockyard.engines.model import BuildRequest
from dockyard.errors import BuildError

from .support import BASE_IMAGE, TEST_RUN_LABEL, Run

pytestmark = pytest.mark.engine


def request(run: Run, context: Path, tag: str = "ok") -> BuildRequest:
    return BuildRequest(
        service="web",
        context=context,
        dockerfile="Dockerfile",
        tag=f"dockyard-test/{tag}:{run.id}",
        args={"GREETING": "hi"},
        labels={TEST_RUN_LABEL: run.id},
    )


def write_dockerfile(folder: Path, text: str) -> Path:
    (folder / "Dockerfile").write_text(text)
    return folder


def test_build_returns_the_image_id_and_streams_output(
    engine: DockerEngine, client: docker.DockerClient, test_run: Run, tmp_path: Path
) -> None:
    context = write_dockerfile(
        tmp_path,
        f'FROM {BASE_IMAGE}\nARG GREETING\nRUN echo "says $GREETING" > /greeting\n',
    )
    lines: list[str] = []
    image_id = engine.build(request(test_run, context), lines.append)

    assert image_id.startswith("sha256:")
    image = client.images.get(f"dockyard-test/ok:{test_run.id}")
    assert image.id == image_id
    assert image.labels["dockyard.service"] == "web"
    assert any(line.startswith("Step 1/") for line in lines), lines
    assert all("\n" not in line for line in lines)


def test_failing_step_raises_build_error_with_the_log_tail(
    engine: DockerEngine, test_run: Run, tmp_path: Path
) -> None:
    context = write_dockerfile(tmp_path, f"FROM {BASE_IMAGE}\nRUN echo about-to-fail && exit 7\n")
    with pytest.raises(BuildError) as raised:
        engine.build(request(test_run, context, "bad"), lambda line: None)
    error = raised.value
    assert "returned a non-zero code: 7" in error.message
    assert "about-to-fail" in error.message
    assert error.hint is not None and "Dockerfile" in error.hint


def test_missing_base_image_says_how_to_get_one(
    engine: DockerEngine, test_run: Run, tmp_path: Path
) -> None:
    # A registry on a closed local port: the pull fails at once, without leaving the machine.
    context = write_dockerfile(tmp_path, "FROM 127.0.0.1:1/dockyard-missing/base:none\n")
    with pytest.raises(BuildError) as raised:
        engine.build(request(test_run, context, "nobase"), lambda line: None)
    error = raised.value
    assert error.hint is not None
    assert "127.0.0.1:1/dockyard-missing/base:none" in error.hint
    assert "make bootstrap" in error.hint and "mirror" in error.hint


def test_missing_dockerfile_is_a_build_error(
    engine: DockerEngine, test_run: Run, tmp_path: Path
) -> None:
    with pytest.raises(BuildError, match="no Dockerfile"):
        engine.build(request(test_run, tmp_path), lambda line: None)
