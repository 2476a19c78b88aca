"""``dockyard secrets`` over a copy of the example: values in only through stdin,
out only through ``get``; the policy decides who may read and who may write;
removing a reader gives the file a new data key. A canary value never shows
anywhere else: not in any other output, not in any file but encrypted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest
import yaml

from tests.acceptance.conftest import Example, make_example

CANARY = "canary-cli-93be-never-shown"


class Person:
    def __init__(self, folder: Path, name: str) -> None:
        identity = pyrage.x25519.Identity.generate()
        self.name = name
        self.recipient = str(identity.to_public())
        self.key_file = folder / f"{name}.key"
        self.key_file.write_text(f"{identity}\n")


def dockyard(
    ex: Example, person: Person | None, *args: str, stdin: str = "", debug: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE")}
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "XDG_CONFIG_HOME": str(ex.root / "none")})
    if person is not None:
        env["SOPS_AGE_KEY_FILE"] = str(person.key_file)
    head = ["--debug"] if debug else []
    return subprocess.run(
        [sys.executable, "-m", "dockyard", "-C", str(ex.repo), *head, "secrets", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def policy(ex: Example, people: list[Person], read: list[str], write: list[str]) -> None:
    data = {
        "principals": {p.name: {"age": p.recipient} for p in people},
        "environments": {ex.env: {"read": read, "write": write}},
    }
    (ex.repo / "policies.yaml").write_text(yaml.safe_dump(data))


@pytest.fixture
def team(tmp_path: Path) -> tuple[Example, Person, Person]:
    ex = make_example(tmp_path, with_secrets=False)
    alice, bob = Person(tmp_path, "alice"), Person(tmp_path, "bob")
    policy(ex, [alice, bob], read=["alice", "bob"], write=["alice"])
    return ex, alice, bob


def every_file_text(root: Path) -> str:
    return "".join(
        p.read_text(errors="replace")
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.parts
    )


def test_a_secret_set_from_stdin_reads_back_for_every_reader_and_nowhere_else(
    team: tuple[Example, Person, Person],
) -> None:
    ex, alice, bob = team
    done = dockyard(ex, alice, "set", ex.env, "api", "db_password", stdin=f"{CANARY}\n")
    assert done.returncode == 0, done.stderr
    path = ex.service_dir("api") / "secrets" / f"{ex.env}.enc.yaml"
    assert path.exists()

    got = [dockyard(ex, p, "get", ex.env, "api", "db_password") for p in (alice, bob)]
    assert [g.stdout for g in got] == [f"{CANARY}\n"] * 2
    listed = dockyard(ex, None, "list", ex.env, "api", "--json")  # no key needed
    assert json.loads(listed.stdout)["secrets"].keys() == {"db_password"}
    shown = [done, listed, dockyard(ex, None, "list", ex.env, "api")]
    for run in shown:
        assert CANARY not in run.stdout + run.stderr
    assert CANARY not in every_file_text(ex.root)


def test_only_a_writer_may_change_secrets(team: tuple[Example, Person, Person]) -> None:
    ex, _, bob = team
    refused = dockyard(ex, bob, "set", ex.env, "api", "x", stdin=CANARY)
    assert refused.returncode == 1
    assert "you may not change the secrets" in refused.stderr and "bob's" in refused.stderr
    assert not (ex.service_dir("api") / "secrets").exists()


def test_a_removed_reader_cannot_read_what_is_written_after(
    team: tuple[Example, Person, Person],
) -> None:
    ex, alice, bob = team
    dockyard(ex, alice, "set", ex.env, "db_password", stdin=CANARY)
    policy(ex, [alice, bob], read=["alice"], write=["alice"])
    rekeyed = dockyard(ex, alice, "rekey", ex.env)
    assert rekeyed.returncode == 0, rekeyed.stderr
    assert "bob can no longer read" in rekeyed.stderr and "new data key" in rekeyed.stdout

    refused = dockyard(ex, bob, "get", ex.env, "db_password")
    assert refused.returncode == 1 and "none of your keys can decrypt it" in refused.stderr
    assert alice.recipient in refused.stderr and CANARY not in refused.stderr
    assert dockyard(ex, alice, "get", ex.env, "db_password").stdout == f"{CANARY}\n"


def test_a_dotenv_file_is_imported(team: tuple[Example, Person, Person], tmp_path: Path) -> None:
    ex, alice, _ = team
    source = tmp_path / "old.env"
    source.write_text(f"# old secrets\nexport API_KEY='{CANARY}'\nPLAIN=value\n")
    done = dockyard(ex, alice, "import", ex.env, "web", "--from", str(source))
    assert done.returncode == 0, done.stderr
    assert CANARY not in done.stdout + done.stderr
    assert dockyard(ex, alice, "get", ex.env, "web", "API_KEY").stdout == f"{CANARY}\n"
    assert dockyard(ex, alice, "get", ex.env, "web", "PLAIN").stdout == "value\n"


@pytest.mark.parametrize("debug", [False, True])
def test_errors_name_the_file_and_show_no_value(
    team: tuple[Example, Person, Person], debug: bool
) -> None:
    ex, alice, _ = team
    dockyard(ex, alice, "set", ex.env, "api", "db_password", stdin=CANARY)
    path = ex.service_dir("api") / "secrets" / f"{ex.env}.enc.yaml"
    text = path.read_text()
    path.write_text(text.replace("db_password:", "db_pass:"))
    failed = dockyard(ex, alice, "get", ex.env, "api", "db_pass", debug=debug)
    assert failed.returncode == 1
    assert str(path) in failed.stderr and "db_pass does not decrypt" in failed.stderr
    assert CANARY not in failed.stdout + failed.stderr

    missing = dockyard(ex, None, "get", ex.env, "api", "db_pass", debug=debug)
    assert missing.returncode == 1 and "none of your keys" in missing.stderr


def test_a_value_is_never_taken_from_the_command_line(
    team: tuple[Example, Person, Person],
) -> None:
    ex, alice, _ = team
    refused = dockyard(ex, alice, "set", ex.env, "api", "db_password", CANARY)
    assert refused.returncode != 0 and "name one secret" in refused.stderr
    empty = dockyard(ex, alice, "set", ex.env, "api", "db_password", stdin="")
    assert empty.returncode == 1 and "is empty" in empty.stderr


def test_edit_changes_what_was_saved_and_leaves_no_copy(
    team: tuple[Example, Person, Person], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ex, alice, _ = team
    dockyard(ex, alice, "set", ex.env, "api", "db_password", stdin=CANARY)
    dockyard(ex, alice, "set", ex.env, "api", "gone", stdin="x")
    path = ex.service_dir("api") / "secrets" / f"{ex.env}.enc.yaml"
    before = yaml.safe_load(path.read_text())
    seen = tmp_path / "seen.txt"
    editor = tmp_path / "editor.sh"
    editor.write_text(
        "#!/bin/sh\n"
        f'stat -c "%a %n" "$1" > {seen}\n'
        "printf 'db_password: %s\\nadded: new\\n' \"$(grep db_password \"$1\" | cut -d' ' -f2)\""
        ' > "$1.new" && mv "$1.new" "$1"\n'
    )
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    done = dockyard(ex, alice, "edit", ex.env, "api")
    assert done.returncode == 0, done.stderr
    assert "added, gone" in done.stdout and CANARY not in done.stdout + done.stderr

    mode, copy = seen.read_text().split()
    assert mode == "600" and copy.startswith("/dev/shm/") and not Path(copy).exists()
    after = yaml.safe_load(path.read_text())
    assert after["db_password"] == before["db_password"]  # unchanged: same ciphertext
    assert dockyard(ex, alice, "get", ex.env, "api", "added").stdout == "new\n"


def test_diff_names_what_changed_between_revisions_without_a_key(tmp_path: Path) -> None:
    ex = make_example(tmp_path, in_git=True, with_secrets=False)
    alice = Person(tmp_path, "alice")
    policy(ex, [alice], read=["alice"], write=["alice"])
    dockyard(ex, alice, "set", ex.env, "a", stdin=CANARY)
    dockyard(ex, alice, "set", ex.env, "b", stdin="2")
    ex.commit("secrets")
    dockyard(ex, alice, "set", ex.env, "b", stdin="3")
    dockyard(ex, alice, "set", ex.env, "c", stdin="4")
    dockyard(ex, alice, "unset", ex.env, "a")

    shown = dockyard(ex, None, "diff", ex.env)
    assert shown.returncode == 0, shown.stderr
    assert [line.strip() for line in shown.stdout.splitlines()[1:]] == ["+ c", "- a", "~ b"]
    ex.commit("more")
    same = dockyard(ex, None, "diff", ex.env, "--from", "HEAD~1", "--to", "HEAD")
    assert "+ c" in same.stdout and CANARY not in same.stdout + same.stderr
