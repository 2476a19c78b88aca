"""``deploy.watch`` as written in a spec: seconds, or a mapping that also says
which figures of the ingress make a new replica fail (see docs/watch.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from dockyard.spec.units import Seconds


def _rate(value: object) -> object:
    """``5%`` or a fraction such as ``0.05``."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"{value!r} is not a rate; write e.g. 5% or 0.05") from None
    return value


Rate = Annotated[float, BeforeValidator(_rate), Field(ge=0.0, le=1.0)]
"""A fraction from 0 to 1, written as ``0.05`` or ``5%``."""


class Watch(BaseModel):
    """``deploy.watch`` as a mapping: how long new replicas are watched, and which
    figures of the ingress make them fail (services behind the ingress only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # as every spec model

    seconds: Seconds = Field(
        default=5.0,
        ge=0,
        description="How long a new replica must stay healthy after it became healthy.",
    )
    max_error_rate: Rate = Field(
        default=0.05,
        description="The share of a new replica's requests that may fail (5xx answers "
        "and failed connections), beyond the share of the replicas it replaces; "
        "past it, the rollout fails. 100% turns the check off.",
    )
    min_requests: int = Field(
        default=20,
        ge=1,
        description="Requests a new replica must have answered before its figures count.",
    )
    max_latency_p95: Seconds | None = Field(
        default=None,
        gt=0,
        description="The 95th percentile of a new replica's response time may not pass "
        "this (unless the replicas it replaces were slower); not checked by default.",
    )


def _watch_scalar(value: object) -> object:
    """A number or a duration stands for ``{seconds: ...}``."""
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {"seconds": value}
    return value


_WATCH_SCHEMA = Watch.model_json_schema()
WatchField = Annotated[
    Watch,
    BeforeValidator(_watch_scalar),
    WithJsonSchema({"anyOf": [*_WATCH_SCHEMA["properties"]["seconds"]["anyOf"], _WATCH_SCHEMA]}),
]
"""``deploy.watch``: seconds, or a :class:`Watch` mapping."""
