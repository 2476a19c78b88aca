"""Secrets from spec to desired state: versions in the plan, values only when read
for a deploy; unknown names located with a suggestion; old versions found in git."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pyrage
import pytest
import yaml

from dockyard.deploy import secret_values
from dockyard.errors import SecretsError, SpecError
from dockyard.plan import desire
from dockyard.plan.model import SecretDef
from dockyard.secrets import sops
from dockyard.secrets.age import AgeIdentities, AgeRecipient
from dockyard.spec import load_environment
from dockyard.spec.loaded import LoadedEnvironment

VALID = Path(__file__).resolve().parents[1] / "spec" / "cases" / "valid"
IMAGES = {
    "db": "sha256:db",
    "api": "sha256:api",
    "ingress": "dockyard/ingress:test",
    "supervisor": "dockyard/supervisor:test",
}
CANARY = "canary-unit-4d1e-not-in-plans"
SHARED_CANARY = "canary-unit-shared-88b0"


class Keys:
    def __init__(self) -> None:
        self.identity = pyrage.x25519.Identity.generate()
        self.identities = AgeIdentities([self.identity], "test")
        self.recipient = AgeRecipient(str(self.identity.to_public()))

    def write(self, path: Path, values: dict[str, object]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sops.encrypt(values, [self.recipient]))


@pytest.fixture
def keys() -> Keys:
    return Keys()


def repo(tmp_path: Path, api: list[object], db: list[object] | None = None) -> Path:
    """The valid case with ``api``'s container and ``db`` getting those secrets."""
    root = tmp_path / "repo"
    shutil.copytree(VALID, root)
    spec_path = root / "services" / "api" / "dockyard.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["containers"]["api"]["secrets"] = api
    spec["tasks"] = {"migrate": {"command": ["migrate"], "secrets": ["MIGRATION_KEY"]}}
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    if db is not None:
        env_path = root / "environments" / "local.yaml"
        env = yaml.safe_load(env_path.read_text())
        env["accessories"]["db"]["secrets"] = db
        env_path.write_text(yaml.safe_dump(env, sort_keys=False))
    return root


def service_file(root: Path) -> Path:
    return root / "services" / "api" / "secrets" / "local.enc.yaml"


def shared_file(root: Path) -> Path:
    return root / "secrets" / "local.enc.yaml"


def loaded(root: Path) -> LoadedEnvironment:
    return load_environment(root, "local")


def test_the_plan_names_versions_and_scopes_never_values(tmp_path: Path, keys: Keys) -> None:
    root = repo(tmp_path, ["DB_PASSWORD", {"name": "API_KEY", "uid": 70}], ["DB_PASSWORD"])
    keys.write(service_file(root), {"DB_PASSWORD": CANARY, "API_KEY": "k", "MIGRATION_KEY": "m"})
    keys.write(shared_file(root), {"DB_PASSWORD": SHARED_CANARY})
    env = loaded(root)
    desired = desire(env, IMAGES, secrets=secret_values.catalog(env))

    api = desired.service("api")
    mine = sops.read(service_file(root))
    db_password, api_key = api.task.main.secrets
    assert (db_password.scope, db_password.version) == ("api", mine.version("DB_PASSWORD"))
    assert (api_key.name, api_key.uid, api_key.mode) == ("API_KEY", 70, 0o400)
    (migrate,) = api.tasks
    assert [s.name for s in migrate.container.secrets] == [
        "DB_PASSWORD",
        "API_KEY",
        "MIGRATION_KEY",
    ]
    (shared,) = desired.service("db").task.main.secrets
    assert shared.scope == "" and shared.version == sops.read(shared_file(root)).version(
        "DB_PASSWORD"
    )

    text = desired.model_dump_json() + api.task.canonical()
    assert CANARY not in text and SHARED_CANARY not in text
    assert mine.version("DB_PASSWORD") in api.task.canonical()

    values = secret_values.read_values(
        env, secret_values.used(desired), identities=[keys.identities]
    )
    assert values.value(db_password) == CANARY.encode()
    assert values.value(shared) == SHARED_CANARY.encode()
    assert CANARY not in repr(values) and CANARY not in str(values)


def test_a_changed_value_changes_only_the_services_that_use_it(tmp_path: Path, keys: Keys) -> None:
    root = repo(tmp_path, ["DB_PASSWORD"])
    keys.write(service_file(root), {"DB_PASSWORD": "one", "MIGRATION_KEY": "m"})
    env = loaded(root)
    before = desire(env, IMAGES, secrets=secret_values.catalog(env))
    keys.write(service_file(root), {"DB_PASSWORD": "two", "MIGRATION_KEY": "m"})
    after = desire(env, IMAGES, secrets=secret_values.catalog(env))
    for name, changed in (("api", True), ("worker", False), ("db", False)):
        hashes = before.service(name).task.spec_hash(), after.service(name).task.spec_hash()
        assert (hashes[0] != hashes[1]) is changed, name


def test_a_container_without_secrets_keeps_its_definition(tmp_path: Path) -> None:
    """Definitions recorded before secrets existed still match what runs."""
    env = loaded(VALID)
    worker = desire(env, IMAGES).service("worker")
    assert "secrets" not in json.loads(worker.task.canonical())["containers"][0]


def test_an_unknown_name_is_located_with_a_suggestion(tmp_path: Path, keys: Keys) -> None:
    root = repo(tmp_path, ["DB_PASWORD"])
    keys.write(service_file(root), {"DB_PASSWORD": "x", "MIGRATION_KEY": "m"})
    env = loaded(root)
    with pytest.raises(SpecError) as raised:
        desire(env, IMAGES, secrets=secret_values.catalog(env))
    error = raised.value
    assert "no secret 'DB_PASWORD'" in error.message
    assert str(service_file(root)) in error.message and str(shared_file(root)) in error.message
    assert "DB_PASSWORD" in (error.hint or "")
    assert error.location is not None and error.location.file.name == "dockyard.yaml"


def test_no_secrets_file_says_how_to_make_one(tmp_path: Path) -> None:
    env = loaded(repo(tmp_path, ["DB_PASSWORD"]))
    with pytest.raises(SpecError) as raised:
        desire(env, IMAGES, secrets=secret_values.catalog(env))
    assert "no secrets file yet" in (raised.value.hint or "")
    assert "dockyard secrets set" in (raised.value.hint or "")


def test_files_nobody_uses_are_not_read(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(VALID, root)
    shared_file(root).parent.mkdir()
    shared_file(root).write_bytes(b"\x00\xff not yaml")
    env = loaded(root)
    assert desire(env, IMAGES, secrets=secret_values.catalog(env)).service("api")


def test_a_key_that_is_not_a_reader_names_the_file_and_its_readers(
    tmp_path: Path, keys: Keys
) -> None:
    root = repo(tmp_path, ["DB_PASSWORD"])
    keys.write(service_file(root), {"DB_PASSWORD": CANARY, "MIGRATION_KEY": "m"})
    env = loaded(root)
    desired = desire(env, IMAGES, secrets=secret_values.catalog(env))
    stranger = AgeIdentities([pyrage.x25519.Identity.generate()], "stranger")
    with pytest.raises(SecretsError) as raised:
        secret_values.read_values(env, secret_values.used(desired), identities=[stranger])
    message = raised.value.message
    assert str(service_file(root)) in message and keys.recipient.id in message
    assert CANARY not in message


def test_a_version_changed_since_is_found_in_git_history(tmp_path: Path, keys: Keys) -> None:
    root = repo(tmp_path, ["DB_PASSWORD"])
    keys.write(service_file(root), {"DB_PASSWORD": "first", "MIGRATION_KEY": "m"})
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    env = loaded(root)
    old = desire(env, IMAGES, secrets=secret_values.catalog(env))
    keys.write(service_file(root), {"DB_PASSWORD": "second", "MIGRATION_KEY": "m"})

    values = secret_values.read_values(env, secret_values.used(old), identities=[keys.identities])
    (first,) = old.service("api").task.main.secrets
    assert values.value(first) == b"first"

    gone = SecretDef(name="DB_PASSWORD", scope="api", version="000000000000")
    with pytest.raises(SecretsError, match="neither in the file nor in its git history"):
        secret_values.read_values(env, [gone], identities=[keys.identities])
    # One that may be missing (what ran before) is simply not read.
    assert len(secret_values.read_values(env, [], [gone], identities=[keys.identities])) == 0
