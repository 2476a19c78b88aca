"""What a TAB completes: the words that can come next on a ``dockyard`` command line.

The completion scripts (:mod:`dockyard.cli.shells`) run ``dockyard __complete
WORD…`` with the words typed so far, the last one being the word to complete.
:func:`candidates` walks the parser over them: besides commands, options and
choices it offers the environments of the environment repo (``-C DIR`` or the
current folder), the services and accessories of the environment typed, and
the tasks of the service typed. Those are read from the files without
validating them, and what cannot be read completes nothing: a TAB never fails.
Options that take a folder are completed by the shell itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.errors import DockyardError
from dockyard.spec.repo import environment_names, environment_path, find_repo
from dockyard.spec.yamlsource import load_yaml


@dataclass(frozen=True)
class Candidate:
    """A word the shell may insert, and what it means (zsh shows it beside the word)."""

    word: str
    help: str = ""


def complete(parser: argparse.ArgumentParser, words: Sequence[str]) -> int:
    """Print the candidates for ``words``, one a line: the word, a tab, its help."""
    for c in candidates(parser, words):
        sys.stdout.write(f"{c.word}\t{' '.join(c.help.split())}\n")
    return 0


def candidates(parser: argparse.ArgumentParser, words: Sequence[str]) -> list[Candidate]:
    """What can replace the last of ``words`` (the words after ``dockyard``)."""
    *done, current = _rejoin(words) or [""]
    walk = _Walk(parser)
    pending: argparse.Action | None = None  # an option that waits for its value
    for word in done:
        if pending is not None and not (pending.nargs == "?" and word.startswith("-")):
            walk.give(pending.dest, word)
            pending = None
            continue
        pending = None
        if word == "--":  # what follows is the command of `run`
            return []
        if word.startswith("-"):
            name, eq, value = word.partition("=")
            action = walk.option(name)
            if action is None:
                continue
            walk.used.add(action)
            if action.nargs != 0:
                if eq:
                    walk.give(action.dest, value)
                else:
                    pending = action
        elif not walk.positional(word):
            return []
    if current.startswith("-") and "=" in current:  # --from=sta
        name, _, current = current.partition("=")
        pending = walk.option(name)
        if pending is None:
            return []
    if pending is not None:
        found = walk.values(pending)
    elif current.startswith("-"):
        found = walk.options()
    else:
        found = walk.next_positional()
    return [c for c in found if c.word.startswith(current)]


def _rejoin(words: Sequence[str]) -> list[str]:
    """``words`` with ``--opt = value`` joined again: bash splits words at ``=``."""
    joined: list[str] = []
    for word in words:
        if joined and (word == "=" or joined[-1].endswith("=")) and joined[-1].startswith("-"):
            joined[-1] += word
        else:
            joined.append(word)
    return joined


@dataclass
class _Walk:
    """Where the words typed so far have led: the (sub)command whose arguments
    come next, its positionals still to fill, and the values given by ``dest``."""

    parser: argparse.ArgumentParser
    given: dict[str, list[str]] = field(default_factory=dict)
    used: set[argparse.Action] = field(default_factory=set)  # options typed
    todo: list[argparse.Action] = field(init=False)

    def __post_init__(self) -> None:
        self._enter(self.parser)

    def _enter(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser
        self.todo = [a for a in parser._actions if not a.option_strings]

    def give(self, dest: str, word: str) -> None:
        self.given.setdefault(dest, []).append(word)

    def option(self, name: str) -> argparse.Action | None:
        return self.parser._option_string_actions.get(name)

    def positional(self, word: str) -> bool:
        """Fill the next positional with ``word``; False when nothing takes it."""
        if not self.todo:
            return False
        action = self.todo[0]
        if isinstance(action, argparse._SubParsersAction):
            sub = action.choices.get(word)
            if sub is None:
                return False
            self._enter(sub)
            return True
        self.give(action.dest, word)
        if action.nargs not in ("*", "+"):
            self.todo.pop(0)
        return True

    def options(self) -> list[Candidate]:
        return [
            Candidate(name, a.help or "")
            for a in self.parser._actions
            if a.help != argparse.SUPPRESS and a not in self.used
            for name in a.option_strings
        ]

    def next_positional(self) -> list[Candidate]:
        if not self.todo:
            return []
        action = self.todo[0]
        if isinstance(action, argparse._SubParsersAction):
            return [Candidate(a.dest, a.help or "") for a in action._choices_actions]
        return self.values(action)

    def values(self, action: argparse.Action) -> list[Candidate]:
        """The values ``action`` takes: its choices, or names read from the files."""
        if action.choices is not None:
            return [Candidate(str(c)) for c in action.choices]
        try:
            return list(self._names(action.dest))
        except (DockyardError, OSError):  # unreadable or invalid files complete nothing
            return []

    def _names(self, dest: str) -> Iterable[Candidate]:
        if dest in ("environment", "source"):
            return (Candidate(n, "environment") for n in environment_names(self._repo()))
        env = self._last("environment") or self._last("source")
        if env is None:
            return ()
        if dest == "services":
            given = set(self.given.get("services", ()))
            return (c for c in _units(self._repo(), env) if c.word not in given)
        if dest == "service" or (dest == "names" and not self.given.get("names")):
            # `secrets ACTION ENV [SERVICE] …`: a service first, then a secret's name
            return (c for c in _units(self._repo(), env) if c.help == "service")
        if dest == "task":
            service = self._last("service")
            return _tasks(self._repo(), env, service) if service else ()
        return ()

    def _last(self, dest: str) -> str | None:
        values = self.given.get(dest)
        return values[-1] if values else None

    def _repo(self) -> Path:
        folder = self._last("directory")
        return find_repo(Path(os.path.expanduser(folder)) if folder else Path.cwd())


def _units(repo: Path, env: str) -> list[Candidate]:
    """The services and accessories that ``environments/<env>.yaml`` names."""
    _, data = _environment(repo, env)
    names = [ref.get("name") for ref in _refs(data)]
    return [Candidate(n, "service") for n in names if isinstance(n, str)] + [
        Candidate(str(n), "accessory") for n in _mapping(data.get("accessories"))
    ]


def _tasks(repo: Path, env: str, service: str) -> list[Candidate]:
    """The tasks in the spec of ``service`` of ``env``, when its source is a folder."""
    path, data = _environment(repo, env)
    ref = next((r for r in _refs(data) if r.get("name") == service), {})
    source, spec = ref.get("source"), ref.get("spec", "dockyard.yaml")
    if not isinstance(source, str) or "://" in source or not isinstance(spec, str):
        return []
    folder = path.parent / Path(source).expanduser()  # as the loader reads it
    tasks = _mapping(_mapping(load_yaml(folder / spec)[0]).get("tasks"))
    return [Candidate(str(name), str(_mapping(t).get("run", ""))) for name, t in tasks.items()]


def _environment(repo: Path, env: str) -> tuple[Path, dict[object, object]]:
    """The file of ``env`` and what it holds, unvalidated."""
    path = environment_path(repo, env)
    return path, _mapping(load_yaml(path)[0])


def _refs(environment: dict[object, object]) -> list[dict[object, object]]:
    return [_mapping(ref) for ref in _items(environment.get("services"))]


def _mapping(value: object) -> dict[object, object]:
    return value if isinstance(value, dict) else {}


def _items(value: object) -> list[object]:
    return value if isinstance(value, list) else []
