"""The deployment's frozen evaluation set, kept in SQL (``training.evaluation_set`` says which
questions belong): load it, store what a run added, import and export it as IR JSON (with the
questions' reference answers), promote a liked answer to a reference answer, and keep what the
serving pipeline scored on each state of it.

Example::

    from application.db.evaluation_set import load_evaluation_set, export_ir
    frozen = load_evaluation_set(app.db)
    save_ir_json(export_ir(app.db), "evaluation.json")
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import select

from application.db.evaluation import EvaluationQuestionRow, EvaluationRun
from application.db.models import Chunk
from training.evaluation_set import EvaluationQuestion, EvaluationSet, query_id_of
from training.feedback import ResolvedFeedback, question_key
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


def grow_from_feedback(db, resolved: ResolvedFeedback,
                       share_for: Callable[[int], float]) -> tuple[EvaluationSet, EvaluationSet, float]:
    """Assign the rated questions of ``resolved`` by the rule and store what joined: the set before and
    after (the caller passes both on, so a run grows the set once) and the share it grew by
    (``share_for(questions held before)``: ``Settings.evaluation_share_for``)."""
    frozen = load_evaluation_set(db)
    share = share_for(len(frozen))
    grown = frozen.grown(resolved, share)
    store_evaluation_set(db, grown)
    return frozen, grown, share


def stored_chunk_texts(db) -> dict[str, str]:
    """Every stored chunk's text by id: the corpus evaluation searches."""
    with db.session() as session:
        return dict(session.execute(select(Chunk.id, Chunk.text)).all())


def reference_answers(db) -> dict[str, str]:
    """The questions' reference answers by IR JSON query id (``training.evaluation_set.query_id_of``)."""
    with db.session() as session:
        rows = session.execute(select(EvaluationQuestionRow.question, EvaluationQuestionRow.reference_answer)
                               .where(EvaluationQuestionRow.reference_answer.is_not(None))).all()
    return {query_id_of(question_key(question)): answer for question, answer in rows}


def export_ir(db) -> IRDataset:
    """The set as IR JSON over every stored chunk (``docstune eval --dataset`` reads it), with ``answers``
    for the questions that have a reference answer."""
    ir = load_evaluation_set(db).to_ir(stored_chunk_texts(db))
    ir.answers = {qid: answer for qid, answer in reference_answers(db).items() if qid in ir.queries}
    return ir


def _store_reference_answers(db, answers: dict[str, str], origin: str) -> int:
    """Set the reference answer of the stored questions ``answers`` names (by question text); returns how many."""
    by_id = {_row_id(question_key(question)): answer for question, answer in answers.items()}
    with db.session() as session:
        rows = session.scalars(select(EvaluationQuestionRow).where(EvaluationQuestionRow.id.in_(list(by_id)))).all()
        for row in rows:
            row.reference_answer, row.reference_origin = by_id[row.id], origin
        return len(rows)


def import_ir(db, ir: IRDataset) -> dict:
    """Add an IR JSON set's questions to the evaluation set. A relevant id that is a stored chunk id
    is kept; otherwise the chunk whose text equals the IR corpus text is used. Questions with no
    relevant chunk found are left out and counted. Nothing is stored when none is usable. The set's
    ``answers`` become the reference answers of their questions (replacing one stored before)."""
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
    answers = _store_reference_answers(
        db, {ir.queries[qid]: ir.answers[qid] for qid in resolved if ir.answers.get(qid, "").strip()}, "import")
    total = len(load_evaluation_set(db))
    return {"added": added, "already_there": len(incoming) - added, "unmatched": unmatched, "questions": total,
            "answers": answers}


def add_reference_answer(db, message_id: str, answer: str | None = None) -> dict:
    """Promote a liked, commented answer to a reference answer: its question joins the evaluation set (or is
    updated there) with the chunks the ratings of the message make relevant — those the answer cites, and
    those marked relevant, by the same rule that grows the set from ratings — and ``answer`` (default: the
    message's answer) as its reference, without its ``[n]`` source markers. Returns the question row, with
    ``added``: whether the question joined the set now."""
    from sqlalchemy.orm import selectinload

    from application.chat.export import feedback_record
    from application.db.chat import Feedback, Message
    from application.errors import BadRequest, Conflict, NotFound
    from application.llm.prompt import strip_citations
    from application.request_values import quoted
    from training.feedback import parse_feedback_record, resolve_feedback

    with db.session() as session:
        message = session.get(Message, message_id, options=[
            selectinload(Message.retrieved),
            selectinload(Message.feedback).selectinload(Feedback.marks)])
        if message is None:
            raise NotFound(f"No message {quoted(message_id)}; the Feedback page lists the rated ones.")
        liked = [f for f in message.feedback if f.verdict == "like"]
        if not liked:
            raise Conflict("Only a liked answer can become a reference answer: no one rated this one thumbs-up.")
        if not any((f.comment or "").strip() for f in liked):
            raise Conflict("Only a liked answer with a comment can become a reference answer: the thumbs-up "
                           "on this one has no comment saying why it is good.")
        if answer is None and message.status != "ok":
            raise Conflict(f"The answer of this message is {message.status}, not complete; send the reference "
                           f"text as 'answer'.")
        records = [parse_feedback_record(feedback_record(f), f"rated message {message.id}") for f in message.feedback]
        question = message.question
        text = strip_citations(message.answer if answer is None else answer)
    if not text:
        raise BadRequest("The reference answer is empty once its [n] source markers are removed; send the text "
                         "as 'answer'.")
    resolved = resolve_feedback(records)
    positives = sorted(resolved.positive_chunks(question)) if question in resolved.labels else []
    if not positives:
        raise Conflict("The ratings of this message make no chunk relevant: the answer cites no source and no "
                       "source is marked helpful; mark the sources that answer it, then try again.")
    with db.session() as session:
        stored = set(session.scalars(select(Chunk.id).where(Chunk.id.in_(positives))))
        relevant = [cid for cid in positives if cid in stored]
        if not relevant:
            raise Conflict("The sources this answer was rated on are no longer stored (their documents were "
                           "changed or deleted); ask the question again and rate the new answer.")
        row = session.get(EvaluationQuestionRow, _row_id(question_key(question)))
        added = row is None
        if added:
            row = EvaluationQuestionRow(id=_row_id(question_key(question)), question=question, relevant=relevant,
                                        origin="feedback")
            session.add(row)
        elif row.origin == "feedback":  # an imported question keeps the chunks the admin gave it
            row.relevant = relevant
        row.reference_answer, row.reference_origin = text, "feedback"
        session.flush()
        return {**reference_row(row), "added": added}


def reference_row(row: EvaluationQuestionRow) -> dict:
    """An evaluation question as the admin API shows it."""
    from application.chat.conversations import iso_utc

    return {"query_id": query_id_of(question_key(row.question)), "question": row.question,
            "relevant": list(row.relevant), "origin": row.origin, "reference_answer": row.reference_answer,
            "reference_origin": row.reference_origin,
            "added_at": iso_utc(row.added_at), "updated_at": iso_utc(row.updated_at)}


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
    return {**info, "reference_answers": len(reference_answers(db)), "serving": latest}
