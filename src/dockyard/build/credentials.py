"""Registry credentials: the username from the environment file, the password from the
environment variable it names; never from argv, and never in a message.

Without ``password_env`` the engine's client uses its own login
(``~/.docker/config.json``, credential helpers included), and so does the
registry HTTP client (:func:`stored_credentials`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import docker.auth
import docker.errors

from dockyard.engines.model import RegistryAuth
from dockyard.errors import MissingCredentials, RegistryError
from dockyard.spec.environment import RegistryConfig


@dataclass(frozen=True)
class Credentials:
    """A username and its password; the password never shows in a repr."""

    username: str
    password: str = field(repr=False)


def registry_host(registry: RegistryConfig) -> str:
    """``host[:port]`` of the registry (its URL without the namespace)."""
    return registry.url.split("/", 1)[0]


def credentials(registry: RegistryConfig) -> Credentials | None:
    """The credentials the environment file points at; None without ``password_env``.

    Raises MissingCredentials when the variable is unset or empty, or when no
    username goes with it.
    """
    variable = registry.password_env
    if variable is None:
        return None
    if not registry.username:
        raise MissingCredentials(
            f"registry {registry.url}: password_env names ${variable}, but there is no username",
            hint="Set registry.username in the environment file.",
        )
    password = os.environ.get(variable)
    if not password:
        state = "is empty" if password == "" else "is not set"
        raise MissingCredentials(
            f"registry {registry.url}: the environment variable {variable} {state}; "
            f"it should hold the password of {registry.username}",
            hint=f"Export {variable} with the registry password before you run Dockyard.",
        )
    return Credentials(registry.username, password)


def auth_config(registry: RegistryConfig) -> RegistryAuth | None:
    """Credentials as the engine takes them; None lets the engine's client use its own login."""
    found = credentials(registry)
    if found is None:
        return None
    return {
        "username": found.username,
        "password": found.password,
        "serveraddress": registry_host(registry),
    }


def stored_credentials(registry: RegistryConfig) -> Credentials | None:
    """The login Docker's client has stored for the registry (``docker login``), if any."""
    host = registry_host(registry)
    try:
        found = docker.auth.load_config().resolve_authconfig(host)
    except docker.errors.DockerException as e:
        raise RegistryError(
            f"cannot read the stored login for {host}: {e}",
            hint="Check ~/.docker/config.json and its credential helper, or set "
            "registry.username and registry.password_env.",
        ) from e
    if not found or not found.get("Username") or not found.get("Password"):
        return None
    return Credentials(str(found["Username"]), str(found["Password"]))


def auth_hint(registry: RegistryConfig) -> str:
    """What to check when the registry refuses: the names of the settings, never a value."""
    if registry.password_env:
        return (
            f"Check registry.username ({registry.username}) in the environment file and the "
            f"value of the environment variable {registry.password_env}."
        )
    return (
        f"Log in with `docker login {registry_host(registry)}`, or set registry.username "
        "and registry.password_env in the environment file."
    )


def resolve(registry: RegistryConfig) -> Credentials | None:
    """The credentials to talk to the registry with: the environment's, else the stored login."""
    return credentials(registry) or stored_credentials(registry)
