"""Durations and byte sizes as written in spec files, and the field types that
accept them."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

DURATION_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$"
BYTES_PATTERN = r"^\s*\d+(\.\d+)?\s*([kKmMgG][iI]?[bB]?|[bB])?\s*$"
"""The same syntax as the parsers below, as JSON Schema (ECMA) patterns."""

_DURATION = re.compile(DURATION_PATTERN)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_BYTE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_duration(text: str) -> float:
    """``"500ms"`` -> 0.5, ``"5m"`` -> 300.0; a bare number is seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration; write e.g. 500ms, 2s, 5m or 1h")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_bytes(text: str) -> int:
    """``"256m"`` -> 268435456; units k, m, g (binary), optional trailing b/ib."""
    match = _BYTES.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size; write e.g. 256m or 1g")
    unit = (match.group(2) or "").lower()[:1]
    return int(float(match.group(1)) * _BYTE_UNITS[unit])


def _duration(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 1s, 500ms or 5m")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError("expected a duration such as 1s, 500ms or 5m")


Seconds = Annotated[
    float,
    BeforeValidator(_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": DURATION_PATTERN},
            ]
        }
    ),
]
"""Seconds, written in a spec as ``500ms``, ``1s``, ``5m``, ``1h`` or a number."""


def _scalar_str(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _str_values(value: object) -> object:
    if isinstance(value, dict):
        return {k: _scalar_str(x) for k, x in value.items()}
    return value


StrMap = Annotated[dict[str, str], BeforeValidator(_str_values)]
"""Environment variables or build args: numbers and booleans written bare become strings."""


def _bytes(value: object) -> object:
    if isinstance(value, str):
        return parse_bytes(value)
    return value


Bytes = Annotated[
    int,
    BeforeValidator(_bytes),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": BYTES_PATTERN}]}
    ),
]
"""Bytes, written in a spec as ``256m``, ``1g``, ``512k`` or a number."""
