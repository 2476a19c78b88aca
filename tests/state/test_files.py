"""The store's files: owner-only permissions, and a missing store that commands
which only read never create."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from dockyard.spec.environment import StateConfig
from dockyard.state import ReleaseService, StoreMissing, open_store, state_url

from .conftest import OpenStore

pytestmark = pytest.mark.fault

API = [ReleaseService("api", "sha256:1")]


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The umask most systems have: files 0644 and folders 0755 unless asked otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def db_path(repo: Path) -> Path:
    return repo / ".dockyard" / "state.db"


def test_a_new_store_is_owner_only(tmp_path: Path, permissive_umask: None) -> None:
    repo = tmp_path / "platform"
    with open_store(StateConfig(), repo) as store:
        store.start_release(
            "staging", "deploy", "alice@laptop", [ReleaseService("api", "sha256:1")]
        )
        db = db_path(repo)
        wal, shm = db.with_name("state.db-wal"), db.with_name("state.db-shm")
        assert wal.exists() and shm.exists()  # WAL mode, while the store is open
        assert mode(db.parent) == 0o700
        assert {p.name: mode(p) for p in (db, wal, shm)} == {
            "state.db": 0o600,
            "state.db-wal": 0o600,
            "state.db-shm": 0o600,
        }


def test_a_new_store_at_a_url_path_is_owner_only(tmp_path: Path, permissive_umask: None) -> None:
    with open_store(StateConfig(url="sqlite:///var/dockyard/state.db"), tmp_path):
        assert mode(tmp_path / "var" / "dockyard") == 0o700
        assert mode(tmp_path / "var" / "dockyard" / "state.db") == 0o600


def test_looser_permissions_are_tightened_on_open(tmp_path: Path, permissive_umask: None) -> None:
    repo = tmp_path / "platform"
    open_store(StateConfig(), repo).close()
    db = db_path(repo)
    wal = db.with_name("state.db-wal")
    wal.touch()
    os.chmod(db.parent, 0o755)
    os.chmod(db, 0o644)
    os.chmod(wal, 0o666)
    open_store(StateConfig(), repo, create=False).close()
    assert (mode(db.parent), mode(db)) == (0o700, 0o600)
    assert not wal.exists() or mode(wal) == 0o600


def test_a_folder_named_by_the_url_is_left_as_it_is(tmp_path: Path, permissive_umask: None) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    with open_store(StateConfig(url="sqlite:///shared/state.db"), tmp_path):
        assert mode(folder) == 0o755  # the user's folder
        assert mode(folder / "state.db") == 0o600


def test_no_file_is_missing_and_nothing_is_created(tmp_path: Path) -> None:
    repo = tmp_path / "platform"
    with pytest.raises(StoreMissing) as caught:
        open_store(StateConfig(), repo, create=False)
    assert caught.value.code == "DY608"
    assert caught.value.store == str(db_path(repo))
    assert caught.value.reason == "no such file"
    assert not (repo / ".dockyard").exists()


def test_an_empty_file_is_missing_and_stays_empty(tmp_path: Path) -> None:
    repo = tmp_path / "platform"
    db = db_path(repo)
    db.parent.mkdir(parents=True)
    db.touch()
    with pytest.raises(StoreMissing, match="an empty file"):
        open_store(StateConfig(), repo, create=False)
    assert db.stat().st_size == 0
    assert sorted(p.name for p in db.parent.iterdir()) == ["state.db"]


def test_a_database_without_tables_is_missing(tmp_path: Path) -> None:
    repo = tmp_path / "platform"
    db = db_path(repo)
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE other (x)")
    conn.close()
    with pytest.raises(StoreMissing, match="it has no tables"):
        open_store(StateConfig(), repo, create=False)
    with sqlite3.connect(db) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    conn.close()
    assert names == ["other"]


def test_an_empty_database_is_missing_on_either_backend(
    state_config: StateConfig, repo: Path, open_stores: OpenStore
) -> None:
    url = state_url(state_config, repo)
    if url.get_backend_name() == "sqlite":
        db = db_path(repo)
        db.parent.mkdir(parents=True)
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA user_version = 7")  # a database file, without tables
        conn.commit()
        conn.close()
        assert db.stat().st_size > 0
    with pytest.raises(StoreMissing, match="it has no tables"):
        open_store(state_config, repo, create=False)
    store = open_stores()  # creating it, on purpose
    assert not store.has_history("staging")
    store.start_release("staging", "deploy", "alice@laptop", [ReleaseService("api", "sha256:1")])
    with open_store(state_config, repo, create=False) as again:
        assert again.has_history("staging") and not again.has_history("prod")


def test_an_existing_store_opens_without_creating(tmp_path: Path) -> None:
    repo = tmp_path / "platform"
    with open_store(StateConfig(), repo) as store:
        store.start_release(
            "staging", "deploy", "alice@laptop", [ReleaseService("api", "sha256:1")]
        )
    with open_store(StateConfig(), repo, create=False) as store:
        assert [r.number for r in store.history("staging")] == [1]
    engine = create_engine(f"sqlite:///{db_path(repo)}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM dockyard_releases")).scalar() == 1
    engine.dispose()
