"""The times ``dockyard logs`` takes, the prefixes it shows, the services it selects."""

from __future__ import annotations

import pytest

from dockyard.engines.docker.logs import source_of, sources
from dockyard.engines.model import LogSource
from dockyard.logs.sources import prefix, select
from dockyard.logs.times import NS, LogsError, format_time, parse_time

NOW = 1_796_350_000 * NS + 123


@pytest.mark.parametrize(
    ("text", "back"),
    [("10m", 600), ("1h", 3600), ("90s", 90), ("500ms", 0.5), ("30", 30), ("0s", 0)],
)
def test_a_duration_counts_back_from_now(text: str, back: float) -> None:
    assert parse_time(text, NOW) == NOW - round(back * NS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-04T02:00:00Z", "2026-12-04T02:00:00.000000000Z"),
        ("2026-12-04T03:00:00+01:00", "2026-12-04T02:00:00.000000000Z"),
        ("2026-12-04T02:00:00.123456789Z", "2026-12-04T02:00:00.123456789Z"),
        ("2026-12-04T02:00:00.5Z", "2026-12-04T02:00:00.500000000Z"),
        ("2026-12-04", "2026-12-04T00:00:00.000000000Z"),
    ],
)
def test_an_rfc3339_time_keeps_its_nanoseconds_and_zone(text: str, expected: str) -> None:
    assert format_time(parse_time(text, NOW)) == expected


@pytest.mark.parametrize("text", ["yesterday", "10 minutes", "2026-13-01T00:00:00Z", "-5m"])
def test_a_time_that_is_neither_says_which_flag_and_what_to_write(text: str) -> None:
    with pytest.raises(LogsError) as caught:
        parse_time(text, NOW, "--until")
    assert caught.value.message.startswith(f"--until {text!r}")
    assert caught.value.hint and "RFC 3339" in caught.value.hint


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(LogsError, match="no time zone"):
        parse_time("2026-12-04T02:00:00", NOW)


def labels(**extra: str) -> dict[str, str]:
    return {"dockyard.env": "t", **{f"dockyard.{k}": v for k, v in extra.items()}}


def test_prefixes_name_replicas_sidecars_accessories_and_tasks() -> None:
    made = [
        source_of(
            "a",
            "/t-api-1-x",
            labels(service="api", kind="service", role="main", container="api", replica="1"),
        ),
        source_of(
            "b",
            "/t-api-1-x-stats",
            labels(service="api", kind="service", role="sidecar", container="stats", replica="1"),
        ),
        source_of(
            "c",
            "/t-db-1-x",
            labels(service="db", kind="accessory", role="main", container="db", replica="1"),
        ),
        source_of(
            "d",
            "/t-ingress-1-x",
            labels(
                service="ingress", kind="accessory", role="main", container="caddy", replica="1"
            ),
        ),
        source_of(
            "e",
            "/t-api-migrate-x",
            labels(service="api", kind="task", role="task", container="migrate"),
        ),
        source_of(
            "f",
            "/t-api-2-x",
            labels(service="api", kind="service", role="main", container="api", replica="2"),
        ),
    ]
    assert [prefix(s) for s in made if s] == [
        "api.1",
        "api.1/stats",
        "db",
        "ingress",
        "api/migrate",
        "api.2",
    ]
    assert made[4] is not None and made[4].replica is None and made[4].name == "t-api-migrate-x"


def test_keepers_and_containers_dockyard_did_not_make_are_no_source() -> None:
    assert source_of("k", "/t-api-1-x.secrets", labels(service="api", role="keeper")) is None
    assert source_of("o", "/other", {"maintainer": "someone"}) is None


def test_sources_of_a_container_list_come_in_a_stable_order() -> None:
    def summary(cid: str, service: str, replica: str, role: str) -> dict[str, object]:
        return {
            "Id": cid,
            "Names": [f"/{cid}"],
            "Labels": labels(service=service, replica=replica, role=role),
        }

    listed = sources(
        [
            summary("z", "web", "1", "main"),
            summary("y", "api", "2", "main"),
            summary("x", "api", "1", "sidecar"),
            summary("w", "api", "1", "main"),
            summary("v", "api", "1", "keeper"),
        ]
    )
    assert [s.id for s in listed] == ["w", "x", "y", "z"]


def source(service: str) -> LogSource:
    return LogSource(
        id=service,
        name=service,
        service=service,
        kind="service",
        container=service,
        role="main",
        replica=1,
    )


def test_selecting_services_keeps_their_sources_only() -> None:
    every = [source("api"), source("web"), source("db")]
    assert [s.service for s in select(every, ["web", "db"], ["api", "web", "db"])] == ["web", "db"]
    assert select(every, [], ["api"]) == every


def test_an_unknown_service_is_an_error_with_the_closest_name() -> None:
    with pytest.raises(LogsError) as caught:
        select([source("api")], ["wbe"], ["api", "web", "db"])
    assert "wbe" in caught.value.message
    assert caught.value.hint is not None and "did you mean 'web'?" in caught.value.hint
