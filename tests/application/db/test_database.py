"""The SQL layer on both databases it supports: SQLite (default) and PostgreSQL (DATABASE_URL).

`make test` runs the storage and API tests twice, the second time with DOCSTUNE_TEST_DATABASE=postgresql
(`make test-postgres`): these tests check that such a run really is on PostgreSQL, that the migrations
match the models and go down and up again, and that an unreachable server is one readable line.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, select, text

from application.db import Database, DatabaseUnavailable, describe_url, normalize_url
from application.db.base import Base, utcnow
from application.errors import DocsTuneError
from tests.conftest import TEST_DATABASE
from tests.live_server import free_port
from tests.pg_server import PostgresServer, wait_until_gone

ROOT = Path(__file__).resolve().parents[3]


def _import_models() -> None:
    import application.db.api_keys  # noqa: F401
    import application.db.chat  # noqa: F401
    import application.db.evaluation  # noqa: F401
    import application.db.jobs  # noqa: F401
    import application.db.models  # noqa: F401


@pytest.fixture
def database(make_settings):
    _import_models()
    db = Database(make_settings().database_url_resolved)
    db.migrate()
    yield db
    db.dispose()


def test_the_run_uses_the_database_it_was_asked_for(database, services):
    expected = "postgresql" if TEST_DATABASE == "postgresql" else "sqlite"
    assert database.engine.dialect.name == expected
    assert services.db.engine.dialect.name == expected  # what the application itself opened
    if expected == "postgresql":
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT current_setting('server_version_num')::int")).scalar() >= 130000
            assert connection.execute(text("SHOW TimeZone")).scalar() == "UTC"  # the server's is New York


def test_timestamps_and_json_come_back_as_written(database):
    from application.db.jobs import Job

    written = utcnow()
    with database.session() as session:
        session.add(Job(id="j1", kind="reindex", status="queued", params={"model": "ü", "n": [1, 2]},
                        progress_done=0, progress_total=0, progress_message="", cancel_requested=False,
                        created_at=written))
    with database.session() as session:
        job = session.get(Job, "j1")
        created = job.created_at if job.created_at.tzinfo else job.created_at.replace(tzinfo=timezone.utc)
        assert created == written and created.utcoffset() == timedelta(0)
        assert job.params == {"model": "ü", "n": [1, 2]} and job.cancel_requested is False
        assert session.scalar(select(Job.id).where(Job.cancel_requested.is_(False))) == "j1"


def test_text_with_nul_characters_is_stored_on_both_databases(database):
    """PostgreSQL refuses NUL in text (SQLite keeps it): DocsTune stores such text without them, so a
    document, question or comment holding one never fails on PostgreSQL only."""
    from application.db.chat import Conversation
    from application.db.models import Source

    with database.session() as session:
        session.add(Source(id="s1", uri="upload://a\x00b.txt", title="A\x00B", kind="txt", content_hash="h",
                           size_bytes=1, chunk_count=0))
        session.add(Conversation(id="c1", owner="o", name="what\x00 now?"))
    with database.session() as session:
        source = session.get(Source, "s1")
        name = session.get(Conversation, "c1").name
        stored = (source.uri, source.title, name)
        assert session.scalar(select(Source.id).where(Source.uri == "upload://a\x00b.txt")) == "s1"
    assert tuple(value.replace("\x00", "") for value in stored) == ("upload://ab.txt", "AB", "what now?")
    if database.dialect == "postgresql":
        assert stored == ("upload://ab.txt", "AB", "what now?")


def test_the_migrations_build_exactly_the_models_and_go_down_and_up_again(database):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext

    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert set(inspect(database.engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}

    config = Config()
    config.set_main_option("script_location", str(ROOT / "application" / "migrations"))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
    database.migrate()
    assert set(inspect(database.engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}


MIGRATE_SCRIPT = """
import sys
import application.db.chat, application.db.jobs, application.db.models
from application.db import Database
Database(sys.argv[1]).migrate()
"""


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(ROOT / "application" / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


def test_processes_starting_at_once_on_a_new_database_migrate_it_once(make_settings):
    url = make_settings().database_url_resolved
    children = [subprocess.Popen([sys.executable, "-c", MIGRATE_SCRIPT, url], cwd=ROOT, stderr=subprocess.PIPE,
                                 text=True) for _ in range(3)]
    errors = [child.communicate(timeout=120)[1] for child in children]
    assert [child.returncode for child in children] == [0, 0, 0], errors
    db = Database(url)
    try:
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [_head()]
    finally:
        db.dispose()


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path):
    port = free_port()  # nothing listens there
    url = f"postgresql://alice:s3cret@127.0.0.1:{port}/docstune"
    db = Database(url)
    with pytest.raises(DatabaseUnavailable) as caught:
        db.migrate()
    message = str(caught.value)
    assert message.startswith(f"Cannot reach the database at postgresql://alice@127.0.0.1:{port}/docstune "
                              "(password hidden): ")
    assert "\n" not in message and "s3cret" not in message and "DATABASE_URL" in message
    assert caught.value.status_code == 503

    from application.cli import main

    env = {"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": url}
    for args in (["sources", "list"], ["serve", "--port", str(port)]):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 1, result.output
        assert result.output.count("\n") == 1 and result.output.startswith("Error: Cannot reach the database at ")
        assert "s3cret" not in result.output


def test_a_url_without_its_driver_or_no_url_at_all_is_refused_with_an_example():
    with pytest.raises(DocsTuneError, match=r"needs a database driver .* postgresql\+psycopg://"):
        Database("postgresql+nosuchdriver://u:p@127.0.0.1/db")
    with pytest.raises(DocsTuneError, match=r"not a database URL"):
        Database("localhost:5432")


def test_postgres_urls_use_psycopg_3_and_messages_never_show_the_password():
    assert normalize_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalize_url("postgresql://u:p@h:5433/db") == "postgresql+psycopg://u:p@h:5433/db"
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
    assert describe_url("postgresql+psycopg://u:p%40ss@h:5433/db") == "postgresql://u@h:5433/db"
    assert describe_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_the_throwaway_server_runs_unprivileged_and_leaves_nothing_behind():
    server = PostgresServer().start()
    root = server.root
    try:
        owner = os.stat(server.data_dir).st_uid
        assert owner != 0 and owner == (os.geteuid() if os.geteuid() else server.account.pw_uid)
        assert stat.S_IMODE(os.stat(server.data_dir).st_mode) == 0o700
        url = server.create_database("lifecycle")
        db = Database(url)
        try:
            db.check()
            assert db.engine.dialect.name == "postgresql"
        finally:
            db.dispose()
        server.drop_database("lifecycle")
    finally:
        server.stop()
    assert not root.exists()
    wait_until_gone(server)


def test_a_postgresql_run_without_a_server_fails_and_never_skips(tmp_path):
    env = {**os.environ, "DOCSTUNE_TEST_DATABASE": "postgresql", "PG_BIN": str(tmp_path / "no-postgres-here")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "tests/application/db/test_database.py::test_postgres_urls_use_psycopg_3_and_messages_never_show_the_password"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "no PostgreSQL server could be started" in output and "initdb" in output
    assert "passed" not in output and "skipped" not in output
