"""Log streams across an environment's containers, and log driver configuration.

``dockyard logs`` reads every replica, sidecar, accessory, one-off task and the
ingress of an environment at once (:mod:`.stream`), merges their lines by the
engine's timestamps (:mod:`.merge`) and names each source with a short, stable
prefix (:mod:`.sources`). :mod:`.drivers` turns an environment's ``logging:``
setting into the engine's log driver configuration.
"""

from __future__ import annotations

from dockyard.logs.stream import Entry, LogQuery, follow_logs, read_logs

__all__ = ["Entry", "LogQuery", "follow_logs", "read_logs"]
