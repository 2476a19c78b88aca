"""Durations and byte sizes as written in spec files."""

from __future__ import annotations

import re

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
