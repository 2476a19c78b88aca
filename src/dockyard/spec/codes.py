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
VOLUME_WRITERS = "DY119"

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
    VOLUME_WRITERS: "a data volume would be written by two tasks at once",
    NO_REPO: "no environment repo (a folder with `environments/`) was found",
    UNKNOWN_ENVIRONMENT: "no environment file of that name",
}
