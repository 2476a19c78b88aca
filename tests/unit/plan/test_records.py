"""Reading what a later Dockyard wrote: release records (a DesiredState as JSON)
and definition labels (a TaskDef) with fields this version does not know still
read, with the fields it knows intact; rolling back across the versions needs it."""

from __future__ import annotations

import json

from dockyard.plan.model import ContainerDef, DesiredState, ServiceDef, TaskDef


def _desired() -> DesiredState:
    task = TaskDef(containers=[ContainerDef(name="api", image="reg/api@sha256:" + "a" * 64)])
    return DesiredState(
        environment="prod", network="prod", services=[ServiceDef(name="api", task=task)]
    )


NEW = {"added_later": {"x": 1}}
"""A field no version has yet."""


def test_a_release_record_with_fields_from_a_later_version_reads() -> None:
    written = _desired().model_dump(mode="json")
    written |= NEW
    service = written["services"][0]
    service |= NEW
    service["task"] |= NEW
    service["task"]["containers"][0] |= NEW
    assert DesiredState.model_validate(written) == _desired()


def test_a_definition_label_with_fields_from_a_later_version_reads() -> None:
    task = _desired().services[0].task
    data = json.loads(task.canonical()) | NEW
    data["containers"][0] |= NEW
    label = json.dumps(data)
    read = TaskDef.model_validate_json(label)
    assert read == task
    assert read.spec_hash() == task.spec_hash()
