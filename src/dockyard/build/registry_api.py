"""A small client of the registry HTTP API (distribution v2): is a manifest there, and
which digest does a tag point at; without pulling anything.

Registries on the loopback network are spoken to over plain HTTP (the engine
treats them as insecure too), every other one over HTTPS. Credentials go as
basic auth; a registry that answers with a ``Bearer`` challenge (token auth)
gets a token from the realm it names, asked for with the same credentials.

``repository`` is always the name under the registry's URL: for a registry
``host:5000/team``, ``api`` stands for ``host:5000/team/api``.
"""

from __future__ import annotations

import ipaddress
import re

import httpx

from dockyard.build.credentials import Credentials, auth_hint, registry_host, resolve
from dockyard.errors import RegistryAuthError, RegistryError
from dockyard.spec.environment import RegistryConfig

TIMEOUT = 10.0
"""Seconds to wait for a registry to answer."""

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)
DIGEST_HEADER = "Docker-Content-Digest"

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def base_url(registry: RegistryConfig) -> str:
    """``http://`` or ``https://`` and the registry's host."""
    host = registry_host(registry)
    return f"{'http' if is_loopback(host) else 'https'}://{host}"


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def api_name(registry: RegistryConfig, repository: str) -> str:
    """The repository's name in API paths: the URL's namespace, then ``repository``."""
    namespace = registry.url.split("/", 1)[1] if "/" in registry.url else ""
    return f"{namespace}/{repository}" if namespace else repository


def has_manifest(
    registry: RegistryConfig,
    repository: str,
    digest: str,
    *,
    transport: httpx.BaseTransport | None = None,
) -> bool:
    """Whether the registry holds the manifest ``digest`` in ``repository``."""
    return manifest_digest(registry, repository, digest, transport=transport) is not None


def manifest_digest(
    registry: RegistryConfig,
    repository: str,
    reference: str,
    *,
    transport: httpx.BaseTransport | None = None,
) -> str | None:
    """The digest of the manifest ``reference`` (a tag or a digest) names; None when the
    registry has no such manifest (or no such repository)."""
    name = api_name(registry, repository)
    url = f"{base_url(registry)}/v2/{name}/manifests/{reference}"
    with httpx.Client(timeout=TIMEOUT, transport=transport) as client:
        response = _request(client, "HEAD", url, registry, f"repository:{name}:pull")
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise RegistryError(
            f"registry {registry.url} answered HEAD {url} with {_status(response)}",
            hint="Check the registry URL in the environment file, and the registry's logs.",
        )
    found = response.headers.get(DIGEST_HEADER)
    if found:
        return str(found)
    if reference.startswith("sha256:"):
        return reference
    raise RegistryError(
        f"registry {registry.url} did not say which digest {name}:{reference} has",
        hint=f"The registry does not send {DIGEST_HEADER}; it may not be a distribution v2 "
        "registry.",
    )


def _request(
    client: httpx.Client, method: str, url: str, registry: RegistryConfig, scope: str
) -> httpx.Response:
    creds = resolve(registry)
    headers = {"Accept": ", ".join(MANIFEST_TYPES)}
    basic = httpx.BasicAuth(creds.username, creds.password) if creds else None
    response = _send(client, method, url, headers, basic)
    if response.status_code == 401:
        challenge = response.headers.get("WWW-Authenticate", "")
        if challenge.lower().startswith("bearer "):
            token = _token(client, url, challenge, registry, creds, scope)
            headers["Authorization"] = f"Bearer {token}"
            response = _send(client, method, url, headers, None)
    if response.status_code in (401, 403):
        raise _refused(url, registry, creds, response)
    return response


def _token(
    client: httpx.Client,
    url: str,
    challenge: str,
    registry: RegistryConfig,
    creds: Credentials | None,
    scope: str,
) -> str:
    """A bearer token from the realm of a ``WWW-Authenticate: Bearer ...`` challenge."""
    params = dict(_CHALLENGE_PARAM.findall(challenge))
    realm = params.pop("realm", None)
    if not realm:
        raise RegistryError(f"{url} asked for a token without saying where to get one")
    params.setdefault("scope", scope)
    basic = httpx.BasicAuth(creds.username, creds.password) if creds else None
    response = _send(client, "GET", realm, {}, basic, params=params)
    if response.status_code in (401, 403):
        raise _refused(realm, registry, creds, response)
    if response.status_code != 200:
        raise RegistryError(f"the token service {realm} answered with {_status(response)}")
    try:
        body = response.json()
        token = body.get("token") or body.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token:
        raise RegistryError(f"the token service {realm} sent no token")
    return token


def _send(
    client: httpx.Client,
    method: str,
    url: str,
    headers: dict[str, str],
    auth: httpx.BasicAuth | None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    try:
        return client.request(method, url, headers=headers, auth=auth, params=params)
    except httpx.TimeoutException as e:
        raise RegistryError(
            f"the registry at {url} did not answer within {TIMEOUT:g}s",
            hint="Check that the registry runs and that this machine can reach it.",
        ) from e
    except httpx.HTTPError as e:
        raise RegistryError(
            f"cannot reach the registry at {url}: {e}",
            hint="Check that the registry runs and that this machine can reach it.",
        ) from e


def _refused(
    url: str, registry: RegistryConfig, creds: Credentials | None, response: httpx.Response
) -> RegistryAuthError:
    who = f"as {creds.username}" if creds else "without credentials"
    return RegistryAuthError(
        f"the registry refused {url} {who} ({_status(response)})", hint=auth_hint(registry)
    )


def _status(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
