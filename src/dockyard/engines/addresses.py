"""``Addresses``: where an environment's containers answer on its network.

The catalog (``dockyard.discovery.catalog``) lists each healthy replica at its
address; an engine that has no such thing (a cluster that balances behind a
virtual IP) does not offer this, and the catalog then lists no address.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Addresses(Protocol):
    def addresses(self, environment: str) -> dict[str, str]:
        """Container ID -> its IP address on the environment's network, for every
        container of ``environment`` that has one (running, on that network)."""
        ...
