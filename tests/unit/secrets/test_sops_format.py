"""The sops format as Dockyard reads and writes it: round trips, what stays the
same when a file is written again, and every kind of tampering failing closed.
Real age keys (pyrage); the files are checked against the ``sops`` tool in
tests/secrets/test_sops_interop.py."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import pyrage
import pytest
import yaml

from dockyard.errors import SecretsError, SpecError
from dockyard.secrets import sops
from dockyard.secrets.age import AgeIdentities, AgeRecipient

CANARY = "canary-7f3a9c-never-shown"
VALUES = {
    "db_password": CANARY,
    "port": 5432,
    "ratio": 0.25,
    "enabled": True,
    "empty": "",
    "nested": {"token": "t-1", "list": ["a", "b"]},
    "note_unencrypted": "in the clear",
}


def keypair() -> tuple[AgeRecipient, AgeIdentities]:
    identity = pyrage.x25519.Identity.generate()
    return AgeRecipient(str(identity.to_public())), AgeIdentities.parse(str(identity), "test key")


def written(tmp_path: Path, text: str, name: str = "local.enc.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_file_round_trips_with_types_and_unencrypted_keys(tmp_path: Path) -> None:
    recipient, identities = keypair()
    path = written(tmp_path, sops.encrypt(VALUES, [recipient]))
    text = path.read_text()

    assert CANARY not in text and "t-1" not in text
    assert "note_unencrypted: in the clear" in text  # the suffix keeps it readable
    assert re.search(r"^db_password: ENC\[AES256_GCM,data:", text, re.M)
    assert "empty: ''" in text or 'empty: ""' in text
    meta = yaml.safe_load(text)["sops"]
    assert meta["age"][0]["recipient"] == recipient.id
    assert meta["age"][0]["enc"].startswith("-----BEGIN AGE ENCRYPTED FILE-----")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["lastmodified"])
    assert meta["version"] == sops.VERSION
    assert sops.decrypt(sops.read(path), [identities]) == VALUES


def test_any_one_recipient_decrypts(tmp_path: Path) -> None:
    first, first_key = keypair()
    second, second_key = keypair()
    path = written(tmp_path, sops.encrypt({"a": "b"}, [first, second]))
    file = sops.read(path)
    assert file.recipients() == [("age", first.id), ("age", second.id)]
    assert sops.decrypt(file, [second_key]) == {"a": "b"}
    assert sops.decrypt(file, [first_key]) == {"a": "b"}


def test_writing_again_keeps_what_did_not_change(tmp_path: Path) -> None:
    recipient, identities = keypair()
    first = sops.read(written(tmp_path, sops.encrypt(VALUES, [recipient])))
    key = sops.data_key(first, [identities])
    changed = {**VALUES, "port": 6543}
    again = sops.encrypt(changed, [recipient], previous=sops.previous_of(first, key))
    second = sops.read(written(tmp_path, again, "again.enc.yaml"))

    differ = {n for n in first.names() if first.version(n) != second.version(n)}
    assert differ == {"port"}
    assert second.meta["age"] == first.meta["age"]  # the data key is wrapped as before
    assert sops.decrypt(second, [identities]) == changed


def test_a_new_data_key_leaves_a_removed_recipient_unable_to_read(tmp_path: Path) -> None:
    kept, kept_key = keypair()
    removed, removed_key = keypair()
    first = sops.read(written(tmp_path, sops.encrypt({"a": CANARY}, [kept, removed])))
    key = sops.data_key(first, [kept_key])
    rotated = sops.encrypt(
        {"a": CANARY}, [kept], previous=sops.previous_of(first, key), new_key=True
    )
    second = sops.read(written(tmp_path, rotated, "rotated.enc.yaml"))

    assert sops.data_key(second, [kept_key]) != key
    with pytest.raises(SecretsError, match="none of your keys can decrypt it"):
        sops.decrypt(second, [removed_key])
    assert first.version("a") != second.version("a")


def test_an_identity_that_is_not_a_recipient_is_told_who_is(tmp_path: Path) -> None:
    recipient, _ = keypair()
    _, stranger = keypair()
    path = written(tmp_path, sops.encrypt({"a": "b"}, [recipient]))
    with pytest.raises(SecretsError) as raised:
        sops.decrypt(sops.read(path), [stranger])
    assert raised.value.code == "DY701"
    assert str(path) in raised.value.message and recipient.id in raised.value.message


def test_no_identity_at_all_fails_the_same_way(tmp_path: Path) -> None:
    recipient, _ = keypair()
    path = written(tmp_path, sops.encrypt({"a": "b"}, [recipient]))
    with pytest.raises(SecretsError, match="none of your keys"):
        sops.decrypt(sops.read(path), [])


def tampered(tmp_path: Path, change: object) -> tuple[Path, AgeIdentities]:
    recipient, identities = keypair()
    text = sops.encrypt({"db_password": CANARY, "other": "x"}, [recipient])
    data = yaml.safe_load(text)
    change(data)  # type: ignore[operator]
    return written(tmp_path, yaml.safe_dump(data, sort_keys=False)), identities


def flip_a_byte(data: dict[str, object]) -> None:
    value = str(data["db_password"])
    match = re.search(r"data:([^,]+)", value)
    assert match
    raw = bytearray(base64.b64decode(match.group(1)))
    raw[0] ^= 1
    new = base64.b64encode(bytes(raw)).decode()
    data["db_password"] = value.replace(match.group(1), new)


def rename_a_key(data: dict[str, object]) -> None:
    data["db_pass"] = data.pop("db_password")


def swap_values(data: dict[str, object]) -> None:
    data["db_password"], data["other"] = data["other"], data["db_password"]


def change_the_mac(data: dict[str, object]) -> None:
    meta = data["sops"]
    assert isinstance(meta, dict)
    other_file = sops.encrypt({"a": "b"}, [keypair()[0]])
    meta["mac"] = yaml.safe_load(other_file)["sops"]["mac"]


def change_lastmodified(data: dict[str, object]) -> None:
    meta = data["sops"]
    assert isinstance(meta, dict)
    meta["lastmodified"] = "2001-01-01T00:00:00Z"


def drop_a_value(data: dict[str, object]) -> None:
    del data["other"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (flip_a_byte, "db_password does not decrypt"),
        (rename_a_key, "db_pass does not decrypt"),
        (swap_values, "does not decrypt"),
        (change_the_mac, "sops.mac does not decrypt"),
        (change_lastmodified, "sops.mac does not decrypt"),
        (drop_a_value, "the MAC does not match"),
    ],
)
def test_tampering_fails_closed_naming_the_file(tmp_path: Path, change: object, where: str) -> None:
    path, identities = tampered(tmp_path, change)
    with pytest.raises(SecretsError) as raised:
        sops.decrypt(sops.read(path), [identities])
    assert raised.value.code == "DY702"
    assert str(path) in raised.value.message and where in raised.value.message
    assert CANARY not in str(raised.value) + str(raised.value.hint)


def test_a_plain_yaml_file_is_not_taken_for_an_encrypted_one(tmp_path: Path) -> None:
    path = written(tmp_path, f"db_password: {CANARY}\n")
    with pytest.raises(SecretsError, match="no sops metadata: it is not encrypted") as raised:
        sops.read(path)
    assert CANARY not in str(raised.value)


def test_invalid_yaml_is_located(tmp_path: Path) -> None:
    path = written(tmp_path, "a: [unclosed\n")
    with pytest.raises(SpecError) as raised:
        sops.read(path)
    assert raised.value.location is not None and raised.value.location.file == path


def test_shamir_key_groups_are_refused_by_name(tmp_path: Path) -> None:
    recipient, _ = keypair()
    data = yaml.safe_load(sops.encrypt({"a": "b"}, [recipient]))
    data["sops"]["key_groups"] = [{"age": data["sops"].pop("age")}]
    path = written(tmp_path, yaml.safe_dump(data))
    with pytest.raises(SecretsError, match="Shamir key groups"):
        sops.read(path)


def test_identities_are_read_where_sops_reads_them(tmp_path: Path) -> None:
    identity = pyrage.x25519.Identity.generate()
    keyfile = tmp_path / "keys.txt"
    keyfile.write_text(f"# created: now\n# public key: {identity.to_public()}\n{identity}\n")
    public = str(identity.to_public())

    assert public in AgeIdentities.from_environment({"SOPS_AGE_KEY": str(identity)}).recipients
    from_file = AgeIdentities.from_environment({"SOPS_AGE_KEY_FILE": str(keyfile)})
    assert from_file.recipients == {public}
    default = tmp_path / "sops" / "age"
    default.mkdir(parents=True)
    (default / "keys.txt").write_text(keyfile.read_text())
    assert AgeIdentities.from_environment({"XDG_CONFIG_HOME": str(tmp_path)}).recipients == {public}
    assert (
        AgeIdentities.from_environment({"XDG_CONFIG_HOME": str(tmp_path / "no")}).recipients
        == set()
    )
    with pytest.raises(SecretsError, match="does not exist"):
        AgeIdentities.from_environment({"SOPS_AGE_KEY_FILE": str(tmp_path / "missing")})


def test_a_damaged_identity_is_refused_without_showing_it() -> None:
    broken = str(pyrage.x25519.Identity.generate())[:-3] + "QQQ"
    with pytest.raises(SecretsError) as raised:
        AgeIdentities.parse(f"# comment\n{broken}\n", "keys.txt")
    assert "keys.txt, line 2" in raised.value.message and broken not in str(raised.value)


def test_floats_and_the_timestamp_are_written_as_sops_writes_them(tmp_path: Path) -> None:
    recipient, identities = keypair()
    when = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    text = sops.encrypt({"tiny": 1e-07, "big": 1e21, "one": 1.0}, [recipient], now=when)
    file = sops.read(written(tmp_path, text))
    assert file.lastmodified == "2026-01-02T03:04:05Z"
    assert sops.decrypt(file, [identities]) == {"tiny": 1e-07, "big": 1e21, "one": 1.0}


def test_hostile_files_are_refused_by_the_spec_bounds(tmp_path: Path) -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)},"
        f" *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    huge = "a: " + "x" * (2 * 1024 * 1024) + "\n"
    binary = "a: \x00\x01\x02\n"
    for name, text in [("laughs", laughs), ("deep", deep), ("huge", huge), ("binary", binary)]:
        path = written(tmp_path, text, f"{name}.enc.yaml")
        with pytest.raises((SpecError, SecretsError)) as raised:
            sops.read(path)
        assert str(path) in str(raised.value) or raised.value.location is not None, name
