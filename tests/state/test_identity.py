"""The actor recorded on releases and locks."""

from __future__ import annotations

import socket

import pytest

from dockyard.state import LockHolder, actor

HOST = socket.gethostname().split(".")[0]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"DOCKYARD_ACTOR": "release-bot", "GITHUB_ACTOR": "octocat"}, "release-bot"),
        ({"GITHUB_ACTOR": "octocat", "CI": "true", "USER": "runner"}, "ci:octocat"),
        ({"GITLAB_USER_LOGIN": "tanuki", "CI": "true"}, "ci:tanuki"),
        ({"CI": "true", "USER": "jenkins"}, "ci:jenkins"),
        ({"CI": "false", "USER": "alice"}, f"alice@{HOST}"),
        ({"USER": "alice"}, f"alice@{HOST}"),
        ({"LOGNAME": "bob"}, f"bob@{HOST}"),
    ],
)
def test_actor(environ: dict[str, str], expected: str) -> None:
    assert actor(environ) == expected


def test_current_holder_is_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("DOCKYARD_ACTOR", "alice@laptop")
    holder = LockHolder.current("release")
    assert (holder.actor, holder.pid, holder.command) == ("alice@laptop", os.getpid(), "release")
    assert holder.host == socket.gethostname()
