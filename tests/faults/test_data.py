"""Faults against what users store and what they are told.

One copy of the example runs for the whole module (web with two replicas), under
a writer that posts items through the web front end (web → ingress → api →
Postgres) or a reader on ``/api/items``. The tests run in file order; the last
one destroys the database on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.acceptance.conftest import (
    Example,
    kill_when,
    make_example,
    remove_by_label,
    wait_for,
)
from tests.fixtures.load import Load, served_since
from tests.fixtures.writes import Writer, stored_names

pytestmark = [pytest.mark.fault, pytest.mark.acceptance]

BAD_STARTUP = ("PANIC", "not properly shut down", "invalid checkpoint", "incorrect prev-link")
"""What a PostgreSQL log says when a server found its cluster damaged."""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    example = make_example(tmp_path_factory.mktemp("faults"))
    spec = example.service_dir("web") / "dockyard.yaml"
    spec.write_text(spec.read_text().replace("  replicas: 1\n", "  replicas: 2\n"))
    example.edit_env(lock={"lease": "3s"})  # a killed deploy's lock expires soon
    try:
        example.dockyard("release", example.env)
        yield example
    finally:
        example.dockyard("down", example.env, "--volumes", check=False)
        remove_by_label(example.run_id)


def containers(example: Example, service: str) -> list[docker.models.containers.Container]:
    client = docker.from_env()
    try:
        labels = [f"dockyard.env={example.env}", f"dockyard.service={service}"]
        found = client.containers.list(all=True, filters={"label": labels})
        return [c for c in found if c.labels.get("dockyard.role") == "main"]
    finally:
        client.close()


def print_logs(example: Example, *services: str) -> None:
    """The last lines of the main containers of ``services``, for a failure's report."""
    for service in services:
        for c in containers(example, service):
            tail = c.logs(tail=25, timestamps=True).decode("utf-8", "replace")
            print(f"--- {c.name} ({c.status}, {c.attrs['State'].get('Health', {}).get('Status')})")
            print(tail)


def hashes(example: Example, service: str) -> list[str]:
    return sorted(c.labels["dockyard.spec-hash"] for c in containers(example, service))


def db_dockerfile(example: Example) -> Path:
    return example.repo / "accessories" / "postgres" / "Dockerfile"


# ------------------------------------------------------------------ tests


def test_replacing_the_database_under_writes_loses_no_acknowledged_write(shop: Example) -> None:
    dockerfile = db_dockerfile(shop)
    original = dockerfile.read_text()
    try:
        with Writer(shop.web_port, prefix="write") as writer:
            wait_for(lambda: len(writer.acknowledged) >= 20, 60, "the first writes")
            for generation in range(1, 4):
                (old,) = containers(shop, "db")
                dockerfile.write_text(f"{original}\nENV FAULT_GENERATION={generation}\n")
                try:
                    run = shop.dockyard("release", shop.env)
                except AssertionError:
                    print_logs(shop, "api", "db", "web")
                    raise
                # Old server gone before the new one started, and the plan said why.
                assert "stop-first: writes volume" in run.out + run.err, run.out
                (new,) = containers(shop, "db")
                assert new.id != old.id
                logs = new.logs().decode("utf-8", "replace")
                assert not [bad for bad in BAD_STARTUP if bad in logs], logs
                mark = len(writer.acknowledged)
                wait_for(lambda m=mark: len(writer.acknowledged) >= m + 20, 60, "writes again")
    finally:
        dockerfile.write_text(original)
    stored = stored_names(shop.web_port)
    shop.dockyard("release", shop.env)  # back to the original database for the next tests
    lost = [name for name in writer.acknowledged if name not in stored]
    assert lost == [], f"{len(lost)} of {len(writer.acknowledged)} acknowledged writes lost"
    assert len(writer.acknowledged) > 60


def test_a_second_database_server_on_the_volume_is_refused(shop: Example) -> None:
    """Started by hand beside the running one, the example's Postgres will not
    start a second server on the same data folder (its own lock cannot see
    across containers; the entrypoint's flock does)."""
    (db,) = containers(shop, "db")
    client = docker.from_env()
    try:
        # The data volume, not the one that holds its secrets at /run/secrets.
        volume = next(
            m["Name"]
            for m in db.attrs["Mounts"]
            if m["Type"] == "volume" and m["Destination"] != "/run/secrets"
        )
        intruder = client.containers.run(
            db.image.id,
            detach=True,
            environment={"POSTGRES_PASSWORD": "x", "POSTGRES_LOCK_WAIT": "1"},
            volumes={volume: {"bind": "/var/lib/postgresql/data", "mode": "rw"}},
            labels={"dockyard.test-run": shop.run_id},
        )
        try:
            result = intruder.wait(timeout=60)
            logs = intruder.logs().decode("utf-8", "replace")
        finally:
            intruder.remove(force=True)
    finally:
        client.close()
    assert result["StatusCode"] != 0, logs
    assert "another server still runs" in logs, logs
    assert shop.dockyard("plan", shop.env, "--detailed-exitcode", check=False).code == 0


def test_a_release_failing_in_one_service_reverts_every_service_it_changed(
    shop: Example,
) -> None:
    api_before, web_before = hashes(shop, "api"), hashes(shop, "web")
    web = shop.service_dir("web") / "dockyard.yaml"
    good = web.read_text()
    shop.set_param("api", "log_level", "debug")  # api changes and rolls out fine
    web.write_text(
        good.replace("command: [python3, /app/web.py]", 'command: [python3, -c, "exit(3)"]')
    )
    try:
        with Load(shop.web_port, path="/api/items", max_seconds=300) as steady:
            served_since(steady, 0, 10)
            run = shop.dockyard("release", shop.env, check=False)
            served_since(steady, steady.served, 10)
    finally:
        web.write_text(good)
        shop.set_param("api", "log_level", "info")
    assert run.code == 1, run.err
    assert "reverted as a whole" in run.err, run.err
    assert steady.failures == [], [str(f) for f in steady.failures[:5]]
    # Both services run what they ran before the release, not only the failing one.
    assert hashes(shop, "api") == api_before
    assert hashes(shop, "web") == web_before
    record = shop.dockyard("history", shop.env, "--json").json()[0]
    assert record["status"] == "failed"
    assert "reverted as a whole: api" in record["error"], record
    assert shop.dockyard("plan", shop.env, "--detailed-exitcode", check=False).code == 0


def test_a_release_killed_as_a_replica_starts_converges_with_it_in_rotation(
    shop: Example,
) -> None:
    shop.set_param("web", "log_level", "warning")
    with Load(shop.web_port, path="/api/items", max_seconds=300) as steady:
        served_since(steady, 0, 10)
        # Killed right after a new web replica started, before it was ready.
        kill_when(shop.popen("release", shop.env), f"started {shop.env}-web-")
        run = shop.dockyard("release", shop.env, "--wait", "60")
        served_since(steady, steady.served, 10)
    assert "interrupted" in run.err
    assert steady.failures == [], [str(f) for f in steady.failures[:5]]
    assert len(containers(shop, "web")) == 2
    # An empty plan includes the ingress's routes: every healthy replica is in them.
    plan = shop.dockyard("plan", shop.env, "--detailed-exitcode", check=False)
    assert plan.code == 0, plan.out


def test_a_crash_looping_database_is_not_reported_up_to_date(shop: Example) -> None:
    """Last: the database is destroyed on purpose."""
    (db,) = containers(shop, "db")
    # Remove the cluster's control file, then stop the server at once: its
    # restart policy starts it again, and again, and it never comes up.
    # The exec ends with the container (137) or once the server is down.
    db.exec_run(
        ["sh", "-c", 'rm "$PGDATA/global/pg_control" && pg_ctl stop -m immediate -D "$PGDATA"'],
        user="postgres",
    )
    wait_for(lambda: _restarts(db) >= 2, 60, "the database to crash-loop")
    plan = shop.dockyard("plan", shop.env, "--detailed-exitcode", check=False)
    assert plan.code == 2, plan.out + plan.err
    assert "db" in plan.out and ("restarting" in plan.out or "crash-looping" in plan.out), plan.out
    status = shop.dockyard("status", shop.env, check=False)
    assert "✗ db replica 1" in status.out, status.out
    assert "restarted" in status.out and "pg_control" in status.out, status.out
    # A deploy does not call this up to date: it tries, fails, and says why.
    run = shop.dockyard("release", shop.env, check=False)
    assert run.code == 1, run.out + run.err
    assert "No changes" not in run.out


def _restarts(container: docker.models.containers.Container) -> int:
    container.reload()
    return int(container.attrs["RestartCount"])
