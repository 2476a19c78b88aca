"""Master keys: what wraps a file's data key for someone, and what unwraps it.

A sops file's data key is wrapped once for every master key it is encrypted
for; each wrapping is one entry of a section of the ``sops:`` block named
after the key's kind (``age``, ``kms``). Any one master key can unwrap it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class Recipient(Protocol):
    """A master key a file can be encrypted for."""

    @property
    def kind(self) -> str:
        """The section of the ``sops:`` block its entries go in: "age", "kms"."""
        ...

    @property
    def id(self) -> str:
        """What names this key in the file and in the policy (an age recipient, a KMS ARN)."""
        ...

    def wrap(self, data_key: bytes) -> dict[str, str]:
        """The entry of the ``sops:`` block that carries ``data_key`` for this key."""
        ...


class Identity(Protocol):
    """A master key's private half, or access to it: unwraps data keys."""

    @property
    def kind(self) -> str: ...

    def unwrap(self, entry: Mapping[str, str]) -> bytes | None:
        """The data key in ``entry``; None when ``entry`` is not wrapped for this identity."""
        ...


def entry_id(kind: str, entry: Mapping[str, object]) -> str:
    """What names the master key of one entry of the ``sops:`` block."""
    field = {"age": "recipient", "kms": "arn"}.get(kind, "recipient")
    return str(entry.get(field, "?"))
