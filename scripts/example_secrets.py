"""Give an environment of the example its secrets, where they are missing.

    .venv/bin/python scripts/example_secrets.py ENV_REPO ENVIRONMENT

The example's encrypted files cannot be committed: they would be encrypted for
a key nobody else has. So, for this machine only (and never committed; see
examples/platform/.gitignore), this makes what a team keeps in its environment
repo:

1. an age identity in ENV_REPO/.keys/example.txt (mode 0600), the example's
   SOPS_AGE_KEY_FILE;
2. ENV_REPO/policies.yaml naming that key's recipient as the one principal
   (``you``), with ENVIRONMENT read and written by it;
3. ENV_REPO/secrets/ENVIRONMENT.enc.yaml with ``db_password`` and
   ``worker_token``, random values set through ``dockyard secrets set``.

Anything already there is kept: running it again changes nothing. Prints the
key file's path.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pyrage
import yaml

KEY_FILE = Path(".keys") / "example.txt"
PRINCIPAL = "you"
SECRETS = ("db_password", "worker_token")


def identity(repo: Path) -> tuple[Path, str]:
    """The example's key file (made when missing) and its recipient."""
    path = repo / KEY_FILE
    if not path.exists():
        path.parent.mkdir(mode=0o700, exist_ok=True)
        made = pyrage.x25519.Identity.generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"# the example's key on this machine; public key: {made.to_public()}\n")
            out.write(f"{made}\n")
    line = next(x for x in path.read_text().splitlines() if x.startswith("AGE-SECRET-KEY-"))
    return path, str(pyrage.x25519.Identity.from_str(line).to_public())


def policy(repo: Path, environment: str, recipient: str) -> None:
    """Let ``recipient`` read and write ``environment``'s secrets, unless the policy
    already says who may."""
    path = repo / "policies.yaml"
    data = yaml.safe_load(path.read_text()) if path.exists() else None
    data = data or {}
    principals = data.setdefault("principals", {})
    environments = data.setdefault("environments", {})
    if principals.get(PRINCIPAL) == {"age": [recipient]} and environment in environments:
        return
    principals[PRINCIPAL] = {"age": [recipient]}  # this machine's key (made again if lost)
    environments.setdefault(environment, {"read": [PRINCIPAL], "write": [PRINCIPAL]})
    header = (
        "# Who may read and change the example's secrets (made by scripts/example_secrets.py).\n"
    )
    path.write_text(header + yaml.safe_dump(data, sort_keys=False))


def values(repo: Path, environment: str, key_file: Path, recipient: str) -> None:
    """Set each of the example's secrets that the environment's file lacks. A file
    this machine's key cannot read (its key was lost) is made again: the example's
    values are random, and the database takes its password on every start."""
    path = repo / "secrets" / f"{environment}.enc.yaml"
    have: set[str] = set()
    if path.exists():
        data = yaml.safe_load(path.read_text()) or {}
        readers = [e.get("recipient") for e in (data.get("sops") or {}).get("age") or []]
        if recipient in readers:
            have = {k for k in data if k != "sops"}
        else:
            path.unlink()
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(key_file)}
    for name in SECRETS:
        if name in have:
            continue
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dockyard",
                "-C",
                str(repo),
                "secrets",
                "set",
                environment,
                name,
            ],
            input=secrets.token_urlsafe(24),
            text=True,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    repo, environment = Path(argv[0]).resolve(), argv[1]
    key_file, recipient = identity(repo)
    policy(repo, environment, recipient)
    values(repo, environment, key_file, recipient)
    print(key_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
