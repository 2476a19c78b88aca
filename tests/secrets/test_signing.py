"""Signed changes: a writer's Ed25519 key signs each file it writes; ``verify``
fails, naming the file, the signer and the rule, for a file edited with plain
sops, one signed by a non-writer, a signature moved to another environment, and
recipients that differ from the policy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest
import yaml

from dockyard.secrets import signing
from tests.acceptance.conftest import Example, add_environment, make_example

SOPS = Path(sys.executable).parent / "sops"


class Writer:
    def __init__(self, folder: Path, name: str) -> None:
        identity = pyrage.x25519.Identity.generate()
        self.name = name
        self.recipient = str(identity.to_public())
        self.home = folder / name
        self.home.mkdir()
        self.age_key = self.home / "age.key"
        self.age_key.write_text(f"{identity}\n")
        self.signing_key = self.home / "signing.key"
        self.public = signing.public_text(signing.make_key(self.signing_key))

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "DOCKYARD_"))}
        env.update(
            {
                "COLUMNS": "200",
                "NO_COLOR": "1",
                "SOPS_AGE_KEY_FILE": str(self.age_key),
                "DOCKYARD_SIGNING_KEY_FILE": str(self.signing_key),
                "SOPS_DISABLE_VERSION_CHECK": "1",
                "HOME": str(self.home),
            }
        )
        return env


def run(ex: Example, who: Writer, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockyard", "-C", str(ex.repo), "secrets", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=who.env(),
        timeout=60,
    )


def write_policy(
    ex: Example, people: list[Writer], envs: dict[str, tuple[list[str], list[str]]]
) -> None:
    data = {
        "principals": {p.name: {"age": p.recipient, "signing": p.public} for p in people},
        "environments": {
            env: {"read": read, "write": write, "protected": True}
            for env, (read, write) in envs.items()
        },
    }
    (ex.repo / "policies.yaml").write_text(yaml.safe_dump(data))


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Example, Writer, Writer]:
    ex = make_example(tmp_path, with_secrets=False)
    alice, bob = Writer(tmp_path, "alice"), Writer(tmp_path, "bob")
    write_policy(ex, [alice, bob], {ex.env: (["alice", "bob"], ["alice"])})
    done = run(ex, alice, "set", ex.env, "api", "db_password", stdin="v1")
    assert done.returncode == 0 and "Signed" in done.stdout and "as alice" in done.stdout, done
    return ex, alice, bob


def test_a_file_a_writer_wrote_verifies(setup: tuple[Example, Writer, Writer]) -> None:
    ex, _, bob = setup
    checked = run(ex, bob, "verify", ex.env, "--all")  # any reader may check
    assert checked.returncode == 0, checked.stderr
    assert "ok" in checked.stdout and "signed by alice" in checked.stdout


def test_a_file_edited_with_plain_sops_is_reported_with_the_command_that_signs_it(
    setup: tuple[Example, Writer, Writer],
) -> None:
    ex, alice, _ = setup
    path = ex.service_dir("api") / "secrets" / f"{ex.env}.enc.yaml"
    done = subprocess.run(
        [str(SOPS), "set", str(path), '["db_password"]', '"v2"'],
        env=alice.env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    checked = run(ex, alice, "verify", ex.env, "api")
    assert checked.returncode == 1
    assert "changed since alice signed it" in checked.stderr
    assert f"dockyard secrets sign {ex.env} api" in checked.stderr

    assert run(ex, alice, "sign", ex.env, "api").returncode == 0
    assert run(ex, alice, "verify", ex.env, "api").returncode == 0


def test_a_file_signed_by_someone_who_may_not_write_fails(
    setup: tuple[Example, Writer, Writer],
) -> None:
    ex, alice, bob = setup
    path = ex.service_dir("api") / "secrets" / f"{ex.env}.enc.yaml"
    key = signing.load_key(bob.signing_key)
    assert key is not None
    signing.sign(path, ex.env, "alice", key)  # bob's key, claiming to be alice
    checked = run(ex, alice, "verify", ex.env, "api")
    assert checked.returncode == 1
    assert "signed by bob, who may not write" in checked.stderr
    refused = run(ex, bob, "sign", ex.env, "api")
    assert refused.returncode == 1 and "you may not change" in refused.stderr


def test_a_signature_does_not_travel_to_another_environment(
    setup: tuple[Example, Writer, Writer],
) -> None:
    ex, alice, bob = setup
    other = add_environment(ex, f"{ex.env}x")
    write_policy(
        ex, [alice, bob], {env: (["alice", "bob"], ["alice"]) for env in (ex.env, other.env)}
    )
    folder = ex.service_dir("api") / "secrets"
    for suffix in (".enc.yaml", ".enc.yaml.sig"):
        (folder / f"{other.env}{suffix}").write_bytes((folder / f"{ex.env}{suffix}").read_bytes())
    checked = run(ex, alice, "verify", other.env, "api")
    assert checked.returncode == 1 and "does not verify" in checked.stderr


def test_recipients_that_differ_from_the_policy_fail_until_rekeyed(
    setup: tuple[Example, Writer, Writer],
) -> None:
    ex, alice, bob = setup
    write_policy(ex, [alice, bob], {ex.env: (["alice"], ["alice"])})
    checked = run(ex, alice, "verify", ex.env, "api")
    assert checked.returncode == 1
    assert f"also for {bob.recipient}" in checked.stderr and "rekey" in checked.stderr
    assert run(ex, alice, "rekey", ex.env, "api").returncode == 0
    assert run(ex, alice, "verify", ex.env, "api").returncode == 0


def test_keygen_never_replaces_a_key(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    signing.make_key(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(Exception, match="exists already"):
        signing.make_key(path)
