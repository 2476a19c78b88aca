"""Whether a secrets file can be trusted as the policy wants it: signed by a
writer of its environment, as it is now, and encrypted for exactly its readers.
A deploy to a ``protected`` environment requires it of every file it uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dockyard.secrets import signing, sops
from dockyard.secrets.policy import Policy


@dataclass(frozen=True)
class Verdict:
    path: Path
    signer: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(path: Path, environment: str, policy: Policy, where: Path) -> Verdict:
    """Every reason ``path`` falls short of the policy (none: it holds)."""
    problems: list[str] = []
    signed = signing.check(path, environment)
    signer = policy.signer(signed.key) if signed.key else None
    if signed.problem is not None:
        problems.append(signed.problem)
    elif signer is None:
        problems.append(f"signed with a key no principal of {where.name} has")
    elif signer not in policy.access(environment, where).write:
        problems.append(f"signed by {signer}, who may not write {environment}")
    elif signer != signed.signer:
        problems.append(f"says it was signed by {signed.signer}, but the key is {signer}'s")
    wanted = {(r.kind, r.id) for r in policy.readers(environment, where)}
    found = set(sops.read(path).recipients())
    if found != wanted:
        parts = []
        if extra := sorted(rid for _, rid in found - wanted):
            parts.append(f"also for {', '.join(extra)}")
        if missing := sorted(rid for _, rid in wanted - found):
            parts.append(f"not for {', '.join(missing)}")
        problems.append(
            f"its recipients differ from the readers of the policy ({'; '.join(parts)}): "
            "`dockyard secrets rekey`"
        )
    return Verdict(path, signer or signed.signer, problems)
