"""The example, deployed and redeployed through the CLI as a user would."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import Example, container_ids, labelled, wait_for

pytestmark = pytest.mark.acceptance


def test_example_answers_with_data_through_api_and_postgres(deployed: Example) -> None:
    wait_for(lambda: httpx.get(f"{deployed.url}/healthz").status_code == 200, what="web healthz")
    created = httpx.post(f"{deployed.url}/api/items", json={"name": "anchor"}, timeout=10)
    assert created.status_code in (200, 201), created.text
    item_id = created.json()["id"]

    def processed() -> bool:
        items = httpx.get(f"{deployed.url}/api/items", timeout=10).json()
        mine = [i for i in items if i["id"] == item_id]
        assert mine and mine[0]["name"] == "anchor"
        return bool(mine[0].get("processed"))

    # The worker picks it up through the api by name, so the item comes back processed.
    wait_for(processed, timeout=60, what="the worker to process the item")
    page = httpx.get(deployed.url, timeout=10)
    assert "anchor" in page.text


def test_status_reports_every_service_healthy(deployed: Example) -> None:
    data = deployed.dockyard("status", deployed.env, "--json").json()
    by_name = {s["name"]: s for s in data["services"]}
    assert {"db", "api", "worker", "web"} <= set(by_name)
    for name, service in by_name.items():
        assert service["ok"], f"{name} is not healthy: {service}"
    assert by_name["db"]["kind"] == "accessory"
    assert by_name["web"]["ports"] == [deployed.url]


def test_status_shows_the_request_and_error_rates_the_ingress_saw(deployed: Example) -> None:
    token = uuid.uuid4().hex
    for _ in range(20):
        assert httpx.get(f"{deployed.url}/healthz?seen={token}", timeout=10).status_code == 200
    data = deployed.dockyard("status", deployed.env, "--json").json()
    by_name = {s["name"]: s for s in data["services"]}
    web = by_name["web"]["traffic"]
    assert web["requests"] >= 20 and web["error_rate"] == 0.0, web
    assert web["request_rate"] == web["requests"] / web["seconds"]
    assert by_name["worker"]["traffic"] is None  # no port: the ingress does not see it
    assert by_name["db"]["traffic"] is None
    assert "req/s" in deployed.dockyard("status", deployed.env).out
    # The same requests are in the ingress's access log, which `logs` shows.
    seen = deployed.dockyard("logs", deployed.env, "ingress", "--grep", token).out
    assert len(seen.splitlines()) == 20, seen


def test_status_lists_every_replicas_containers(deployed: Example) -> None:
    data = deployed.dockyard("status", deployed.env, "--json").json()
    (latest, *_) = deployed.dockyard("history", deployed.env, "--json").json()
    by_name = {s["name"]: s for s in data["services"]}
    assert by_name["ingress"]["kind"] == by_name["ingress-holder"]["kind"] == "accessory"
    for task in by_name["api"]["tasks"]:
        assert task["release"] == str(latest["number"])
        containers = {c["container"]: c for c in task["containers"]}
        assert {"api", "stats"} <= set(containers)
        main = containers["api"]
        assert (main["name"], main["role"]) == (task["task"], "main")
        assert (main["state"], main["health"], main["restarts"]) == ("running", "healthy", 0)
        assert main["uptime"] > 0 and task["uptime"] == main["uptime"]
        started = datetime.fromisoformat(main["started"])
        released = [datetime.fromisoformat(latest[k]) for k in ("started_at", "finished_at")]
        assert released[0] <= started <= released[1]  # started by the latest release
        # Built here and never pushed: the image runs by its ID, with no registry digest.
        assert main["image"] == main["image_id"] and main["image_id"].startswith("sha256:")
        assert main["digest"] is None
    text = deployed.dockyard("status", deployed.env).out
    for task in by_name["api"]["tasks"]:
        assert f"api/{task['replica']}" in text and f"{task['task']}-stats" in text


def test_status_watch_redraws_until_interrupted(deployed: Example) -> None:
    forced = {**deployed.environ, "FORCE_COLOR": "1"}  # a terminal, as Live redraws on one
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dockyard",
            "-C",
            str(deployed.repo),
            "status",
            deployed.env,
            "--watch",
        ],
        stdout=subprocess.PIPE,
        env=forced,
    )
    assert proc.stdout is not None
    title, seen = f"{deployed.env} (docker)".encode(), b""
    deadline = time.monotonic() + 60
    while seen.count(title) < 2 and time.monotonic() < deadline:
        seen += os.read(proc.stdout.fileno(), 65536)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert seen.count(title) >= 2, seen.decode()[-2000:]


def dockyard_exec(
    deployed: Example, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockyard", "-C", str(deployed.repo), "exec", deployed.env, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=deployed.environ,
    )


def test_exec_runs_a_command_in_a_replica(deployed: Example) -> None:
    piped = dockyard_exec(deployed, "api", "--", "cat", stdin="through the pipe\n")
    assert (piped.returncode, piped.stdout) == (0, "through the pipe\n"), piped.stderr
    failed = dockyard_exec(deployed, "api", "--", "sh", "-c", "echo oops >&2; exit 3")
    assert (failed.returncode, failed.stdout, failed.stderr) == (3, "", "oops\n")
    shell = dockyard_exec(deployed, "api", "--replica", "1", stdin="echo $((6 * 7))\n")
    assert (shell.returncode, shell.stdout) == (0, "42\n"), shell.stderr  # /bin/sh by default
    password = "PGPASSWORD=$(cat /run/secrets/db_password)"
    query = f'{password} psql -h 127.0.0.1 -U app -d app -tAc "select 40 + 2"'
    db = dockyard_exec(deployed, "db", "--", "sh", "-c", query)
    assert (db.returncode, db.stdout) == (0, "42\n"), db.stderr
    sidecar = dockyard_exec(deployed, "api", "--container", "stats", "--", "true")
    assert sidecar.returncode == 0, sidecar.stderr


def test_exec_says_what_does_not_exist(deployed: Example) -> None:
    replicas = [t["replica"] for t in _api_tasks(deployed)]
    missing = dockyard_exec(deployed, "api", "--replica", "99", "--", "true")
    assert missing.returncode == 1
    assert "api has no replica 99" in missing.stderr
    assert f"its replicas: {', '.join(map(str, replicas))}" in missing.stderr
    typo = dockyard_exec(deployed, "apj", "--", "true")
    assert typo.returncode == 1 and "did you mean `api`?" in typo.stderr
    container = dockyard_exec(deployed, "api", "--container", "stat", "--", "true")
    assert container.returncode == 1 and "did you mean `stats`?" in container.stderr


def _api_tasks(deployed: Example) -> list[dict[str, Any]]:
    data = deployed.dockyard("status", deployed.env, "--json").json()
    tasks: list[dict[str, Any]] = next(s for s in data["services"] if s["name"] == "api")["tasks"]
    return tasks


def test_logs_show_every_source_as_json_lines(deployed: Example) -> None:
    shown = deployed.dockyard("logs", deployed.env, "--json")
    lines = [json.loads(line) for line in shown.out.splitlines()]
    assert lines and all(
        set(line)
        == {"time", "source", "service", "replica", "container", "name", "stream", "message"}
        for line in lines
    )
    sources = {line["source"] for line in lines}
    assert {"db", "api.1", "api.1/stats", "web.1", "worker.1", "ingress"} <= sources, sources
    assert not any(line["name"].endswith(".secrets") for line in lines)  # keepers print nothing
    assert [line["time"] for line in lines] == sorted(line["time"] for line in lines)


def test_logs_select_a_time_window_and_a_pattern(deployed: Example) -> None:
    start = datetime.now(UTC).isoformat()
    for _ in range(5):
        assert httpx.get(f"{deployed.url}/api/items", timeout=10).status_code == 200
    pattern = "GET /api/items 200"

    def shown(*args: str) -> list[dict[str, str]]:
        run = deployed.dockyard("logs", deployed.env, "web", "--grep", pattern, "--json", *args)
        return [json.loads(line) for line in run.out.splitlines()]

    wait_for(lambda: len(shown("--since", start)) == 5, 60, "web's lines of the requests")
    lines = shown("--since", start)
    assert all(line["source"] == "web.1" and pattern in line["message"] for line in lines)
    third = lines[2]["time"]  # both ends of a window are included
    assert shown("--since", start, "--until", third) == lines[:3]
    assert shown("--since", third) == lines[2:]
    assert shown("--since", start, "--tail", "2") == lines[3:]
    text = deployed.dockyard("logs", deployed.env, "web", "--grep", pattern, "--since", third)
    assert [x.partition(" | ")[::2] for x in text.out.splitlines()] == [
        ("web.1", line["message"]) for line in lines[2:]
    ]
    missing = deployed.dockyard("logs", deployed.env, "wbe", check=False)
    assert missing.code == 1 and "did you mean 'web'?" in missing.err


def test_logs_follow_shows_new_lines_and_ends_at_ctrl_c(deployed: Example) -> None:
    """Nothing says when `logs -f` follows: requests, each with a marker of its
    own, go on until the line of one of them arrives."""
    follow = deployed.popen("logs", deployed.env, "web", "-f", "--tail", "0", "--json")
    out = follow.stdout
    assert out is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in out], daemon=True).start()
    sent: list[str] = []
    seen: dict[str, Any] | None = None
    try:
        deadline = time.monotonic() + 60
        while seen is None and time.monotonic() < deadline:
            sent.append(f"/api/items?follow={time.time_ns()}")
            assert httpx.get(deployed.url + sent[-1], timeout=10).status_code == 200
            try:
                line = json.loads(lines.get(timeout=1))
            except queue.Empty:
                continue
            if any(marker in line["message"] for marker in sent):
                seen = line
    finally:
        follow.send_signal(signal.SIGINT)
        try:
            follow.wait(timeout=20)
        finally:
            follow.kill()  # a no-op once it ended
    assert seen is not None, "no request's line arrived within 60 s"
    assert seen["source"] == "web.1", seen
    assert follow.returncode == 130, follow.stderr.read() if follow.stderr else ""


def test_second_deploy_plans_nothing_and_touches_no_container(deployed: Example) -> None:
    before = container_ids(deployed.env)
    plan = deployed.dockyard("plan", deployed.env, "--detailed-exitcode")
    assert plan.code == 0
    run = deployed.dockyard("deploy", deployed.env)
    assert "No changes" in run.out
    assert container_ids(deployed.env) == before


def test_param_change_touches_that_service_only(deployed: Example) -> None:
    before = container_ids(deployed.env)
    api_before = {n for n in before if f"{deployed.env}-api-" in n}
    deployed.set_param("api", "replicas", len([n for n in api_before if "stats" not in n]) + 1)

    plan = deployed.dockyard("plan", deployed.env, "--json", "--detailed-exitcode", check=False)
    assert plan.code == 2, plan.err
    changes = [s for s in plan.json()["steps"] if s["action"] != "noop"]
    assert [(s["action"], s["name"]) for s in changes] == [("scale", "api")]

    deployed.dockyard("deploy", deployed.env)
    after = container_ids(deployed.env)
    # Every container that existed still exists, unchanged; only api containers were added.
    assert {n: after[n] for n in before} == before
    added = set(after) - set(before)
    assert added and all(f"{deployed.env}-api-" in n for n in added)
    status = deployed.dockyard("status", deployed.env, "--json").json()
    api = next(s for s in status["services"] if s["name"] == "api")
    assert api["ok"] and api["desired"] == len(api["tasks"])


def test_database_survives_down_and_redeploy(deployed: Example) -> None:
    created = httpx.post(f"{deployed.url}/api/items", json={"name": "keel"}, timeout=10)
    assert created.status_code in (200, 201), created.text
    deployed.dockyard("down", deployed.env)
    assert labelled("containers", deployed.env) == []
    assert labelled("volumes", deployed.env), "down without --volumes keeps the data"
    deployed.dockyard("deploy", deployed.env)

    def names() -> list[str]:
        return [i["name"] for i in httpx.get(f"{deployed.url}/api/items", timeout=10).json()]

    assert "keel" in wait_for(names, what="the api to answer after redeploy")


def test_down_with_volumes_leaves_nothing(deployed: Example) -> None:
    assert labelled("volumes", deployed.env), "the example should own a data volume"
    deployed.dockyard("down", deployed.env, "--volumes")
    for kind in ("containers", "networks", "volumes"):
        assert labelled(kind, deployed.env) == [], f"{kind} left behind"
