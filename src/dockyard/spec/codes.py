"""Stable codes of the errors that loading an environment can report.

Documents and scripts may refer to these codes; they never change meaning.
The table in ``docs/spec.md`` lists the same codes.
"""

from __future__ import annotations

YAML_SYNTAX = "DY101"
UNKNOWN_KEY = "DY102"
WRONG_VALUE = "DY103"
MISSING_KEY = "DY104"
UNKNOWN_PARAM = "DY105"
MISSING_PARAM = "DY106"
DUPLICATE_KEY = "DY107"
DUPLICATE_SERVICE = "DY108"
PORT_CLASH = "DY109"
MISSING_BUILD = "DY110"
UNKNOWN_DEPENDENCY = "DY111"
DEPENDENCY_CYCLE = "DY112"
SOURCE_NOT_FOUND = "DY113"
ENVIRONMENT_MISMATCH = "DY114"
SERVICE_MISMATCH = "DY115"
DUPLICATE_PORT = "DY116"
UNKNOWN_HEALTH_PORT = "DY117"
PROXY_MIX = "DY118"
FILE_TOO_LARGE = "DY119"
NOT_TEXT = "DY120"
ALIAS_EXPANSION = "DY121"
TOO_DEEP = "DY122"
ENV_NAME = "DY123"
NUL_BYTE = "DY124"
TOO_LONG = "DY125"
MEMORY_TOO_LOW = "DY126"
BAD_LABEL = "DY127"
OUTSIDE_REPO = "DY128"
VOLUME_WRITERS = "DY129"
RESERVED_PORT = "DY130"

NO_REPO = "DY201"
UNKNOWN_ENVIRONMENT = "DY202"

DESCRIPTIONS: dict[str, str] = {
    YAML_SYNTAX: "YAML syntax error, empty file, or a YAML feature specs do not use",
    UNKNOWN_KEY: "unknown key in a spec, environment or params file",
    WRONG_VALUE: "a value has the wrong type or is out of range",
    MISSING_KEY: "a required key is missing",
    UNKNOWN_PARAM: "`${name}` names no declared parameter",
    MISSING_PARAM: "a declared parameter has no default and no value",
    DUPLICATE_KEY: "the same key appears twice in one mapping",
    DUPLICATE_SERVICE: "two services (or a service and an accessory) share a name",
    PORT_CLASH: "two containers publish the same host port",
    MISSING_BUILD: "a build context folder or Dockerfile does not exist",
    UNKNOWN_DEPENDENCY: "`depends_on` names no service or accessory",
    DEPENDENCY_CYCLE: "services depend on each other in a cycle",
    SOURCE_NOT_FOUND: "a service's source folder or spec file does not exist",
    ENVIRONMENT_MISMATCH: "`environment:` differs from the environment file's name",
    SERVICE_MISMATCH: "`service:` differs from the name the environment gives the service",
    DUPLICATE_PORT: "a port name is used twice in a container, or a port twice in a task",
    UNKNOWN_HEALTH_PORT: "a health check names a port its container does not declare",
    PROXY_MIX: "a service has ports the ingress proxies and ports it does not",
    FILE_TOO_LARGE: "a spec file is larger than the limit",
    NOT_TEXT: "a spec file is not UTF-8 text (binary, a NUL byte, a control character)",
    ALIAS_EXPANSION: "YAML aliases, or `${name}` references, expand beyond the limits",
    TOO_DEEP: "mappings and lists are nested deeper than the limit",
    ENV_NAME: "an environment variable or build argument name is not a valid name",
    NUL_BYTE: "a value contains a NUL byte",
    TOO_LONG: "a value, or a container's environment and arguments, is longer than the limit",
    MEMORY_TOO_LOW: "`resources.memory` is below the engine's minimum",
    BAD_LABEL: "a label key or value is too long or contains control characters",
    OUTSIDE_REPO: "a build context or Dockerfile lies outside its repo, or takes in `.dockyard/`",
    VOLUME_WRITERS: "a data volume would be written by two tasks at once",
    RESERVED_PORT: "a proxied port is the one the ingress serves its metrics on",
    NO_REPO: "no environment repo (a folder with `environments/`) was found",
    UNKNOWN_ENVIRONMENT: "no environment file of that name",
}
