"""Deploy locks and crash safety: concurrent releases, a killed deploy process, and
the state store on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.acceptance.conftest import (
    Example,
    kill_when,
    labelled,
    make_example,
    remove_by_label,
    wait_for,
)
from tests.fixtures.postgres import PASSWORD_ENV, postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]  # fixtures used by this module

pytestmark = pytest.mark.acceptance


@pytest.fixture
def example(tmp_path: Path) -> Iterator[Example]:
    ex = make_example(tmp_path, in_git=True)
    ex.edit_env(lock={"lease": "3s"})
    ex.commit("short lease")
    try:
        yield ex
    finally:
        ex.dockyard("down", ex.env, "--volumes", check=False)
        remove_by_label(ex.run_id)


def change_api(ex: Example, note: str) -> None:
    api_py = ex.service_dir("api") / "api.py"
    api_py.write_text(api_py.read_text() + f"\n# {note}\n")
    ex.commit(note)


def main_containers(env: str, service: str) -> list[str]:
    client = docker.from_env()
    names = [
        c.name
        for c in client.containers.list(
            all=True,
            filters={
                "label": [
                    f"dockyard.env={env}",
                    f"dockyard.service={service}",
                    "dockyard.role=main",
                ]
            },
        )
    ]
    client.close()
    return sorted(names)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def test_two_releases_100ms_apart_one_proceeds_the_other_names_the_holder(
    example: Example,
) -> None:
    first = example.popen("release", example.env)
    time.sleep(0.1)  # as two pipelines might
    second = example.popen("release", example.env)
    results = {first.pid: finish(first), second.pid: finish(second)}
    codes = sorted(code for code, _, _ in results.values())
    assert codes == [0, 1], results
    (winner,) = [pid for pid, (code, _, _) in results.items() if code == 0]
    (_, _, refused) = next(r for r in results.values() if r[0] == 1)
    assert "DY601" in refused and f"pid {winner}" in refused
    assert "--wait" in refused  # the hint says how to queue instead
    (done,) = example.dockyard("history", example.env, "--json").json()
    assert done["status"] == "succeeded"


def test_waiting_releases_go_one_after_the_other(example: Example) -> None:
    first = example.popen("release", example.env, "--wait", "300")
    time.sleep(0.1)
    second = example.popen("release", example.env, "--wait", "300")
    outputs = [finish(first), finish(second)]
    assert [code for code, _, _ in outputs] == [0, 0], outputs
    # One did the work; the other found nothing left to do.
    assert sum("No changes" in out for _, out, _ in outputs) == 1, outputs
    assert len(example.dockyard("history", example.env, "--json").json()) == 1


def answers(url: str) -> bool:
    return httpx.get(f"{url}/api/items", timeout=5).status_code == 200


def test_killed_deploys_keep_serving_and_the_next_run_converges(example: Example) -> None:
    example.dockyard("release", example.env)
    wait_for(lambda: answers(example.url), what="the app")
    before = main_containers(example.env, "api")

    # Killed after the build, before anything changed: the lock stays behind.
    change_api(example, "v2")
    kill_when(example.popen("release", example.env), "built sha256")
    lock = example.dockyard("lock", "status", example.env, "--json").json()
    assert lock is not None and lock["holder"]["command"] == "release"
    assert main_containers(example.env, "api") == before
    assert answers(example.url)

    # Killed mid-rollout (a new api replica started, not yet ready): the old
    # replicas are all still there, and the app answers.
    kill_when(example.popen("release", example.env, "--wait", "60"), "▲ api started")
    assert set(before) <= set(main_containers(example.env, "api"))
    wait_for(lambda: answers(example.url), what="the app to answer after the kill")

    # The next run waits out the dead holder's lease and converges.
    run = example.dockyard("release", example.env, "--wait", "60")
    assert "interrupted" in run.err
    wait_for(lambda: answers(example.url), what="the app after the rerun")

    status = example.dockyard("status", example.env, "--json").json()
    for service in status["services"]:
        assert service["ok"] and len(service["tasks"]) == service["desired"], service
    after = main_containers(example.env, "api")
    assert len(after) == 2 and not set(after) & set(before)  # replaced, no duplicates
    releases = example.dockyard("history", example.env, "--json").json()
    assert [r["status"] for r in releases] == ["succeeded", "interrupted", "succeeded"]
    assert example.dockyard("lock", "status", example.env, "--json").json() is None
    assert example.dockyard("plan", example.env, "--detailed-exitcode", check=False).code == 0


def test_lock_release_frees_a_dead_holders_lock(example: Example) -> None:
    kill_when(example.popen("release", example.env), "building")
    assert example.dockyard("lock", "status", example.env, "--json").json() is not None
    run = example.dockyard("lock", "release", example.env)
    assert "Released the deploy lock" in run.out
    assert example.dockyard("lock", "status", example.env, "--json").json() is None


def test_state_store_on_postgresql(example: Example, postgres_url: str) -> None:
    example.edit_env(state={"url": postgres_url, "password_env": PASSWORD_ENV})
    example.commit("postgres state")
    example.dockyard("release", example.env, "db")
    (release,) = example.dockyard("history", example.env, "--json").json()
    assert release["status"] == "succeeded"
    assert [s["name"] for s in release["services"]] == ["db"]
    assert not (example.repo / ".dockyard" / "state.db").exists()
    assert os.environ[PASSWORD_ENV] not in example.dockyard("history", example.env).out
    assert labelled("containers", example.env)
