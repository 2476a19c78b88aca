"""Parsing the command line, ``--help`` and ``--version`` load no driver: each
command imports what it needs once the command line is parsed.

Each check runs a fresh interpreter, since this one has loaded everything.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from dockyard.cli.main import HANDLERS, handler
from dockyard.cli.parser import build_parser

SRC = Path(__file__).resolve().parents[3] / "src"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "platform"
DRIVERS = {
    "docker",
    "sqlalchemy",
    "psycopg",
    "httpx",
    "pydantic",
    "rich",
    "yaml",
    "boto3",
    "botocore",
    "pyrage",
    "cryptography",
}


def loaded(code: str) -> set[str]:
    """The drivers loaded once ``code`` ran after ``import dockyard.cli.main as m``."""
    probe = (
        "import contextlib, io, sys\n"
        "import dockyard.cli.main as m\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + "print(' '.join(sorted({n.split('.')[0] for n in sys.modules})))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    assert run.returncode == 0, run.stderr
    return set(run.stdout.split()) & DRIVERS


def command_lines() -> list[list[str]]:
    """``--help`` of the program and of every command and subcommand."""
    found = [["--help"]]

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found.append([*words, name, "--help"])
                    walk(sub, [*words, name])

    walk(build_parser(), [])
    return found


def exits(argv: list[str]) -> str:
    return f"try:\n    m.main({argv!r})\nexcept SystemExit:\n    pass"


def test_help_and_version_load_no_driver() -> None:
    lines = [["--version"], *command_lines()]
    assert len(lines) > 15  # every command's help
    assert loaded("\n".join(exits(argv) for argv in lines)) == set()


def test_parsing_a_command_line_loads_no_driver() -> None:
    code = (
        "args = m.build_parser().parse_args("
        "['-C', 'x', 'release', 'staging', 'api', '--wait', '--rerun-tasks'])\n"
        "assert args.command == 'release' and args.wait == 600.0"
    )
    assert loaded(code) == set()


def test_a_tab_loads_no_driver_but_yaml() -> None:
    code = exits(["__complete", "-C", str(EXAMPLE), "plan", "local", ""])
    assert loaded(code) <= {"yaml"}


def test_validate_loads_no_engine_store_or_http_driver() -> None:
    code = exits(["-C", str(EXAMPLE), "validate", "local"])
    assert loaded(code) & {"docker", "sqlalchemy", "psycopg", "httpx"} == set()


def test_secrets_of_age_files_load_no_engine_store_or_aws_driver() -> None:
    code = exits(["-C", str(EXAMPLE), "secrets", "list", "local", "api"])
    assert loaded(code) & {"docker", "sqlalchemy", "psycopg", "boto3", "botocore"} == set()


def test_every_command_has_a_function() -> None:
    (commands,) = (
        a.choices for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    assert set(HANDLERS) == set(commands)
    for name in HANDLERS:
        assert callable(handler(name)), name
