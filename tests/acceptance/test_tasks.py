"""One-off tasks through the CLI: `dockyard run`, and migrations as a gate before the
rollout, against the example's real PostgreSQL."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.acceptance.conftest import (
    EXAMPLES,
    Example,
    container_ids,
    make_example,
    remove_by_label,
    wait_for,
)

pytestmark = pytest.mark.acceptance


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    ex = make_example(tmp_path_factory.mktemp("tasks"))
    try:
        ex.dockyard("release", ex.env)
        yield ex
    finally:
        ex.dockyard("down", ex.env, "--volumes", check=False)
        remove_by_label(ex.run_id)


def answers(ex: Example) -> bool:
    return httpx.get(f"{ex.url}/api/items", timeout=5).status_code == 200


def applied(ex: Example) -> list[str]:
    out = ex.dockyard("run", ex.env, "api", "migrate-status").out
    return [line.split()[0] for line in out.splitlines() if "applied" in line]


def releases(ex: Example) -> list[dict[str, object]]:
    data: list[dict[str, object]] = ex.dockyard("history", ex.env, "--tasks", "--json").json()
    return data


def test_run_passes_exit_codes_through(deployed: Example) -> None:
    for command, code in (
        ("exit 0", 0),
        ("echo failing >&2; exit 1", 1),
        # PID 1 of a container cannot be killed from inside it: kill a child.
        (r'sh -c "kill -9 \$\$"', 137),
    ):
        run = deployed.dockyard("run", deployed.env, "api", "--", "sh", "-c", command, check=False)
        assert run.code == code, (command, run.out, run.err)


def test_run_streams_output_as_it_comes(deployed: Example) -> None:
    proc = deployed.popen(
        "run", deployed.env, "api", "--", "sh", "-c", "echo first; sleep 3; echo second"
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    still_running = proc.poll() is None
    rest, _ = proc.communicate(timeout=60)
    assert first.strip() == "first"
    assert still_running, "the first line should arrive while the command still runs"
    assert "second" in rest and proc.returncode == 0


def test_run_uses_the_release_env_and_network(deployed: Example) -> None:
    script = "import os, urllib.request; print(os.environ['PGHOST'], urllib.request.urlopen('http://api:8000/healthz').status)"
    run = deployed.dockyard("run", deployed.env, "api", "--", "python3", "-c", script)
    assert "db 200" in run.out


def _api(ex: Example) -> Path:
    return ex.service_dir("api")


def test_a_failing_migration_stops_the_release_and_changes_nothing(deployed: Example) -> None:
    before = container_ids(deployed.env)
    schema = applied(deployed)
    bad = _api(deployed) / "migrations" / "0002_broken.sql"
    bad.write_text(
        "ALTER TABLE items ADD COLUMN half_done integer;\n"
        "CREATE TABLE also_half_done (id integer);\n"
        "ALTER TABLE no_such_table ADD COLUMN x integer;\n"
    )
    try:
        run = deployed.dockyard("release", deployed.env, check=False)
        assert run.code == 1
        assert "DY510" in run.err and "task api/migrate exited with code 1" in run.err
        assert "no_such_table" in run.err  # the task's own log lines are shown
        assert container_ids(deployed.env) == before  # nothing replaced
        assert answers(deployed)
        assert applied(deployed) == schema  # transactional DDL: no trace of 0002
        columns = deployed.dockyard(
            "run",
            deployed.env,
            "api",
            "--",
            "python3",
            "-c",
            "import os, psycopg2; "
            "c = psycopg2.connect(password=open(os.environ['PGPASSWORD_FILE']).read()); "
            "k = c.cursor(); k.execute("
            "\"select count(*) from information_schema.columns where column_name = 'half_done'\"); "
            "print('half_done columns:', k.fetchone()[0])",
        ).out
        assert "half_done columns: 0" in columns
        latest = releases(deployed)[0]
        assert latest["status"] == "failed"
        (task,) = latest["tasks"]  # type: ignore[misc]
        assert (task["task"], task["status"], task["exit_code"]) == ("migrate", "failed", 1)
    finally:
        bad.unlink()


def test_a_hanging_migration_is_killed_at_its_timeout(deployed: Example) -> None:
    before = container_ids(deployed.env)
    spec = _api(deployed) / "dockyard.yaml"
    original = spec.read_text()
    data = yaml.safe_load(original)
    data["tasks"]["migrate"]["timeout"] = "3s"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    hang = _api(deployed) / "migrations" / "0002_hang.sql"
    hang.write_text("SELECT pg_sleep(600);\n")
    try:
        run = deployed.dockyard("release", deployed.env, check=False)
        assert run.code == 1
        assert "killed after its timeout of 3s" in run.err
        assert container_ids(deployed.env) == before
        assert answers(deployed)
        (task,) = releases(deployed)[0]["tasks"]  # type: ignore[misc]
        assert (task["status"], task["exit_code"]) == ("timed-out", 137)
    finally:
        hang.unlink()
        spec.write_text(original)


def test_the_migration_runs_once_per_release_and_the_new_version_sees_it(deployed: Example) -> None:
    shutil.copytree(EXAMPLES / "releases" / "2" / "api", _api(deployed), dirs_exist_ok=True)
    run = deployed.dockyard("release", deployed.env)
    assert "api/migrate" in run.out  # the plan showed the task
    # What the migration writes streams without -v, on standard error.
    assert "applied 0002_add_priority" in run.err, run.err
    latest = releases(deployed)[0]
    assert latest["status"] == "succeeded"
    migrations = [t for t in latest["tasks"] if t["task"] == "migrate"]  # type: ignore[union-attr,index]
    assert len(migrations) == 1, "once per release, not once per replica (the api has 2)"
    assert "0002_add_priority" in applied(deployed)

    created = httpx.post(
        f"{deployed.url}/api/items", json={"name": "urgent", "priority": 7}, timeout=10
    )
    assert created.status_code == 201, created.text
    item = next(i for i in httpx.get(f"{deployed.url}/api/items").json() if i["name"] == "urgent")
    assert item["priority"] == 7

    # Nothing changed since: the next release finds nothing to do, the migration
    # is not run again.
    plan = deployed.dockyard("plan", deployed.env, "--json").json()
    (migrate,) = [t for t in plan["tasks"] if t["task"] == "migrate"]
    assert migrate["run"] is False and "succeeded with this image" in migrate["reason"]
    again = deployed.dockyard("release", deployed.env)
    assert "No changes" in again.out
    assert releases(deployed)[0]["number"] == latest["number"]


def test_two_releases_at_once_migrate_once(deployed: Example) -> None:
    """Release 3 (contract) after release 2, started twice 100 ms apart: the lock
    lets one migrate and deploy; the other then finds nothing to do."""
    shutil.copytree(EXAMPLES / "releases" / "3" / "api", _api(deployed), dirs_exist_ok=True)
    known = {r["number"] for r in releases(deployed)}
    first = deployed.popen("release", deployed.env, "--wait", "300")
    time.sleep(0.1)
    second = deployed.popen("release", deployed.env, "--wait", "300")
    for proc in (first, second):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err
    new = [r for r in releases(deployed) if r["number"] not in known]
    runs = [t for r in new for t in r["tasks"] if t["task"] == "migrate"]  # type: ignore[attr-defined]
    assert len(new) == 1 and len(runs) == 1 and runs[0]["status"] == "succeeded"
    assert applied(deployed)[-2:] == ["0003_priority_not_null", "0004_items_queue"]
    wait_for(lambda: answers(deployed), what="release 3 to answer")
