"""Who is deploying: the actor recorded on releases and deploy locks."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping

CI_USER_VARIABLES = ("GITHUB_ACTOR", "GITLAB_USER_LOGIN")


def actor(environ: Mapping[str, str] | None = None) -> str:
    """``$DOCKYARD_ACTOR`` when set; in CI ``ci:<name>`` (GitHub's or GitLab's user,
    else ``$USER`` when ``$CI`` is set); otherwise ``<user>@<host>``."""
    env = os.environ if environ is None else environ
    explicit = env.get("DOCKYARD_ACTOR", "").strip()
    if explicit:
        return explicit
    for variable in CI_USER_VARIABLES:
        name = env.get(variable, "").strip()
        if name:
            return f"ci:{name}"
    if env.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return f"ci:{env.get('USER', '').strip() or 'unknown'}"
    return f"{_user(env)}@{socket.gethostname().split('.')[0] or 'localhost'}"


def _user(env: Mapping[str, str]) -> str:
    for variable in ("USER", "LOGNAME", "USERNAME"):
        if env.get(variable):
            return env[variable]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container with an arbitrary uid)
        return f"uid{os.getuid()}"
