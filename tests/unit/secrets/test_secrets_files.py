"""The changes ``dockyard secrets`` makes to a file: atomic, keyed to the readers,
and refusing names and lines that could not be files under /run/secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pyrage
import pytest

from dockyard.errors import SecretsError
from dockyard.secrets import files, sops
from dockyard.secrets.age import AgeIdentities, AgeRecipient

CANARY = "canary-files-44ab"


def person() -> tuple[AgeRecipient, AgeIdentities]:
    identity = pyrage.x25519.Identity.generate()
    return AgeRecipient(str(identity.to_public())), AgeIdentities.parse(str(identity), "key")


def test_a_file_is_created_changed_and_a_value_removed(tmp_path: Path) -> None:
    reader, key = person()
    path = tmp_path / "secrets" / "local.enc.yaml"
    first = files.update(path, {"a": CANARY, "b": "2"}, [reader], [key])
    assert first.changed == ["a", "b"] and not first.new_key
    second = files.update(path, {"b": None, "c": "3"}, [reader], [key])
    assert second.changed == ["b", "c"]
    assert files.values(path, [key]) == {"a": CANARY, "c": "3"}
    with pytest.raises(SecretsError, match="has no secret 'b'"):
        files.update(path, {"b": None}, [reader], [key])


def test_a_write_that_fails_leaves_the_old_file_and_no_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, key = person()
    path = tmp_path / "local.enc.yaml"
    files.update(path, {"a": CANARY}, [reader], [key])
    before = path.read_text()

    def full_disk(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        files.update(path, {"a": "new"}, [reader], [key])
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["local.enc.yaml"]


def test_removing_a_reader_makes_a_new_data_key(tmp_path: Path) -> None:
    alice, alice_key = person()
    bob, bob_key = person()
    path = tmp_path / "local.enc.yaml"
    files.update(path, {"a": CANARY}, [alice, bob], [alice_key])
    old = sops.data_key(sops.read(path), [bob_key])

    written = files.update(path, {}, [alice], [alice_key])
    assert written.new_key and written.removed == [bob.id] and written.changed == []
    assert sops.data_key(sops.read(path), [alice_key]) != old
    with pytest.raises(SecretsError, match="none of your keys"):
        files.values(path, [bob_key])


def test_adding_a_reader_keeps_the_data_key(tmp_path: Path) -> None:
    alice, alice_key = person()
    bob, bob_key = person()
    path = tmp_path / "local.enc.yaml"
    files.update(path, {"a": CANARY}, [alice], [alice_key])
    old = sops.data_key(sops.read(path), [alice_key])
    written = files.update(path, {}, [alice, bob], [alice_key])
    assert not written.new_key and sops.data_key(sops.read(path), [bob_key]) == old


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "a\nb", "", "x" * 129, "-flag", "é"])
def test_a_name_that_could_not_be_a_file_under_run_secrets_is_refused(name: str) -> None:
    with pytest.raises(SecretsError, match="is not a secret name"):
        files.check_name(name)


def test_dotenv_lines_as_shells_write_them() -> None:
    text = f"# comment\n\nexport A='{CANARY}'\nB=\"two words\"\nC=plain=with=equals\n"
    assert files.parse_env_file(text, "x.env") == {
        "A": CANARY,
        "B": "two words",
        "C": "plain=with=equals",
    }


def test_a_bad_dotenv_line_is_located_and_not_shown() -> None:
    with pytest.raises(SecretsError) as raised:
        files.parse_env_file(f"A=1\n{CANARY}\n", "x.env")
    assert "x.env, line 2" in raised.value.message and CANARY not in str(raised.value)
