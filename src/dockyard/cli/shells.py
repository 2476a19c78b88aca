"""``dockyard completion bash|zsh``: the script a shell loads to complete ``dockyard``.

Each script is a few lines that ask ``dockyard __complete`` for the words on
every TAB (:mod:`dockyard.cli.complete`), so it completes what the installed
version takes and needs no new script after an upgrade. It runs the program as
typed (``.venv/bin/dockyard``), or as an alias named ``dockyard`` reads, with
the alias's options after ``__complete``. Options that take a folder (``-C
DIR``), read from the parser, are completed by the shell itself.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from dockyard.cli.parser import COMPLETE, build_parser

BASH = r"""# bash completion for dockyard. Load it in ~/.bashrc with:
#   source <(dockyard completion bash)
_dockyard() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} line
    local -a program=("${COMP_WORDS[0]}")
    # An alias (`alias dockyard='.venv/bin/dockyard -C examples/platform'`) runs as it reads.
    [[ -n ${BASH_ALIASES[$program]:-} ]] && read -ra program <<<"${BASH_ALIASES[$program]}"
    program[0]=${program[0]/#\~/$HOME}
    case $prev in
        @FOLDERS@)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            return ;;
    esac
    local -a typed=("${program[@]:1}" "${COMP_WORDS[@]:1:COMP_CWORD}")
    COMPREPLY=()
    while IFS= read -r line; do
        COMPREPLY+=("${line%%$'\t'*}")
    done < <("${program[0]}" @COMPLETE@ "${typed[@]}" 2>/dev/null)
}
complete -F _dockyard dockyard
"""

ZSH = r"""#compdef dockyard
# zsh completion for dockyard. Load it in ~/.zshrc, after compinit, with:
#   source <(dockyard completion zsh)
# or save it as _dockyard in a folder of $fpath.
_dockyard() {
    local line
    local -a found
    case ${words[CURRENT-1]} in
        @FOLDERS@) _directories; return ;;
    esac
    for line in "${(@f)$(${~words[1]} @COMPLETE@ "${(@)words[2,CURRENT]}" 2>/dev/null)}"; do
        [[ -n $line ]] && found+=("${${line%%$'\t'*}//:/\\:}:${line#*$'\t'}")
    done
    [[ $PREFIX == -*=* ]] && compset -P '*='
    _describe dockyard found
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _dockyard "$@"
else
    compdef _dockyard dockyard
fi
"""

_SCRIPTS = {"bash": BASH, "zsh": ZSH}


def cmd_completion(args: argparse.Namespace, out: Console, err: Console) -> int:
    sys.stdout.write(script(build_parser(), args.shell))
    return 0


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``shell`` for the commands of ``parser``."""
    folders = "|".join(sorted(set(folder_options(parser)))) or "''"
    return _SCRIPTS[shell].replace("@FOLDERS@", folders).replace("@COMPLETE@", COMPLETE)


def folder_options(parser: argparse.ArgumentParser) -> Iterator[str]:
    """The options of ``parser`` and its commands that take a path."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from folder_options(sub)
        elif action.type is Path:
            yield from action.option_strings
