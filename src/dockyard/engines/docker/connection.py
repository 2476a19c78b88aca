"""Connecting to a Docker Engine, and translating docker-py's errors in one place.

Every call into docker-py from this package runs inside :func:`translate_errors`,
so nothing from docker-py or requests reaches a user as a raw traceback: a
refused connection becomes :class:`EngineUnreachable`, an error answered by the
daemon becomes :class:`EngineError` (or the error class the caller asks for)
that keeps the daemon's own explanation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import docker
import docker.errors
import requests

from dockyard.errors import DockyardError, EngineError, EngineUnreachable

DEFAULT_HOST = "unix:///var/run/docker.sock"
CONNECT_TIMEOUT = 5
"""Seconds to wait for the first answer of an engine (the version handshake)."""
OPERATION_TIMEOUT = 60
"""Seconds to wait for the answer to any later call (builds stream without a limit)."""

UNREACHABLE_HINT = (
    "Start Docker: run `make bootstrap` in the Dockyard repo, or `sudo systemctl start docker`; "
    "or set engine.host in the environment file (or DOCKER_HOST) to an engine that runs."
)
IMAGE_HINT = (
    "Build the image first (dockyard build), or pull it or mirror it into a registry "
    "the engine can reach."
)

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def engine_address(host: str | None) -> str:
    """The address a client for ``host`` talks to: ``host``, DOCKER_HOST or the local socket."""
    return host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def connect(host: str | None) -> docker.DockerClient:
    """A client for the engine at ``host`` (DOCKER_HOST and friends when ``None``).

    The first answer (docker-py negotiates the API version) must come within
    CONNECT_TIMEOUT; later calls get OPERATION_TIMEOUT.
    """
    address = engine_address(host)
    # ssh:// hosts go through the system's ssh client, which honours ~/.ssh/config.
    use_ssh_client = address.startswith("ssh://")
    with translate_errors(address, "connect to the Docker engine"):
        if host:
            client = docker.DockerClient(
                base_url=host, timeout=CONNECT_TIMEOUT, use_ssh_client=use_ssh_client
            )
        else:
            client = docker.DockerClient.from_env(
                timeout=CONNECT_TIMEOUT, use_ssh_client=use_ssh_client
            )
    client.api.timeout = OPERATION_TIMEOUT
    return client


@contextmanager
def translate_errors(
    address: str, action: str, error: type[DockyardError] = EngineError
) -> Iterator[None]:
    """Turn docker-py and requests exceptions raised inside into Dockyard errors.

    ``action`` completes the sentence "cannot ...". Errors the daemon answered
    with become ``error`` (EngineError unless the caller says otherwise) and keep
    the daemon's explanation; a missing image says how to get one.
    """
    try:
        yield
    except DockyardError:
        raise
    except docker.errors.ImageNotFound as e:
        raise error(f"cannot {action}: {explanation(e)}", hint=IMAGE_HINT) from e
    except docker.errors.APIError as e:
        raise error(f"cannot {action}: {explanation(e)}") from e
    except requests.exceptions.Timeout as e:
        raise EngineError(
            f"cannot {action}: the Docker engine at {address} did not answer in time",
            hint="The engine may be overloaded or hung; check it with `docker info`.",
        ) from e
    except requests.exceptions.ConnectionError as e:
        raise _unreachable(address, e) from e
    except requests.exceptions.RequestException as e:  # e.g. a stream cut off half-way
        raise EngineError(
            f"cannot {action}: the connection to the Docker engine at {address} broke ({e})"
        ) from e
    except docker.errors.DockerException as e:
        cause = e.__cause__
        if isinstance(cause, requests.exceptions.ConnectionError):
            raise _unreachable(address, cause) from e
        if isinstance(cause, requests.exceptions.Timeout):
            raise EngineUnreachable(
                f"no Docker engine answers at {address} (no answer within {CONNECT_TIMEOUT}s)",
                hint=UNREACHABLE_HINT,
            ) from e
        raise error(f"cannot {action}: {e}") from e
    except OSError as e:  # reading a build context, starting an ssh client
        raise error(f"cannot {action}: {e}") from e


def explanation(e: docker.errors.APIError) -> str:
    """The daemon's own words for an error, falling back to the HTTP status."""
    text = e.explanation
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip() if text else str(e)


def is_conflict(e: docker.errors.APIError) -> bool:
    return e.status_code == 409


def _unreachable(address: str, e: Exception) -> EngineUnreachable:
    return EngineUnreachable(
        f"no Docker engine answers at {address} ({_reason(e)})", hint=UNREACHABLE_HINT
    )


def _reason(e: BaseException) -> str:
    """The operating system's words for a failed connection, dug out of the wrapping."""
    stack: list[BaseException] = [e]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        stack.extend(a for a in current.args if isinstance(a, BaseException))
        stack.extend(c for c in (current.__cause__, current.__context__) if c is not None)
    found = _ERRNO.search(str(e))
    return found.group(1).strip() if found else type(e).__name__
