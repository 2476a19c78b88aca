"""Deploy locks and crash safety: concurrent releases, a killed deploy process, a
lost state store, and the state store on PostgreSQL."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import docker
import httpx
import pytest

from tests.acceptance.conftest import (
    Example,
    container_ids,
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


@pytest.mark.fault
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


@pytest.mark.fault
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


# A lost store: the engine still runs releases its history no longer knows.


def state_db(ex: Example) -> Path:
    return ex.repo / ".dockyard" / "state.db"


def engine_release(env: str) -> tuple[int, int]:
    """The highest release label on the environment's containers, and how many
    containers carry one."""
    numbers = [
        int(c.labels["dockyard.release"])
        for c in labelled("containers", env)
        if c.labels.get("dockyard.release", "").isdigit()
    ]
    assert numbers, "the environment runs no release"
    return max(numbers), len(numbers)


def refused_then_adopted(ex: Example, found: str) -> int:
    """Every command that writes history is refused and changes nothing, commands
    that read say the store is missing, and ``state adopt`` starts a new history;
    returns the adopted number."""
    db = state_db(ex)
    release, containers = engine_release(ex.env)
    before = container_ids(ex.env)
    expected = (
        f"the state store {db} has no history of environment {ex.env} ({found}), but the "
        f"engine runs release #{release} of it: {containers} containers"
    )
    for args in (
        ("release", ex.env),
        ("rollback", ex.env, "--to", "1"),
        ("run", ex.env, "api", "migrate"),
    ):
        run = ex.dockyard(*args, check=False)
        assert run.code == 1, (args, run.out, run.err)
        text = " ".join(run.err.split())  # the terminal wraps long lines
        assert f"error[DY607]: {expected}" in text, (args, run.err)
        assert f"`dockyard state adopt {ex.env}` (the next release is then #{release + 1})" in text
        assert f"copy its backup back to {db}" in text
    assert container_ids(ex.env) == before  # the engine is unchanged

    for args in (("history", ex.env), ("lock", "status", ex.env)):
        run = ex.dockyard(*args)
        assert f"No state store at {db} ({found})" in " ".join(run.out.split())
    assert ex.dockyard("history", ex.env, "--json").json() == []
    plan = ex.dockyard("plan", ex.env, "--detailed-exitcode")  # plans, without task memory
    assert f"warning[DY607]: {expected}" in " ".join(plan.err.split())
    assert ex.dockyard("status", ex.env, "--json").json()["services"]
    assert sorted(p.name for p in db.parent.glob("state.db*")) == (
        [] if found == "no such file" else ["state.db"]
    )
    assert not db.exists() or db.stat().st_size == 0  # nothing created, nothing written

    adopted = ex.dockyard("state", "adopt", ex.env)
    assert f"as release {ex.env}#{release} " in adopted.out
    assert f"the next release is #{release + 1}" in adopted.out
    assert "task runs start empty" in adopted.out
    (entry,) = ex.dockyard("history", ex.env, "--json").json()
    assert (entry["number"], entry["kind"], entry["status"]) == (release, "adopt", "succeeded")
    assert {s["name"] for s in entry["services"]} >= {"api", "worker", "web", "db"}
    assert re.search(rf"\b{release}\s+adopt\s+succeeded\b", ex.dockyard("history", ex.env).out)
    return release


def release_worker(ex: Example, log_level: str) -> list[dict[str, object]]:
    ex.set_param("worker", "log_level", log_level)
    ex.dockyard("release", ex.env, "worker")
    releases: list[dict[str, object]] = ex.dockyard("history", ex.env, "--json").json()
    return releases


@pytest.mark.fault
def test_a_deleted_store_is_refused_until_a_new_history_is_adopted(deployed: Example) -> None:
    db = state_db(deployed)
    for path in (db, db.with_name("state.db-wal"), db.with_name("state.db-shm")):
        path.unlink(missing_ok=True)
    adopted = refused_then_adopted(deployed, "no such file")
    releases = release_worker(deployed, "debug")
    assert [(r["number"], r["kind"]) for r in releases] == [
        (adopted + 1, "deploy"),
        (adopted, "adopt"),
    ]
    assert engine_release(deployed.env)[0] == adopted + 1


@pytest.mark.fault
def test_an_emptied_store_is_refused_until_a_new_history_is_adopted(deployed: Example) -> None:
    db = state_db(deployed)
    for path in (db.with_name("state.db-wal"), db.with_name("state.db-shm")):
        path.unlink(missing_ok=True)
    db.parent.mkdir(exist_ok=True)
    db.write_bytes(b"")
    adopted = refused_then_adopted(deployed, "an empty file")
    releases = release_worker(deployed, "warning")
    assert [r["number"] for r in releases] == [adopted + 1, adopted]


@pytest.mark.fault
def test_a_release_killed_in_its_build_leaves_a_dead_lock_the_rerun_takes_over(
    deployed: Example,
) -> None:
    assert deployed.dockyard("lock", "status", deployed.env, "--json").json() is None
    killed = deployed.popen("release", deployed.env)
    kill_when(killed, "building images")
    status = deployed.dockyard("lock", "status", deployed.env)
    assert f"pid {killed.pid}" in status.out
    assert f"process: dead (pid {killed.pid} is gone)" in status.out
    lock = deployed.dockyard("lock", "status", deployed.env, "--json").json()
    assert lock["expired"] is False  # its lease alone would keep it
    assert lock["liveness"] == {"alive": False, "reason": f"pid {killed.pid} is gone"}

    rerun = deployed.dockyard("release", deployed.env)  # no --wait
    text = " ".join(rerun.err.split())
    assert "took the deploy lock over from" in text
    assert f"pid {killed.pid}, command 'release'): dead (pid {killed.pid} is gone)" in text
    assert deployed.dockyard("lock", "status", deployed.env, "--json").json() is None


@contextmanager
def small_disk_under_the_store(ex: Example, size: str = "4m") -> Iterator[Path]:
    """The store's folder moved onto a tmpfs of ``size`` (the store's files copied
    over); yields a file that fills it. Moved back afterwards."""
    folder = state_db(ex).parent
    aside = folder.with_name(".dockyard-aside")
    folder.rename(aside)
    folder.mkdir(mode=0o700)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)], check=True
    )
    try:
        for path in aside.iterdir():
            shutil.copy2(path, folder / path.name)
        yield folder / "filler"
    finally:
        for path in aside.iterdir():
            path.unlink()
        for path in folder.iterdir():
            if path.name != "filler":
                shutil.copy2(path, aside / path.name)
        subprocess.run(["umount", str(folder)], check=True)
        folder.rmdir()
        aside.rename(folder)


def fill(path: Path) -> None:
    """Write ``path`` until its disk has no room left."""
    with path.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
        with suppress(OSError):  # the last few bytes
            while True:
                f.write(b"\0")


@pytest.mark.fault
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk takes root (CI runs as root)")
def test_a_full_disk_under_the_store_stops_a_release_before_it_changes_anything(
    deployed: Example,
) -> None:
    before = container_ids(deployed.env)
    history = deployed.dockyard("history", deployed.env, "--json").json()
    deployed.set_param("worker", "log_level", "error")
    with small_disk_under_the_store(deployed) as filler:
        fill(filler)
        run = deployed.dockyard("release", deployed.env, "worker", check=False)
        text = " ".join(run.err.split())
        assert run.code == 1, (run.out, run.err)
        assert (
            f"error[DY609]: the state store at sqlite:///{state_db(deployed)} has no room" in text
        )
        assert "nothing of this write was kept; free space on the disk that holds the store" in text
        assert "Traceback" not in run.err
        assert container_ids(deployed.env) == before  # nothing changed
        # SQLite cannot even read in WAL mode without room for its shared memory.
        read = deployed.dockyard("history", deployed.env, check=False)
        assert read.code == 1 and "error[DY609]" in read.err, (read.out, read.err)

        filler.unlink()
        deployed.dockyard("release", deployed.env, "worker")
        assert deployed.dockyard("plan", deployed.env, "--detailed-exitcode").code == 0
    releases = deployed.dockyard("history", deployed.env, "--json").json()
    assert len(releases) == len(history) + 1
    assert releases[0]["status"] == "succeeded"
