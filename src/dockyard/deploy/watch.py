"""Watching new replicas through the ingress's eyes: the figures of what they
answered (see :mod:`dockyard.discovery.traffic`) against those of the replicas
they replace, and the rules of ``deploy.watch``.

:func:`judge` is the decision, pure. :class:`TrafficWatch` feeds it during a
rollout: when the rollout begins it takes in the ingress's recent past (the old
replicas' baseline, ``seconds`` long), then at every look the requests each new
replica answered since; the old replicas' figures run on while they still serve.
A failed judgement raises :class:`WatchFailed`, a :class:`DeployError`, so the
rollout reverts as for a replica that turned unhealthy (``rollback: auto``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dockyard.discovery.traffic import Figures, TrafficLog
from dockyard.errors import DeployError, DockyardError, EngineError, EngineUnreachable
from dockyard.events import Event, Reporter
from dockyard.plan.model import WatchDef

POLL = 0.5
"""Seconds between two looks at the ingress's figures while replicas start."""
Fresh = Sequence[tuple[int, Sequence[str]]]
"""New replicas: their slot and the ingress's dial addresses of each."""


class WatchFailed(DeployError):
    """New replicas failed more requests (or answered slower) during their watch
    window than ``deploy.watch`` allows."""

    code = "DY530"


@dataclass(frozen=True)
class Watched:
    """The figures of one new replica (or of all new ones together)."""

    label: str  # "replica 2 (new)", "new replicas (3)"
    figures: Figures


def percent(rate: float) -> str:
    return f"{rate * 100:.3g}%"


def seconds(value: float) -> str:
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.3g}s"


def judge(service: str, new: Sequence[Watched], old: Figures, rules: WatchDef) -> str | None:
    """Why the new replicas fail their watch, or None while they pass. A replica is
    judged once it has ``min_requests`` requests; the old replicas' figures count
    only when they have as many."""
    for watched in new:
        reason = _errors(service, watched, old, rules) or _latency(service, watched, old, rules)
        if reason is not None:
            return reason
    return None


def _errors(service: str, watched: Watched, old: Figures, rules: WatchDef) -> str | None:
    f = watched.figures
    if f.requests < rules.min_requests or rules.max_error_rate >= 1.0:
        return None
    compared = old.requests >= rules.min_requests
    allowed = rules.max_error_rate + (old.error_rate if compared else 0.0)
    if f.error_rate <= allowed:
        return None
    text = (
        f"{service} {watched.label}: {f.failed} of {f.requests} requests failed "
        f"({percent(f.error_rate)}, 5xx {f.server_errors}, connection errors "
        f"{f.connection_errors}); the replicas it replaces: "
    )
    limit = f"deploy.watch.max_error_rate is {percent(rules.max_error_rate)}"
    if compared:
        text += f"{old.failed} of {old.requests} ({percent(old.error_rate)}); {limit}"
        if old.error_rate > 0:
            text += " above theirs"
    else:
        text += f"too few requests to compare ({old.requests}); {limit}"
    return text


def _latency(service: str, watched: Watched, old: Figures, rules: WatchDef) -> str | None:
    f, limit = watched.figures, rules.max_latency_p95
    if limit is None or f.p95 is None or f.requests < rules.min_requests or f.p95 <= limit:
        return None
    compared = old.requests >= rules.min_requests and old.p95 is not None
    if compared and old.p95 is not None and f.p95 <= old.p95:
        return None  # slow, but no slower than what it replaces
    theirs = seconds(old.p95) if compared and old.p95 is not None else "too few requests"
    return (
        f"{service} {watched.label}: 95% of {f.requests} requests answered within "
        f"{seconds(f.p95)}; the replicas it replaces: {theirs}; "
        f"deploy.watch.max_latency_p95 is {seconds(limit)}"
    )


def summary(new: Figures, old: Figures) -> str:
    """One line on what the new replicas answered, for the rollout's events."""

    def line(f: Figures) -> str:
        text = f"{f.requests} requests, {f.failed} failed ({percent(f.error_rate)})"
        return text + (f", p95 {seconds(f.p95)}" if f.p95 is not None else "")

    return f"new replicas: {line(new)}; the replicas they replace: {line(old)}"


class TrafficWatch:
    """The ingress's figures of one service's rollout, judged by ``rules``."""

    def __init__(
        self, service: str, log: TrafficLog, rules: WatchDef, old: Sequence[str], report: Reporter
    ) -> None:
        self.service = service
        self.log = log
        self.rules = rules
        self.old = list(old)
        self.report = report
        self.began: float | None = None  # the ingress's clock when the rollout began
        self.broken = False
        self.failure: WatchFailed | None = None  # what the monitor found
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return not self.broken

    def begin(self) -> None:
        """Take in the recent past: the old replicas' figures start ``seconds`` ago."""
        now = self._read()
        if now is not None:
            self.began = now

    def monitor(self, fresh: Callable[[], Fresh], failed: Callable[[], None]) -> None:
        """Judge ``fresh()`` every POLL seconds in a thread of its own, while the
        rollout waits for replicas to start; on a failure, keep it for the next
        ``check`` and call ``failed`` (which takes the bad replicas out of rotation
        when others serve)."""

        def loop() -> None:
            while not self._stop.wait(POLL):
                try:
                    self.check(fresh())
                except WatchFailed as e:
                    self.failure = e
                    with contextlib.suppress(DockyardError):  # the revert takes them out too
                        failed()
                    return
                except EngineError:
                    return  # the rollout's own next look meets it

        self._thread = threading.Thread(target=loop, name=f"watch-{self.service}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def raise_failure(self) -> None:
        """Raise what the monitor found, if anything."""
        if self.failure is not None:
            raise self.failure

    def check(self, fresh: Fresh) -> None:
        """Judge the new replicas (slot, dial addresses); raises WatchFailed."""
        self.raise_failure()
        if not fresh:
            return
        new, old = self.figures(fresh)
        if not new:
            return
        reason = judge(self.service, new, old, self.rules)
        if reason is not None:
            raise WatchFailed(
                reason,
                hint="The figures come from the ingress; see the service's logs for "
                "what the new version answered, and docs/watch.md for deploy.watch.",
            )

    def figures(self, fresh: Fresh) -> tuple[list[Watched], Figures]:
        """Each new replica's figures (and, for several, all of them together),
        and those of the replicas they replace."""
        if self.broken or self.began is None or self._read() is None:
            return [], Figures()
        since = self.began
        new = [
            Watched(f"replica {slot} (new)", self.log.figures(dials, since))
            for slot, dials in fresh
        ]
        if len(new) > 1:
            every = [d for _, dials in fresh for d in dials]
            new.append(Watched(f"new replicas ({len(new)})", self.log.figures(every, since)))
        old = self.log.figures(self.old, since - self.rules.seconds)
        return new, old

    def _read(self) -> float | None:
        try:
            return self.log.read()
        except EngineUnreachable:
            raise
        except EngineError as e:  # the figures are an extra: their loss does not fail a deploy
            self.broken = True
            self.report(
                Event(
                    "warn",
                    self.service,
                    f"the ingress's figures cannot be read, the watch goes by health only: {e}",
                )
            )
            return None
