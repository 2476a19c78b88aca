"""The command line's grammar: every command, its arguments and its help.

It imports no command and no driver, so that parsing, ``--help`` and
``--version`` are quick: :data:`dockyard.cli.main.HANDLERS` names the function
that runs each command, imported once the command line is parsed.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from dockyard import __version__

DESCRIPTION = """\
Deploy services from their specs: one dockyard.yaml per service repo, one
environments/<env>.yaml per environment in the environment repo.

Run inside an environment repo (a folder with environments/), or anywhere
with -C DIR. Every command that reads specs validates them first and never
touches an engine when they are invalid.
"""

EPILOG = """\
examples:
  dockyard validate local              check every spec of environment 'local'
  dockyard plan local                  show what a release would change
  dockyard release staging             build, push, deploy and record a release
  dockyard release staging api         ... of one service only
  dockyard history staging             what was released, by whom, and how it went
  dockyard rollback staging            back to the release before the current one
  dockyard promote --from staging --to prod
                                       run in prod exactly what runs in staging
  dockyard run staging api migrate     run the api's migrate task now
  dockyard logs staging api -f         follow the output of every api replica
  dockyard run staging api -- python3 -m shop.shell
                                       a one-off command with the api's image and env
  dockyard exec local api              a shell in a running api replica
  echo x | dockyard exec local api -- cat
                                       a command in it, with input and exit code
  dockyard lock status staging         who holds the deploy lock, and whether it runs
  dockyard state adopt staging         a new history after the state store was lost
  dockyard down local --volumes        remove everything, data volumes too
  dockyard secrets set staging api db_password
                                       set a secret (the value from stdin or a prompt)
  source <(dockyard completion bash)   complete commands, environments and services in bash

exit codes: 0 success; 1 error; 2 usage error, or changes with plan --detailed-exitcode
"""

ROLLOUT = """\
how replicas roll:
  Services with ports are reached through the environment's ingress. Replicas
  are replaced in batches of deploy.max_surge: new ones start, become healthy
  and join the rotation as old ones leave it; the old ones finish the requests
  they answer (deploy.drain), then get SIGTERM and, after stop_grace, SIGKILL.
  A new replica that exits, never turns healthy, or fails within deploy.watch
  seconds of turning healthy stops the rollout; so does one whose requests fail
  at the ingress (5xx answers, refused connections) past deploy.watch's
  max_error_rate, or are slower than its max_latency_p95, compared with the
  replicas it replaces. Then the replicas it replaced come back
  (deploy.rollback: auto), the release is recorded as failed, and the command
  exits 1 with the figures or the failing container's last log lines.
"""


COMPLETION = """\
loading the script:
  bash  in ~/.bashrc:                  source <(dockyard completion bash)
  zsh   in ~/.zshrc, after compinit:   source <(dockyard completion zsh)
        or once, into a folder of $fpath (fpath=(~/.zfunc $fpath) before compinit):
        mkdir -p ~/.zfunc && dockyard completion zsh > ~/.zfunc/_dockyard

  The script asks dockyard for the words on every TAB: commands, options, the
  environments of the environment repo, their services and the services' tasks.
  It needs no update when dockyard is upgraded.
"""

LOGS = """\
sources:
  api.1 (replica 1 of api), api.1/stats (its sidecar), db (an accessory),
  ingress (the ingress's access log), api/migrate (a one-off task). Secrets
  keepers print nothing and are left out. --tail counts per container, before
  --grep. See docs/logs.md.
"""


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of lines (0 or more)")
    return value


def _pattern(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular expression: {e}") from None


#: The word the completion scripts call ``dockyard`` with, on every TAB; not a
#: command of the grammar (see :mod:`dockyard.cli.complete`).
COMPLETE = "__complete"

#: The shells that ``dockyard completion`` writes a script for.
SHELLS = ("bash", "zsh")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockyard", description=DESCRIPTION, epilog=EPILOG, formatter_class=_Formatter
    )
    parser.add_argument("--version", action="version", version=f"dockyard {__version__}")
    parser.add_argument(
        "-C",
        dest="directory",
        metavar="DIR",
        type=Path,
        default=None,
        help="run as if started in DIR (like git -C)",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, text: str, env: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text, formatter_class=_Formatter)
        if env:
            p.add_argument("environment", metavar="ENV", help="environment (environments/ENV.yaml)")
        return p

    def services(p: argparse.ArgumentParser, what: str) -> None:
        p.add_argument("services", metavar="SERVICE", nargs="*", help=f"{what} (default: all)")

    def waiting(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--wait",
            metavar="SECONDS",
            type=float,
            nargs="?",
            const=600.0,
            default=None,
            help="wait for another deploy's lock instead of failing (default 600 s)",
        )

    p = command("validate", "Check the environment's specs without touching an engine.")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = command("schema", "Print the JSON Schema of the spec files, for editors.", env=False)
    p.add_argument(
        "kind",
        nargs="?",
        choices=["all", "service", "environment", "params"],
        default="all",
        help="which file's schema (default: all)",
    )

    p = command("plan", "Show what a release would change, field by field (builds, no push).")
    services(p, "services to plan")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when nothing would change, 2 when something would, 1 on error",
    )

    p = command("build", "Build the images, tagged with each source's git commit.")
    services(p, "services to build")
    p.add_argument("--force", action="store_true", help="build dirty trees for a protected env")
    p.add_argument("-v", "--verbose", action="store_true", help="print build output")

    p = command("push", "Build (cached) and push the images to the environment's registry.")
    services(p, "services to push")
    p.add_argument("--force", action="store_true", help="push dirty trees for a protected env")
    p.add_argument("-v", "--verbose", action="store_true", help="print build and push output")

    for name, text in (
        ("release", "Build, push, deploy and record a release (what a pipeline calls)."),
        ("deploy", "The same as release."),
    ):
        p = command(name, text)
        p.epilog = ROLLOUT
        services(p, "services to release")
        p.add_argument(
            "--force", action="store_true", help="release dirty trees to a protected env"
        )
        p.add_argument("-v", "--verbose", action="store_true", help="print build and push output")
        p.add_argument(
            "--rerun-tasks",
            action="store_true",
            help="run before-deploy tasks even if they succeeded for this image",
        )
        waiting(p)

    p = command("rollback", "Redeploy an earlier release's digests and config (no build).")
    services(p, "services to roll back")
    p.add_argument("--to", metavar="N", type=int, help="release number (default: the one before)")
    waiting(p)

    p = command("promote", "Deploy what runs in one environment to another, by digest.", env=False)
    p.add_argument("--from", dest="source", metavar="SRC", required=True, help="source env")
    p.add_argument("--to", dest="environment", metavar="DST", required=True, help="target env")
    services(p, "services to promote")
    p.add_argument(
        "--rerun-tasks",
        action="store_true",
        help="run before-deploy tasks even if they succeeded for this image",
    )
    waiting(p)

    p = command(
        "run",
        "Run a service's task, or a command after --, in a one-off container with the "
        "running release's image, env and network; exits with its exit code.",
    )
    p.add_argument("service", metavar="SERVICE", help="whose image and env to use")
    p.add_argument("task", metavar="TASK", nargs="?", help="a task of the service's spec")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="kill it after this long")
    waiting(p)

    p = command(
        "exec",
        "Run a shell, or a command after --, in a running replica (the first healthy "
        "one) of a service or accessory; exits with its exit code.",
    )
    p.add_argument("service", metavar="SERVICE", help="the service or accessory")
    p.add_argument(
        "--replica", type=int, metavar="N", help="replica N (default: the first healthy)"
    )
    p.add_argument(
        "--container", metavar="NAME", help="a sidecar of the replica (default: its main)"
    )

    p = command("history", "List the environment's releases, newest first.")
    p.add_argument("-n", "--limit", type=int, default=20, help="how many (default 20)")
    p.add_argument("--tasks", action="store_true", help="also list each release's task runs")
    p.add_argument("--json", action="store_true", help="print the releases as JSON")

    p = command("status", "Show what runs in the environment, replica by replica.")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print the status as JSON")
    shown.add_argument("--watch", action="store_true", help="redraw it every second until Ctrl-C")

    p = command("catalog", "List every service's healthy endpoints and the routes to them.")
    p.add_argument("--json", action="store_true", help="print the catalog as JSON")

    p = command("logs", "Show what the environment's containers print, merged in time order.")
    p.epilog = LOGS
    services(p, "services or accessories whose output to show")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument(
        "--since", metavar="WHEN", help="lines from WHEN on: 10m, 1h or an RFC 3339 time"
    )
    p.add_argument("--until", metavar="WHEN", help="lines up to WHEN (not with -f)")
    p.add_argument("--tail", metavar="N", type=_count, help="the last N lines of each container")
    p.add_argument("--grep", metavar="RE", type=_pattern, help="lines whose text matches RE")
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = command("down", "Remove the environment's containers and network.")
    p.add_argument("--volumes", action="store_true", help="remove its named volumes (data) too")
    p.add_argument(
        "--images",
        action="store_true",
        help="remove the images built or pulled for it too (never from a registry)",
    )

    lock = sub.add_parser("lock", help="Inspect or release an environment's deploy lock.")
    lock_sub = lock.add_subparsers(dest="lock_command", metavar="ACTION", required=True)
    p = lock_sub.add_parser("status", help="Who holds the deploy lock, since when, until when.")
    p.add_argument("environment", metavar="ENV")
    p.add_argument("--json", action="store_true", help="print the lock as JSON")
    p = lock_sub.add_parser("release", help="Remove the lock (its holder died or is stuck).")
    p.add_argument("environment", metavar="ENV")

    state = sub.add_parser("state", help="Start an environment's history again, on purpose.")
    state_sub = state.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    p = state_sub.add_parser(
        "adopt",
        help="Start a new history from what runs, when the state store lost it.",
        description="Record what the engine runs of ENV as release #N (kind adopt), N being "
        "the highest release its containers carry, so that the next release is #N+1. "
        "Only when the store has no release of ENV (deleted, emptied, another database); "
        "to get the old history back instead, copy the store's backup back in place. "
        "Task runs start empty: before-deploy tasks run again at the next release.",
    )
    p.add_argument("environment", metavar="ENV")

    secrets = sub.add_parser(
        "secrets",
        help="Set, read and re-encrypt an environment's encrypted secrets.",
        description="Secrets live encrypted in git, in the sops format: a service's in "
        "secrets/ENV.enc.yaml of its repo, the environment's shared ones in "
        "secrets/ENV.enc.yaml of the environment repo. They are encrypted for the readers "
        "policies.yaml names for ENV; decrypting takes an age identity of one of them "
        "(SOPS_AGE_KEY_FILE or SOPS_AGE_KEY, as for sops). See docs/secrets.md.",
        formatter_class=_Formatter,
    )
    secrets_sub = secrets.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)

    def where(p: argparse.ArgumentParser, named: bool = True) -> None:
        p.add_argument("environment", metavar="ENV", help="environment (environments/ENV.yaml)")
        p.add_argument(
            "names",
            metavar="[SERVICE] NAME" if named else "SERVICE",
            nargs=("+" if named else "?"),
            help="the service (default: the environment's shared secrets)"
            + (" and the secret's name" if named else ""),
        )

    p = secrets_sub.add_parser(
        "set",
        help="Set a secret; the value comes from standard input or a hidden prompt.",
        description="Set a secret. The value is read from standard input (one trailing "
        "newline dropped) or, on a terminal, from a prompt that does not echo; never from "
        "the command line, where other users could see it.",
    )
    where(p)
    p = secrets_sub.add_parser("get", help="Print a secret's value.")
    where(p)
    p = secrets_sub.add_parser("unset", help="Remove a secret.")
    where(p)
    p = secrets_sub.add_parser(
        "list", help="Names, versions and recipients of the secrets (no values, no key needed)."
    )
    where(p, named=False)
    p.add_argument("--json", action="store_true", help="print the listing as JSON")
    p = secrets_sub.add_parser(
        "import", help="Set every NAME=value of a .env file (then delete the file yourself)."
    )
    where(p, named=False)
    p.add_argument("--from", dest="env_file", metavar="FILE", type=Path, required=True)
    p = secrets_sub.add_parser(
        "rekey",
        help="Encrypt the file for the readers policies.yaml names now.",
        description="Wrap the file's data key for exactly the readers policies.yaml names "
        "for ENV. When a reader was removed, the file gets a new data key too: they may "
        "have kept the old one.",
    )
    where(p, named=False)
    p = secrets_sub.add_parser(
        "rotate", help="A new data key for the file, every value encrypted again."
    )
    where(p, named=False)
    p = secrets_sub.add_parser(
        "keygen",
        help="Make your Ed25519 signing key; print the line for policies.yaml.",
        description="Make an Ed25519 signing key in $DOCKYARD_SIGNING_KEY_FILE or "
        "~/.config/dockyard/signing.key (0600; an existing one is kept) and print its public "
        "half for your principal in policies.yaml. Every file you write is then signed.",
    )
    p = secrets_sub.add_parser("sign", help="Sign the file as it is, as its writer.")
    where(p, named=False)
    p = secrets_sub.add_parser(
        "verify",
        help="Check that files are signed by a writer and encrypted for the readers.",
        description="Check the file (or, with --all, every secrets file of ENV): signed by a "
        "principal that may write ENV, unchanged since, and encrypted for exactly the readers "
        "policies.yaml names. Exits 1 naming each file, signer and rule that fails.",
    )
    where(p, named=False)
    p.add_argument("--all", action="store_true", help="every secrets file of the environment")
    p = secrets_sub.add_parser(
        "edit",
        help="Edit the decrypted secrets in $EDITOR (the copy on a tmpfs only).",
        description="Decrypt the file into a YAML copy on a tmpfs (/dev/shm), open it in "
        "$VISUAL or $EDITOR, and encrypt what you saved; the copy is removed whatever "
        "happens. Values you did not change keep their ciphertext.",
    )
    where(p, named=False)
    p = secrets_sub.add_parser(
        "diff",
        help="Which secrets were added, removed or written again between two revisions.",
        description="Compare the file at two git revisions (default: HEAD and the file as "
        "it is now) by the versions of its secrets; no key is needed and no value is shown.",
    )
    where(p, named=False)
    p.add_argument("--from", dest="since", metavar="REV", default="HEAD")
    p.add_argument("--to", dest="until", metavar="REV", default=None, help="(default: now)")

    p = command("completion", "Print the shell completion script for bash or zsh.", env=False)
    p.epilog = COMPLETION
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    return parser
