"""Migrating a SQLite file must not drop the process's SQLite locks on it: if it did, the next process
that opens and closes the database (the CLI, a backup) would take itself for the last connection,
fold the WAL into the file and delete it while the server still writes into it — and those writes
would never reach the file."""
import subprocess
import sys

from sqlalchemy import text

COUNT = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
print(connection.execute("SELECT count(*) FROM lock_probe").fetchone()[0])
connection.close()
"""


def _rows_seen_by_another_process(path) -> int:
    out = subprocess.run([sys.executable, "-c", COUNT, str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_writes_after_a_migration_reach_the_file_when_another_process_opens_it(tmp_path):
    from application.db import Database

    path = tmp_path / "docstune.db"
    db = Database(f"sqlite:///{path}")
    try:
        with db.engine.begin() as connection:  # the pool's connection is open before the migration
            connection.execute(text("CREATE TABLE lock_probe (n INTEGER)"))
            connection.execute(text("INSERT INTO lock_probe VALUES (1)"))
        db.migrate()
        assert _rows_seen_by_another_process(path) == 1
        with db.engine.begin() as connection:
            connection.execute(text("INSERT INTO lock_probe VALUES (2)"))
        assert _rows_seen_by_another_process(path) == 2
        assert not (tmp_path / "docstune.db.migrate-lock").stat().st_size
    finally:
        db.dispose()
