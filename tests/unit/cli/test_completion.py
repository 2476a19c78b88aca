"""Shell completion: the words a TAB offers, and the bash and zsh scripts that ask
``dockyard __complete`` for them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.cli.complete import candidates
from dockyard.cli.parser import build_parser
from dockyard.cli.shells import script

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = str(ROOT / "examples" / "platform")
SERVICES = ["api", "worker", "web"]


def words(*typed: str) -> list[str]:
    return [c.word for c in candidates(build_parser(), typed)]


def test_commands_and_their_help() -> None:
    found = {c.word: c.help for c in candidates(build_parser(), [""])}
    assert {"validate", "plan", "release", "rollback", "lock", "completion"} <= set(found)
    assert found["validate"].startswith("Check the environment's specs")
    assert words("r") == ["release", "rollback", "run"]
    assert words("lock", "") == ["status", "release"]
    assert words("state", "") == ["adopt"]


def test_options_of_the_command_typed() -> None:
    assert words("--v") == ["--version"]
    assert words("plan", "local", "--") == ["--help", "--json", "--detailed-exitcode"]
    assert "--wait" in words("release", "local", "-")
    assert words("plan", "local", "--json", "--") == ["--help", "--detailed-exitcode"]


def test_choices() -> None:
    assert words("schema", "") == ["all", "service", "environment", "params"]
    assert words("completion", "") == ["bash", "zsh"]


def test_environments_of_the_repo_given_with_C_or_the_current_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert words("-C", EXAMPLE, "validate", "") == ["local"]
    assert words("-C", EXAMPLE, "--debug", "status", "lo") == ["local"]
    assert words("-C", EXAMPLE, "promote", "--from", "") == ["local"]
    assert words("-C", EXAMPLE, "promote", "--from=l") == ["local"]
    assert words("-C", EXAMPLE, "promote", "--from", "=", "l") == ["local"]  # as bash splits it
    assert words("-C", EXAMPLE, "lock", "status", "") == ["local"]
    monkeypatch.chdir(Path(EXAMPLE) / "environments")
    assert words("history", "") == ["local"]


def test_services_accessories_and_tasks() -> None:
    assert words("-C", EXAMPLE, "plan", "local", "") == [*SERVICES, "db"]
    assert words("-C", EXAMPLE, "release", "local", "api", "w") == ["worker", "web"]
    assert words("-C", EXAMPLE, "promote", "--from", "local", "--to", "local", "a") == ["api"]
    assert words("-C", EXAMPLE, "run", "local", "") == SERVICES  # no task runs in `db`
    found = {
        c.word: c.help
        for c in candidates(build_parser(), ["-C", EXAMPLE, "run", "local", "api", ""])
    }
    assert found == {
        "migrate": "before-deploy",
        "smoke": "after-deploy",
        "migrate-status": "manual",
    }


def test_secrets_actions_then_a_service_then_nothing_guessed() -> None:
    assert words("secrets", "") == [
        "set",
        "get",
        "unset",
        "list",
        "import",
        "rekey",
        "rotate",
        "keygen",
        "sign",
        "verify",
        "edit",
        "diff",
    ]
    assert words("-C", EXAMPLE, "secrets", "set", "") == ["local"]
    assert words("-C", EXAMPLE, "secrets", "set", "local", "") == SERVICES
    assert words("-C", EXAMPLE, "secrets", "list", "local", "w") == ["worker", "web"]
    assert words("-C", EXAMPLE, "secrets", "get", "local", "api", "") == []  # a secret's name


def test_nothing_where_nothing_is_known() -> None:
    assert words("-C", EXAMPLE, "run", "local", "api", "--", "") == []  # the command to run
    assert words("-C", EXAMPLE, "status", "local", "") == []
    assert words("nosuchcommand", "") == []
    assert words("-C", "") == []  # a folder: the shell completes it
    assert words("release", "local", "--wait", "") == []  # seconds


def test_unreadable_files_complete_nothing(tmp_path: Path) -> None:
    environments = tmp_path / "repo" / "environments"
    environments.mkdir(parents=True)
    (environments / "bad.yaml").write_text("services: [\n")
    (environments / "odd.yaml").write_text("services: 3\naccessories: [x]\n")
    repo = str(environments.parent)
    assert words("-C", repo, "plan", "") == ["bad", "odd"]
    assert words("-C", repo, "plan", "bad", "") == []
    assert words("-C", repo, "plan", "odd", "") == []
    assert words("-C", repo, "plan", "gone", "") == []
    (tmp_path / "elsewhere").mkdir()
    assert words("-C", str(tmp_path / "elsewhere"), "plan", "") == []


def test_the_scripts_ask_dockyard_and_complete_folders_themselves() -> None:
    bash = script(build_parser(), "bash")
    assert "complete -F _dockyard dockyard" in bash
    assert '"${program[0]}" __complete "${typed[@]}"' in bash
    assert "-C)" in bash and "compgen -d" in bash
    zsh = script(build_parser(), "zsh")
    assert zsh.startswith("#compdef dockyard\n")
    assert "compdef _dockyard dockyard" in zsh
    assert "__complete" in zsh and "-C) _directories" in zsh


@pytest.fixture
def shim(tmp_path: Path) -> Path:
    """A ``dockyard`` program that runs this tree's code."""
    program = tmp_path / "bin" / "dockyard"
    program.parent.mkdir()
    program.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m dockyard "$@"\n')
    program.chmod(0o755)
    return program


def completed(shell: str, shim: Path, lines: list[str], before: str = "") -> list[str]:
    """What ``shell`` prints when it runs ``before``, the script of ``dockyard completion
    SHELL``, then ``lines``, in the example's environment repo."""
    env = {
        **os.environ,
        "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT / "src"),
    }
    loaded = script(build_parser(), shell)
    run = subprocess.run(
        [shell, "-f"] if shell == "zsh" else [shell, "--norc", "--noprofile"],
        input="\n".join([before, loaded, *lines, ""]),
        capture_output=True,
        text=True,
        env=env,
        cwd=EXAMPLE,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_through_the_script(shim: Path) -> None:
    tab = 'tab() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _dockyard; echo "${COMPREPLY[*]}"; }'
    lines = [
        "complete -p dockyard",
        "tab dockyard va",
        "tab dockyard plan local ''",
        f"tab {shim} run local api m",  # the program typed is the one asked
        "tab dockyard -C ../se",
        "tab dockyard promote --from = ''",
        f"alias dy='{shim} -C {EXAMPLE}'; complete -F _dockyard dy; cd /",
        "tab dy plan local a",  # an alias runs with its options
    ]
    assert completed("bash", shim, lines, before=tab) == [
        "complete -F _dockyard dockyard",
        "validate",
        "api worker web db",
        "migrate migrate-status",
        "../services",
        "local",
        "api",
    ]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
def test_zsh_completes_through_the_script(shim: Path) -> None:
    # Without the completion system loaded, stand-ins print what it would be given.
    stubs = "\n".join(
        [
            "compdef() { print -r -- compdef $@ }",
            '_describe() { print -r -- "${(j: | :)${(@P)2}}" }',
            "_directories() { print -r -- folders }",
            "compset() { PREFIX=${PREFIX#*=} }",
            'tab() { words=("$@"); CURRENT=$#; PREFIX=${words[CURRENT]}; _dockyard }',
        ]
    )
    lines = [
        "tab dockyard va",
        f"tab {shim} run local api m",
        "tab dockyard -C ''",
        "tab dockyard promote --from=l",
    ]
    assert completed("zsh", shim, lines, before=stubs) == [
        "compdef _dockyard dockyard",
        "validate:Check the environment's specs without touching an engine.",
        "migrate:before-deploy | migrate-status:manual",
        "folders",
        "local:environment",
    ]
