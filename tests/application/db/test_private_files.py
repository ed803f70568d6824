"""DATA_DIR and the SQLite database are their owner's only, whatever the umask: they hold every conversation,
the admin token, the API keys' hashes, the uploads and the models."""
import os
import stat

import pytest


@pytest.fixture
def open_umask():
    previous = os.umask(0o022)  # the usual default: files world-readable
    yield
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_database_and_its_folder_are_created_for_the_owner_only(tmp_path, open_umask):
    from application.db import Database

    path = tmp_path / "data" / "docstune.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    database.dispose()

    assert mode(path.parent) == 0o700 and mode(path) == 0o600
    assert all(mode(extra) == 0o600 for extra in path.parent.glob("docstune.db-*"))  # SQLite's -wal, -shm


def test_data_dir_is_created_for_the_owner_only_by_whichever_part_comes_first(tmp_path, open_umask):
    from application.api.auth import ensure_admin_token
    from application.jobs.queue import make_huey
    from application.settings import Settings

    for name, create in (("token", ensure_admin_token), ("queue", make_huey), ("settings", Settings.create_data_dir)):
        settings = Settings(DATA_DIR=tmp_path / name / "data")
        create(settings)
        assert mode(settings.data_dir) == 0o700, name
    assert mode(Settings(DATA_DIR=tmp_path / "token" / "data").admin_token_file) == 0o600


def test_an_existing_data_dir_keeps_the_mode_its_operator_gave_it(tmp_path, open_umask):
    from application.settings import Settings

    data = tmp_path / "shared"
    data.mkdir(mode=0o750)
    Settings(DATA_DIR=data).create_data_dir()

    assert mode(data) == 0o750
