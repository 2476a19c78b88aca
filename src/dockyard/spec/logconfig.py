"""The environment's ``logging:`` setting: the engine's log driver for every
container of the environment, and that driver's options, checked here so that
a typo is an error with its line and not a container that fails to start."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from dockyard.spec.hints import did_you_mean
from dockyard.spec.models import Model, invalid
from dockyard.spec.units import StrMap

LogDriverName = Literal[
    "json-file", "local", "journald", "syslog", "fluentd", "gelf", "awslogs", "none"
]

_ATTRIBUTES = frozenset({"tag", "labels", "labels-regex", "env", "env-regex"})
_DELIVERY = frozenset({"mode", "max-buffer-size"})
_CACHE = frozenset({"cache-disabled", "cache-max-size", "cache-max-file", "cache-compress"})
"""Docker's local copy of what a driver sends away ("dual logging", Docker 20.10)."""
_FILES = frozenset({"max-size", "max-file", "compress"})

OPTIONS: dict[str, frozenset[str]] = {
    "json-file": _FILES | _ATTRIBUTES | _DELIVERY,
    "local": _FILES | _DELIVERY,
    "journald": _ATTRIBUTES | _DELIVERY,
    "syslog": _ATTRIBUTES
    | _DELIVERY
    | _CACHE
    | {
        "syslog-address",
        "syslog-facility",
        "syslog-format",
        "syslog-tls-ca-cert",
        "syslog-tls-cert",
        "syslog-tls-key",
        "syslog-tls-skip-verify",
    },
    "fluentd": _ATTRIBUTES
    | _DELIVERY
    | _CACHE
    | {
        "fluentd-address",
        "fluentd-async",
        "fluentd-buffer-limit",
        "fluentd-max-retries",
        "fluentd-retry-wait",
        "fluentd-sub-second-precision",
        "fluentd-request-ack",
    },
    "gelf": _ATTRIBUTES
    | _DELIVERY
    | _CACHE
    | {
        "gelf-address",
        "gelf-compression-type",
        "gelf-compression-level",
        "gelf-tcp-max-reconnect",
        "gelf-tcp-reconnect-delay",
    },
    "awslogs": _DELIVERY
    | _CACHE
    | {
        "tag",
        "awslogs-region",
        "awslogs-endpoint",
        "awslogs-group",
        "awslogs-stream",
        "awslogs-create-group",
        "awslogs-datetime-format",
        "awslogs-multiline-pattern",
        "awslogs-credentials-endpoint",
        "awslogs-force-flush-interval-seconds",
        "awslogs-max-buffered-events",
    },
    "none": frozenset(),
}
"""The options each driver takes (Docker 20.10's)."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "syslog": (),
    "gelf": ("gelf-address",),
    "awslogs": ("awslogs-group",),
}

_SIZE = re.compile(r"^\d+[kmg]?$")
_COUNT = re.compile(r"^[1-9]\d*$")
_BOOL = frozenset({"true", "false"})
_ADDRESS: dict[str, tuple[str, ...]] = {
    "syslog-address": ("udp://", "tcp://", "tcp+tls://", "unix://", "unixgram://"),
    "gelf-address": ("udp://", "tcp://"),
    "fluentd-address": ("tcp://", "unix://", ""),
}
_CHOICES: dict[str, frozenset[str]] = {
    "mode": frozenset({"blocking", "non-blocking"}),
    "syslog-format": frozenset({"rfc5424", "rfc5424micro", "rfc3164"}),
    "gelf-compression-type": frozenset({"gzip", "zlib", "none"}),
}
_VALUES: dict[str, tuple[re.Pattern[str] | frozenset[str], str]] = {
    "max-size": (_SIZE, "a size such as 10m (k, m or g)"),
    "cache-max-size": (_SIZE, "a size such as 20m (k, m or g)"),
    "max-buffer-size": (_SIZE, "a size such as 1m (k, m or g)"),
    "max-file": (_COUNT, "a number of files, 1 or more"),
    "cache-max-file": (_COUNT, "a number of files, 1 or more"),
    "compress": (_BOOL, "true or false"),
    "cache-compress": (_BOOL, "true or false"),
    "cache-disabled": (_BOOL, "true or false"),
    "syslog-tls-skip-verify": (_BOOL, "true or false"),
    "awslogs-create-group": (_BOOL, "true or false"),
    "fluentd-async": (_BOOL, "true or false"),
}


class LoggingConfig(Model):
    """Where the environment's containers' output goes: the engine's log driver
    and its options (see docs/logs.md). Without this setting containers log to
    json-file files of at most 10 MB, three kept per container."""

    driver: LogDriverName = Field(default="json-file", description="The engine's log driver.")
    options: StrMap = Field(
        default_factory=dict,
        description="The driver's options, as Docker names them (max-size, syslog-address…).",
    )

    @model_validator(mode="after")
    def _check(self) -> LoggingConfig:
        allowed = OPTIONS[self.driver]
        for key, value in self.options.items():
            if key not in allowed:
                hint = did_you_mean(key, allowed, listing=f"options of {self.driver}")
                if not allowed:
                    hint = f"the {self.driver} driver takes no options"
                raise invalid(
                    f"the {self.driver} log driver has no option {key!r}; {hint}",
                    "options",
                    key,
                    "[key]",
                )
            problem = _problem(key, value)
            if problem:
                raise invalid(f"log option {key}: {problem}", "options", key)
        for key in REQUIRED.get(self.driver, ()):
            if key not in self.options:
                raise invalid(f"the {self.driver} log driver needs the option {key}", "driver")
        return self


def _problem(key: str, value: str) -> str | None:
    """What is wrong with ``value`` for option ``key``; None when nothing is."""
    if key in _ADDRESS:
        schemes = _ADDRESS[key]
        if not any(value.startswith(s) for s in schemes if s) and "" not in schemes:
            return f"{value!r} is not an address; write " + " or ".join(
                f"{s}HOST:PORT" for s in schemes
            )
        if not value.strip():
            return "the address is empty"
        return None
    if key in _CHOICES and value not in _CHOICES[key]:
        return f"{value!r} is not one of " + ", ".join(sorted(_CHOICES[key]))
    if key in _VALUES:
        check, expected = _VALUES[key]
        ok = value.lower() in check if isinstance(check, frozenset) else check.match(value.lower())
        if not ok:
            return f"{value!r} is not {expected}"
    return None
