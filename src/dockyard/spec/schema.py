"""JSON Schema of the spec files, for editors and other tools.

The schema describes files as they are written, before interpolation: wherever
a number, a boolean or a constrained string goes, a whole-value reference such
as ``"${replicas}"`` is allowed too. The ``params:`` blocks, which are not
interpolated, keep their plain types.
"""

from __future__ import annotations

from typing import Literal

from pydantic.json_schema import models_json_schema

from dockyard.spec.environment import EnvironmentSpec
from dockyard.spec.models import PARAM_NAME_PATTERN, ServiceSpec

DIALECT = "http://json-schema.org/draft-07/schema#"
SchemaKind = Literal["service", "environment", "params"]

_REFERENCE = {
    "type": "string",
    "pattern": r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$",
    "description": "A parameter reference, replaced by the parameter's typed value.",
}
_ANNOTATIONS = {"title", "description", "default", "examples"}
_CONSTRAINTS = {"pattern", "enum", "const", "format", "minLength", "maxLength"}
_UNINTERPOLATED = {"ParamDecl"}
_PARAMS: dict[str, object] = {
    "type": "object",
    "propertyNames": {"pattern": PARAM_NAME_PATTERN},
    "additionalProperties": {"type": ["string", "integer", "number", "boolean"]},
}


def json_schema(kind: SchemaKind | None = None) -> dict[str, object]:
    """A JSON Schema (draft-07) document for Dockyard's spec files.

    Without ``kind``, one document covers both the service spec and the
    environment file: a file with a ``service:`` key is checked as a service
    spec, any other as an environment file. ``kind`` narrows it to one file
    kind; ``"params"`` is the schema of ``params/<env>.yaml``.
    """
    if kind == "params":
        return {"$schema": DIALECT, "title": "Dockyard parameter values", **_PARAMS}
    _, generated = models_json_schema(
        [(ServiceSpec, "validation"), (EnvironmentSpec, "validation")],
        ref_template="#/$defs/{model}",
    )
    raw_defs = generated.get("$defs", {})
    assert isinstance(raw_defs, dict)
    defs = {
        name: body if name in _UNINTERPOLATED else _with_references(body, top=name)
        for name, body in raw_defs.items()
    }
    document: dict[str, object] = {"$schema": DIALECT}
    if kind == "service":
        document.update(title="Dockyard service spec (dockyard.yaml)")
        document.update({"$ref": "#/$defs/ServiceSpec"})
    elif kind == "environment":
        document.update(title="Dockyard environment file (environments/<env>.yaml)")
        document.update({"$ref": "#/$defs/EnvironmentSpec"})
    else:
        document.update(
            {
                "title": "Dockyard spec files",
                "if": {"type": "object", "required": ["service"]},
                "then": {"$ref": "#/$defs/ServiceSpec"},
                "else": {"$ref": "#/$defs/EnvironmentSpec"},
            }
        )
    document["$defs"] = defs
    return document


def _constrained_scalar(schema: object) -> bool:
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    if kind in ("integer", "number", "boolean"):
        return True
    return kind == "string" and bool(_CONSTRAINTS & schema.keys())


def _with_references(schema: object, *, top: str | None = None) -> object:
    """``schema`` where every constrained scalar also accepts ``"${name}"``."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if isinstance(out.get("properties"), dict):
        out["properties"] = {
            key: value
            if top in ("ServiceSpec", "EnvironmentSpec") and key == "params"
            else _with_references(value)
            for key, value in out["properties"].items()
        }
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _with_references(out[key])
    if isinstance(out.get("patternProperties"), dict):
        # mapping keys (container and accessory names) must match the pattern
        out["patternProperties"] = {
            k: _with_references(v) for k, v in out["patternProperties"].items()
        }
        out.setdefault("additionalProperties", False)
    if isinstance(out.get("anyOf"), list):
        branches = out["anyOf"]
        if any(_constrained_scalar(b) for b in branches):
            branches = [*branches, _REFERENCE]
        out["anyOf"] = [b if _constrained_scalar(b) else _with_references(b) for b in branches]
    elif _constrained_scalar(out):
        notes = {k: v for k, v in out.items() if k in _ANNOTATIONS}
        checks = {k: v for k, v in out.items() if k not in _ANNOTATIONS}
        out = {**notes, "anyOf": [checks, _REFERENCE]}
    return out
