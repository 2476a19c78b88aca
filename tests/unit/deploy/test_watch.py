"""The watch's figures and decision, as data: samples of the ingress's log in,
a reason to revert (or none) out."""

from __future__ import annotations

import pytest

from dockyard.deploy.watch import Watched, judge, summary
from dockyard.discovery.traffic import CONNECTION_ERROR, Figures, Sample, percentile
from dockyard.plan.model import ServiceDef, WatchDef


def samples(upstream: str, statuses: list[int], duration: float = 0.01) -> list[Sample]:
    return [Sample(float(i), upstream, s, duration) for i, s in enumerate(statuses)]


def figures(ok: int, server_errors: int = 0, refused: int = 0, duration: float = 0.01) -> Figures:
    return Figures.of(
        samples(
            "a:8000", [200] * ok + [500] * server_errors + [CONNECTION_ERROR] * refused, duration
        )
    )


RULES = WatchDef(seconds=30, max_error_rate=0.05, min_requests=20)


def test_figures_count_status_classes_connection_errors_and_the_95th_percentile() -> None:
    found = Figures.of(
        [
            *samples("a", [200, 201, 302, 404, 500, 503, CONNECTION_ERROR]),
            Sample(9.0, "a", 200, 2.0),
        ]
    )
    assert found.requests == 8
    assert found.classes == (3, 1, 1, 2)
    assert (found.server_errors, found.connection_errors, found.failed) == (2, 1, 3)
    assert found.error_rate == 3 / 8
    assert found.p95 == 2.0
    assert (found.first, found.last) == (0.0, 9.0)
    assert Figures.of([]).error_rate == 0.0 and Figures.of([]).p95 is None


def test_percentile_is_the_nearest_rank() -> None:
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([], 0.95) is None


def test_a_replica_failing_half_its_requests_fails_with_the_figures() -> None:
    new = [Watched("replica 2 (new)", figures(49, server_errors=51))]
    reason = judge("api", new, figures(96), RULES)
    assert reason == (
        "api replica 2 (new): 51 of 100 requests failed (51%, 5xx 51, connection errors 0); "
        "the replicas it replaces: 0 of 96 (0%); deploy.watch.max_error_rate is 5%"
    )


def test_failed_connections_count_as_failures() -> None:
    reason = judge("api", [Watched("replica 1 (new)", figures(30, refused=10))], figures(50), RULES)
    assert (
        reason is not None
        and "10 of 40 requests failed (25%, 5xx 0, connection errors 10)" in reason
    )


def test_too_few_requests_are_not_judged() -> None:
    assert (
        judge("api", [Watched("replica 1 (new)", figures(0, server_errors=19))], figures(50), RULES)
        is None
    )


def test_a_rate_at_the_limit_passes() -> None:
    assert (
        judge("api", [Watched("replica 1 (new)", figures(95, server_errors=5))], figures(50), RULES)
        is None
    )


def test_the_old_replicas_error_rate_raises_the_limit() -> None:
    old = figures(90, server_errors=10)  # 10% already
    new = [Watched("replica 1 (new)", figures(88, server_errors=12))]  # 12%: within 10% + 5%
    assert judge("api", new, old, RULES) is None
    worse = [Watched("replica 1 (new)", figures(80, server_errors=20))]
    reason = judge("api", worse, old, RULES)
    assert reason is not None
    assert reason.endswith(
        "the replicas it replaces: 10 of 100 (10%); deploy.watch.max_error_rate is 5% above theirs"
    )


def test_old_replicas_with_too_few_requests_are_not_compared() -> None:
    reason = judge(
        "api", [Watched("replica 1 (new)", figures(10, server_errors=10))], figures(3), RULES
    )
    assert reason is not None and "too few requests to compare (3)" in reason


def test_an_error_rate_of_one_turns_the_error_check_off() -> None:
    rules = RULES.model_copy(update={"max_error_rate": 1.0})
    assert (
        judge("api", [Watched("replica 1 (new)", figures(0, server_errors=50))], figures(50), rules)
        is None
    )


def test_latency_fails_above_the_limit_unless_the_old_replicas_were_slower() -> None:
    rules = RULES.model_copy(update={"max_latency_p95": 0.5})
    slow = [Watched("replica 1 (new)", figures(40, duration=1.2))]
    reason = judge("api", slow, figures(40, duration=0.05), rules)
    assert reason == (
        "api replica 1 (new): 95% of 40 requests answered within 1.2s; the replicas it "
        "replaces: 50ms; deploy.watch.max_latency_p95 is 500ms"
    )
    assert judge("api", slow, figures(40, duration=2.0), rules) is None
    assert judge("api", slow, figures(40, duration=0.05), RULES) is None  # not checked


def test_the_first_failing_of_several_is_named() -> None:
    new = [
        Watched("replica 1 (new)", figures(40)),
        Watched("replica 2 (new)", figures(20, server_errors=20)),
    ]
    reason = judge("api", new, figures(40), RULES)
    assert reason is not None and reason.startswith("api replica 2 (new): 20 of 40")


def test_summary_names_both_sides() -> None:
    assert summary(figures(99, server_errors=1), figures(50)) == (
        "new replicas: 100 requests, 1 failed (1%), p95 10ms; "
        "the replicas they replace: 50 requests, 0 failed (0%), p95 10ms"
    )


@pytest.mark.parametrize("value", [12, 12.5])
def test_a_number_stands_for_the_seconds(value: float) -> None:
    watch = WatchDef.model_validate(value)
    assert watch == WatchDef(seconds=float(value))
    assert (
        watch.max_error_rate == 0.05 and watch.min_requests == 20 and watch.max_latency_p95 is None
    )


def test_a_service_definition_takes_the_number_form() -> None:
    service = ServiceDef.model_validate(
        {"name": "api", "task": {"containers": [{"name": "api", "image": "x"}]}, "watch": 7}
    )
    assert service.watch.seconds == 7.0
