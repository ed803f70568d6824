"""Reference answers in the frozen evaluation set: the migration that adds them to a database in use, and
IR JSON's ``answers`` going in (import) and out (export) with the set's questions."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from application.db import Database
from application.db.evaluation_set import evaluation_summary, export_ir, import_ir
from training.evaluation_set import query_id_of
from training.feedback import question_key
from training.records import IRDataset

ROOT = Path(__file__).resolve().parents[3]
CHUNKS = {"c-refund": "Refunds are paid back within five business days.",
          "c-ship": "Orders to the United States take 5 to 8 business days."}


def _import_models() -> None:
    import application.db.api_keys  # noqa: F401
    import application.db.chat  # noqa: F401
    import application.db.evaluation  # noqa: F401
    import application.db.jobs  # noqa: F401
    import application.db.models  # noqa: F401


def _alembic(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ROOT / "application" / "migrations"))
    config.attributes["connection"] = connection
    return config


@pytest.fixture
def database(make_settings):
    _import_models()
    db = Database(make_settings().database_url_resolved)
    db.migrate()
    with db.session() as session:
        from application.db.models import Chunk, Source

        session.add(Source(id="s1", uri="upload://help.md", title="Help", kind="md", content_hash="h", size_bytes=1,
                           chunk_count=len(CHUNKS)))
        session.flush()
        for position, (cid, chunk_text) in enumerate(CHUNKS.items()):
            session.add(Chunk(id=cid, source_id="s1", position=position, text=chunk_text, content_hash=cid,
                              token_count=9))
    yield db
    db.dispose()


def test_the_migration_adds_empty_reference_answers_to_a_database_with_questions(make_settings):
    from alembic import command

    _import_models()
    db = Database(make_settings().database_url_resolved)
    try:
        with db.engine.begin() as connection:
            command.upgrade(_alembic(connection), "0008_sync_sources")
        assert "reference_answer" not in {c["name"] for c in inspect(db.engine).get_columns("evaluation_questions")}
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO evaluation_questions (id, question, relevant, origin, added_at, updated_at) "
                "VALUES ('q1', 'How long do refunds take?', '[\"c-refund\"]', 'feedback', "
                "'2026-01-02 03:04:05', '2026-01-02 03:04:05')"))

        db.migrate()

        columns = {c["name"]: c for c in inspect(db.engine).get_columns("evaluation_questions")}
        assert columns["reference_answer"]["nullable"] and columns["reference_origin"]["nullable"]
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT id, question, reference_answer, reference_origin "
                                           "FROM evaluation_questions")).all()
        assert [tuple(r) for r in rows] == [("q1", "How long do refunds take?", None, None)]
        assert evaluation_summary(db)["reference_answers"] == 0 and evaluation_summary(db)["questions"] == 1

        with db.engine.begin() as connection:  # and down again: the column goes, the question stays
            command.downgrade(_alembic(connection), "0008_sync_sources")
        assert "reference_answer" not in {c["name"] for c in inspect(db.engine).get_columns("evaluation_questions")}
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM evaluation_questions")).scalar() == 1
    finally:
        db.dispose()


def test_imported_answers_are_kept_counted_and_exported_with_their_questions(database, make_settings, tmp_path):
    ir = IRDataset(
        queries={"a": "How long do refunds take?", "b": "How long is shipping to the US?", "c": "Who is Miso?"},
        corpus={"elsewhere": CHUNKS["c-ship"], "gone": "not stored"},
        relevant_docs={"a": ["c-refund"], "b": ["elsewhere"], "c": ["gone"]},
        answers={"a": "Five business days.", "c": "The office cat."},
    )

    imported = import_ir(database, ir)

    # "c" points at no stored chunk: neither it nor its answer is kept
    assert imported == {"added": 2, "already_there": 0, "unmatched": 1, "questions": 2, "answers": 1}
    summary = evaluation_summary(database)
    assert summary["questions"] == 2 and summary["import"] == 2 and summary["reference_answers"] == 1
    exported = export_ir(database)
    refund_id = query_id_of(question_key("How long do refunds take?"))
    assert exported.answers == {refund_id: "Five business days."}
    assert exported.to_dict()["answers"] == {refund_id: "Five business days."}
    assert exported.relevant_docs[refund_id] == ["c-refund"]

    # importing the export again updates the answer; a second deployment gets the same set with its answers
    exported.answers[refund_id] = "Within five business days, to the card paid with."
    assert import_ir(database, exported)["answers"] == 1
    assert export_ir(database).answers == {refund_id: "Within five business days, to the card paid with."}
    other = Database(make_settings(DATA_DIR=tmp_path / "other").database_url_resolved)
    try:
        other.migrate()
        with other.session() as session:
            from application.db.models import Chunk, Source

            session.add(Source(id="s9", uri="upload://copy.md", title="Copy", kind="md", content_hash="h",
                               size_bytes=1, chunk_count=2))
            session.flush()
            for position, (cid, chunk_text) in enumerate(CHUNKS.items()):  # other ids, the same texts
                session.add(Chunk(id=f"x-{cid}", source_id="s9", position=position, text=chunk_text,
                                  content_hash=cid, token_count=9))
        assert import_ir(other, export_ir(database))["answers"] == 1
        assert export_ir(other).answers == export_ir(database).answers
    finally:
        other.dispose()


def test_a_set_without_answers_exports_plain_ir_json(database):
    import_ir(database, IRDataset({"a": "How long do refunds take?"}, {}, {"a": ["c-refund"]}))
    assert "answers" not in export_ir(database).to_dict()
    assert evaluation_summary(database)["reference_answers"] == 0
