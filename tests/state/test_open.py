"""Opening the store: where it lives, its schema migrations, and the errors a
user sees when it cannot be opened."""

from __future__ import annotations

import os
import threading
import traceback
from pathlib import Path

import pytest
from psycopg import sql
from sqlalchemy import create_engine, inspect, text, update

from dockyard.spec.environment import StateConfig
from dockyard.state import (
    SCHEMA_VERSION,
    ReleaseService,
    StateConfigError,
    StateError,
    StateSchemaTooNew,
    StateStore,
    StateUnreachable,
    open_store,
    state_url,
)
from dockyard.state.migrations import MIGRATIONS, migrate, schema_version
from dockyard.state.tables import metadata, schema
from tests.fixtures.postgres import PASSWORD_ENV, PostgresServer

from .conftest import OpenStore


def _sqlalchemy_url(config: StateConfig, repo: Path, password: str | None) -> str:
    url = state_url(config, repo)
    if url.database and url.get_backend_name() == "sqlite":
        Path(url.database).parent.mkdir(parents=True)
    if password is not None:
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def password(backend: str, request: pytest.FixtureRequest) -> str | None:
    if backend == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.password


def test_default_store_lives_in_the_environment_repo(tmp_path: Path) -> None:
    repo = tmp_path / "platform"
    with open_store(StateConfig(), repo) as store:
        assert (repo / ".dockyard" / "state.db").is_file()
        assert store.url == f"sqlite:///{repo / '.dockyard' / 'state.db'}"
        with store._db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_relative_sqlite_url_is_relative_to_the_repo(tmp_path: Path) -> None:
    with open_store(StateConfig(url="sqlite:///var/state.db"), tmp_path):
        assert (tmp_path / "var" / "state.db").is_file()


def test_migrates_an_empty_database_to_the_latest_schema(store: StateStore) -> None:
    assert store.schema_version == SCHEMA_VERSION == MIGRATIONS[-1].version
    with store._db.read() as conn:
        assert schema_version(conn) == SCHEMA_VERSION
        # What the migrations created is what the queries expect.
        inspector = inspect(conn)
        for table in metadata.sorted_tables:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name


def test_reopening_keeps_the_data_and_the_version(open_stores: OpenStore) -> None:
    first = open_stores()
    first.start_release("staging", "deploy", "alice@laptop", [ReleaseService("api", "sha256:1")])
    first.close()
    again = open_stores()
    assert again.schema_version == SCHEMA_VERSION
    assert [r.number for r in again.history("staging")] == [1]


def test_migrates_an_older_store_step_by_step(
    state_config: StateConfig, repo: Path, password: str | None, open_stores: OpenStore
) -> None:
    engine = create_engine(_sqlalchemy_url(state_config, repo, password))
    try:
        with engine.begin() as conn:
            assert migrate(conn, where="test", target=1) == 1
        with engine.connect() as conn:
            assert not inspect(conn).has_table("dockyard_task_runs")
    finally:
        engine.dispose()
    store = open_stores()
    assert store.schema_version == SCHEMA_VERSION == 4
    run = store.record_task_run(
        "staging",
        release=None,
        service="api",
        task="migrate",
        command=["true"],
        digest="sha256:1",
        definition_hash="h",
        status="succeeded",
        exit_code=0,
        duration=0.1,
    )
    assert store.task_runs("staging") == [run]


def test_refuses_a_store_newer_than_the_code(store: StateStore, open_stores: OpenStore) -> None:
    with store._db.write() as conn:
        conn.execute(update(schema).values(version=SCHEMA_VERSION + 7))
    with pytest.raises(StateSchemaTooNew) as caught:
        open_stores()
    error = caught.value
    assert error.code == "DY604"
    assert f"schema version {SCHEMA_VERSION + 7}" in error.message
    assert f"up to {SCHEMA_VERSION}" in error.message
    assert error.hint and "upgrade Dockyard" in error.hint


def test_processes_opening_a_fresh_store_at_once_all_succeed(open_stores: OpenStore) -> None:
    barrier = threading.Barrier(4)
    versions: list[int] = []
    errors: list[BaseException] = []

    def open_at_once() -> None:
        barrier.wait()
        try:
            versions.append(open_stores().schema_version)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=open_at_once) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert versions == [SCHEMA_VERSION] * 4
    with open_stores()._db.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM dockyard_schema")).scalar() == 1


def test_password_in_the_url_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(StateConfigError) as caught:
        open_store(StateConfig(url="postgresql://dy:hunter2secret@db.internal/dy"), tmp_path)
    text_seen = f"{caught.value} {caught.value.hint} {caught.value!r}"
    assert "hunter2secret" not in text_seen
    assert "password_env" in (caught.value.hint or "")


def test_unset_password_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_DB_PASSWORD", raising=False)
    config = StateConfig(url="postgresql://dy@127.0.0.1:1/dy", password_env="STATE_DB_PASSWORD")
    with pytest.raises(StateConfigError) as caught:
        open_store(config, tmp_path)
    assert "STATE_DB_PASSWORD" in caught.value.message
    assert caught.value.code == "DY606"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://dy@db/dy", "'mysql' databases are not supported"),
        ("sqlite://", "in-memory"),
        ("not a url", "not a database URL"),
    ],
)
def test_unusable_urls_are_explained(tmp_path: Path, url: str, expected: str) -> None:
    with pytest.raises(StateConfigError, match=expected):
        open_store(StateConfig(url=url), tmp_path)


def test_a_file_that_is_not_a_database_is_reported(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_text("this is not SQLite\n" * 100)
    with pytest.raises(StateUnreachable) as caught:
        open_store(StateConfig(url="sqlite:///state.db"), tmp_path)
    assert caught.value.code == "DY605"
    assert "state.db" in caught.value.message
    assert caught.value.hint and "SQLite database" in caught.value.hint


def test_unreachable_postgres_is_reported_with_a_hint(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StateUnreachable) as caught:
        open_store(StateConfig(url=f"postgresql://dy@127.0.0.1:{port}/dy"), tmp_path)
    assert f"postgresql://dy@127.0.0.1:{port}/dy" in caught.value.message
    assert caught.value.hint and "state.url" in caught.value.hint


def test_the_password_never_shows_in_errors_or_reprs(
    postgres_server: PostgresServer,
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = StateConfig(url=postgres_url, password_env=PASSWORD_ENV)
    with open_store(good, tmp_path) as store:
        seen = [repr(store), store.url, repr(store._db), repr(store._db.engine)]
        seen.append(repr(store._db.engine.url))
        assert postgres_server.password not in " ".join(seen)

    wrong = "Wr0ng-" + postgres_server.password
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    with pytest.raises(StateUnreachable) as caught:
        open_store(good, tmp_path)
    error = caught.value
    assert "password authentication failed" in error.message
    assert error.hint and PASSWORD_ENV in error.hint
    everything = "".join(traceback.format_exception(error)) + repr(error) + str(error.to_dict())
    assert wrong not in everything
    assert postgres_server.password not in everything


def test_errors_after_opening_are_dockyard_errors(store: StateStore) -> None:
    with store._db.write() as conn:
        conn.execute(text("DROP TABLE dockyard_locks"))
    with pytest.raises(StateError) as caught:
        store.lock_status("staging")
    assert caught.value.code == "DY600"
    assert store.url in caught.value.message


def test_a_role_that_cannot_create_tables_is_told_so(
    postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"locked_{os.getpid()}"
    with postgres_server.admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))  # superuser's
    monkeypatch.setenv(PASSWORD_ENV, postgres_server.password)
    config = StateConfig(url=postgres_server.url(name), password_env=PASSWORD_ENV)
    with pytest.raises(StateError) as caught:
        open_store(config, tmp_path)
    assert caught.value.message.startswith(
        f"cannot prepare the state store at {postgres_server.url(name)}: permission denied"
    )
    assert caught.value.hint and "create tables" in caught.value.hint


def _columns(store: StateStore) -> dict[str, dict[str, tuple[str, bool]]]:
    """Every Dockyard table's columns: name → (type as the database reports it, nullable)."""
    with store._db.read() as conn:
        inspector = inspect(conn)
        return {
            table.name: {
                c["name"]: (str(c["type"]), bool(c["nullable"]))
                for c in inspector.get_columns(table.name)
            }
            for table in metadata.sorted_tables
        }


def test_a_migrated_store_has_the_schema_of_a_fresh_one(
    backend: str,
    state_config: StateConfig,
    repo: Path,
    password: str | None,
    request: pytest.FixtureRequest,
) -> None:
    """Every step applied one by one over the years leaves the tables that one
    opening of an empty database makes today."""
    engine = create_engine(_sqlalchemy_url(state_config, repo, password))
    try:
        for step in MIGRATIONS[:-1]:
            with engine.begin() as conn:
                assert migrate(conn, where="test", target=step.version) == step.version
    finally:
        engine.dispose()
    if backend == "sqlite":
        fresh_config, fresh_repo = StateConfig(), repo.parent / "fresh"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        fresh_url = server.url(server.create_database())
        fresh_config, fresh_repo = StateConfig(url=fresh_url, password_env=PASSWORD_ENV), repo
    with open_store(state_config, repo) as migrated, open_store(fresh_config, fresh_repo) as fresh:
        assert migrated.schema_version == fresh.schema_version == SCHEMA_VERSION
        assert _columns(migrated) == _columns(fresh)
        assert set(_columns(fresh)["dockyard_locks"]) >= {"pid_start", "pid_space"}


def test_holders_recorded_before_version_4_are_read_without_a_process(
    state_config: StateConfig, repo: Path, password: str | None, open_stores: OpenStore
) -> None:
    engine = create_engine(_sqlalchemy_url(state_config, repo, password))
    try:
        with engine.begin() as conn:
            migrate(conn, where="test", target=3)
            conn.execute(
                text(
                    "INSERT INTO dockyard_locks (env, token, actor, host, pid, command, lease, "
                    "started_at, expires_at) VALUES ('staging', 't', 'old@host', 'host', 1, "
                    "'release', 30, 0, 4e9)"
                )
            )
    finally:
        engine.dispose()
    info = open_stores().lock_status("staging")
    assert info is not None and info.holder.started is None and info.holder.space is None
    assert info.liveness.alive is None  # only its lease can free it
