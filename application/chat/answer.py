"""Ask: question → retrieval → LLM with numbered sources → streamed answer → stored message.

``start_answer`` does everything that can be refused (ownership, retrieval; the
request was validated by its model in ``api/answer.py``) and stores the message before a byte is streamed, so bad input is a
plain 4xx with nothing stored. ``stream_answer`` then yields the SSE events and
records the outcome (answer, citations, status) whatever happens to the LLM or
the client.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Iterator

from sqlalchemy import func, select, update

from application.db import transactions
from application.chat.conversations import in_conversation, replace_from, source_link
from application.db.base import utcnow
from application.db.chat import Conversation, Message, MessageChunk
from application.errors import DocsTuneError, NotFound
from application.llm import LLM, LLMError, Prompt, PromptTemplate, cited_numbers
from application.redaction import shown_uri
from application.retrieval.timing import Timings, attached, log_timings, phase
from application.request_values import quoted

log = logging.getLogger(__name__)

CONVERSATION_NAME_CHARS = 80


@dataclass
class PendingAnswer:
    conversation_id: str
    message_id: str
    prompt: Prompt
    hits: list = field(default_factory=list)
    error_status: int | None = None  # HTTP status of the LLM failure, if one happened
    timings: Timings | None = None  # the request's phases (application.retrieval.timing), when it is timed


# -- the pipeline ---------------------------------------------------------------------
def start_answer(
    app, llm: LLM, template: PromptTemplate, owner: str, question: str, *, conversation_id: str | None = None,
    history: list[tuple[str, str]] | None = None, chunks: int = 4, source_ids: tuple[str, ...] | None = None,
    replace_index: int | None = None, history_limit: int = 10,
) -> PendingAnswer:
    """Retrieve, render the prompt and store the message (status ``streaming``). ``history`` None: the
    conversation's own; ``chunks`` 0: no retrieval; ``source_ids``: the sources it may search (an API key's;
    None: all); ``replace_index``: DocsGPT's retry/edit, the position of the message this one replaces."""
    db = app.db
    if conversation_id:
        # checked before retrieval: a stranger's id fails fast and costs no embedding
        with phase("sql"):
            transactions.read(db, lambda s: _owned_conversation(s, conversation_id, owner))
    if chunks:
        # the pipeline that found the hits is what the message records (a swap may happen right after)
        retrieval = app.serving.retrieve(question, k=chunks, source_ids=source_ids)
        hits, fingerprint, pipeline = retrieval.hits, retrieval.fingerprint, retrieval.pipeline
    else:  # DocsGPT's chunks 0 / isNoneDoc: the LLM answers without sources; no model took part
        hits, fingerprint, pipeline = [], "", None
    with phase("sql"):
        if history is None:
            history = _stored_history(db, conversation_id, history_limit, before=replace_index)
    with phase("prompt"):
        prompt = template.render(question, hits, history)
    with phase("sql"):
        conversation_id, message_id = store_pending_message(
            db, owner, conversation_id, question, hits, llm.name, fingerprint, pipeline, replace_index=replace_index,
        )
    return PendingAnswer(conversation_id, message_id, prompt, hits)


def store_pending_message(
    db, owner: str, conversation_id: str | None, question: str, hits, llm_name: str, fingerprint: str,
    retrieval: dict | None = None, replace_index: int | None = None,
) -> tuple[str, str]:
    """Store a message (status ``streaming``) with every retrieved chunk, in a new
    conversation when ``conversation_id`` is None; returns (conversation id, message id).
    ``replace_index``: the message takes that position, replacing the messages from there on."""
    message_id = str(uuid.uuid4())

    def insert(session) -> str:
        if conversation_id:
            conversation = _owned_conversation(session, conversation_id, owner)
            conversation.updated_at = utcnow()
            if replace_index is not None:
                replace_from(session, conversation.id, replace_index)
        else:
            conversation = Conversation(id=str(uuid.uuid4()), owner=owner, name=_conversation_name(question))
            session.add(conversation)
            session.flush()
        position = session.scalar(
            select(func.coalesce(func.max(Message.position) + 1, 0))
            .where(Message.conversation_id == conversation.id, in_conversation())
        )
        session.add(Message(
            id=message_id, conversation_id=conversation.id, position=position, question=question,
            answer="", status="streaming", llm=llm_name, model_fingerprint=fingerprint, retrieval=retrieval,
        ))
        session.add_all(
            MessageChunk(
                message_id=message_id, chunk_id=hit.chunk_id, rank=rank, score=float(hit.score),
                dense_score=hit.dense_score, lexical_score=hit.lexical_score, shown=False,
                cited=False, source_id=hit.source_id, title=hit.title or "", uri=hit.uri or "", page=hit.page,
                headings=list(hit.headings) or None, location=hit.location, text=hit.text,
            )
            for rank, hit in enumerate(hits, start=1)
        )
        return conversation.id

    return transactions.write(db, insert), message_id


def stream_answer(app, llm: LLM, pending: PendingAnswer, deadline: float | None = None) -> Iterator[dict]:
    """Yield ``message_id`` first (DocsGPT's order: its app needs the ids before the answer), then
    ``answer`` events as the LLM writes, then ``source``, ``id`` and ``end`` (or one ``error``). The message row is completed in every case, even when the
    client goes away mid-answer (the generator is closed). ``deadline``: seconds the whole
    answer may take (LLM_DEADLINE; default: the app' setting)."""
    pieces: list[str] = []
    # what stays if the generator is closed at a yield: the client went away (or pressed stop)
    outcome = {"status": "partial", "error": "the client closed the connection before the answer was complete"}
    llm_stream = llm.stream(pending.prompt)
    deadline = deadline or app.settings.llm_deadline
    ends_at = time.monotonic() + deadline
    try:
        yield {"type": "message_id", "message_id": pending.message_id, "conversation_id": pending.conversation_id}
        try:
            for piece in _timed_pieces(llm_stream, pending.timings):
                pieces.append(piece)
                yield {"type": "answer", "answer": piece}
                if time.monotonic() > ends_at:
                    # LLM_TIMEOUT bounds each silence; this bounds the whole answer (a server that
                    # trickles a token every few seconds would otherwise hold the thread for good)
                    raise LLMError(
                        f"The LLM timed out: the answer took longer than {deadline:g} s (LLM_DEADLINE); "
                        "try again, or ask for something shorter.", "timeout", 504,
                    )
        except LLMError as exc:
            outcome = {"status": "failed", "error": exc.message}
            pending.error_status = exc.status_code
            yield {"type": "error", "error": exc.message, "message_id": pending.message_id,
                   "conversation_id": pending.conversation_id}
            return
        except Exception as exc:  # a bug must not leave a message stuck in "streaming"
            log.exception("The answer for message %s failed", pending.message_id)
            outcome = {"status": "failed", "error": f"internal error: {exc.__class__.__name__}"}
            pending.error_status = 500
            yield {"type": "error", "error": "The answer failed because of an internal error; it was logged.",
                   "message_id": pending.message_id, "conversation_id": pending.conversation_id}
            return
        answer = "".join(pieces)
        cited = cited_numbers(answer, len(pending.hits))
        outcome = {"status": "ok", "error": None, "cited": cited}
        yield {"type": "source", "source": source_items(pending.hits, cited)}
        yield {"type": "id", "id": pending.conversation_id, "message_id": pending.message_id}
        yield {"type": "end"}
    finally:
        # a client that left mid-answer: stop reading from the LLM now (its HTTP stream is closed),
        # not whenever the garbage collector gets to it
        _close_quietly(llm_stream)
        with attached(pending.timings), phase("sql"):
            record_outcome(app.db, pending.message_id, "".join(pieces), outcome)
        if pending.timings is not None:
            log_timings(f"answer {pending.message_id} ({outcome['status']})", pending.timings)


def _timed_pieces(llm_stream, timings: Timings | None) -> Iterator[str]:
    """``llm_stream``'s pieces, the time spent waiting for each added to phase ``llm`` (not the time the
    client takes to read them)."""
    pieces = iter(llm_stream)
    while True:
        with attached(timings), phase("llm"):
            piece = next(pieces, None)
        if piece is None:
            return
        yield piece


def _close_quietly(llm_stream) -> None:
    close = getattr(llm_stream, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:
        log.warning("Closing the LLM stream failed", exc_info=True)


def answer_once(app, llm: LLM, pending: PendingAnswer, deadline: float | None = None) -> dict:
    """The non-streamed answer (``POST /api/answer``); an LLM failure raises :class:`LLMError`."""
    pieces, sources, error = [], [], None
    for event in stream_answer(app, llm, pending, deadline):
        if event["type"] == "answer":
            pieces.append(event["answer"])
        elif event["type"] == "source":
            sources = event["source"]
        elif event["type"] == "error":
            error = event["error"]
    if error is not None:
        raise AnswerFailed(error, pending)
    return {"conversation_id": pending.conversation_id, "message_id": pending.message_id,
            "answer": "".join(pieces), "sources": sources}


class AnswerFailed(DocsTuneError):
    status_code = 502

    def __init__(self, message: str, pending: PendingAnswer):
        super().__init__(message, pending.error_status)
        self.pending = pending


def source_items(hits, cited: set[int]) -> list[dict]:
    """What the client shows under an answer (and rates with ``sources`` feedback)."""
    return [{**hit_dict(hit), "n": n, "rank": n, "cited": n in cited} for n, hit in enumerate(hits, start=1)]


def hit_dict(hit) -> dict:
    """A retrieved chunk as a client reads it (under an answer, in a search)."""
    return {
        "chunk_id": hit.chunk_id,
        "rank": hit.rank,
        "score": round(float(hit.score), 6),
        "dense_score": _rounded(hit.dense_score),
        "lexical_score": _rounded(hit.lexical_score),
        "title": hit.title,
        "source": shown_uri(hit.uri),  # a file's name, never its folder on the server
        "link": source_link(hit.uri),
        "page": hit.page,
        "headings": list(hit.headings),
        "location": hit.location,
        "text": hit.text,
        "source_id": hit.source_id,
    }


# -- helpers ----------------------------------------------------------------------
def record_outcome(db, message_id: str, answer: str, outcome: dict) -> None:
    """Complete a message: ``outcome`` is {"status": "ok"|"partial"|"failed", "error": str|None, "cited": {n, ...}}."""
    cited = sorted(outcome.get("cited", set()))

    def complete(session):
        # two statements, whatever the number of chunks (no row loaded, no UPDATE per chunk)
        done = session.execute(update(Message).where(Message.id == message_id).values(
            answer=answer, status=outcome["status"], error=outcome["error"], completed_at=utcnow()))
        if not done.rowcount:  # the conversation was deleted while the answer streamed
            return
        session.execute(update(MessageChunk).where(MessageChunk.message_id == message_id).values(
            shown=outcome["status"] == "ok", cited=MessageChunk.rank.in_(cited) if cited else False))

    try:
        transactions.write(db, complete)
    except Exception:  # never mask the answer's own outcome; the row stays "streaming"
        log.exception("Could not record the outcome of message %s", message_id)


def _owned_conversation(session, conversation_id: str, owner: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.owner != owner:
        # a stranger's conversation looks exactly like a missing one
        raise NotFound(f"No conversation {quoted(conversation_id)} of yours; start a new one by leaving out conversation_id.")
    return conversation


def _stored_history(db, conversation_id: str | None, limit: int, before: int | None = None) -> list[tuple[str, str]]:
    """The conversation's last ``limit`` good turns (those ``before`` a position, for a retry or an edit)."""
    if not conversation_id or not limit:
        return []

    def load(session):
        query = select(Message.question, Message.answer).where(
            Message.conversation_id == conversation_id, Message.status == "ok", in_conversation()
        )
        if before is not None:
            query = query.where(Message.position < before)
        rows = session.execute(query.order_by(Message.position.desc()).limit(limit)).all()
        return [(q, a) for q, a in reversed(rows)]

    return transactions.read(db, load)


def _conversation_name(question: str) -> str:
    name = " ".join(question.split())
    return name if len(name) <= CONVERSATION_NAME_CHARS else name[: CONVERSATION_NAME_CHARS - 1].rstrip() + "…"


def search(app, question: str, k: int, source_ids: tuple[str, ...] | None = None) -> list[dict]:
    """Retrieval only (``POST /api/search``): ranked chunks with their scores."""
    return [hit_dict(h) for h in app.serving.search(question, k=k, source_ids=source_ids)]


def _rounded(score: float | None) -> float | None:
    return None if score is None else round(float(score), 6)
