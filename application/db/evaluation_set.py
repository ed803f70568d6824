"""The deployment's frozen evaluation set, kept in SQL (``training.evaluation_set`` says which
questions belong): load it, store what a run added, import and export it as IR JSON, and keep
what the serving pipeline scored on each state of it.

Example::

    from application.db.evaluation_set import load_evaluation_set, export_ir
    frozen = load_evaluation_set(app.db)
    save_ir_json(export_ir(app.db), "evaluation.json")
"""
from __future__ import annotations

import hashlib

from sqlalchemy import select

from application.db.evaluation import EvaluationQuestionRow, EvaluationRun
from application.db.models import Chunk
from training.evaluation_set import EvaluationQuestion, EvaluationSet
from training.feedback import ResolvedFeedback
from training.records import IRDataset, TrainingDataError


def _row_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def load_evaluation_set(db) -> EvaluationSet:
    with db.session() as session:
        rows = session.scalars(select(EvaluationQuestionRow)).all()
        questions = [EvaluationQuestion(row.question, tuple(row.relevant), row.origin) for row in rows]
    return EvaluationSet({q.key: q for q in questions})


def store_evaluation_set(db, grown: EvaluationSet) -> int:
    """Insert ``grown``'s new questions and bring the changed ones' chunks up to date; nothing is
    ever removed (the set only grows). Returns how many questions were added."""
    added = 0
    with db.session() as session:
        existing = {row.id: row for row in session.scalars(select(EvaluationQuestionRow))}
        for key, question in grown.questions.items():
            row = existing.get(_row_id(key))
            if row is None:
                session.add(EvaluationQuestionRow(id=_row_id(key), question=question.question,
                                                  relevant=list(question.relevant), origin=question.origin))
                added += 1
            elif tuple(row.relevant) != question.relevant and row.origin == "feedback":
                row.relevant = list(question.relevant)
    return added


def grow_from_feedback(db, resolved: ResolvedFeedback, share: float) -> tuple[EvaluationSet, EvaluationSet]:
    """Assign the rated questions of ``resolved`` by the rule and store what joined: the set before and
    after (the caller passes both on, so a run grows the set once)."""
    frozen = load_evaluation_set(db)
    grown = frozen.grown(resolved, share)
    store_evaluation_set(db, grown)
    return frozen, grown


def stored_chunk_texts(db) -> dict[str, str]:
    """Every stored chunk's text by id: the corpus evaluation searches."""
    with db.session() as session:
        return dict(session.execute(select(Chunk.id, Chunk.text)).all())


def export_ir(db) -> IRDataset:
    """The set as IR JSON over every stored chunk (``docstune eval --dataset`` reads it)."""
    return load_evaluation_set(db).to_ir(stored_chunk_texts(db))


def import_ir(db, ir: IRDataset) -> dict:
    """Add an IR JSON set's questions to the evaluation set. A relevant id that is a stored chunk id
    is kept; otherwise the chunk whose text equals the IR corpus text is used. Questions with no
    relevant chunk found are left out and counted. Nothing is stored when none is usable."""
    texts = stored_chunk_texts(db)
    by_text = {}
    for cid, text in sorted(texts.items()):
        by_text.setdefault(text.strip(), cid)
    resolved, unmatched = {}, 0
    for qid, cids in ir.relevant_docs.items():
        found = []
        for cid in cids:
            if cid in texts:
                found.append(cid)
            elif cid in ir.corpus and ir.corpus[cid].strip() in by_text:
                found.append(by_text[ir.corpus[cid].strip()])
        if found and qid in ir.queries:
            resolved[qid] = found
        else:
            unmatched += 1
    if not resolved:
        raise TrainingDataError(f"none of the {len(ir.queries)} questions points at a stored chunk (by id or by "
                                f"exact text); ingest the documents first")
    incoming = EvaluationSet.from_ir(IRDataset({q: ir.queries[q] for q in resolved}, ir.corpus, resolved))
    frozen = load_evaluation_set(db)
    added = store_evaluation_set(db, frozen.merged(incoming))
    total = len(load_evaluation_set(db))
    return {"added": added, "already_there": len(incoming) - added, "unmatched": unmatched, "questions": total}


def record_serving_evaluation(db, frozen: EvaluationSet, *, collection: str, model_name: str, version: str | None,
                              retrieval: dict, metrics: dict, trigger: str) -> dict:
    with db.session() as session:
        row = EvaluationRun(set_fingerprint=frozen.fingerprint(), questions=len(frozen), collection=collection,
                            model_name=model_name, version=version, retrieval=retrieval,
                            metrics={k: round(v, 6) for k, v in metrics.items()}, trigger=trigger)
        session.add(row)
        session.flush()
        return row.to_dict()


def latest_serving_evaluation(db) -> dict | None:
    with db.session() as session:
        row = session.scalars(select(EvaluationRun).order_by(EvaluationRun.id.desc()).limit(1)).first()
        return row.to_dict() if row is not None else None


def evaluation_summary(db) -> dict:
    """``GET /api/admin/evaluation``: the set's size, origins and fingerprint, and the serving
    pipeline's latest score (``current``: measured on the set as it is now)."""
    frozen = load_evaluation_set(db)
    latest = latest_serving_evaluation(db)
    info = frozen.describe()
    if latest is not None:
        latest["current"] = latest["set_fingerprint"] == info["fingerprint"]
    return {**info, "serving": latest}
