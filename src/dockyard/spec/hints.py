"""Small helpers that make error messages read well."""

from __future__ import annotations

import datetime
import difflib
from collections.abc import Iterable

KeyPath = tuple[str | int, ...]
"""A path of mapping keys and sequence indexes into a YAML document."""


def path_part(key: object) -> str | int:
    """A mapping key as an element of a :data:`KeyPath` (YAML keys can be any scalar)."""
    if isinstance(key, str | int) and not isinstance(key, bool):
        return key
    return str(key)


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``word``, when one is close enough to be a typo."""
    matches = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(
    word: str, choices: Iterable[str], *, fmt: str = "`{}`", listing: str = "known"
) -> str:
    """``did you mean `image`?`` or, when nothing is close, the list of choices."""
    options = sorted(set(choices))
    match = closest(word, options)
    if match is not None:
        return f"did you mean {fmt.format(match)}?"
    if not options:
        return f"there are no {listing} names here"
    return f"{listing}: " + ", ".join(fmt.format(o) for o in options)


def dotted(path: KeyPath) -> str:
    """``("containers", "api", "ports", 0)`` -> ``containers.api.ports[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def describe(value: object) -> str:
    """How a value read from YAML is named in a message: ``the string "x"``."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value:g}"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return f'the string "{text}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()}"
    return f"a {type(value).__name__}"


def is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)
