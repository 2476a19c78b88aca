"""Per-service request and error rates over the last seconds, as the ingress saw
them (the traffic log of :mod:`dockyard.discovery.traffic`): for ``dockyard
status`` and anything else that wants to know how a service is doing now.

An attempt of the ingress counts for the service whose replica it went to (the
replica's container name says which, also for a replica that has gone since);
requests to services the ingress does not proxy are not seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from dockyard.discovery.traffic import Figures, Sample, TrafficLog
from dockyard.engines.access import ContainerAccess
from dockyard.engines.environment import Environments
from dockyard.plan.ingress import INGRESS_SERVICE

RATES_BYTES = 6_000_000
"""How much of the traffic log a look at the rates reads: about 20,000 attempts.
Past that many in the window, the oldest of them are not counted."""


class RatesEngine(Environments, ContainerAccess, Protocol):
    """What reading the rates needs of an engine: what runs, and a way into the
    ingress's container."""


@dataclass(frozen=True)
class ServiceRates:
    """What the ingress saw of one service over ``seconds``."""

    service: str
    seconds: float
    figures: Figures

    @property
    def requests(self) -> int:
        return self.figures.requests

    @property
    def request_rate(self) -> float:
        """Requests per second."""
        return self.figures.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_rate(self) -> float:
        """The share of requests that failed (5xx answers and failed connections)."""
        return self.figures.error_rate

    @property
    def errors_per_second(self) -> float:
        return self.figures.failed / self.seconds if self.seconds > 0 else 0.0


class RatesReader:
    """Looks at the rates again and again (``status --watch``): it keeps each
    ingress's :class:`TrafficLog`, so a look after the first reads only what
    the ingress logged since the one before."""

    def __init__(self, engine: RatesEngine, environment: str) -> None:
        self.engine = engine
        self.environment = environment
        self._logs: dict[str, TrafficLog] = {}  # by ingress container
        self._name = re.compile(rf"^{re.escape(environment)}-(.+)-\d+-[0-9a-f]{{7}}$")

    def service_rates(self, seconds: float = 60.0) -> dict[str, ServiceRates]:
        """Per proxied service, its request rate and error rate at the ingress
        over the last ``seconds``. Empty when no ingress runs; a service that got
        no request in the window is left out. Raises IngressError when the
        ingress's log cannot be read."""
        actual = self.engine.observe(self.environment)
        by_service: dict[str, list[Sample]] = {}
        logs: dict[str, TrafficLog] = {}
        # Mid-upgrade two Caddies run, and both answer: their figures add up.
        for ingress in actual.tasks_of(INGRESS_SERVICE):
            if not ingress.running or ingress.main is None:
                continue
            cid = ingress.main.id
            log = self._logs.get(cid) or TrafficLog(self.engine, cid)
            logs[cid] = log
            since = log.read(first=RATES_BYTES) - seconds
            for sample in log.samples_since(since):
                match = self._name.match(sample.upstream.rpartition(":")[0])
                if match:
                    by_service.setdefault(match.group(1), []).append(sample)
        self._logs = logs  # an ingress that has gone takes its log with it
        return {
            service: ServiceRates(service, seconds, Figures.of(samples))
            for service, samples in sorted(by_service.items())
        }


def service_rates(
    engine: RatesEngine, environment: str, seconds: float = 60.0
) -> dict[str, ServiceRates]:
    """One look at the rates of ``environment`` (see :meth:`RatesReader.service_rates`)."""
    return RatesReader(engine, environment).service_rates(seconds)
