"""KMS master keys against a local AWS fake (moto in server mode; AWS cannot be
reached from here): a file wrapped for a KMS key and an age recipient opens with
either, ``sops`` opens Dockyard's file through the same fake, and an
unreachable KMS is an error that names the file and the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest
import yaml

from dockyard.errors import SecretsError
from dockyard.secrets import sops
from dockyard.secrets.age import AgeIdentities, AgeRecipient
from dockyard.secrets.kms import KmsAccess, KmsKey
from tests.fixtures.moto import create_key

pytestmark = pytest.mark.aws_fake

CANARY = "canary-kms-0c11"
SOPS = Path(sys.executable).parent / "sops"


def test_a_file_for_kms_and_age_opens_with_either(tmp_path: Path, kms_env: dict[str, str]) -> None:
    arn = create_key()
    identity = pyrage.x25519.Identity.generate()
    recipients = [KmsKey(arn), AgeRecipient(str(identity.to_public()))]
    path = tmp_path / "prod.enc.yaml"
    path.write_text(sops.encrypt({"db_password": CANARY}, recipients))
    file = sops.read(path)

    assert file.recipients() == [("age", str(identity.to_public())), ("kms", arn)]
    assert CANARY not in path.read_text()
    assert sops.decrypt(file, [KmsAccess()]) == {"db_password": CANARY}
    assert sops.decrypt(file, [AgeIdentities.parse(str(identity), "key")]) == {
        "db_password": CANARY
    }


def test_sops_opens_a_kms_file_dockyard_wrote(tmp_path: Path, kms_env: dict[str, str]) -> None:
    arn = create_key()
    path = tmp_path / "prod.enc.yaml"
    path.write_text(sops.encrypt({"db_password": CANARY, "port": 1}, [KmsKey(arn)]))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **kms_env}
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    proc = subprocess.run(
        [str(SOPS), "decrypt", str(path)], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout) == {"db_password": CANARY, "port": 1}


def test_an_unreachable_kms_names_the_file_and_the_key(
    tmp_path: Path, kms_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = create_key()
    path = tmp_path / "prod.enc.yaml"
    path.write_text(sops.encrypt({"db_password": CANARY}, [KmsKey(arn)]))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(SecretsError) as raised:
        sops.decrypt(sops.read(path), [KmsAccess()])
    assert raised.value.code == "DY703"
    assert str(path) in raised.value.message and arn in raised.value.message
    assert "unreachable" in raised.value.message


def test_a_key_the_caller_may_not_use_is_not_a_way_in(
    tmp_path: Path, kms_env: dict[str, str]
) -> None:
    arn = create_key()
    path = tmp_path / "prod.enc.yaml"
    path.write_text(sops.encrypt({"db_password": CANARY}, [KmsKey(arn)]))
    data = yaml.safe_load(path.read_text())
    other = create_key("another")
    data["sops"]["kms"][0]["arn"] = other  # wrapped by one key, claimed for another
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SecretsError, match="none of your keys can decrypt it"):
        sops.decrypt(sops.read(path), [KmsAccess()])
