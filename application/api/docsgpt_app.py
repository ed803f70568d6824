"""The routes DocsGPT's React app (arc53/DocsGPT ``frontend/``) calls at start-up and while chatting that
DocsTune has no use of its own for, each answered in the smallest shape the app reads:

* ``GET /api/config``: how the app identifies its user. From this server's own origin the owner cookie does
  (no login); from a page of another site no cookie crosses, so the app asks once for a token — a DocsTune
  API key — and sends it as ``Authorization: Bearer`` on every request.
* ``GET /api/models``: the one LLM this server answers with.
* ``GET /api/get_prompts``, ``GET /api/get_single_prompt``: the one prompt (the file ``PROMPT_FILE``); the
  app's prompt writes are a 404 that says so (a 4xx: nothing is wrong with the server).
* ``GET /api/task_status``'s Celery-style states, read from the job row (:func:`task_view`), so it works
  from any process.
* ``GET /api/messages/<id>/tail``: a message's state, which the app polls when it reopens a conversation
  whose last answer is still being written.

What each route reads in DocsGPT's code is in docs/api.md ("DocsGPT compatibility").
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy.orm import selectinload

from application.api.context import chat_state, current_owner, get_services
from application.api.conversations import docsgpt_query
from application.api.crosssite import is_cross_site
from application.db import transactions
from application.chat.conversations import message_dict
from application.db.chat import Feedback, Message
from application.errors import NotFound
from application.request_values import quoted, text

bp = Blueprint("docsgpt_app", __name__)

# Celery's state names, which DocsGPT's clients already understand
PENDING, PROGRESS, SUCCESS, FAILURE = "PENDING", "PROGRESS", "SUCCESS", "FAILURE"
_CELERY_STATES = {"queued": PENDING, "running": PROGRESS, "done": SUCCESS, "failed": FAILURE, "cancelled": FAILURE}


def task_view(job: dict) -> dict:
    """A job row as DocsGPT's ``task_status`` answer (plus the job's own fields)."""
    return {
        "task_id": job["id"],
        "job_id": job["id"],
        "kind": job["kind"],
        "status": _CELERY_STATES[job["status"]],
        "job_status": job["status"],
        "progress": {k: job["progress"][k] for k in ("done", "total", "percent")},
        "result": job["result"],
        "error": job["error"],
        "created_at": job["created_at"],
        "finished_at": job["finished_at"],
    }

#: the id and name of DocsTune's one prompt, as the app lists and sends it back (``prompt_id``)
PROMPT_ID = "default"
#: the fields of a message that DocsGPT's ``/tail`` answers with (application/api/user/conversations/routes.py)
TAIL_FIELDS = ("message_id", "status", "response", "thought", "sources", "tool_calls", "request_id",
               "last_heartbeat_at")


@bp.get("/api/config")
def config():
    # DocsGPT's useTokenAuth.ts: auth_type null → no login; "simple_jwt" → a token box, then Bearer <token>.
    # A page of another site sends no cookie, so without a key each request would be a new, empty owner.
    needs_key = is_cross_site()
    response = jsonify({"auth_type": "simple_jwt" if needs_key else None, "requires_auth": needs_key,
                        "graphrag_available": False, "hybrid_available": False})
    response.vary.update(("Origin", "Sec-Fetch-Site"))
    return response


@bp.get("/api/models")
def models():
    state = chat_state()
    name = state.llm.name
    provider = state.settings.llm_provider_resolved
    description = ("Not a language model: quotes the sentences of the sources closest to the question."
                   if provider == "extractive" else "The LLM this server answers with (LLM_PROVIDER).")
    model = {"id": name, "provider": provider, "display_name": name, "description": description,
             "supported_attachment_types": [], "supports_tools": False, "supports_structured_output": False,
             "supports_streaming": True, "context_window": None, "enabled": True, "source": "builtin"}
    return jsonify({"models": [model], "default_model_id": name, "count": 1})


@bp.get("/api/get_prompts")
def get_prompts():
    return jsonify([{"id": PROMPT_ID, "name": PROMPT_ID, "type": "public"}])


@bp.get("/api/get_single_prompt")
def get_single_prompt():
    prompt_id = text(request.args.get("id"), "id", max_chars=64)
    if prompt_id != PROMPT_ID:
        raise NotFound(f"No prompt {quoted(prompt_id)}; DocsTune has one, {PROMPT_ID!r} (GET /api/get_prompts).")
    template = chat_state().template
    # the template's text as its file holds it (never its path: that is a folder of the server)
    return jsonify({"content": f"[system]\n{template.system}\n\n[user]\n{template.user}\n"})


def prompts_are_a_file():
    raise NotFound(
        "DocsTune has one prompt, the file PROMPT_FILE on the server; it cannot be created, changed or deleted "
        "through the API. An admin edits a copy of application/prompts/answer.txt and points PROMPT_FILE at it."
    )


for _route in ("/api/create_prompt", "/api/update_prompt", "/api/delete_prompt"):
    bp.add_url_rule(_route, _route.rsplit("/", 1)[1], prompts_are_a_file, methods=["POST"])


@bp.get("/api/messages/<message_id>/tail")
def message_tail(message_id: str):
    message = owned_message(get_services().db, text(message_id, "message_id", max_chars=64, strip=False),
                            current_owner())
    query = docsgpt_query(message)
    return jsonify({**{field: query[field] for field in TAIL_FIELDS}, "error": message["error"]})


def owned_message(db, message_id: str, owner: str | None) -> dict:
    """One message of ``owner``'s conversations, as ``message_dict``; someone else's, or one that a retry
    replaced (it left its conversation), is reported as missing."""
    def load(session):
        message = session.get(Message, message_id, options=[
            selectinload(Message.retrieved), selectinload(Message.feedback).selectinload(Feedback.marks)])
        if message is None or owner is None or message.position < 0 or message.conversation.owner != owner:
            raise NotFound(f"No message {quoted(message_id)} of yours.")
        return message_dict(message, owner)

    return transactions.read(db, load)

